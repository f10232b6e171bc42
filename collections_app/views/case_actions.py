"""The actions of the case page, each through its service (and the gate, for contacts); refusals come back as a
message on the page."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from collections_app.forms import (
    BreathingSpaceTreatmentForm,
    CallStartForm,
    ComplaintForm,
    DispositionForm,
    DisputeForm,
    DisputeVerificationForm,
    ForbearanceForm,
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
from collections_app.labels import plan_breaches_label, transition_label
from collections_app.models import CallResult, CollectionCase, PaymentPlan, PlanStatus
from collections_app.selectors import (
    borrower_zone,
    case_get_for_user,
    promise_partners,
    reader_zone,
)
from collections_app.services import (
    USER_TRANSITIONS,
    CaseError,
    DisputeTerms,
    InvalidRequest,
    NotPermitted,
    breathing_space_treatment_end,
    call_log,
    call_start,
    case_transition,
    dispute_record,
    dispute_verification_prepare,
    forbearance_record,
    formal_notice_resend,
    grace_extend,
    hold_lift,
    hold_place,
    note_add,
    plan_propose,
    plan_propose_several,
    promise_record,
    promise_record_several,
    recording_hold,
    visit_record,
    visit_schedule,
)
from collections_app.services.complaints import complaint_record
from collections_app.views.case_page import case_page_response, visit_partners
from collections_app.views.common import form_errors, require_role
from collections_app.views.vulnerability import collector_choices
from collections_app.vulnerability_forms import VulnerabilityEndForm, VulnerabilityForm
from compliance.services import VulnerabilityInvalid, vulnerability_end, vulnerability_record
from core.templatetags.when import when as shown_when
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
        when = f" {_('Next allowed')}: {shown_when(result.next_allowed_at)}." if result.next_allowed_at else ""
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
    form = DispositionForm(request.POST, zone=reader_zone(request.user), auto_id="call_%s")
    if not form.is_valid():
        raise FormRejected("disposition", form)
    data = form.cleaned_data
    try:
        disposition = call_log(case_id=case.pk, actor=request.user, decision_id=data["decision"], party=data["party"],
                               result=data["result"], note=data["note"], callback_at=data["callback_at"])  # fmt: skip
    except InvalidRequest as exc:
        form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        raise FormRejected("disposition", form) from exc
    promised = disposition.result == CallResult.PROMISE and data["promise_amount"] and data["promise_on"]
    if promised:
        try:
            promise_record(case_id=case.pk, actor=request.user, amount=data["promise_amount"],
                           promised_on=data["promise_on"], note=data["note"])  # fmt: skip
        except InvalidRequest as exc:  # nothing is kept: the disposition and the promise go together
            field = {"amount": "promise_amount", "promised_on": "promise_on"}.get(exc.field or "", "")
            form.add_error(field or None, str(exc))
            raise FormRejected("disposition", form) from exc
        except NotPermitted:
            raise
        except CaseError as exc:  # e.g. an open promise already: the card stays, as typed, to choose again
            form.add_error(None, str(exc))
            raise FormRejected("disposition", form) from exc
        messages.success(request, _("Call and promise recorded."))
    elif disposition.result == CallResult.PROMISE:
        messages.success(request, _("Call recorded. Now record the promise."))
        return "?promise=1#call"
    else:
        messages.success(request, _("Call recorded."))
    if data["then"] == "next":
        return reverse("case-next") + f"?skip={case.pk}"
    return "#next-case"


def _recording_hold(request: SignedInRequest, case: CollectionCase) -> str:
    form = RecordingHoldForm(request.POST)
    if not form.is_valid():
        raise InvalidRequest(form_errors(form))
    hold = form.cleaned_data["hold"]
    recording_hold(case_id=case.pk, actor=request.user, recording_id=form.cleaned_data["recording"], hold=hold)
    messages.success(request, _("Legal hold placed: the recording is kept.") if hold else _("Legal hold released."))
    return "#call"


class FormRejected(Exception):
    """A form of the case page came back with errors: the page is shown again with it, as typed, the errors beside
    their fields."""

    def __init__(self, key: str, form: forms.Form) -> None:
        super().__init__(key)
        self.key, self.form = key, form


def _run_form(key: str, form: forms.Form, run: Callable[..., object], **extra: object) -> None:
    """Validate the form and run the service with its data; a refusal about one of its fields goes beside that field."""
    if not form.is_valid():
        raise FormRejected(key, form)
    try:
        run(**extra, **form.cleaned_data)
    except InvalidRequest as exc:
        form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        raise FormRejected(key, form) from exc


def _simple(
    key: str, form_class: type[forms.Form], run: Callable[..., object], done: StrOrPromise
) -> Callable[..., str]:
    def action(request: SignedInRequest, case: CollectionCase) -> str:
        _run_form(key, form_class(request.POST), run, case_id=case.pk, actor=request.user)
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


def _dispute(request: SignedInRequest, case: CollectionCase) -> str:
    """Record a dispute that reached the lender (a letter, a call, anything staff took down): a dispute hold and its
    record, DSP-01 where it is written and within the validation period."""
    form = DisputeForm(request.POST, prefix="dispute")

    def record(
        *, channel: str, received_on: dt.date | None, written: bool, original_creditor: bool, reason: str
    ) -> Any:
        zone = zoneinfo.ZoneInfo(borrower_zone(case.borrower))
        now = timezone.now()
        at = now if received_on in (None, now.astimezone(zone).date()) else (
            dt.datetime.combine(received_on, dt.time(12), tzinfo=zone)
        )  # fmt: skip
        terms = DisputeTerms(channel=channel, received_at=at, written=written, original_creditor=original_creditor)
        try:
            return dispute_record(case_id=case.pk, actor=request.user, reason=reason, terms=terms)
        except InvalidRequest as exc:
            if exc.field == "received_at":
                raise InvalidRequest(str(exc), field="received_on") from exc
            raise

    _run_form("dispute", form, record)
    messages.success(request, _("Dispute recorded: collection of this debt stops until the verification is mailed."))
    return "#disputes"


def _dispute_verification(request: SignedInRequest, case: CollectionCase) -> str:
    """Prepare the verification of one of the case's disputes: its document, on a letter planned at once."""
    form = DisputeVerificationForm(request.POST)
    if not form.is_valid() or not case.disputes.filter(pk=form.cleaned_data["dispute"]).exists():
        raise InvalidRequest(form_errors(form) or str(_("no such dispute on this case")))
    dispute_verification_prepare(dispute_id=form.cleaned_data["dispute"], actor=request.user)
    messages.success(request, _("Verification prepared: the letter goes out with the next dispatch."))
    return "#disputes"


def _formal_notice_resend(request: SignedInRequest, case: CollectionCase) -> str:
    """The formal notice came back undelivered: send it again (FN-01 waits for one that is served)."""
    formal_notice_resend(case_id=case.pk, actor=request.user)
    messages.success(request, _("Formal notice planned again: the letter goes out with the next dispatch."))
    return "#documents"


def _visit(request: SignedInRequest, case: CollectionCase) -> str:
    form = VisitForm(request.POST, zone=borrower_zone(case.borrower), partners=visit_partners(case, request))

    def schedule(*, address: str, window_start: dt.datetime, window_end: dt.datetime, second_collector: str) -> object:
        collectors = [request.user, *get_user_model().objects.filter(username=second_collector)]
        return visit_schedule(case_id=case.pk, actor=request.user, address=address, collectors=collectors,
                              window_start=window_start, window_end=window_end)  # fmt: skip

    _run_form("visit", form, schedule)
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
        raise FormRejected("sms", form)
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
        messages.success(request, _("Done: %(name)s.") % {"name": transition_label(name)})
        return ""

    return action


def _promise(request: SignedInRequest, case: CollectionCase) -> str:
    """A promise on the case, covering the borrower's other open cases ticked too (one promise per loan)."""
    form = PromiseForm(request.POST, others=promise_partners(case=case, user=request.user))

    def record(*, also: dict[int, Decimal], amount: Decimal, promised_on: dt.date, note: str) -> object:
        if not also:
            return promise_record(
                case_id=case.pk, actor=request.user, amount=amount, promised_on=promised_on, note=note
            )
        return promise_record_several(
            borrower_id=case.borrower_id,
            actor=request.user,
            amounts={case.pk: amount, **also},
            promised_on=promised_on,
            note=note,
        )

    _run_form("promise", form, record)
    covered = len(form.cleaned_data["also"]) + 1
    messages.success(
        request,
        _("Promise recorded.") if covered == 1 else _("Promise recorded on %(n)d loan(s).") % {"n": covered},
    )
    return ""


def _plan(request: SignedInRequest, case: CollectionCase) -> str:
    """A plan for the case, covering the borrower's other open cases ticked too (one plan per loan). The collector
    reads whether it started or waits for a manager, and why (its breaches of the installment policy, in words)."""
    form = PlanForm(request.POST, others=promise_partners(case=case, user=request.user))
    proposed: list[PaymentPlan] = []

    def propose(*, also: dict[int, Decimal], **terms: Any) -> object:
        if not also:
            proposed.append(plan_propose(case_id=case.pk, actor=request.user, **terms))
        else:
            proposed.extend(plan_propose_several(case_id=case.pk, actor=request.user, also=also, **terms))
        return proposed

    _run_form("plan", form, propose)
    breaches = plan_breaches_label(list(dict.fromkeys(b for plan in proposed for b in plan.outside_policy)))
    loans = {"n": len(proposed)}
    if any(plan.status == PlanStatus.PENDING_APPROVAL for plan in proposed):
        text = (
            _("Plan sent to a manager for approval: %(breaches)s.")
            if len(proposed) == 1
            else _("Plans for %(n)d loans sent to a manager for approval: %(breaches)s.")
        )
        messages.warning(request, text % {"breaches": breaches, **loans})
    elif breaches:
        text = _("Plan started, outside the policy on your authority: %(breaches)s.")
        messages.success(request, text % {"breaches": breaches})
    elif len(proposed) == 1:
        messages.success(request, _("Plan started."))
    else:
        messages.success(request, _("Plans started for %(n)d loans.") % loans)
    return ""


def _complaint(request: SignedInRequest, case: CollectionCase) -> str:
    """CMP-01: a complaint staff received, through the complaints service (its clocks, the conduct review)."""
    form = ComplaintForm(request.POST, zone=reader_zone(request.user), prefix="complaint")

    def record(*, category: str, channel: str, received_at: dt.datetime | None, summary: str) -> object:
        return complaint_record(case_id=case.pk, actor=request.user, channel=channel, category=category,
                                summary=summary, received_at=received_at)  # fmt: skip

    _run_form("complaint", form, record)
    messages.success(request, _("Complaint recorded: it is in the managers' complaints queue."))
    return "#complaint"


def _breathing_space_treatment(request: SignedInRequest, case: CollectionCase) -> str:
    """BS-01: a manager gives (or changes) when a crisis breathing space's treatment ends; it ends 30 days later."""
    form = BreathingSpaceTreatmentForm(request.POST, prefix="treatment")
    if form.is_valid() and not case.holds.filter(pk=form.cleaned_data["hold"]).exists():
        raise InvalidRequest(str(_("no such hold on this case")))

    def record(*, hold: int, treatment_ends_on: dt.date, reason: str) -> object:
        return breathing_space_treatment_end(
            hold_id=hold, actor=request.user, treatment_ends_on=treatment_ends_on, reason=reason
        )

    _run_form("treatment", form, record)
    messages.success(request, _("Treatment end recorded: the breathing space ends 30 days after it."))
    return ""


def _vulnerability(request: SignedInRequest, case: CollectionCase) -> str:
    """Record the borrower's vulnerability or update the record in force (VUL-01); audited by the service."""
    form = VulnerabilityForm(request.POST, collectors=collector_choices(case), prefix="vul")
    if not form.is_valid():
        raise FormRejected("vulnerability", form)
    data = form.cleaned_data
    try:
        __, created = vulnerability_record(
            borrower_id=case.borrower_id,
            actor=request.user,
            drivers=data["drivers"],
            details=data["details"] or None,
            consent_method=data["consent_method"],
            review_on=data["review_on"],
            adjustments=data["adjustments"],
            named_collector_id=data["named_collector"],
            where=f"case:{case.pk}",
        )
    except VulnerabilityInvalid as exc:
        form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        raise FormRejected("vulnerability", form) from exc
    messages.success(request, _("Vulnerability recorded.") if created else _("Vulnerability record updated."))
    return "#vulnerability"


def _vulnerability_end(request: SignedInRequest, case: CollectionCase) -> str:
    form = VulnerabilityEndForm(request.POST, prefix="vulend")
    if not form.is_valid():
        raise FormRejected("vulnerability-end", form)
    record_id = form.cleaned_data["record"]
    if not case.borrower.vulnerabilities.filter(pk=record_id).exists():
        raise InvalidRequest(str(_("no such vulnerability record for this borrower")))
    vulnerability_end(record_id=record_id, actor=request.user, reason=form.cleaned_data["end_reason"],
                      where=f"case:{case.pk}")  # fmt: skip
    messages.success(request, _("Vulnerability record ended."))
    return "#vulnerability"


CASE_ACTIONS: dict[str, Callable[..., str]] = {
    "call-start": _call_start,
    "call-log": _call_log,
    "recording-hold": _recording_hold,
    "note": _simple("note", NoteForm, note_add, _("Note added.")),
    "promise": _promise,
    "plan": _plan,
    "hold": _simple("hold", HoldForm, hold_place, _("Hold placed: automated contact stops.")),
    "hold-lift": _hold_lift,
    "dispute": _dispute,
    "dispute-verification": _dispute_verification,
    "formal-notice-resend": _formal_notice_resend,
    "forbearance": _simple("forbearance", ForbearanceForm, forbearance_record, _("Forbearance recorded.")),
    "visit": _visit,
    "visit-record": _visit_record,
    "grace": _simple(
        "grace", GraceForm, grace_extend, _("Hardship grace granted: no escalation and no automated reminders.")
    ),
    "sms": _sms,
    "vulnerability": _vulnerability,
    "complaint": _complaint,
    "breathing-space-treatment": _breathing_space_treatment,
    "vulnerability-end": _vulnerability_end,
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
    except FormRejected as rejected:
        # Nothing was written (the transaction rolled back): the page again, the form as typed, its errors beside
        # the fields, and a line at the top saying what to fix.
        messages.error(request, form_errors(rejected.form))
        return case_page_response(request, case, bound={rejected.key: rejected.form})
    except CaseError as exc:
        messages.error(request, str(exc))
    if suffix.startswith("/"):  # another page: the next case
        if request.htmx:  # a whole new page, not a part of this one
            return HttpResponse(status=204, headers={"HX-Redirect": suffix})
        return redirect(suffix)
    return redirect(reverse("case-detail", args=[case.pk]) + suffix)
