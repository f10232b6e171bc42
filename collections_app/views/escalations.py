"""Managers: the escalation review as five paginated, filterable lists (legal review, plans waiting for approval,
disputes, compliance exceptions, recent denials) and a dispute's document; decisions on legal review (with a reason,
confirmed on a page that names the count) and on plans waiting for approval (with a reason)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from collections_app import uploads
from collections_app.escalation_forms import (
    ComplaintConfirmForm,
    ComplaintResolveForm,
    EscalationFilterForm,
    LegalDecisionForm,
    PlanDecisionForm,
)
from collections_app.labels import plan_breaches_label
from collections_app.models import (
    CaseState,
    Complaint,
    ComplaintCategory,
    ComplaintOutcome,
    Hold,
    HoldKind,
    PaymentPlan,
)
from collections_app.selectors import (
    cases_visible_to,
    collectors_for,
    escalation_page,
    possible_complaints,
    teams_for,
)
from collections_app.services import CaseError, NotPermitted, case_transition, plan_decide
from collections_app.services.complaints import (
    complaint_acknowledge,
    complaint_confirm,
    complaint_dismiss,
    complaint_resolve,
)
from collections_app.views.common import (
    bad_parameters_are_400,
    form_errors,
    require_role,
    selected_cases,
    text_param,
)
from core.roles import ADMIN, MANAGER
from core.web import SignedInRequest

# The lists, in the order of their tabs: (kind, URL name, title).
TABS = [
    ("legal", "escalations", _("Legal review")),
    ("in_legal", "escalations-legal", _("In legal")),
    ("plans", "escalations-plans", _("Plans waiting for approval")),
    ("disputes", "escalations-disputes", _("Disputes")),
    ("exceptions", "escalations-exceptions", _("Compliance exceptions")),
    ("denials", "escalations-denials", _("Recent denials")),
    ("complaints", "escalations-complaints", _("Complaints")),
]
URL_NAMES = {kind: name for kind, name, _title in TABS}
FILTER_FIELDS = list(EscalationFilterForm.base_fields)


def _filter_form(request: SignedInRequest) -> EscalationFilterForm:
    teams = [(t.pk, t.name) for t in teams_for(user=request.user)]
    collectors = [(u.pk, u.get_full_name() or u.get_username()) for u in collectors_for(user=request.user)]
    data = {k: v for k, v in request.GET.items() if k in FILTER_FIELDS}
    return EscalationFilterForm(data or None, teams=teams, collectors=collectors)


def _filters_typed(request: SignedInRequest) -> dict[str, str]:
    """The list's filters as given (kept across a decision: the manager comes back to the list they filtered)."""
    return {k: str(v) for k, v in request.GET.items() if k in FILTER_FIELDS and v}


def _list_url(kind: str, query: dict[str, str]) -> str:
    return reverse(URL_NAMES[kind]) + (f"?{urlencode(query)}" if query else "")


def _render_list(
    request: SignedInRequest,
    kind: str,
    *,
    decision: LegalDecisionForm | None = None,
    checked: frozenset[int] = frozenset(),
) -> HttpResponse:
    """One list: its filters (errors beside the fields, as typed), one page of rows with their evidence. htmx
    requests (a filter changed, another page) get the list alone."""
    require_role(request, MANAGER, ADMIN)
    form = _filter_form(request)
    page = escalation_page(kind, user=request.user, filters=form.filters(), number=request.GET.get("page"))
    query = form.query()
    context: dict[str, Any] = {
        "kind": kind,
        "tabs": [(k, reverse(name), title) for k, name, title in TABS],
        "list_url": reverse(URL_NAMES[kind]),
        "form": form,
        "page": page,
        "query": urlencode(query),
        "decision": decision or LegalDecisionForm(),
        "checked": checked,
        "list_template": f"collections_app/escalations/_{kind}.html",
    }
    if kind == "complaints":
        context["today"] = timezone.localdate()
        context["possible"] = possible_complaints(user=request.user, filters=form.filters())
        context["categories"] = ComplaintCategory.choices
        context["outcomes"] = ComplaintOutcome.choices
    template = "collections_app/escalations/_list.html" if request.htmx else "collections_app/escalations.html"
    return render(request, template, context)


@require_GET
@bad_parameters_are_400
def legal_review(request: SignedInRequest) -> HttpResponse:
    return _render_list(request, "legal")


@require_GET
@bad_parameters_are_400
def in_legal(request: SignedInRequest) -> HttpResponse:
    """Cases handed to legal, with their evidence packs to download or build."""
    return _render_list(request, "in_legal")


@require_GET
@bad_parameters_are_400
def plans_waiting(request: SignedInRequest) -> HttpResponse:
    return _render_list(request, "plans")


@require_GET
@bad_parameters_are_400
def disputes(request: SignedInRequest) -> HttpResponse:
    return _render_list(request, "disputes")


@require_GET
def dispute_document(request: SignedInRequest, hold_id: int) -> FileResponse:
    """The document a borrower sent with a dispute, to a manager or admin who may see the case: a download (never
    shown inline, never cached), kept outside every served folder (``uploads``)."""
    require_role(request, MANAGER, ADMIN)
    hold = get_object_or_404(Hold, pk=hold_id, kind=HoldKind.DISPUTE, case__in=cases_visible_to(request.user))
    return _private_download(hold.document_ref, f"dispute-{hold.case_id}-{hold.pk}")


def _private_download(ref: str, name: str) -> FileResponse:
    """A stored upload (``uploads``) as a download named ``name`` plus its type: never shown inline, never cached."""
    path = uploads.path_of(ref)
    if path is None:
        raise Http404("no document")
    kind = path.suffix.removeprefix(".")
    response = FileResponse(path.open("rb"), as_attachment=True, filename=f"{name}.{kind}",
                            content_type=uploads.CONTENT_TYPES.get(kind, "application/octet-stream"))  # fmt: skip
    add_never_cache_headers(response)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@bad_parameters_are_400
def compliance_exceptions(request: SignedInRequest) -> HttpResponse:
    return _render_list(request, "exceptions")


@require_GET
@bad_parameters_are_400
def recent_denials(request: SignedInRequest) -> HttpResponse:
    return _render_list(request, "denials")


@require_POST
@bad_parameters_are_400
def escalations_decide(request: SignedInRequest) -> HttpResponse:
    """Approve or reject legal escalation for the checked cases, with one reason that each case's history keeps.

    Three steps: the list's form (a reason is required, and at least one case); a page that names the count and the
    cases ("Approve 3 cases?"), writing nothing; then, confirmed, one transaction per case."""
    require_role(request, MANAGER, ADMIN)
    text_param("reason", request.POST.get("reason", ""))  # a NUL is a malformed request (400), not a form error
    form = LegalDecisionForm(request.POST)
    ids = selected_cases(request)
    query = _filters_typed(request)
    confirmed = request.POST.get("confirmed") == "1"
    if not ids:
        form.add_error(None, _("Check at least one case."))
    if not form.is_valid():
        if confirmed:  # the confirmation page always sends both: the cases are no longer the caller's to decide
            messages.warning(request, form_errors(form))
            return redirect(_list_url("legal", query))
        return _render_list(request, "legal", decision=form, checked=frozenset(ids))
    decision, reason = form.cleaned_data["decision"], form.cleaned_data["reason"].strip()
    cases = list(
        cases_visible_to(request.user)
        .filter(pk__in=ids)
        .select_related("borrower", "loan")
        .order_by("-amount_overdue", "id")
    )
    if not confirmed:
        waiting = [case for case in cases if case.state == CaseState.LEGAL_REVIEW]
        if not waiting:  # decided by someone else since the list was read
            form.add_error(None, _("None of the checked cases waits for legal review any more."))
            return _render_list(request, "legal", decision=form)
        context = {
            "cases": waiting,
            "decision": decision,
            "reason": reason,
            "back": _list_url("legal", query),
            "query": urlencode(query),
        }
        return render(request, "collections_app/escalations_confirm.html", context)
    done, refused = 0, []
    for case in cases:
        try:
            case_transition(case_id=case.pk, name=decision, actor=request.user, reason=reason)
            done += 1
        except NotPermitted as exc:
            raise PermissionDenied(str(exc)) from exc
        except CaseError as exc:
            refused.append(f"{case.borrower.full_name} ({case.loan.external_id}): {exc}")
    if done:
        text = (
            ngettext("%(n)d case approved for legal action.", "%(n)d cases approved for legal action.", done)
            if decision == "approve_legal"
            else ngettext("%(n)d case sent back to formal notice.", "%(n)d cases sent back to formal notice.", done)
        )
        messages.success(request, text % {"n": done})
    if refused:
        messages.error(request, "; ".join(refused))
    return redirect(_list_url("legal", query))


@require_POST
@bad_parameters_are_400
def plan_decision(request: SignedInRequest, plan_id: int) -> HttpResponse:
    """Approve (the plan starts) or reject one plan waiting for approval, with a reason the case's history keeps."""
    require_role(request, MANAGER, ADMIN)
    plan = get_object_or_404(PaymentPlan, pk=plan_id, case__in=cases_visible_to(request.user))
    query = _filters_typed(request)
    text_param("reason", request.POST.get("reason", ""))
    form = PlanDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return redirect(_list_url("plans", query))
    approve = form.cleaned_data["approve"]
    try:
        plan_decide(plan_id=plan.pk, actor=request.user, approve=approve, reason=form.cleaned_data["reason"])
    except NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    except CaseError as exc:
        messages.error(request, str(exc))
        return redirect(_list_url("plans", query))
    who = plan.case.borrower.full_name
    if approve:
        messages.success(request, _("%(who)s's plan is approved and has started.") % {"who": who})
    else:
        messages.success(
            request,
            _("%(who)s's plan is rejected (%(breaches)s).")
            % {"who": who, "breaches": plan_breaches_label(plan.outside_policy)},
        )
    return redirect(_list_url("plans", query))


# ---------------------------------------------------------------------------------------------------------------
# Complaints (CMP-01)
# ---------------------------------------------------------------------------------------------------------------
@require_GET
@bad_parameters_are_400
def complaints(request: SignedInRequest) -> HttpResponse:
    return _render_list(request, "complaints")


def _complaint_for(request: SignedInRequest, complaint_id: int) -> Complaint:
    require_role(request, MANAGER, ADMIN)
    return get_object_or_404(Complaint, pk=complaint_id, case__in=cases_visible_to(request.user))


def _back_to_complaints(request: SignedInRequest) -> HttpResponse:
    return redirect(_list_url("complaints", _filters_typed(request)))


@require_POST
@bad_parameters_are_400
def complaint_acknowledged(request: SignedInRequest, complaint_id: int) -> HttpResponse:
    """A manager acknowledges a complaint: automated contact about the debt resumes."""
    complaint = _complaint_for(request, complaint_id)
    try:
        complaint_acknowledge(complaint_id=complaint.pk, actor=request.user)
        messages.success(request, _("Complaint acknowledged: automated contact may resume."))
    except CaseError as exc:
        messages.error(request, str(exc))
    return _back_to_complaints(request)


@require_POST
@bad_parameters_are_400
def complaint_resolved(request: SignedInRequest, complaint_id: int) -> HttpResponse:
    """A manager closes a complaint with the outcome and the response sent (text, or a document kept privately)."""
    complaint = _complaint_for(request, complaint_id)
    text_param("response_text", request.POST.get("response_text", ""))
    form = ComplaintResolveForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return _back_to_complaints(request)
    document = form.cleaned_data.get("document")
    ref = uploads.store(case_id=complaint.case_id, upload=document, kind=document.kind) if document else ""
    try:
        complaint_resolve(
            complaint_id=complaint.pk,
            actor=request.user,
            outcome=form.cleaned_data["outcome"],
            response_text=form.cleaned_data["response_text"],
            response_ref=ref,
        )
        messages.success(request, _("Complaint resolved."))
    except CaseError as exc:
        uploads.remove(ref)
        messages.error(request, str(exc))
    return _back_to_complaints(request)


@require_GET
def complaint_document(request: SignedInRequest, complaint_id: int) -> FileResponse:
    """The response document of a complaint: a download, never cached, kept outside every served folder."""
    complaint = _complaint_for(request, complaint_id)
    return _private_download(complaint.response_ref, f"complaint-{complaint.pk}")


@require_POST
@bad_parameters_are_400
def possible_complaint_decided(request: SignedInRequest, message_id: int) -> HttpResponse:
    """Confirm (with its category) or dismiss a text the classifier flagged as a possible complaint."""
    require_role(request, MANAGER, ADMIN)
    visible = possible_complaints(user=request.user, filters=EscalationFilterForm(teams=[], collectors=[]).filters(),
                                  limit=10_000)  # fmt: skip
    if message_id not in {m.pk for m in visible["rows"]}:
        raise Http404("no such message waits")
    try:
        if request.POST.get("decision") == "dismiss":
            complaint_dismiss(inbound_message_id=message_id, actor=request.user)
            messages.success(request, _("Marked as not a complaint."))
        else:
            form = ComplaintConfirmForm(request.POST)
            if not form.is_valid():
                messages.error(request, form_errors(form))
                return _back_to_complaints(request)
            complaint_confirm(inbound_message_id=message_id, actor=request.user, category=form.cleaned_data["category"])
            messages.success(request, _("Complaint recorded; its clocks started when the text came in."))
    except CaseError as exc:
        messages.error(request, str(exc))
    return _back_to_complaints(request)
