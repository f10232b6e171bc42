"""Online payments and bank transfers: what a borrower may pay, starting a payment with a provider, and completing
it once the provider confirms it.

A payment starts as a ``PaymentCheckout`` row (committed before the provider is called: no network call inside a
transaction), then the provider is asked for it: Stripe (a PaymentIntent, paid on the page with the client secret)
or the console provider (``make run``: paid at once, no network). Either way the money is recorded by one path,
``checkout_succeeded``, called by Stripe's signed webhook or by the console provider: it locks the checkout, posts
one payment through ``payment_record`` (idempotent per loan and reference ``<provider>:<provider id>``), and lets
the apps above settle what the payment changed (``payment_settler_register``: a cured case resolves and its planned
messages are cancelled in the same transaction). An event delivered again finds the checkout paid and changes
nothing.

Bank transfers carry a reference per loan in the ISO 11649 creditor-reference format (``RF`` + two check digits +
``CL`` + the loan's number): a mistyped reference fails its check digits instead of matching another loan, and the
payment import accepts it in place of the loan's external id.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import stripe
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loans.models import (
    CheckoutProvider,
    CheckoutStatus,
    Loan,
    PaymentCheckout,
    PaymentKind,
    PaymentSource,
)
from loans.money import CURRENCY_EXPONENTS, format_money, minor_unit
from loans.services import payment_record

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")


class PaymentAmountError(ValueError):
    """An amount the borrower may not pay online (the message is for the borrower)."""


class PaymentUnavailable(Exception):
    """The provider could not start the payment (down, refused, misconfigured): nothing was charged."""


# ---------------------------------------------------------------------------------------------------------------
# What may be paid
# ---------------------------------------------------------------------------------------------------------------
def payment_amount(*, loan: Loan, kind: str, chosen: Decimal | None = None, minimum: Decimal = ZERO) -> Decimal:
    """The amount of a payment of ``kind``: the amount overdue, the full balance, or ``chosen`` — at least
    ``minimum`` (the policy's, from the caller: this app does not read policies) unless the balance is smaller, at
    most the balance, in the loan's minor unit."""
    balance = loan.outstanding_balance
    if balance <= 0:
        raise PaymentAmountError(_("Nothing is owed on this loan."))
    if kind == PaymentKind.OVERDUE:
        if loan.amount_overdue <= 0:
            raise PaymentAmountError(_("Nothing is overdue on this loan."))
        return loan.amount_overdue
    if kind == PaymentKind.BALANCE:
        return balance
    if kind != PaymentKind.CHOSEN:
        raise PaymentAmountError(_("Choose what to pay."))
    if chosen is None:
        raise PaymentAmountError(_("Enter an amount."))
    if chosen != chosen.quantize(minor_unit(loan.currency)):
        raise PaymentAmountError(_("%(currency)s has no smaller unit than that.") % {"currency": loan.currency})
    least = min(minimum, balance)
    if chosen < least or chosen <= 0:
        raise PaymentAmountError(
            _("The smallest payment is %(amount)s.") % {"amount": format_money(max(least, ZERO), loan.currency)}
        )
    if chosen > balance:
        raise PaymentAmountError(
            _("That is more than the balance of %(amount)s.") % {"amount": format_money(balance, loan.currency)}
        )
    return chosen.quantize(Decimal("0.01"))


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount in the currency's smallest unit, as Stripe counts (USD 12.34 → 1234, JPY 1234 → 1234)."""
    return int(amount.scaleb(CURRENCY_EXPONENTS[currency]))


def from_minor(units: int, currency: str) -> Decimal:
    return Decimal(units).scaleb(-CURRENCY_EXPONENTS[currency]).quantize(Decimal("0.01"))


# ---------------------------------------------------------------------------------------------------------------
# Providers
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Started:
    """What a provider answers to a new payment: its id, and how the borrower pays it (a page to go to, or the
    client secret the payment form needs)."""

    provider_id: str
    redirect_url: str = ""
    client_secret: str = ""


class Provider(Protocol):
    name: str

    def start(self, checkout: PaymentCheckout, *, return_url: str) -> Started: ...

    def resume(self, checkout: PaymentCheckout, *, return_url: str) -> Started: ...

    def after_start(self, checkout: PaymentCheckout) -> None: ...

    def card_confirm(self, checkout: PaymentCheckout, *, payment_method: str) -> CardAnswer: ...


@dataclass(frozen=True)
class CardAnswer:
    """What the provider said to a card for a checkout: ``paid`` (money taken, the webhook will confirm it),
    ``authenticate`` (the bank asks the cardholder: the page confirms the intent with the client secret), or
    ``declined`` with the bank's reason."""

    outcome: str
    message: str = ""


class ConsoleProvider:
    """``make run`` and demos: the payment succeeds at once, through the same completion path as Stripe's webhook."""

    name: str = CheckoutProvider.CONSOLE

    def start(self, checkout: PaymentCheckout, *, return_url: str) -> Started:
        # Named after the checkout's key (unique, random unless the caller chose it): a demo built twice from one
        # seed posts the same payments.
        return Started(provider_id=f"console_{checkout.idempotency_key}", redirect_url=return_url)

    def resume(self, checkout: PaymentCheckout, *, return_url: str) -> Started:
        return Started(provider_id=checkout.provider_id, redirect_url=return_url)

    def after_start(self, checkout: PaymentCheckout) -> None:
        checkout_succeeded(
            provider=self.name,
            provider_id=checkout.provider_id,
            amount=checkout.amount,
            currency=checkout.currency,
            at=timezone.now(),
        )

    def card_confirm(self, checkout: PaymentCheckout, *, payment_method: str) -> CardAnswer:
        return CardAnswer("paid")  # paid already, when it started


class StripeProvider:
    """Stripe through its official SDK: a PaymentIntent per checkout (its idempotency key is the checkout's), paid on
    the page with the client secret; Stripe's signed ``payment_intent.succeeded`` webhook completes it."""

    name: str = CheckoutProvider.STRIPE

    def client(self) -> stripe.StripeClient:
        return stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            base_addresses={"api": settings.STRIPE_API_BASE},
            max_network_retries=2,  # the SDK retries with the same idempotency key: never two intents
            http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
        )

    def start(self, checkout: PaymentCheckout, *, return_url: str) -> Started:
        intent = self.client().v1.payment_intents.create(
            params={
                "amount": to_minor(checkout.amount, checkout.currency),
                "currency": checkout.currency.lower(),
                "metadata": {"checkout": str(checkout.pk), "loan": checkout.loan.external_id},
            },
            options={"idempotency_key": f"checkout-{checkout.idempotency_key}"},
        )
        return Started(provider_id=intent.id, client_secret=intent.client_secret or "")

    def resume(self, checkout: PaymentCheckout, *, return_url: str) -> Started:
        intent = self.client().v1.payment_intents.retrieve(checkout.provider_id)
        return Started(provider_id=intent.id, client_secret=intent.client_secret or "")

    def after_start(self, checkout: PaymentCheckout) -> None:
        """Nothing: Stripe's webhook says when the borrower has paid."""

    def card_confirm(self, checkout: PaymentCheckout, *, payment_method: str) -> CardAnswer:
        """The card Stripe.js collected in the borrower's browser (its id: Stripe has the number, this system never
        does) set on the intent, and the intent confirmed. Two calls: Stripe accepts ``payment_method`` on confirm,
        but a card that needs 3-D Secure is then confirmed by the browser with the client secret either way."""
        client = self.client()
        options: Any = {"idempotency_key": f"card-{checkout.idempotency_key}-{payment_method}"[:255]}
        try:
            client.v1.payment_intents.update(checkout.provider_id, params={"payment_method": payment_method})
            intent = client.v1.payment_intents.confirm(checkout.provider_id, options=options)
        except stripe.CardError as exc:
            return CardAnswer("declined", exc.user_message or "")
        if intent.status == "requires_action":
            return CardAnswer("authenticate")
        if intent.status in ("succeeded", "processing", "requires_capture"):
            return CardAnswer("paid")
        error = intent.last_payment_error
        return CardAnswer("declined", str(error.message or "") if error is not None else "")


PROVIDERS: dict[str, Provider] = {p.name: p for p in (ConsoleProvider(), StripeProvider())}


def provider_get(name: str | None = None) -> Provider:
    return PROVIDERS[name or settings.PAYMENT_PROVIDER]


# ---------------------------------------------------------------------------------------------------------------
# Starting a payment
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PaymentStarted:
    checkout: PaymentCheckout
    redirect_url: str
    client_secret: str


def payment_start(
    *,
    loan: Loan,
    kind: str,
    return_url: str,
    amount: Decimal | None = None,
    minimum: Decimal = ZERO,
    idempotency_key: str = "",
    provider: str | None = None,
) -> PaymentStarted:
    """Start an online payment of ``kind`` (``payment_amount`` rules) and ask the provider for it.

    ``idempotency_key``: one press of "pay" (a form's token); pressing it again returns the same checkout, never a
    second one. Raises ``PaymentAmountError`` (nothing stored) or ``PaymentUnavailable`` (the checkout is failed).
    """
    backend = provider_get(provider)
    value = payment_amount(loan=loan, kind=kind, chosen=amount, minimum=minimum)
    key = idempotency_key or uuid.uuid4().hex
    with transaction.atomic():
        checkout, created = PaymentCheckout.objects.get_or_create(
            idempotency_key=key,
            defaults={
                "loan": loan,
                "kind": kind,
                "amount": value,
                "currency": loan.currency,
                "provider": backend.name,
            },
        )
    if checkout.loan_id != loan.pk:
        raise PaymentAmountError(_("This payment belongs to another loan."))
    if not created and checkout.status == CheckoutStatus.FAILED:
        raise PaymentUnavailable(checkout.failure_reason)
    if not created and checkout.provider_id:
        started = _ask(checkout, lambda: provider_get(checkout.provider).resume(checkout, return_url=return_url))
        return PaymentStarted(checkout, started.redirect_url, started.client_secret)
    # The provider is called outside any transaction: the checkout row exists whatever happens to the call.
    started = _ask(checkout, lambda: backend.start(checkout, return_url=return_url))
    PaymentCheckout.objects.filter(pk=checkout.pk).update(provider_id=started.provider_id)
    checkout.provider_id = started.provider_id
    backend.after_start(checkout)
    checkout.refresh_from_db()
    return PaymentStarted(checkout, started.redirect_url, started.client_secret)


def checkout_resume(*, checkout: PaymentCheckout, return_url: str) -> PaymentStarted:
    """A started checkout asked of its provider again (the card step reloaded): the same intent, its client
    secret. Raises ``PaymentUnavailable`` when the provider cannot be reached (the checkout is failed)."""
    started = _ask(checkout, lambda: provider_get(checkout.provider).resume(checkout, return_url=return_url))
    return PaymentStarted(checkout, started.redirect_url, started.client_secret)


def checkout_card_confirm(*, checkout: PaymentCheckout, payment_method: str) -> CardAnswer:
    """Pay a started checkout with the card the provider's script collected in the browser (its id). A declined
    card leaves the checkout started: the borrower may try another. Raises ``PaymentUnavailable`` when the provider
    cannot be reached."""
    if checkout.status != CheckoutStatus.STARTED:
        return CardAnswer("paid" if checkout.status == CheckoutStatus.SUCCEEDED else "declined")
    try:
        return provider_get(checkout.provider).card_confirm(checkout, payment_method=payment_method)
    except stripe.StripeError as exc:
        logger.warning("payment provider refused the card for checkout %s: %s", checkout.pk, exc)
        raise PaymentUnavailable(str(exc)) from exc


def _ask(checkout: PaymentCheckout, call: Callable[[], Started]) -> Started:
    try:
        return call()
    except stripe.StripeError as exc:
        logger.warning("payment provider refused checkout %s: %s", checkout.pk, exc)
        checkout_failed(checkout_id=checkout.pk, reason=f"provider error: {exc}")
        raise PaymentUnavailable(str(exc)) from exc


# ---------------------------------------------------------------------------------------------------------------
# Completing a payment: the one path for every provider
# ---------------------------------------------------------------------------------------------------------------
Settler = Callable[..., Any]  # (*, loan_ids: list[int]) -> Any, inside the payment's transaction
_settlers: list[Settler] = []
Listener = Callable[..., Any]  # (*, checkout: PaymentCheckout) -> Any, inside the payment's transaction
_listeners: list[Listener] = []


def payment_settler_register(settler: Settler) -> None:
    """The app that owns cases tells this one what to do after money arrives online (collections_app.apps): refresh
    the loans' cases, resolve the cured ones and cancel their planned messages — the daily sweep's own steps."""
    if settler not in _settlers:
        _settlers.append(settler)


def payment_completed_register(listener: Listener) -> None:
    """An app above this one records something when an online payment completes, once (notifications: the
    borrower's page's audit, against the link the payment was started from)."""
    if listener not in _listeners:
        _listeners.append(listener)


def checkout_succeeded(
    *, provider: str, provider_id: str, amount: Decimal, currency: str, at: dt.datetime
) -> PaymentCheckout | None:
    """The provider says the checkout is paid: record its payment once and settle the loan; None for a checkout
    this system never started. Delivered again (a webhook retried, replayed), it finds the checkout paid."""
    with transaction.atomic():
        # The checkout's row lock serialises deliveries of the same event: the second waits, then sees it paid.
        checkout = (
            PaymentCheckout.objects.select_for_update()
            .filter(provider=provider, provider_id=provider_id)
            .select_related("loan")
            .first()
        )
        if checkout is None or checkout.status == CheckoutStatus.SUCCEEDED:
            return checkout
        if currency.upper() != checkout.currency:
            _fail(checkout, f"paid in {currency.upper()}, expected {checkout.currency}")
            logger.error("checkout %s was paid in %s, not %s", checkout.pk, currency, checkout.currency)
            return checkout
        payment, _created = payment_record(
            loan_id=checkout.loan_id,
            amount=amount,
            received_at=at,
            reference=f"{provider}:{provider_id}",
            source=PaymentSource.ONLINE,
        )
        checkout.status, checkout.payment, checkout.completed_at = CheckoutStatus.SUCCEEDED, payment, timezone.now()
        checkout.failure_reason = ""
        checkout.save(update_fields=["status", "payment", "completed_at", "failure_reason"])
        for settle in _settlers:
            settle(loan_ids=[checkout.loan_id])
        for listen in _listeners:
            listen(checkout=checkout)
    return checkout


def checkout_failed(*, checkout_id: int, reason: str) -> None:
    """The provider says the attempt failed (declined, cancelled): the borrower may try again; a paid checkout stays
    paid (a late failure event never undoes money received)."""
    with transaction.atomic():
        checkout = PaymentCheckout.objects.select_for_update().filter(pk=checkout_id).first()
        if checkout is not None and checkout.status == CheckoutStatus.STARTED:
            _fail(checkout, reason)


def _fail(checkout: PaymentCheckout, reason: str) -> None:
    checkout.status, checkout.failure_reason, checkout.completed_at = (
        CheckoutStatus.FAILED,
        reason[:500],
        timezone.now(),
    )
    checkout.save(update_fields=["status", "failure_reason", "completed_at"])


def stripe_event_handle(*, event: dict[str, Any]) -> str:
    """A verified Stripe event (``stripe.Webhook.construct_event``): PaymentIntent succeeded → the payment is
    recorded; failed or cancelled → the checkout is failed. Returns what was done, for the log."""
    kind = event.get("type", "")
    intent = (event.get("data") or {}).get("object") or {}
    if intent.get("object") != "payment_intent":
        return "ignored"
    if kind == "payment_intent.succeeded":
        currency = str(intent["currency"]).upper()
        if currency not in CURRENCY_EXPONENTS:
            return "ignored"
        received = intent.get("amount_received") or intent["amount"]
        checkout = checkout_succeeded(
            provider=CheckoutProvider.STRIPE,
            provider_id=intent["id"],
            amount=from_minor(int(received), currency),
            currency=currency,
            at=dt.datetime.fromtimestamp(int(event["created"]), tz=dt.UTC),
        )
        return "unknown" if checkout is None else str(checkout.status)
    if kind in ("payment_intent.payment_failed", "payment_intent.canceled"):
        error = intent.get("last_payment_error") or {}
        ids = PaymentCheckout.objects.filter(provider=CheckoutProvider.STRIPE, provider_id=intent["id"])
        for checkout_id in ids.values_list("pk", flat=True):
            checkout_failed(checkout_id=checkout_id, reason=error.get("message") or kind)
        return "failed"
    return "ignored"


# ---------------------------------------------------------------------------------------------------------------
# Bank transfers
# ---------------------------------------------------------------------------------------------------------------
_REFERENCE_BODY = "CL"
_RF = re.compile(r"^RF(\d{2})(CL\d{1,19})$")


def _rf_number(text: str) -> int:
    """ISO 11649 / ISO 7064 MOD 97-10: letters count as 10 to 35."""
    return int("".join(str(int(ch, 36)) for ch in text))


def transfer_reference(loan_id: int) -> str:
    """The loan's bank-transfer reference, ISO 11649 (``RF`` + check digits + ``CL`` + loan number), unique per loan
    and the same every time it is shown."""
    body = f"{_REFERENCE_BODY}{loan_id:08d}"
    check = 98 - _rf_number(body + "RF00") % 97
    return f"RF{check:02d}{body}"


def transfer_reference_display(reference: str) -> str:
    """Groups of four, as banks print it (``RF18 CL00 0001 23``)."""
    return " ".join(reference[i : i + 4] for i in range(0, len(reference), 4))


def loan_id_from_transfer_reference(raw: str) -> int | None:
    """The loan a reference names, or None when it is not one of ours or its check digits are wrong (a typo)."""
    text = re.sub(r"[\s\-]", "", raw).upper()
    match = _RF.match(text)
    if not match or _rf_number(match.group(2) + "RF" + match.group(1)) % 97 != 1:
        return None
    return int(match.group(2)[len(_REFERENCE_BODY) :])


def loans_by_transfer_reference(values: Iterable[str]) -> dict[str, str]:
    """{value as given: the loan's external id} for the values that are valid transfer references of a loan (one
    query): the payment import uses it to reconcile bank-statement rows that carry our reference."""
    ids = {value: loan_id for value in values if (loan_id := loan_id_from_transfer_reference(value)) is not None}
    external = dict(Loan.objects.filter(pk__in=set(ids.values())).values_list("pk", "external_id"))
    return {value: external[loan_id] for value, loan_id in ids.items() if loan_id in external}


@dataclass(frozen=True)
class TransferInstructions:
    """What a borrower needs to pay by bank transfer."""

    reference: str
    reference_display: str
    account_name: str
    account_number: str
    bank_name: str
    currency: str
    amount_overdue: Decimal
    outstanding_balance: Decimal


def transfer_instructions(*, loan: Loan) -> TransferInstructions:
    reference = transfer_reference(loan.pk)
    return TransferInstructions(
        reference=reference,
        reference_display=transfer_reference_display(reference),
        account_name=settings.BANK_TRANSFER_ACCOUNT_NAME,
        account_number=settings.BANK_TRANSFER_ACCOUNT_NUMBER,
        bank_name=settings.BANK_TRANSFER_BANK_NAME,
        currency=loan.currency,
        amount_overdue=loan.amount_overdue,
        outstanding_balance=loan.outstanding_balance,
    )
