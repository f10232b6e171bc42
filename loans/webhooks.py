"""Stripe's webhook: the event is believed only when its ``Stripe-Signature`` checks out against
``STRIPE_WEBHOOK_SECRET`` (``stripe.Webhook.construct_event``: HMAC-SHA256 of ``t.payload``, within five minutes).
A forged, unsigned or stale event gets 400, changes nothing and is logged as a security event; a signed one is
handled by ``loans.payments.stripe_event_handle`` and answered 200 (an error answers 500, and Stripe retries)."""

from __future__ import annotations

import logging

import stripe
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.web import public
from loans.payments import stripe_event_handle

security = logging.getLogger("collections.security")
logger = logging.getLogger(__name__)


@public
@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    secret = settings.STRIPE_WEBHOOK_SECRET
    try:
        if not secret:  # an empty secret would let anyone sign
            raise stripe.SignatureVerificationError("no webhook secret is configured", "")
        event = stripe.Webhook.construct_event(request.body, request.headers.get("Stripe-Signature"), secret)
    except (ValueError, stripe.SignatureVerificationError) as exc:
        security.warning(
            "rejected a Stripe webhook: %s from %s", exc.__class__.__name__, request.META.get("REMOTE_ADDR", "?")
        )
        return HttpResponseBadRequest("Invalid signature.")
    outcome = stripe_event_handle(event=event.to_dict())
    logger.info("stripe event %s %s: %s", event.id, event.type, outcome)
    return HttpResponse("ok")
