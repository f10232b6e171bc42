"""Contract tests: the real ``twilio`` SDK against Prism serving Twilio's official OpenAPI description
(tests/contracts/twilio, MIT) as a validating mock on 127.0.0.1. A request the description does not allow is
refused by the mock, so these fail if the provider sends what Twilio would reject."""

import datetime as dt

import pytest
import requests
import time_machine
from django.test import Client
from django.urls import reverse

from compliance.models import ContactEvent
from notifications.models import CallRecording, CollectorCall
from notifications.providers import TwilioProvider
from notifications.services import recordings_purge
from tests.factories import CollectorProfileFactory, PhoneFactory, make_case, user_with_role
from tests.fake_twilio import signed_callback
from tests.notifications.conftest import ACCOUNT_SID


@pytest.fixture
def provider(prism, settings):
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = "contract-test-token"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_API_BASE_URL = prism
    return TwilioProvider()


def test_an_sms_request_is_valid_for_twilios_api(provider):
    sent = provider.send_sms(
        to="+16175550100",
        body="Example: your payment is overdue. Reply STOP to opt out.",
        status_callback="https://collections.example.com/webhooks/twilio/message-status/",
    )
    assert sent.provider_id.startswith("SM")


@pytest.mark.parametrize(
    "menu", ["", "https://collections.example.com/webhooks/twilio/voice-menu/?message=7&step=menu"]
)
def test_a_voice_call_request_is_valid_for_twilios_api(provider, menu):
    """With the keypad menu (issue 15: TwiML <Gather> whose action is the signed webhook) and without it."""
    sent = provider.place_call(
        to="+16175550100",
        say="您好，这是还款提醒。",
        language="zh-hans",
        status_callback="https://collections.example.com/webhooks/twilio/call-status/",
        menu_url=menu,
    )
    assert sent.provider_id.startswith("CA")


def test_the_mock_really_validates_requests(prism):
    # Without To, Twilio's description forbids the request: the mock must refuse it, or the tests above prove nothing.
    response = requests.post(
        f"{prism}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
        data={"From": "+15005550006", "Body": "x"},
        auth=(ACCOUNT_SID, "token"),
        timeout=10,
    )
    assert response.status_code in (400, 422), response.text


@pytest.mark.django_db
def test_a_collectors_call_is_valid_for_twilios_api_and_its_signed_callbacks_fill_the_outcome_and_the_recording(
    prism, settings, django_capture_on_commit_callbacks
):
    """Issue 13: the collector presses Call on the case page; the SDK's request (ring the collector, then the TwiML
    that dials the borrower, announced and recorded) is accepted by the mock of Twilio's API; then Twilio's signed
    callbacks — the borrower's leg, the recording — fill the ledger's outcome, the duration and the recording; the
    retention purge's delete is accepted too."""
    token, base = "contract-test-token", "https://collections.example.com"
    settings.NOTIFICATIONS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = token
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    settings.TWILIO_WEBHOOK_BASE_URL = base
    settings.TWILIO_API_BASE_URL = prism
    collector = user_with_role("collector", "casey")
    CollectorProfileFactory(user=collector, phone="+12125550199")
    case = make_case(assigned_to=collector)  # a Massachusetts borrower: announced, recorded, kept 3 years
    number = str(PhoneFactory(borrower=case.borrower).number)
    client = Client()
    client.force_login(collector)
    noon_in_boston = dt.datetime(2025, 6, 4, 16, tzinfo=dt.UTC)
    with time_machine.travel(noon_in_boston, tick=False), django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("case-action", args=[case.pk, "call-start"]), {"to": number})
    call = CollectorCall.objects.get()
    assert (call.status, call.error) == ("ringing", "")  # the mock accepted the request
    assert call.provider_id.startswith("CA") and call.record and call.disclosure

    def callback(name, **params):
        return signed_callback(Client(), reverse(name), params, token=token, base=base)

    leg = "CA" + "1" * 32
    for status, extra in (("initiated", {}), ("answered", {}), ("completed", {"CallDuration": "84"})):
        answer = callback("twilio-collector-call-status", AccountSid=ACCOUNT_SID, CallSid=leg,
                          ParentCallSid=call.provider_id, CallStatus=status, **extra)  # fmt: skip
        assert answer.status_code == 204
    recording_id = "RE" + "2" * 32
    media = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording_id}"
    answer = callback("twilio-collector-call-recording", AccountSid=ACCOUNT_SID, CallSid=call.provider_id,
                      RecordingSid=recording_id, RecordingStatus="completed", RecordingDuration="80",
                      RecordingChannels="2", RecordingSource="DialVerb", RecordingUrl=media)  # fmt: skip
    assert answer.status_code == 204
    call.refresh_from_db()
    assert (call.status, call.outcome, call.duration_seconds) == ("ended", "conversation", 84)
    assert ContactEvent.objects.get(decision_id=call.decision_id).outcome == "conversation"
    recording = CallRecording.objects.get()
    assert (recording.provider_id, recording.provider, recording.duration_seconds) == (recording_id, "twilio", 80)

    CallRecording.objects.filter(pk=recording.pk).update(retain_until=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    ContactEvent.objects.update(at=dt.datetime(2019, 1, 1, tzinfo=dt.UTC))
    assert recordings_purge() == {"deleted": 1, "extended": 0, "failed": 0}  # Twilio's DELETE, as described
