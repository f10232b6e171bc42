"""The Twilio provider through the real SDK, against the in-process fake: what goes over the wire, and every error
path the dispatcher must survive (21610, 21211, 21614, 20429, 5xx, refused connections, timeouts)."""

import pytest
from django.urls import reverse

from compliance.models import ConsentEvent, ContactEvent
from notifications.services import outbox_claim, outbox_send
from tests.notifications.conftest import PUBLIC_BASE, due_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def twilio_fake(twilio_settings, fake_twilio):
    twilio_settings.TWILIO_API_BASE_URL = fake_twilio.url
    return fake_twilio


def dispatch():
    token, ids = outbox_claim()
    return outbox_send(message_ids=ids, claim_token=token)


def test_an_sms_goes_through_the_sdk_with_its_status_callback(twilio_fake):
    message, number = due_message()
    assert dispatch() == {"sent": 1}
    (request,) = twilio_fake.requests
    assert request["path"].endswith("/Accounts/AC" + "0" * 32 + "/Messages.json")
    assert request["To"] == number and request["From"] == "+15005550006" and "STOP" in request["Body"]
    assert request["StatusCallback"] == PUBLIC_BASE + reverse("twilio-message-status")
    message.refresh_from_db()
    assert message.provider_id.startswith("SM") and message.provider == "twilio" and message.provider_status == "queued"


def test_a_voice_reminder_says_it_in_mandarin_with_machine_detection(twilio_fake):
    due_message(channel="voice", language="zh-hans")
    assert dispatch() == {"sent": 1}
    (request,) = twilio_fake.requests
    assert request["kind"] == "call" and request["MachineDetection"] == "Enable"
    assert '<Say language="cmn-CN" voice="Polly.Zhiyu">' in request["Twiml"]
    assert request["StatusCallback"] == PUBLIC_BASE + reverse("twilio-call-status")
    assert set(request["StatusCallbackEvent"]) == {"initiated", "ringing", "answered", "completed"}


@pytest.mark.parametrize(
    ("http", "code", "status"),
    [
        (400, 21211, "failed"),
        (400, 21614, "failed"),
        (400, 21610, "failed"),
        (429, 20429, "planned"),
        (503, 0, "planned"),
    ],
)
def test_provider_errors_fail_or_retry_the_row(twilio_fake, http, code, status):
    message, number = due_message()
    twilio_fake.errors[number] = (http, code, "scripted error")
    assert dispatch() == {status: 1}
    message.refresh_from_db()
    assert message.status == status and str(code or http) in message.status_reason
    assert (ConsentEvent.objects.filter(address=number, kind="opt_out").exists()) == (code == 21610)
    assert twilio_fake.count(To=number) == 1  # one request, never a blind resend in the same batch


def test_a_refused_connection_is_retried_later(twilio_settings):
    twilio_settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    message, _ = due_message()
    assert dispatch() == {"planned": 1}
    message.refresh_from_db()
    assert message.error_code == "connect" and message.send_started_at is None
    assert ContactEvent.objects.get(decision_id=message.decision_id).outcome == "cancelled"


def test_a_timeout_after_the_request_left_goes_to_review_not_resent(twilio_fake, twilio_settings):
    twilio_settings.TWILIO_TIMEOUT_SECONDS = 0.3
    twilio_fake.delay = 1.0
    message, number = due_message()
    assert dispatch() == {"review": 1}
    assert dispatch() == {}
    assert twilio_fake.count(To=number) == 1
    message.refresh_from_db()
    assert message.status == "review" and message.error_code == "timeout"
