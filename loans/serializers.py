"""Input validation for borrowers, loans and payments — shared by the file importers and the API.

Each row is validated on its own here; whole-file rules (duplicates, conflicts with stored data) live in
``loans.intake``. Unknown fields are errors, not silently dropped: a typo in a column name must not lose data.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers

from core.api import StrictInput
from core.zones import is_valid_zone
from loans.inputs import DATE_RANGE_MESSAGE, date_in_range
from loans.models import EmailKind, Language, PhoneKind
from loans.money import CURRENCY_EXPONENTS, MAX_AMOUNT, MoneyError, parse_money
from loans.schedule import MAX_TERM_MONTHS, equal_installments
from loans.timezones import US_STATE_ZONES


class MoneyField(serializers.CharField):
    """An amount as a string or number (not float); decimals checked against the row's currency later."""

    # A CharField's input handling (blank, whitespace) with a Decimal out: the base class promises a str.
    def to_internal_value(self, data: Any) -> Decimal:  # type: ignore[override]
        if isinstance(data, float):
            raise serializers.ValidationError(_("Give amounts as strings, not floating-point numbers."))
        try:
            # Two decimals is the most any supported currency has; the currency-specific check comes later.
            return parse_money(data, "USD", allow_zero=self.allow_zero)
        except MoneyError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def __init__(self, *, allow_zero: bool = False, **kwargs: Any) -> None:
        self.allow_zero = allow_zero
        super().__init__(**kwargs)


class BoundedDateField(serializers.DateField):
    """A date within the range the system accepts (``loans.inputs``): year 9999 plus a day overflows."""

    def to_internal_value(self, value: Any) -> dt.date:
        parsed = super().to_internal_value(value)
        if not date_in_range(parsed):
            raise serializers.ValidationError(DATE_RANGE_MESSAGE)
        return parsed


class BoundedDateTimeField(serializers.DateTimeField):
    """An instant within the range the system accepts: local times of 9999-12-31 overflow a datetime."""

    def to_internal_value(self, value: Any) -> dt.datetime:
        parsed = super().to_internal_value(value)
        if not date_in_range(parsed):
            raise serializers.ValidationError(DATE_RANGE_MESSAGE)
        return parsed


class AwareDateTimeField(BoundedDateTimeField):
    """ISO 8601 with an explicit offset: a bare local time is ambiguous across the lender's time zones."""

    def to_internal_value(self, value: Any) -> dt.datetime:
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:  # well formed but not a real instant (0000-00-00T…): the parent says so
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                raise serializers.ValidationError(_("Give a time zone offset, e.g. 2026-03-01T10:00:00+08:00."))
        return super().to_internal_value(value)


def first_message(exc: serializers.ValidationError) -> str:
    """The message of a ValidationError raised with one string (DRF keeps it as a one-item list)."""
    return str(cast("list[Any]", exc.detail)[0])


def check_currency_decimals(amount: Decimal, currency: str) -> None:
    try:
        parse_money(amount, currency, allow_zero=True)
    except MoneyError as exc:
        raise serializers.ValidationError(str(exc)) from exc


class AddressSerializer(StrictInput):
    line1 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    region = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    country = serializers.RegexField(
        r"^[A-Za-z]{2}$", error_messages={"invalid": _("Use an ISO 3166-1 alpha-2 code such as US or CN.")}
    )

    def validate_country(self, value: str) -> str:
        return value.upper()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["country"] == "US":
            attrs["region"] = attrs["region"].upper()
            if attrs["region"] not in US_STATE_ZONES:
                raise serializers.ValidationError({"region": _("Use the two-letter USPS state code, e.g. MA.")})
        return attrs


class PhoneInputSerializer(StrictInput):
    number = PhoneNumberField(region=None)
    kind = serializers.ChoiceField(choices=PhoneKind.choices, default=PhoneKind.MOBILE)
    sms_consent = serializers.BooleanField(default=False)
    autodial_consent = serializers.BooleanField(default=False)

    def validate_number(self, value: Any) -> str:
        return value.as_e164


class EmailInputSerializer(StrictInput):
    address = serializers.EmailField()
    kind = serializers.ChoiceField(choices=EmailKind.choices, default=EmailKind.PERSONAL)

    def validate_address(self, value: str) -> str:
        return value.strip().lower()


class BorrowerInputSerializer(StrictInput):
    external_id = serializers.CharField(max_length=64)
    full_name = serializers.CharField(max_length=200)
    national_id = serializers.RegexField(
        r"^[0-9A-Za-z\- ]{4,32}$",
        required=False,
        allow_blank=True,
        default="",
        error_messages={"invalid": _("Letters, digits, spaces and hyphens only, 4 to 32 characters.")},
    )
    language = serializers.ChoiceField(choices=Language.choices, default=Language.EN)
    address = AddressSerializer()
    timezone = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    phones = PhoneInputSerializer(many=True, required=False, default=list)
    emails = EmailInputSerializer(many=True, required=False, default=list)

    def validate_timezone(self, value: str) -> str:
        if value and not is_valid_zone(value):
            raise serializers.ValidationError(_("Not an IANA time zone name such as America/New_York."))
        return value

    def validate_phones(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        numbers = [phone["number"] for phone in value]
        if len(numbers) != len(set(numbers)):
            raise serializers.ValidationError(_("The same number is listed twice."))
        return value

    def validate_emails(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        addresses = [email["address"] for email in value]
        if len(addresses) != len(set(addresses)):
            raise serializers.ValidationError(_("The same address is listed twice."))
        return value


class InstallmentInputSerializer(StrictInput):
    number = serializers.IntegerField(min_value=1, max_value=MAX_TERM_MONTHS)
    due_date = BoundedDateField()
    amount_due = MoneyField(required=False)
    principal = MoneyField(required=False, allow_zero=True)
    interest = MoneyField(required=False, allow_zero=True)
    fee = MoneyField(required=False, allow_zero=True)
    amount_paid = MoneyField(required=False, allow_zero=True, default=Decimal("0.00"))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        parts = [attrs.get(name) for name in ("principal", "interest", "fee")]
        if any(part is not None for part in parts):
            principal, interest, fee = (part or Decimal("0.00") for part in parts)
            total = principal + interest + fee
            if "amount_due" in attrs and attrs["amount_due"] != total:
                raise serializers.ValidationError(
                    {"amount_due": _("Must equal principal + interest + fee (%(total)s).") % {"total": total}}
                )
            if total <= 0:
                raise serializers.ValidationError({"amount_due": _("Must be greater than zero.")})
        elif "amount_due" in attrs:
            # No breakdown given: the whole installment is treated as principal.
            principal, interest, fee = attrs["amount_due"], Decimal("0.00"), Decimal("0.00")
        else:
            raise serializers.ValidationError({"amount_due": _("Give amount_due or principal/interest/fee.")})
        if attrs["amount_paid"] > principal + interest + fee:
            raise serializers.ValidationError({"amount_paid": _("Cannot exceed the amount due.")})
        return {
            "number": attrs["number"],
            "due_date": attrs["due_date"],
            "principal": principal,
            "interest": interest,
            "fee": fee,
            "amount_paid": attrs["amount_paid"],
        }


class LoanInputSerializer(StrictInput):
    external_id = serializers.CharField(max_length=64)
    product = serializers.SlugField(max_length=40)
    principal = MoneyField()
    currency = serializers.ChoiceField(choices=sorted(CURRENCY_EXPONENTS))
    disbursed_on = BoundedDateField()
    annual_rate = serializers.DecimalField(
        max_digits=7, decimal_places=4, min_value=Decimal("0"), max_value=Decimal("999"), required=False
    )
    term_months = serializers.IntegerField(min_value=1, max_value=MAX_TERM_MONTHS, required=False)
    first_due_date = BoundedDateField(required=False)
    installments = InstallmentInputSerializer(many=True, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        currency = attrs["currency"]
        errors: dict[str, Any] = {}
        try:
            check_currency_decimals(attrs["principal"], currency)
        except serializers.ValidationError as exc:
            errors["principal"] = exc.detail
        generated = {"annual_rate", "term_months", "first_due_date"}
        given = generated & set(attrs)
        installments = attrs.get("installments")
        if installments:
            if given - {"annual_rate"}:
                errors["installments"] = [_("Give either installments or term_months + first_due_date, not both.")]
            else:
                errors.update(self._check_installments(attrs, installments))
        elif given != generated:
            missing = ", ".join(sorted(generated - given))
            errors["installments"] = [_("Give installments, or generate them with %(missing)s.") % {"missing": missing}]
        elif attrs["first_due_date"] <= attrs["disbursed_on"]:
            errors["first_due_date"] = [_("Must be after the disbursement date.")]
        elif not errors:
            schedule = equal_installments(principal=attrs["principal"], annual_rate=attrs["annual_rate"],
                                          term_months=attrs["term_months"], first_due_date=attrs["first_due_date"],
                                          currency=currency)  # fmt: skip
            total = sum((line.amount for line in schedule), Decimal("0.00"))
            if total >= MAX_AMOUNT:
                errors["principal"] = [_too_much(total)]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    @staticmethod
    def _check_installments(attrs: dict[str, Any], installments: list[dict[str, Any]]) -> dict[str, Any]:
        numbers = [row["number"] for row in installments]
        if sorted(numbers) != list(range(1, len(numbers) + 1)):
            return {"installments": [_("Installments must be numbered 1, 2, 3, … without gaps or repeats.")]}
        by_number = sorted(installments, key=lambda row: row["number"])
        dates = [row["due_date"] for row in by_number]
        if dates != sorted(dates):
            return {"installments": [_("Due dates must not go backwards as the numbers increase.")]}
        if dates[0] < attrs["disbursed_on"]:
            return {"installments": [_("No installment can be due before the disbursement date.")]}
        for row in installments:
            for name in ("principal", "interest", "fee", "amount_paid"):
                try:
                    check_currency_decimals(row[name], attrs["currency"])
                except serializers.ValidationError as exc:
                    return {"installments": [f"#{row['number']} {name}: {first_message(exc)}"]}
        total = sum((row["principal"] + row["interest"] + row["fee"] for row in installments), Decimal("0.00"))
        if total >= MAX_AMOUNT:
            return {"installments": [_too_much(total)]}
        return {}


def _too_much(total: Decimal) -> str:
    # The loan's outstanding balance is the schedule's total: it must fit the amount columns.
    return _("The schedule adds up to %(total)s; a loan's balance can be at most %(most)s.") % {
        "total": f"{total:,}",
        "most": f"{MAX_AMOUNT - Decimal('0.01'):,}",
    }


class LoanIntakeRowSerializer(StrictInput):
    """One row of a loans file: the borrower and one of their loans."""

    borrower = BorrowerInputSerializer()
    loan = LoanInputSerializer()


class PaymentInputSerializer(StrictInput):
    """One payment; ``loan`` is the loan's external id."""

    loan = serializers.CharField(max_length=64)
    amount = MoneyField()
    currency = serializers.ChoiceField(choices=sorted(CURRENCY_EXPONENTS), required=False)
    received_at = AwareDateTimeField()
    reference = serializers.CharField(max_length=100)
