"""The Portfolio landing page (issue 14, item 5): managers and admins read the latest sweep's snapshot rows — a fixed
number of queries whatever the size of the book —, scoped to their teams; collectors see their cases' loans live."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from collections_app.sweep import sweep_run
from tests.factories import (
    PortfolioSnapshotFactory,
    TeamFactory,
    loan_with_schedule,
    make_case,
    user_with_role,
)

pytestmark = pytest.mark.django_db

BUCKETS = ["current", "1-30", "31-60", "61-90", "91-180", "181+"]


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def book(teams, days, first=dt.date(2026, 1, 1)):
    """Snapshot rows for ``days`` days: every team and the loans no team works, in two currencies and six buckets."""
    for n in range(days):
        for team in [*teams, None]:
            for currency in ("USD", "CNY"):
                for bucket in BUCKETS:
                    PortfolioSnapshotFactory(
                        as_of=first + dt.timedelta(days=n), team=team, currency=currency, bucket=bucket, loans=n + 1,
                        overdue=Decimal("10.00") * (n + 1), outstanding=Decimal("100.00"),
                    )  # fmt: skip


def queries(user):
    client = client_for(user)
    client.get(reverse("home"))  # the session and the user's settings, once
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("home"))
    assert response.status_code == 200
    return len(ctx.captured_queries), response


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_the_portfolio_page_runs_the_same_few_queries_for_a_small_and_a_large_book(role):
    manager = user_with_role("manager", "mia")
    teams = [TeamFactory(name="US", manager=manager), TeamFactory(name="CN", language="zh-hans")]
    reader = manager if role == "manager" else user_with_role("admin", "ada")
    book(teams, days=2)
    small, _ = queries(reader)
    for _ in range(30):  # fifteen times the days, thirty more cases
        make_case(team=teams[0])
    book(teams, days=30, first=dt.date(2026, 2, 1))
    large, response = queries(reader)
    # The session, the user, their settings and team's zone (one query), their role, the managers' banners (two);
    # then the latest snapshot's rows (one query; a manager's teams one more); the reader's to-dos, vulnerability
    # reviews past their date (one query, VUL-01, issue 17).
    assert small == large == {"manager": 9, "admin": 8}[role], (small, large)
    # The latest day only: 30 loans per bucket on 2026-03-02, in two currencies.
    overview = {c["currency"]: c for c in response.context["overview"]}
    assert set(overview) == {"USD", "CNY"}
    per_bucket = {row["label"]: row["loans"] for row in overview["USD"]["bucket_rows"]}
    # The manager: their team's 30; the admin: both teams' and the loans no team works.
    assert per_bucket == dict.fromkeys(BUCKETS, 30 if role == "manager" else 90)
    assert response.context["as_of"] == dt.date(2026, 3, 2)
    assert "2026-03-02" in response.content.decode()


def test_a_manager_sees_only_their_teams_rows_and_an_admin_the_whole_book():
    us_manager, cn_manager = user_with_role("manager", "mia"), user_with_role("manager", "mei")
    us, cn = TeamFactory(name="US", manager=us_manager), TeamFactory(name="CN", manager=cn_manager)
    day = dt.date(2026, 3, 2)
    PortfolioSnapshotFactory(as_of=day, team=us, currency="USD", bucket="1-30", loans=4)
    PortfolioSnapshotFactory(as_of=day, team=cn, currency="CNY", bucket="31-60", loans=7)
    PortfolioSnapshotFactory(as_of=day, team=None, currency="USD", bucket="current", loans=90)
    PortfolioSnapshotFactory(as_of=day - dt.timedelta(days=1), team=us, currency="USD", bucket="181+", loans=1)

    def seen(user):
        overview = client_for(user).get(reverse("home")).context["overview"]
        return {(c["currency"], r["label"]): r["loans"] for c in overview for r in c["bucket_rows"] if r["loans"]}

    assert seen(us_manager) == {("USD", "1-30"): 4}  # not the other team's, not yesterday's
    assert seen(cn_manager) == {("CNY", "31-60"): 7}
    assert seen(user_with_role("admin", "ada")) == {("USD", "1-30"): 4, ("CNY", "31-60"): 7, ("USD", "current"): 90}


def test_before_the_first_sweep_the_page_adds_up_the_loans_live_and_after_it_reads_the_snapshot():
    manager = user_with_role("manager", "mia")
    team = TeamFactory(name="US", manager=manager)
    loan = loan_with_schedule(("2024-01-01", "100.00"))
    make_case(loan=loan, team=team)
    before = client_for(manager).get(reverse("home"))
    assert before.context["as_of"] is None and before.context["overview"][0]["currency"] == loan.currency
    sweep_run(as_of=dt.date(2024, 1, 20))
    after = client_for(manager).get(reverse("home"))
    assert after.context["as_of"] == dt.date(2024, 1, 20)
    (usd,) = after.context["overview"]
    assert {r["label"]: r["loans"] for r in usd["bucket_rows"]}["1-30"] == 1


def test_a_collector_sees_their_own_cases_loans_live_in_the_same_number_of_queries_at_any_size():
    collector = user_with_role("collector", "cole")
    make_case(assigned_to=collector)
    small, _ = queries(collector)
    for _ in range(25):
        make_case(assigned_to=collector)
        make_case()  # someone else's
    large, response = queries(collector)
    assert small == large
    assert response.context["as_of"] is None
    assert sum(c["loans"] for c in response.context["overview"]) == 26
