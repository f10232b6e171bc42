"""The numbers managers watch: performance over a period (the KPIs of docs/kpis.md, computed in
``collections_app.selectors.kpis``) and message statistics, every figure scoped to the reader's teams."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from collections_app.models import PortfolioFlow, PortfolioSnapshot
from collections_app.selectors import kpis
from collections_app.selectors.access import cases_visible_to, team_ids
from core.roles import ADMIN, MANAGER, user_role
from loans.selectors import DPD_BUCKETS as REPORT_BUCKETS
from notifications.models import OutboundMessage

__all__ = [
    "BucketTotal",
    "Figures",
    "message_stats",
    "performance",
    "performance_figures",
    "refresh_performance_figures",
]

# Reached the provider: what delivery and failure rates are over. A failure with no hand-over time is a message
# that was never sendable (no consented mobile, no address, no template) and is counted as never sent.
HANDED = Q(send_started_at__isnull=False, status__in=["sent", "delivered", "failed"])
NEVER_SENT = Q(status="denied") | Q(status="failed", send_started_at__isnull=True)


@dataclass(frozen=True)
class BucketTotal:
    """Loans in one DPD bucket on one date and currency, summed over the teams the reader may see."""

    as_of: dt.date
    currency: str
    bucket: str
    loans: int
    overdue: Decimal
    outstanding: Decimal


def message_stats(*, user: Any, since: dt.datetime, until: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Messages planned since ``since`` for the cases the user may see, per channel: counts by status; the delivery
    and failure rates over the messages handed to a provider only; and apart, those never sent (never sendable —
    no consented mobile, no address, no template — or denied by the gate)."""

    rows = OutboundMessage.objects.filter(planned_for__gte=since, case__in=cases_visible_to(user))
    if until is not None:
        rows = rows.filter(planned_for__lt=until)
    counted = (
        rows.values("channel", "status")
        .annotate(n=Count("id"), handed=Count("id", filter=HANDED), never=Count("id", filter=NEVER_SENT))
        .order_by()
    )
    stats: dict[str, dict[str, Any]] = {}
    for row in counted:
        entry = stats.setdefault(row["channel"], {"counts": {}, "handed": {}, "never_sent": 0})
        entry["counts"][row["status"]] = row["n"]
        entry["handed"][row["status"]] = row["handed"]
        entry["never_sent"] += row["never"]
    result = []
    for channel, numbers in sorted(stats.items()):
        handed: dict[str, int] = numbers["handed"]
        reached = sum(handed.values())
        result.append(
            {
                "channel": channel,
                "counts": numbers["counts"],
                "total": sum(numbers["counts"].values()),
                "reached": reached,
                "delivered": handed.get("delivered", 0),
                "failed": handed.get("failed", 0),
                "never_sent": numbers["never_sent"],
                "delivery_rate": handed.get("delivered", 0) / reached if reached else None,
                "failure_rate": handed.get("failed", 0) / reached if reached else None,
            }
        )
    return result


def _scoped(rows: QuerySet[Any], *, user: Any, team_id: int | None) -> QuerySet[Any]:
    """Rows of the teams the user may see (admins: the whole portfolio, loans no team works included; managers:
    their teams' rows only — issue 11), optionally one team."""
    if user_role(user) != ADMIN:
        rows = rows.filter(team_id__in=team_ids(user, managed=True))
    if team_id:
        rows = rows.filter(team_id=team_id)
    return rows


def _snapshots(*, user: Any, since: dt.date, until: dt.date, team_id: int | None) -> list[BucketTotal]:
    """The daily portfolio snapshots of the teams the user may see, summed per date, currency and bucket."""

    rows = _scoped(PortfolioSnapshot.objects.filter(as_of__gte=since, as_of__lte=until), user=user, team_id=team_id)
    totals = rows.values("as_of", "currency", "bucket").annotate(
        n=Sum("loans"), amount=Sum("overdue"), balance=Sum("outstanding")
    )
    return [
        BucketTotal(r["as_of"], r["currency"], r["bucket"], r["n"], r["amount"], r["balance"])
        for r in totals.order_by("as_of", "currency")
    ]


def _flows(*, user: Any, until: dt.date, team_id: int | None) -> list[kpis.FlowTotal]:
    """The latest roll matrix up to ``until`` (one query), rows of the teams the user may see — for a manager the
    loans their teams worked on the earlier day — summed over teams."""

    scoped = _scoped(PortfolioFlow.objects.all(), user=user, team_id=team_id)
    latest = scoped.filter(as_of__lte=until).order_by("-as_of").values("as_of")[:1]
    totals = (
        scoped.filter(as_of=Subquery(latest))
        .values("as_of", "from_date", "currency", "from_bucket", "to_bucket")
        .annotate(n=Sum("loans"), then=Sum("outstanding"))
        .order_by("currency", "from_bucket", "to_bucket")
    )
    return [
        kpis.FlowTotal(r["as_of"], r["from_date"], r["currency"], r["from_bucket"], r["to_bucket"], r["n"], r["then"])
        for r in totals
    ]  # fmt: skip


def performance(*, user: Any, since: dt.datetime, until: dt.datetime, team_id: int | None = None) -> dict[str, Any]:
    """The KPIs of docs/kpis.md for the cases the user may see (optionally one team) in the period [since, until):
    a fixed number of queries whatever the portfolio's size."""

    cases = cases_visible_to(user)
    if team_id:
        cases = cases.filter(team_id=team_id)
    borrowers = cases.values("borrower_id")
    days = max(1, (until - since).days)
    first_day, last_day = since.date(), until.date()

    snapshots = _snapshots(user=user, since=first_day, until=last_day, team_id=team_id)
    labels = [label for label, _, _ in REPORT_BUCKETS]
    trend: dict[tuple[dt.date, str], dict[str, BucketTotal]] = {}
    for snap in snapshots:
        if snap.as_of >= first_day:
            trend.setdefault((snap.as_of, snap.currency), {})[snap.bucket] = snap
    # Per date and currency: the amount overdue and — over the whole portfolio only — the share of active loans
    # overdue. A team's rows hold only the loans its open cases cover, all of them overdue: a share of those would
    # always be about 100 %, so managers (and a chosen team) get the amount alone.
    whole = user_role(user) == ADMIN and not team_id
    series = []
    for (as_of, currency), row in sorted(trend.items()):
        loans = sum(snap.loans for snap in row.values())
        late = sum(snap.loans for bucket, snap in row.items() if bucket != "current")
        series.append({"as_of": as_of, "currency": currency, "rate": late / loans if loans and whole else None,
                       "overdue": sum(snap.overdue for snap in row.values())})  # fmt: skip

    collectors = kpis.collector_days(borrowers, since=since, until=until)
    collected = kpis.collected_per_collector(cases, since=since, until=until)
    messages = message_stats(user=user, since=since, until=until)
    handed = sum(m["reached"] for m in messages)
    delivered = sum(m["delivered"] for m in messages)
    return {
        "days": days,
        "series": series,
        "whole_portfolio": whole,
        "trend": [
            {"as_of": d, "currency": c, "buckets": [(b, row.get(b)) for b in labels]}
            for (d, c), row in sorted(trend.items())
        ],
        "labels": labels,
        # The roll rates look a month back from the latest comparison up to the period's end, whatever its length.
        "flows": kpis.roll_rates(_flows(user=user, until=last_day, team_id=team_id)),
        "cure": kpis.cure_rates(cases, since=first_day, until=last_day),
        "promises": kpis.promise_kept_by_band(cases, since=first_day, until=last_day),
        "rpc": kpis.right_party_contact(borrowers, since=since, until=until),
        "liquidation": kpis.liquidation(cases, since=first_day, until=until),
        "per_hour": kpis.collected_per_hour(collected, collectors),
        "self_cured": kpis.self_cured(cases, since=first_day, until=last_day),
        "portal": kpis.portal_conversion(cases, since=since, until=until),
        "vulnerable": kpis.vulnerability_outcomes(cases, since=since, until=until),
        "per_collector": [{"collector": name, **numbers} for name, numbers in collectors.items()],
        "messages": messages,
        "delivery": {"handed": handed, "delivered": delivered, "rate": delivered / handed if handed else None},
        **kpis.denials_and_deferrals(borrowers, since=since, until=until),
    }


# ---------------------------------------------------------------------------------------------------------------
# The performance page's figures, kept for a few minutes
# ---------------------------------------------------------------------------------------------------------------
# Over 100,000 open cases the figures take about a third of a second of SQL and Python (issue 14's bench), and
# they describe weeks: recomputing them on every load buys nothing. They are kept in the cache (a shared Redis in
# deployments, CACHE_URL) per scope — the reader's role and teams, the team filter and the period — and beat
# recomputes the default view of every scope before it goes stale, so a manager opening the page reads them ready.
# The page says when they were computed.
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Figures:
    """The numbers of ``performance`` for the period of ``days`` that ended at ``as_of``."""

    numbers: dict[str, Any]
    as_of: dt.datetime
    days: int


def _scope_key(user: Any, *, days: int, team_id: int | None) -> str:
    """Who may see the same figures: every admin (the whole portfolio), managers leading the same teams."""
    role = user_role(user)
    teams = "all" if role == ADMIN else ",".join(str(pk) for pk in sorted(team_ids(user, managed=True)))
    return f"performance:v1:{role}:{teams}:{team_id or ''}:{days}"


def performance_figures(*, user: Any, days: int, team_id: int | None = None, fresh: bool = False) -> Figures:
    """The figures for the reader's scope over the last ``days``: those computed within
    ``PERFORMANCE_FIGURES_SECONDS`` when there are any (and ``fresh`` is not asked), else computed now and kept."""
    key = _scope_key(user, days=days, team_id=team_id)
    kept = None if fresh else cache.get(key)
    if isinstance(kept, Figures) and timezone.now() - kept.as_of < dt.timedelta(
        seconds=settings.PERFORMANCE_FIGURES_SECONDS
    ):
        return kept
    until = timezone.now()
    numbers = performance(user=user, since=until - dt.timedelta(days=days), until=until, team_id=team_id)
    figures = Figures(numbers, until, days)
    # Kept twice as long as they are fresh: the beat task replaces them in between.
    cache.set(key, figures, timeout=2 * settings.PERFORMANCE_FIGURES_SECONDS)
    return figures


def refresh_performance_figures() -> int:
    """Recompute the default view (the last 30 days, all the reader's teams) of every scope in use: the whole
    portfolio for admins, each manager's set of teams once. Returns the number of scopes recomputed."""
    users = get_user_model().objects.filter(is_active=True)
    readers: dict[str, Any] = {}
    for user in users.filter(Q(is_superuser=True) | Q(groups__name__in=[ADMIN, MANAGER])).distinct():
        if user_role(user) in (ADMIN, MANAGER):
            readers.setdefault(_scope_key(user, days=DEFAULT_DAYS, team_id=None), user)
    for user in readers.values():
        performance_figures(user=user, days=DEFAULT_DAYS, fresh=True)
    return len(readers)
