"""The numbers managers watch: performance over a period (snapshots, rates, contacts, denials) and message statistics,
every figure scoped to the reader's teams."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, OuterRef, Sum

from collections_app.models import CallDisposition, CallParty, PortfolioSnapshot, PromiseToPay
from collections_app.selectors.access import cases_visible_to, team_ids
from compliance.models import ContactEvent, Decision
from core.roles import ADMIN, user_role
from loans.selectors import DPD_BUCKETS as REPORT_BUCKETS
from notifications.models import OutboundMessage


def message_stats(*, user: Any, since: dt.datetime) -> list[dict[str, Any]]:
    """Messages planned since ``since`` for the cases the user may see, per channel: counts by status and the
    delivery and failure rates of what reached the provider."""

    rows = (
        OutboundMessage.objects.filter(planned_for__gte=since, case__in=cases_visible_to(user))
        .values("channel", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    stats: dict[str, dict[str, int]] = {}
    for row in rows:
        stats.setdefault(row["channel"], {})[row["status"]] = row["n"]
    result = []
    for channel, counts in sorted(stats.items()):
        reached = counts.get("sent", 0) + counts.get("delivered", 0) + counts.get("failed", 0)
        result.append(
            {
                "channel": channel,
                "counts": counts,
                "total": sum(counts.values()),
                "reached": reached,
                "delivery_rate": counts.get("delivered", 0) / reached if reached else None,
                "failure_rate": counts.get("failed", 0) / reached if reached else None,
            }
        )
    return result


@dataclass(frozen=True)
class BucketTotal:
    """Loans in one DPD bucket on one date and currency, summed over the teams the reader may see."""

    as_of: dt.date
    currency: str
    bucket: str
    loans: int
    overdue: Decimal
    outstanding: Decimal


def _snapshots(*, user: Any, since: dt.date, until: dt.date, team_id: int | None) -> list[BucketTotal]:
    """The daily portfolio snapshots of the teams the user may see (admins: the whole portfolio, loans no team
    works included; managers: their teams' rows only — issue 11), summed per date, currency and bucket."""

    rows = PortfolioSnapshot.objects.filter(as_of__gte=since, as_of__lte=until)
    if user_role(user) != ADMIN:
        rows = rows.filter(team_id__in=team_ids(user, managed=True))
    if team_id:
        rows = rows.filter(team_id=team_id)
    totals = rows.values("as_of", "currency", "bucket").annotate(
        n=Sum("loans"), amount=Sum("overdue"), balance=Sum("outstanding")
    )
    return [
        BucketTotal(r["as_of"], r["currency"], r["bucket"], r["n"], r["amount"], r["balance"])
        for r in totals.order_by("as_of", "currency")
    ]


def performance(*, user: Any, since: dt.datetime, until: dt.datetime, team_id: int | None = None) -> dict[str, Any]:
    """The numbers a collections head watches, for the cases the user may see (optionally one team) in a period:
    overdue by bucket over time and flow (roll) rates from the sweep's daily snapshots; cure, promise-kept and
    right-party-contact rates; contacts per collector per day; messages; compliance denials by rule."""

    cases = cases_visible_to(user)
    if team_id:
        cases = cases.filter(team_id=team_id)
    borrowers = cases.values("borrower_id")
    days = max(1, (until - since).days)

    snapshots = _snapshots(user=user, since=since.date(), until=until.date(), team_id=team_id)
    trend: dict[tuple[dt.date, str], dict[str, Any]] = {}
    for snap in snapshots:
        trend.setdefault((snap.as_of, snap.currency), {})[snap.bucket] = snap
    labels = [label for label, _, _ in REPORT_BUCKETS]
    flows = []
    dates = sorted({s.as_of for s in snapshots})
    if len(dates) >= 2:
        last = dates[-1]
        first = min(dates, key=lambda d: abs((last - d).days - 30))  # about a month earlier, as close as we have
        for currency in sorted({s.currency for s in snapshots}):
            before, after = trend.get((first, currency), {}), trend.get((last, currency), {})
            for source, target in itertools.pairwise(labels):
                start = before.get(source)
                if start and start.overdue:
                    end = after.get(target)
                    rate = float((end.overdue if end else 0) / start.overdue)
                    flows.append({"currency": currency, "from": source, "to": target, "from_date": first,
                                  "to_date": last, "rate": rate})  # fmt: skip

    opened = cases.filter(opened_on__gte=since.date(), opened_on__lte=until.date())
    cured = opened.filter(state="resolved").count()
    opened_count = opened.count()
    promises = PromiseToPay.objects.filter(case__in=cases, promised_on__gte=since.date(), promised_on__lte=until.date())
    promise_counts = dict(promises.values_list("status").annotate(n=Count("pk")).order_by())
    settled = sum(promise_counts.get(s, 0) for s in ("kept", "partial", "broken"))
    calls = ContactEvent.objects.filter(
        borrower_id__in=borrowers, channel="call", direction="outbound", at__gte=since, at__lt=until,
        outcome__in=["conversation", "no_answer", "voicemail", "busy", "failed"],
    )  # fmt: skip
    # Right-party contact rate: the collectors' outbound call attempts (automated reminders are not theirs) whose
    # disposition says the borrower answered, over all those attempts.
    attempts = calls.filter(automated=False)
    attempt_count = attempts.count()
    right_party = attempts.filter(
        Exists(CallDisposition.objects.filter(decision_id=OuterRef("decision_id"), party=CallParty.RIGHT_PARTY))
    ).count()
    per_collector = [
        {"collector": row["actor__username"], "contacts": row["n"], "per_day": row["n"] / days}
        for row in calls.filter(actor__isnull=False).values("actor__username").annotate(n=Count("pk")).order_by("-n")
    ]
    denial_rules: Counter[str] = Counter()
    for reasons in (
        Decision.objects.filter(allowed=False, borrower_id__in=borrowers, created_at__gte=since, created_at__lt=until)
        .values_list("reasons", flat=True)[:200_000]
        .iterator()
    ):
        denial_rules.update({r.get("rule", "?") for r in reasons or []})
    series = []  # per date and currency: the share of active loans overdue and the amount overdue
    for (as_of, currency), row in sorted(trend.items()):
        loans = sum(snap.loans for snap in row.values())
        late = sum(snap.loans for bucket, snap in row.items() if bucket != "current")
        series.append({"as_of": as_of, "currency": currency, "rate": late / loans if loans else None,
                       "overdue": sum(snap.overdue for snap in row.values())})  # fmt: skip
    return {
        "days": days,
        "series": series,
        "trend": [
            {"as_of": d, "currency": c, "buckets": [(b, row.get(b)) for b in labels]} for (d, c), row in trend.items()
        ],
        "labels": labels,
        "flows": flows,
        "cure": {"opened": opened_count, "cured": cured, "rate": cured / opened_count if opened_count else None},
        "promises": {
            "settled": settled,
            "kept": promise_counts.get("kept", 0),
            "rate": promise_counts.get("kept", 0) / settled if settled else None,
        },
        "rpc": {
            "calls": attempt_count,
            "right_party": right_party,
            "rate": right_party / attempt_count if attempt_count else None,
        },
        "per_collector": per_collector,
        "messages": message_stats(user=user, since=since),
        "denials": denial_rules.most_common(),
    }
