"""Following each loan from one month to the next: the day's positions of the overdue loans and the roll (flow)
matrix against the day about a month before. Set-based SQL, run once a sweep run finishes, after the portfolio
snapshot. Only overdue loans are recorded one by one (a tenth of a portfolio, not all of it: at a million loans a
position for every loan would be a million rows a day); the current ones are counted by the snapshot.

Why per loan: comparing bucket totals (loans in 31-60 today over loans in 1-30 a month ago) counts loans that came
into a bucket another way — new loans, partial payments, buckets wider than a month (91-180) — and passes 100 %.
Following the same loans cannot (docs/kpis.md)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.db.models import F, FilteredRelation, Q, Sum, Value
from django.db.models.fields import DateField

from collections_app.models import OPEN_STATES, LoanPosition, PortfolioFlow, PortfolioSnapshot
from loans.models import Loan, LoanStatus
from loans.selectors import dpd_bucket_expression

# Roll rates compare a day with the day 30 days before (or the nearest recorded within 5 days).
FLOW_GAP_DAYS = 30
FLOW_GAP_TOLERANCE = 5
# Positions are only needed until they have been compared: the gap, its tolerance and a few days for a late sweep.
POSITIONS_KEPT_DAYS = FLOW_GAP_DAYS + FLOW_GAP_TOLERANCE + 5


def _money(value: object) -> Decimal:
    """A sum as the database returned it (SQLite's raw sums are floats) in cents."""
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def positions_take(*, as_of: dt.date) -> int:
    """Record every overdue active loan's bucket, team and balance for the date (a rerun replaces them) and forget
    those older than ``POSITIONS_KEPT_DAYS``. One INSERT … SELECT over the overdue loans."""

    loans = (
        Loan.objects.active()
        .filter(days_past_due__gt=0)
        .annotate(open_case=FilteredRelation("cases", condition=Q(cases__state__in=OPEN_STATES)))
        .annotate(
            p_as_of=Value(as_of, output_field=DateField()),
            p_loan=F("id"),
            p_team=F("open_case__team_id"),
            p_currency=F("currency"),
            p_bucket=dpd_bucket_expression(),
            p_outstanding=F("outstanding_balance"),
        )
        .values("p_as_of", "p_loan", "p_team", "p_currency", "p_bucket", "p_outstanding")
        .order_by()
    )
    select, params = loans.query.sql_with_params()
    LoanPosition.objects.filter(as_of=as_of).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {LoanPosition._meta.db_table} (as_of, loan_id, team_id, currency, bucket, outstanding) "
            f"{select}",
            params,
        )
        written = max(cursor.rowcount, 0)
    LoanPosition.objects.filter(as_of__lt=as_of - dt.timedelta(days=POSITIONS_KEPT_DAYS)).delete()
    return written


def compared_date(*, as_of: dt.date) -> dt.date | None:
    """The swept day nearest to 30 days before ``as_of`` (the earlier of two equally near), if one is within the
    tolerance: less history than that gives no roll rate rather than a wrong one."""

    target = as_of - dt.timedelta(days=FLOW_GAP_DAYS)
    candidates = (
        PortfolioSnapshot.objects.filter(
            as_of__gte=target - dt.timedelta(days=FLOW_GAP_TOLERANCE),
            as_of__lte=min(target + dt.timedelta(days=FLOW_GAP_TOLERANCE), as_of - dt.timedelta(days=1)),
        )
        .values_list("as_of", flat=True)
        .distinct()
        .order_by()
    )
    return min(candidates, key=lambda day: (abs((day - target).days), day), default=None)


def flows_take(*, as_of: dt.date) -> int:
    """The roll matrix from the compared day to ``as_of`` (a rerun replaces it). Run after the day's snapshot and
    ``positions_take``.

    - Loans overdue then (their positions): per team then, currency, bucket then and now — the bucket of today's
      position, "current" for an active loan with none, empty for a loan no longer active.
    - Loans current then (counted by the snapshot, not one by one): those overdue today that had no position then
      and were already disbursed, per currency and bucket now, with today's balance; and the rest of that day's
      current loans (still current, or repaid) as "current". No team: current loans belong to none."""

    PortfolioFlow.objects.filter(as_of=as_of).delete()
    since = compared_date(as_of=as_of)
    if since is None:
        return 0
    position, flow, loan = LoanPosition._meta.db_table, PortfolioFlow._meta.db_table, Loan._meta.db_table
    now_bucket = f"COALESCE(p1.bucket, CASE WHEN l.status = '{LoanStatus.ACTIVE}' THEN 'current' ELSE '' END)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {flow} (as_of, from_date, team_id, currency, from_bucket, to_bucket, loans, outstanding)
            SELECT %(as_of)s, %(since)s, p0.team_id, p0.currency, p0.bucket, {now_bucket}, COUNT(*), SUM(p0.outstanding)
            FROM {position} p0
            JOIN {loan} l ON l.id = p0.loan_id
            LEFT JOIN {position} p1 ON p1.loan_id = p0.loan_id AND p1.as_of = %(as_of)s
            WHERE p0.as_of = %(since)s
            GROUP BY p0.team_id, p0.currency, p0.bucket, {now_bucket}
            """,
            {"as_of": as_of, "since": since},
        )
        cursor.execute(
            f"""
            SELECT p1.currency, p1.bucket, COUNT(*), SUM(p1.outstanding)
            FROM {position} p1
            JOIN {loan} l ON l.id = p1.loan_id
            WHERE p1.as_of = %(as_of)s AND l.disbursed_on <= %(since)s
              AND NOT EXISTS (SELECT 1 FROM {position} p0 WHERE p0.loan_id = p1.loan_id AND p0.as_of = %(since)s)
            GROUP BY p1.currency, p1.bucket
            """,
            {"as_of": as_of, "since": since},
        )
        rolled = cursor.fetchall()
    current = {
        row["currency"]: (row["n"], row["balance"])
        for row in PortfolioSnapshot.objects.filter(as_of=since, bucket="current")
        .values("currency")
        .annotate(n=Sum("loans"), balance=Sum("outstanding"))
        .order_by()
    }
    rows = [
        PortfolioFlow(as_of=as_of, from_date=since, currency=currency, from_bucket="current", to_bucket=bucket,
                      loans=n, outstanding=_money(balance))
        for currency, bucket, n, balance in rolled
    ]  # fmt: skip
    for currency, (n, balance) in current.items():
        gone = [r for r in rows if r.currency == currency]
        stayed = n - sum(r.loans for r in gone)
        if stayed > 0:
            rows.append(
                PortfolioFlow(as_of=as_of, from_date=since, currency=currency, from_bucket="current",
                              to_bucket="current", loans=stayed,
                              outstanding=max(Decimal(0), _money(balance) - sum(r.outstanding for r in gone)))
            )  # fmt: skip
    PortfolioFlow.objects.bulk_create(rows)
    return PortfolioFlow.objects.filter(as_of=as_of).count()
