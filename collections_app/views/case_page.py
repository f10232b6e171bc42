"""One case: the page and its live SMS preview."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from collections_app.forms import (
    ComplaintForm,
    DispositionForm,
    DisputeForm,
    ForbearanceForm,
    GraceForm,
    HoldForm,
    NoteForm,
    PlanForm,
    PromiseForm,
    ReasonForm,
    SmsForm,
    VisitForm,
    VisitRecordForm,
)
from collections_app.models import (
    BreathingSpaceType,
    CaseState,
    CollectionCase,
    InstallmentPolicy,
    PlanStatus,
    VisitStatus,
)
from collections_app.selectors import (
    borrower_zone,
    case_get_for_user,
    case_page,
    evidence_pack_of_case,
    notice_clocks,
    promise_partners,
    reader_zone,
)
from collections_app.services import (
    available_transitions,
    case_address,
    policy_current,
    team_collectors,
)
from collections_app.views.calls import call_card
from collections_app.views.common import bad_parameters_are_400, require_role
from collections_app.views.vulnerability import vulnerability_context
from compliance.services import restriction_may_lift
from core.roles import ADMIN, MANAGER, user_role
from core.web import SignedInRequest
from loans.services import product_today
from notifications.models import MessagePurpose
from notifications.selectors import documents_of_case
from notifications.services import message_preview
from notifications.templating import sms_segments


@require_GET
@bad_parameters_are_400
def case_detail(request: SignedInRequest, case_id: int) -> HttpResponse:
    """One case: borrower, loan, timeline, messages, and per channel whether a contact is allowed now."""
    require_role(request)
    return case_page_response(request, case_get_for_user(user=request.user, case_id=case_id))


def case_page_response(
    request: SignedInRequest, case: CollectionCase, bound: dict[str, Any] | None = None
) -> HttpResponse:
    """The case page; ``bound``: forms that came back with errors, shown as typed in place of the empty ones."""
    chinese = (get_language() or "").startswith("zh")
    context = case_page(case=case, now=timezone.now(), chinese=chinese, reader=request.user)
    context["transitions"] = available_transitions(case, request.user)
    for hold in context["active_holds"]:
        hold.may_lift = restriction_may_lift(kind=hold.kind, actor=request.user)
        # BS-01: a crisis breathing space's treatment end, given or changed later by those who may lift it.
        details = (hold.restriction.details or {}) if hold.restriction_id and hold.restriction else {}
        hold.crisis = details.get("type") == BreathingSpaceType.MENTAL_HEALTH_CRISIS
        hold.treatment_ends_on = details.get("treatment_ends_on") or ""
    disposition = (bound or {}).get("disposition")
    context.update(call_card(request, case, bound=disposition if isinstance(disposition, DispositionForm) else None))
    context["plan_policy"] = policy_current(InstallmentPolicy, case.loan.product_id)
    context["waiting_plan"] = (
        case.plans.filter(status=PlanStatus.PENDING_APPROVAL).select_related("proposed_by").first()
    )
    zone = borrower_zone(case.borrower)
    record = VisitRecordForm(zone=zone)
    partners = promise_partners(case=case, user=request.user)
    context["forms"] = {
        "note": NoteForm(),
        "promise": PromiseForm(others=partners),
        "plan": PlanForm(others=partners),
        "hold": HoldForm(),
        "dispute": DisputeForm(prefix="dispute"),
        "forbearance": ForbearanceForm(),
        "visit": VisitForm(initial={"address": case_address(case)}, zone=zone, partners=visit_partners(case, request)),
        "visit_record": record,
        "grace": GraceForm(),
        "sms": SmsForm(initial={"purpose": stage_purpose(case)}),
        "reason": ReasonForm(),
        "complaint": ComplaintForm(zone=reader_zone(request.user), prefix="complaint"),
        **(bound or {}),
    }
    context["scheduled_visits"] = [
        (visit, VisitRecordForm(initial={"visit": visit.pk, "visited_at": record.local(timezone.now())}, zone=zone))
        for visit in case.visits.filter(status=VisitStatus.SCHEDULED).prefetch_related("collectors").order_by("pk")
    ]
    context["zone"] = zone
    # The actions say what the panel says: a contact the gate denies now is offered disabled, with why and when.
    answers = {answer.channel: answer for answer in context["panel"]}
    context["call_denied"] = None if answers["call"].allowed else answers["call"]
    context["sms_denied"] = None if answers["sms"].allowed else answers["sms"]
    context["grace_used"] = case.transitions.filter(transition="extend_grace").exists()
    context["documents"] = documents_of_case(case_id=case.pk)
    context["notice_clocks"] = notice_clocks(case, product_today(case.loan.product), context["profiles"])
    # The legal evidence pack (issue 16.5): managers and admins only (one query for them, none for collectors).
    context["evidence_pack_allowed"] = user_role(request.user) in (MANAGER, ADMIN)
    if context["evidence_pack_allowed"]:
        context["evidence_pack"] = evidence_pack_of_case(case_id=case.pk)
    context.update(
        vulnerability_context(request, borrower_id=case.borrower_id, where=f"case:{case.pk}", case=case, bound=bound)
    )
    # UK-02: a vulnerable borrower under UK_CONC is offered forbearance first (shown at the top of the actions).
    context["forbearance_first"] = bool(
        context["vulnerability"] is not None and "UK_CONC" in context["profile_codes"] and not context["forbearances"]
    )
    return render(request, "collections_app/case_detail.html", context)


# The SMS a case's stage calls for, the one the picker offers first (never "pre-due" on a case long past due).
STAGE_PURPOSES = {
    CaseState.REMINDER: MessagePurpose.REMINDER,
    CaseState.FORMAL_NOTICE: MessagePurpose.FORMAL_NOTICE,
    CaseState.LEGAL_REVIEW: MessagePurpose.FORMAL_NOTICE,
    CaseState.LEGAL: MessagePurpose.LEGAL,
    CaseState.PROMISE_TO_PAY: MessagePurpose.PROMISE_REMINDER,
    CaseState.PAYMENT_PLAN: MessagePurpose.PLAN_REMINDER,
}


def stage_purpose(case: CollectionCase) -> str:
    """The SMS template for the case's stage (on hold: the stage it returns to); pre-due only before the due date."""
    if case.days_past_due == 0 and case.state == CaseState.REMINDER:
        return MessagePurpose.PRE_DUE
    state = case.return_state if case.state == CaseState.ON_HOLD and case.return_state else case.state
    return STAGE_PURPOSES.get(CaseState(state), MessagePurpose.REMINDER)


def visit_partners(case: CollectionCase, request: SignedInRequest) -> list[tuple[str, str]]:
    """The other collectors of the case's team, who may go on a visit with the user."""
    return [(u.get_username(), u.get_full_name() or u.get_username())
            for u in team_collectors(case.team_id).exclude(pk=request.user.pk)]  # fmt: skip


@require_GET
def sms_preview(request: SignedInRequest, case_id: int) -> HttpResponse:
    """htmx: the SMS the chosen template gives for this borrower, with its length in SMS parts."""
    require_role(request)
    case = case_get_for_user(user=request.user, case_id=case_id)
    purpose = request.GET.get("purpose", "")
    text = message_preview(case=case, channel="sms", purpose=purpose) if purpose in MessagePurpose.values else ""
    parts = sms_segments(text) if text else None
    return render(request, "collections_app/_sms_preview.html", {"text": text, "parts": parts})
