"""The KPI formulas of the performance page, one function each, exactly as docs/kpis.md publishes them (and
tests/collections_app/test_kpis.py checks them on a hand-built portfolio).

Each takes the cases the reader may see (``cases``: a manager's teams' cases, an admin's all) and the period
[``since``, ``until``); each runs a fixed number of queries, whatever the portfolio's size."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate

from collections_app.labels import BORROWER
from collections_app.models import FINAL_STATES as FINAL
from collections_app.models import (
    CallDisposition,
    CallParty,
    CaseState,
    CaseTransition,
    CollectionCase,
    Complaint,
    ComplaintStatus,
    PromiseToPay,
)
from compliance.models import ContactEvent, Decision, VulnerabilityRecord
from loans.models import Payment
from loans.selectors import DPD_BUCKETS
from notifications.models import PortalEvent, PortalEventKind

CURE_WINDOWS = (30, 60, 90)
ENTRY_BUCKETS = [(label, low, high) for label, low, high in DPD_BUCKETS if label != "current"]
# Promise amount bands, in the loan's currency: [low, high) — the last is open-ended.
PROMISE_BANDS: list[tuple[str, Decimal, Decimal | None]] = [
    ("<100", Decimal(0), Decimal(100)),
    ("100–500", Decimal(100), Decimal(500)),
    ("500–2,000", Decimal(500), Decimal(2000)),
    ("≥2,000", Decimal(2000), None),
]
# Contacts that never happened (a reservation, or one released) are not contacts.
NOT_CONTACTS = ("reserved", "cancelled")
# A day with contacts counts at least this long (one call is not zero hours of work).
MIN_HOURS_PER_DAY = 0.25
MONEY = DecimalField(max_digits=18, decimal_places=2)


def _rate(numerator: float | Decimal, denominator: float | Decimal) -> float | None:
    return float(numerator) / float(denominator) if denominator else None


def _bucket_of(field: str, buckets: list[tuple[str, int, int | None]]) -> Case:
    whens = []
    for label, low, high in buckets:
        condition: dict[str, Any] = {f"{field}__gte": low}
        if high is not None:
            condition[f"{field}__lte"] = high
        whens.append(When(**condition, then=Value(label)))
    return Case(*whens, default=Value(""), output_field=CharField())


# ---------------------------------------------------------------------------------------------------------------
# Cure rate by entry bucket within 30/60/90 days
# ---------------------------------------------------------------------------------------------------------------
def cure_rates(cases: QuerySet[CollectionCase], *, since: dt.date, until: dt.date) -> list[dict[str, Any]]:
    """Per entry DPD bucket and window N (30, 60, 90 days): of the cases whose N-day window ended in the period
    (opened on a day in (since - N, until - N]), the share cured (state ``resolved``: nothing overdue any more)
    no later than N days after opening. The cure day is the day the case entered ``resolved``."""

    cohort: dict[str, Any] = {}
    for n in CURE_WINDOWS:
        window = Q(opened_on__gt=since - dt.timedelta(days=n), opened_on__lte=until - dt.timedelta(days=n))
        cured = window & Q(state=CaseState.RESOLVED, stage_entered_on__lte=F("opened_on") + dt.timedelta(days=n))
        cohort[f"cases_{n}"] = Count("pk", filter=window)
        cohort[f"cured_{n}"] = Count("pk", filter=cured)
    rows: dict[str, dict[str, Any]] = {
        row["bucket"]: dict(row)
        for row in cases.filter(opened_on__gt=since - dt.timedelta(days=max(CURE_WINDOWS)), opened_on__lte=until)
        .annotate(bucket=_bucket_of("entry_days_past_due", ENTRY_BUCKETS))
        .values("bucket")
        .annotate(**cohort)
        .order_by()
    }
    result = []
    for label, _, _ in ENTRY_BUCKETS:
        row: dict[str, Any] = rows.get(label, {})
        windows = []
        for n in CURE_WINDOWS:
            cases_n, cured_n = row.get(f"cases_{n}", 0), row.get(f"cured_{n}", 0)
            windows.append({"days": n, "cases": cases_n, "cured": cured_n, "rate": _rate(cured_n, cases_n)})
        result.append({"bucket": label, "windows": windows})
    return result


# ---------------------------------------------------------------------------------------------------------------
# Roll (flow) rates: the same loans followed from one month to the next (PortfolioFlow, written by the sweep)
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FlowTotal:
    """Loans that were in ``from_bucket`` on ``from_date`` and are in ``to_bucket`` on ``as_of`` (empty: no longer
    active), summed over the teams the reader may see, with their outstanding balance on ``from_date``."""

    as_of: dt.date
    from_date: dt.date
    currency: str
    from_bucket: str
    to_bucket: str
    loans: int
    outstanding: Decimal


def roll_rates(flows: list[FlowTotal]) -> list[dict[str, Any]]:
    """Per currency and bucket b (all but the last): of the loans in b on T₀, the share in a later bucket on T —
    by count, and by their outstanding balance on T₀. T and T₀ are the dates of the rows (one comparison).
    A loan that rolled is counted once whatever bucket it reached, so a rate never passes 100 %."""

    rank = {label: index for index, (label, _, _) in enumerate(DPD_BUCKETS)}
    labels = [label for label, _, _ in DPD_BUCKETS]
    cohorts: dict[tuple[str, str], dict[str, Any]] = {}
    for flow in flows:
        if flow.from_bucket not in rank or flow.from_bucket == labels[-1]:
            continue  # the last bucket rolls nowhere
        cohort = cohorts.setdefault(
            (flow.currency, flow.from_bucket),
            {"loans_from": 0, "loans_to": 0, "balance_from": Decimal(0), "balance_to": Decimal(0),
             "from_date": flow.from_date, "to_date": flow.as_of},
        )  # fmt: skip
        cohort["loans_from"] += flow.loans
        cohort["balance_from"] += flow.outstanding
        if flow.to_bucket and rank.get(flow.to_bucket, -1) > rank[flow.from_bucket]:
            cohort["loans_to"] += flow.loans
            cohort["balance_to"] += flow.outstanding
    result = []
    for (currency, source), cohort in sorted(cohorts.items(), key=lambda item: (item[0][0], rank[item[0][1]])):
        if not cohort["loans_from"]:
            continue
        result.append(
            {
                "currency": currency,
                "from": source,
                "to": labels[rank[source] + 1],
                **cohort,
                "count_rate": _rate(cohort["loans_to"], cohort["loans_from"]),
                "balance_rate": _rate(cohort["balance_to"], cohort["balance_from"]),
            }
        )
    return result


# ---------------------------------------------------------------------------------------------------------------
# Promise-kept rate by amount band
# ---------------------------------------------------------------------------------------------------------------
def promise_kept_by_band(cases: QuerySet[CollectionCase], *, since: dt.date, until: dt.date) -> list[dict[str, Any]]:
    """Per currency and amount band: promises kept over promises due in the period (pay-by day in [since, until])
    and settled (kept, partly kept or broken). Open promises (not yet checked) and cancelled ones are left out; a
    partly kept promise is not kept."""

    whens = []
    for label, low, high in PROMISE_BANDS:
        condition = Q(amount__gte=low) & (Q(amount__lt=high) if high is not None else Q())
        whens.append(When(condition, then=Value(label)))
    rows = (
        PromiseToPay.objects.filter(
            case__in=cases, promised_on__gte=since, promised_on__lte=until, status__in=["kept", "partial", "broken"]
        )
        .annotate(band=Case(*whens, output_field=CharField()), currency=F("case__loan__currency"))
        .values("currency", "band")
        .annotate(due=Count("pk"), kept=Count("pk", filter=Q(status="kept")))
        .order_by()
    )
    found = {(r["currency"], r["band"]): r for r in rows}
    result = []
    for currency in sorted({c for c, _ in found}):
        for label, _, _ in PROMISE_BANDS:
            row = found.get((currency, label), {"due": 0, "kept": 0})
            result.append(
                {"currency": currency, "band": label, "due": row["due"], "kept": row["kept"],
                 "rate": _rate(row["kept"], row["due"])}
            )  # fmt: skip
    return result


# ---------------------------------------------------------------------------------------------------------------
# Right-party contact rate
# ---------------------------------------------------------------------------------------------------------------
def right_party_contact(borrowers: QuerySet[Any], *, since: dt.datetime, until: dt.datetime) -> dict[str, Any]:
    """Collectors' outbound call attempts in the period (not automated; outcome conversation, no answer, voicemail,
    busy or failed) whose disposition says the borrower answered (right party), over all those attempts."""

    attempts = ContactEvent.objects.filter(
        borrower_id__in=borrowers, channel="call", direction="outbound", automated=False, at__gte=since, at__lt=until,
        outcome__in=["conversation", "no_answer", "voicemail", "busy", "failed"],
    )  # fmt: skip
    right = Exists(CallDisposition.objects.filter(decision_id=OuterRef("decision_id"), party=CallParty.RIGHT_PARTY))
    counts = attempts.aggregate(calls=Count("pk"), right_party=Count("pk", filter=Q(right)))
    return {**counts, "rate": _rate(counts["right_party"], counts["calls"])}


# ---------------------------------------------------------------------------------------------------------------
# Liquidation rate
# ---------------------------------------------------------------------------------------------------------------
def _with_collected(cases: QuerySet[CollectionCase], *, until: dt.datetime) -> QuerySet[CollectionCase]:
    """The cases with ``collected``: payments on the case's loan received from the day the case opened to the day it
    was resolved or closed (still open: to ``until``), and before ``until``."""

    cases = cases.annotate(
        counted_until=Case(
            When(state__in=FINAL, then=F("stage_entered_on")), default=Value(until.date()), output_field=DateField()
        )
    )
    paid = (
        Payment.objects.filter(
            loan_id=OuterRef("loan_id"),
            received_at__date__gte=OuterRef("opened_on"),
            received_at__date__lte=OuterRef("counted_until"),
            received_at__lt=until,
        )
        .order_by()
        .values("loan_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return cases.annotate(collected=Coalesce(Subquery(paid), Value(Decimal(0)), output_field=MONEY))


def liquidation(cases: QuerySet[CollectionCase], *, since: dt.date, until: dt.datetime) -> list[dict[str, Any]]:
    """Per currency, for the cases opened in the period: what was collected on them since opening (see
    ``_with_collected``) over what was overdue when they opened (``entry_amount_overdue``). Payments beyond the
    overdue amount (paying the loan off early) count too, so the rate can pass 100 %."""

    opened = _with_collected(cases.filter(opened_on__gte=since, opened_on__lte=until.date()), until=until)
    rows = (
        opened.values(currency=F("loan__currency"))
        .annotate(cases=Count("pk"), overdue=Sum("entry_amount_overdue"), collected=Sum("collected"))
        .order_by("currency")
    )
    return [{**row, "rate": _rate(row["collected"] or 0, row["overdue"] or 0)} for row in rows]


# ---------------------------------------------------------------------------------------------------------------
# Collectors: contacts per day, amount collected per hour
# ---------------------------------------------------------------------------------------------------------------
def collector_days(borrowers: QuerySet[Any], *, since: dt.datetime, until: dt.datetime) -> dict[str, dict[str, Any]]:
    """Per collector: their contacts in the period (ledger entries they made, not automated, that happened), the
    days (UTC) they made at least one, and their hours — no working time is recorded, so a day's hours are the span
    from their first to their last contact that day, at least a quarter of an hour."""

    rows = (
        ContactEvent.objects.filter(
            borrower_id__in=borrowers, actor__isnull=False, automated=False, at__gte=since, at__lt=until
        )
        .exclude(outcome__in=NOT_CONTACTS)
        .annotate(day=TruncDate("at", tzinfo=dt.UTC))
        .values("actor__username", "day")
        .annotate(n=Count("pk"), first=Min("at"), last=Max("at"))
        .order_by()
    )
    result: dict[str, dict[str, Any]] = defaultdict(lambda: {"contacts": 0, "days": 0, "hours": 0.0})
    for row in rows:
        mine = result[row["actor__username"]]
        mine["contacts"] += row["n"]
        mine["days"] += 1
        mine["hours"] += max(MIN_HOURS_PER_DAY, (row["last"] - row["first"]).total_seconds() / 3600)
    return {
        name: {**numbers, "per_day": numbers["contacts"] / numbers["days"]} for name, numbers in sorted(result.items())
    }


def collected_per_collector(cases: QuerySet[CollectionCase], *, since: dt.datetime, until: dt.datetime) -> list[dict]:
    """Per collector and currency: payments received in the period on the loans of the cases assigned to them,
    while the case was open (from its opening day to the day it was resolved or closed)."""

    # Read from the cases' side: the reader's cases are the query's own rows, and "while open" is one join condition.
    # From the payments' side (the cases as an IN list, the final states as a NOT EXISTS per row) PostgreSQL took
    # about 11 ms to plan a query that ran in well under one (100,000 open cases, `make bench`).
    paid = Q(
        loan__payments__received_at__gte=since,
        loan__payments__received_at__lt=until,
        loan__payments__received_at__date__gte=F("opened_on"),
    )
    open_then = ~Q(state__in=FINAL) | Q(loan__payments__received_at__date__lte=F("stage_entered_on"))
    rows = (
        cases.filter(paid & open_then, assigned_to__isnull=False)
        .values(currency=F("loan__payments__currency"), collector=F("assigned_to__username"))
        .annotate(collected=Sum("loan__payments__amount"))
        .order_by("collector", "currency")
    )
    return [dict(row) for row in rows]


def collected_per_hour(collected: list[dict], days: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Amount collected per collector-hour: a collector's collections (``collected_per_collector``) over their
    hours (``collector_days``); a collector with no contacts in the period has no hours, and no rate."""

    result = []
    for row in collected:
        hours = days.get(row["collector"], {}).get("hours", 0.0)
        result.append({**row, "hours": hours, "per_hour": _rate(row["collected"], hours)})
    return result


# ---------------------------------------------------------------------------------------------------------------
# Self-cured share
# ---------------------------------------------------------------------------------------------------------------
def self_cured(cases: QuerySet[CollectionCase], *, since: dt.date, until: dt.date) -> dict[str, Any]:
    """Of the cases cured in the period (entered ``resolved`` on a day in [since, until]), those with no contact
    by a person during the case: no ledger entry for the borrower made by a member of staff and not automated (a
    collector's call, visit or logged contact, or the borrower's call taken by one) from the opening day to the cure
    day. A text the borrower sent in (no member of staff) is not contact by a collector."""

    touched = ContactEvent.objects.filter(
        borrower_id=OuterRef("borrower_id"),
        automated=False,
        actor__isnull=False,
        at__date__gte=OuterRef("opened_on"),
        at__date__lte=OuterRef("stage_entered_on"),
    ).exclude(outcome__in=NOT_CONTACTS)
    counts = cases.filter(state=CaseState.RESOLVED, stage_entered_on__gte=since, stage_entered_on__lte=until).aggregate(
        cured=Count("pk"), self_cured=Count("pk", filter=~Q(Exists(touched)))
    )
    return {**counts, "rate": _rate(counts["self_cured"], counts["cured"])}


# ---------------------------------------------------------------------------------------------------------------
# Portal conversion
# ---------------------------------------------------------------------------------------------------------------
# What the borrower did on their own that counts as converting a visit, by the audit's marks: a payment started on
# their page and confirmed by the provider, a promise or a plan whose audit row's actor is the borrower.
PORTAL_OUTCOMES = ("payment", "promise", "plan")
BORROWER_PROMISE = ("take_promise",)
BORROWER_PLAN = ("start_plan", "propose_plan")  # started inside the policy, or waiting for a manager


def portal_conversion(cases: QuerySet[CollectionCase], *, since: dt.datetime, until: dt.datetime) -> dict[str, Any]:
    """Of the borrowers (of the cases in scope) who opened their page in [since, until) — the visitors — those who,
    at or after their first visit of the period and before its end, completed a payment started on the page, made a
    promise themselves, or chose a plan themselves (audit actor ``borrower``); ``any``: at least one of the three.
    Each rate is over the visitors. Four queries."""

    in_scope = cases.values("borrower_id")
    first_visit = dict(
        PortalEvent.objects.filter(kind=PortalEventKind.VISIT, at__gte=since, at__lt=until, borrower_id__in=in_scope)
        .values_list("borrower_id")
        .annotate(first=Min("at"))
    )
    by_borrower = CaseTransition.objects.filter(
        actor_label=BORROWER, at__gte=since, at__lt=until, case__in=cases
    ).values_list("case__borrower_id")
    latest = {
        "payment": dict(
            PortalEvent.objects.filter(
                kind=PortalEventKind.PAY_COMPLETED, at__gte=since, at__lt=until, borrower_id__in=in_scope
            )
            .values_list("borrower_id")
            .annotate(last=Max("at"))
        ),
        "promise": dict(by_borrower.filter(transition__in=BORROWER_PROMISE).annotate(last=Max("at"))),
        "plan": dict(by_borrower.filter(transition__in=BORROWER_PLAN).annotate(last=Max("at"))),
    }
    # A borrower converted when their latest such act in the period came at or after their first visit in it.
    converted = {
        outcome: {b for b, first in first_visit.items() if (last := latest[outcome].get(b)) and last >= first}
        for outcome in PORTAL_OUTCOMES
    }
    visitors = len(first_visit)
    result: dict[str, Any] = {"visitors": visitors}
    for outcome, who in [*converted.items(), ("any", set().union(*converted.values()))]:
        result[outcome] = len(who)
        result[f"{outcome}_rate"] = _rate(len(who), visitors)
    return result


# ---------------------------------------------------------------------------------------------------------------
# Compliance: denials by rule, deferrals apart
# ---------------------------------------------------------------------------------------------------------------
def denials_and_deferrals(borrowers: QuerySet[Any], *, since: dt.datetime, until: dt.datetime) -> dict[str, list]:
    """The gate's refusals in the period (not dry runs), counted per rule: a reason saying ``deny`` is a denial
    (the contact may not happen); one saying ``defer`` is a deferral ("not yet": a time-of-day window or a cap
    says when it becomes allowed) and is counted apart. A decision refused by two rules counts once for each."""

    denied: defaultdict[str, int] = defaultdict(int)
    deferred: defaultdict[str, int] = defaultdict(int)
    refusals = (
        Decision.objects.filter(
            allowed=False, dry_run=False, borrower_id__in=borrowers, created_at__gte=since, created_at__lt=until
        )
        .values_list("outcome", "reasons")[:200_000]
        .iterator()
    )
    for outcome, reasons in refusals:
        seen: set[tuple[str, str]] = set()
        for reason in reasons or []:
            key = (reason.get("outcome") or outcome, reason.get("rule", "?"))  # a reason names its own outcome
            if key not in seen:
                seen.add(key)
                if key[0] == "deny":
                    denied[key[1]] += 1
                elif key[0] == "defer":
                    deferred[key[1]] += 1
    order = lambda counts: sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))  # noqa: E731
    return {"denials": order(denied), "deferrals": order(deferred)}


# ---------------------------------------------------------------------------------------------------------------
# Outcomes for vulnerable and other customers (VUL-01, the Consumer Duty outcome test)
# ---------------------------------------------------------------------------------------------------------------
VULNERABLE, OTHER = "vulnerable", "other"


def vulnerability_outcomes(
    cases: QuerySet[CollectionCase], *, since: dt.datetime, until: dt.datetime
) -> list[dict[str, Any]]:
    """Cure rate, contacts and complaints per case for the cases worked in the period, vulnerable customers apart
    from the others. Worked: opened on or before the last day and not resolved or closed before the first day.
    Vulnerable: the borrower had a vulnerability record in force at some moment of the period (recorded before its
    end, not ended before its start). Cured: entered ``resolved`` on a day of the period. Contacts: outbound ledger
    entries to the borrowers of the cases worked in the period (reservations and released ones are not contacts),
    over the cases.
    Complaints: complaints about the cases worked received in the period, but those not confirmed as complaints
    (possible, dismissed), over the cases. Three queries."""
    first_day, last_day = since.date(), until.date()
    # The borrowers with a record in force, as one uncorrelated subquery: PostgreSQL hashes it once, where a
    # correlated EXISTS would probe the records once per case (160 ms at 100,000 open cases, issue 14's bench).
    in_force = (
        VulnerabilityRecord.objects.filter(created_at__lt=until)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=since))
        .values("borrower_id")
    )

    def flagged(borrower: str) -> ExpressionWrapper:
        return ExpressionWrapper(Q(**{f"{borrower}__in": in_force}), output_field=BooleanField())

    worked = cases.filter(opened_on__lte=last_day).exclude(state__in=FINAL, stage_entered_on__lt=first_day)
    cured = Q(state=CaseState.RESOLVED, stage_entered_on__gte=first_day, stage_entered_on__lte=last_day)
    counts: dict[bool, dict[str, Any]] = {
        row["vulnerable"]: dict(row)
        for row in worked.annotate(vulnerable=flagged("borrower_id"))
        .values("vulnerable")
        .annotate(cases=Count("pk"), cured=Count("pk", filter=cured))
        .order_by()
    }
    contacts = {
        row["vulnerable"]: row["contacts"]
        for row in ContactEvent.objects.filter(
            borrower_id__in=worked.values("borrower_id"), direction="outbound", at__gte=since, at__lt=until
        )
        .exclude(outcome__in=NOT_CONTACTS)
        .annotate(vulnerable=flagged("borrower_id"))
        .values("vulnerable")
        .annotate(contacts=Count("pk"))
        .order_by()
    }
    complaints = {
        row["vulnerable"]: row["complaints"]
        for row in Complaint.objects.filter(case__in=worked, received_at__gte=since, received_at__lt=until)
        .exclude(status__in=[ComplaintStatus.POSSIBLE, ComplaintStatus.DISMISSED])
        .annotate(vulnerable=flagged("case__borrower_id"))
        .values("vulnerable")
        .annotate(complaints=Count("pk"))
        .order_by()
    }
    result = []
    for group, flag in ((VULNERABLE, True), (OTHER, False)):
        row = counts.get(flag, {})
        n, cured_n, contacts_n = row.get("cases", 0), row.get("cured", 0), contacts.get(flag, 0)
        complaints_n = complaints.get(flag, 0)
        result.append({"group": group, "cases": n, "cured": cured_n, "cure_rate": _rate(cured_n, n),
                       "contacts": contacts_n, "contacts_per_case": _rate(contacts_n, n),
                       "complaints": complaints_n, "complaints_per_case": _rate(complaints_n, n)})  # fmt: skip
    return result


# ---------------------------------------------------------------------------------------------------------------
# Complaints (CMP-01): how many, and how many answered within the legal clock
# ---------------------------------------------------------------------------------------------------------------
def complaint_rates(cases: QuerySet[CollectionCase], *, since: dt.datetime, until: dt.datetime) -> dict[str, Any]:
    """Complaints per 1,000 accounts worked in the period, and the share answered within the legal clock.

    Accounts worked: as in ``vulnerability_outcomes`` (opened on or before the last day, not resolved or closed
    before the first). Complaints: those about these cases received in the period, but texts not confirmed as
    complaints (possible, dismissed). Answerable: of those, the ones resolved, or still pending once their final
    response date has passed before the period's end; within the clock: resolved on or before the final response
    date (the resolution's date in the site's time zone). One query: the cases joined to their complaints."""
    first_day, last_day = since.date(), until.date()
    worked = cases.filter(opened_on__lte=last_day).exclude(state__in=FINAL, stage_entered_on__lt=first_day)
    confirmed = Q(
        complaints__received_at__gte=since,
        complaints__received_at__lt=until,
        complaints__status__in=[ComplaintStatus.OPEN, ComplaintStatus.ACKNOWLEDGED, ComplaintStatus.RESOLVED],
    )
    resolved = Q(complaints__status=ComplaintStatus.RESOLVED)
    in_time = resolved & Q(complaints__resolved_at__date__lte=F("complaints__final_by"))
    answerable = resolved | Q(complaints__final_by__lt=last_day)
    counts = worked.order_by().aggregate(
        accounts=Count("pk", distinct=True),
        received=Count("complaints", filter=confirmed),  # not "complaints": that names the relation
        answerable=Count("complaints", filter=confirmed & answerable),
        in_time=Count("complaints", filter=confirmed & in_time),
    )
    return {
        "accounts": counts["accounts"],
        "complaints": counts["received"],
        "answerable": counts["answerable"],
        "in_time": counts["in_time"],
        "per_1000": _rate(counts["received"] * 1000, counts["accounts"]),
        "in_time_rate": _rate(counts["in_time"], counts["answerable"]),
    }
