"""The actions of the case page, each through its service (and the gate, for contacts); refusals come back as a
message on the page."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from collections_app.forms import (
    CallStartForm,
    DispositionForm,
    GraceForm,
    HoldForm,
    HoldLiftForm,
    NoteForm,
    PlanForm,
    PromiseForm,
    ReasonForm,
    RecordingHoldForm,
    SmsForm,
    VisitForm,
    VisitRecordForm,
)
from collections_app.models import CallResult, CollectionCase
from collections_app.selectors import (
    borrower_zone,
    case_get_for_user,
    collector_zone,
)
from collections_app.services import (
    USER_TRANSITIONS,
    CaseError,
    InvalidRequest,
    NotPermitted,
    call_log,
    call_start,
    case_transition,
    grace_extend,
    hold_lift,
    hold_place,
    note_add,
    plan_propose,
    promise_record,
    recording_hold,
    visit_record,
    visit_schedule,
)
from collections_app.views.case_page import visit_partners
from collections_app.views.common import form_errors, require_role
from core.web import SignedInRequest
from notifications.planning import message_plan
from notifications.services import collector_call_place
from notifications.tasks import dispatch_due

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _call_start(request: SignedInRequest, case: CollectionCase) -> str:
    form = CallStartForm(request.POST)
    if not form.is_valid():
        raise InvalidRequest(form_errors(form))
    started = call_start(case_id=case.pk, actor=request.user, to=form.cleaned_data["to"])
    decision, result = started.decision, started.result
    if not result.allowed:
        chinese = (get_language() or "").startswith("zh")
        why = "; ".join(r.message_zh if chinese else r.message for r in result.reasons)
        when = f" {_('Next allowed')}: {result.next_allowed_at:%Y-%m-%d %H:%M} UTC." if result.next_allowed_at else ""
        messages.warning(request, f"{_('Call not allowed now')}: {why}.{when}")
        return ""
    if started.call is not None:
        # Handed to the provider once the reservation is committed, never before (and never twice).
        call_id = started.call.pk
        transaction.on_commit(lambda: collector_call_place(call_id=call_id))
        ringing = _("Calling your phone: answer it and you are connected to %(to)s.") % {"to": decision.to}
        messages.success(request, ringing)
    else:
        messages.success(request, _("Call allowed: dial %(to)s, then record how it went.") % {"to": decision.to})
    return f"?call={decision.pk}#call"


def _call_log(request: SignedInRequest, case: CollectionCase) -> str:
    form = DispositionForm(request.POST, zone=collector_zone(request.user))
    if not form.is_valid():
        raise InvalidRequest(form_errors(form))
    data = form.cleaned_data
    disposition = call_log(case_id=case.pk, actor=request.user, decision_id=data["decision"], party=data["party"],
                           result=data["result"], note=data["note"], callback_at=data["callback_at"])  # fmt: skip
    if disposition.result == CallResult.PROMISE:
        messages.success(request, _("Call recorded. Now record the promise."))
        return "?promise=1#call"
    messages.success(request, _("Call recorded."))
    return ""


def _recording_hold(request: SignedInRequest, case: CollectionCase) -> str:
    form = RecordingHoldForm(request.POST)
    if not form.is_valid():
        raise InvalidRequest(form_errors(form))
    hold = form.cleaned_data["hold"]
    recording_hold(case_id=case.pk, actor=request.user, recording_id=form.cleaned_data["recording"], hold=hold)
    messages.success(request, _("Legal hold placed: the recording is kept.") if hold else _("Legal hold released."))
    return "#call"


def _simple(form_class: type[forms.Form], run: Callable[..., object], done: StrOrPromise) -> Callable[..., str]:
    def action(request: SignedInRequest, case: CollectionCase) -> str:
        form = form_class(request.POST)
        if not form.is_valid():
            raise InvalidRequest(form_errors(form))
        run(case_id=case.pk, actor=request.user, **form.cleaned_data)
        messages.success(request, done)
        return ""

    return action


def _hold_lift(request: SignedInRequest, case: CollectionCase) -> str:
    form = HoldLiftForm(request.POST)
    if not form.is_valid() or not case.holds.filter(pk=form.cleaned_data["hold"]).exists():
        raise InvalidRequest(form_errors(form) or "no such hold on this case")
    hold_lift(hold_id=form.cleaned_data["hold"], actor=request.user, reason=form.cleaned_data["reason"])
    messages.success(request, _("Hold lifted."))
    return ""


def _visit(request: SignedInRequest, case: CollectionCase) -> str:
    form = VisitForm(request.POST, zone=borrower_zone(case.borrower), partners=visit_partners(case, request))
    if not form.is_valid():
        raise InvalidRequest(form_errors(form))
    data = form.cleaned_data
    collectors = [request.user]
    if data["second_collector"]:
        collectors += list(get_user_model().objects.filter(username=data["second_collector"]))
    visit_schedule(case_id=case.pk, actor=request.user, address=data["address"], collectors=collectors,
                   window_start=data["window_start"], window_end=data["window_end"])  # fmt: skip
    messages.success(request, _("Visit scheduled."))
    return ""


def _visit_record(request: SignedInRequest, case: CollectionCase) -> str:
    form = VisitRecordForm(request.POST, zone=borrower_zone(case.borrower))
    if not form.is_valid() or not case.visits.filter(pk=form.cleaned_data["visit"]).exists():
        raise InvalidRequest(form_errors(form) or "no such visit on this case")
    data = form.cleaned_data
    visit_record(visit_id=data["visit"], actor=request.user, status=data["status"], outcome=data["outcome"],
                 visited_at=data["visited_at"])  # fmt: skip
    messages.success(request, _("Visit recorded."))
    return ""


def _sms(request: SignedInRequest, case: CollectionCase) -> str:
    form = SmsForm(request.POST)
    if not form.is_valid():
        raise InvalidRequest(form_errors(form))
    message_plan(case=case, channel="sms", purpose=form.cleaned_data["purpose"], actor=request.user)
    transaction.on_commit(lambda: dispatch_due.delay())  # out within seconds, through the gate like any message
    messages.success(request, _("SMS queued: the gate checks it when it is sent; see Messages below."))
    return ""


def _transition(name: str) -> Callable[..., str]:
    def action(request: SignedInRequest, case: CollectionCase) -> str:
        form = ReasonForm(request.POST)
        form.is_valid()
        case_transition(case_id=case.pk, name=name, actor=request.user, reason=form.cleaned_data.get("reason", ""),
                        close_reason=form.cleaned_data.get("close_reason", ""))  # fmt: skip
        messages.success(request, _("Done: %(name)s.") % {"name": name.replace("_", " ")})
        return ""

    return action


CASE_ACTIONS: dict[str, Callable[..., str]] = {
    "call-start": _call_start,
    "call-log": _call_log,
    "recording-hold": _recording_hold,
    "note": _simple(NoteForm, note_add, _("Note added.")),
    "promise": _simple(PromiseForm, promise_record, _("Promise recorded.")),
    "plan": _simple(PlanForm, plan_propose, _("Plan proposed.")),
    "hold": _simple(HoldForm, hold_place, _("Hold placed: automated contact stops.")),
    "hold-lift": _hold_lift,
    "visit": _visit,
    "visit-record": _visit_record,
    "grace": _simple(GraceForm, grace_extend, _("Hardship grace granted: no escalation and no automated reminders.")),
    "sms": _sms,
    **{f"transition-{name}": _transition(name) for name in USER_TRANSITIONS},
}


@require_POST
def case_action(request: SignedInRequest, case_id: int, action: str) -> HttpResponse:
    """Run one action on a case the user may see; domain refusals come back as a message on the case page."""
    require_role(request)
    case = case_get_for_user(user=request.user, case_id=case_id)
    handler = CASE_ACTIONS.get(action)
    if handler is None:
        raise Http404("No such action")
    suffix = ""
    try:
        with transaction.atomic():
            suffix = handler(request, case)
    except NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    except CaseError as exc:
        field = getattr(exc, "field", "")
        messages.error(request, f"{field}: {exc}" if field else str(exc))
    return redirect(reverse("case-detail", args=[case.pk]) + suffix)
