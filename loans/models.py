"""Borrowers, their contact points, products, loans, repayment schedules and payments.

Money is ``Decimal`` in the loan's currency, always; the days-past-due and balance columns on ``Loan`` are a
denormalised snapshot refreshed by payments (``loans.services``) and by the daily sweep (set-based SQL).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from loans.fields import MoneyField
from loans.money import CURRENCY_CHOICES
from loans.querysets import InstallmentQuerySet, LoanQuerySet

ZERO = Decimal("0.00")


class Language(models.TextChoices):
    EN = "en", _("English")
    ZH_HANS = "zh-hans", _("Simplified Chinese")


class PreferredChannel(models.TextChoices):
    """How a borrower would rather hear from the lender (said on their own page; the collector reads it)."""

    CALL = "call", _("a phone call")
    SMS = "sms", _("a text message")
    EMAIL = "email", _("an e-mail")
    LETTER = "letter", _("a letter")


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Borrower(TimeStamped):
    """A person who owes money; national id kept only masked (for display) and hashed (for lookup)."""

    external_id = models.CharField(_("external id"), max_length=64, unique=True, null=True, blank=True)
    full_name = models.CharField(_("full name"), max_length=200)
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, default=Language.EN)
    preferred_channel = models.CharField(
        _("preferred channel"),
        max_length=8,
        choices=PreferredChannel.choices,
        blank=True,
        default="",
        db_default="",  # rows inserted by raw SQL (the bench's fixtures) need no value
        help_text=_("As the borrower said on their own page; empty: not said."),
    )
    national_id_masked = models.CharField(_("national id (masked)"), max_length=32, blank=True)
    national_id_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    # Only for the borrower page's identity check (a product may ask for it before showing money): never displayed.
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    address_line1 = models.CharField(_("address line 1"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("region / state / province"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    country = models.CharField(
        _("country"),
        max_length=2,
        validators=[RegexValidator(r"^[A-Z]{2}$", _("Use an ISO 3166-1 alpha-2 code such as US or CN."))],
        help_text=_("ISO 3166-1 alpha-2, e.g. US, CN."),
    )
    timezone = models.CharField(
        _("time zone override"),
        max_length=64,
        blank=True,
        help_text=_("IANA name; when set it replaces the zones derived from address and phone numbers."),
    )
    time_zones = models.JSONField(
        _("candidate time zones"),
        default=list,
        blank=True,
        help_text=_("Derived from the override, the address and the phone numbers' area codes."),
    )

    class Meta:
        verbose_name = _("borrower")
        verbose_name_plural = _("borrowers")
        indexes = [models.Index(fields=["country", "region"])]

    def __str__(self) -> str:
        return self.full_name


class PhoneKind(models.TextChoices):
    MOBILE = "mobile", _("mobile")
    HOME = "home", _("home")
    WORK = "work", _("work")


class PhoneNumber(TimeStamped):
    """A borrower's phone number in E.164 with the consents that decide which channels may use it."""

    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="phones")
    number = PhoneNumberField(_("number"), help_text=_("E.164, e.g. +16175550123"))
    kind = models.CharField(_("kind"), max_length=8, choices=PhoneKind.choices, default=PhoneKind.MOBILE)
    sms_consent = models.BooleanField(_("SMS consent"), default=False)
    autodial_consent = models.BooleanField(
        _("autodialer / prerecorded consent"),
        default=False,
        help_text=_("TCPA prior express consent for automated calls and texts to this number."),
    )
    position = models.PositiveSmallIntegerField(default=0, help_text=_("0 is the primary number."))

    class Meta:
        verbose_name = _("phone number")
        verbose_name_plural = _("phone numbers")
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["borrower", "number"], name="phone_unique_per_borrower")]
        indexes = [models.Index(fields=["number"])]

    def __str__(self) -> str:
        return str(self.number)


class EmailKind(models.TextChoices):
    PERSONAL = "personal", _("personal")
    WORK = "work", _("work")


class EmailAddress(TimeStamped):
    """A borrower's email address (work addresses matter: employers may prohibit contact there)."""

    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="emails")
    address = models.EmailField(_("address"))
    kind = models.CharField(_("kind"), max_length=8, choices=EmailKind.choices, default=EmailKind.PERSONAL)

    class Meta:
        verbose_name = _("email address")
        verbose_name_plural = _("email addresses")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["borrower", "address"], name="email_unique_per_borrower")]

    def __str__(self) -> str:
        return self.address


class PortalFactor(models.TextChoices):
    """What a borrower confirms on their page before it shows money or personal details."""

    NONE = "none", _("nothing (the link alone)")
    BIRTH_DATE = "birth_date", _("date of birth")
    NATIONAL_ID_LAST4 = "national_id_last4", _("last 4 characters of the national id")


def validate_licences(value: Any) -> None:
    """A product's licence numbers: an object of profile code → licence number, both text."""
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                              for k, v in value.items()):  # fmt: skip
        raise ValidationError(_('Give an object of profile code and licence number, e.g. {"US_CA": "10059-99"}.'))


class LoanProduct(TimeStamped):
    """A lending product: its currency, business time zone, payment allocation order and the borrower page's check."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    lender_name = models.CharField(_("lender"), max_length=120, help_text=_("As named in messages to borrowers."))
    lender_address = models.TextField(
        _("lender's address"),
        blank=True,
        help_text=_("On the letterhead of letters and notices, one line each; blank: the LENDER_ADDRESS setting."),
    )
    lender_licences = models.JSONField(
        _("lender's licence numbers"),
        default=dict,
        blank=True,
        validators=[validate_licences],
        help_text=_(
            'By jurisdiction profile, shown on letters where the profile requires it, e.g. {"US_CA": "10059-99"}.'
        ),
    )
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    timezone = models.CharField(
        _("business time zone"),
        max_length=64,
        default="UTC",
        help_text=_("Due dates are calendar dates in this zone; a payment counts on its local date here."),
    )
    allocation_order = models.JSONField(
        _("allocation order"),
        default=list,
        help_text=_('Components a payment pays first within an installment, e.g. ["fee", "interest", "principal"].'),
    )
    portal_factor = models.CharField(
        _("borrower page check"),
        max_length=20,
        choices=PortalFactor.choices,
        default=PortalFactor.NONE,
        help_text=_("What the borrower confirms on their page before it shows amounts and their details."),
    )

    class Meta:
        verbose_name = _("loan product")
        verbose_name_plural = _("loan products")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.currency})"


class LoanStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    PAID_OFF = "paid_off", _("paid off")
    WRITTEN_OFF = "written_off", _("written off")
    CANCELLED = "cancelled", _("cancelled")


class Loan(TimeStamped):
    """One loan of one borrower, with a snapshot of how overdue it is (refreshed by payments and the sweep)."""

    external_id = models.CharField(_("external id"), max_length=64, unique=True)
    borrower = models.ForeignKey(Borrower, on_delete=models.PROTECT, related_name="loans")
    product = models.ForeignKey(LoanProduct, on_delete=models.PROTECT, related_name="loans")
    principal = MoneyField(_("principal"), validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    annual_rate = models.DecimalField(_("annual rate (%)"), max_digits=7, decimal_places=4, null=True, blank=True)
    term_months = models.PositiveSmallIntegerField(_("term (months)"), null=True, blank=True)
    disbursed_on = models.DateField(_("disbursed on"))
    status = models.CharField(_("status"), max_length=12, choices=LoanStatus.choices, default=LoanStatus.ACTIVE)

    # Snapshot (see module docstring): never edited by hand.
    days_past_due = models.PositiveIntegerField(_("days past due"), default=0, editable=False)
    overdue_since = models.DateField(_("overdue since"), null=True, blank=True, editable=False)
    amount_overdue = MoneyField(_("amount overdue"), default=ZERO, editable=False)
    outstanding_balance = MoneyField(_("outstanding balance"), default=ZERO, editable=False)
    credit_balance = MoneyField(_("credit (over-payment)"), default=ZERO, editable=False)
    balances_as_of = models.DateField(_("snapshot last changed as of"), null=True, blank=True, editable=False)

    objects = LoanQuerySet.as_manager()

    class Meta:
        verbose_name = _("loan")
        verbose_name_plural = _("loans")
        indexes = [
            models.Index(fields=["status", "days_past_due"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(principal__gt=0), name="loan_principal_positive"),
        ]

    def __str__(self) -> str:
        return self.external_id


class Installment(models.Model):
    """One scheduled repayment, split into principal, interest and fees, with what has been paid of each."""

    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="installments")
    number = models.PositiveSmallIntegerField(_("number"))
    due_date = models.DateField(_("due date"))
    principal_due = MoneyField(_("principal due"), default=ZERO)
    interest_due = MoneyField(_("interest due"), default=ZERO)
    fee_due = MoneyField(_("fees due"), default=ZERO)
    opening_paid = MoneyField(
        _("paid before intake"),
        default=ZERO,
        help_text=_("Paid before the loan came into this system (no payment records exist for it)."),
    )
    principal_paid = MoneyField(_("principal paid"), default=ZERO, editable=False)
    interest_paid = MoneyField(_("interest paid"), default=ZERO, editable=False)
    fee_paid = MoneyField(_("fees paid"), default=ZERO, editable=False)
    paid_on = models.DateField(_("fully paid on"), null=True, blank=True, editable=False)

    objects = InstallmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("installment")
        verbose_name_plural = _("installments")
        ordering = ["loan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "number"], name="installment_number_unique_per_loan"),
            models.CheckConstraint(
                condition=Q(principal_due__gte=0, interest_due__gte=0, fee_due__gte=0, opening_paid__gte=0),
                name="installment_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(
                    principal_paid__lte=models.F("principal_due"),
                    interest_paid__lte=models.F("interest_due"),
                    fee_paid__lte=models.F("fee_due"),
                ),
                name="installment_not_overpaid",
            ),
        ]
        indexes = [
            # Pre-due reminders look for unpaid installments falling due on a given date.
            models.Index(fields=["due_date"], condition=Q(paid_on__isnull=True), name="installment_unpaid_due"),
        ]

    def __str__(self) -> str:
        return f"{self.loan_id} #{self.number} due {self.due_date}"

    @property
    def amount_due(self) -> Decimal:
        return self.principal_due + self.interest_due + self.fee_due

    @property
    def amount_paid(self) -> Decimal:
        return self.principal_paid + self.interest_paid + self.fee_paid


class PaymentSource(models.TextChoices):
    API = "api", _("API")
    FILE = "file", _("file import")
    MANUAL = "manual", _("entered by staff")
    DEMO = "demo", _("demo data")
    ONLINE = "online", _("paid online")


class Payment(models.Model):
    """Money received for a loan; ``reference`` is the lender's id, unique per loan (re-posting is harmless)."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="payments")
    amount = MoneyField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    received_at = models.DateTimeField(_("received at"))
    reference = models.CharField(_("reference"), max_length=100)
    source = models.CharField(_("source"), max_length=8, choices=PaymentSource.choices, default=PaymentSource.API)
    unapplied_amount = MoneyField(_("unapplied (credit)"), default=ZERO, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["loan", "received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "reference"], name="payment_reference_unique_per_loan"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]
        indexes = [models.Index(fields=["loan", "received_at"])]

    def __str__(self) -> str:
        return f"{self.reference}: {self.amount} {self.currency}"


class Component(models.TextChoices):
    PRINCIPAL = "principal", _("principal")
    INTEREST = "interest", _("interest")
    FEE = "fee", _("fee")


class PaymentAllocation(models.Model):
    """Where a payment went: which installment and component (rebuilt whenever the loan is re-allocated)."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="allocations")
    installment = models.ForeignKey(Installment, on_delete=models.CASCADE, related_name="allocations")
    component = models.CharField(max_length=10, choices=Component.choices)
    amount = MoneyField()

    class Meta:
        verbose_name = _("payment allocation")
        verbose_name_plural = _("payment allocations")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive")]

    def __str__(self) -> str:
        return f"{self.amount} → {self.component} of installment {self.installment_id}"


class PaymentKind(models.TextChoices):
    OVERDUE = "overdue", _("the amount overdue")
    BALANCE = "balance", _("the full balance")
    CHOSEN = "chosen", _("an amount of your choice")


class CheckoutProvider(models.TextChoices):
    CONSOLE = "console", _("demo payments")
    STRIPE = "stripe", _("card (Stripe)")


class CheckoutStatus(models.TextChoices):
    STARTED = "started", _("started")
    SUCCEEDED = "succeeded", _("paid")
    FAILED = "failed", _("failed")


class PaymentCheckout(models.Model):
    """One attempt by a borrower to pay online: what was asked of the provider and how it ended. Its payment is
    recorded once, through ``payment_record``, when the provider confirms it (``loans.payments``)."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="checkouts")
    kind = models.CharField(_("what is paid"), max_length=8, choices=PaymentKind.choices)
    amount = MoneyField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    provider = models.CharField(_("provider"), max_length=8, choices=CheckoutProvider.choices)
    provider_id = models.CharField(_("provider's id"), max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=9, choices=CheckoutStatus.choices, default=CheckoutStatus.STARTED)
    failure_reason = models.CharField(_("why it failed"), max_length=500, blank=True)
    # The caller's key for one press of "pay" (a double submit starts one checkout), also sent to the provider.
    idempotency_key = models.CharField(max_length=64, unique=True)
    payment = models.OneToOneField(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="checkout", editable=False
    )
    created_at = models.DateTimeField(_("started at"), auto_now_add=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("online payment")
        verbose_name_plural = _("online payments")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_id"], condition=~Q(provider_id=""), name="checkout_provider_id_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="checkout_amount_positive"),
        ]
        indexes = [models.Index(fields=["loan", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.provider} {self.provider_id or self.pk}: {self.amount} {self.currency} ({self.status})"
