"""The managers' escalation review, as five lists that stay usable at any size: cases waiting for legal review, plans
waiting for approval, disputes not yet resolved, compliance exceptions (contacts no allowing decision covered) and
recent denials. Each list is
filtered (team, collector, days past due, amount, days waiting) and paginated by the view; each row carries its
evidence as annotations, so a page costs the same few queries whatever its rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from collections_app import uploads
from collections_app.models import (
    CaseTransition,
    CollectionCase,
    Complaint,
    ComplaintStatus,
    EvidencePack,
    Hold,
    HoldKind,
    PaymentPlan,
    PlanStatus,
    PromiseStatus,
    PromiseToPay,
)
from collections_app.selectors.access import cases_visible_to
from compliance.models import ContactEvent, Decision
from notifications.models import LEFT_STATUSES, InboundMessage, MessagePurpose, OutboundMessage

ESCALATION_PAGE_SIZE = 25

# The letters and messages of the formal-notice and legal stages that left (the evidence that notice was given).
NOTICE_PURPOSES = [MessagePurpose.FORMAL_NOTICE, MessagePurpose.LEGAL]


@dataclass(frozen=True)
class EscalationFilters:
    """What a manager narrows a list to; None: no limit. ``waiting_*`` are whole days in the queue (since legal
    review was requested, the plan proposed, the contact made or the contact denied)."""

    team: int | None = None
    collector: int | None = None
    dpd_min: int | None = None
    dpd_max: int | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    waiting_min: int | None = None
    waiting_max: int | None = None


def _cases_filtered(cases: QuerySet[Any], filters: EscalationFilters, prefix: str = "") -> QuerySet[Any]:
    """The case filters (team, collector, DPD, amount overdue) on cases, or on rows that reach a case by ``prefix``."""
    conditions: dict[str, Any] = {}
    if filters.team is not None:
        conditions[f"{prefix}team_id"] = filters.team
    if filters.collector is not None:
        conditions[f"{prefix}assigned_to_id"] = filters.collector
    if filters.dpd_min is not None:
        conditions[f"{prefix}days_past_due__gte"] = filters.dpd_min
    if filters.dpd_max is not None:
        conditions[f"{prefix}days_past_due__lte"] = filters.dpd_max
    if filters.amount_min is not None:
        conditions[f"{prefix}amount_overdue__gte"] = filters.amount_min
    if filters.amount_max is not None:
        conditions[f"{prefix}amount_overdue__lte"] = filters.amount_max
    return cases.filter(**conditions)


def _waiting(rows: QuerySet[Any], field: str, filters: EscalationFilters, *, dates: bool = False) -> QuerySet[Any]:
    """Rows waiting at least / at most so many whole days, counted from ``field`` (a date or an instant)."""
    start: Any = timezone.localdate() if dates else timezone.now()
    if filters.waiting_min is not None:
        rows = rows.filter(**{f"{field}__lte": start - dt.timedelta(days=filters.waiting_min)})
    if filters.waiting_max is not None:  # an instant: fewer than max + 1 whole days ago
        days = filters.waiting_max if dates else filters.waiting_max + 1
        rows = rows.filter(**{f"{field}__gte" if dates else f"{field}__gt": start - dt.timedelta(days=days)})
    return rows


def _count(rows: QuerySet[Any], key: str) -> Coalesce:
    """COUNT(*) of ``rows`` (already narrowed by an OuterRef on ``key``) as a scalar subquery, 0 when none."""
    counted = rows.order_by().values(key).annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _with_evidence(rows: QuerySet[Any], *, case: str, borrower: str) -> QuerySet[Any]:
    """Annotate each row with its case's evidence: notices that left and the last one, contacts and the last one,
    promises broken, contacts no decision covered. ``case`` / ``borrower``: how a row names its case and borrower."""
    notices = OutboundMessage.objects.filter(
        case_id=OuterRef(case), purpose__in=NOTICE_PURPOSES, status__in=LEFT_STATUSES
    )
    contacts = ContactEvent.objects.filter(borrower_id=OuterRef(borrower))
    broken = PromiseToPay.objects.filter(case_id=OuterRef(case), status=PromiseStatus.BROKEN)
    last_notice = notices.order_by().values("case_id").annotate(t=Max(Coalesce("sent_at", "planned_for"))).values("t")
    return rows.annotate(
        notices_sent=_count(notices, "case_id"),
        last_notice_at=Subquery(last_notice[:1]),
        contacts=_count(contacts, "borrower_id"),
        last_contact=Subquery(contacts.order_by("-at").values("at")[:1]),
        promises_broken=_count(broken, "case_id"),
        exception_count=_count(contacts.filter(is_exception=True), "borrower_id"),
    )


def legal_review_rows(*, user: Any, filters: EscalationFilters) -> QuerySet[CollectionCase]:
    """Cases waiting for a manager's legal decision, the largest amounts first."""
    cases = _cases_filtered(cases_visible_to(user).filter(state="legal_review"), filters)
    return _waiting(cases, "stage_entered_on", filters, dates=True).order_by("-amount_overdue", "id")


def _legal_review_shown(cases: QuerySet[CollectionCase], user: Any) -> QuerySet[CollectionCase]:
    """A page of legal review: each case's evidence, and who asked for legal review, why and when."""
    requests = CaseTransition.objects.filter(case_id=OuterRef("pk"), transition="request_legal").order_by("-at")
    packs = EvidencePack.objects.filter(case_id=OuterRef("pk")).order_by("-version")
    return (
        _with_evidence(cases, case="pk", borrower="borrower_id")
        .annotate(
            requested_because=Subquery(requests.values("reason")[:1]),
            requested_by=Subquery(requests.values("actor_label")[:1]),
            requested_at=Subquery(requests.values("at")[:1]),
            pack_version=Subquery(packs.values("version")[:1]),
        )
        .select_related("borrower", "loan", "assigned_to", "team")
    )


def in_legal_rows(*, user: Any, filters: EscalationFilters) -> QuerySet[CollectionCase]:
    """Cases handed to legal, the most recent first: each one's evidence pack to download or build (issue 16.5)."""
    cases = _cases_filtered(cases_visible_to(user).filter(state="legal"), filters)
    return _waiting(cases, "stage_entered_on", filters, dates=True).order_by("-stage_entered_on", "-id")


def _in_legal_shown(cases: QuerySet[CollectionCase], user: Any) -> QuerySet[CollectionCase]:
    """A page of cases in legal: each case's evidence and its latest evidence pack (version, when, SHA-256)."""
    latest = EvidencePack.objects.filter(case_id=OuterRef("pk")).order_by("-version")
    return (
        _with_evidence(cases, case="pk", borrower="borrower_id")
        .annotate(
            pack_version=Subquery(latest.values("version")[:1]),
            pack_built_at=Subquery(latest.values("created_at")[:1]),
            pack_sha256=Subquery(latest.values("sha256")[:1]),
        )
        .select_related("borrower", "loan", "assigned_to", "team")
    )


def evidence_pack_of_case(*, case_id: int, version: int | None = None) -> EvidencePack | None:
    """The case's latest evidence pack, or the given version of it (None when there is none)."""
    packs = EvidencePack.objects.filter(case_id=case_id)
    if version is not None:
        return packs.filter(version=version).first()
    return packs.order_by("-version").first()


def plans_waiting_rows(*, user: Any, filters: EscalationFilters) -> QuerySet[PaymentPlan]:
    """Plans outside the installment policy waiting for a manager, the oldest first."""
    plans = PaymentPlan.objects.filter(status=PlanStatus.PENDING_APPROVAL, case__in=cases_visible_to(user))
    plans = _waiting(_cases_filtered(plans, filters, prefix="case__"), "created_at", filters)
    return plans.order_by("created_at", "id")


def _plans_shown(plans: QuerySet[PaymentPlan], user: Any) -> QuerySet[PaymentPlan]:
    """A page of plans: each plan's case evidence (its stored breaches are a field of the plan)."""
    plans = _with_evidence(plans, case="case_id", borrower="case__borrower_id")
    return plans.select_related("case__borrower", "case__loan", "case__assigned_to", "proposed_by", "policy")


# A dispute whose verification was mailed stays on the list this long, at its last stage (its hold lifted by then).
MAILED_SHOWN_DAYS = 30


def dispute_rows(*, user: Any, filters: EscalationFilters) -> QuerySet[Hold]:
    """Disputes in force (a dispute hold not lifted: the gate stops collecting the debt until verification is sent),
    whoever recorded them — a collector after a call, the borrower on their own page, staff from a letter, the API —
    and those whose verification was mailed in the last ``MAILED_SHOWN_DAYS`` days (the workflow's last stage), the
    oldest first."""
    recently_mailed = Q(dispute__mailed_at__gte=timezone.now() - dt.timedelta(days=MAILED_SHOWN_DAYS))
    holds = Hold.objects.filter(
        Q(lifted_at__isnull=True) | recently_mailed, kind=HoldKind.DISPUTE, case__in=cases_visible_to(user)
    )
    holds = _waiting(_cases_filtered(holds, filters, prefix="case__"), "placed_at", filters)
    return holds.order_by("placed_at", "id")


def _disputes_shown(holds: QuerySet[Hold], user: Any) -> QuerySet[Hold]:
    """A page of disputes: each one's case evidence, who recorded it, whether a document came with it, and where its
    workflow stands (age, stage, within the validation period or not)."""
    holds = _with_evidence(holds, case="case_id", borrower="case__borrower_id").annotate(
        uploaded=ExpressionWrapper(Q(document_ref__startswith=uploads.PREFIX), output_field=BooleanField())
    )
    # The dispute's workflow (received, verification prepared, mailed; DSP-01's validation-period flag) in the join.
    return holds.select_related("case__borrower", "case__loan", "case__assigned_to", "placed_by", "dispute")


def _borrowers_of(user: Any, filters: EscalationFilters) -> QuerySet[Any]:
    return _cases_filtered(cases_visible_to(user), filters).values("borrower_id")


def _their_case(user: Any) -> Subquery:
    """The borrower's latest case the user may see (the link a row about a borrower opens)."""
    cases = cases_visible_to(user).filter(borrower_id=OuterRef("borrower_id")).order_by("-opened_at", "-id")
    return Subquery(cases.values("pk")[:1])


def exception_rows(*, user: Any, filters: EscalationFilters) -> QuerySet[ContactEvent]:
    """Contacts no allowing decision covered (``is_exception``), the newest first, for borrowers of the user's cases."""
    events = ContactEvent.objects.filter(is_exception=True, borrower_id__in=_borrowers_of(user, filters))
    return _waiting(events, "at", filters).order_by("-at", "-id")


def denial_rows(*, user: Any, filters: EscalationFilters) -> QuerySet[Decision]:
    """Contacts the gate refused (not the dry runs of a page, and not the deferrals, which only said "not yet"), the
    newest first."""
    decisions = Decision.objects.filter(allowed=False, dry_run=False, borrower_id__in=_borrowers_of(user, filters))
    return _waiting(decisions.exclude(outcome="defer"), "created_at", filters).order_by("-created_at", "-id")


def _about_a_borrower_shown(rows: QuerySet[Any], user: Any) -> QuerySet[Any]:
    """A page of contacts or decisions: the borrower, who made it, and the case a row links to."""
    related = ["borrower", "actor"] if rows.model is ContactEvent else ["borrower"]
    return rows.select_related(*related).annotate(case_id=_their_case(user))


def complaint_rows(*, user: Any, filters: EscalationFilters) -> QuerySet[Complaint]:
    """Complaints still owed an answer (CMP-01), the soonest due first: the acknowledgement date until a manager
    acknowledges, then the final response date."""
    rows: QuerySet[Complaint] = Complaint.objects.pending().filter(case__in=cases_visible_to(user))
    rows = _waiting(_cases_filtered(rows, filters, prefix="case__"), "received_at", filters)
    due = Case(
        When(status=ComplaintStatus.ACKNOWLEDGED, then=F("final_by")),
        default=F("acknowledge_by"),
        output_field=DateField(),
    )
    return rows.annotate(due=due).order_by("due", "id")


def _complaints_shown(rows: QuerySet[Complaint], user: Any) -> QuerySet[Complaint]:
    """A page of complaints: the case, the collector involved, who recorded it, whether a document answers it."""
    due = Case(
        When(status=ComplaintStatus.ACKNOWLEDGED, then=F("final_by")),
        default=F("acknowledge_by"),
        output_field=DateField(),
    )
    return rows.annotate(due=due).select_related("case__borrower", "case__loan", "collector", "recorded_by")


def possible_complaints(*, user: Any, filters: EscalationFilters, limit: int = ESCALATION_PAGE_SIZE) -> dict[str, Any]:
    """Texts the classifier flagged as possible complaints that nobody has confirmed or dismissed, from borrowers
    whose cases the user sees: the oldest first (``limit`` of them) and their count."""
    decided = Complaint.objects.filter(inbound_message_id__isnull=False).values("inbound_message_id")
    rows = InboundMessage.objects.filter(possible_complaint=True, borrower_id__in=_borrowers_of(user, filters)).exclude(
        pk__in=decided
    )
    rows = _waiting(rows, "received_at", filters)
    return {
        "count": rows.count(),
        "rows": list(rows.select_related("borrower").order_by("received_at", "id")[:limit]),
    }


# kind: (the rows in their order, filtered; what a page of them shows, read for that page's rows only)
ESCALATION_LISTS: dict[str, tuple[Callable[..., QuerySet[Any]], Callable[[QuerySet[Any], Any], QuerySet[Any]]]] = {
    "legal": (legal_review_rows, _legal_review_shown),
    "in_legal": (in_legal_rows, _in_legal_shown),
    "plans": (plans_waiting_rows, _plans_shown),
    "disputes": (dispute_rows, _disputes_shown),
    "exceptions": (exception_rows, _about_a_borrower_shown),
    "denials": (denial_rows, _about_a_borrower_shown),
    "complaints": (complaint_rows, _complaints_shown),
}


def escalation_page(kind: str, *, user: Any, filters: EscalationFilters, number: Any) -> Page[Any]:
    """One page of a list, in three queries whatever its size: the count, the page's ids in order (a top-N sort on
    the list's own columns), then those rows with their evidence — the evidence's subqueries run for the page's 25
    rows, never for every row the sort looks at."""
    rows, shown = ESCALATION_LISTS[kind]
    ordered = rows(user=user, filters=filters)
    page = Paginator(ordered.values_list("pk", flat=True), ESCALATION_PAGE_SIZE).get_page(number)
    ids = list(page.object_list)
    found = {row.pk: row for row in shown(ordered.model.objects.filter(pk__in=ids), user)}
    page.object_list = [found[pk] for pk in ids if pk in found]
    return page
