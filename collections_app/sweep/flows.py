"""Following each loan from one month to the next: the day's loan positions and the roll (flow) matrix against the
positions of about a month before. Set-based SQL, run once a sweep run finishes, after the portfolio snapshot.

Why per loan: comparing bucket totals (loans in 31-60 today over loans in 1-30 a month ago) counts loans that came
into a bucket another way — new loans, partial payments, buckets wider than a month (91-180) — and passes 100 %.
Following the same loans cannot (docs/kpis.md)."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.db.models import F, FilteredRelation, Q, Value
from django.db.models.fields import DateField

from collections_app.models import OPEN_STATES, LoanPosition, PortfolioFlow
from loans.models import Loan
from loans.selectors import dpd_bucket_expression

# Roll rates compare a day with the day 30 days before (or the nearest recorded within 5 days).
FLOW_GAP_DAYS = 30
FLOW_GAP_TOLERANCE = 5
# Positions are only needed until they have been compared: the gap, its tolerance and a few days for a late sweep.
POSITIONS_KEPT_DAYS = FLOW_GAP_DAYS + FLOW_GAP_TOLERANCE + 5


def positions_take(*, as_of: dt.date) -> int:
    """Record every active loan's bucket, team and balance for the date (a rerun replaces them) and forget those
    older than ``POSITIONS_KEPT_DAYS``. One INSERT … SELECT over the loans."""

    loans = (
        Loan.objects.active()
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
    """The recorded day nearest to 30 days before ``as_of`` (the earlier of two equally near), if one is within the
    tolerance: less history than that gives no roll rate rather than a wrong one."""

    target = as_of - dt.timedelta(days=FLOW_GAP_DAYS)
    candidates = (
        LoanPosition.objects.filter(
            as_of__gte=target - dt.timedelta(days=FLOW_GAP_TOLERANCE),
            as_of__lte=min(target + dt.timedelta(days=FLOW_GAP_TOLERANCE), as_of - dt.timedelta(days=1)),
        )
        .values_list("as_of", flat=True)
        .distinct()
        .order_by()
    )
    return min(candidates, key=lambda day: (abs((day - target).days), day), default=None)


def flows_take(*, as_of: dt.date) -> int:
    """The roll matrix from the compared day's positions to ``as_of``'s (a rerun replaces it): per team then,
    currency, bucket then and bucket now (empty: no longer active). Run after ``positions_take`` for ``as_of``."""

    PortfolioFlow.objects.filter(as_of=as_of).delete()
    since = compared_date(as_of=as_of)
    if since is None:
        return 0
    position, flow = LoanPosition._meta.db_table, PortfolioFlow._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {flow} (as_of, from_date, team_id, currency, from_bucket, to_bucket, loans, outstanding_from,
                                outstanding_to)
            SELECT %(as_of)s, %(since)s, p0.team_id, p0.currency, p0.bucket, COALESCE(p1.bucket, ''), COUNT(*),
                   SUM(p0.outstanding), COALESCE(SUM(p1.outstanding), 0)
            FROM {position} p0
            LEFT JOIN {position} p1 ON p1.loan_id = p0.loan_id AND p1.as_of = %(as_of)s
            WHERE p0.as_of = %(since)s
            GROUP BY p0.team_id, p0.currency, p0.bucket, COALESCE(p1.bucket, '')
            """,
            {"as_of": as_of, "since": since},
        )
        return max(cursor.rowcount, 0)
