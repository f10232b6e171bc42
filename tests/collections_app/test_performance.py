"""The managers' performance page: rates computed from the data, flow rates from the sweep's snapshots, SVG charts,
CSV export, and only managers and admins."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from collections_app.models import PortfolioSnapshot
from collections_app.sweep import sweep_run
from tests.factories import (
    CallDispositionFactory,
    ContactEventFactory,
    DecisionFactory,
    PortfolioSnapshotFactory,
    PromiseFactory,
    TeamFactory,
    loan_with_schedule,
    make_case,
    team_with,
    user_with_role,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    manager = user_with_role("manager", "morgan")
    collector = user_with_role("collector", "casey")
    team = team_with(collector, name="US", manager=manager)
    today = timezone.now().date()
    cases = [
        make_case(state=state, opened_on=today - dt.timedelta(days=5), team=team, assigned_to=collector)
        for state in ("resolved", "reminder", "reminder", "resolved")
    ]
    now = timezone.now()
    for status in ("kept", "kept", "broken"):
        PromiseFactory(case=cases[1], amount=10, promised_on=today - dt.timedelta(days=2), status=status,
                       created_by=collector, counts_from=now, window_end=now)  # fmt: skip
    for outcome in ("conversation", "no_answer", "no_answer", "voicemail"):
        decision = DecisionFactory(borrower=cases[1].borrower, loan=cases[1].loan)
        ContactEventFactory(borrower=cases[1].borrower, outcome=outcome, at=now - dt.timedelta(days=1), actor=collector,
                            decision=decision)  # fmt: skip
        if outcome == "conversation":  # the collector said the borrower answered: one right-party contact in four
            CallDispositionFactory(case=cases[1], decision=decision, actor=collector)
    DecisionFactory(borrower=cases[1].borrower, at=now, outcome="defer", reasons=[{"rule": "USF-01"}])
    for as_of, low, high in ((today - dt.timedelta(days=30), "1000", "0"), (today, "900", "300")):
        PortfolioSnapshotFactory(as_of=as_of, team=team, bucket="1-30", loans=10, overdue=Decimal(low), outstanding=1)
        PortfolioSnapshotFactory(as_of=as_of, team=team, bucket="31-60", loans=3, overdue=Decimal(high), outstanding=1)
    return manager, collector


def test_the_rates_come_from_the_period_and_the_flow_rates_from_snapshots(world):
    manager, _ = world
    client = Client()
    client.force_login(manager)
    response = client.get(reverse("performance"), {"days": 30})
    assert response.status_code == 200
    kpis = dict((str(label), box["rate"]) for label, box in response.context["kpis"])
    assert kpis["Cure rate"] == 0.5 and kpis["Promise-kept rate"] == pytest.approx(2 / 3)
    assert kpis["Right-party contact"] == 0.25
    (flow,) = [f for f in response.context["flows"] if f["from"] == "1-30"]
    assert flow["to"] == "31-60" and flow["rate"] == 0.3
    body = response.content.decode()
    assert "<svg" in body and "USF-01" in body and "casey" in body
    series = response.context["series_bars"]
    assert len(series) == 2 and all(value == 1.0 for _, value, _, _ in series)  # no "current" bucket in this data


def test_csv_export_has_the_same_numbers(world):
    manager, _ = world
    client = Client()
    client.force_login(manager)
    response = client.get(reverse("performance"), {"days": 30, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert ["cure", "rate", "0.5"] in rows and ["compliance_denials", "USF-01", "1"] in rows
    assert ["flow_rate_USD", "1-30->31-60", "0.3000"] in rows


def test_collectors_may_not_see_it(world):
    _, collector = world
    client = Client()
    client.force_login(collector)
    assert client.get(reverse("performance")).status_code == 403


def test_the_sweep_writes_the_daily_snapshot():
    loan_with_schedule(("2024-01-01", "100.00"))
    sweep_run(as_of=dt.date(2024, 1, 20))
    (snapshot,) = PortfolioSnapshot.objects.filter(as_of=dt.date(2024, 1, 20))
    assert (snapshot.bucket, snapshot.loans, snapshot.overdue) == ("1-30", 1, Decimal("100.00"))
    sweep_run(as_of=dt.date(2024, 1, 20))  # a rerun replaces, never doubles
    assert PortfolioSnapshot.objects.filter(as_of=dt.date(2024, 1, 20)).count() == 1


def test_each_manager_sees_only_their_teams_figures_and_admins_the_whole_portfolio(world):
    """Issue 11: the snapshots were not scoped, so each manager saw the other team's currency rows."""
    manager, _ = world
    other = user_with_role("manager", "mei")
    china = TeamFactory(name="CN", language="zh-hans", manager=other)
    today = timezone.now().date()
    PortfolioSnapshotFactory(as_of=today, team=china, currency="CNY", loans=7, overdue=Decimal("5000"), outstanding=1)
    PortfolioSnapshotFactory(as_of=today, team=None, bucket="current", loans=90, overdue=Decimal("0"), outstanding=1)

    def seen(user):
        client = Client()
        client.force_login(user)
        rows = list(csv.reader(io.StringIO(client.get(reverse("performance"), {"format": "csv"}).content.decode())))
        overdue = {(r[0], r[1].split()[-1]): r[2] for r in rows if r[0].startswith("overdue_") and str(today) in r[1]}
        home = client.get(reverse("home")).context["overview"]
        return overdue, {c["currency"] for c in home}

    us_rows, us_home = seen(manager)
    assert ("overdue_CNY", "1-30") not in us_rows and ("overdue_USD", "current") not in us_rows
    assert us_rows[("overdue_USD", "1-30")] == "900.00" and us_home == {"USD"}
    cn_rows, cn_home = seen(other)
    assert not [key for key in cn_rows if "USD" in key[0]]
    # The landing page reads the latest snapshot too (issue 14: fast at any size), scoped the same way.
    assert cn_rows[("overdue_CNY", "1-30")] == "5000.00" and cn_home == {"CNY"}
    admin_rows, _ = seen(user_with_role("admin", "ada"))
    assert admin_rows[("overdue_CNY", "1-30")] == "5000.00" and admin_rows[("overdue_USD", "1-30")] == "900.00"


def test_the_snapshot_records_the_team_working_each_loans_open_case():
    team = TeamFactory(name="US")
    make_case(team=team)
    loan_with_schedule(("2024-01-25", "100.00"))  # overdue, within grace: no case, no team
    sweep_run(as_of=dt.date(2024, 2, 11))
    rows = {(s.team_id, s.bucket, s.loans) for s in PortfolioSnapshot.objects.filter(as_of=dt.date(2024, 2, 11))}
    assert rows == {(team.pk, "1-30", 1), (None, "1-30", 1)}
