"""Money in templates: ``{{ amount|money:currency }}`` gives ``USD 1,336.08`` (``JPY 1,336``) — exact decimals, never
through a float or an integer (Django's ``add`` filter adds decimals as integers)."""

from decimal import Decimal, InvalidOperation

from django import template

from loans.money import MoneyError, format_money

register = template.Library()


@register.filter
def money(amount: object, currency: str) -> str:
    if amount is None or amount == "":
        return "—"
    try:
        return format_money(amount if isinstance(amount, Decimal) else Decimal(str(amount)), currency)
    except (InvalidOperation, MoneyError):
        return f"{currency} {amount}"
