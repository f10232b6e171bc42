"""Fixtures for the outbox: due messages to borrowers for whom it is midday now, providers, Twilio settings."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from notifications.providers import LOCMEM
from tests.factories import (
    BorrowerFactory,
    InstallmentFactory,
    LoanFactory,
    OutboundMessageFactory,
    PhoneFactory,
    make_case,
)
from tests.fake_twilio import FakeTwilio
from tests.zones import zone_where_it_is

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC_BASE = "https://collections.example.com"


def midday_zone(now: dt.datetime | None = None) -> str:
    """A zone where it is around noon now: contact-hour rules are real and the tests do not depend on the hour."""
    return zone_where_it_is(12, now)


def due_message(*, channel: str = "sms", purpose: str = "reminder", phone: str | None = None, **borrower_fields):
    """A planned, due message on a case in the reminder stage of a New York borrower with consent to texts and
    automated calls."""
    borrower = BorrowerFactory(region="NY", time_zones=[midday_zone()], **borrower_fields)
    loan = LoanFactory(borrower=borrower)
    InstallmentFactory(loan=loan, number=1, due_date=dt.date(2024, 2, 1))
    case = make_case(loan=loan)
    number = PhoneFactory(
        borrower=borrower, sms_consent=True, autodial_consent=True, **({"number": phone} if phone else {})
    ).number
    return OutboundMessageFactory(
        idempotency_key=f"test:{case.pk}:{channel}:{purpose}",
        case=case,
        channel=channel,
        purpose=purpose,
        planned_for=timezone.now() - dt.timedelta(minutes=1),
    ), str(number)


@pytest.fixture
def locmem(settings):
    settings.NOTIFICATIONS_BACKEND = "locmem"
    LOCMEM.sent.clear()
    LOCMEM.fail.clear()
    yield LOCMEM
    LOCMEM.sent.clear()
    LOCMEM.fail.clear()


@pytest.fixture
def fake_twilio():
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture
def twilio_settings(settings):
    settings.NOTIFICATIONS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_WEBHOOK_BASE_URL = PUBLIC_BASE
    settings.TWILIO_TIMEOUT_SECONDS = 2.0
    return settings


@pytest.fixture(autouse=True)
def _send_inline(settings):
    """Provider calls in the test's own thread: pool threads have their own connections, which cannot see the
    rows of a test that runs inside a transaction. Transactional tests set PROVIDER_CONCURRENCY themselves."""
    settings.PROVIDER_CONCURRENCY = 1
