"""A collector's call through the real ``twilio`` SDK (against the in-process fake): what is asked of Twilio, the
callbacks in any order, the recording fetched with the account's credentials, and the daily purge (REC-01)."""

import datetime as dt

import pytest
from django.utils import timezone

from compliance.models import ContactEvent
from compliance.recording import RecordingPolicy
from compliance.services import contact_check
from notifications.providers import ProviderError, provider_get
from notifications.services import (
    collector_call_create,
    collector_call_place,
    collector_call_status_apply,
    recording_open,
    recordings_purge,
)
from notifications.tasks import purge_recordings
from tests.factories import (
    BorrowerFactory,
    CallRecordingFactory,
    CollectorCallFactory,
    ContactEventFactory,
    PhoneFactory,
    make_case,
    overdue_loan,
    user_with_role,
)
from tests.notifications.conftest import ACCOUNT_SID, PUBLIC_BASE, midday_zone

pytestmark = pytest.mark.django_db
AGENT = "+12125550199"
MEDIA = b"ID3" + b"\x00" * 5000  # what the fake serves as the MP3


@pytest.fixture
def twilio(fake_twilio, twilio_settings):
    twilio_settings.TWILIO_API_BASE_URL = fake_twilio.url
    return fake_twilio


def placed_call(*, record=True, disclosure=True):
    collector = user_with_role("collector", "casey")
    borrower = BorrowerFactory(region="NY", time_zones=[midday_zone()])
    case = make_case(loan=overdue_loan(borrower=borrower), assigned_to=collector)
    number = str(PhoneFactory(borrower=case.borrower).number)
    decision, result = contact_check(borrower_id=case.borrower_id, channel="call", to=number, loan_id=case.loan_id,
                                     actor=collector, reserve=True)  # fmt: skip
    assert result.allowed, result.reasons
    call = collector_call_create(case_id=case.pk, borrower_id=case.borrower_id, collector=collector,
                                 decision_id=decision.pk, to=number, agent_number=AGENT, language="en",
                                 policy=RecordingPolicy(record, disclosure, 3 if record else 0))  # fmt: skip
    return collector_call_place(call_id=call.pk)


def test_twilio_is_asked_to_ring_the_collector_with_the_bridge_and_both_legs_call_back(twilio):
    call = placed_call()
    [request] = twilio.requests
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert (request["To"], request["From"], request["Timeout"]) == (AGENT, "+15005550006", "30")
    assert request["StatusCallback"] == f"{PUBLIC_BASE}/webhooks/twilio/collector-call/status/"
    assert request["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert "<Number " in request["Twiml"] and call.to in request["Twiml"]
    assert (call.status, call.provider, call.provider_id[:2]) == ("ringing", "twilio", "CA")
    # A second attempt to place the same call never reaches Twilio (no idempotency key there).
    collector_call_place(call_id=call.pk)
    assert len(twilio.requests) == 1


def test_a_collectors_leg_ending_after_the_borrower_was_dialled_leaves_the_outcome_to_the_borrowers_leg(twilio):
    call = placed_call()
    leg = "CA" + "d" * 32
    collector_call_status_apply(call_sid=leg, parent_call_sid=call.provider_id, status="ringing")
    collector_call_status_apply(call_sid=call.provider_id, status="completed")  # the collector hung up first
    assert ContactEvent.objects.get(decision_id=call.decision_id).outcome == "reserved"
    collector_call_status_apply(call_sid=leg, parent_call_sid=call.provider_id, status="no-answer")
    call.refresh_from_db()
    assert (call.status, call.outcome, call.answered) == ("ended", "no_answer", False)
    assert ContactEvent.objects.get(decision_id=call.decision_id).outcome == "no_answer"


def test_a_borrowers_leg_reported_after_the_reservation_was_released_is_still_recorded(twilio):
    """The callbacks crossed: the collector's leg said nobody was dialled, then the borrower's leg reported. The
    ledger must still hold the contact (covered by the call's decision), not lose it."""
    call = placed_call()
    collector_call_status_apply(call_sid=call.provider_id, status="completed")
    assert ContactEvent.objects.get(decision_id=call.decision_id).outcome == "cancelled"
    collector_call_status_apply(call_sid="CA" + "e" * 32, parent_call_sid=call.provider_id, status="completed",
                                duration="9")  # fmt: skip
    contact = ContactEvent.objects.exclude(outcome="cancelled").get(borrower_id=call.borrower_id)
    assert (contact.outcome, contact.is_exception, contact.decision_id) == ("conversation", False, call.decision_id)
    call.refresh_from_db()
    assert (call.status, call.duration_seconds) == ("ended", 9)


def test_the_recording_is_fetched_from_twilio_with_the_accounts_credentials(twilio):
    recording = CallRecordingFactory(call=CollectorCallFactory(provider="twilio"), provider="twilio", media=False)
    twilio.recordings[recording.provider_id] = MEDIA
    media = recording_open(recording=recording)
    assert (b"".join(media.chunks), media.content_type, media.length) == (MEDIA, "audio/mpeg", len(MEDIA))
    media.close()
    [fetch] = [r for r in twilio.requests if r["kind"] == "get"]
    assert fetch["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording.provider_id}.mp3"
    assert fetch["auth"].startswith("Basic ")
    gone = CallRecordingFactory(call=CollectorCallFactory(provider="twilio"), provider="twilio", media=False)
    with pytest.raises(ProviderError) as missing:
        recording_open(recording=gone)
    assert missing.value.code == "404" and not missing.value.transient


def recorded(days_ago, *, provider="console", legal_hold=False, years=3):
    at = timezone.now() - dt.timedelta(days=days_ago)
    call = CollectorCallFactory(provider=provider, retention_years=years, dialled_at=at)
    return CallRecordingFactory(call=call, provider=provider, recorded_at=at, legal_hold=legal_hold,
                                retain_until=at.replace(year=at.year + years), media=provider != "twilio")  # fmt: skip


def test_the_daily_purge_deletes_recordings_past_their_retention_unless_held(settings, tmp_path):
    settings.RECORDINGS_DIR = str(tmp_path)
    old, held, young = recorded(4 * 365), recorded(4 * 365, legal_hold=True), recorded(30)
    assert (tmp_path / f"{old.provider_id}.wav").exists()
    assert purge_recordings() == {"deleted": 1, "extended": 0, "failed": 0}
    for row in (old, held, young):
        row.refresh_from_db()
    assert old.deleted_at is not None and not (tmp_path / f"{old.provider_id}.wav").exists()
    assert held.deleted_at is None and (tmp_path / f"{held.provider_id}.wav").exists()
    assert young.deleted_at is None
    assert recordings_purge() == {"deleted": 0, "extended": 0, "failed": 0}


def test_retention_runs_from_the_borrowers_last_contact_when_that_is_later():
    old = recorded(4 * 365)
    last = timezone.now() - dt.timedelta(days=100)
    ContactEventFactory(borrower=old.call.borrower, at=last)
    assert recordings_purge()["extended"] == 1
    old.refresh_from_db()
    assert old.deleted_at is None and old.retain_until == last.replace(year=last.year + 3)


def test_the_purge_deletes_at_twilio_and_a_recording_twilio_no_longer_has_counts_as_deleted(twilio):
    kept_at_twilio, already_gone = recorded(6 * 365, provider="twilio"), recorded(6 * 365, provider="twilio")
    twilio.recordings[kept_at_twilio.provider_id] = MEDIA
    assert recordings_purge() == {"deleted": 2, "extended": 0, "failed": 0}
    already_gone.refresh_from_db()
    assert already_gone.deleted_at is not None
    deletes = [r["path"] for r in twilio.requests if r["kind"] == "delete"]
    assert f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{kept_at_twilio.provider_id}.json" in deletes
    assert not twilio.recordings


def test_a_purge_that_twilio_refuses_is_tried_again_the_next_day(twilio):
    row = recorded(6 * 365, provider="twilio")
    twilio.stop()  # Twilio unreachable
    assert recordings_purge() == {"deleted": 0, "extended": 0, "failed": 1}
    row.refresh_from_db()
    assert row.deleted_at is None
    assert provider_get("twilio").name == "twilio"
