"""A case's calls: the call card (on the case page, and refreshed by itself while a call is going) and the recordings,
streamed through the app with its permission checks — never a provider's URL in the browser."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from collections_app.forms import DispositionForm, PromiseForm
from collections_app.models import CollectionCase
from collections_app.selectors import call_panel, case_get_for_user, recording_for_user
from collections_app.views.common import bad_parameters_are_400, id_param, require_role
from core.web import SignedInRequest
from notifications.providers import ProviderError
from notifications.services import recording_open

logger = logging.getLogger(__name__)


def call_card(request: SignedInRequest, case: CollectionCase, bound: DispositionForm | None = None) -> dict[str, Any]:
    """The call card's context (``case/_call.html``): the disposition owed (``?call=``), the promise form filled in
    after a call that ended in a promise (``?promise=1``), the recent calls and their recordings. ``bound``: a
    disposition that came back with errors, shown as typed."""
    named = bound.data.get("decision", "") if bound is not None else request.GET.get("call", "")
    panel = call_panel(case=case, user=request.user, decision_id=id_param("call", str(named)))
    # Ids of their own: the case page has a promise form (and a note field) already. The promise made on the call
    # is filled in: the amount overdue, payable in a few days (within the policy's limit).
    days = min(3, case.policy.promise_max_days) if case.policy_id else 3
    initial = {"promise_amount": case.amount_overdue, "promise_on": timezone.localdate() + dt.timedelta(days=days)}
    form = (
        bound
        if bound is not None and panel.decision
        else DispositionForm(initial={"decision": panel.decision.pk, **initial}, zone=panel.zone, auto_id="call_%s")
        if panel.decision
        else None
    )
    promise = (
        PromiseForm(initial={"amount": case.amount_overdue}, auto_id="call_promise_%s")
        if request.GET.get("promise") == "1"
        else None
    )
    return {"call_panel": panel, "disposition_form": form, "promise_after_call": promise}


@require_GET
@bad_parameters_are_400
def case_call_card(request: SignedInRequest, case_id: int) -> HttpResponse:
    """htmx: the call card again, while a call through the provider is ringing or connected."""
    require_role(request)
    case = case_get_for_user(user=request.user, case_id=case_id)
    phones = [{"number": str(p.number)} for p in case.borrower.phones.all().order_by("id")]
    return render(request, "collections_app/case/_call.html", {"case": case, "phones": phones,
                                                                **call_card(request, case)})  # fmt: skip


@require_GET
def recording_stream(request: SignedInRequest, case_id: int, recording_id: int) -> HttpResponseBase:
    """A call's recording, for the case's collector and managers (404 for anyone else), fetched from the provider
    with the account's credentials and passed on as it arrives."""
    require_role(request)
    case = case_get_for_user(user=request.user, case_id=case_id)
    recording = recording_for_user(user=request.user, case=case, recording_id=recording_id)
    try:
        media = recording_open(recording=recording)
    except ProviderError as exc:
        logger.warning("recording %s could not be read: %s", recording.provider_id, exc)
        return HttpResponse(status=502 if exc.transient or exc.uncertain else 404)

    def chunks() -> Any:
        try:
            yield from media.chunks
        finally:
            media.close()

    response = StreamingHttpResponse(chunks(), content_type=media.content_type)
    if media.length is not None:
        response["Content-Length"] = str(media.length)
    response["Content-Disposition"] = f'inline; filename="call-{recording.call_id}-{recording.pk}"'
    response["Cache-Control"] = "private, no-store"  # personal data: never kept by a browser or proxy cache
    return response
