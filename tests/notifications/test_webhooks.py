"""Twilio webhooks: signatures first, forward-only statuses, idempotent callbacks, STOP/START/HELP."""

import logging

import pytest
from django.test import Client
from django.urls import reverse
from twilio.request_validator import RequestValidator

from compliance.models import ConsentEvent, ContactEvent
from notifications.models import InboundMessage, OutboundMessage
from notifications.services import outbox_claim, outbox_send
from tests.notifications.conftest import AUTH_TOKEN, PUBLIC_BASE, due_message

pytestmark = pytest.mark.django_db


def signed_post(name, params, *, token=AUTH_TOKEN, base=PUBLIC_BASE):
    """POST as Twilio does: the signature covers the public URL and the sorted form parameters."""
    path = reverse(name)
    signature = RequestValidator(token).compute_signature(base + path, params)
    # The test client talks to http://testserver: like a proxy in front of the app, the host differs from the
    # public URL Twilio signed, which TWILIO_WEBHOOK_BASE_URL restores.
    return Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.fixture
def sent_sms(locmem, twilio_settings):
    twilio_settings.NOTIFICATIONS_BACKEND = "locmem"
    message, number = due_message()
    token, ids = outbox_claim()
    outbox_send(message_ids=ids, claim_token=token)
    message.refresh_from_db()
    assert message.status == "sent"
    return message, number


def test_a_signed_delivery_callback_marks_the_message_and_the_ledger_delivered(sent_sms):
    message, _ = sent_sms
    response = signed_post("twilio-message-status", {"MessageSid": message.provider_id, "MessageStatus": "delivered"})
    assert response.status_code == 204
    message.refresh_from_db()
    assert message.status == "delivered" and message.delivered_at
    assert ContactEvent.objects.get(decision_id=message.decision_id).outcome == "delivered"


def test_statuses_only_move_forward_and_repeats_change_nothing(sent_sms):
    message, _ = sent_sms
    for status in ("delivered", "sent", "delivered", "failed"):
        assert (
            signed_post(
                "twilio-message-status", {"MessageSid": message.provider_id, "MessageStatus": status}
            ).status_code
            == 204
        )
    message.refresh_from_db()
    assert message.status == "delivered"
    assert ContactEvent.objects.filter(decision_id=message.decision_id).count() == 1


def test_an_undelivered_text_to_an_opted_out_number_fails_and_records_the_opt_out(sent_sms):
    message, number = sent_sms
    signed_post(
        "twilio-message-status",
        {"MessageSid": message.provider_id, "MessageStatus": "undelivered", "ErrorCode": "21610"},
    )
    message.refresh_from_db()
    assert message.status == "failed" and message.error_code == "21610"
    assert ConsentEvent.objects.filter(address=number, kind="opt_out").exists()


def test_a_forged_callback_gets_403_changes_nothing_and_is_logged(sent_sms, caplog):
    message, _ = sent_sms
    with caplog.at_level(logging.WARNING, logger="collections.security"):
        response = signed_post(
            "twilio-message-status",
            {"MessageSid": message.provider_id, "MessageStatus": "delivered"},
            token="not-the-auth-token",
        )
    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == "sent"
    assert any("bad signature" in r.getMessage() for r in caplog.records)


def test_a_signature_for_another_url_is_refused(sent_sms):
    message, _ = sent_sms
    response = signed_post(
        "twilio-message-status",
        {"MessageSid": message.provider_id, "MessageStatus": "delivered"},
        base="https://attacker.example.net",
    )
    assert response.status_code == 403


def test_webhooks_refuse_everything_when_no_auth_token_is_configured(settings):
    settings.TWILIO_AUTH_TOKEN = ""
    response = signed_post("twilio-inbound-sms", {"MessageSid": "SM1", "From": "+16175550100", "Body": "STOP"})
    assert response.status_code == 403
    assert not ConsentEvent.objects.exists()


@pytest.mark.parametrize(
    ("status", "answered_by", "outcome", "message_status"),
    [
        ("completed", "human", "conversation", "delivered"),
        ("completed", "machine_end_beep", "voicemail", "delivered"),
        ("no-answer", "", "no_answer", "failed"),
        ("busy", "", "busy", "failed"),
        ("failed", "", "failed", "failed"),
    ],
)
def test_a_call_status_becomes_the_calls_outcome_in_the_ledger(
    locmem, twilio_settings, status, answered_by, outcome, message_status
):
    twilio_settings.NOTIFICATIONS_BACKEND = "locmem"
    message, _ = due_message(channel="voice")
    token, ids = outbox_claim()
    outbox_send(message_ids=ids, claim_token=token)
    message.refresh_from_db()
    for step in ("initiated", "ringing", status, status):  # the final one twice: idempotent
        signed_post(
            "twilio-call-status", {"CallSid": message.provider_id, "CallStatus": step, "AnsweredBy": answered_by}
        )
    message.refresh_from_db()
    assert message.status == message_status
    events = ContactEvent.objects.filter(decision_id=message.decision_id)
    assert [e.outcome for e in events] == [outcome]


def inbound(body, sid="SM" + "1" * 32, number="+16175550123"):
    return signed_post("twilio-inbound-sms", {"MessageSid": sid, "From": number, "To": "+15005550006", "Body": body})


@pytest.mark.parametrize(
    "word",
    [
        "STOP",
        "stop",
        " Stop ",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "opt out",
        "Opt  Out",
    ],
)
def test_every_opt_out_keyword_records_an_opt_out_and_answers_once(twilio_settings, word):
    message, number = due_message(phone="+16175550123")
    response = inbound(word)
    assert response.status_code == 200
    assert (
        ConsentEvent.objects.filter(
            borrower=message.borrower, address=number, kind="opt_out", source="inbound_sms"
        ).count()
        == 1
    )
    assert response.content.count(b"<Message>") == 1 and b"START" in response.content
    # Twilio retries the same webhook: no second opt-out, no second confirmation.
    again = inbound(word)
    assert again.content.count(b"<Message>") == 0
    assert ConsentEvent.objects.filter(borrower=message.borrower, kind="opt_out").count() == 1
    assert InboundMessage.objects.get().action == "opt_out"


def test_after_stop_the_next_text_is_denied_and_start_allows_it_again(locmem, twilio_settings):
    twilio_settings.NOTIFICATIONS_BACKEND = "locmem"
    message, _ = due_message(phone="+16175550123")
    inbound("STOP", sid="SM" + "2" * 32)
    token, ids = outbox_claim()
    assert outbox_send(message_ids=ids, claim_token=token) == {"denied": 1}
    inbound("START", sid="SM" + "3" * 32)
    OutboundMessage.objects.filter(pk=message.pk).update(status="planned", idempotency_key="again")
    token, ids = outbox_claim()
    assert outbox_send(message_ids=ids, claim_token=token) == {"sent": 1}


def test_help_answers_with_the_lenders_number(twilio_settings):
    twilio_settings.LENDER_HELP_PHONE = "+1 800 555 0199"
    response = inbound("HELP")
    assert b"+1 800 555 0199" in response.content and not ConsentEvent.objects.exists()


def test_a_chinese_borrower_gets_the_confirmation_in_chinese(twilio_settings):
    due_message(phone="+16175550123", language="zh-hans")
    response = inbound("退订")
    assert "退订".encode() in response.content or "短信".encode() in response.content


def test_something_that_only_sounds_like_an_opt_out_goes_to_review(twilio_settings):
    due_message(phone="+16175550123")
    response = inbound("please stop texting me")
    assert response.content.count(b"<Message>") == 0 and not ConsentEvent.objects.exists()
    assert InboundMessage.objects.get().action == "review"
