"""What each kind of document says, in the borrower's language: a ``Letter`` (letterhead, address block, date,
title, blocks of text and tables) built from the case's loan, schedule, payments and plan, and the ``facts`` it
states (dates and amounts, kept with the stored document for the clocks that read them later).

The words are gettext strings, translated in ``locale/zh_Hans``; dates are the borrower's calendar dates (their
zone) in their language's format; amounts are in the loan's currency (``loans.money.format_money``).

``case`` is a ``collections_app.CollectionCase`` (a layer above this app: read through its fields and reverse
relations, never imported), or None for a loan's document outside any case.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import formats, translation
from django.utils.translation import gettext as _

from compliance import notices
from compliance.engine import applicable
from compliance.services import profiles_current
from loans.models import ZERO, Installment, Payment
from loans.money import format_money

# Days a formal notice gives to pay or get in touch before the next step (policy; the clocks read ``respond_by``).
FORMAL_NOTICE_RESPONSE_DAYS = 14


class DocumentError(ValueError):
    """A document that cannot be made as the law or the data require (e.g. a licence number a profile needs)."""


@dataclass
class Letter:
    """A document's content, ready to lay out. Blocks: ("h", text), ("p", text), ("table", rows) — the first row
    the header —, ("box", lines) — a framed section, e.g. the validation notice's reply form."""

    language: str
    lender: str
    lender_address: list[str]
    licence: str
    help_phone: str
    recipient: list[str]
    date_line: str
    reference_line: str
    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)
    closing: str = ""
    footer: str = ""
    page_label: str = "Page %(page)s"
    page_size: str = "A4"  # "letter" for US and Canadian addresses
    facts: dict[str, Any] = field(default_factory=dict)


def borrower_today(borrower: Any, now: dt.datetime) -> dt.date:
    """The borrower's calendar date at ``now`` (their first candidate zone; UTC when none is known)."""
    name = borrower.timezone or (borrower.time_zones or ["UTC"])[0]
    try:
        zone = zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return now.astimezone(zone).date()


def day(value: dt.date | None) -> str:
    """A date in the active language's format ("Nov. 30, 2026", "2026年11月30日")."""
    return formats.date_format(value, "DATE_FORMAT") if value else "—"


def postal_lines(borrower: Any) -> list[str]:
    """The borrower's address block, one line each (name first)."""
    lines = [
        borrower.full_name,
        borrower.address_line1,
        borrower.address_line2,
        f"{borrower.postal_code} {borrower.city}".strip(),
        f"{borrower.region} {borrower.country}".strip(),
    ]
    return [line for line in lines if line]


def licence_line(borrower: Any, product: Any) -> str:
    """The licence number the borrower's jurisdiction profiles require on a letter ("" when none does). A profile
    that requires one the product does not name stops the document: sending it would break that rule."""
    shown = []
    for profile in applicable(profiles_current(), borrower.country or "", borrower.region or ""):
        letters = profile.params.get("letters", {})
        if not letters.get("licence_required"):
            continue
        number = (product.lender_licences or {}).get(profile.code, "").strip()
        if not number:
            raise DocumentError(
                f"The product {product.code} names no licence number for {profile.code}, which letters to this "
                f"borrower must show ({letters.get('rule', profile.code)})."
            )
        shown.append(f"{letters['licence_label']} {number}")
    return " · ".join(shown)


def letter_build(
    *, kind: str, loan: Any, case: Any | None, language: str, now: dt.datetime, details: dict[str, Any] | None = None
) -> Letter:
    """The content of a document of ``kind`` about ``loan`` (and its ``case``), in ``language`` ("en" or
    "zh-hans")."""
    details = details or {}
    borrower = loan.borrower
    product = loan.product
    today = borrower_today(borrower, now)
    with translation.override(language):
        lender = (product.lender_name or "").strip() or settings.LENDER_NAME
        address = [line.strip() for line in (product.lender_address or settings.LENDER_ADDRESS).splitlines()]
        letter = Letter(
            language=language,
            lender=lender,
            lender_address=[line for line in address if line],
            licence=licence_line(borrower, product),
            help_phone=settings.LENDER_HELP_PHONE,
            recipient=postal_lines(borrower),
            date_line=_("Date: %(date)s") % {"date": day(today)},
            reference_line=(
                _("Loan reference: %(reference)s · Case %(case)s") % {"reference": loan.external_id, "case": case.pk}
                if case is not None
                else _("Loan reference: %(reference)s") % {"reference": loan.external_id}
            ),
            title="",
            page_size="letter" if (borrower.country or "").upper() in ("US", "CA") else "A4",
        )
        facts = _Facts(loan=loan, case=case, today=today)
        letter.facts = {"date": today.isoformat(), "currency": loan.currency}
        BUILDERS[kind](letter, facts, details)
        letter.closing = _("Yours sincerely,\n%(lender)s") % {"lender": lender}
        letter.page_label = _("Page %(page)s")
        letter.footer = _("%(lender)s · Questions: %(phone)s · Please quote %(reference)s") % {
            "lender": lender,
            "phone": letter.help_phone,
            "reference": loan.external_id,
        }
        return letter


class _Facts:
    """The loan's numbers a document states, read once."""

    def __init__(self, *, loan: Any, case: Any | None, today: dt.date) -> None:
        self.case, self.today = case, today
        self.borrower, self.loan = loan.borrower, loan
        self.installments = list(Installment.objects.filter(loan=self.loan).order_by("number"))
        self.payments = list(Payment.objects.filter(loan=self.loan).order_by("received_at", "id"))

    def money(self, amount: Decimal) -> str:
        return format_money(amount, self.loan.currency)

    @property
    def unpaid(self) -> list[Installment]:
        return [i for i in self.installments if i.paid_on is None]

    @property
    def overdue(self) -> list[Installment]:
        return [i for i in self.unpaid if i.due_date < self.today]

    def overdue_amount(self) -> Decimal:
        return (
            self.loan.amount_overdue
            if self.loan.amount_overdue
            else sum((i.amount_due - i.amount_paid - i.opening_paid for i in self.overdue), ZERO)
        )

    def balance(self) -> Decimal:
        return self.loan.outstanding_balance

    def overdue_since(self) -> dt.date | None:
        overdue = self.overdue
        return self.loan.overdue_since or (overdue[0].due_date if overdue else None)

    def next_due(self) -> Installment | None:
        return self.unpaid[0] if self.unpaid else None

    def schedule_rows(self, rows: list[Installment]) -> list[list[str]]:
        table = [[_("Instalment"), _("Due date"), _("Amount due"), _("Paid"), _("Still owed")]]
        for i in rows:
            paid = i.amount_paid + i.opening_paid
            table.append([str(i.number), day(i.due_date), self.money(i.amount_due), self.money(paid),
                          self.money(max(i.amount_due - paid, ZERO))])  # fmt: skip
        return table

    def payment_rows(self, since: dt.date | None = None) -> list[list[str]]:
        table = [[_("Received on"), _("Reference"), _("Amount")]]
        for p in self.payments:
            if since is None or p.received_at.date() >= since:
                table.append([day(p.received_at.date()), p.reference, self.money(p.amount)])
        return table


# ---------------------------------------------------------------------------------------------------------------
# The kinds
# ---------------------------------------------------------------------------------------------------------------
def _greeting(letter: Letter, f: _Facts) -> None:
    letter.blocks.append(("p", _("Dear %(name)s,") % {"name": f.borrower.full_name}))


def _contact(letter: Letter, f: _Facts) -> None:
    text = _("If you have questions or cannot pay, call us on %(phone)s and quote your loan reference %(reference)s.")
    letter.blocks.append(("p", text % {"phone": letter.help_phone, "reference": f.loan.external_id}))


def pre_due_notice(letter: Letter, f: _Facts, details: dict[str, Any]) -> None:
    """A reminder before the next instalment falls due."""
    letter.title = _("Your next instalment is due soon")
    nxt = f.next_due()
    _greeting(letter, f)
    if nxt is not None:
        amount = nxt.amount_due - nxt.amount_paid - nxt.opening_paid
        letter.blocks.append(("p", _("Your next instalment of %(amount)s on loan %(reference)s is due on %(date)s. "
                                     "Please make sure your payment reaches us by then.")
                              % {"amount": f.money(amount), "reference": f.loan.external_id,
                                 "date": day(nxt.due_date)}))  # fmt: skip
        letter.facts.update(due_date=nxt.due_date.isoformat(), amount_due=str(amount))
    letter.blocks.append(("table", [[_("Outstanding balance"), f.money(f.balance())]]))
    letter.blocks.append(("p", _("If you have already paid, thank you: please ignore this letter.")))
    _contact(letter, f)


def reminder_letter(letter: Letter, f: _Facts, details: dict[str, Any]) -> None:
    """A reminder that a payment is overdue."""
    letter.title = _("Your payment is overdue")
    _greeting(letter, f)
    letter.blocks.append(("p", _("Our records show that %(amount)s on loan %(reference)s has been overdue since "
                                 "%(date)s. Please pay it as soon as you can.")
                          % {"amount": f.money(f.overdue_amount()), "reference": f.loan.external_id,
                             "date": day(f.overdue_since())}))  # fmt: skip
    if f.overdue:
        letter.blocks.append(("table", f.schedule_rows(f.overdue)))
    letter.blocks.append(("p", _("If paying in full is difficult, we can agree a payment plan with you.")))
    _contact(letter, f)
    letter.facts.update(amount_overdue=str(f.overdue_amount()))


def formal_notice(letter: Letter, f: _Facts, details: dict[str, Any]) -> None:
    """The formal notice of an overdue debt (催收通知函): the amounts and a date to pay or get in touch by."""
    respond_by = f.today + dt.timedelta(days=int(details.get("response_days", FORMAL_NOTICE_RESPONSE_DAYS)))
    letter.title = _("Formal notice of overdue payment")
    _greeting(letter, f)
    letter.blocks.append(("p", _("Despite our earlier reminders, %(amount)s on loan %(reference)s remains unpaid "
                                 "since %(date)s.")
                          % {"amount": f.money(f.overdue_amount()), "reference": f.loan.external_id,
                             "date": day(f.overdue_since())}))  # fmt: skip
    if f.overdue:
        letter.blocks.append(("table", f.schedule_rows(f.overdue)))
    letter.blocks.append(("table", [[_("Total overdue"), f.money(f.overdue_amount())],
                                    [_("Outstanding balance"), f.money(f.balance())]]))  # fmt: skip
    letter.blocks.append(
        (
            "p",
            _(
                "Please pay the overdue amount, or contact us to agree how you will pay it, by "
                "%(date)s. This notice adds no fee or charge to your loan."
            )
            % {"date": day(respond_by)},
        )
    )
    _contact(letter, f)
    letter.facts.update(respond_by=respond_by.isoformat(), amount_overdue=str(f.overdue_amount()))


def validation_notice(letter: Letter, f: _Facts, details: dict[str, Any]) -> None:
    """The US validation notice (Regulation F, 12 CFR 1006.34; the content of Model Form B-1)."""
    # The itemization date (1006.34(b)(3)): the last payment date, or with no payment the transaction date (the day
    # the loan was disbursed) — two of the five dates the rule allows.
    last = f.payments[-1].received_at.date() if f.payments else None
    itemization = last or f.loan.disbursed_on
    interest = sum((i.interest_due for i in f.installments if i.due_date > itemization and i.paid_on is None), ZERO)
    fees = sum((i.fee_due for i in f.installments if i.due_date > itemization and i.paid_on is None), ZERO)
    paid = sum((p.amount for p in f.payments if p.received_at.date() > itemization), ZERO)
    credits = Decimal(str(details.get("credits", "0")))
    current = f.balance()
    then = current - interest - fees + paid + credits
    # The mailing date (the day it is rendered: at dispatch, the day it goes to the mail house), from which the
    # validation period runs: presumed receipt 5 business days later (no US federal holiday, Saturday or Sunday),
    # then 30 days (1006.34(b)(5)). The debt's clock is set from these facts when the letter leaves.
    mailed_on = dt.date.fromisoformat(str(details["mailed_on"])) if details.get("mailed_on") else f.today
    ends = notices.validation_period_end(mailed_on, "US")
    lender = letter.lender
    letter.title = _("Validation notice")
    letter.blocks += [
        ("p", _("%(lender)s is a debt collector. We are trying to collect a debt that you owe to %(creditor)s. We "
                "will use any information you give us to help collect the debt.")
         % {"lender": lender, "creditor": lender}),
        ("h", _("Our information shows:")),
        ("p", _("You had a loan from %(creditor)s with account number %(reference)s.")
         % {"creditor": lender, "reference": f.loan.external_id}),
        ("table", [
            [_("As of %(date)s, you owed:") % {"date": day(itemization)}, f.money(then)],
            [_("Between %(date)s and today:") % {"date": day(itemization)}, ""],
            [_("You were charged this amount in interest:"), "+ " + f.money(interest)],
            [_("You were charged this amount in fees:"), "+ " + f.money(fees)],
            [_("You paid or were credited this amount toward the debt:"), "– " + f.money(paid + credits)],
            [_("Total amount of the debt now:"), f.money(current)],
        ]),
        ("h", _("How can you dispute the debt?")),
        ("p", _("Call or write to us by %(date)s to dispute all or part of the debt. If you do not, we will assume "
                "that our information is correct.") % {"date": day(ends)}),
        ("p", _("If you write to us by %(date)s, we must stop collection on any amount you dispute until we send you "
                "information that shows you owe the debt. You may use the form below or write to us without the "
                "form. You may also include supporting documents.") % {"date": day(ends)}),
        ("h", _("What else can you do?")),
        ("p", _("Write to ask for the name and address of the original creditor, if different from the current "
                "creditor. If you write by %(date)s, we must stop collection until we send you that information.")
         % {"date": day(ends)}),
        ("p", _("Go to www.cfpb.gov/debt-collection to learn more about your rights under federal law. Contact us "
                "about your payment options. Call us on %(phone)s.") % {"phone": letter.help_phone}),
        ("box", [
            _("How do you want to respond?"),
            _("Mail this form to: %(address)s") % {"address": ", ".join([lender, *letter.lender_address])},
            _("[  ] I want to dispute the debt because I think: this is not my debt."),
            _("[  ] I want to dispute the debt because I think: the amount is wrong."),
            _("[  ] I want to dispute the debt because I think: other (please describe on the reverse)."),
            _("[  ] I want you to send me the name and address of the original creditor."),
            _("[  ] I enclosed this amount: ____________"),
            _("Reference: %(reference)s · Validation period ends: %(date)s")
            % {"reference": f.loan.external_id, "date": day(ends)},
        ]),
    ]  # fmt: skip
    letter.facts.update(
        itemization_date=itemization.isoformat(),
        amount_at_itemization=str(then),
        interest_since=str(interest),
        fees_since=str(fees),
        payments_and_credits_since=str(paid + credits),
        current_amount=str(current),
        mailed_on=mailed_on.isoformat(),
        presumed_receipt=notices.presumed_receipt(mailed_on, "US").isoformat(),
        validation_period_ends=ends.isoformat(),
    )


def arrears_notice(letter: Letter, f: _Facts, details: dict[str, Any]) -> None:
    """The UK notice of sums in arrears (Consumer Credit Act 1974, s.86B)."""
    letter.title = _("Notice of sums in arrears")
    _greeting(letter, f)
    letter.blocks += [
        ("p", _("This notice is given under section 86B of the Consumer Credit Act 1974. Your agreement "
                "%(reference)s is in arrears: you have missed payments totalling %(amount)s, first due on %(date)s.")
         % {"reference": f.loan.external_id, "amount": f.money(f.overdue_amount()), "date": day(f.overdue_since())}),
        ("table", f.schedule_rows(f.overdue) if f.overdue else [[_("Total in arrears"), f.money(f.overdue_amount())]]),
        ("table", [[_("Total in arrears"), f.money(f.overdue_amount())],
                   [_("Outstanding balance"), f.money(f.balance())]]),
        ("p", _("The Financial Conduct Authority's information sheet on arrears explains what this notice means and "
                "where to get help; ask us for a copy if it is not enclosed.")),
        ("p", _("If you are in financial difficulty, please talk to us: we will consider a payment arrangement. Free, "
                "impartial debt advice is available from MoneyHelper and other free debt advice services.")),
    ]  # fmt: skip
    _contact(letter, f)
    letter.facts.update(amount_in_arrears=str(f.overdue_amount()))


def default_notice(letter: Letter, f: _Facts, details: dict[str, Any]) -> None:
    """The UK default notice (Consumer Credit Act 1974, s.87-88): the breach, the sum to pay and a date at least 14
    days after service to remedy it by."""
    # Made as the letter goes to the print queue; the mail house posts it with the next day's batch: the remedy date
    # counts from that posting, never from the hand-off (a day's slip must not shorten the 14 days of s.88(2)).
    posted_on = notices.business_days_after(f.today, notices.MAIL_HOUSE_BUSINESS_DAYS, "GB")
    remedy_by = notices.default_notice_remedy_by(posted_on, "GB")
    letter.title = _("Default notice served under section 87(1) of the Consumer Credit Act 1974")
    _greeting(letter, f)
    letter.blocks += [
        ("p", _("You are in breach of agreement %(reference)s: instalments due under it have not been paid since "
                "%(date)s.") % {"reference": f.loan.external_id, "date": day(f.overdue_since())}),
        ("table", [[_("Amount required to remedy the breach"), f.money(f.overdue_amount())],
                   [_("Date by which to remedy the breach"), day(remedy_by)]]),
        ("p", _("If you pay %(amount)s by %(date)s, no further action will be taken in respect of the breach.")
         % {"amount": f.money(f.overdue_amount()), "date": day(remedy_by)}),
        ("p", _("If you do not, we may end the agreement and ask you to pay the outstanding balance of %(balance)s, "
                "and we may take court action to recover it.") % {"balance": f.money(f.balance())}),
        ("h", _("IMPORTANT – YOU SHOULD READ THIS CAREFULLY")),
        ("p", _("If you have difficulty in paying any sum owing under the agreement or taking any other action "
                "required by this notice, you can apply to the court, which may make an order allowing you or any "
                "surety more time. If you are not sure what to do, you should get help as soon as possible, for "
                "example from a solicitor or a free debt advice service.")),
    ]  # fmt: skip
    _contact(letter, f)
    letter.facts.update(posted_on=posted_on.isoformat(), remedy_by=remedy_by.isoformat(),
                        amount_to_remedy=str(f.overdue_amount()))  # fmt: skip


def dispute_verification(letter: Letter, f: _Facts, details: dict[str, Any]) -> None:
    """The verification mailed after a dispute (Reg F 1006.38(d)(2)): what shows the borrower owes the debt."""
    disputed_on = details.get("disputed_on")
    letter.title = _("Verification of the debt you disputed")
    _greeting(letter, f)
    if disputed_on:
        letter.blocks.append(
            (
                "p",
                _("You disputed this debt on %(date)s. Here is the information that shows you owe it.")
                % {"date": day(dt.date.fromisoformat(str(disputed_on)))},
            )
        )
    else:
        letter.blocks.append(("p", _("You disputed this debt. Here is the information that shows you owe it.")))
    letter.blocks += [
        ("table", [[_("Creditor"), letter.lender], [_("Loan reference"), f.loan.external_id],
                   [_("Disbursed on"), day(f.loan.disbursed_on)], [_("Amount lent"), f.money(f.loan.principal)],
                   [_("Outstanding balance"), f.money(f.balance())]]),
        ("h", _("Repayment schedule")),
        ("table", f.schedule_rows(f.installments)),
        ("h", _("Payments received")),
        ("table", f.payment_rows()),
        ("p", _("If you still believe this is wrong, write to us with any documents that support what you say.")),
    ]  # fmt: skip
    _contact(letter, f)
    letter.facts.update(disputed_on=str(disputed_on or ""), current_amount=str(f.balance()))


def plan_confirmation(letter: Letter, f: _Facts, details: dict[str, Any]) -> None:
    """Confirms a payment plan (its instalments) or a settlement (an amount and a date)."""
    plans = f.case.plans.filter(status__in=["active", "completed"]) if f.case is not None else None
    plan = plans.order_by("-created_at").first() if plans is not None else None
    letter.title = _("Confirmation of your payment arrangement")
    _greeting(letter, f)
    if "settlement_amount" in details:
        amount = Decimal(str(details["settlement_amount"]))
        pay_by = dt.date.fromisoformat(str(details["pay_by"]))
        letter.blocks += [
            ("p", _("We confirm that we will accept %(amount)s in full settlement of loan %(reference)s if we receive "
                    "it by %(date)s.") % {"amount": f.money(amount), "reference": f.loan.external_id,
                                          "date": day(pay_by)}),
        ]  # fmt: skip
        letter.facts.update(settlement_amount=str(amount), pay_by=pay_by.isoformat())
    elif plan is not None:
        rows = [[_("Payment"), _("Due date"), _("Amount")]]
        rows += [[str(i.number), day(i.due_date), f.money(i.amount)] for i in plan.installments.order_by("number")]
        letter.blocks += [
            ("p", _("We confirm the payment plan agreed for loan %(reference)s: %(total)s in the payments below.")
             % {"reference": f.loan.external_id, "total": f.money(plan.total_amount)}),
            ("table", rows),
            ("p", _("Please pay each amount by its date. If a payment may be late, call us before it is due.")),
        ]  # fmt: skip
        letter.facts.update(plan=plan.pk, plan_total=str(plan.total_amount))
    else:
        raise DocumentError("There is no plan or settlement to confirm on this case.")
    _contact(letter, f)


def cease_acknowledgement(letter: Letter, f: _Facts, details: dict[str, Any]) -> None:
    """Acknowledges a borrower's request to stop contact (FDCPA 1692c(c); the lender's policy elsewhere)."""
    received = details.get("received_on")
    if not received and f.case is not None:  # made at send time: the day of the case's latest request
        hold = f.case.holds.filter(kind="cease_and_desist").order_by("-placed_at").first()
        received = borrower_today(f.loan.borrower, hold.placed_at).isoformat() if hold is not None else None
    letter.title = _("We have received your request to stop contacting you")
    _greeting(letter, f)
    letter.blocks += [
        ("p", _("On %(date)s we received your request that we stop contacting you about loan %(reference)s.")
         % {"date": day(dt.date.fromisoformat(str(received)) if received else f.today),
            "reference": f.loan.external_id}),
        ("p", _("We will not contact you about this debt again, except to confirm that we are ending our collection "
                "efforts or to tell you about a specific step we or the creditor may take, where the law allows it.")),
        # 1006.6(c)(2): the one letter after a request to stop may say that efforts end or name a remedy — it states
        # no amount and asks for no payment.
        ("p", _("This request does not cancel the debt. If you want to talk to us, you can call us on %(phone)s.")
         % {"phone": letter.help_phone}),
    ]  # fmt: skip
    letter.facts.update(received_on=str(received or f.today.isoformat()))


BUILDERS = {
    "pre_due_notice": pre_due_notice,
    "reminder_letter": reminder_letter,
    "formal_notice": formal_notice,
    "validation_notice": validation_notice,
    "arrears_notice": arrears_notice,
    "default_notice": default_notice,
    "dispute_verification": dispute_verification,
    "plan_confirmation": plan_confirmation,
    "cease_acknowledgement": cease_acknowledgement,
}
