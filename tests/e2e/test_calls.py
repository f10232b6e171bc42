"""Issue 13 in Chromium: a collector's call through the console backend — the gate, the simulated call and its
status callback in the ledger, the disposition "right party + promise" and the promise it opens, the recording on
the case page for the case's collector and its manager, and 404 for another collector; and the same call through
the real ``twilio`` SDK against Prism serving Twilio's official description, settled by Twilio's signed callbacks
posted to the live server. Screenshots land in test-artifacts/e2e/."""

import datetime as dt

import pytest
import requests
from playwright.sync_api import expect

from collections_app.models import CallDisposition, CollectionCase
from compliance.models import ContactEvent
from notifications.models import CallRecording, CollectorCall
from tests.e2e.conftest import PASSWORD
from tests.factories import (
    BorrowerFactory,
    CollectorProfileFactory,
    PhoneFactory,
    loan_with_schedule,
    make_case,
    team_with,
    user_with_role,
)
from tests.fake_twilio import FakeTwilio, signed_callback
from tests.zones import zone_where_it_is

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def person(role, username, **fields):
    return user_with_role(role, username, password=PASSWORD, **fields)


def a_call_placed_by_casey(page, live_server, login):
    """Casey (collector, team US, managed by morgan; a phone on her profile) presses Call on the case of a New York
    borrower for whom it is midday; jo, of another team, is the stranger. Returns the case."""
    manager, collector, stranger = person("manager", "morgan"), person("collector", "casey"), person("collector", "jo")
    team = team_with(collector, name="US", manager=manager)
    team_with(stranger, name="West")
    CollectorProfileFactory(user=collector, phone="+12125550199")
    borrower = BorrowerFactory(full_name="Midday Borrower", region="NY", time_zones=[zone_where_it_is(12)])
    loan = loan_with_schedule(("2024-02-01", "100.00"), ("2024-03-01", "100.00"), borrower=borrower)
    case = make_case(loan=loan, team=team, assigned_to=collector)
    PhoneFactory(borrower=borrower, number="+16175550142")

    login("casey")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.locator("[data-testid=call-start]").first.click()
    assert "Calling your phone" in page.locator(".alert").first.inner_text()
    return case


def test_a_console_call_is_settled_by_its_status_callback_disposed_of_and_its_recording_heard_by_the_right_people(
    page, live_server, login, shot, settings
):
    settings.NOTIFICATIONS_BACKEND = "console"  # make run's default: the call and its callbacks are simulated
    case = a_call_placed_by_casey(page, live_server, login)
    borrower = case.borrower
    # The simulated status callback settled the gate's reservation into the real outcome.
    expect(page.locator("[data-testid=call-outcome]")).to_have_text("conversation")
    event = ContactEvent.objects.get(borrower=borrower)
    assert (event.outcome, event.target_role) == ("conversation", "debtor")
    shot("call-ended-awaiting-disposition")

    form = page.locator("[data-testid=call-log]")
    form.locator("select[name=party]").select_option("right_party")
    form.locator("select[name=result]").select_option("promise")
    form.locator("input[name=note]").fill("Pays on Friday")
    form.locator("input[name=promise_amount]").fill("")  # no promise beside the result: the promise form follows
    form.locator("input[name=promise_on]").fill("")
    form.locator("[data-testid=call-log-save]").click()  # the page is updated in place (htmx)
    expect(page.locator(".alert").first).to_contain_text("Now record the promise")
    disposition = CallDisposition.objects.get()
    assert (disposition.party, disposition.result, disposition.note) == ("right_party", "promise", "Pays on Friday")
    promise = page.locator("[data-testid=call-promise-form]")
    expect(promise.locator("input[name=amount]")).to_have_value(str(case.amount_overdue))  # filled in
    promise.locator("input[name=promised_on]").fill((dt.date.today() + dt.timedelta(days=3)).isoformat())
    promise.get_by_role("button").click()
    assert "Promise recorded" in page.locator(".alert").first.inner_text()
    assert CollectionCase.objects.get(pk=case.pk).state == "promise_to_pay"

    recording = CallRecording.objects.get()
    audio = page.locator("[data-testid=recording]")
    expect(audio).to_be_visible()
    src = audio.get_attribute("src")
    assert src == f"/cases/{case.pk}/recordings/{recording.pk}/"
    heard = page.request.get(live_server.url + src)
    assert heard.status == 200 and heard.headers["content-type"] == "audio/wav" and heard.body()[:4] == b"RIFF"
    calls = page.locator("[data-testid=calls]").inner_text()
    assert "right party (the borrower) + promise to pay" in calls
    shot("collector-call-recording")

    page.context.clear_cookies()
    login("morgan")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    expect(page.locator("[data-testid=recording]")).to_be_visible()
    assert page.request.get(live_server.url + src).status == 200
    page.locator("[data-testid=legal-hold-place]").click()
    expect(page.locator("[data-testid=legal-hold]")).to_be_visible()
    shot("manager-call-recording-legal-hold")

    page.context.clear_cookies()
    login("jo")
    assert page.request.get(live_server.url + src).status == 404
    assert page.goto(f"{live_server.url}/cases/{case.pk}/").status == 404


ACCOUNT_SID, TOKEN, PUBLIC_BASE = "AC" + "0" * 32, "e2e-twilio-token", "https://collections.example.com"


class LiveClient:
    """``signed_callback``'s client for the live server: Twilio's POST, over HTTP, with its signature header."""

    def __init__(self, url: str) -> None:
        self.url = url

    def post(self, path, params, HTTP_X_TWILIO_SIGNATURE):
        return requests.post(
            self.url + path, data=params, headers={"X-Twilio-Signature": HTTP_X_TWILIO_SIGNATURE}, timeout=10
        )


def test_a_twilio_sdk_call_is_settled_by_twilios_signed_callbacks_and_its_recording_heard_by_the_right_people(
    page, live_server, login, shot, settings, prism
):
    settings.NOTIFICATIONS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_WEBHOOK_BASE_URL = PUBLIC_BASE
    settings.TWILIO_API_BASE_URL = prism  # the request to ring the collector is validated against Twilio's API
    case = a_call_placed_by_casey(page, live_server, login)
    borrower = case.borrower
    call = CollectorCall.objects.get()
    assert (call.provider, call.status, call.error) == ("twilio", "ringing", "")  # Prism accepted the SDK's request
    assert call.provider_id.startswith("CA") and call.record
    event = ContactEvent.objects.get(borrower=borrower)
    assert event.outcome == "reserved"  # the gate reserved the slot at dial time; nobody typed an outcome

    # Twilio calls back: the borrower's leg (child of the collector's), then the recording of the bridge.
    twilio = LiveClient(live_server.url)
    leg = "CA" + "1" * 32
    for status, extra in (("initiated", {}), ("answered", {}), ("completed", {"CallDuration": "84"})):
        answer = signed_callback(twilio, "/webhooks/twilio/collector-call/status/",
                                 {"AccountSid": ACCOUNT_SID, "CallSid": leg, "ParentCallSid": call.provider_id,
                                  "CallStatus": status, **extra}, token=TOKEN, base=PUBLIC_BASE)  # fmt: skip
        assert answer.status_code == 204, answer.text
    status_url = live_server.url + "/webhooks/twilio/collector-call/status/"
    forged = requests.post(status_url, {"CallSid": leg, "CallStatus": "busy"}, headers={"X-Twilio-Signature": "x"},
                           timeout=10)  # fmt: skip
    assert forged.status_code == 403
    recording_sid = "RE" + "2" * 32
    answer = signed_callback(twilio, "/webhooks/twilio/collector-call/recording/",
                             {"AccountSid": ACCOUNT_SID, "CallSid": call.provider_id, "RecordingSid": recording_sid,
                              "RecordingStatus": "completed", "RecordingDuration": "80", "RecordingChannels": "2",
                              "RecordingSource": "DialVerb",
                              "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/"
                                              f"{recording_sid}"}, token=TOKEN, base=PUBLIC_BASE)  # fmt: skip
    assert answer.status_code == 204, answer.text

    page.reload()
    expect(page.locator("[data-testid=call-outcome]")).to_have_text("conversation")
    assert ContactEvent.objects.get(borrower=borrower).outcome == "conversation"
    assert CollectorCall.objects.get().duration_seconds == 84
    recording = CallRecording.objects.get()
    audio = page.locator("[data-testid=recording]")
    expect(audio).to_be_visible()
    src = audio.get_attribute("src")
    assert src == f"/cases/{case.pk}/recordings/{recording.pk}/"
    shot("collector-twilio-call-recording")

    # Prism's description has no media: the recording's audio comes from the in-process fake of Twilio's
    # Recordings endpoint, fetched by the app with the account's credentials and streamed to the reader.
    fake = FakeTwilio(recordings={recording_sid: b"ID3" + b"\x00" * 4000}).start()
    try:
        settings.TWILIO_API_BASE_URL = fake.url
        heard = page.request.get(live_server.url + src)
        assert heard.status == 200 and heard.headers["content-type"] == "audio/mpeg" and heard.body()[:3] == b"ID3"
        assert "api.twilio.com" not in page.content()  # never a provider URL in the page

        page.context.clear_cookies()
        login("morgan")
        page.goto(f"{live_server.url}/cases/{case.pk}/")
        expect(page.locator("[data-testid=recording]")).to_be_visible()
        assert page.request.get(live_server.url + src).status == 200
        shot("manager-twilio-call-recording")

        page.context.clear_cookies()
        login("jo")
        assert page.request.get(live_server.url + src).status == 404
        assert page.goto(f"{live_server.url}/cases/{case.pk}/").status == 404
    finally:
        fake.stop()
