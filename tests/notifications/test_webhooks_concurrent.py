"""Twilio delivers a callback twice at once (its retries overlap a slow answer): the second one changes nothing
and never fails. Real threads, each with its own database connection."""

import threading

import pytest
from django.db import connection

from compliance.models import ConsentEvent, ContactEvent
from notifications.models import InboundMessage
from notifications.services import outbox_claim, outbox_send
from tests.notifications.conftest import due_message
from tests.notifications.test_webhooks import signed_post

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
ROUNDS = 5


def twice_at_once(name, params):
    """POST the same signed callback from two threads released together; returns both status codes."""
    barrier, codes, errors = threading.Barrier(2), [], []

    def deliver():
        try:
            barrier.wait(timeout=10)
            codes.append(signed_post(name, params).status_code)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return sorted(codes)


def sent(channel="sms", **fields):
    message, number = due_message(channel=channel, **fields)
    token, ids = outbox_claim()
    outbox_send(message_ids=ids, claim_token=token)
    message.refresh_from_db()
    assert message.status == "sent"
    return message, number


@pytest.mark.parametrize(("status", "error"), [("delivered", ""), ("undelivered", "21610")])
def test_a_message_status_delivered_twice_at_once_is_applied_once(locmem, twilio_settings, status, error):
    twilio_settings.NOTIFICATIONS_BACKEND = "locmem"
    for n in range(ROUNDS):
        message, number = sent(phone=f"+1617555{n:04d}")
        params = {"MessageSid": message.provider_id, "MessageStatus": status, "ErrorCode": error}
        assert twice_at_once("twilio-message-status", params) == [204, 204]
        assert ContactEvent.objects.filter(decision_id=message.decision_id).count() == 1
        if error:
            assert ConsentEvent.objects.filter(address=number, kind="opt_out").count() == 1


def test_a_call_status_delivered_twice_at_once_is_applied_once(locmem, twilio_settings):
    twilio_settings.NOTIFICATIONS_BACKEND = "locmem"
    for n in range(ROUNDS):
        message, _ = sent(channel="voice", phone=f"+1617555{n:04d}")
        params = {"CallSid": message.provider_id, "CallStatus": "completed", "AnsweredBy": "human"}
        assert twice_at_once("twilio-call-status", params) == [204, 204]
        assert ContactEvent.objects.filter(decision_id=message.decision_id).count() == 1


def test_an_inbound_stop_delivered_twice_at_once_records_one_opt_out(twilio_settings):
    for n in range(ROUNDS):
        number = f"+1617555{n:04d}"
        due_message(phone=number)
        sid = f"SM{n:032d}"
        params = {"MessageSid": sid, "From": number, "To": "+15005550006", "Body": "STOP"}
        assert twice_at_once("twilio-inbound-sms", params) == [200, 200]
        assert InboundMessage.objects.filter(provider_id=sid).count() == 1
        assert ConsentEvent.objects.filter(address=number, kind="opt_out").count() == 1
