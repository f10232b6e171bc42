"""Twilio webhooks: message status, call status, inbound SMS, and a collector's call (both legs' statuses, its
recording, the disclosure the borrower hears before being bridged). Each one validates ``X-Twilio-Signature``
against the public URL Twilio called — ``TWILIO_WEBHOOK_BASE_URL`` plus the path, because behind a
proxy the request's own scheme and host are not what Twilio signed — before anything else. A forged request gets
403, changes nothing and is logged as a security event."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from core.web import public
from loans.inputs import parse_id
from notifications.services import (
    call_status_apply,
    collector_call_recording_apply,
    collector_call_status_apply,
    disclosure_twiml,
    inbound_sms_handle,
    message_status_apply,
)

security = logging.getLogger("collections.security")


def public_url(request: HttpRequest) -> str:
    base = settings.TWILIO_WEBHOOK_BASE_URL.rstrip("/")
    return f"{base}{request.get_full_path()}" if base else request.build_absolute_uri()


def twilio_signed(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    @public
    @csrf_exempt
    @require_POST
    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        signature = request.headers.get("X-Twilio-Signature", "")
        token = settings.TWILIO_AUTH_TOKEN
        if not token or not RequestValidator(token).validate(public_url(request), request.POST, signature):
            security.warning(
                "rejected a Twilio webhook with a bad signature: %s from %s",
                request.path,
                request.META.get("REMOTE_ADDR", "?"),
            )
            return HttpResponseForbidden("Invalid signature.")
        if not (request.POST.get("MessageSid") or request.POST.get("CallSid")):
            return HttpResponseBadRequest("MessageSid or CallSid is required.")
        return view(request, *args, **kwargs)

    return checked


@twilio_signed
def message_status(request: HttpRequest) -> HttpResponse:
    message_status_apply(
        provider_id=request.POST.get("MessageSid", ""),
        status=request.POST.get("MessageStatus", ""),
        error_code=request.POST.get("ErrorCode", ""),
    )
    return HttpResponse(status=204)


@twilio_signed
def call_status(request: HttpRequest) -> HttpResponse:
    call_status_apply(
        provider_id=request.POST.get("CallSid", ""),
        status=request.POST.get("CallStatus", ""),
        answered_by=request.POST.get("AnsweredBy", ""),
    )
    return HttpResponse(status=204)


@twilio_signed
def inbound_sms(request: HttpRequest) -> HttpResponse:
    _, reply = inbound_sms_handle(
        provider_id=request.POST.get("MessageSid", ""),
        from_number=request.POST.get("From", ""),
        to_number=request.POST.get("To", ""),
        body=request.POST.get("Body", ""),
    )
    twiml = MessagingResponse()
    if reply:
        twiml.message(reply)
    return HttpResponse(str(twiml), content_type="application/xml")


@twilio_signed
def collector_call_status(request: HttpRequest) -> HttpResponse:
    """Either leg of a collector's call: the borrower's leg (its ``ParentCallSid`` is our call) settles the ledger."""
    collector_call_status_apply(
        call_sid=request.POST.get("CallSid", ""),
        status=request.POST.get("CallStatus", ""),
        parent_call_sid=request.POST.get("ParentCallSid", ""),
        duration=request.POST.get("CallDuration", ""),
    )
    return HttpResponse(status=204)


@twilio_signed
def collector_call_recording(request: HttpRequest) -> HttpResponse:
    collector_call_recording_apply(
        call_sid=request.POST.get("CallSid", ""),
        recording_id=request.POST.get("RecordingSid", ""),
        status=request.POST.get("RecordingStatus", ""),
        duration=request.POST.get("RecordingDuration", ""),
        channels=request.POST.get("RecordingChannels", ""),
    )
    return HttpResponse(status=204)


@twilio_signed
def collector_call_disclosure(request: HttpRequest) -> HttpResponse:
    """TwiML the borrower hears after answering, before being bridged to the collector: the recording is announced
    (REC-01). ``?call=`` is part of the signed URL."""
    twiml = disclosure_twiml(call_id=parse_id(request.GET.get("call", "")))
    return HttpResponse(twiml, content_type="application/xml")
