"""Dispatch through the gate, at most once: claim, judge at send time, send, retry, reap (locmem provider)."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from collections_app.models import CaseState, CollectionCase
from compliance.models import ConsentEvent, ContactEvent, Decision
from compliance.services import consent_record
from notifications.models import OutboundMessage
from notifications.providers import ProviderError
from notifications.services import (
    message_review_resolve,
    outbox_claim,
    outbox_reap,
    outbox_send,
    provider_pools_close,
)
from tests.factories import OutboundMessageFactory
from tests.notifications.conftest import due_message

pytestmark = pytest.mark.django_db


def send_due(provider=None):
    token, ids = outbox_claim()
    return ids, outbox_send(message_ids=ids, claim_token=token, provider=provider)


def test_a_due_sms_is_judged_rendered_sent_once_and_counted_in_the_ledger(locmem):
    message, number = due_message(full_name="Maria Garcia")
    ids, counts = send_due()
    assert ids == [message.pk] and counts == {"sent": 1}
    message.refresh_from_db()
    assert message.status == "sent" and message.provider_id.startswith("locmem-") and message.sent_at
    assert "Maria Garcia" in message.body and "USD 100.00" in message.body and "STOP" in message.body
    assert locmem.sent == [
        {"kind": "sms", "to": number, "body": message.body, "status_callback": locmem.sent[0]["status_callback"]}
    ]
    decision = Decision.objects.get(pk=message.decision_id)
    assert decision.allowed and decision.channel == "sms" and decision.automated
    event = ContactEvent.objects.get(decision=decision)
    assert event.outcome == "sent" and event.debts == [message.loan_id] and not event.is_exception
    # Nothing is due any more: a second tick claims nothing, the provider saw one message.
    assert send_due()[0] == [] and len(locmem.sent) == 1


def test_a_batch_run_again_never_sends_a_row_twice(locmem):
    _message, _ = due_message()
    token, ids = outbox_claim()
    outbox_send(message_ids=ids, claim_token=token)
    assert outbox_send(message_ids=ids, claim_token=token) == {}
    assert len(locmem.sent) == 1


def test_the_borrowers_language_picks_the_template(locmem):
    message, _ = due_message(language="zh-hans", full_name="王芳")
    send_due()
    message.refresh_from_db()
    assert message.body.startswith("【") and "王芳" in message.body and "回复TD退订" in message.body


def test_an_opted_out_number_is_denied_with_the_decision_and_nothing_is_sent(locmem):
    message, number = due_message()
    consent_record(borrower_id=message.borrower_id, medium="sms", address=number, kind="opt_out", source="test")
    assert send_due()[1] == {"denied": 1}
    message.refresh_from_db()
    assert message.status == "denied" and "opted out" in message.status_reason
    assert Decision.objects.get(pk=message.decision_id).reasons[0]["rule"] == "USF-06"
    assert locmem.sent == [] and not ContactEvent.objects.filter(outcome="reserved").exists()


def test_outside_contact_hours_the_row_is_deferred_to_the_next_allowed_instant(locmem):
    message, _ = due_message()
    late = timezone.now() + dt.timedelta(hours=10)  # 22:00 or so in the borrower's zone
    token, ids = outbox_claim()
    counts = outbox_send(message_ids=ids, claim_token=token, now=late)
    assert counts == {"deferred": 1}
    message.refresh_from_db()
    assert message.status == "deferred" and message.planned_for > late and locmem.sent == []
    # The next tick before that instant finds nothing due; at that instant it is claimed again.
    assert outbox_claim(now=message.planned_for - dt.timedelta(seconds=1))[1] == []
    assert outbox_claim(now=message.planned_for)[1] == [message.pk]


def test_a_message_for_a_resolved_case_is_cancelled_not_sent(locmem):
    message, _ = due_message()
    CollectionCase.objects.filter(pk=message.case_id).update(state=CaseState.RESOLVED)
    assert send_due()[1] == {"cancelled": 1}
    message.refresh_from_db()
    assert message.status == "cancelled" and locmem.sent == []


def test_a_stage_message_for_a_case_that_moved_on_is_cancelled(locmem):
    message, _ = due_message(purpose="reminder")
    CollectionCase.objects.filter(pk=message.case_id).update(state=CaseState.FORMAL_NOTICE)
    assert send_due()[1] == {"cancelled": 1}


def test_two_messages_to_one_borrower_in_a_batch_count_each_other(locmem):
    # Massachusetts: 2 initiated calls or texts per 7 days. Three due texts: two go, the third waits.
    first, _ = due_message(purpose="reminder")
    borrower = first.borrower
    borrower.region = "MA"
    borrower.save()
    for n in range(2):
        OutboundMessageFactory(idempotency_key=f"extra:{n}", case=first.case, planned_for=first.planned_for)
    _, counts = send_due()
    assert counts == {"sent": 2, "deferred": 1}
    assert len(locmem.sent) == 2


def test_a_transient_provider_error_plans_a_retry_and_releases_the_slot(locmem):
    message, number = due_message()
    locmem.fail[number] = ProviderError("transient", "20500", "Internal Server Error")
    assert send_due()[1] == {"planned": 1}
    message.refresh_from_db()
    assert message.status == "planned" and message.planned_for > timezone.now() and message.attempts == 1
    assert "20500" in message.status_reason and message.send_started_at is None and message.error_code == "20500"
    assert ContactEvent.objects.get(decision_id=message.decision_id).outcome == "cancelled"
    # When the provider recovers, the retry goes out once, and the sent row no longer shows the old error.
    locmem.fail.clear()
    token, ids = outbox_claim(now=message.planned_for)
    assert outbox_send(message_ids=ids, claim_token=token) == {"sent": 1}
    message.refresh_from_db()
    assert (message.status, message.error_code, message.status_reason, message.attempts) == ("sent", "", "", 2)


def test_a_permanent_opt_out_error_fails_the_row_and_records_the_opt_out(locmem):
    message, number = due_message()
    locmem.fail[number] = ProviderError("permanent", "21610", "Attempt to send to unsubscribed recipient")
    assert send_due()[1] == {"failed": 1}
    message.refresh_from_db()
    assert message.status == "failed" and message.error_code == "21610"
    assert ConsentEvent.objects.filter(address=number, kind="opt_out", source="provider_error").exists()
    assert ContactEvent.objects.get(decision_id=message.decision_id).outcome == "failed"


def test_an_uncertain_provider_answer_goes_to_review_and_keeps_counting(locmem):
    message, number = due_message()
    locmem.fail[number] = ProviderError("uncertain", "timeout", "read timed out")
    assert send_due()[1] == {"review": 1}
    message.refresh_from_db()
    assert message.status == "review" and "may have sent" in message.status_reason
    assert ContactEvent.objects.get(decision_id=message.decision_id).outcome == "reserved"
    assert outbox_claim()[1] == []  # never picked up again by itself


def test_the_reaper_returns_claims_never_sent_and_sends_uncertain_ones_to_review(locmem):
    never, _ = due_message()
    started, _ = due_message()
    _token, ids = outbox_claim()
    assert sorted(ids) == sorted([never.pk, started.pk])
    OutboundMessage.objects.filter(pk=started.pk).update(send_started_at=timezone.now())
    assert outbox_reap(older_than=dt.timedelta(minutes=10)) == {"returned": 0, "review": 0}  # not stale yet
    assert outbox_reap(older_than=dt.timedelta(0)) == {"returned": 1, "review": 1}
    never.refresh_from_db()
    started.refresh_from_db()
    assert never.status == "planned" and started.status == "review"
    assert locmem.sent == []


def test_no_phone_fails_the_row_with_a_reason(locmem):
    message, _ = due_message()
    message.borrower.phones.all().delete()
    assert send_due()[1] == {"failed": 1}
    message.refresh_from_db()
    assert "no mobile number with SMS consent" in message.status_reason


def test_a_voice_reminder_is_placed_as_an_automated_call_in_the_borrowers_language(locmem):
    message, number = due_message(channel="voice", language="zh-hans")
    assert send_due()[1] == {"sent": 1}
    call = locmem.sent[0]
    assert call["kind"] == "call" and call["to"] == number and call["language"] == "zh-hans"
    assert "再见" in call["say"]
    decision = Decision.objects.get(pk=OutboundMessage.objects.get(pk=message.pk).decision_id)
    assert decision.channel == "call" and decision.automated
    # Until the call's status arrives, its slot stays reserved and counts.
    assert ContactEvent.objects.get(decision=decision).outcome == "reserved"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_dispatchers_claiming_at_once_never_take_the_same_row():
    for _ in range(30):
        due_message()
    barrier, claimed = threading.Barrier(2), []

    def claim():
        try:
            barrier.wait()
            claimed.append(outbox_claim(limit=20)[1])
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    first, second = claimed
    assert not set(first) & set(second) and len(first) + len(second) == 30


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_with_provider_calls_in_parallel_every_message_still_goes_once(locmem, settings):
    settings.PROVIDER_CONCURRENCY = 4
    numbers = [due_message()[1] for _ in range(12)]
    try:
        _ids, counts = send_due()
    finally:
        provider_pools_close()
    assert counts == {"sent": 12}
    assert sorted(m["to"] for m in locmem.sent) == sorted(numbers)
    assert OutboundMessage.objects.filter(status="sent", provider_id__isnull=False).count() == 12
    assert ContactEvent.objects.filter(outcome="sent").count() == 12


def test_a_person_settles_a_message_in_review_either_way(locmem, settings):
    settings.PROVIDER_PAUSE_SECONDS = 0  # the pause after an uncertain answer has tests of its own
    went, number = due_message()
    locmem.fail[number] = ProviderError("uncertain", "timeout", "read timed out")
    send_due()
    went.refresh_from_db()
    assert went.status == "review"
    settled = message_review_resolve(message_id=went.pk, was_sent=True, actor=None)
    assert settled.status == "sent" and ContactEvent.objects.get(decision_id=went.decision_id).outcome == "sent"
    assert OutboundMessage.objects.get(pk=went.pk).error_code == ""

    lost, other = due_message()
    locmem.fail[other] = ProviderError("uncertain", "timeout", "read timed out")
    send_due()
    lost.refresh_from_db()
    settled = message_review_resolve(message_id=lost.pk, was_sent=False, actor=None)
    assert settled.status == "planned" and settled.send_started_at is None
    assert ContactEvent.objects.get(decision_id=lost.decision_id).outcome == "cancelled"
    locmem.fail.clear()
    assert send_due()[1] == {"sent": 1}  # judged afresh and sent once
    with pytest.raises(ValueError):
        message_review_resolve(message_id=went.pk, was_sent=False, actor=None)


def test_dispatch_texts_the_number_the_case_page_and_the_check_api_name(locmem):
    """Issue 11: one choice of number. The first consented mobile opted out: dispatch used to pick it anyway (and be
    denied) while another consented mobile was there; the page and the API judged no number at all."""
    from collections_app.selectors import contact_panel
    from compliance.services import consent_record
    from tests.factories import PhoneFactory

    message, first = due_message()
    consent_record(borrower_id=message.borrower_id, medium="sms", address=first, kind="opt_out", source="inbound_sms")
    second = str(PhoneFactory(borrower=message.borrower, sms_consent=True, autodial_consent=True, position=1).number)
    PhoneFactory(borrower=message.borrower, kind="home", sms_consent=True, position=2)  # not a mobile: never texted
    panel, _, _ = contact_panel(case=message.case, now=timezone.now(), chinese=False)
    assert {a.channel: a.to for a in panel}["sms"] == second
    assert send_due()[1] == {"sent": 1}
    message.refresh_from_db()
    assert message.to == second and [m["to"] for m in locmem.sent] == [second]
    assert message.decision.to == second
