"""The legal evidence pack (issue 16.5): one ZIP per case for a lawyer or a court, and its verification.

What it holds (README "Legal evidence pack"): a cover index listing every file with its SHA-256; the loan (contract
data, disbursement, schedule, the case's history); every payment with its allocation (PDF and CSV); every notice or
letter (the stored document PDFs as they are, with their hashes and mail dates) and every message; the contact record
with each compliance decision and its reasons (PDF and CSV); promises and plans; disputes and holds; each dispute's
workflow (received, DSP-01, the verification prepared and mailed, the hold lifted) with the debt's validation notice
clock (PDF and CSVs); and ``manifest.csv``, the SHA-256 of every other file, so the pack can be verified later
(``pack_verify``, the ``verify_evidence_pack`` command). The PDFs are in the borrower's language and the court's
(Simplified Chinese for a borrower in China, English otherwise; both when they differ), times in the borrower's zone
with the zone named, amounts in the loan's currency. They reuse the documents' letterhead and layout
(``notifications.documents``).

Building again with nothing new returns the latest pack (the evidence files' digest is the same); anything new makes
the next version. Each pack is written once under ``DOCUMENTS_DIR`` and never changed, and who built it is audited.
Rows are read in a fixed number of queries whatever the case's size (payments, contacts and messages are streamed).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import uuid
import zipfile
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from collections_app.labels import state_label, transition_label
from collections_app.models import (
    CaseState,
    CaseTransition,
    CollectionCase,
    Dispute,
    EvidencePack,
    Hold,
    PaymentPlan,
    PromiseToPay,
)
from collections_app.services.cases import TransitionConflict, actor_label
from compliance.models import ContactEvent, ContactOutcome, DebtClock, Decision, Direction
from compliance.notices import presumed_receipt
from loans.models import Installment, Payment, PaymentAllocation
from loans.money import format_money
from notifications.documents.content import DocumentError, Letter, day, licence_line, postal_lines
from notifications.documents.pdf import pdf_build
from notifications.models import (
    NOT_LEFT_STATUSES,
    Channel,
    Document,
    DocumentIntegrityError,
    MessagePurpose,
    OutboundMessage,
)
from notifications.services.documents import file_write_once

logger = logging.getLogger(__name__)

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ["file", "sha256", "bytes"]
LANGUAGES = ("en", "zh-hans")
STREAM = 1000  # rows per fetch when streaming payments, contacts and messages


class EvidenceError(TransitionConflict):
    """The pack cannot be built as required: a stored document no longer has its recorded hash (HTTP 409)."""


def pack_languages(borrower: Any) -> list[str]:
    """The borrower's language, then the court's (Simplified Chinese for a borrower in China, English otherwise)."""
    own = borrower.language if borrower.language in LANGUAGES else "en"
    court = "zh-hans" if (borrower.country or "").upper() == "CN" else "en"
    return [own] if own == court else [own, court]


def _zone(borrower: Any) -> zoneinfo.ZoneInfo:
    name = borrower.timezone or (borrower.time_zones or ["UTC"])[0]
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


# Free text in a PDF table cell (the CSVs keep all of it): a cell taller than a page cannot be laid out.
CELL_CHARS = 300


def _clip(text: str | None) -> str:
    text = str(text or "")
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def _chunks(digest: str) -> str:
    """A SHA-256 in four groups of 16, so a PDF table can wrap it (the CSVs and the manifest keep it whole)."""
    return " ".join(digest[i : i + 16] for i in range(0, len(digest), 16))


@dataclass
class _File:
    name: str
    content: bytes
    # What it is, in the active language (called under translation.override for each cover).
    describe: Callable[[], str]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class PackResult:
    pack: EvidencePack
    created: bool


class _Records:
    """Everything the pack states about one case's loan, read once in a fixed number of queries (payments,
    allocations, contacts, decisions and messages streamed in chunks)."""

    def __init__(self, case: CollectionCase) -> None:
        self.case = case
        self.loan = case.loan
        self.borrower = self.loan.borrower
        self.product = self.loan.product
        self.zone = _zone(self.borrower)
        self.installments = list(Installment.objects.filter(loan=self.loan).order_by("number"))
        self.numbers = {i.pk: i.number for i in self.installments}
        self.allocations: dict[int, list[tuple[int, str, Any]]] = defaultdict(list)
        rows = PaymentAllocation.objects.filter(payment__loan=self.loan).order_by("payment_id", "installment_id", "id")
        for payment_id, installment_id, component, amount in rows.values_list(
            "payment_id", "installment_id", "component", "amount"
        ).iterator(chunk_size=STREAM):
            self.allocations[payment_id].append((self.numbers.get(installment_id, 0), component, amount))
        self.payments = list(
            Payment.objects.filter(loan=self.loan)
            .order_by("received_at", "id")
            .only("id", "amount", "currency", "received_at", "reference", "source")
            .iterator(chunk_size=STREAM)
        )
        self.documents = list(
            Document.objects.filter(loan=self.loan).select_related("message").order_by("created_at", "id")
        )
        self.messages = list(
            OutboundMessage.objects.filter(loan=self.loan)
            .exclude(status__in=NOT_LEFT_STATUSES)  # not evidence of anything yet: the rest are listed
            .order_by("planned_for", "id")
            .only(
                "id",
                "case_id",
                "channel",
                "purpose",
                "to",
                "planned_for",
                "status",
                "status_reason",
                "sent_at",
                "delivered_at",
                "send_started_at",
            )
            .iterator(chunk_size=STREAM)
        )
        self.contacts = list(
            ContactEvent.objects.filter(borrower=self.borrower)
            .select_related("decision", "actor")
            .order_by("at", "id")
            .iterator(chunk_size=STREAM)
        )
        self.refusals = list(
            Decision.objects.filter(borrower=self.borrower, dry_run=False, allowed=False)
            .filter(Q(loan=self.loan) | Q(loan__isnull=True))
            .order_by("at", "id")
            .iterator(chunk_size=STREAM)
        )
        self.transitions = list(
            CaseTransition.objects.filter(case__loan=self.loan).exclude(transition="evidence_pack").order_by("at", "id")
        )
        self.promises = list(
            PromiseToPay.objects.filter(case__loan=self.loan).select_related("created_by").order_by("created_at", "id")
        )
        self.plans = list(
            PaymentPlan.objects.filter(case__loan=self.loan)
            .select_related("proposed_by", "decided_by")
            .prefetch_related("installments")
            .order_by("created_at", "id")
        )
        self.holds = list(
            Hold.objects.filter(case__loan=self.loan)
            .select_related("placed_by", "lifted_by")
            .order_by("placed_at", "id")
        )
        self.disputes = list(
            Dispute.objects.filter(case__loan=self.loan)
            .select_related("hold", "prepared_by", "verification_document__message")
            .order_by("received_at", "id")
        )
        # A verification document is the loan's like every notice, so it is among the documents already; should one
        # ever not be (made for another loan of the borrower), it is evidence of this dispute all the same.
        listed = {d.pk for d in self.documents}
        extra = {d.verification_document.pk: d.verification_document for d in self.disputes
                 if d.verification_document is not None and d.verification_document.pk not in listed}  # fmt: skip
        if extra:
            self.documents = sorted([*self.documents, *extra.values()], key=lambda d: (d.created_at, d.pk))
        self.clock = DebtClock.objects.filter(loan=self.loan).first()

    # -- formatting ------------------------------------------------------------------------------------------------
    def money(self, amount: Any) -> str:
        return format_money(amount, self.loan.currency)

    def when(self, value: dt.datetime | None) -> str:
        """An instant in the borrower's zone, the zone named ("2026-03-01 10:00 Asia/Shanghai")."""
        if value is None:
            return "—"
        return f"{value.astimezone(self.zone):%Y-%m-%d %H:%M} {self.zone.key}"

    def iso(self, value: dt.datetime | None) -> str:
        return value.astimezone(self.zone).isoformat() if value else ""


def _who(user: Any, fallback: str = "") -> str:
    if user is None:
        return fallback or _("the borrower or the system")
    return user.get_full_name() or user.get_username()


def _reasons(decision: Decision | None, chinese: bool) -> str:
    if decision is None:
        return ""
    return "; ".join(
        f"{r.get('rule', '')}: {r.get('message_zh') if chinese else r.get('message')}" for r in decision.reasons or []
    )


# ---------------------------------------------------------------------------------------------------------------
# The PDFs (one set per language)
# ---------------------------------------------------------------------------------------------------------------
def _letter(r: _Records, language: str, title: str) -> Letter:
    """A letter-shaped page set with the documents' letterhead: the lender, the borrower's address block, the case."""
    lender = (r.product.lender_name or "").strip() or settings.LENDER_NAME
    address = [line.strip() for line in (r.product.lender_address or settings.LENDER_ADDRESS).splitlines()]
    try:
        licence = licence_line(r.borrower, r.product)
    except DocumentError:  # a missing licence number stops a letter to the borrower, not the evidence of the case
        licence = ""
    letter = Letter(
        language=language,
        lender=lender,
        lender_address=[line for line in address if line],
        licence=licence,
        help_phone=settings.LENDER_HELP_PHONE,
        recipient=[_("Borrower:"), *postal_lines(r.borrower)],
        date_line=_("Evidence pack of case %(case)s") % {"case": r.case.pk},
        reference_line=_("Loan reference: %(reference)s · Case %(case)s")
        % {"reference": r.loan.external_id, "case": r.case.pk},
        title=title,
        page_size="letter" if (r.borrower.country or "").upper() in ("US", "CA") else "A4",
    )
    letter.page_label = _("Page %(page)s")
    letter.footer = _("%(lender)s · Evidence pack · Case %(case)s") % {"lender": lender, "case": r.case.pk}
    letter.blocks.append(("p", _("Times are in the borrower's time zone, %(zone)s; amounts in %(currency)s.")
                          % {"zone": r.zone.key, "currency": r.loan.currency}))  # fmt: skip
    return letter


def _loan_pdf(r: _Records, language: str) -> bytes:
    letter = _letter(r, language, _("Loan contract, disbursement and repayment schedule"))
    loan = r.loan
    paid = sum((i.amount_paid + i.opening_paid for i in r.installments), loan.principal * 0)
    letter.blocks += [
        ("h", _("Loan contract")),
        ("table", [
            [_("Lender"), letter.lender],
            [_("Borrower"), r.borrower.full_name],
            [_("Loan reference"), loan.external_id],
            [_("Product"), r.product.name],
            [_("Amount lent"), r.money(loan.principal)],
            [_("Annual rate"), f"{loan.annual_rate}%" if loan.annual_rate is not None else "—"],
            [_("Term (months)"), str(loan.term_months or len(r.installments))],
            [_("Currency"), loan.currency],
        ]),
        ("h", _("Disbursement")),
        ("table", [[_("Disbursed on"), day(loan.disbursed_on)], [_("Amount disbursed"), r.money(loan.principal)]]),
        ("h", _("Repayment schedule")),
        ("table", [[_("Instalment"), _("Due date"), _("Principal"), _("Interest"), _("Fees"), _("Paid"),
                    _("Fully paid on")]]
         + [[str(i.number), day(i.due_date), r.money(i.principal_due), r.money(i.interest_due), r.money(i.fee_due),
             r.money(i.amount_paid + i.opening_paid), day(i.paid_on)] for i in r.installments]),
        ("table", [[_("Total paid"), r.money(paid)], [_("Amount overdue"), r.money(loan.amount_overdue)],
                   [_("Outstanding balance"), r.money(loan.outstanding_balance)],
                   [_("Days past due"), str(loan.days_past_due)]]),
        ("h", _("Case history")),
        ("table", [[_("When"), _("From"), _("To"), _("What"), _("By"), _("Reason")]]
         + [[r.when(t.at), state_label(t.from_state) if t.from_state else "—", state_label(t.to_state),
             transition_label(t.transition), t.actor_label, _clip(t.reason) or "—"] for t in r.transitions]),
    ]  # fmt: skip
    return pdf_build(letter)[0]


def _payments_pdf(r: _Records, language: str) -> bytes:
    letter = _letter(r, language, _("Payments received and their allocation"))
    rows = [[_("Received at"), _("Reference"), _("Amount"), _("Allocated to")]]
    components = {"principal": _("principal"), "interest": _("interest"), "fee": _("fee")}
    for p in r.payments:
        parts = [
            _("instalment %(number)s %(component)s %(amount)s")
            % {"number": number, "component": components.get(component, component), "amount": r.money(amount)}
            for number, component, amount in r.allocations.get(p.pk, [])
        ]
        rows.append([r.when(p.received_at), _clip(p.reference), r.money(p.amount), "; ".join(parts) or _("credit")])
    total = sum((p.amount for p in r.payments), r.loan.principal * 0)
    letter.blocks += [
        ("table", [[_("Payments"), str(len(r.payments))], [_("Total received"), r.money(total)]]),
        *_tables(rows, _("No payment has been received.")),
    ]
    return pdf_build(letter)[0]


def _notices_pdf(r: _Records, language: str) -> bytes:
    letter = _letter(r, language, _("Notices and letters sent, and messages"))
    docs = [[_("File"), _("Document"), _("Made at"), _("Mailed or sent at"), _("SHA-256")]]
    for d in r.documents:
        sent = d.message.sent_at or d.message.send_started_at if d.message else None
        channel = d.message.get_channel_display() if d.message else _("not sent")
        docs.append([f"notices/{d.filename}", f"{d.get_kind_display()} ({d.language}, {channel})",
                     r.when(d.created_at), r.when(sent), _chunks(d.sha256)])  # fmt: skip
    messages = [[_("Planned for"), _("Channel"), _("Purpose"), _("Status"), _("Sent at"), _("To")]]
    messages += [[r.when(m.planned_for), m.get_channel_display(), m.get_purpose_display(), m.get_status_display(),
                  r.when(m.sent_at), _clip(m.to)] for m in r.messages]  # fmt: skip
    letter.blocks += [
        ("h", _("Notices and letters")),
        *_tables(docs, _("No notice or letter has been made.")),
        ("h", _("Messages")),
        *_tables(messages, _("No message has been sent.")),
    ]
    return pdf_build(letter)[0]


def _contacts_pdf(r: _Records, language: str) -> bytes:
    chinese = language.startswith("zh")
    letter = _letter(r, language, _("Contact record and compliance decisions"))
    rows = [[_("When"), _("Channel"), _("Outcome"), _("By"), _("Compliance decision and reasons")]]
    for c in r.contacts:
        decision = c.decision
        verdict = (_("allowed") if decision.allowed else _("refused")) if decision else _("no decision recorded")
        reasons = _reasons(decision, chinese)
        outcome = ContactOutcome(c.outcome).label if c.outcome in ContactOutcome.values else c.outcome
        direction = Direction(c.direction).label if c.direction in Direction.values else c.direction
        rows.append([r.when(c.at), _clip(f"{_channel(c.channel)} · {direction} · {c.to}"), str(outcome),
                     _who(c.actor, _("automated") if c.automated else ""),
                     _clip(f"{verdict}{': ' + reasons if reasons else ''}")])  # fmt: skip
    refused = [[_("When"), _("Channel"), _("Purpose"), _("Reasons")]]
    refused += [[r.when(d.at), _channel(d.channel), _purpose(d.purpose), _clip(_reasons(d, chinese))]
                for d in r.refusals]  # fmt: skip
    letter.blocks += [
        ("h", _("Contacts")),
        *_tables(rows, _("No contact has been recorded.")),
        ("h", _("Contacts the compliance gate refused")),
        *_tables(refused, _("The compliance gate refused no contact.")),
    ]
    return pdf_build(letter)[0]


def _arrangements_pdf(r: _Records, language: str) -> bytes:
    letter = _letter(r, language, _("Promises to pay and payment plans"))
    promises = [[_("Made at"), _("Amount"), _("Pay by"), _("Status"), _("Paid towards it"), _("Recorded by")]]
    promises += [[r.when(p.created_at), r.money(p.amount), day(p.promised_on), p.get_status_display(),
                  r.money(p.paid_amount), _who(p.created_by)] for p in r.promises]  # fmt: skip
    letter.blocks += [
        ("h", _("Promises to pay")),
        *_tables(promises, _("No promise to pay was made.")),
        ("h", _("Payment plans")),
    ]
    if not r.plans:
        letter.blocks.append(("p", _("No payment plan was made.")))
    for plan in r.plans:
        letter.blocks += [
            ("table", [[_("Plan"), str(plan.pk)], [_("Status"), plan.get_status_display()],
                       [_("Made at"), r.when(plan.created_at)], [_("Plan total"), r.money(plan.total_amount)],
                       [_("Paid towards the plan"), r.money(plan.paid_amount)],
                       [_("Proposed by"), _who(plan.proposed_by)],
                       [_("Decided by"), _who(plan.decided_by, "—") if plan.decided_by else "—"]]),
            ("table", [[_("Payment"), _("Due date"), _("Amount"), _("Paid")]]
             + [[str(i.number), day(i.due_date), r.money(i.amount), r.money(i.paid_amount)]
                for i in plan.installments.all()]),
        ]  # fmt: skip
    return pdf_build(letter)[0]


def _holds_pdf(r: _Records, language: str) -> bytes:
    letter = _letter(r, language, _("Disputes and holds"))
    rows = [[_("Kind"), _("Placed at"), _("By"), _("Reason"), _("Lifted at"), _("Why lifted")]]
    rows += [[h.get_kind_display(), r.when(h.placed_at), _who(h.placed_by), _clip(h.reason), r.when(h.lifted_at),
              _clip(h.lift_reason) or "—"] for h in r.holds]  # fmt: skip
    letter.blocks += _tables(rows, _("No dispute or hold was recorded."))
    return pdf_build(letter)[0]


def _yes(value: bool) -> str:
    return _("Yes") if value else _("No")


def _period(d: Dispute) -> str:
    """Where the dispute fell against the validation period, as recorded when it was received (DSP-01)."""
    if d.in_validation_period is None:
        return _("No validation period applies to this debt.")
    if not d.in_validation_period:
        return _("After the validation period (it ended on %(date)s).") % {"date": day(d.validation_period_ends_on)}
    if d.validation_period_ends_on is None:
        return _("Within the validation period (no validation notice mailed yet).")
    return _("Within the validation period (it ends on %(date)s).") % {"date": day(d.validation_period_ends_on)}


def _presumed_receipt(clock: DebtClock) -> dt.date | None:
    # The day the validation notice itself states (the notice is a US one, VAL-01: US business days).
    return presumed_receipt(clock.notice_mailed_on, "US") if clock.notice_mailed_on else None


def _disputes_pdf(r: _Records, language: str) -> bytes:
    """Each dispute's workflow (Reg F 1006.38): received when and how, in writing or not, DSP-01, the verification
    prepared (by whom, its document) and mailed, the hold lifted; and the debt's validation notice clock."""
    letter = _letter(r, language, _("Disputes: the validation period and the verification"))
    letter.blocks.append(("h", _("Validation notice clock")))
    clock = r.clock
    if clock is None:
        letter.blocks.append(("p", _("No validation notice clock is kept for this debt.")))
    else:
        first = r.when(clock.first_communication_at)
        if clock.first_communication_at is None and clock.before_system:
            first = _("before the system (its date is not known)")
        letter.blocks.append(("table", [
            [_("First communication"), first],
            [_("Validation notice mailed at"), r.when(clock.notice_sent_at)],
            [_("Validation notice mailed on"), day(clock.notice_mailed_on)],
            [_("Presumed received on"), day(_presumed_receipt(clock))],
            [_("Validation period ends on"), day(clock.validation_period_ends_on)],
        ]))  # fmt: skip
        if clock.default_notice_sent_at is not None:  # DN-01 (UK): the default notice and its remedy date
            letter.blocks.append(("table", [
                [_("Default notice posted at"), r.when(clock.default_notice_sent_at)],
                [_("Date by which to remedy the breach"), day(clock.default_notice_remedy_by)],
            ]))  # fmt: skip
    letter.blocks.append(("h", _("Disputes received")))
    if not r.disputes:
        letter.blocks.append(("p", _("No dispute was recorded.")))
    for d in r.disputes:
        document = d.verification_document
        letter.blocks.append(("table", [
            [_("Dispute"), str(d.pk)],
            [_("Received at"), r.when(d.received_at)],
            [_("How it came"), d.get_channel_display()],
            [_("In writing"), _yes(d.written)],
            [_("Asks for the original creditor"), _yes(d.original_creditor)],
            [_("Reason"), _clip(d.hold.reason) or "—"],
            [_("Validation period"), _period(d)],
            [_("DSP-01 applies"), _yes(d.dsp01)],
            [_("Stage"), d.get_stage_display()],
            [_("Verification prepared at"), r.when(d.prepared_at)],
            [_("Prepared by"), _who(d.prepared_by) if d.prepared_by else "—"],
            [_("Verification letter"),
             f"notices/{document.filename} · SHA-256 {_chunks(document.sha256)}" if document else "—"],
            [_("Verification mailed at"), r.when(d.mailed_at)],
            [_("Hold lifted at"), r.when(d.hold.lifted_at)],
            [_("Why lifted"), _clip(d.hold.lift_reason) or "—"],
        ]))  # fmt: skip
    return pdf_build(letter)[0]


TABLE_ROWS = 40


def _tables(rows: list[list[str]], empty: str) -> list[tuple[str, Any]]:
    """A long table as tables of ``TABLE_ROWS`` rows, each with the header (reportlab splits one long table page by
    page, measuring the rest again each time: 5,000 payments and 5,000 contacts took 19 s instead of 8 s);
    ``empty`` when there are none."""
    header, body = rows[0], rows[1:]
    if not body:
        return [("p", empty)]
    return [("table", [header, *body[i : i + TABLE_ROWS]]) for i in range(0, len(body), TABLE_ROWS)]


def _purpose(value: str) -> str:
    return str(MessagePurpose(value).label) if value in MessagePurpose.values else (value or "—")


def _channel(value: str) -> str:
    """A channel in words (the ledger says "call" and "visit" where the outbox says "voice")."""
    words = {"call": Channel.VOICE.label, "visit": _("field visit")}
    if value in words:
        return str(words[value])
    return str(Channel(value).label) if value in Channel.values else value


# ---------------------------------------------------------------------------------------------------------------
# The CSVs (language-neutral: ISO times with their offset in the borrower's zone, decimal amounts)
# ---------------------------------------------------------------------------------------------------------------
def _csv(header: list[str], rows: Iterable[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _schedule_csv(r: _Records) -> bytes:
    header = ["installment", "due_date", "principal_due", "interest_due", "fee_due", "principal_paid",
              "interest_paid", "fee_paid", "paid_before_intake", "fully_paid_on", "currency"]  # fmt: skip
    return _csv(header, ([i.number, i.due_date, i.principal_due, i.interest_due, i.fee_due, i.principal_paid,
                          i.interest_paid, i.fee_paid, i.opening_paid, i.paid_on or "", r.loan.currency]
                         for i in r.installments))  # fmt: skip


def _payments_csv(r: _Records) -> bytes:
    """One row per allocation (a payment with none — a credit — has one row with the allocation columns empty)."""
    header = ["payment_id", "received_at", "time_zone", "reference", "source", "amount", "currency", "installment",
              "component", "allocated"]  # fmt: skip

    def rows() -> Iterable[list[Any]]:
        for p in r.payments:
            base = [p.pk, r.iso(p.received_at), r.zone.key, p.reference, p.source, p.amount, p.currency]
            parts: list[tuple[Any, str, Any]] = list(r.allocations.get(p.pk, [])) or [("", "", "")]
            for number, component, amount in parts:
                yield [*base, number, component, amount]

    return _csv(header, rows())


def _notices_csv(r: _Records) -> bytes:
    header = ["file", "document_id", "kind", "language", "title", "pages", "made_at", "message_id", "channel",
              "mailed_or_sent_at", "delivered_at", "sha256"]  # fmt: skip
    return _csv(header, ([f"notices/{d.filename}", d.pk, d.kind, d.language, d.title, d.pages, r.iso(d.created_at),
                          d.message_id or "", d.message.channel if d.message else "",
                          r.iso((d.message.sent_at or d.message.send_started_at) if d.message else None),
                          r.iso(d.message.delivered_at if d.message else None), d.sha256]
                         for d in r.documents))  # fmt: skip


def _messages_csv(r: _Records) -> bytes:
    header = ["message_id", "case_id", "channel", "purpose", "to", "planned_for", "status", "status_reason",
              "sent_at", "delivered_at", "time_zone"]  # fmt: skip
    return _csv(header, ([m.pk, m.case_id or "", m.channel, m.purpose, m.to, r.iso(m.planned_for), m.status,
                          m.status_reason, r.iso(m.sent_at), r.iso(m.delivered_at), r.zone.key]
                         for m in r.messages))  # fmt: skip


def _contacts_csv(r: _Records) -> bytes:
    """Every contact with its decision (allowed or not, its rules and reasons in both languages), then every contact
    the gate refused (``contact_id`` empty)."""
    header = ["contact_id", "at", "time_zone", "channel", "direction", "to", "with", "outcome", "automated", "actor",
              "decision_id", "decision_allowed", "decision_outcome", "rules", "reasons_en", "reasons_zh",
              "evaluator_version", "note"]  # fmt: skip

    def decision_columns(d: Decision | None) -> list[Any]:
        if d is None:
            return ["", "", "", "", "", "", ""]
        rules = " ".join(str(x.get("rule", "")) for x in d.reasons or [])
        return [d.pk, "yes" if d.allowed else "no", d.outcome, rules, _reasons(d, False), _reasons(d, True),
                d.evaluator_version]  # fmt: skip

    def rows() -> Iterable[list[Any]]:
        for c in r.contacts:
            yield [c.pk, r.iso(c.at), r.zone.key, c.channel, c.direction, c.to, c.target_role, c.outcome,
                   "yes" if c.automated else "no", c.actor.get_username() if c.actor else "",
                   *decision_columns(c.decision), c.note]  # fmt: skip
        for d in r.refusals:
            yield ["", r.iso(d.at), r.zone.key, d.channel, "outbound", d.to, "", "refused",
                   "yes" if d.automated else "no", "", *decision_columns(d), ""]  # fmt: skip

    return _csv(header, rows())


def _arrangements_csv(r: _Records) -> bytes:
    header = ["kind", "id", "case_id", "made_at", "status", "amount", "due_or_pay_by", "paid", "by", "currency"]

    def rows() -> Iterable[list[Any]]:
        for p in r.promises:
            yield ["promise", p.pk, p.case_id, r.iso(p.created_at), p.status, p.amount, p.promised_on, p.paid_amount,
                   p.created_by.get_username() if p.created_by else "", r.loan.currency]  # fmt: skip
        for plan in r.plans:
            yield ["plan", plan.pk, plan.case_id, r.iso(plan.created_at), plan.status, plan.total_amount,
                   plan.starts_on, plan.paid_amount, plan.proposed_by.get_username() if plan.proposed_by else "",
                   r.loan.currency]  # fmt: skip
            for i in plan.installments.all():
                yield ["plan_payment", f"{plan.pk}-{i.number}", plan.case_id, "", "", i.amount, i.due_date,
                       i.paid_amount, "", r.loan.currency]  # fmt: skip

    return _csv(header, rows())


def _holds_csv(r: _Records) -> bytes:
    header = ["hold_id", "case_id", "kind", "placed_at", "placed_by", "reason", "document_ref", "lifted_at",
              "lifted_by", "lift_reason"]  # fmt: skip
    return _csv(header, ([h.pk, h.case_id, h.kind, r.iso(h.placed_at), h.placed_by.get_username() if h.placed_by
                          else "", h.reason, h.document_ref, r.iso(h.lifted_at),
                          h.lifted_by.get_username() if h.lifted_by else "", h.lift_reason]
                         for h in r.holds))  # fmt: skip


def _disputes_csv(r: _Records) -> bytes:
    """One row per dispute (``in_validation_period`` empty: no validation period applies to the debt)."""
    header = ["dispute_id", "case_id", "hold_id", "received_at", "time_zone", "channel", "written",
              "original_creditor", "in_validation_period", "validation_period_ends_on", "dsp01", "stage",
              "prepared_at", "prepared_by", "verification_file", "verification_sha256", "verification_message_id",
              "mailed_at", "hold_lifted_at", "lift_reason", "reason"]  # fmt: skip

    def flag(value: bool | None) -> str:
        return "" if value is None else ("yes" if value else "no")

    def rows() -> Iterable[list[Any]]:
        for d in r.disputes:
            document = d.verification_document
            yield [d.pk, d.case_id, d.hold_id, r.iso(d.received_at), r.zone.key, d.channel, flag(d.written),
                   flag(d.original_creditor), flag(d.in_validation_period), d.validation_period_ends_on or "",
                   flag(d.dsp01), d.stage, r.iso(d.prepared_at),
                   d.prepared_by.get_username() if d.prepared_by else "",
                   f"notices/{document.filename}" if document else "", document.sha256 if document else "",
                   d.verification_message_id or "", r.iso(d.mailed_at), r.iso(d.hold.lifted_at),
                   d.hold.lift_reason, d.hold.reason]  # fmt: skip

    return _csv(header, rows())


def _clock_csv(r: _Records) -> bytes:
    """The debt's notice clock — the validation notice (VAL-01) and, for a UK debt, the default notice with its remedy
    date (DN-01): one row, or none when the debt has no clock."""
    header = ["loan_id", "first_communication_at", "first_communication_before_system", "notice_mailed_at",
              "notice_mailed_on", "presumed_receipt", "validation_period_ends_on", "notice_ref",
              "time_zone", "default_notice_posted_at", "default_notice_remedy_by", "default_notice_ref"]  # fmt: skip
    clock = r.clock
    rows = [] if clock is None else [
        [clock.loan_id, r.iso(clock.first_communication_at), "yes" if clock.before_system else "no",
         r.iso(clock.notice_sent_at), clock.notice_mailed_on or "", _presumed_receipt(clock) or "",
         clock.validation_period_ends_on or "", clock.notice_ref, r.zone.key, r.iso(clock.default_notice_sent_at),
         clock.default_notice_remedy_by or "", clock.default_notice_ref]
    ]  # fmt: skip
    return _csv(header, rows)


# ---------------------------------------------------------------------------------------------------------------
# Assembling, storing, verifying
# ---------------------------------------------------------------------------------------------------------------
PDF_PARTS: list[tuple[str, Callable[[_Records, str], bytes], Callable[[], str]]] = [
    ("01-loan", _loan_pdf, lambda: _("Loan contract, disbursement, repayment schedule and case history")),
    ("02-payments", _payments_pdf, lambda: _("Every payment with its allocation")),
    ("03-notices", _notices_pdf, lambda: _("Notices and letters sent (with their hashes and mail dates), messages")),
    ("04-contacts", _contacts_pdf, lambda: _("Contact record with each compliance decision and its reasons")),
    ("05-promises-plans", _arrangements_pdf, lambda: _("Promises to pay and payment plans")),
    ("06-disputes-holds", _holds_pdf, lambda: _("Disputes and holds")),
    ("07-disputes", _disputes_pdf, lambda: _("Each dispute and its verification; the validation notice clock")),
]
CSV_PARTS: list[tuple[str, Callable[[_Records], bytes], Callable[[], str]]] = [
    ("data/schedule.csv", _schedule_csv, lambda: _("Repayment schedule (CSV)")),
    ("data/payments.csv", _payments_csv, lambda: _("Payments with their allocation (CSV)")),
    ("data/notices.csv", _notices_csv, lambda: _("Notices and letters (CSV)")),
    ("data/messages.csv", _messages_csv, lambda: _("Messages (CSV)")),
    ("data/contacts.csv", _contacts_csv, lambda: _("Contact record with compliance decisions (CSV)")),
    ("data/promises-plans.csv", _arrangements_csv, lambda: _("Promises to pay and payment plans (CSV)")),
    ("data/disputes-holds.csv", _holds_csv, lambda: _("Disputes and holds (CSV)")),
    ("data/disputes.csv", _disputes_csv, lambda: _("Each dispute and its verification (CSV)")),
    ("data/validation-notice-clock.csv", _clock_csv, lambda: _("The validation notice clock (CSV)")),
]


def _evidence_files(r: _Records, languages: list[str]) -> list[_File]:
    """Every file of the pack but the cover indexes and the manifest, in their order."""
    files: list[_File] = []
    for language in languages:
        with translation.override(language):
            for stem, build, describe in PDF_PARTS:
                files.append(_File(f"{language}/{stem}.pdf", build(r, language), describe))
    for name, build_csv, describe in CSV_PARTS:
        files.append(_File(name, build_csv(r), describe))
    for d in r.documents:
        try:
            content = d.pdf_bytes()
        except DocumentIntegrityError as exc:
            raise EvidenceError(str(exc)) from exc
        sent = (d.message.sent_at or d.message.send_started_at) if d.message else None

        def describe(d: Document = d, sent: dt.datetime | None = sent) -> str:
            return _("%(kind)s, mailed or sent at %(time)s") % {"kind": d.get_kind_display(), "time": r.when(sent)}

        files.append(_File(f"notices/{d.filename}", content, describe))
    return files


def _digest(files: list[_File]) -> str:
    return hashlib.sha256("".join(f"{f.sha256}  {f.name}\n" for f in files).encode()).hexdigest()


def _cover_pdf(r: _Records, language: str, files: list[_File], version: int, built: dt.datetime, by: str) -> bytes:
    with translation.override(language):
        letter = _letter(r, language, _("Evidence pack: index"))
        rows = [[_("File"), _("What it is"), _("SHA-256")]]
        rows += [[f.name, f.describe(), _chunks(f.sha256)] for f in files]
        letter.blocks += [
            ("table", [
                [_("Case"), str(r.case.pk)], [_("State"), state_label(r.case.state)],
                [_("Version"), str(version)], [_("Built at"), r.when(built)], [_("Built by"), by],
                [_("Languages"), ", ".join(pack_languages(r.borrower))],
            ]),
            ("p", _("Each file below is in the pack with the SHA-256 shown. manifest.csv lists the SHA-256 of every "
                    "file, this index included; run \"python manage.py verify_evidence_pack\" on the ZIP to check "
                    "that nothing was changed.")),
            *_tables(rows, ""),
        ]  # fmt: skip
        return pdf_build(letter)[0]


def _zip(files: list[_File], built: dt.datetime) -> tuple[bytes, bytes]:
    """The ZIP of ``files`` and their manifest, and the manifest's bytes."""
    manifest = _csv(MANIFEST_COLUMNS, ([f.name, f.sha256, len(f.content)] for f in files))
    stamp = built.astimezone(dt.UTC)
    when = (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for f in [*files, _File(MANIFEST, manifest, lambda: MANIFEST)]:
            bundle.writestr(zipfile.ZipInfo(f.name, date_time=when), f.content, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue(), manifest


def evidence_pack_build(*, case_id: int, actor: User | None, reason: str = "") -> PackResult:
    """Build the case's evidence pack (a manager on demand, or the system when the case entered legal). Returns the
    latest pack unchanged (``created`` False) when its evidence files are the same; otherwise stores a new version
    and audits who built it."""
    case = CollectionCase.objects.select_related("loan__borrower", "loan__product").get(pk=case_id)
    records = _Records(case)
    languages = pack_languages(records.borrower)
    files = _evidence_files(records, languages)
    digest = _digest(files)
    with transaction.atomic():
        locked = CollectionCase.objects.select_for_update(of=("self",)).get(pk=case_id)
        latest = EvidencePack.objects.filter(case_id=case_id).order_by("-version").first()
        if latest is not None and latest.content_digest == digest:
            return PackResult(latest, created=False)
        version = (latest.version if latest else 0) + 1
        built = timezone.now()
        by = actor_label(actor)
        covers = [
            _File(f"{language}/00-index.pdf", _cover_pdf(records, language, files, version, built, by),
                  lambda: _("Cover index"))
            for language in languages
        ]  # fmt: skip
        content, manifest = _zip([*covers, *files], built)
        relative = f"evidence/{built:%Y/%m}/{uuid.uuid4().hex}.zip"
        path = file_write_once(Path(settings.DOCUMENTS_DIR) / relative, content)
        try:
            why = (reason or "").strip()[:200] or "on demand"
            pack = EvidencePack.objects.create(
                case=locked,
                version=version,
                languages=languages,
                path=relative,
                sha256=hashlib.sha256(content).hexdigest(),
                size=len(content),
                manifest_sha256=hashlib.sha256(manifest).hexdigest(),
                content_digest=digest,
                files=len(covers) + len(files) + 1,
                reason=why,
                created_by=actor,
                actor_label=by,
            )
            CaseTransition.objects.create(
                case=locked,
                from_state=locked.state,
                to_state=locked.state,
                transition="evidence_pack",
                actor=actor,
                actor_label=by,
                reason=f"evidence pack version {version} built ({len(covers) + len(files) + 1} files, SHA-256 "
                f"{pack.sha256}): {why}",
                policy_id=locked.policy_id,
                at=built,
            )
        except Exception:
            path.unlink(missing_ok=True)  # no row names it: the file goes too
            raise
    logger.info("evidence pack %s of case %s: version %s", pack.pk, case_id, version)
    return PackResult(pack, created=True)


def evidence_packs_missing(*, limit: int = 100) -> list[int]:
    """Build the pack of every case in legal that has none yet (the sweep's legal moves, a lost task): returns the
    cases built, at most ``limit`` of them."""
    cases = list(
        CollectionCase.objects.filter(state=CaseState.LEGAL, evidence_packs__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    built = []
    for case_id in cases:
        try:
            evidence_pack_build(case_id=case_id, actor=None, reason="the case entered legal")
        except EvidenceError:
            logger.exception("evidence pack of case %s not built", case_id)
            continue
        built.append(case_id)
    return built


def pack_verify(content: bytes, *, expected_sha256: str = "", expected_manifest_sha256: str = "") -> list[str]:
    """What is wrong with a pack (empty: it verifies). Every file of the ZIP must be in ``manifest.csv`` with the
    SHA-256 and size it has, and every file the manifest lists must be there; with the recorded hashes of the ZIP or
    of its manifest given, those must match too."""
    problems: list[str] = []
    actual = hashlib.sha256(content).hexdigest()
    if expected_sha256 and actual != expected_sha256:
        problems.append(f"the ZIP's SHA-256 is {actual}, not the recorded {expected_sha256}")
    try:
        bundle = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        return [*problems, "this is not a ZIP file"]
    with bundle:
        names = [n for n in bundle.namelist() if not n.endswith("/")]
        if MANIFEST not in names:
            return [*problems, f"the pack has no {MANIFEST}"]
        manifest = bundle.read(MANIFEST)
        if expected_manifest_sha256 and hashlib.sha256(manifest).hexdigest() != expected_manifest_sha256:
            problems.append(f"{MANIFEST} is not the manifest recorded when the pack was built")
        listed: dict[str, tuple[str, str]] = {}
        for row in csv.DictReader(io.StringIO(manifest.decode("utf-8"))):
            listed[row["file"]] = (row["sha256"], row["bytes"])
        for name in names:
            if name == MANIFEST:
                continue
            if name not in listed:
                problems.append(f"{name}: in the pack but not in the manifest")
                continue
            data = bundle.read(name)
            sha, size = listed[name]
            found = hashlib.sha256(data).hexdigest()
            if found != sha:
                problems.append(f"{name}: SHA-256 {found} does not match the manifest's {sha}")
            elif str(len(data)) != size:
                problems.append(f"{name}: {len(data)} bytes, the manifest says {size}")
        for name in listed:
            if name not in names:
                problems.append(f"{name}: in the manifest but missing from the pack")
    return problems
