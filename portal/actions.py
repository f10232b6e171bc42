"""What the borrower does from their page (issue 15): promise a payment, choose an installment plan, dispute the debt,
set their contact preferences, ask for a call back. Thin views: the page's own refusals and identity check
(``portal.access.link_open``), the form of ``collections_app.borrower_forms`` in the borrower's language, the service
of ``collections_app.services.borrower_actions`` (which audits it as the borrower's: the link's public id and the
request's address), then Post/Redirect/Get to a confirmation read back from the database. A form with an error comes
back with 200, the error beside its field and what was typed; nothing is written.

The loan is named by the reference the page shows (``/p/<token>/loan/<reference>/promise``); one that is not the
borrower's, or not being collected, gets the same "please call us" answer (404) and no data."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, cast
from zoneinfo import ZoneInfo

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import formats, translation
from django.views.decorators.http import require_GET, require_http_methods

from collections_app.borrower_forms import (
    BorrowerPromiseForm,
    CallbackForm,
    DisputeForm,
    PlanChoiceForm,
    PreferencesForm,
    plan_option_label,
    service_error,
)
from collections_app.models import CollectionCase
from collections_app.selectors.borrower_actions import (
    SLOT_MINUTES,
    ContactPreferences,
    callback_slots,
    contact_preferences,
    plan_options,
    promise_limits,
)
from collections_app.selectors.case_page import borrower_zone
from collections_app.services.borrower_actions import (
    BorrowerActor,
    borrower_callback_request,
    borrower_dispute,
    borrower_plan_choose,
    borrower_preferences_set,
    borrower_promise,
)
from collections_app.services.cases import CaseError
from collections_app.uploads import max_bytes
from core.web import public
from loans.models import Language, PreferredChannel
from loans.money import format_money
from portal.access import Opened, answer, link_open, page_url
from portal.action_selectors import dispute_open, plan_current, portal_case_get, promise_open

CaseView = Callable[[HttpRequest, Opened, CollectionCase], HttpResponse]
# A request this much larger than the largest document is refused before its body is read (nothing lands on disk).
UPLOAD_SLACK = 256 * 1024


def _actor(opened: Opened) -> BorrowerActor:
    return BorrowerActor(link_id=opened.link.public_id, ip=opened.ip)


def _show(request: HttpRequest, opened: Opened, template: str, *, status: int = 200, **more: Any) -> HttpResponse:
    context = opened.context(page_url=page_url(opened.token, opened.language), **more)
    return answer(request, template, context, language=opened.language, status=status)


def _to(name: str, opened: Opened, *args: str, language: str = "") -> HttpResponseRedirect:
    """Post/Redirect/Get: the confirmation, in the borrower's language."""
    url = reverse(name, args=[opened.token, *args])
    return HttpResponseRedirect(f"{url}?lang={language or opened.language}", status=303)


def _data(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


def for_case(methods: list[str]) -> Callable[[CaseView], Callable[..., HttpResponse]]:
    """A view about one of the borrower's loans: the link opened (or its refusal), the loan's open case (or "please
    call us", 404), and the view run in the borrower's language."""

    def wrap(view: CaseView) -> Callable[..., HttpResponse]:
        @public
        @require_http_methods(methods)
        @functools.wraps(view)
        def wrapped(request: HttpRequest, token: str, reference: str) -> HttpResponse:
            opened = link_open(request, token)
            if isinstance(opened, HttpResponse):
                return opened
            case = portal_case_get(borrower=opened.link.borrower, reference=reference)
            if case is None:
                return _show(request, opened, "portal/actions/no_case.html", status=404)
            with translation.override(opened.language):
                return view(request, opened, case)

        return wrapped

    return wrap


def _day(value: dt.date) -> str:
    return formats.date_format(value, "DATE_FORMAT")


def _payments(payments: Any, currency: str) -> list[tuple[str, str]]:
    return [(_day(day), format_money(amount, currency)) for day, amount in payments]


# ---------------------------------------------------------------------------------------------------------------
# Promise
# ---------------------------------------------------------------------------------------------------------------
@for_case(["GET", "POST"])
def promise(request: HttpRequest, opened: Opened, case: CollectionCase) -> HttpResponse:
    """A promise to pay an amount by a date within the policy's limits."""
    limits = promise_limits(case_id=case.pk)
    form = BorrowerPromiseForm(_data(request), limits=limits)
    if request.method == "POST" and form.is_valid():
        try:
            borrower_promise(case_id=case.pk, actor=_actor(opened), amount=form.cleaned_data["amount"],
                             promised_on=form.cleaned_data["promised_on"])  # fmt: skip
        except CaseError as exc:
            service_error(form, exc)
        else:
            return _to("portal-promise-done", opened, case.loan.external_id)
    return _show(request, opened, "portal/actions/promise.html", form=form, case=case, limits=limits)


@for_case(["GET"])
def promise_done(request: HttpRequest, opened: Opened, case: CollectionCase) -> HttpResponse:
    made = promise_open(case=case)
    if made is None:
        return _to("portal-promise", opened, case.loan.external_id)
    amount = format_money(made.amount, case.loan.currency)
    return _show(request, opened, "portal/actions/promise_done.html", case=case, amount=amount,
                 promised_on=made.promised_on)  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# Plan
# ---------------------------------------------------------------------------------------------------------------
@for_case(["GET", "POST"])
def plan(request: HttpRequest, opened: Opened, case: CollectionCase) -> HttpResponse:
    """The plans offered, each with every payment's date and amount and whether it starts at once."""
    offered = plan_options(case_id=case.pk)
    form = PlanChoiceForm(_data(request), offered=offered)
    if request.method == "POST" and form.is_valid():
        try:
            borrower_plan_choose(case_id=case.pk, actor=_actor(opened), option=form.cleaned_data["option"])
        except CaseError as exc:
            service_error(form, exc)
        else:
            return _to("portal-plan-done", opened, case.loan.external_id)
    chosen = form["option"].value() if form.is_bound else ""
    options = [
        {
            "key": o.key,
            "label": plan_option_label(o, offered.currency),
            "payments": _payments(o.payments, offered.currency),
            "at_once": o.starts_at_once,
            "checked": o.key == chosen,
        }
        for o in offered.options
    ]
    inside, outside = [o for o in options if o["at_once"]], [o for o in options if not o["at_once"]]
    return _show(request, opened, "portal/actions/plan.html", form=form, case=case, offered=offered, inside=inside,
                 outside=outside)  # fmt: skip


@for_case(["GET"])
def plan_done(request: HttpRequest, opened: Opened, case: CollectionCase) -> HttpResponse:
    shown = plan_current(case=case)
    if shown is None:
        return _to("portal-plan", opened, case.loan.external_id)
    return _show(request, opened, "portal/actions/plan_done.html", case=case, started=shown.started,
                 payments=_payments(shown.payments, case.loan.currency))  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# Dispute
# ---------------------------------------------------------------------------------------------------------------
@for_case(["GET", "POST"])
def dispute(request: HttpRequest, opened: Opened, case: CollectionCase) -> HttpResponse:
    """Why the borrower disputes the debt, and a document if they have one (multipart)."""
    if dispute_open(case=case) is not None:
        return _to("portal-dispute-done", opened, case.loan.external_id)
    too_big = request.method == "POST" and int(request.META.get("CONTENT_LENGTH") or 0) > max_bytes() + UPLOAD_SLACK
    if too_big:  # not read at all: what was typed is lost with it, and the page says so
        form = DisputeForm()
        form.full_clean()  # an unbound form with no data, which can still carry the one error
        form.cleaned_data = {}
        form.add_error("document", _too_large())
    else:
        form = DisputeForm(_data(request), request.FILES if request.method == "POST" else None)
    if request.method == "POST" and not too_big and form.is_valid():
        data = form.cleaned_data
        try:
            borrower_dispute(case_id=case.pk, actor=_actor(opened), reason=data["reason"], details=data["details"],
                             document=data.get("document"))  # fmt: skip
        except CaseError as exc:
            service_error(form, exc)
        else:
            return _to("portal-dispute-done", opened, case.loan.external_id)
    sent_file = request.method == "POST" and (too_big or bool(request.FILES.get("document")))
    return _show(request, opened, "portal/actions/dispute.html", form=form, case=case, choose_again=sent_file)


def _too_large() -> str:
    return str(translation.gettext("The file is too large: at most %(mb)s MB.") % {"mb": max_bytes() // (1024 * 1024)})


@for_case(["GET"])
def dispute_done(request: HttpRequest, opened: Opened, case: CollectionCase) -> HttpResponse:
    hold = dispute_open(case=case)
    if hold is None:
        return _to("portal-dispute", opened, case.loan.external_id)
    return _show(request, opened, "portal/actions/dispute_done.html", case=case, with_document=bool(hold.document_ref))


# ---------------------------------------------------------------------------------------------------------------
# Call back
# ---------------------------------------------------------------------------------------------------------------
@for_case(["GET", "POST"])
def callback(request: HttpRequest, opened: Opened, case: CollectionCase) -> HttpResponse:
    """The half-hours a collector may call in, in the borrower's zone (named); only those are offered."""
    offered = callback_slots(case_id=case.pk)
    form = CallbackForm(_data(request), offered=offered)
    _slots_by_day(form)
    if request.method == "POST" and form.is_valid():
        try:
            borrower_callback_request(case_id=case.pk, actor=_actor(opened), start=form.cleaned_data["start"])
        except CaseError as exc:
            service_error(form, exc)
        else:
            return _to("portal-callback-done", opened, case.loan.external_id)
    return _show(request, opened, "portal/actions/callback.html", form=form, case=case, offered=offered)


def _slots_by_day(form: CallbackForm) -> None:
    """The same slots, grouped under their day, each with its day and times but not the zone: short enough for a
    phone's list (the page names the zone once, above it and beside the field)."""
    days: dict[dt.date, list[tuple[str, str]]] = {}
    for slot in form.offered.slots:
        day = slot.start.date()
        days.setdefault(day, []).append((slot.key, f"{_day(day)}, {slot.start:%H:%M}–{slot.end:%H:%M}"))
    cast(forms.ChoiceField, form.fields["slot"]).choices = [(_day(day), times) for day, times in days.items()]


@for_case(["GET"])
def callback_done(request: HttpRequest, opened: Opened, case: CollectionCase) -> HttpResponse:
    if case.callback_at is None:
        return _to("portal-callback", opened, case.loan.external_id)
    zone = borrower_zone(case.borrower)
    local = case.callback_at.astimezone(ZoneInfo(zone))
    end = local + dt.timedelta(minutes=SLOT_MINUTES)
    return _show(request, opened, "portal/actions/callback_done.html", case=case, day=_day(local.date()),
                 start=f"{local:%H:%M}", end=f"{end:%H:%M}", zone=zone)  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# Contact preferences (the borrower's, whichever loan)
# ---------------------------------------------------------------------------------------------------------------
@public
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    """Times not to be contacted, channels to stop, the channel and language preferred, in the borrower's words."""
    opened = link_open(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    borrower_id = opened.link.borrower_id
    with translation.override(opened.language):
        form = PreferencesForm(_data(request), current=contact_preferences(borrower_id=borrower_id))
        if request.method == "POST" and form.is_valid():
            try:
                borrower_preferences_set(borrower_id=borrower_id, actor=_actor(opened), **form.cleaned_data)
            except CaseError as exc:
                service_error(form, exc)
            else:  # the confirmation in the language just chosen
                return _to("portal-preferences-done", opened, language=form.cleaned_data["language"])
        return _show(request, opened, "portal/actions/preferences.html", form=form, zone=form.zone)


@public
@require_GET
def preferences_done(request: HttpRequest, token: str) -> HttpResponse:
    opened = link_open(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    with translation.override(opened.language):
        current = contact_preferences(borrower_id=opened.link.borrower_id)
        said = _preferences_said(current)
        return _show(request, opened, "portal/actions/preferences_done.html", said=said, zone=current.zone)


def _preferences_said(current: ContactPreferences) -> list[str]:
    """The preferences now in force, in the borrower's words and language (one sentence each)."""
    _ = translation.gettext
    said = []
    if current.quiet_before and current.quiet_after:
        said.append(_("We will not contact you before %(before)s or after %(after)s, your local time (%(zone)s).")
                    % {"before": current.quiet_before, "after": current.quiet_after, "zone": current.zone})  # fmt: skip
    elif current.quiet_before:
        said.append(_("We will not contact you before %(before)s, your local time (%(zone)s).")
                    % {"before": current.quiet_before, "zone": current.zone})  # fmt: skip
    elif current.quiet_after:
        said.append(_("We will not contact you after %(after)s, your local time (%(zone)s).")
                    % {"after": current.quiet_after, "zone": current.zone})  # fmt: skip
    if current.stop_sms:
        said.append(_("We will not send you text messages."))
    if current.stop_email:
        said.append(_("We will not send you e-mails."))
    if current.stop_automated_calls:
        said.append(_("We will not call you with automated calls."))
    if current.preferred_channel:
        said.append(_("You prefer to hear from us by %(channel)s.")
                    % {"channel": PreferredChannel(current.preferred_channel).label})  # fmt: skip
    said.append(_("We will write to you in %(language)s.") % {"language": Language(current.language).label})
    return [str(s) for s in said]
