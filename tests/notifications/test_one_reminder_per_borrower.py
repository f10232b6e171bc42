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
from compliance.models import ContactEvent
from notifications.models import OutboundMessage
from notifications.services import outbox_claim, outbox_send
from tests.factories import (
    BorrowerFactory,
    InstallmentFactory,
    LoanFactory,
    PhoneFactory,
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
