"""The keypad menu of an automated reminder call: Twilio posts each answer of the call's ``<Gather>`` here, signed
like every Twilio webhook (``notifications.webhooks.twilio_signed``: a forged request gets 403 and changes nothing).
``?message=`` (the call's outbox row), ``step`` and ``try`` are part of the signed URL."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from collections_app.services.voice_menu import voice_menu_answer
from loans.inputs import parse_id
from notifications.voice import DAYS, MENU
from notifications.webhooks import twilio_signed


@twilio_signed
def voice_menu(request: HttpRequest) -> HttpResponse:
    step = request.GET.get("step", MENU)
    twiml = voice_menu_answer(
        message_id=parse_id(request.GET.get("message", "")),
        call_sid=request.POST.get("CallSid", ""),
        step=DAYS if step == DAYS else MENU,
        digits=request.POST.get("Digits", ""),
        attempt=2 if request.GET.get("try") == "2" else 1,
    )
    return HttpResponse(twiml, content_type="application/xml")
