"""What the pages of the borrower's actions read besides the forms' own selectors
(``collections_app.selectors.borrower_actions``): the open case of one of the borrower's loans, named by the
reference their page shows, and what became of what they did (for the confirmation pages)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from collections_app.models import (
    OPEN_STATES,
    CollectionCase,
    Hold,
    HoldKind,
    PaymentPlan,
    PlanStatus,
    PromiseStatus,
    PromiseToPay,
)
from loans.models import Borrower


def portal_case_get(*, borrower: Borrower, reference: str) -> CollectionCase | None:
    """The open case of the borrower's loan with this reference, with its loan and product; None when the loan is
    not theirs, unknown, or not being collected (one query)."""
    return (
        CollectionCase.objects.select_related("loan__product", "borrower")
        .filter(borrower=borrower, loan__borrower=borrower, loan__external_id=reference[:64], state__in=OPEN_STATES)
        .order_by("-pk")
        .first()
    )


def promise_open(*, case: CollectionCase) -> PromiseToPay | None:
    """The promise the case waits for, if any."""
    return PromiseToPay.objects.filter(case=case, status=PromiseStatus.OPEN).order_by("-pk").first()


@dataclass(frozen=True)
class PlanShown:
    """A plan as its confirmation shows it: started, or waiting for a manager, with every payment."""

    plan: PaymentPlan
    payments: list[tuple[dt.date, Decimal]]

    @property
    def started(self) -> bool:
        return self.plan.status == PlanStatus.ACTIVE


def plan_current(*, case: CollectionCase) -> PlanShown | None:
    """The case's active plan or the one waiting for approval, with its payments (two queries)."""
    plan = (
        PaymentPlan.objects.filter(case=case, status__in=[PlanStatus.ACTIVE, PlanStatus.PENDING_APPROVAL])
        .order_by("-pk")
        .first()
    )
    if plan is None:
        return None
    payments = list(plan.installments.order_by("number").values_list("due_date", "amount"))
    return PlanShown(plan, payments)


def dispute_open(*, case: CollectionCase) -> Hold | None:
    """The case's dispute hold still in force, if any."""
    return Hold.objects.filter(case=case, kind=HoldKind.DISPUTE, lifted_at__isnull=True).order_by("-pk").first()
