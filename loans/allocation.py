"""The payment allocation waterfall, as a pure function.

Payments are applied in the order they were received (then by id), each to the oldest unpaid installment first and,
within an installment, to its components in the product's order (fees → interest → principal by default). Whatever
is left after every installment is paid is unapplied credit. Allocation is recomputed from scratch for a loan
whenever a payment arrives, so a payment that arrives late but was received earlier ("out of order") lands where it
would have landed had it arrived on time, and the result never depends on arrival order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal("0.00")
COMPONENTS = ("fee", "interest", "principal")
DEFAULT_ORDER: tuple[str, ...] = COMPONENTS


def validate_order(order: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """An allocation order must name each component exactly once; empty means the default."""
    if not order:
        return DEFAULT_ORDER
    if sorted(order) != sorted(COMPONENTS):
        raise ValueError(f"allocation order must list each of {', '.join(COMPONENTS)} exactly once")
    return tuple(order)


@dataclass(frozen=True)
class InstallmentDue:
    id: int
    due_date: dt.date
    number: int
    due: dict[str, Decimal]
    opening_paid: Decimal = ZERO


@dataclass(frozen=True)
class PaymentIn:
    id: int
    amount: Decimal
    received_at: dt.datetime
    local_date: dt.date


@dataclass
class AllocationResult:
    paid: dict[int, dict[str, Decimal]] = field(default_factory=dict)
    paid_on: dict[int, dt.date | None] = field(default_factory=dict)
    allocations: list[tuple[int, int, str, Decimal]] = field(default_factory=list)  # payment, installment, comp, amt
    unapplied: dict[int, Decimal] = field(default_factory=dict)

    @property
    def credit(self) -> Decimal:
        return sum(self.unapplied.values(), ZERO)


def _apply(
    amount: Decimal, due: dict[str, Decimal], paid: dict[str, Decimal], order: tuple[str, ...]
) -> tuple[Decimal, list[tuple[str, Decimal]]]:
    """Pay ``amount`` into one installment's components; yield (component, amount) and return what is left."""
    parts: list[tuple[str, Decimal]] = []
    for component in order:
        if amount <= 0:
            break
        take = min(amount, due[component] - paid[component])
        if take > 0:
            paid[component] += take
            amount -= take
            parts.append((component, take))
    return amount, parts


def allocate(
    installments: list[InstallmentDue], payments: list[PaymentIn], order: tuple[str, ...] = DEFAULT_ORDER
) -> AllocationResult:
    """Allocate every payment of one loan over its installments (see module docstring)."""
    ordered = sorted(installments, key=lambda i: (i.due_date, i.number))
    result = AllocationResult()
    for inst in ordered:
        paid = dict.fromkeys(COMPONENTS, ZERO)
        left, _ = _apply(inst.opening_paid, inst.due, paid, order)
        if left > 0:
            raise ValueError(f"installment {inst.number}: paid before intake exceeds the amount due")
        result.paid[inst.id] = paid
        # Fully paid before it came to us (or nothing due): we do not know when, so say on its due date.
        complete = all(paid[c] == inst.due[c] for c in COMPONENTS)
        result.paid_on[inst.id] = inst.due_date if complete else None

    cursor = 0
    for payment in sorted(payments, key=lambda p: (p.received_at, p.id)):
        amount = payment.amount
        while amount > 0 and cursor < len(ordered):
            inst = ordered[cursor]
            paid = result.paid[inst.id]
            amount, parts = _apply(amount, inst.due, paid, order)
            result.allocations.extend((payment.id, inst.id, c, a) for c, a in parts)
            if all(paid[c] == inst.due[c] for c in COMPONENTS):
                if result.paid_on[inst.id] is None:
                    result.paid_on[inst.id] = payment.local_date
                cursor += 1
        result.unapplied[payment.id] = amount
    return result
