"""The managers' performance page: rates computed from the data, flow rates from the sweep's snapshots, SVG charts,
CSV export, and only managers and admins."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from collections_app.models import PortfolioFlow, PortfolioSnapshot
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
User = get_user_model()


@pytest.fixture
def world():
    manager = user_with_role("manager", "morgan")
    collector = user_with_role("collector", "casey")
    team = team_with(collector, name="US", manager=manager)
    today = timezone.now().date()
    opened = today - dt.timedelta(days=40)  # its 30-day cure window ended 10 days ago: in a 30-day period's cohort
    cases = [
        make_case(state=state, opened_on=opened, stage_entered_on=opened + dt.timedelta(days=10), team=team,
                  assigned_to=collector)
        for state in ("resolved", "reminder", "reminder", "resolved")
    ]  # fmt: skip
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
    # The 10 loans the team worked in 1-30 thirty days ago: 3 rolled to 31-60 (holding 600 of the 1,000 then), 7 cured.
    for target, loans, then in (("31-60", 3, "600"), ("current", 7, "400")):
        PortfolioFlow.objects.create(as_of=today, from_date=today - dt.timedelta(days=30), team=team, currency="USD",
                                     from_bucket="1-30", to_bucket=target, loans=loans,
                                     outstanding=Decimal(then))  # fmt: skip
    # The borrower's page: two borrowers opened it yesterday, one of them then paid there (portal conversion 1 / 2).
    from notifications.models import PortalEvent, PortalLink
    from notifications.services import portal_link_issue

    for c, kinds in ((cases[1], ["visit", "pay_completed"]), (cases[2], ["visit"])):
        portal_link_issue(borrower_id=c.borrower_id)
        link = PortalLink.objects.filter(borrower_id=c.borrower_id).latest("id")
        for minutes, kind in enumerate(kinds):
            PortalEvent.objects.create(link=link, borrower_id=c.borrower_id, kind=kind,
                                       at=now - dt.timedelta(days=1) + dt.timedelta(minutes=minutes))  # fmt: skip
    return manager, collector


def test_the_rates_come_from_the_period_and_the_flow_rates_from_snapshots(world):
    manager, _ = world
    client = Client()
    client.force_login(manager)
    response = client.get(reverse("performance"), {"days": 30})
    assert response.status_code == 200
    kpis = {box["name"]: box["value"] for box in response.context["kpis"]}
    assert kpis["cure"] == "50.0 %" and kpis["promises"] == "66.7 %" and kpis["rpc"] == "25.0 %"
    assert kpis["portal"] == "50.0 %"
    (flow,) = [f for f in response.context["flows"] if f["from"] == "1-30"]
    assert flow["to"] == "31-60" and flow["count_rate"] == 0.3 and flow["balance_rate"] == 0.6
    body = response.content.decode()
    assert "<svg" in body and "USF-01" in body and "casey" in body
    charts = response.context["charts"]
    assert [bar.label for bar in charts["deferrals"].bars] == ["Outside hours (US)"] and not charts["denials"].bars
    # A team's rows are its cases' loans, all overdue: managers see the amount day by day, not a share of ~100 %.
    trend = charts["overdue_trend"]
    assert [bar.value for bar in trend.bars] == [1000.0, 1200.0] and not trend.percent


def test_csv_export_has_the_same_numbers(world):
    manager, _ = world
    client = Client()
    client.force_login(manager)
    response = client.get(reverse("performance"), {"days": 30, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert ["cure_rate", "1-30 30d", "0.5000"] in rows and ["compliance_deferrals", "USF-01", "1"] in rows
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
    # Only the whole portfolio has current loans to share with: admins see the share overdue, managers the amount.
    admin = Client()
    admin.force_login(User.objects.get(username="ada"))
    share = admin.get(reverse("performance")).context["charts"]["overdue_trend"]
    assert share.percent and {
        bar.label.split()[-1]: bar.value for bar in share.bars if str(today)[5:] in bar.label
    } == {"CNY": 1.0, "USD": pytest.approx(13 / 103)}
    mine = Client()
    mine.force_login(manager)
    assert not mine.get(reverse("performance")).context["charts"]["overdue_trend"].percent


def test_the_snapshot_records_the_team_working_each_loans_open_case():
    team = TeamFactory(name="US")
    make_case(team=team)
    loan_with_schedule(("2024-01-25", "100.00"))  # overdue, within grace: no case, no team
    sweep_run(as_of=dt.date(2024, 2, 11))
    rows = {(s.team_id, s.bucket, s.loans) for s in PortfolioSnapshot.objects.filter(as_of=dt.date(2024, 2, 11))}
    assert rows == {(team.pk, "1-30", 1), (None, "1-30", 1)}


def _grow(team, collector, n, today, start=0):
    """``n`` more cases of the team, each with what every KPI reads: a payment, a promise, calls with a
    disposition, a refusal of the gate, messages and a day of snapshots."""
    from tests.factories import OutboundMessageFactory, PaymentFactory

    now = timezone.now()
    for i in range(start, start + n):
        c = make_case(
            opened_on=today - dt.timedelta(days=35 + i), team=team, assigned_to=collector,
            state="resolved" if i % 2 else "reminder", stage_entered_on=today - dt.timedelta(days=5),
        )  # fmt: skip
        PaymentFactory(loan=c.loan, amount=Decimal("20"), received_at=now - dt.timedelta(days=2))
        PromiseFactory(case=c, amount=Decimal(50 + 600 * i), promised_on=today - dt.timedelta(days=3),
                       status="kept", created_by=collector)  # fmt: skip
        decision = DecisionFactory(borrower=c.borrower)
        ContactEventFactory(borrower=c.borrower, actor=collector, decision=decision, at=now - dt.timedelta(days=1))
        CallDispositionFactory(case=c, decision=decision, actor=collector)
        DecisionFactory(borrower=c.borrower, outcome="deny", reasons=[{"rule": f"R-{i}", "outcome": "deny"}])
        OutboundMessageFactory(case=c, status="delivered", send_started_at=now, planned_for=now)
        OutboundMessageFactory(case=c, status="failed", planned_for=now)
        PortfolioSnapshotFactory(as_of=today - dt.timedelta(days=i + 1), team=team, bucket="61-90", loans=1,
                                 overdue=Decimal(5), outstanding=Decimal(5))  # fmt: skip


def test_the_page_runs_a_fixed_number_of_queries_whatever_the_portfolio(world, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    manager, collector = world
    team = collector.team_membership.team
    client = Client()
    client.force_login(manager)
    today = timezone.now().date()
    counts = []
    for start, n in ((0, 2), (2, 12)):
        _grow(team, collector, n, today, start)
        cache.clear()  # computed afresh each time (kept figures are the next test's subject)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("performance"), {"days": 90})
        assert response.status_code == 200
        counts.append(len(queries))
    kpis = {box["name"]: box["value"] for box in response.context["kpis"]}
    assert all(value != "—" for value in kpis.values()), kpis  # every KPI has data in this portfolio
    # Issue 14: the same queries for any portfolio, and no more than these (the session, the user, the reader's
    # settings, the role, the manager's teams, the snapshots, the roll matrix, one per KPI, the message counts, the
    # banners, the teams of the filter; the borrower's-page conversion: its visitors and three kinds of outcome; the
    # outcomes of vulnerable and other customers: cases, contacts, complaints).
    assert counts == [26, 26], counts


def test_the_figures_are_kept_for_a_few_minutes_and_say_when_they_were_computed(world, settings):
    """Issue 14 (fast pages): a second look within PERFORMANCE_FIGURES_SECONDS reads the kept figures — the same
    numbers, with the time they were computed — and runs none of the KPI queries; past it they are computed again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    manager, collector = world
    team = collector.team_membership.team
    _grow(team, collector, 3, timezone.now().date(), 0)
    client = Client()
    client.force_login(manager)
    with time_machine.travel(dt.datetime(2026, 11, 30, 14, 0, tzinfo=dt.UTC), tick=False):
        first = client.get(reverse("performance"), {"days": 90})
    with (
        time_machine.travel(dt.datetime(2026, 11, 30, 14, 4, tzinfo=dt.UTC), tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        again = client.get(reverse("performance"), {"days": 90})
    assert len(queries) <= 8, [q["sql"][:80] for q in queries]  # session, user, settings, role, teams, banners
    assert again.context["kpis"] == first.context["kpis"]
    assert again.context["as_of"] == dt.datetime(2026, 11, 30, 14, 0, tzinfo=dt.UTC)
    shown = again.content.decode()
    assert "Figures as of 2026-11-30 14:00" in shown and "recomputed every 5 minutes" in shown
    # Another period is another set of figures; past the five minutes the page computes them again.
    with time_machine.travel(dt.datetime(2026, 11, 30, 14, 4, tzinfo=dt.UTC), tick=False):
        other = client.get(reverse("performance"), {"days": 30})
    assert other.context["as_of"] == dt.datetime(2026, 11, 30, 14, 4, tzinfo=dt.UTC)
    with time_machine.travel(dt.datetime(2026, 11, 30, 14, 6, tzinfo=dt.UTC), tick=False):
        later = client.get(reverse("performance"), {"days": 90})
    assert later.context["as_of"] == dt.datetime(2026, 11, 30, 14, 6, tzinfo=dt.UTC)


def test_beat_recomputes_each_scope_once_and_the_page_then_reads_them(world, django_user_model):
    """The beat task computes the default view (30 days) of every scope in use — the admins' whole portfolio and
    each manager's teams, once per set of teams — so a manager's first look runs none of the KPI queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from collections_app.tasks import refresh_performance_figures

    manager, collector = world
    _grow(collector.team_membership.team, collector, 2, timezone.now().date(), 0)
    django_user_model.objects.create_superuser("root-a")
    django_user_model.objects.create_superuser("root-b")  # the same scope as root-a
    assert refresh_performance_figures() == 2  # the admins' portfolio, the manager's team
    client = Client()
    client.force_login(manager)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("performance"))
    assert response.status_code == 200 and len(queries) <= 8, len(queries)


def test_every_chart_has_its_own_csv(world):
    manager, _ = world
    client = Client()
    client.force_login(manager)
    response = client.get(reverse("performance"), {"days": 30})
    charts = response.context["charts"]
    assert {"cure", "roll_count", "roll_balance", "promises", "liquidation", "contacts", "denials", "deferrals",
            "delivery", "overdue_trend", "portal"} <= set(charts)  # fmt: skip
    body = response.content.decode()
    for name, chart in charts.items():
        assert f'data-testid="csv-{name}"' in body
        download = client.get(reverse("performance"), {"days": 30, "format": "csv", "chart": name})
        assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(download.content.decode())))
        assert rows[0] == chart.columns and len(rows) - 1 == len(chart.records)
    download = client.get(reverse("performance"), {"format": "csv", "chart": "roll_count"})
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows[1][:3] == ["USD", "1-30", "31-60"] and rows[1][-1] == "0.3000"
    assert client.get(reverse("performance"), {"format": "csv", "chart": "nope"}).status_code == 404
    download = client.get(reverse("performance"), {"format": "csv", "chart": "portal"})
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows[0] == ["outcome", "outcome_words", "visitors", "converted", "rate"]
    assert rows[1] == ["payment", "Paid online", "2", "1", "0.5000"] and rows[-1][0] == "any"


def test_the_charts_keep_text_unstretched_and_say_their_values_on_hover(world):
    manager, _ = world
    client = Client()
    client.force_login(manager)
    body = client.get(reverse("performance"), {"days": 30}).content.decode()
    assert 'preserveAspectRatio="none"' not in body  # text scales with the chart, never stretched
    assert "<title>casey: " in body  # a bar's value on hover
    assert 'class="chart-tick"' in body and "100 %" in body  # an axis with its ticks


def test_messages_never_handed_to_a_provider_are_not_failures():
    """Issue 14: the US team's texts were all "failed" for want of a consented mobile: a 100 % failure rate."""
    from tests.factories import OutboundMessageFactory

    manager = user_with_role("manager", "morgan")
    team = TeamFactory(name="US", manager=manager)
    c = make_case(team=team)
    now = timezone.now()
    for _ in range(3):
        OutboundMessageFactory(case=c, status="failed", planned_for=now, status_reason="No consented mobile.")
    OutboundMessageFactory(case=c, status="delivered", planned_for=now, send_started_at=now)
    client = Client()
    client.force_login(manager)
    response = client.get(reverse("messages-overview"), {"days": 7})
    (row,) = response.context["stats"]
    assert (row["failure_rate"], row["delivery_rate"], row["never_sent"]) == (0.0, 1.0, 3)
    body = response.content.decode()
    assert 'data-testid="never-sent-sms">3<' in body and 'data-testid="failure-rate-sms">0.0 %<' in body


def test_a_case_keeps_what_was_overdue_when_it_opened():
    """The liquidation rate's denominator and the cure rate's entry bucket: copied by the sweep when it opens the
    case, and left alone by the later sweeps that follow the loan."""
    from collections_app.models import CollectionCase

    loan_with_schedule(("2024-01-01", "100.00"), ("2024-02-01", "100.00"))
    sweep_run(as_of=dt.date(2024, 1, 20))
    sweep_run(as_of=dt.date(2024, 2, 20))
    case = CollectionCase.objects.get()
    assert (case.entry_days_past_due, case.entry_amount_overdue) == (19, Decimal("100.00"))
    assert (case.days_past_due, case.amount_overdue) == (50, Decimal("200.00"))
