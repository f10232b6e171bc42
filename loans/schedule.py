"""Repayment schedules: equal (annuity) installments generated from principal, rate, term and first due date.

Pure functions over Decimal; no ORM. Rounding is to the currency's minor unit, half up, and the last installment
takes the rounding remainder so that the principal parts add up to the principal exactly.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, localcontext

from loans.money import round_money

ZERO = Decimal("0.00")
MAX_TERM_MONTHS = 600


@dataclass(frozen=True)
class ScheduledInstallment:
    """One line of a schedule before it is stored."""

    number: int
    due_date: dt.date
    principal: Decimal
    interest: Decimal
    fee: Decimal = ZERO

    @property
    def amount(self) -> Decimal:
        return self.principal + self.interest + self.fee


def add_months(start: dt.date, months: int) -> dt.date:
    """The same day of the month ``months`` later, clamped to the month's last day (Jan 31 + 1 → Feb 28/29).

    Always counted from the first due date, so a schedule anchored on the 31st comes back to the 31st in March.
    """
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def equal_installments(
    *,
    principal: Decimal,
    annual_rate: Decimal,
    term_months: int,
    first_due_date: dt.date,
    currency: str,
) -> list[ScheduledInstallment]:
    """A monthly annuity schedule: every installment the same amount except the last (rounding remainder).

    ``annual_rate`` is a nominal yearly percentage (24 means 24 % a year, 2 % a month).
    """
    if principal <= 0:
        raise ValueError("principal must be greater than zero")
    if annual_rate < 0:
        raise ValueError("annual rate must not be negative")
    if not 1 <= term_months <= MAX_TERM_MONTHS:
        raise ValueError(f"term must be between 1 and {MAX_TERM_MONTHS} months")

    with localcontext() as ctx:
        ctx.prec = 34
        monthly_rate = annual_rate / Decimal(1200)
        if monthly_rate == 0:
            payment = round_money(principal / term_months, currency)
        else:
            factor = (1 + monthly_rate) ** term_months
            payment = round_money(principal * monthly_rate * factor / (factor - 1), currency)

        schedule: list[ScheduledInstallment] = []
        balance = principal
        for number in range(1, term_months + 1):
            interest = round_money(balance * monthly_rate, currency)
            last = number == term_months
            principal_part = balance if last else min(balance, payment - interest)
            schedule.append(
                ScheduledInstallment(
                    number=number,
                    due_date=add_months(first_due_date, number - 1),
                    principal=principal_part,
                    interest=interest,
                )
            )
            balance -= principal_part
    return schedule
