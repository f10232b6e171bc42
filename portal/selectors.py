"""What the borrower's page shows, read in a fixed number of queries whatever the borrower owes: their loans with
the amounts overdue and outstanding, each one's next installment and its case's stage in plain words, the lender,
and which identity check their products ask for."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _

from collections_app.models import OPEN_STATES, CaseState, CollectionCase
from collections_app.selectors import payment_minimums
from loans.models import ZERO, Borrower, Installment, Loan, LoanStatus, PaymentCheckout, PortalFactor
from loans.money import format_money
from loans.payments import TransferInstructions, transfer_instructions
from notifications.services import lender_name

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# What happens next, for each state of a case, as the borrower reads it. Never a threat: what the lender may do.
NEXT_STEP = {
    CaseState.REMINDER: _("We will keep reminding you until the overdue amount is paid."),
    CaseState.FORMAL_NOTICE: _(
        "We have sent you a formal notice. If the overdue amount stays unpaid, your account may be reviewed for "
        "legal action."
    ),
    CaseState.LEGAL_REVIEW: _(
        "Your account is being reviewed for legal action. Paying the overdue amount or calling us can stop this."
    ),
    CaseState.LEGAL: _("Your account has been passed to our legal team. Please call us to settle it."),
    CaseState.PROMISE_TO_PAY: _("We are waiting for the payment you promised. Nothing more will happen if it arrives."),
    CaseState.PAYMENT_PLAN: _("You have a payment plan. Keep paying each installment on time."),
    CaseState.ON_HOLD: _("We have paused collection of this loan while we look into it."),
}
NOT_IN_COLLECTIONS = _("Please pay the overdue amount as soon as you can.")


@dataclass(frozen=True)
class LoanLine:
    """One loan as the borrower's page shows it."""

    reference: str
    amount_overdue: str
    balance: str
    days_past_due: int
    next_due_on: dt.date | None
    next_due_amount: str
    next_step: StrOrPromise  # translated when the page is rendered, in the language the borrower reads
    # What paying it online needs (never shown as such): the loan, its figures and the policy's least payment.
    loan: Loan
    overdue: Decimal
    outstanding: Decimal
    minimum: Decimal
    minimum_text: str
    transfer: TransferInstructions


@dataclass
class PortalPage:
    """Everything the borrower's page may show; the view decides how much of it (not before the check)."""

    borrower: Borrower
    lender: str
    help_phone: str
    question: str  # a PortalFactor value; "unavailable" when the check is asked for but nothing to check against
    loans: list[LoanLine] = field(default_factory=list)

    @property
    def masked_name(self) -> str:
        return name_mask(self.borrower.full_name)

    def line_for(self, reference: str) -> LoanLine | None:
        """The loan a form names (by the reference the page shows), if it is one of this borrower's on the page."""
        return next((line for line in self.loans if line.reference == reference), None)


UNAVAILABLE = "unavailable"


def name_mask(full_name: str) -> str:
    """The name as the page greets them: each word's first letter ("M*** G***"); a Chinese name keeps its family
    name ("王*")."""
    words = full_name.split()
    if len(words) == 1 and any(unicodedata.east_asian_width(c) in "WF" for c in full_name):
        return full_name[0] + "*" * (len(full_name) - 1)
    return " ".join(f"{word[0]}***" for word in words)


def portal_page_load(*, borrower: Borrower, today: dt.date | None = None) -> PortalPage:
    """The borrower's page: their active loans that are overdue or in collections, four queries (the loans, their
    cases, their unpaid installments, the policies' least payments)."""
    loans = list(
        Loan.objects.filter(borrower=borrower, status=LoanStatus.ACTIVE).select_related("product").order_by("id")
    )
    stages = dict(
        CollectionCase.objects.filter(loan__in=loans, state__in=OPEN_STATES).values_list("loan_id", "state")
    ) if loans else {}  # fmt: skip
    unpaid: dict[int, list[Installment]] = {}
    if loans:
        for inst in Installment.objects.filter(loan__in=loans, paid_on__isnull=True).order_by("loan_id", "due_date"):
            unpaid.setdefault(inst.loan_id, []).append(inst)
    products = [loan.product for loan in loans]
    page = PortalPage(
        borrower=borrower,
        lender=lender_name(products[0] if products else None),
        help_phone=settings.LENDER_HELP_PHONE,
        question=_question(borrower, {p.portal_factor for p in products}),
    )
    shown = [loan for loan in loans if loan.amount_overdue > ZERO or loan.pk in stages]
    minimums = payment_minimums(product_ids={loan.product_id for loan in shown})
    for loan in sorted(shown, key=lambda loan: (-loan.days_past_due, loan.pk)):
        local_today = today or dt.datetime.now(ZoneInfo(loan.product.timezone)).date()  # due dates are the product's
        upcoming = next((i for i in unpaid.get(loan.pk, []) if i.due_date >= local_today), None)
        state = stages.get(loan.pk)
        minimum = minimums.get(loan.product_id, ZERO)
        page.loans.append(
            LoanLine(
                reference=loan.external_id,
                amount_overdue=format_money(loan.amount_overdue, loan.currency),
                balance=format_money(loan.outstanding_balance, loan.currency),
                days_past_due=loan.days_past_due,
                next_due_on=upcoming.due_date if upcoming else None,
                next_due_amount=_left_to_pay(upcoming, loan.currency),
                next_step=NEXT_STEP.get(state, NOT_IN_COLLECTIONS) if state else NOT_IN_COLLECTIONS,
                loan=loan,
                overdue=loan.amount_overdue,
                outstanding=loan.outstanding_balance,
                minimum=minimum,
                minimum_text=format_money(min(minimum, loan.outstanding_balance), loan.currency),
                transfer=transfer_instructions(loan=loan),
            )
        )
    return page


def portal_checkout_get(*, borrower: Borrower, key: str) -> PaymentCheckout | None:
    """A payment the borrower started (by its key, which only their page knows), with its loan and product; None
    when it is not theirs."""
    return (
        PaymentCheckout.objects.select_related("loan__product")
        .filter(idempotency_key=key, loan__borrower=borrower)
        .first()
    )


def _left_to_pay(installment: Installment | None, currency: str) -> str:
    if installment is None:
        return ""
    return format_money(installment.amount_due - installment.amount_paid - installment.opening_paid, currency)


def _question(borrower: Borrower, factors: set[str]) -> str:
    """The check the borrower's products ask for, against what is on record: the one asked for, else the other
    one; "unavailable" when neither is on record (the page then shows nothing and gives the help number)."""
    asked = factors - {PortalFactor.NONE}
    if not asked:
        return PortalFactor.NONE
    on_record: dict[str, bool] = {
        PortalFactor.NATIONAL_ID_LAST4: len(borrower.national_id_masked) >= 4,
        PortalFactor.BIRTH_DATE: borrower.birth_date is not None,
    }
    for factor in [*sorted(asked), *sorted(set(on_record) - asked)]:
        if on_record.get(factor):
            return factor
    return UNAVAILABLE


def answer_is_right(borrower: Borrower, question: str, answer: str) -> bool:
    """Whether the answer to the check matches the record (compared in constant time)."""
    answer = answer.strip()
    if question == PortalFactor.NATIONAL_ID_LAST4:
        given = "".join(c for c in answer if c.isalnum()).upper()
        return len(given) == 4 and constant_time_compare(given, borrower.national_id_masked[-4:].upper())
    if question == PortalFactor.BIRTH_DATE and borrower.birth_date is not None:
        try:
            given_date = dt.date.fromisoformat(answer.replace("/", "-"))
        except ValueError:
            return False
        return constant_time_compare(given_date.isoformat(), borrower.birth_date.isoformat())
    return False
