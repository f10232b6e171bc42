"""Reminder calls that listen (issue 15, point 3): the automated call's keypad menu (TwiML <Gather>, built with the
real ``twilio`` SDK and sent through it to the in-process fake) and its signed webhook — 9 stops automated calls, 1
texts the balance through the gate and the outbox, 2 records a promise within the policy, anything else repeats the
menu once."""

import datetime as dt
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from collections_app.models import CaseTransition, CollectionCase, PromiseToPay
from collections_app.selectors.case_page import case_page
from compliance.models import ConsentEvent, Decision
from compliance.services import consent_record, contact_check
from loans.services import product_today
from notifications.models import OutboundMessage, VoiceKeypress
from notifications.services import outbox_claim, outbox_send
from tests.factories import user_with_role
from tests.fake_twilio import signed_callback
from tests.notifications.conftest import AUTH_TOKEN, PUBLIC_BASE, due_message

pytestmark = pytest.mark.django_db


def dispatch():
    token, ids = outbox_claim()
    return outbox_send(message_ids=ids, claim_token=token)


def twiml(text):
    return ET.fromstring(text)  # noqa: S314 (the TwiML this app built, not outside input)


@pytest.fixture
def twilio_fake(twilio_settings, fake_twilio):
    twilio_settings.TWILIO_API_BASE_URL = fake_twilio.url
    return fake_twilio


@pytest.fixture
def reminder_call(twilio_fake):
    """An automated reminder call placed through the SDK (to the fake): the row, the number, the TwiML sent."""
    message, number = due_message(channel="voice")
    assert dispatch() == {"sent": 1}
    (request,) = twilio_fake.requests
    message.refresh_from_db()
    assert message.provider_id.startswith("CA")
    return message, number, twiml(request["Twiml"])


def gather_of(document):
    (gather,) = document.iter("Gather")
    return gather


def press(message, action_url, digits, *, token=AUTH_TOKEN, call_sid=None):
    """Twilio posting a <Gather>'s digits to its action URL, signed (the URL is the absolute one in the TwiML)."""
    parts = urlsplit(action_url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_BASE
    params = {"CallSid": call_sid or message.provider_id, "Digits": digits, "AccountSid": "AC" + "0" * 32}
    return signed_callback(Client(), f"{parts.path}?{parts.query}", params, token=token, base=PUBLIC_BASE)


def said(document):
    return " ".join(say.text or "" for say in document.iter("Say"))


def test_the_reminder_call_asks_for_a_key_with_an_absolute_signed_webhook_as_its_action(reminder_call):
    message, _, document = reminder_call
    assert document.tag == "Response"
    gather = gather_of(document)
    action = gather.get("action")
    assert action.startswith(PUBLIC_BASE + "/webhooks/twilio/voice-menu/?")
    assert f"message={message.pk}" in action
    assert (gather.get("numDigits"), gather.get("timeout"), gather.get("method"), gather.get("input")) == (
        "1",
        "6",
        "POST",
        "dtmf",
    )
    says = gather.findall("Say")
    assert says[0].text == message.body.removesuffix(" Goodbye.")  # the reminder first, its goodbye after the menu
    assert "Press 1" in says[1].text and "Press 2" in says[1].text and "Press 9" in says[1].text
    assert {s.get("language") for s in says} == {"en-US"}
    assert [s.text for s in document.findall("Say")] == ["Goodbye."]  # no key: a polite end


def test_a_chinese_borrower_hears_the_menu_in_mandarin(twilio_fake):
    due_message(channel="voice", language="zh-hans")
    assert dispatch() == {"sent": 1}
    gather = gather_of(twiml(twilio_fake.requests[0]["Twiml"]))
    menu = gather.findall("Say")[-1]
    assert menu.get("language") == "cmn-CN" and menu.get("voice") == "Polly.Zhiyu"
    assert "按1" in menu.text and "按9" in menu.text


def test_pressing_9_records_the_opt_out_before_the_call_ends_and_the_next_automated_call_is_denied(reminder_call):
    message, number, document = reminder_call
    response = press(message, gather_of(document).get("action"), "9")
    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    reply = twiml(response.content)
    assert "no more automated calls" in said(reply) and reply.find("Hangup") is not None
    event = ConsentEvent.objects.get(borrower_id=message.borrower_id)
    assert (event.medium, event.address, event.kind, event.source) == ("voice", number, "opt_out", "voice_keypad")
    # The very next automated call is denied, citing the opt-out rule; a text and a collector's own call are not.
    _, result = contact_check(borrower_id=message.borrower_id, channel="call", to=number, automated=True)
    assert not result.allowed and result.outcome == "deny"
    assert [(r.rule, r.message) for r in result.reasons] == [
        ("TCPA-02", "The borrower asked for no more automated calls to this number.")
    ]
    assert contact_check(borrower_id=message.borrower_id, channel="call", to=number, automated=False)[1].allowed
    assert contact_check(borrower_id=message.borrower_id, channel="sms", to=number, automated=True)[1].allowed
    keypress = VoiceKeypress.objects.get()
    assert (keypress.call_id, keypress.digits, keypress.action, keypress.done) == (message.pk, "9", "opt_out", True)


def test_the_next_reminder_call_in_the_outbox_is_denied_after_9(reminder_call):
    message, _, document = reminder_call
    press(message, gather_of(document).get("action"), "9")
    later = OutboundMessage.objects.create(
        idempotency_key="next-call", borrower=message.borrower, loan=message.loan, case=message.case,
        channel="voice", purpose="reminder", planned_for=timezone.now() - dt.timedelta(minutes=1),
    )  # fmt: skip
    assert dispatch() == {"denied": 1}
    later.refresh_from_db()
    assert later.status == "denied" and "TCPA-02" in Decision.objects.get(pk=later.decision_id).reasons[0]["rule"]


@pytest.mark.parametrize("how", ["forged", "unsigned", "another call"])
def test_an_unsigned_or_forged_keypad_answer_gets_403_and_writes_nothing(reminder_call, how):
    message, _, document = reminder_call
    action = gather_of(document).get("action")
    if how == "forged":
        response = press(message, action, "9", token="not-the-auth-token")
    elif how == "unsigned":
        parts = urlsplit(action)
        response = Client().post(f"{parts.path}?{parts.query}", {"CallSid": message.provider_id, "Digits": "9"})
    else:  # signed, but for a call we did not place as this message: nothing to act on
        response = press(message, action, "9", call_sid="CA" + "f" * 32)
    assert response.status_code == (200 if how == "another call" else 403)
    assert not ConsentEvent.objects.exists() and not VoiceKeypress.objects.exists()


def test_a_signed_url_cannot_be_pointed_at_another_message(reminder_call):
    message, _, document = reminder_call
    action = gather_of(document).get("action").replace(f"message={message.pk}", f"message={message.pk + 1}")
    response = press(message, action, "9")  # signed over the changed URL: valid, but no such call
    assert response.status_code == 200 and twiml(response.content).find("Hangup") is not None
    assert not ConsentEvent.objects.exists()


def test_pressing_1_queues_one_text_through_the_gate_however_often_it_is_pressed(reminder_call, twilio_fake):
    message, number, document = reminder_call
    action = gather_of(document).get("action")
    for _ in range(2):
        reply = twiml(press(message, action, "1").content)
        assert "text message" in said(reply) and reply.find("Hangup") is not None
    (text,) = OutboundMessage.objects.filter(purpose="balance")
    assert (text.channel, text.status, text.case_id, text.loan_id) == (
        "sms",
        "planned",
        message.case_id,
        message.loan_id,
    )
    assert Decision.objects.filter(channel="sms", purpose="balance", allowed=True).count() == 1  # asked once
    assert list(VoiceKeypress.objects.values_list("action", "done")) == [("balance_sms", True)] * 2
    # The dispatcher sends it like every message: through the gate again, with the balance and the pay link.
    assert dispatch() == {"sent": 1}
    sms = twilio_fake.requests[-1]
    assert sms["kind"] == "sms" and sms["To"] == number
    loan = message.loan
    assert loan.external_id in sms["Body"] and "STOP" in sms["Body"]
    assert f"{loan.outstanding_balance:,.2f}" in sms["Body"]


def test_pressing_1_when_the_gate_refuses_a_text_says_so_neutrally_and_queues_nothing(reminder_call):
    message, number, document = reminder_call
    consent_record(borrower_id=message.borrower_id, medium="sms", address=number, kind="opt_out", source="test")
    reply = twiml(press(message, gather_of(document).get("action"), "1").content)
    assert "cannot send you a text message" in said(reply) and "opted" not in said(reply)
    assert not OutboundMessage.objects.filter(purpose="balance").exists()
    keypress = VoiceKeypress.objects.get()
    assert keypress.done is False and "USF-06" in keypress.result


def test_pressing_2_records_a_promise_within_the_policy_as_the_borrowers_own(reminder_call):
    message, _, document = reminder_call
    case = message.case
    limit = case.policy.promise_max_days
    ask = twiml(press(message, gather_of(document).get("action"), "2").content)
    days_gather = gather_of(ask)
    assert days_gather.get("numDigits") == str(len(str(limit))) and days_gather.get("finishOnKey") == "#"
    assert f"from 0 to {limit}" in said(ask)
    reply = twiml(press(message, days_gather.get("action"), "5").content)
    assert "recorded your promise" in said(reply)
    promise = PromiseToPay.objects.get(case=case)
    assert promise.promised_on == product_today(case.loan.product) + dt.timedelta(days=5)
    assert promise.amount == case.loan.amount_overdue and promise.created_by is None
    case.refresh_from_db()
    assert case.state == "promise_to_pay"
    audit = CaseTransition.objects.get(case=case, transition="take_promise")
    assert (audit.actor, audit.actor_label) == (None, "borrower")
    # The case timeline shows both keys, and the promise's stage change, as the borrower's.
    page = case_page(case=case, now=timezone.now(), chinese=False)
    pressed = [i for i in page["timeline"] if i["kind"] == "keypress"]
    assert len(pressed) == 2 and {i["who"] for i in pressed} == {"the borrower (self-service)"}
    assert any(i["kind"] == "transition" and i["who"] == "the borrower (self-service)" for i in page["timeline"])


def test_a_number_of_days_beyond_the_policy_is_refused_in_speech_then_the_call_ends(reminder_call):
    message, _, document = reminder_call
    limit = message.case.policy.promise_max_days
    ask = gather_of(twiml(press(message, gather_of(document).get("action"), "2").content))
    again = twiml(press(message, ask.get("action"), str(limit + 1)).content)
    assert f"only accept a number of days from 0 to {limit}" in said(again)
    retry = gather_of(again)
    assert "try=2" in retry.get("action")
    end = twiml(press(message, retry.get("action"), str(limit + 1)).content)
    assert end.find("Gather") is None and end.find("Hangup") is not None and "cannot record a promise" in said(end)
    assert not PromiseToPay.objects.exists()
    assert list(VoiceKeypress.objects.values_list("step", "done")) == [
        ("menu", False),
        ("promise_days", False),
        ("promise_days", False),
    ]


def test_an_unknown_key_repeats_the_menu_once_then_hangs_up_politely(reminder_call):
    message, _, document = reminder_call
    again = twiml(press(message, gather_of(document).get("action"), "7").content)
    assert "not one of the choices" in said(again) and "Press 9" in said(again)
    end = twiml(press(message, gather_of(again).get("action"), "7").content)
    assert end.find("Gather") is None and end.find("Hangup") is not None and "Goodbye." in said(end)
    assert list(VoiceKeypress.objects.values_list("digits", "action")) == [("7", "unknown"), ("7", "unknown")]
    assert not ConsentEvent.objects.exists()


def test_the_case_page_shows_the_keys_pressed_as_the_borrowers_in_the_readers_language(reminder_call):
    message, _, document = reminder_call
    press(message, gather_of(document).get("action"), "9")
    collector = user_with_role("collector", "casey")
    CollectionCase.objects.filter(pk=message.case_id).update(assigned_to=collector)
    client = Client()
    client.force_login(collector)
    english = client.get(reverse("case-detail", args=[message.case_id])).content.decode()
    assert "asked for no more automated calls (pressed 9)" in english and "the borrower (self-service)" in english
    client.cookies["django_language"] = "zh-hans"
    chinese = client.get(reverse("case-detail", args=[message.case_id]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    body = chinese.content.decode()
    assert "提醒电话" in body and "要求不再接收自动电话 (按了 9)" in body and "借款人（自助）" in body
