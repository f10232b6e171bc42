"""Click-to-call (issue 13): the gate at dial time, the provider ringing the collector then bridging to the borrower,
announced and recorded as the profiles say (REC-01); the status callbacks filling the ledger; dispositions and what
they start; recordings streamed to the case's collector and managers only, under legal hold or purged."""

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from collections_app.models import CallDisposition, CollectionCase, Hold, TeamMembership
from collections_app.selectors import performance
from compliance.models import ContactEvent, Decision, Restriction
from core.models import UserSettings
from notifications.models import CallRecording, CollectorCall
from notifications.providers import LOCMEM
from tests.factories import (
    BorrowerFactory,
    CallRecordingFactory,
    CollectorCallFactory,
    CollectorProfileFactory,
    InstallmentFactory,
    LoanFactory,
    PhoneFactory,
    certified,
    make_case,
    team_with,
    user_with_role,
)
from tests.fake_twilio import signed_callback

pytestmark = pytest.mark.django_db
NOON_NY = dt.datetime(2025, 6, 4, 16, 0, tzinfo=dt.UTC)
NOON_BEIJING = dt.datetime(2025, 6, 4, 4, 0, tzinfo=dt.UTC)
NUMBER = "+16175550142"  # the borrower's
AGENT = "+12125550199"  # the collector's own phone
TOKEN = "test-auth-token-0123456789abcdef"
BASE = "https://collections.example.com"


@pytest.fixture(autouse=True)
def provider(settings):
    settings.NOTIFICATIONS_BACKEND = "locmem"
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_WEBHOOK_BASE_URL = BASE
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    LOCMEM.sent.clear()
    LOCMEM.fail.clear()
    yield LOCMEM
    LOCMEM.sent.clear()
    LOCMEM.fail.clear()


@pytest.fixture
def collector():
    user = user_with_role("collector", "casey")
    CollectorProfileFactory(user=user, phone=AGENT)
    UserSettings.objects.create(user=user, timezone="America/Los_Angeles")
    return user


@pytest.fixture
def manager(collector):
    boss = user_with_role("manager", "morgan")
    team_with(collector, name="US", manager=boss)
    return boss


@pytest.fixture
def case(collector, manager):
    case = make_case(assigned_to=collector, team=collector.team_membership.team)
    PhoneFactory(borrower=case.borrower, number=NUMBER, sms_consent=True, autodial_consent=True)
    return case


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def act(client, case, action, data=None):
    return client.post(reverse("case-action", args=[case.pk, action]), data or {})


def said(response):
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def start_call(client, case, capture, to=NUMBER):
    """Press Call: the gate reserves, and once committed the provider is asked to ring the collector."""
    with capture(execute=True):
        response = act(client, case, "call-start", {"to": to})
    return response, CollectorCall.objects.filter(case=case).order_by("-pk").first()


def twilio(path_name, **params):
    """A signed callback from Twilio to the app."""
    path = reverse(path_name)
    if "query" in params:
        path += params.pop("query")
    return signed_callback(Client(), path, params, token=TOKEN, base=BASE)


def borrower_leg(call, status, **extra):
    return twilio("twilio-collector-call-status", CallSid="CA" + "b" * 32, ParentCallSid=call.provider_id,
                  CallStatus=status, **extra)  # fmt: skip


def ledger(call):
    return ContactEvent.objects.get(decision_id=call.decision_id)


# ---------------------------------------------------------------------------------------------------------------
# Placing the call
# ---------------------------------------------------------------------------------------------------------------
def test_a_collector_with_a_phone_is_rung_first_then_bridged_to_the_borrower_announced_and_recorded(
    collector, case, django_capture_on_commit_callbacks
):
    with time_machine.travel(NOON_NY, tick=False):
        response, call = start_call(signed_in(collector), case, django_capture_on_commit_callbacks)
    assert response["Location"].endswith(f"?call={call.decision_id}#call") and "Calling your phone" in said(response)
    # Massachusetts: two-party consent, Reg F's three years.
    assert (call.status, call.record, call.disclosure, call.retention_years) == ("ringing", True, True, 3)
    assert ledger(call).outcome == "reserved"  # the gate's slot, held at dial time
    [sent] = LOCMEM.sent
    assert sent["kind"] == "bridge" and sent["to"] == AGENT
    assert sent["status_callback"] == BASE + reverse("twilio-collector-call-status")
    twiml = sent["twiml"]
    assert '<Dial callerId="+15005550006"' in twiml and 'record="record-from-answer-dual"' in twiml
    assert f'recordingStatusCallback="{BASE}{reverse("twilio-collector-call-recording")}"' in twiml
    # The announcement is TwiML run on the borrower's side once they answer, before the two are bridged.
    disclosure = f'url="{BASE}{reverse("twilio-collector-call-disclosure")}?call={call.pk}"'
    assert re.search(rf"<Number [^>]*{re.escape(disclosure)}[^>]*>{re.escape(NUMBER)}</Number>", twiml)


def test_a_chinese_borrowers_call_is_recorded_for_five_years_without_an_announcement(
    collector, manager, django_capture_on_commit_callbacks
):
    borrower = BorrowerFactory(country="CN", region="", time_zones=["Asia/Shanghai"], language="zh-hans")
    loan = LoanFactory(borrower=borrower, currency="CNY")
    InstallmentFactory(loan=loan, number=1, due_date=dt.date(2024, 2, 1))
    case = make_case(loan=loan, assigned_to=collector)
    PhoneFactory(borrower=borrower, number="+8613800000001")
    certified(collector, on=NOON_BEIJING.date())  # CERT-01
    with time_machine.travel(NOON_BEIJING, tick=False):
        _, call = start_call(signed_in(collector), case, django_capture_on_commit_callbacks, to="+8613800000001")
    assert (call.record, call.disclosure, call.retention_years, call.language) == (True, False, 5, "zh-hans")
    twiml = LOCMEM.sent[0]["twiml"]
    assert 'record="record-from-answer-dual"' in twiml and " url=" not in twiml


def test_a_collector_without_a_phone_dials_by_hand(case, django_capture_on_commit_callbacks):
    dialler = user_with_role("collector", "jordan")
    CollectionCase.objects.filter(pk=case.pk).update(assigned_to=dialler)
    with time_machine.travel(NOON_NY, tick=False):
        response, call = start_call(signed_in(dialler), case, django_capture_on_commit_callbacks)
    assert call is None and not LOCMEM.sent and "dial +16175550142" in said(response)
    page = signed_in(dialler).get(response["Location"])
    assert b'data-testid="call-by-hand"' in page.content and b'data-testid="call-log"' in page.content


def test_a_provider_refusal_releases_the_slot_and_an_unknown_answer_keeps_it_for_review(
    collector, case, django_capture_on_commit_callbacks
):
    from notifications.providers import ProviderError

    client = signed_in(collector)
    LOCMEM.fail[AGENT] = ProviderError("permanent", "21211", "invalid number")
    with time_machine.travel(NOON_NY, tick=False):
        _, refused = start_call(client, case, django_capture_on_commit_callbacks)
    assert (refused.status, ledger(refused).outcome) == ("not_connected", "cancelled")
    LOCMEM.fail[AGENT] = ProviderError("uncertain", "timeout", "no answer in time")
    with time_machine.travel(NOON_NY + dt.timedelta(minutes=5), tick=False):
        _, unknown = start_call(client, case, django_capture_on_commit_callbacks)
    assert (unknown.status, ledger(unknown).outcome) == ("review", "reserved")
    # No callback can find a call whose answer was lost: the collector, who knows whether their phone rang, says.
    act(client, case, "call-log", {"decision": unknown.decision_id, "party": "no_answer"})
    assert ledger(unknown).outcome == "no_answer"


# ---------------------------------------------------------------------------------------------------------------
# The provider's callbacks fill the ledger
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture
def ringing(collector, case, django_capture_on_commit_callbacks):
    with time_machine.travel(NOON_NY, tick=False):
        _, call = start_call(signed_in(collector), case, django_capture_on_commit_callbacks)
    return call


def test_the_borrowers_leg_settles_the_reservation_with_the_real_outcome_and_duration_once(ringing):
    call = ringing
    assert borrower_leg(call, "initiated").status_code == 204
    call.refresh_from_db()
    assert call.status == "connecting" and call.dialled_at is not None
    borrower_leg(call, "completed", CallDuration="73")
    call.refresh_from_db()
    event = ledger(call)
    assert (call.status, call.outcome, call.duration_seconds) == ("ended", "conversation", 73)
    assert (event.outcome, event.target_role, event.debts, event.at) == (
        "conversation",
        "debtor",
        [call.case.loan_id],
        call.dialled_at,
    )
    # Repeats and late callbacks change nothing.
    borrower_leg(call, "no-answer")
    borrower_leg(call, "completed", CallDuration="1")
    call.refresh_from_db()
    assert (call.outcome, call.duration_seconds) == ("conversation", 73)
    assert ContactEvent.objects.filter(borrower=call.borrower).count() == 1


def test_an_unanswered_borrower_is_recorded_as_such_and_the_disposition_cannot_say_otherwise(collector, ringing):
    call = ringing
    borrower_leg(call, "initiated")
    borrower_leg(call, "no-answer")
    assert ledger(call).outcome == "no_answer"
    client = signed_in(collector)
    claimed = act(client, call.case, "call-log", {"decision": call.decision_id, "party": "right_party"})
    assert "not answered" in said(claimed) and not CallDisposition.objects.exists()
    act(client, call.case, "call-log", {"decision": call.decision_id, "party": "no_answer"})
    assert CallDisposition.objects.get().party == "no_answer" and ledger(call).outcome == "no_answer"


def test_when_the_collector_does_not_answer_nobody_was_called_and_the_slot_is_free(ringing):
    call = ringing
    assert twilio("twilio-collector-call-status", CallSid=call.provider_id, CallStatus="no-answer").status_code == 204
    call.refresh_from_db()
    assert (call.status, call.error, ledger(call).outcome) == (
        "not_connected",
        "Your phone did not answer.",
        "cancelled",
    )
    page = signed_in(call.collector).get(reverse("case-detail", args=[call.case_id]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "您的电话无人接听。" in page.content.decode()


def test_a_forged_callback_is_refused_and_changes_nothing(ringing):
    call = ringing
    params = {"CallSid": "CA" + "b" * 32, "ParentCallSid": call.provider_id, "CallStatus": "completed"}
    forged = signed_callback(Client(), reverse("twilio-collector-call-status"), params, token="wrong", base=BASE)
    assert forged.status_code == 403
    assert ledger(call).outcome == "reserved"


def test_the_announcement_is_in_the_borrowers_language_and_an_unknown_call_is_hung_up(ringing):
    call = ringing
    answer = twilio("twilio-collector-call-disclosure", query=f"?call={call.pk}", CallSid="CA" + "c" * 32)
    assert answer.status_code == 200 and b"<Say" in answer.content and b"This call is recorded." in answer.content
    CollectorCall.objects.filter(pk=call.pk).update(language="zh-hans")
    chinese = twilio("twilio-collector-call-disclosure", query=f"?call={call.pk}", CallSid="CA" + "c" * 32)
    assert 'language="cmn-CN"' in chinese.content.decode() and "本次通话正在录音。" in chinese.content.decode()
    unknown = twilio("twilio-collector-call-disclosure", query="?call=999999", CallSid="CA" + "c" * 32)
    assert b"<Hangup" in unknown.content


# ---------------------------------------------------------------------------------------------------------------
# Dispositions: who answered (the ledger) and what was agreed (the case)
# ---------------------------------------------------------------------------------------------------------------
def test_a_disposition_is_required_and_has_no_default(collector, ringing):
    call = ringing
    client = signed_in(collector)
    page = client.get(reverse("case-detail", args=[call.case_id]) + f"?call={call.decision_id}")
    assert re.search(r'<option value="" selected>—</option>', page.content.decode())
    refused = act(client, call.case, "call-log", {"decision": call.decision_id})
    assert "Who answered" in said(refused) and not CallDisposition.objects.exists()
    wrong = act(
        client, call.case, "call-log", {"decision": call.decision_id, "party": "voicemail", "result": "promise"}
    )
    assert "right party" in said(wrong) and not CallDisposition.objects.exists()
    no_time = act(client, call.case, "call-log", {"decision": call.decision_id, "party": "right_party",
                                                 "result": "callback"})  # fmt: skip
    assert "time to call back" in said(no_time) and not CallDisposition.objects.exists()


def test_who_answered_refines_the_outcome_the_provider_reported(collector, ringing):
    call = ringing
    borrower_leg(call, "completed", CallDuration="20")
    act(signed_in(collector), call.case, "call-log", {"decision": call.decision_id, "party": "voicemail"})
    call.refresh_from_db()
    assert ledger(call).outcome == "voicemail" == call.outcome


def test_a_wrong_party_is_not_a_conversation_with_the_debtor_so_no_quiet_period_starts(
    collector, ringing, django_capture_on_commit_callbacks
):
    call = ringing
    client = signed_in(collector)
    # The disposition may come first: it is kept and the borrower's leg settles with it.
    act(client, call.case, "call-log", {"decision": call.decision_id, "party": "wrong_party", "note": "a pharmacy"})
    borrower_leg(call, "completed", CallDuration="15")
    event = ledger(call)
    assert (event.outcome, event.target_role) == ("conversation", "third_party")
    with time_machine.travel(NOON_NY + dt.timedelta(hours=1), tick=False):
        again, second = start_call(client, call.case, django_capture_on_commit_callbacks)
    assert second.pk != call.pk and "Calling your phone" in said(again)  # no USF-09 quiet period


def test_right_party_with_a_promise_opens_the_promise_form_filled_in(collector, ringing):
    call = ringing
    borrower_leg(call, "completed", CallDuration="95")
    client = signed_in(collector)
    done = act(client, call.case, "call-log", {"decision": call.decision_id, "party": "right_party",
                                              "result": "promise", "note": "Friday"})  # fmt: skip
    assert done["Location"].endswith("?promise=1#call")
    page = client.get(done["Location"]).content.decode()
    assert 'data-testid="call-promise-form"' in page and 'value="100.00"' in page
    event = ledger(call)
    assert (event.outcome, event.target_role, event.note) == ("conversation", "debtor", "Friday")
    call.refresh_from_db()
    assert CollectionCase.objects.get(pk=call.case_id).last_contact_at == call.dialled_at


def test_a_dispute_places_a_dispute_hold_and_the_gate_stops_contact(collector, ringing):
    call = ringing
    borrower_leg(call, "completed", CallDuration="40")
    act(signed_in(collector), call.case, "call-log", {"decision": call.decision_id, "party": "right_party",
                                                     "result": "dispute", "note": "not my loan"})  # fmt: skip
    hold = Hold.objects.get(case=call.case)
    assert hold.kind == "dispute" and "not my loan" in hold.reason
    assert Restriction.objects.get(borrower=call.borrower).kind == "dispute"
    assert CollectionCase.objects.get(pk=call.case_id).state == "on_hold"


def test_a_callback_is_read_in_the_collectors_own_zone_named_on_the_form(collector, ringing):
    call = ringing
    borrower_leg(call, "completed", CallDuration="30")
    client = signed_in(collector)
    page = client.get(reverse("case-detail", args=[call.case_id]) + f"?call={call.decision_id}")
    assert "Your local time (America/Los_Angeles)" in page.content.decode()
    act(client, call.case, "call-log", {"decision": call.decision_id, "party": "right_party", "result": "callback",
                                        "callback_at": "2025-06-05T09:30"})  # fmt: skip
    case = CollectionCase.objects.get(pk=call.case_id)
    assert case.callback_at == dt.datetime(2025, 6, 5, 16, 30, tzinfo=dt.UTC)  # 09:30 in Los Angeles (PDT)


def test_one_disposition_per_call(collector, ringing):
    call = ringing
    client = signed_in(collector)
    act(client, call.case, "call-log", {"decision": call.decision_id, "party": "busy"})
    again = act(client, call.case, "call-log", {"decision": call.decision_id, "party": "right_party"})
    assert "recorded already" in said(again) and CallDisposition.objects.count() == 1


# ---------------------------------------------------------------------------------------------------------------
# Recordings: who may hear them, legal hold
# ---------------------------------------------------------------------------------------------------------------
def test_the_recording_callback_keeps_the_recording_for_the_profiles_retention(ringing):
    call = ringing
    borrower_leg(call, "initiated")
    recording_id = "RE" + "a" * 32
    answer = twilio("twilio-collector-call-recording", CallSid=call.provider_id, RecordingSid=recording_id,
                    RecordingStatus="completed", RecordingDuration="61", RecordingChannels="2",
                    RecordingUrl="https://evil.example.com/steal")  # fmt: skip
    assert answer.status_code == 204
    recording = CallRecording.objects.get()
    assert (recording.provider_id, recording.duration_seconds, recording.channels) == (recording_id, 61, 2)
    assert recording.retain_until == recording.recorded_at.replace(year=recording.recorded_at.year + 3)
    twilio("twilio-collector-call-recording", CallSid=call.provider_id, RecordingSid=recording_id,
           RecordingStatus="completed")  # fmt: skip
    assert CallRecording.objects.count() == 1


def test_a_recording_is_heard_by_the_cases_collector_and_its_manager_and_no_one_else(collector, manager, case):
    team = collector.team_membership.team
    team.collectors_see_team_cases = True
    team.save()
    teammate = user_with_role("collector", "taylor")
    TeamMembership.objects.create(user=teammate, team=team)
    recording = CallRecordingFactory(call=CollectorCallFactory(case=case, collector=collector))
    url = reverse("case-recording", args=[case.pk, recording.pk])
    heard = signed_in(collector).get(url)
    assert heard.status_code == 200 and heard["Content-Type"] == "audio/wav"
    assert b"".join(heard.streaming_content).startswith(b"RIFF") and "no-store" in heard["Cache-Control"]
    assert signed_in(manager).get(url).status_code == 200
    # The teammate sees the case (the team shares its cases) but not its recordings.
    assert signed_in(teammate).get(reverse("case-detail", args=[case.pk])).status_code == 200
    assert signed_in(teammate).get(url).status_code == 404
    page = signed_in(teammate).get(reverse("case-detail", args=[case.pk])).content.decode()
    assert "<audio" not in page
    assert (
        '<audio controls preload="none" src="' + url
        in signed_in(collector).get(reverse("case-detail", args=[case.pk])).content.decode()
    )
    # Another case's id in the path is no way in either.
    other = make_case(assigned_to=collector)
    assert signed_in(collector).get(reverse("case-recording", args=[other.pk, recording.pk])).status_code == 404


def test_managers_put_a_recording_under_legal_hold_and_collectors_cannot(collector, manager, case):
    recording = CallRecordingFactory(call=CollectorCallFactory(case=case, collector=collector))
    assert (
        act(signed_in(collector), case, "recording-hold", {"recording": recording.pk, "hold": "on"}).status_code == 403
    )
    act(signed_in(manager), case, "recording-hold", {"recording": recording.pk, "hold": "on"})
    recording.refresh_from_db()
    assert recording.legal_hold and recording.legal_hold_by == manager
    act(signed_in(manager), case, "recording-hold", {"recording": recording.pk})
    recording.refresh_from_db()
    assert not recording.legal_hold


# ---------------------------------------------------------------------------------------------------------------
# The console backend: the same flow, simulated
# ---------------------------------------------------------------------------------------------------------------
def test_with_the_console_backend_the_call_is_simulated_end_to_end(
    settings, collector, case, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_BACKEND = "console"
    client = signed_in(collector)
    with time_machine.travel(NOON_NY, tick=False):
        response, call = start_call(client, case, django_capture_on_commit_callbacks)
    call.refresh_from_db()
    assert (call.status, call.outcome, call.duration_seconds, call.provider) == ("ended", "conversation", 5, "console")
    assert ledger(call).outcome == "conversation"
    recording = CallRecording.objects.get(call=call)
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="call-log"' in page and reverse("case-recording", args=[case.pk, recording.pk]) in page
    media = client.get(reverse("case-recording", args=[case.pk, recording.pk]))
    assert len(b"".join(media.streaming_content)) > 40_000  # five seconds of 8 kHz 16-bit audio


def test_the_call_card_refreshes_itself_only_while_the_call_is_going(collector, ringing):
    call = ringing
    client = signed_in(collector)
    card = client.get(reverse("case-call-card", args=[call.case_id]), {"call": call.decision_id})
    assert b'hx-trigger="every 3s"' in card.content and b"ringing your phone" in card.content
    borrower_leg(call, "completed", CallDuration="12")
    card = client.get(reverse("case-call-card", args=[call.case_id]), {"call": call.decision_id})
    assert b"hx-trigger" not in card.content and b'data-testid="call-log"' in card.content


# ---------------------------------------------------------------------------------------------------------------
# Right-party contact rate, from dispositions
# ---------------------------------------------------------------------------------------------------------------
def test_the_right_party_contact_rate_counts_right_party_dispositions_over_outbound_attempts(collector, manager):
    now = timezone.now()
    for party in ("right_party", "wrong_party", "no_answer", "right_party"):
        call = CollectorCallFactory(case__assigned_to=collector, case__team=collector.team_membership.team,
                                    collector=collector)  # fmt: skip
        ContactEvent.objects.create(borrower=call.borrower, channel="call", direction="outbound", at=now,
                                    outcome="conversation" if party != "no_answer" else "no_answer",
                                    decision=call.decision, actor=collector)  # fmt: skip
        CallDisposition.objects.create(case=call.case, decision=call.decision, call=call, party=party, actor=collector)
    # An automated reminder call is not a collector's attempt.
    ContactEvent.objects.create(borrower=call.borrower, channel="call", direction="outbound", at=now,
                                outcome="conversation", automated=True)  # fmt: skip
    numbers = performance(user=manager, since=now - dt.timedelta(days=1), until=now + dt.timedelta(minutes=1))
    assert numbers["rpc"] == {"calls": 4, "right_party": 2, "rate": 0.5}
    assert Decision.objects.count() == 4


def test_the_case_page_costs_the_same_queries_however_many_calls_and_recordings(
    collector, case, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def called(case, times):
        for _ in range(times):
            call = CollectorCallFactory(case=case, collector=collector)
            CallRecordingFactory(call=call)
            CallDisposition.objects.create(case=case, decision=call.decision, call=call, party="right_party",
                                           actor=collector)  # fmt: skip
        return case

    once, often = called(case, 1), called(make_case(assigned_to=collector, team=case.team), 8)
    client = signed_in(collector)
    client.get(reverse("case-detail", args=[once.pk]))  # session and caches warm
    with CaptureQueriesContext(connection) as one_call:
        assert client.get(reverse("case-detail", args=[once.pk])).status_code == 200
    with django_assert_num_queries(len(one_call)):
        page = client.get(reverse("case-detail", args=[often.pk]))
    assert page.content.decode().count('data-testid="recording"') == 8
