"""Paying from the borrower's page (issue 15): what to pay is chosen without JavaScript (the amount overdue, the
balance, or an amount of one's choice at least the policy's minimum, refused beside the field in the borrower's
language and kept as typed); the console provider pays at once and shows the receipt and the case's new state;
with Stripe (localstripe) the card step alone loads Stripe.js, a card asking for 3-D Secure is confirmed in the
browser with the client secret, and the signed webhook completes it; every step is audited as the borrower's and
shown on the case timeline; bank-transfer details with the loan's own reference are on the page."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from collections_app.models import CaseState, CollectionCase
from loans.models import CheckoutStatus, Payment, PaymentCheckout
from loans.payments import transfer_reference, transfer_reference_display
from notifications.models import OutboundMessage, PortalEvent
from notifications.services import portal_link_issue
from tests.factories import (
    BorrowerFactory,
    OutboundMessageFactory,
    ProductFactory,
    loan_with_schedule,
    make_case,
    team_with,
    user_with_role,
)
from tests.loans.test_payments import post_event, succeeded_event
from tests.localstripe import card_token

pytestmark = pytest.mark.django_db


def borrower_owing(*, language="en", product=None, **fields):
    """A borrower whose one loan has 100.00 overdue since ten days ago and 100.00 due in twenty days, in the reminder
    stage, with a reminder planned for later."""
    today = timezone.localdate()
    borrower = BorrowerFactory(full_name="Maria Garcia", language=language, **fields)
    loan = loan_with_schedule(((today - dt.timedelta(days=10)).isoformat(), "100.00"),
                              ((today + dt.timedelta(days=20)).isoformat(), "100.00"), borrower=borrower,
                              **({"product": product} if product else {}))  # fmt: skip
    case = make_case(loan=loan, balances_as_of=today)
    message = OutboundMessageFactory(case=case, planned_for=timezone.now() + dt.timedelta(hours=1))
    return borrower, case, message


def text(response) -> str:
    return response.content.decode()


def form_key(body: str) -> str:
    found = re.search(r'name="key" value="([0-9a-f]{32})"', body)
    assert found, "no payment form"
    return found.group(1)


def pay(client, token, case, **fields):
    page = client.get(reverse("portal-page", args=[token]))
    data = {"loan": case.loan.external_id, "key": form_key(text(page)), "lang": "en", **fields}
    return client.post(reverse("portal-pay", args=[token]), data)


@pytest.fixture
def console(settings):
    settings.PAYMENT_PROVIDER = "console"


def test_the_page_offers_the_overdue_amount_the_balance_or_a_choice_and_the_transfer_reference_without_script():
    borrower, case, _ = borrower_owing()
    body = text(Client().get(reverse("portal-page", args=[portal_link_issue(borrower_id=borrower.pk)])))
    assert 'data-action="pay"' in body
    for value in ("overdue", "balance", "chosen"):
        assert f'name="kind" value="{value}"' in body
    assert "The amount overdue <strong>USD 100.00</strong>" in body and "<strong>USD 200.00</strong>" in body
    assert "At least USD 10.00" in body  # the default collection policy's minimum
    assert transfer_reference_display(transfer_reference(case.loan.pk)) in body
    assert "<script" not in body  # choosing works without JavaScript; no other site's script on this page


def test_a_console_payment_shows_the_receipt_and_the_cases_new_state_resolves_it_and_cancels_its_messages(console):
    borrower, case, message = borrower_owing()
    token = portal_link_issue(borrower_id=borrower.pk)
    client = Client(REMOTE_ADDR="203.0.113.5")
    answer = pay(client, token, case, kind="overdue")
    assert answer.status_code == 303
    receipt = client.get(answer["Location"])
    body = text(receipt)
    assert receipt.status_code == 200 and "Thank you: payment received" in body and "USD 100.00" in body
    assert "America/New_York time" in body or "time)" in body  # the time says its zone
    case.refresh_from_db()
    message.refresh_from_db()
    assert case.state == CaseState.RESOLVED and message.status == "cancelled"
    # The new state: the loan is no longer overdue, only the next installment is left.
    assert "Nothing is overdue" in body or "USD 0.00" in body
    payment = Payment.objects.get()
    assert payment.amount == D("100.00") and payment.source == "online"
    events = list(PortalEvent.objects.order_by("id").values_list("kind", "ip"))
    assert events == [("visit", "203.0.113.5"), ("pay_started", "203.0.113.5"), ("pay_completed", None)]


def test_the_case_timeline_shows_the_payment_started_and_completed_as_the_borrowers(console):
    collector = user_with_role("collector", "c1")
    team_with(collector)
    borrower, case, _ = borrower_owing()
    CollectionCase.objects.filter(pk=case.pk).update(assigned_to=collector)
    token = portal_link_issue(borrower_id=borrower.pk)
    pay(Client(REMOTE_ADDR="203.0.113.5"), token, case, kind="chosen", amount="40")
    staff = Client()
    staff.force_login(collector)
    page = text(staff.get(reverse("case-detail", args=[case.pk])))
    loan = case.loan.external_id
    assert f"started a payment: USD 40.00 on loan {loan}" in page
    assert f"completed a payment: USD 40.00 on loan {loan}" in page
    assert "confirmed by the payment provider" in page and "the borrower (self-service)" in page


@pytest.mark.parametrize(
    ("language", "typed", "error"),
    [
        ("en", "5", "The smallest payment is USD 10.00."),
        ("en", "abc", "Enter an amount in figures, for example 25.00."),
        ("en", "", "Enter an amount."),
        ("en", "250", "That is more than the balance of USD 200.00."),
        ("zh-hans", "5", "最低还款金额为 USD 10.00。"),
    ],
)
def test_a_refused_amount_comes_back_beside_its_field_as_typed_in_the_borrowers_language(
    console, language, typed, error
):
    borrower, case, _ = borrower_owing(language=language)
    token = portal_link_issue(borrower_id=borrower.pk)
    answer = pay(Client(), token, case, kind="chosen", amount=typed, lang=language)
    body = text(answer)
    assert answer.status_code == 200
    found = re.search(r'data-testid="pay-amount-error">([^<]*)<', body)
    assert found and found.group(1) == error, body[body.find("pay-amount") - 200 :][:1200]
    assert f'value="{typed}" aria-invalid="true"' in body
    assert 'value="chosen" checked' in body
    assert not PaymentCheckout.objects.exists() and not PortalEvent.objects.filter(kind="pay_started").exists()


def test_the_same_form_sent_twice_is_one_payment_and_one_start(console):
    borrower, case, _ = borrower_owing()
    token = portal_link_issue(borrower_id=borrower.pk)
    client = Client()
    key = form_key(text(client.get(reverse("portal-page", args=[token]))))
    data = {"loan": case.loan.external_id, "key": key, "kind": "chosen", "amount": "20.00"}
    first = client.post(reverse("portal-pay", args=[token]), data)
    second = client.post(reverse("portal-pay", args=[token]), data)
    assert first["Location"] == second["Location"]
    assert PaymentCheckout.objects.count() == Payment.objects.count() == 1
    assert PortalEvent.objects.filter(kind="pay_started").count() == 1


def test_another_borrowers_payment_does_not_open_and_a_key_already_used_is_not_claimed(console):
    first, first_case, _ = borrower_owing()
    second, second_case, _ = borrower_owing()
    first_token, second_token = (portal_link_issue(borrower_id=b.pk) for b in (first, second))
    answer = pay(Client(), first_token, first_case, kind="overdue")
    key = answer["Location"].split("/pay/")[1].split("?")[0]
    assert Client().get(reverse("portal-payment", args=[second_token, key])).status_code == 403
    data = {"loan": second_case.loan.external_id, "key": key, "kind": "overdue"}
    again = Client().post(reverse("portal-pay", args=[second_token]), data)
    assert again.status_code == 200 and "This payment belongs to another loan." in text(again)
    assert PortalEvent.objects.filter(kind="pay_started").count() == 1 and Payment.objects.count() == 1


def test_a_payment_needs_the_identity_check_when_the_product_asks_for_it(console):
    product = ProductFactory(code="us-checked-pay", portal_factor="national_id_last4")
    borrower, case, _ = borrower_owing(product=product, national_id_masked="*****1234")
    token = portal_link_issue(borrower_id=borrower.pk)
    data = {"loan": case.loan.external_id, "key": "a" * 32, "kind": "overdue"}
    answer = Client().post(reverse("portal-pay", args=[token]), data)
    assert answer.status_code == 303 and answer["Location"].startswith(reverse("portal-page", args=[token]))
    assert not PaymentCheckout.objects.exists()


def test_a_forged_link_pays_nothing(console):
    borrower, case, _ = borrower_owing()
    token = portal_link_issue(borrower_id=borrower.pk)
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    data = {"loan": case.loan.external_id, "key": "a" * 32, "kind": "overdue"}
    assert Client().post(reverse("portal-pay", args=[forged]), data).status_code == 403
    assert not PaymentCheckout.objects.exists()


# ---------------------------------------------------------------------------------------------------------------
# Stripe, against localstripe
# ---------------------------------------------------------------------------------------------------------------
def test_with_stripe_the_card_step_alone_loads_stripe_js_and_a_card_paid_waits_for_the_webhook(localstripe, settings):
    borrower, case, message = borrower_owing()
    token = portal_link_issue(borrower_id=borrower.pk)
    client = Client(REMOTE_ADDR="198.51.100.4")
    answer = pay(client, token, case, kind="overdue")
    assert answer.status_code == 303
    step = client.get(answer["Location"])
    body = text(step)
    assert step.status_code == 200 and f'<script src="{settings.STRIPE_JS_URL}">' in body
    checkout = PaymentCheckout.objects.get()
    assert f'data-secret="{checkout.provider_id}_secret_' in body and 'data-key="pk_test_collections"' in body
    csp = step["Content-Security-Policy"]
    assert settings.STRIPE_API_BASE in re.search(r"script-src ([^;]*)", csp).group(1)
    assert "script-src 'self';" in Client().get(reverse("portal-page", args=[token]))["Content-Security-Policy"]
    card = client.post(reverse("portal-card", args=[token, checkout.idempotency_key]),
                       {"payment_method": card_token(localstripe)})  # fmt: skip
    assert card.status_code == 303 and "confirming=1" in card["Location"]
    waiting = client.get(card["Location"])
    assert 'data-testid="confirming"' in text(waiting) and 'http-equiv="refresh"' in text(waiting)
    assert not Payment.objects.exists()
    assert post_event(client, succeeded_event(localstripe, checkout.provider_id)).status_code == 200
    receipt = text(client.get(card["Location"]))
    assert "Thank you: payment received" in receipt and checkout.provider_id in receipt
    case.refresh_from_db()
    message.refresh_from_db()
    assert case.state == CaseState.RESOLVED and message.status == "cancelled"
    assert list(PortalEvent.objects.exclude(kind="visit").values_list("kind", flat=True).order_by("id")) == [
        "pay_started",
        "pay_completed",
    ]


def test_a_card_that_asks_for_3d_secure_is_confirmed_in_the_browser_with_the_client_secret(localstripe):
    borrower, case, _ = borrower_owing()
    token = portal_link_issue(borrower_id=borrower.pk)
    client = Client()
    pay(client, token, case, kind="balance")
    checkout = PaymentCheckout.objects.get()
    card = client.post(reverse("portal-card", args=[token, checkout.idempotency_key]),
                       {"payment_method": card_token(localstripe, "4000002500003155")})  # fmt: skip
    assert card.status_code == 303 and "authenticate=1" in card["Location"]
    body = text(client.get(card["Location"]))
    assert 'data-authenticate="1"' in body and "Your bank asks you to confirm this payment." in body
    assert localstripe.v1.payment_intents.retrieve(checkout.provider_id).status == "requires_action"


def test_a_declined_card_comes_back_to_the_card_step_with_the_reason_and_pays_nothing(localstripe):
    borrower, case, _ = borrower_owing()
    token = portal_link_issue(borrower_id=borrower.pk)
    client = Client()
    pay(client, token, case, kind="overdue")
    checkout = PaymentCheckout.objects.get()
    card = client.post(reverse("portal-card", args=[token, checkout.idempotency_key]),
                       {"payment_method": card_token(localstripe, "4000000000000341")})  # fmt: skip
    assert card.status_code == 402 and "Your card was declined." in text(card)
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.STARTED and not Payment.objects.exists()
    assert not OutboundMessage.objects.filter(status="cancelled").exists()
