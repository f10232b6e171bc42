"""Model fields of our own: ``MoneyField``, the one column type for amounts of money."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Every amount column holds 14 digits with 2 decimals (loans.money.MAX_AMOUNT is the bound the parsers enforce).
MONEY_MAX_DIGITS = 14
MONEY_DECIMAL_PLACES = 2


class MoneyField(models.DecimalField):
    """A ``DecimalField`` with the project's precision for money (14 digits, 2 decimals).

    Migrations see a plain ``DecimalField`` (``deconstruct``): the column is the same, the migrations written before
    this class existed stay valid, and swapping the class in generates no migration.
    """

    def __init__(
        self,
        verbose_name: StrOrPromise | None = None,
        name: str | None = None,
        max_digits: int = MONEY_MAX_DIGITS,
        decimal_places: int = MONEY_DECIMAL_PLACES,
        **kwargs: Any,
    ) -> None:
        super().__init__(verbose_name, name, max_digits, decimal_places, **kwargs)

    def deconstruct(self) -> tuple[str, str, Sequence[Any], dict[str, Any]]:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DecimalField", args, kwargs
