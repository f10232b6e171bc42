"""Online payments (loans.payments): the amount rules, Stripe through the official SDK against localstripe, the signed
webhook, the console provider, and bank-transfer references the payment import reconciles."""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal as D

import pytest
import stripe
from django.urls import reverse
from django.utils import timezone

from collections_app.models import CaseState, CollectionCase, CollectionPolicy, PaymentPlan, PromiseToPay
from collections_app.selectors import payment_minimum
from loans.intake import payments_import
from loans.models import CheckoutStatus, Payment, PaymentCheckout, PaymentKind
from loans.payments import (
    PaymentAmountError,
    PaymentUnavailable,
    loan_id_from_transfer_reference,
    payment_amount,
    payment_start,
    transfer_instructions,
    transfer_reference,
)
from notifications.models import OutboundMessage
from tests.factories import (
    CollectionPolicyFactory,
    OutboundMessageFactory,
    PaymentPlanFactory,
    PromiseFactory,
    current_policy,
    loan_with_schedule,
    make_case,
)
from tests.localstripe import WEBHOOK_SECRET, localstripe_webhook, pay_with_test_card

pytestmark = pytest.mark.django_db

RETURN_URL = "https://pay.example.com/done"


def overdue_case(state: str = CaseState.REMINDER, **loan_fields):
    """A case whose loan has 100.00 overdue since ten days ago and 100.00 due in twenty days (today's snapshot),
    with a reminder SMS planned for later today."""
    today = timezone.localdate()
    loan = loan_with_schedule(
        ((today - dt.timedelta(days=10)).isoformat(), "100.00"),
        ((today + dt.timedelta(days=20)).isoformat(), "100.00"),
        **loan_fields,
    )
    case = make_case(state=state, loan=loan, balances_as_of=today)
    case.loan.refresh_from_db()
    message = OutboundMessageFactory(case=case, planned_for=timezone.now() + dt.timedelta(hours=1))
    return case, message


def post_event(client, event: dict, *, secret: str = WEBHOOK_SECRET, header: str | None = None):
    payload = json.dumps(event)
    if header is None:
        header = stripe.WebhookSignature.generate_signature_header(payload, secret)
    return client.post(
        reverse("stripe-webhook"), data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )


def succeeded_event(localstripe, intent_id: str) -> dict:
    """localstripe's own ``payment_intent.succeeded`` event for the intent, as Stripe would deliver it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for event in localstripe.v1.events.list(params={"type": "payment_intent.succeeded"}).data:
            if event.data.object.id == intent_id:
                return event.to_dict()
        time.sleep(0.1)
    raise AssertionError(f"localstripe sent no payment_intent.succeeded for {intent_id}")


# ---------------------------------------------------------------------------------------------------------------
# What may be paid
# ---------------------------------------------------------------------------------------------------------------
def test_the_amount_is_the_overdue_amount_the_balance_or_a_choice_between_the_minimum_and_the_balance():
    case, _ = overdue_case()
    loan = case.loan
    assert payment_amount(loan=loan, kind=PaymentKind.OVERDUE) == D("100.00")
    assert payment_amount(loan=loan, kind=PaymentKind.BALANCE) == D("200.00")
    assert payment_amount(loan=loan, kind=PaymentKind.CHOSEN, chosen=D("25.00"), minimum=D("25.00")) == D("25.00")
    with pytest.raises(PaymentAmountError, match=r"smallest payment is USD 25\.00"):
        payment_amount(loan=loan, kind=PaymentKind.CHOSEN, chosen=D("24.99"), minimum=D("25.00"))
    with pytest.raises(PaymentAmountError, match=r"more than the balance of USD 200\.00"):
        payment_amount(loan=loan, kind=PaymentKind.CHOSEN, chosen=D("200.01"), minimum=D("25.00"))
    with pytest.raises(PaymentAmountError):
        payment_amount(loan=loan, kind=PaymentKind.CHOSEN, chosen=D("30.001"), minimum=D("25.00"))
    with pytest.raises(PaymentAmountError):
        payment_amount(loan=loan, kind=PaymentKind.CHOSEN, chosen=None)


def test_a_balance_below_the_minimum_may_still_be_paid_in_full_by_choice():
    case, _ = overdue_case()
    assert payment_amount(loan=case.loan, kind=PaymentKind.CHOSEN, chosen=D("200.00"), minimum=D("500.00")) == D(
        "200.00"
    )


def test_the_minimum_comes_from_the_products_current_collection_policy():
    case, _ = overdue_case()
    assert payment_minimum(loan=case.loan) == current_policy().min_payment == D("10.00")
    own = CollectionPolicyFactory(product=case.loan.product, min_payment=D("40.00"))
    assert payment_minimum(loan=case.loan) == own.min_payment
    assert CollectionPolicy._meta.get_field("min_payment").default == D("10.00")


def test_yen_go_to_stripe_in_whole_yen_and_dollars_in_cents():
    from loans.payments import from_minor, to_minor

    assert to_minor(D("12.34"), "USD") == 1234 and from_minor(1234, "USD") == D("12.34")
    assert to_minor(D("1234.00"), "JPY") == 1234 and from_minor(1234, "JPY") == D("1234.00")


# ---------------------------------------------------------------------------------------------------------------
# The console provider (make run): completes at once, through the webhook's path
# ---------------------------------------------------------------------------------------------------------------
def test_a_console_payment_of_the_overdue_amount_cures_the_loan_resolves_the_case_and_cancels_its_messages(settings):
    settings.PAYMENT_PROVIDER = "console"
    case, message = overdue_case()
    started = payment_start(loan=case.loan, kind=PaymentKind.OVERDUE, return_url=RETURN_URL)
    assert started.redirect_url == RETURN_URL
    checkout = started.checkout
    assert checkout.status == CheckoutStatus.SUCCEEDED and checkout.provider == "console"
    payment = Payment.objects.get(loan=case.loan)
    assert (payment.amount, payment.source, payment.reference) == (
        D("100.00"),
        "online",
        f"console:{checkout.provider_id}",
    )
    assert checkout.payment == payment
    case.refresh_from_db()
    case.loan.refresh_from_db()
    assert case.loan.amount_overdue == D("0.00") and case.loan.outstanding_balance == D("100.00")
    assert case.state == CaseState.RESOLVED and case.amount_overdue == D("0.00")
    transition = case.transitions.get()
    assert transition.transition == "resolve" and transition.actor_label == "system"
    message.refresh_from_db()
    assert message.status == "cancelled" and message.status_reason == "case resolved"


def test_a_partial_payment_leaves_the_case_open_with_its_new_figures(settings):
    settings.PAYMENT_PROVIDER = "console"
    case, message = overdue_case()
    payment_start(loan=case.loan, kind=PaymentKind.CHOSEN, amount=D("40.00"), minimum=D("10.00"), return_url="/")
    case.refresh_from_db()
    message.refresh_from_db()
    assert case.state == CaseState.REMINDER and case.amount_overdue == D("60.00")
    assert message.status == "planned"


def test_a_cured_case_in_a_promise_keeps_the_promise_and_one_in_a_plan_completes_the_plan(settings):
    settings.PAYMENT_PROVIDER = "console"
    promised, _ = overdue_case(state=CaseState.PROMISE_TO_PAY)
    promise = PromiseFactory(case=promised)
    planned, _ = overdue_case(state=CaseState.PAYMENT_PLAN)
    plan = PaymentPlanFactory(case=planned, status="active", outside_policy=[])
    for case in (promised, planned):
        payment_start(loan=case.loan, kind=PaymentKind.OVERDUE, return_url="/")
    promise.refresh_from_db()
    plan.refresh_from_db()
    assert promise.status == "kept" and plan.status == "completed"
    assert set(CollectionCase.objects.filter(pk__in=[promised.pk, planned.pk]).values_list("state", flat=True)) == {
        CaseState.RESOLVED
    }
    assert (
        PromiseToPay.objects.filter(status="open").count() == PaymentPlan.objects.filter(status="active").count() == 0
    )


def test_pressing_pay_twice_with_the_same_key_starts_one_checkout_and_one_payment(settings):
    settings.PAYMENT_PROVIDER = "console"
    case, _ = overdue_case()
    first = payment_start(loan=case.loan, kind=PaymentKind.OVERDUE, return_url="/", idempotency_key="form-1")
    again = payment_start(loan=case.loan, kind=PaymentKind.OVERDUE, return_url="/", idempotency_key="form-1")
    assert first.checkout.pk == again.checkout.pk
    assert PaymentCheckout.objects.count() == Payment.objects.count() == 1


def test_an_amount_refused_by_the_rules_stores_nothing(settings):
    settings.PAYMENT_PROVIDER = "console"
    case, _ = overdue_case()
    with pytest.raises(PaymentAmountError):
        payment_start(loan=case.loan, kind=PaymentKind.CHOSEN, amount=D("1.00"), minimum=D("10.00"), return_url="/")
    assert not PaymentCheckout.objects.exists() and not Payment.objects.exists()


# ---------------------------------------------------------------------------------------------------------------
# Stripe, through the official SDK, against localstripe
# ---------------------------------------------------------------------------------------------------------------
def test_stripe_starts_a_payment_intent_for_the_amount_in_minor_units(localstripe):
    case, _ = overdue_case()
    started = payment_start(loan=case.loan, kind=PaymentKind.BALANCE, return_url=RETURN_URL)
    checkout = started.checkout
    assert checkout.provider == "stripe" and checkout.status == CheckoutStatus.STARTED
    assert checkout.provider_id.startswith("pi_") and started.client_secret.startswith(checkout.provider_id)
    intent = localstripe.v1.payment_intents.retrieve(checkout.provider_id)
    assert (intent.amount, intent.currency, intent.status) == (20000, "usd", "requires_payment_method")
    assert intent.metadata["checkout"] == str(checkout.pk) and intent.metadata["loan"] == case.loan.external_id
    assert not Payment.objects.exists()  # nothing is paid until Stripe says so


def test_a_webhook_delivered_three_times_posts_one_payment_and_resolves_the_case(localstripe, client):
    case, message = overdue_case()
    checkout = payment_start(loan=case.loan, kind=PaymentKind.OVERDUE, return_url=RETURN_URL).checkout
    assert pay_with_test_card(localstripe, checkout.provider_id) == "succeeded"
    event = succeeded_event(localstripe, checkout.provider_id)
    answers = [post_event(client, event).status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    payment = Payment.objects.get()
    assert payment.amount == D("100.00") and payment.reference == f"stripe:{checkout.provider_id}"
    checkout.refresh_from_db()
    case.refresh_from_db()
    message.refresh_from_db()
    assert checkout.status == CheckoutStatus.SUCCEEDED and checkout.payment == payment
    assert case.state == CaseState.RESOLVED and case.transitions.filter(transition="resolve").count() == 1
    assert message.status == "cancelled"


@pytest.mark.parametrize(
    "header",
    [
        "",  # unsigned
        "t=1700000000,v1=" + "0" * 64,  # forged
        None,  # signed with another secret (below)
    ],
    ids=["unsigned", "forged", "wrong-secret"],
)
def test_a_forged_or_unsigned_webhook_is_refused_and_writes_nothing(localstripe, client, header):
    case, message = overdue_case()
    checkout = payment_start(loan=case.loan, kind=PaymentKind.OVERDUE, return_url=RETURN_URL).checkout
    assert pay_with_test_card(localstripe, checkout.provider_id) == "succeeded"
    event = succeeded_event(localstripe, checkout.provider_id)
    answer = post_event(client, event, secret="whsec_not_ours", header=header)
    assert answer.status_code == 400
    checkout.refresh_from_db()
    case.refresh_from_db()
    message.refresh_from_db()
    assert not Payment.objects.exists() and checkout.status == CheckoutStatus.STARTED
    assert case.state == CaseState.REMINDER and message.status == "planned"


def test_a_stale_signature_is_refused(localstripe, client):
    case, _ = overdue_case()
    checkout = payment_start(loan=case.loan, kind=PaymentKind.OVERDUE, return_url=RETURN_URL).checkout
    pay_with_test_card(localstripe, checkout.provider_id)
    payload = json.dumps(succeeded_event(localstripe, checkout.provider_id))
    old = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET, timestamp=int(time.time()) - 600)
    answer = client.post(
        reverse("stripe-webhook"), data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=old
    )
    assert answer.status_code == 400 and not Payment.objects.exists()


def test_without_a_webhook_secret_every_event_is_refused_even_one_signed_with_an_empty_secret(
    localstripe, client, settings
):
    case, _ = overdue_case()
    checkout = payment_start(loan=case.loan, kind=PaymentKind.OVERDUE, return_url=RETURN_URL).checkout
    pay_with_test_card(localstripe, checkout.provider_id)
    event = succeeded_event(localstripe, checkout.provider_id)
    settings.STRIPE_WEBHOOK_SECRET = ""
    assert post_event(client, event, secret="").status_code == 400
    assert not Payment.objects.exists()


def test_a_declined_card_posts_nothing_and_a_failure_event_fails_the_checkout(localstripe, client):
    case, _ = overdue_case()
    checkout = payment_start(loan=case.loan, kind=PaymentKind.OVERDUE, return_url=RETURN_URL).checkout
    assert pay_with_test_card(localstripe, checkout.provider_id, card="4000000000000341") == "declined"
    deadline = time.monotonic() + 10
    while not (events := localstripe.v1.events.list(params={"type": "payment_intent.payment_failed"}).data):
        assert time.monotonic() < deadline, "no payment_failed event"
        time.sleep(0.1)
    failed = next(e for e in events if e.data.object.id == checkout.provider_id)
    assert post_event(client, failed.to_dict()).status_code == 200
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.FAILED and checkout.failure_reason
    assert not Payment.objects.exists()


def test_an_event_for_an_intent_this_system_never_started_is_acknowledged_and_ignored(localstripe, client):
    intent = localstripe.v1.payment_intents.create(params={"amount": 500, "currency": "usd"})
    pay_with_test_card(localstripe, intent.id)
    assert post_event(client, succeeded_event(localstripe, intent.id)).status_code == 200
    assert not Payment.objects.exists()


def test_stripe_unreachable_fails_the_checkout_and_charges_nothing(localstripe, settings):
    from tests.servers import free_port

    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    case, _ = overdue_case()
    with pytest.raises(PaymentUnavailable):
        payment_start(loan=case.loan, kind=PaymentKind.OVERDUE, return_url=RETURN_URL)
    checkout = PaymentCheckout.objects.get()
    assert checkout.status == CheckoutStatus.FAILED and not Payment.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_localstripe_delivers_its_own_signed_webhook_to_the_running_app(localstripe, localstripe_server, live_server):
    """End to end: the intent is paid at localstripe, which signs and posts the event to the app's webhook."""
    case, message = overdue_case()
    localstripe_webhook(localstripe_server, f"{live_server.url}{reverse('stripe-webhook')}")
    checkout = payment_start(loan=case.loan, kind=PaymentKind.OVERDUE, return_url=RETURN_URL).checkout
    assert pay_with_test_card(localstripe, checkout.provider_id) == "succeeded"
    deadline = time.monotonic() + 20  # localstripe waits a second before it delivers
    while not Payment.objects.filter(loan=case.loan).exists():
        assert time.monotonic() < deadline, "the webhook never arrived"
        time.sleep(0.2)
    case.refresh_from_db()
    message.refresh_from_db()
    assert case.state == CaseState.RESOLVED and message.status == "cancelled"
    assert OutboundMessage.objects.filter(case=case, status="planned").count() == 0


# ---------------------------------------------------------------------------------------------------------------
# Bank transfers
# ---------------------------------------------------------------------------------------------------------------
def test_a_transfer_reference_is_iso_11649_unique_per_loan_and_a_typo_matches_no_loan():
    reference = transfer_reference(123)
    assert reference.startswith("RF") and reference[4:] == "CL00000123"
    # ISO 11649: the first four characters moved to the end, letters as numbers, leave 1 modulo 97.
    moved = reference[4:] + reference[:4]
    assert int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1
    assert loan_id_from_transfer_reference(reference) == 123
    assert loan_id_from_transfer_reference(" ".join([reference[:4], reference[4:8], reference[8:]]).lower()) == 123
    assert transfer_reference(124) != reference
    typo = reference[:-1] + ("4" if reference[-1] != "4" else "5")
    assert loan_id_from_transfer_reference(typo) is None
    assert loan_id_from_transfer_reference("RF18539007547034") is None  # a valid RF reference, not one of ours


def test_the_payment_import_reconciles_a_bank_row_that_carries_the_loans_transfer_reference():
    case, _ = overdue_case()
    instructions = transfer_instructions(loan=case.loan)
    assert instructions.reference_display.replace(" ", "") == instructions.reference
    assert instructions.amount_overdue == D("100.00") and instructions.currency == "USD"
    row = {
        "loan": instructions.reference_display,  # as the borrower typed it, in groups of four
        "amount": "100.00",
        "received_at": timezone.now().isoformat(),
        "reference": "BANK-TX-0001",
    }
    summary = payments_import([(1, row)])
    assert summary.created["payments"] == 1
    payment = Payment.objects.get()
    assert payment.loan == case.loan and payment.source == "file"
    case.loan.refresh_from_db()
    assert case.loan.amount_overdue == D("0.00")
    # The same statement imported again: nothing new.
    again = dict(row, loan=instructions.reference_display)
    assert payments_import([(1, again)]).unchanged["payments"] == 1
