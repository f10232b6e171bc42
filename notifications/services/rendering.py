"""What a message says: the borrower-language template rendered for its loan and lender, letters' postal addresses,
the case page's preview and the replies to inbound texts."""

from __future__ import annotations

import string
from typing import Any

from django.conf import settings
from django.db.models import Case, When
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from loans.models import ZERO, Installment, Loan, LoanProduct
from loans.money import format_money
from notifications.mail import EmailContent, unsubscribe_url
from notifications.models import (
    DISPATCHED_CHANNELS,
    Channel,
    InboundAction,
    MessagePurpose,
    MessageTemplate,
    OutboundMessage,
)
from notifications.services.portal_links import PREVIEW_TOKEN, portal_links_issue, portal_url
from notifications.templating import render, render_html


def address_and_render(
    rows: list[OutboundMessage], *, debts: dict[int, list[int]] | None = None
) -> dict[int, EmailContent]:
    """Address letters (the postal address) and render the borrower-language template, for the whole batch in a few
    queries. Texts, calls and e-mails get their address from the gate, which loads the borrower's anyway. ``debts``:
    the loans each message covers (message id → loan ids; default its own loan), listed by ``{loans}``. Returns
    each e-mail's subject and bodies (its ``body`` is the text the borrower reads, footer included)."""
    debts = debts or {}
    others = {loan for row in rows for loan in debts.get(row.pk, []) if loan != row.loan_id}
    loans = {loan.pk: loan for loan in Loan.objects.filter(pk__in=others)} if others else {}
    oldest_unpaid: dict[int, Installment] = {}
    for inst in Installment.objects.filter(loan_id__in={r.loan_id for r in rows}, paid_on__isnull=True).order_by(
        "loan_id", "due_date"
    ):
        oldest_unpaid.setdefault(inst.loan_id, inst)
    templates = {
        (t.purpose, t.channel, t.language): t
        for t in MessageTemplate.objects.filter(is_active=True, channel__in=DISPATCHED_CHANNELS)
    }
    # A new link to the borrower's page for each message that carries one (issued for the batch in one INSERT).
    linked = [r for r in rows if _uses_link(templates, r)]
    tokens = portal_links_issue(borrower_ids=[r.borrower_id for r in linked]) if linked else {}
    emails: dict[int, EmailContent] = {}
    for row in rows:
        if not row.to and row.channel == Channel.LETTER:
            row.to = _postal_address(row.borrower)
        template = _template(templates, row)
        if template is None:
            row.body = ""  # nothing to say: failed below rather than an empty message sent
            continue
        row.template = template
        covered = [row.loan if pk == row.loan_id else loans[pk] for pk in debts.get(row.pk, [row.loan_id])]
        link = portal_url(tokens[row.borrower_id]) if row.borrower_id in tokens else ""
        values = template_values(row, oldest_unpaid.get(row.loan_id), covered=covered, pay_link=link)
        row.body = render(template.body, values)
        if row.channel == Channel.EMAIL:
            emails[row.pk] = email_content(row, template, values)
            row.body = emails[row.pk].text
    return emails


def email_content(row: OutboundMessage, template: MessageTemplate, values: dict[str, Any]) -> EmailContent:
    """An e-mail's subject, text and HTML in the borrower's language: the template's words (in the HTML every value
    escaped, links clickable), then the footer with the lender, the number to call and the unsubscribe link."""
    language = row.borrower.language if row.borrower.language in SUBJECT_FALLBACK else "en"
    url = unsubscribe_url(row.pk)
    with translation.override(language):
        subject = " ".join(render(template.subject, values).split()) or SUBJECT_FALLBACK[language] % values
        footer = _("To stop e-mails from %(lender)s, unsubscribe here: %(url)s") % {"lender": values["lender"],
                                                                                    "url": url}  # fmt: skip
        text = f"{render(template.body, values)}\n\n-- \n{values['lender']} · {values['help_phone']}\n{footer}\n"
        html = render_to_string(
            "notifications/email.html",
            {"subject": subject, "body": render_html(template.body, values), "lender": values["lender"],
             "help_phone": values["help_phone"], "unsubscribe_url": url, "language": language},
        )  # fmt: skip
    return EmailContent(subject=subject, text=text, html=html, unsubscribe_url=url, attachment=template.attachment)


# The subject of an e-mail whose template has none (one saved before subjects were checked).
SUBJECT_FALLBACK = {"en": "%(lender)s: your loan %(reference)s", "zh-hans": "【%(lender)s】关于您的借款 %(reference)s"}


def _template(templates: dict[tuple[str, str, str], MessageTemplate], row: OutboundMessage) -> MessageTemplate | None:
    return templates.get((row.purpose, row.channel, row.borrower.language)) or templates.get(
        (row.purpose, row.channel, "en")
    )


def _uses_link(templates: dict[tuple[str, str, str], MessageTemplate], row: OutboundMessage) -> bool:
    template = _template(templates, row)
    return template is not None and "pay_link" in {field for _, field, _, _ in string.Formatter().parse(template.body)}


def _postal_address(borrower: Any) -> str:
    lines = [borrower.full_name, borrower.address_line1, f"{borrower.postal_code} {borrower.city}".strip(),
             f"{borrower.region} {borrower.country}".strip()]  # fmt: skip
    return "\n".join(line for line in lines if line) if borrower.address_line1 else ""


def lender_name(product: LoanProduct | None) -> str:
    """The name a message to a borrower signs with: their product's lender, else the ``LENDER_NAME`` setting."""
    return (product.lender_name.strip() if product is not None else "") or settings.LENDER_NAME


def loans_listed(loans: list[Loan], language: str) -> str:
    """``{loans}``: each loan the message covers with its amount overdue, in the borrower's language ("loan L-1:
    $100.00; loan L-2: $250.00")."""
    with translation.override(language):
        return _("; ").join(
            _("loan %(reference)s: %(amount)s")
            % {"reference": loan.external_id, "amount": format_money(loan.amount_overdue, loan.currency)}
            for loan in loans
        )


def template_values(
    row: OutboundMessage, oldest: Installment | None, *, covered: list[Loan] | None = None, pay_link: str = ""
) -> dict[str, Any]:
    """The placeholders' values. ``pay_link``: the borrower's page, by a link issued for this message."""
    loan = row.loan
    covered = covered or [loan]
    if row.purpose == MessagePurpose.PRE_DUE and oldest is not None:
        amount = oldest.principal_due + oldest.interest_due + oldest.fee_due - oldest.opening_paid
    elif len({c.currency for c in covered}) == 1:
        amount = sum((c.amount_overdue for c in covered), ZERO)  # every loan covered: the total
    else:
        amount = loan.amount_overdue
    return {
        "name": row.borrower.full_name,
        "amount_due": format_money(amount, loan.currency),
        "balance": format_money(loan.outstanding_balance, loan.currency),
        "loans": loans_listed(covered, row.borrower.language),
        "due_date": oldest.due_date.isoformat() if oldest else "",
        "lender": lender_name(loan.product),
        "pay_link": pay_link,
        "reference": loan.external_id,
        "help_phone": settings.LENDER_HELP_PHONE,
    }


def template_for(*, purpose: str, channel: str, language: str) -> MessageTemplate | None:
    """The active template for a message in the borrower's language, or the English one when there is none."""
    return (
        MessageTemplate.objects.filter(purpose=purpose, channel=channel, is_active=True, language__in=[language, "en"])
        .order_by(Case(When(language=language, then=0), default=1))
        .first()
    )


def reply_text(action: str, language: str, lender: str) -> str:
    values = {"lender": lender, "help_phone": settings.LENDER_HELP_PHONE}
    if action == InboundAction.OPT_OUT:
        # The one confirmation 1006.14(h)(2)(i) allows, from the admin-edited template in the borrower's language.
        template = template_for(purpose=MessagePurpose.OPT_OUT_CONFIRMATION, channel=Channel.SMS, language=language)
        if template is not None:
            return render(template.body, values)
    with translation.override(language):
        if action == InboundAction.OPT_OUT:
            return _("%(lender)s: you will get no more text messages from us. Reply START to opt back in.") % values
        if action == InboundAction.OPT_IN:
            return _("%(lender)s: text messages are on again. Reply STOP to opt out.") % values
        if action == InboundAction.HELP:
            return _("%(lender)s: call us on %(help_phone)s. Reply STOP to opt out.") % values
    return ""


def message_preview(*, case: Any, channel: str, purpose: str) -> str:
    """The text a message would have for this case's borrower now (the collector's "send an SMS" preview)."""
    template = template_for(purpose=purpose, channel=channel, language=case.borrower.language)
    if template is None:
        return ""
    oldest = Installment.objects.filter(loan_id=case.loan_id, paid_on__isnull=True).order_by("due_date").first()
    row = OutboundMessage(borrower=case.borrower, loan=case.loan, case=case, channel=channel, purpose=purpose)
    # A stand-in link of the real one's length (the real one is issued when the message is sent).
    return render(template.body, template_values(row, oldest, pay_link=portal_url(PREVIEW_TOKEN)))
