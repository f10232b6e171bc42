"""Managers: the escalation queue, decisions on legal review and on plans waiting for approval."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from collections_app.models import PaymentPlan
from collections_app.selectors import (
    cases_visible_to,
    collectors_for,
    escalation_queue,
)
from collections_app.services import (
    CaseError,
    NotPermitted,
    case_transition,
    plan_decide,
)
from collections_app.views.common import bad_parameters_are_400, require_role, selected_cases, text_param
from core.roles import ADMIN, MANAGER
from core.web import SignedInRequest


# ---------------------------------------------------------------------------------------------------------------
# Managers: the escalation queue, plans to approve, reassignment, compliance denials and exceptions
# ---------------------------------------------------------------------------------------------------------------
@require_GET
def escalations(request: SignedInRequest) -> HttpResponse:
    require_role(request, MANAGER, ADMIN)
    context = escalation_queue(user=request.user)
    context["collectors"] = collectors_for(user=request.user)
    return render(request, "collections_app/escalations.html", context)


@require_POST
@bad_parameters_are_400
def escalations_decide(request: SignedInRequest) -> HttpResponse:
    """Approve or reject legal escalation for the checked cases, one transaction each, with one reason."""
    require_role(request, MANAGER, ADMIN)
    decision = request.POST.get("decision")
    if decision not in ("approve_legal", "reject_legal"):
        messages.error(request, _("Choose approve or reject."))
        return redirect("escalations")
    reason, done, refused = text_param("reason", request.POST.get("reason", "")).strip(), 0, []
    for case_id in selected_cases(request):
        try:
            case_transition(case_id=case_id, name=decision, actor=request.user, reason=reason)
            done += 1
        except NotPermitted as exc:
            raise PermissionDenied(str(exc)) from exc
        except CaseError as exc:
            refused.append(f"#{case_id}: {exc}")
    if done:
        messages.success(request, _("%(n)d case(s) done.") % {"n": done})
    if refused:
        messages.error(request, "; ".join(refused))
    if not done and not refused:
        messages.warning(request, _("No case was selected."))
    return redirect("escalations")


@require_POST
@bad_parameters_are_400
def plan_decision(request: SignedInRequest, plan_id: int) -> HttpResponse:
    require_role(request, MANAGER, ADMIN)
    plan = get_object_or_404(PaymentPlan, pk=plan_id, case__in=cases_visible_to(request.user))
    reason = text_param("reason", request.POST.get("reason", ""))
    try:
        plan_decide(plan_id=plan.pk, actor=request.user, approve=request.POST.get("approve") == "1",
                    reason=reason)  # fmt: skip
        messages.success(request, _("Plan decided."))
    except NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    except CaseError as exc:
        messages.error(request, str(exc))
    return redirect("escalations")
