"""One borrower and all their loans: the borrower page (every loan, its case, what is overdue, who works it)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef

from collections_app.models import NEGOTIABLE, OPEN_STATES, CollectionCase, PromiseStatus, PromiseToPay
from collections_app.selectors.access import cases_visible_to
from loans.models import Borrower, Loan


@dataclass
class LoanLine:
    """A loan of the borrower and its case (the open one, else the latest), if it has one."""

    loan: Loan
    case: CollectionCase | None
    may_open: bool  # the reader may open the case page


@dataclass
class BorrowerPage:
    borrower: Borrower
    lines: list[LoanLine]
    overdue: dict[str, Decimal] = field(default_factory=dict)  # currency → total overdue
    collectors: list[str] = field(default_factory=list)  # who works the borrower's open cases
    promisable: list[CollectionCase] = field(default_factory=list)  # open cases a new promise may cover


def borrower_page(*, borrower: Borrower, user: Any) -> BorrowerPage:
    """Every loan of the borrower with its case, in three queries. The reader was allowed in because one of the
    borrower's cases is visible to them (``borrower_get_for_user``); links go only to the cases they may open."""
    loans = list(Loan.objects.filter(borrower=borrower).select_related("product").order_by("pk"))
    open_promise = PromiseToPay.objects.filter(case_id=OuterRef("pk"), status=PromiseStatus.OPEN)
    cases = list(
        CollectionCase.objects.filter(borrower=borrower)
        .select_related("assigned_to", "loan")
        .annotate(has_open_promise=Exists(open_promise))
        .order_by("pk")
    )
    visible = set(cases_visible_to(user, lookup=True).filter(borrower=borrower).values_list("pk", flat=True))
    by_loan: dict[int, CollectionCase] = {}
    for case in cases:  # the open case of a loan wins, else its latest
        current = by_loan.get(case.loan_id)
        if current is None or case.state in OPEN_STATES or current.state not in OPEN_STATES:
            by_loan[case.loan_id] = case
    lines = []
    for loan in loans:
        case = by_loan.get(loan.pk)
        lines.append(LoanLine(loan, case, case is not None and case.pk in visible))
    overdue: dict[str, Decimal] = defaultdict(Decimal)
    for loan in loans:
        if loan.amount_overdue:
            overdue[loan.currency] += loan.amount_overdue
    open_cases = [c for c in cases if c.state in OPEN_STATES]
    collectors = sorted({c.assigned_to.get_username() for c in open_cases if c.assigned_to is not None})
    promisable = [c for c in open_cases if c.pk in visible and c.state in NEGOTIABLE and not c.has_open_promise]
    return BorrowerPage(borrower, lines, dict(overdue), collectors, promisable)


def promise_partners(*, case: CollectionCase, user: Any) -> list[CollectionCase]:
    """The borrower's other open cases a promise taken on ``case`` may cover too (the case page's promise form):
    negotiable, without an open promise, visible to the user. One query."""
    open_promise = PromiseToPay.objects.filter(case_id=OuterRef("pk"), status=PromiseStatus.OPEN)
    return list(
        cases_visible_to(user, lookup=True)
        .filter(borrower_id=case.borrower_id, state__in=NEGOTIABLE)
        .exclude(pk=case.pk)
        .exclude(Exists(open_promise))
        .select_related("loan")
        .order_by("pk")
    )
