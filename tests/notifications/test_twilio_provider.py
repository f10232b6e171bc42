"""The Twilio provider through the real SDK, against the in-process fake: what goes over the wire, and every error
path the dispatcher must survive (21610, 21211, 21614, 20429, 5xx, refused connections, timeouts, answers lost after
Twilio took the request)."""

import datetime as dt
import socket

import pytest
from django.urls import reverse

from compliance.models import ConsentEvent, ContactEvent
from notifications.models import OutboundMessage
from notifications.services import outbox_claim, outbox_reap, outbox_send
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
        (500, 20500, "planned"),
        (503, 0, "planned"),
        (503, 20503, "planned"),
        (502, 0, "review"),
        (504, 0, "review"),
    ],
)
def test_provider_errors_fail_or_retry_the_row(twilio_fake, http, code, status):
    message, number = due_message()
    twilio_fake.errors[number] = (http, code, "scripted error")
    assert dispatch() == {status: 1}
    message.refresh_from_db()
    assert message.status == status and message.error_code == str(code or http)
    if status != "review":
        assert str(code or http) in message.status_reason
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


@pytest.fixture
def unanswered_port():
    """A port whose accept queue is full: the kernel drops further SYNs, so connecting times out (the request never
    leaves this process)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(server.getsockname())
        fillers.append(filler)
    yield server.getsockname()[1]
    for sock in [*fillers, server]:
        sock.close()


@pytest.mark.parametrize("where", ["refused", "unknown host", "connect timeout"])
def test_only_errors_before_the_request_left_are_retried(twilio_settings, unanswered_port, where):
    twilio_settings.TWILIO_TIMEOUT_SECONDS = 0.3
    twilio_settings.TWILIO_API_BASE_URL = {
        "refused": "http://127.0.0.1:9",
        "unknown host": "http://twilio.invalid",  # .invalid never resolves (RFC 6761)
        "connect timeout": f"http://127.0.0.1:{unanswered_port}",
    }[where]
    message, _ = due_message()
    assert dispatch() == {"planned": 1}
    message.refresh_from_db()
    assert message.error_code == "connect" and message.send_started_at is None


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_connection_dropped_after_twilio_read_the_request_goes_to_review_and_is_never_resent(
    twilio_fake, settings, how
):
    """Connection aborted / RemoteDisconnected / reset after the request was written: Twilio may have created the
    message, so the row waits for a person instead of being sent again (issue 11: 50 of 50 went out twice)."""
    settings.PROVIDER_PAUSE_SECONDS = 0  # each batch probes the provider at once: every message gets its try
    messages = [due_message() for _ in range(5)]
    for _, number in messages:
        twilio_fake.drops[number] = how
    # One send per batch: its answer is lost, so the provider is paused and the rest of the batch is held.
    assert dispatch() == {"review": 1, "released": 4}
    rounds = 1
    while OutboundMessage.objects.filter(status="planned").exists() and rounds < 10:
        assert dispatch()["review"] == 1
        rounds += 1
    assert rounds == 5
    outbox_reap(older_than=dt.timedelta(0))
    assert dispatch() == {}
    for message, number in messages:
        message.refresh_from_db()
        assert (message.status, message.error_code) == ("review", "aborted")
        assert "may have" in message.status_reason
        assert twilio_fake.count(To=number) == 1
        # The reserved slot keeps counting: the borrower may have had the text.
        assert ContactEvent.objects.get(decision_id=message.decision_id).outcome == "reserved"
