"""Money helpers: currencies, their minor units, strict parsing and rounding. Decimal only, never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 code -> number of minor-unit digits. Amounts are stored with two decimals; currencies with fewer minor
# units (JPY) must have zeros there.
CURRENCY_EXPONENTS: dict[str, int] = {"CNY": 2, "USD": 2, "EUR": 2, "GBP": 2, "HKD": 2, "JPY": 0}
CURRENCY_CHOICES = [(code, code) for code in sorted(CURRENCY_EXPONENTS)]
# Every amount column holds 14 digits with 2 decimals.
MAX_AMOUNT = Decimal("1e12")


class MoneyError(ValueError):
    """An amount that is not a valid amount of money in its currency."""


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of the currency (0.01 for USD, 1 for JPY)."""
    try:
        return Decimal(1).scaleb(-CURRENCY_EXPONENTS[currency])
    except KeyError as exc:
        raise MoneyError(f"unsupported currency {currency!r}") from exc


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor unit, kept at two decimals for storage."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP).quantize(Decimal("0.01"))


def parse_money(raw: object, currency: str, *, allow_zero: bool = False) -> Decimal:
    """Parse an amount given as text or Decimal (never float: binary fractions are not money)."""
    if isinstance(raw, float):
        raise MoneyError("give amounts as strings or decimals, not floating-point numbers")
    try:
        amount = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"{raw!r} is not a number") from exc
    if not amount.is_finite():
        raise MoneyError(f"{raw!r} is not a finite amount")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise MoneyError("must be greater than zero" if not allow_zero else "must not be negative")
    # Before any arithmetic: quantizing 1e309 or a 40-digit amount needs more digits than the decimal context has
    # (InvalidOperation, not a refusal).
    if amount >= MAX_AMOUNT:
        raise MoneyError(f"is too large (the most is {MAX_AMOUNT - Decimal('0.01'):,})")
    if amount != amount.quantize(minor_unit(currency)):
        raise MoneyError(f"{raw} has more decimals than {currency} allows")
    return amount.quantize(Decimal("0.01"))


def format_money(amount: Decimal, currency: str) -> str:
    """``USD 1,234.56`` — the amount rounded to the currency's minor unit, with thousands separators."""
    places = max(0, -int(minor_unit(currency).as_tuple().exponent))
    return f"{currency} {round_money(amount, currency):,.{places}f}"
