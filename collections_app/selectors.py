"""Reads of cases for pages and the API, with who may see what (one access rule, tested once)."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from collections_app.models import CollectionCase, SweepRun, Team, TeamMembership
from compliance.engine import Attempt, contact_point, evaluate
from compliance.models import ContactEvent
from compliance.services import facts_load, profiles_current, to_kind_for
from core.roles import ADMIN, COLLECTOR, MANAGER, user_role
from loans.models import Borrower, Loan, PhoneNumber
from loans.money import format_money
from notifications.models import ProviderPause


def cases_visible_to(user: Any, *, lookup: bool = False) -> QuerySet[CollectionCase]:
    """Admins: every case. Managers: their teams' cases and unassigned ones. Collectors: their own, and their
    team's when the team allows it. Anyone else: none.

    ``lookup``: the rule for fetching one case or borrower by id, as one query (the teams as a subquery); lists use
    the teams read beforehand, which keeps their filters index-friendly."""
    role = user_role(user)
    cases = CollectionCase.objects.all()
    if role == ADMIN:
        return cases
    # Team ids as values, read once per request: "x = … OR team_id IN (1, 2)" lets PostgreSQL combine two index
    # scans, where a subquery in the OR would make it read every case.
    if role == MANAGER:
        led = Team.objects.filter(manager=user).values("pk") if lookup else _team_ids(user, managed=True)
        return cases.filter(Q(team_id__in=led) | Q(team__isnull=True))
    if role == COLLECTOR:
        if lookup:
            shared = TeamMembership.objects.filter(user=user, team__collectors_see_team_cases=True).values("team_id")
            return cases.filter(Q(assigned_to=user) | Q(team_id__in=shared))
        teams = _team_ids(user, managed=False)
        return cases.filter(Q(assigned_to=user) | Q(team_id__in=teams)) if teams else cases.filter(assigned_to=user)
    return cases.none()


def _team_ids(user: Any, *, managed: bool) -> list[int]:
    """The teams a manager leads, or the teams whose cases a collector may see (cached on the user object)."""
    cached = getattr(user, "_team_ids_cache", None)
    if cached is None:
        if managed:
            cached = list(Team.objects.filter(manager=user).values_list("pk", flat=True))
        else:
            cached = list(
                TeamMembership.objects.filter(user=user, team__collectors_see_team_cases=True).values_list(
                    "team_id", flat=True
                )
            )
        user._team_ids_cache = cached
    return cached


def borrower_get_for_user(*, user: Any, borrower_id: int, loan_id: int | None = None) -> Borrower:
    """The borrower if one of their cases is visible to the user (admins: any borrower); 404 otherwise.

    With ``loan_id`` the same query tells whether that loan is the borrower's: ``borrower.owns_loan``."""
    borrowers = Borrower.objects.filter(pk=borrower_id)
    if user_role(user) != ADMIN:
        borrowers = borrowers.filter(Exists(cases_visible_to(user, lookup=True).filter(borrower_id=OuterRef("pk"))))
    if loan_id is not None:
        borrowers = borrowers.annotate(owns_loan=Exists(Loan.objects.filter(pk=loan_id, borrower_id=OuterRef("pk"))))
    borrower = borrowers.first()
    if borrower is None:
        raise Http404("No such borrower")
    return borrower


def case_get_for_user(*, user: Any, case_id: int) -> CollectionCase:
    """The case if the user may see it (one access rule: ``cases_visible_to``); 404 otherwise."""
    case = (
        cases_visible_to(user, lookup=True)
        .select_related("loan__product", "borrower", "assigned_to", "team")
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise Http404("No such case")
    return case


def borrower_zone(borrower: Borrower) -> str:
    """The zone a time typed about this borrower is read in (a visit window, a callback): their first candidate zone
    (the address's), UTC when none is known."""
    return (borrower.time_zones or ["UTC"])[0]


QUEUE_PAGE_SIZE = 25


DPD_BUCKETS = {"1-30": (1, 30), "31-60": (31, 60), "61-90": (61, 90), "91-180": (91, 180), "180+": (181, None)}


def case_queue_for(
    *,
    user: Any,
    stage: str = "",
    search: str = "",
    bucket: str = "",
    language: str = "",
    promises_due: dt.date | None = None,
    callbacks_due: dt.datetime | None = None,
) -> QuerySet[CollectionCase]:
    """Open cases the user may see, most urgent first. ``search`` matches a name, a phone number or a loan's
    external id; ``bucket`` is a days-past-due range; ``promises_due`` keeps cases with a promise due that day."""
    from collections_app.models import PromiseToPay

    cases = cases_visible_to(user).open().select_related("borrower", "loan", "assigned_to")
    if stage:
        cases = cases.filter(state=stage)
    if bucket in DPD_BUCKETS:
        low, high = DPD_BUCKETS[bucket]
        cases = cases.filter(days_past_due__gte=low, **({"days_past_due__lte": high} if high else {}))
    if language:
        cases = cases.filter(borrower__language=language)
    if promises_due:
        due = PromiseToPay.objects.filter(case_id=OuterRef("pk"), status="open", promised_on=promises_due)
        cases = cases.filter(Exists(due))
    if callbacks_due:
        cases = cases.filter(callback_at__lte=callbacks_due)
    if search:
        digits = "".join(c for c in search if c.isdigit() or c == "+")
        match = Q(borrower__full_name__icontains=search) | Q(loan__external_id__iexact=search)
        if len(digits) >= 6:
            match |= Q(Exists(PhoneNumber.objects.filter(borrower_id=OuterRef("borrower_id"), number__contains=digits)))
        cases = cases.filter(match)
    return cases.order_by("-priority", "-days_past_due", "id")


def calls_allowed_now(*, cases: list[CollectionCase], now: dt.datetime, chinese: bool) -> dict[int, ChannelAnswer]:
    """For a page of the queue: may the collector call each borrower now (their first mobile, by hand)? Two
    queries for the whole page: the borrowers' facts and the profiles."""
    if not cases:
        return {}
    facts, _ = facts_load([c.borrower_id for c in cases], at=now)
    profiles = profiles_current()
    answers = {}
    for case in cases:
        borrower = facts[case.borrower_id]
        phone = contact_point(borrower, "call")  # no number: the gate denies (NO-ADDRESS)
        answers[case.pk] = _dry_run(
            borrower, profiles, channel="call", to=phone, loan_id=case.loan_id, now=now, chinese=chinese
        )
    return answers


def _dry_run(
    borrower: Any, profiles: list[Any], *, channel: str, to: str, loan_id: int, now: dt.datetime, chinese: bool
) -> ChannelAnswer:
    """The gate's answer for a contact now, evaluated and not stored (a page view is not a contact)."""
    attempt = Attempt(
        channel=channel,
        at=now,
        to=to,
        to_kind=to_kind_for(borrower, channel, to),
        automated=channel == "sms",  # texts leave through the platform; a collector dials a call by hand
        debts=(loan_id,),
    )
    result = evaluate(attempt, borrower, profiles)
    return ChannelAnswer(
        channel=channel,
        to=to,
        allowed=result.allowed,
        outcome=result.outcome,
        reasons=[(r.rule, r.message_zh if chinese else r.message) for r in result.reasons],
        next_allowed_at=result.next_allowed_at,
    )


PANEL_CHANNELS = ("call", "sms", "email", "letter", "visit")


@dataclass(frozen=True)
class ChannelAnswer:
    channel: str
    to: str
    allowed: bool
    outcome: str
    reasons: list[tuple[str, str]]  # (rule, message in the reader's language)
    next_allowed_at: dt.datetime | None


def contact_panel(*, case: CollectionCase, now: dt.datetime, chinese: bool) -> tuple[list[ChannelAnswer], Any]:
    """May we contact this borrower now, per channel, and if not why and when? The gate's own rules, evaluated
    as a dry run and not stored (a page view is not a contact). Returns the answers and the facts they used."""
    facts, _ = facts_load([case.borrower_id], at=now)
    borrower = facts[case.borrower_id]
    profiles = profiles_current()
    answers = [
        _dry_run(borrower, profiles, channel=channel, to=contact_point(borrower, channel), loan_id=case.loan_id,
                 now=now, chinese=chinese)
        for channel in PANEL_CHANNELS
    ]  # fmt: skip
    return answers, borrower


def case_page(*, case: CollectionCase, now: dt.datetime, chinese: bool) -> dict[str, Any]:
    """Everything the case page shows, in a fixed number of queries whatever the case's history."""
    from notifications.models import OutboundMessage

    panel, facts = contact_panel(case=case, now=now, chinese=chinese)
    phones = [
        {
            "number": str(p.number),
            "kind": p.get_kind_display(),
            "sms_consent": p.sms_consent,
            "autodial": str(p.number) in facts.autodial_consent,
            "sms_opted_out": str(p.number) in facts.sms_opted_out,
        }
        for p in case.borrower.phones.all().order_by("id")
    ]
    # Formatted here: a template would show an aware datetime in the reader's time zone, not the borrower's.
    zones = [(zone, now.astimezone(ZoneInfo(zone)).strftime("%H:%M")) for zone in facts.zones]
    messages = list(
        OutboundMessage.objects.filter(case=case).select_related("decision").order_by("-planned_for", "-id")[:50]
    )
    timeline: list[dict[str, Any]] = []
    currency = case.loan.currency

    def item(at: dt.datetime, kind: str, title: str, detail: str = "", who: str = "", exception: bool = False) -> None:
        timeline.append({"at": at, "kind": kind, "title": title, "detail": detail, "who": who, "exception": exception})

    for t in case.transitions.all().order_by("-at")[:100]:
        item(t.at, "transition", f"{t.from_state or '·'} → {t.to_state}", t.reason, t.actor_label)
    for e in ContactEvent.objects.filter(borrower_id=case.borrower_id).order_by("-at")[:100]:
        title = f"{e.get_direction_display()} {e.channel}: {e.get_outcome_display()}"
        item(e.at, "contact", title, e.note, exception=e.is_exception)
    for n in case.notes.select_related("author").order_by("-created_at")[:100]:
        item(n.created_at, "note", n.text, who=n.author.get_username())
    for p in case.promises.order_by("-created_at")[:50]:
        item(p.created_at, "promise", f"{format_money(p.amount, currency)} by {p.promised_on}", p.get_status_display())
    for p in case.plans.order_by("-created_at")[:20]:
        item(p.created_at, "plan", f"{format_money(p.total_amount, currency)} ({p.get_frequency_display()})",
             p.get_status_display())  # fmt: skip
    for h in case.holds.order_by("-placed_at")[:20]:
        item(h.placed_at, "hold", h.get_kind_display(), h.reason)
    for v in case.visits.order_by("-window_start")[:20]:
        item(v.window_start, "visit", v.address, v.get_status_display())
    timeline.sort(key=lambda item: item["at"], reverse=True)
    return {
        "today": now.date(),
        "case": case,
        "loan": case.loan,
        "borrower": case.borrower,
        "installments": list(case.loan.installments.order_by("number")),
        "active_holds": list(case.holds.filter(lifted_at__isnull=True)),
        "payments": list(case.loan.payments.order_by("-received_at")[:20]),
        "phones": phones,
        "zones": zones,
        "panel": panel,
        "outbox": messages,
        "timeline": timeline,
        "priority_parts": [
            (_("Days past due"), case.priority_dpd, 40),
            (_("Share overdue"), case.priority_amount, 20),
            (_("Broken promises"), case.priority_promises, 15),
            (_("Since last contact"), case.priority_contact, 10),
            (_("Reachable"), case.priority_reach, 10),
            (_("Payment history"), case.priority_history, 5),
        ],
    }


def message_stats(*, user: Any, since: dt.datetime) -> list[dict[str, Any]]:
    """Messages planned since ``since`` for the cases the user may see, per channel: counts by status and the
    delivery and failure rates of what reached the provider."""
    from django.db.models import Count

    from notifications.models import OutboundMessage

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


def call_pending(*, case: CollectionCase, decision_id: int | None) -> Any:
    """The allowed call decision whose outcome the collector still has to log (its slot is still reserved)."""
    from compliance.models import Decision

    if decision_id is None:
        return None
    reserved = ContactEvent.objects.filter(decision_id=OuterRef("pk"), outcome="reserved")
    return Decision.objects.filter(
        Exists(reserved), pk=decision_id, borrower_id=case.borrower_id, channel="call", allowed=True
    ).first()


def escalation_queue(*, user: Any) -> dict[str, Any]:
    """The managers' queue: cases waiting in legal review with their evidence, plans waiting for approval, recent
    compliance denials and uncovered contacts — for the cases the manager may see, in a fixed number of queries."""
    from django.db.models import Count, Subquery

    from collections_app.models import CaseTransition, PaymentPlan
    from compliance.models import Decision
    from notifications.models import OutboundMessage

    visible = cases_visible_to(user)
    notices = OutboundMessage.objects.filter(
        case_id=OuterRef("pk"), purpose__in=["formal_notice", "legal"], status__in=["sent", "delivered"]
    )
    exceptions = ContactEvent.objects.filter(borrower_id=OuterRef("borrower_id"), is_exception=True)
    request = CaseTransition.objects.filter(case_id=OuterRef("pk"), transition="request_legal").order_by("-at")
    review = (
        visible.filter(state="legal_review")
        .select_related("borrower", "loan", "assigned_to")
        .annotate(
            notices_sent=Subquery(notices.order_by().values("case_id").annotate(n=Count("pk")).values("n")[:1]),
            exception_count=Subquery(
                exceptions.order_by().values("borrower_id").annotate(n=Count("pk")).values("n")[:1]
            ),
            requested_because=Subquery(request.values("reason")[:1]),
            requested_by=Subquery(request.values("actor_label")[:1]),
        )
        .order_by("-amount_overdue", "id")
    )
    plans = (
        PaymentPlan.objects.filter(status="pending_approval", case__in=visible)
        .select_related("case__borrower", "case__loan", "proposed_by")
        .order_by("created_at")
    )
    borrowers = visible.values("borrower_id")
    denials = (
        Decision.objects.filter(allowed=False, dry_run=False, borrower_id__in=borrowers)
        .select_related("borrower")
        .order_by("-created_at")[:50]
    )
    uncovered = (
        ContactEvent.objects.filter(is_exception=True, borrower_id__in=borrowers)
        .select_related("borrower", "actor")
        .order_by("-at")[:50]
    )
    return {"review": list(review[:200]), "plans": list(plans[:100]), "denials": list(denials),
            "exceptions": list(uncovered)}  # fmt: skip


def collectors_for(*, user: Any) -> QuerySet[Any]:
    """Collectors a manager may hand cases to: their teams' members (admins: every active collector)."""
    from django.contrib.auth import get_user_model

    people = get_user_model().objects.filter(is_active=True, groups__name=COLLECTOR)
    if user_role(user) != ADMIN:
        people = people.filter(team_membership__team__manager=user)
    return people.order_by("username").distinct()


def teams_for(*, user: Any) -> QuerySet[Any]:
    from collections_app.models import Team

    teams = Team.objects.all()
    return teams if user_role(user) == ADMIN else teams.filter(manager=user)


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
    from django.db.models import Sum

    from collections_app.models import PortfolioSnapshot

    rows = PortfolioSnapshot.objects.filter(as_of__gte=since, as_of__lte=until)
    if user_role(user) != ADMIN:
        rows = rows.filter(team_id__in=_team_ids(user, managed=True))
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
    from collections import Counter

    from django.db.models import Count

    from collections_app.models import PromiseToPay
    from compliance.models import Decision
    from loans.selectors import DPD_BUCKETS as REPORT_BUCKETS

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
    call_count = calls.count()
    conversations = calls.filter(outcome="conversation").count()
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
            "calls": call_count,
            "conversations": conversations,
            "rate": conversations / call_count if call_count else None,
        },
        "per_collector": per_collector,
        "messages": message_stats(user=user, since=since),
        "denials": denial_rules.most_common(),
    }


def sweep_overdue(*, now: dt.datetime | None = None) -> SweepRun | None:
    """The latest sweep run, if it is still unfinished ``SWEEP_DEADLINE_MINUTES`` after it started (the managers'
    banner; the watchdog logs it once)."""
    run = SweepRun.objects.order_by("-id").first()
    if run is None or run.finished_at is not None:
        return None
    now = now or timezone.now()
    return run if run.started_at <= now - dt.timedelta(minutes=settings.SWEEP_DEADLINE_MINUTES) else None


def providers_paused() -> list[ProviderPause]:
    """Providers no batch sends through for now (an answer may have been lost; see notifications.services)."""
    return list(ProviderPause.objects.order_by("provider"))
