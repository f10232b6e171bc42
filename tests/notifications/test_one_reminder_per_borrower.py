"""Done when (issue 13, item 4): a borrower with 3 overdue loans gets 1 SMS per slot and has 1 collector.

The real daily sweep (opening, assignment, planning, over several chunks so that the borrower's loans sit in different
chunks), then the real dispatch through the Twilio SDK against the in-process fake: exactly one text per slot listing
the three amounts, one ledger entry that counts for each of the three debts, one collector for the three cases."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from collections_app.models import CollectionCase
from collections_app.sweep import sweep_run
from compliance.engine import Attempt
from compliance.models import ContactEvent
from compliance.services import PlannedContact, contacts_check_batch
from notifications.models import OutboundMessage
from notifications.services import outbox_claim, outbox_send
from tests.factories import (
    BorrowerFactory,
    ContactEventFactory,
    InstallmentFactory,
    LoanFactory,
    PhoneFactory,
    RestrictionFactory,
    team_with,
    user_with_role,
)
from tests.notifications.conftest import midday_zone

pytestmark = pytest.mark.django_db

AMOUNTS = [Decimal("100.00"), Decimal("250.00"), Decimal("75.50")]


@pytest.fixture
def twilio_fake(twilio_settings, fake_twilio):
    twilio_settings.TWILIO_API_BASE_URL = fake_twilio.url
    return fake_twilio


def borrower_with_three_overdue_loans(today):
    borrower = BorrowerFactory(region="NY", time_zones=[midday_zone()], full_name="Maria Garcia")
    PhoneFactory(borrower=borrower, sms_consent=True, autodial_consent=True)
    loans = []
    for amount in AMOUNTS:
        loan = LoanFactory(borrower=borrower)
        InstallmentFactory(loan=loan, number=1, due_date=today - dt.timedelta(days=20), principal_due=amount)
        loans.append(loan)
    return borrower, loans


def dispatch():
    token, ids = outbox_claim()
    return outbox_send(message_ids=ids, claim_token=token)


def texts(fake):
    return [r for r in fake.requests if r["path"].endswith("/Messages.json")]


def test_three_overdue_loans_make_one_text_per_slot_one_ledger_count_per_debt_and_one_collector(twilio_fake):
    first, second = user_with_role("collector", "c.first"), user_with_role("collector", "c.second")
    team_with(first, second)
    today = timezone.now().date()
    borrower, loans = borrower_with_three_overdue_loans(today)
    # Another borrower's loans between them: the three loans land in different chunks of the sweep.
    for _ in range(4):
        LoanFactory()

    sweep_run(as_of=today, chunks=3)
    cases = CollectionCase.objects.filter(borrower=borrower)
    assert cases.count() == 3 and {c.state for c in cases} == {"reminder"}
    # One collector for the three cases (round-robin would have split them between the two collectors).
    assert len({c.assigned_to_id for c in cases}) == 1 and cases.first().assigned_to_id in (first.pk, second.pk)

    sms = OutboundMessage.objects.filter(borrower=borrower, channel="sms")
    assert sms.count() == 1
    assert dispatch().get("sent", 0) >= 1
    (request,) = texts(twilio_fake)
    for loan, amount in zip(loans, AMOUNTS, strict=True):
        assert f"loan {loan.external_id}: USD {amount:,}" in request["Body"]
    assert "Maria Garcia" in request["Body"] and "STOP" in request["Body"]

    # One ledger entry for the text, counted for each of the three debts.
    entries = ContactEvent.objects.filter(borrower=borrower, channel="sms").exclude(outcome="cancelled")
    assert entries.count() == 1 and entries.get().outcome == "sent"
    for loan in loans:
        assert sum(loan.pk in e.debts for e in entries) == 1

    # The same day again: nothing new is planned or sent (idempotency keys).
    sweep_run(as_of=today, chunks=3)
    dispatch()
    assert sms.count() == 1 and len(texts(twilio_fake)) == 1

    # The next slot of the cadence (SMS every 3 days): one more text, again about the three loans.
    with time_machine.travel(timezone.now() + dt.timedelta(days=3), tick=True):
        sweep_run(as_of=today + dt.timedelta(days=3), chunks=3)
        dispatch()
    assert sms.count() == 2 and len(texts(twilio_fake)) == 2
    assert all(loan.external_id in texts(twilio_fake)[1]["Body"] for loan in loans)
    entries = ContactEvent.objects.filter(borrower=borrower, channel="sms").exclude(outcome="cancelled")
    for loan in loans:
        assert sum(loan.pk in e.debts for e in entries) == 2
    assert len({c.assigned_to_id for c in CollectionCase.objects.filter(borrower=borrower)}) == 1


def test_the_one_text_shows_on_the_page_of_each_case_it_was_about(twilio_fake, client):
    """Stored on one of the three cases, the borrower-wide text is listed on all three case pages (the ledger entry
    its decision reserved names the three loans); another borrower's case does not list it."""
    collector = user_with_role("collector", "casey")
    team_with(collector)
    today = timezone.now().date()
    borrower, _ = borrower_with_three_overdue_loans(today)
    other, _ = borrower_with_three_overdue_loans(today)
    sweep_run(as_of=today)
    dispatch()
    text = OutboundMessage.objects.get(borrower=borrower, channel="sms")
    client.force_login(collector)
    for case in CollectionCase.objects.filter(borrower=borrower):
        listed = client.get(f"/cases/{case.pk}/").context["outbox"]
        assert [m.pk for m in listed if m.channel == "sms"] == [text.pk], case
    elsewhere = CollectionCase.objects.filter(borrower=other).first()
    assert text.pk not in [m.pk for m in client.get(f"/cases/{elsewhere.pk}/").context["outbox"]]


# ---------------------------------------------------------------------------------------------------------------
# The pieces: planning, what a message covers, the gate per debt, the text
# ---------------------------------------------------------------------------------------------------------------
def borrower_reminder(today, **borrower_fields):
    """The three-loan borrower after the sweep of ``today``: their cases and the one SMS planned."""
    borrower, loans = borrower_with_three_overdue_loans(today)
    if borrower_fields:
        type(borrower).objects.filter(pk=borrower.pk).update(**borrower_fields)
    sweep_run(as_of=today, chunks=2)
    (message,) = OutboundMessage.objects.filter(borrower=borrower, channel="sms")
    return borrower, loans, message


def test_a_debt_the_gate_denies_on_its_own_is_left_out_and_the_others_go(locmem):
    today = timezone.now().date()
    borrower, loans, message = borrower_reminder(today)
    RestrictionFactory(borrower=borrower, loan=loans[1], kind="dispute")  # USF: no collection of a disputed debt
    dispatch()
    message.refresh_from_db()
    assert message.status == "sent"
    assert loans[0].external_id in message.body and loans[2].external_id in message.body
    assert loans[1].external_id not in message.body and "250.00" not in message.body
    entry = ContactEvent.objects.get(decision_id=message.decision_id)
    assert sorted(entry.debts) == sorted([loans[0].pk, loans[2].pk])


def test_a_debt_at_its_own_cap_is_left_out_while_the_others_are_texted(locmem):
    """MA-01 (Massachusetts): at most 2 initiated texts or calls per debt in 7 days, counted per debt."""
    today = timezone.now().date()
    borrower, loans, message = borrower_reminder(today, region="MA")
    for hours in (30, 20):
        ContactEventFactory(
            borrower=borrower, channel="sms", outcome="sent", debts=[loans[0].pk],
            at=timezone.now() - dt.timedelta(hours=hours),
        )  # fmt: skip
    alone = [Attempt(channel="sms", at=timezone.now(), automated=True, debts=(loan.pk,)) for loan in loans]
    answers = contacts_check_batch([PlannedContact(borrower.pk, a) for a in alone], store=False)
    assert [a.allowed for a in answers] == [False, True, True]  # the cap is per debt
    dispatch()
    message.refresh_from_db()
    assert message.status == "sent" and loans[0].external_id not in message.body
    assert loans[1].external_id in message.body and loans[2].external_id in message.body
    entry = ContactEvent.objects.get(decision_id=message.decision_id)
    assert sorted(entry.debts) == sorted([loans[1].pk, loans[2].pk])


def test_when_every_covered_debt_is_denied_the_message_is_denied_whole(locmem):
    today = timezone.now().date()
    borrower, loans, message = borrower_reminder(today)
    for loan in loans:
        RestrictionFactory(borrower=borrower, loan=loan, kind="dispute")
    dispatch()
    message.refresh_from_db()
    assert message.status == "denied" and locmem.sent == []
    assert not ContactEvent.objects.filter(borrower=borrower).exclude(outcome="cancelled").exists()


def test_a_loan_under_a_promise_is_not_in_the_reminder(locmem):
    today = timezone.now().date()
    _borrower, loans, message = borrower_reminder(today)
    CollectionCase.objects.filter(loan=loans[2]).update(state="promise_to_pay", return_state="reminder")
    dispatch()
    message.refresh_from_db()
    assert message.status == "sent" and loans[2].external_id not in message.body
    assert loans[0].external_id in message.body and loans[1].external_id in message.body


def test_the_loans_are_listed_in_chinese_for_a_chinese_borrower(locmem):
    today = timezone.now().date()
    _borrower, loans, message = borrower_reminder(today, language="zh-hans")
    dispatch()
    message.refresh_from_db()
    assert f"借款 {loans[0].external_id}：USD 100.00；借款 {loans[1].external_id}：USD 250.00" in message.body
    assert message.body.startswith("【") and "loan " not in message.body


def test_one_text_and_one_call_per_borrower_but_a_letter_per_debt_in_formal_notice():
    today = timezone.now().date()
    borrower = BorrowerFactory(region="NY", time_zones=[midday_zone()])
    for _ in range(2):
        loan = LoanFactory(borrower=borrower)
        InstallmentFactory(loan=loan, number=1, due_date=today - dt.timedelta(days=40))
    sweep_run(as_of=today, chunks=2)
    assert set(CollectionCase.objects.filter(borrower=borrower).values_list("state", flat=True)) == {"formal_notice"}
    planned = OutboundMessage.objects.filter(borrower=borrower, purpose="formal_notice")
    per_channel = {c: planned.filter(channel=c).count() for c in ("sms", "voice", "letter")}
    assert per_channel == {"sms": 1, "voice": 1, "letter": 2}  # a notice is about one debt: one letter each


def test_a_second_stage_the_same_day_finds_the_borrowers_slot_taken():
    today = timezone.now().date()
    borrower = BorrowerFactory(region="NY", time_zones=[midday_zone()])
    for days in (20, 25):
        loan = LoanFactory(borrower=borrower)
        InstallmentFactory(loan=loan, number=1, due_date=today - dt.timedelta(days=days))
    sweep_run(as_of=today)
    assert OutboundMessage.objects.filter(borrower=borrower, channel="sms").count() == 1
    # A third loan of the borrower opened a day later: the borrower's interval, not the new case's, decides.
    loan = LoanFactory(borrower=borrower)
    InstallmentFactory(loan=loan, number=1, due_date=today - dt.timedelta(days=19))
    sweep_run(as_of=today + dt.timedelta(days=1))
    assert CollectionCase.objects.filter(borrower=borrower).count() == 3
    assert OutboundMessage.objects.filter(borrower=borrower, channel="sms").count() == 1
