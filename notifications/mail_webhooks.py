"""The mail provider's events (bounces, complaints, deliveries) at ``/webhooks/email/events/``, in one generic format
that any provider's notifications are relayed in (README "E-mail"). Each request is signed with the shared secret
``EMAIL_WEBHOOK_SECRET``:

    X-Email-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">

checked before anything else, like Stripe's: a missing, forged or stale (older than
``EMAIL_WEBHOOK_TOLERANCE_SECONDS``: a replay) signature gets 403, changes nothing and is logged as a security event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.web import public
from notifications.services import EVENT_TYPES, email_event_apply

security = logging.getLogger("collections.security")
logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Email-Signature"


def email_signature(body: bytes, *, secret: str, at: int) -> str:
    """The header value a sender of events computes (the tests and a provider's relay use it too)."""
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def signature_valid(header: str, body: bytes, *, secret: str, now: float) -> bool:
    """Is ``header`` a signature of ``body`` with ``secret``, made within the tolerance (either side of now)?"""
    if not secret:
        return False
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isdigit() or not given:
        return False
    if abs(now - int(stamp)) > settings.EMAIL_WEBHOOK_TOLERANCE_SECONDS:
        return False
    expected = email_signature(body, secret=secret, at=int(stamp)).partition(",v1=")[2]
    return hmac.compare_digest(expected, given)


@public
@csrf_exempt
@require_POST
def email_events(request: HttpRequest) -> HttpResponse:
    """One event: ``{"type": "bounce" | "complaint" | "delivered", "message_id": "<…>", "bounce_type":
    "permanent" | "transient", "status": "5.1.1", "diagnostic": "…"}``. 204 when taken (an e-mail we do not know
    included: a retry would not make it known), 400 when it cannot be read, 403 when unsigned."""
    body = request.body
    if not signature_valid(request.headers.get(SIGNATURE_HEADER, ""), body, secret=settings.EMAIL_WEBHOOK_SECRET,
                           now=time.time()):  # fmt: skip
        security.warning("rejected an e-mail event with a bad signature from %s", request.META.get("REMOTE_ADDR", "?"))
        return HttpResponseForbidden("Invalid signature.")
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return HttpResponseBadRequest("The body is not JSON.")
    if (
        not isinstance(event, dict)
        or event.get("type") not in EVENT_TYPES
        or not isinstance(event.get("message_id"), str)
    ):
        return HttpResponseBadRequest("type (bounce, complaint, delivered) and message_id are required.")
    bounce_type = str(event.get("bounce_type") or "permanent")
    if bounce_type not in ("permanent", "transient"):
        return HttpResponseBadRequest("bounce_type is permanent or transient.")
    row = email_event_apply(
        message_id=event["message_id"],
        kind=event["type"],
        bounce_type=bounce_type,
        status=str(event.get("status") or "")[:16],
        diagnostic=str(event.get("diagnostic") or "")[:1000],
    )
    if row is None:
        logger.warning("an e-mail event (%s) about an e-mail we did not send", event["type"])
    return HttpResponse(status=204)
