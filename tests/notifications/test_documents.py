"""Documents (issue 16, point 1): every kind rendered in English and Chinese and read back from the PDF; the
letterhead and a profile's licence number; the notice dates (validation period, remedy date); immutability; the
print queue's daily batch; the e-mail attachment; the case page's list and download."""

import csv
import datetime as dt
import hashlib
import io
import os
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.db import DatabaseError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import formats, translation

from collections_app.sweep import sweep_run
from compliance import notices
from loans.models import LoanProduct
from loans.money import format_money
from notifications.documents.content import DocumentError
from notifications.models import Document, DocumentIntegrityError, DocumentKind, OutboundMessage
from notifications.services import (
    document_render,
    document_verify,
    outbox_claim,
    outbox_send,
    print_batch_build,
)
from notifications.services.documents import _write_once
from tests.factories import (
    PaymentFactory,
    PaymentPlanFactory,
    loan_with_schedule,
    make_case,
    team_with,
    user_with_role,
)
from tests.notifications.pdfs import pdf_pages, pdf_text

pytestmark = pytest.mark.django_db

# Monday 12 February 2024, 15:00 UTC: 10:00 in Boston. The next Monday (19 February) is Washington's Birthday.
NOW = dt.datetime(2024, 2, 12, 15, tzinfo=dt.UTC)
TODAY = dt.date(2024, 2, 12)
TITLES = {
    "en": {
        "pre_due_notice": "Your next instalment is due soon",
        "reminder_letter": "Your payment is overdue",
        "formal_notice": "Formal notice of overdue payment",
        "validation_notice": "Validation notice",
        "arrears_notice": "Notice of sums in arrears",
        "default_notice": "Default notice served under section 87(1)",
        "dispute_verification": "Verification of the debt you disputed",
        "plan_confirmation": "Confirmation of your payment arrangement",
        "cease_acknowledgement": "We have received your request to stop contacting you",
    },
    "zh-hans": {
        "pre_due_notice": "您的下一期还款即将到期",
        "reminder_letter": "您的还款已逾期",
        "formal_notice": "催收通知函",
        "validation_notice": "债务确认通知",
        "arrears_notice": "欠款通知",
        "default_notice": "违约通知",
        "dispute_verification": "核实函",
        "plan_confirmation": "还款安排确认函",
        "cease_acknowledgement": "我们已收到您停止联系的请求",
    },
}
NAMES = {"en": "Maria Garcia", "zh-hans": "王小明"}


def flat(text: str) -> str:
    """The PDF's text without line breaks and spaces (a long sentence wraps; Chinese has no spaces)."""
    return "".join(text.split())


def a_case(language="en", **borrower):
    """A case on make_case's loan (100.00 overdue since 2024-02-01, 100.00 due 2024-03-01), one payment of 50.00
    received on 2024-01-20, an active plan, the borrower at a postal address."""
    case = make_case()
    fields = {"full_name": NAMES[language], "language": language, "address_line1": "12 Harbor St",
              "city": "Boston", "postal_code": "02110", **borrower}  # fmt: skip
    for name, value in fields.items():
        setattr(case.borrower, name, value)
    case.borrower.save()
    LoanProduct.objects.filter(pk=case.loan.product_id).update(
        lender_name="Harbor Lane Finance", lender_address="7 Quay Road\nBoston, MA 02110"
    )
    case.loan.product.refresh_from_db()
    PaymentFactory(loan=case.loan, amount=Decimal("50.00"), received_at=dt.datetime(2024, 1, 20, 15, tzinfo=dt.UTC))
    PaymentPlanFactory(case=case, status="active", total_amount=Decimal("100.00"), starts_on=dt.date(2024, 3, 1))
    return case


def date_in(language: str, value: dt.date) -> str:
    with translation.override(language):
        return formats.date_format(value, "DATE_FORMAT")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("kind", DocumentKind.values)
def test_every_kind_renders_in_both_languages_with_its_required_fields(kind, language):
    case = a_case(language)
    details = {"disputed_on": "2024-02-05", "received_on": "2024-02-09"}
    document = document_render(kind=kind, case=case, now=NOW, details=details)
    content = document.pdf_bytes()
    text = flat(pdf_text(content))

    assert content.startswith(b"%PDF-") and document.pages == pdf_pages(content) >= 1
    assert document.language == language and document.kind == kind
    assert flat(TITLES[language][kind]) in text
    # The letterhead, the address block and the date, in the borrower's language.
    assert "HarborLaneFinance" in text and "7QuayRoad" in text
    assert flat(NAMES[language]) in text and "12HarborSt" in text and "02110Boston" in text
    assert flat(date_in(language, TODAY)) in text
    assert case.loan.external_id in text
    if language == "zh-hans":
        assert "日期" in text and "借款编号" in text  # Chinese text comes back out of the PDF as Chinese
    # Each kind's own amounts and dates, in the loan's currency.
    balance, overdue = format_money(Decimal("200.00"), "USD"), format_money(Decimal("100.00"), "USD")
    expected = {
        "pre_due_notice": [balance],
        "reminder_letter": [overdue, date_in(language, dt.date(2024, 2, 1))],
        "formal_notice": [overdue, balance, date_in(language, TODAY + dt.timedelta(days=14))],
        "validation_notice": [
            date_in(language, dt.date(2024, 1, 20)),  # the itemization date: the last payment's
            balance,
            date_in(language, notices.validation_period_end(TODAY)),
            "www.cfpb.gov/debt-collection",
        ],
        "arrears_notice": [overdue, balance, "86B"],
        # Posted by the mail house the business day after it was made, served 2 business days later, + 14 days.
        "default_notice": [
            overdue,
            date_in(language, notices.default_notice_remedy_by(notices.business_days_after(TODAY, 1, "GB"), "GB")),
        ],
        "dispute_verification": [date_in(language, dt.date(2024, 2, 5)), format_money(Decimal("50.00"), "USD")],
        "plan_confirmation": [format_money(Decimal("50.00"), "USD"), date_in(language, dt.date(2024, 3, 1))],
        "cease_acknowledgement": [date_in(language, dt.date(2024, 2, 9))],
    }[kind]
    for value in expected:
        assert flat(value) in text, (value, text)
    if kind == "cease_acknowledgement":  # Reg F 1006.6(c)(2): no amount, no request for payment
        assert flat(balance) not in text


def test_the_validation_notice_itemizes_the_debt_and_states_its_period_model_form_b1():
    case = a_case()
    document = document_render(kind="validation_notice", case=case, now=NOW)
    text = flat(pdf_text(document.pdf_bytes()))
    for words in ("is a debt collector", "As of", "you owed", "charged this amount in interest",
                  "charged this amount in fees", "paid or were credited", "Total amount of the debt now",
                  "How can you dispute the debt?", "original creditor", "How do you want to respond?"):  # fmt: skip
        assert flat(words) in text, words
    # Mailed Monday 12 February 2024: presumed received 5 business days later, skipping Presidents' Day (the 19th).
    assert document.facts["presumed_receipt"] == "2024-02-20"
    assert document.facts["validation_period_ends"] == "2024-03-21"
    assert document.facts["itemization_date"] == "2024-01-20"
    facts = {k: Decimal(document.facts[k]) for k in ("amount_at_itemization", "interest_since", "fees_since",
                                                       "payments_and_credits_since", "current_amount")}  # fmt: skip
    assert (
        facts["amount_at_itemization"]
        + facts["interest_since"]
        + facts["fees_since"]
        - facts["payments_and_credits_since"]
        == facts["current_amount"]
    )


def test_notice_dates_count_business_days_without_public_holidays():
    # Friday 20 December 2024: Christmas Day is skipped; New Year's Day falls inside the 30 days.
    assert notices.presumed_receipt(dt.date(2024, 12, 20)) == dt.date(2024, 12, 30)
    assert notices.validation_period_end(dt.date(2024, 12, 20)) == dt.date(2025, 1, 29)
    # UK: posted Monday 23 December 2024, served on the second business day (Christmas and Boxing Day skipped).
    assert notices.default_notice_remedy_by(dt.date(2024, 12, 23)) == dt.date(2025, 1, 10)


def test_a_california_letter_shows_the_lenders_licence_number_or_is_not_made():
    case = a_case(region="CA", city="Los Angeles", postal_code="90012")
    with pytest.raises(DocumentError, match="US_CA"):
        document_render(kind="formal_notice", case=case, now=NOW)
    assert not Document.objects.exists()
    LoanProduct.objects.filter(pk=case.loan.product_id).update(lender_licences={"US_CA": "10059-99"})
    case.loan.product.refresh_from_db()
    text = flat(pdf_text(document_render(kind="formal_notice", case=case, now=NOW).pdf_bytes()))
    assert "CaliforniaDebtCollectionLicenseNo.10059-99" in text
    # A Massachusetts borrower's letter carries none.
    other = a_case(region="MA")
    assert "License" not in pdf_text(document_render(kind="formal_notice", case=other, now=NOW).pdf_bytes())


def test_a_document_is_stored_once_with_its_hash_and_never_changed(settings):
    case = a_case()
    document = document_render(kind="reminder_letter", case=case, now=NOW)
    path = Path(settings.DOCUMENTS_DIR) / document.path
    assert hashlib.sha256(path.read_bytes()).hexdigest() == document.sha256 and document.size == path.stat().st_size
    assert document_verify(document=document)
    served = [Path(settings.STATIC_ROOT), *map(Path, settings.STATICFILES_DIRS)]
    assert not any(folder in path.parents for folder in served)  # never served as a static file
    # No update path: the row refuses an UPDATE, the file refuses to be written again.
    with pytest.raises(DatabaseError), transaction.atomic():
        Document.objects.filter(pk=document.pk).update(title="changed")
    with pytest.raises(FileExistsError):
        _write_once(path, b"%PDF-1.4 another")
    assert document_verify(document=Document.objects.get(pk=document.pk))
    # The same letter rendered again is a new document (a new file), never the old one overwritten.
    again = document_render(kind="reminder_letter", case=case, now=NOW)
    assert again.path != document.path and again.sha256 == document.sha256  # the same content: the same bytes
    # A file changed behind the app's back is caught: not handed out.
    os.chmod(path, 0o640)
    path.write_bytes(path.read_bytes() + b"%tampered")
    assert not document_verify(document=document)
    with pytest.raises(DocumentIntegrityError):
        document.pdf_bytes()


def test_the_case_page_lists_documents_with_their_hash_and_downloads_them():
    collector = user_with_role("collector", "casey")
    team_with(collector)
    case = a_case()
    case.assigned_to = collector
    case.save(update_fields=["assigned_to"])
    document = document_render(kind="formal_notice", case=case, now=NOW)
    client = Client()
    client.force_login(collector)
    page = client.get(reverse("case-detail", args=[case.pk])).content.decode()
    url = reverse("case-document", args=[case.pk, document.pk])
    assert url in page and document.sha256 in page and "Formal notice" in page
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="formal-notice-{document.pk}.pdf"'
    assert "no-store" in response["Cache-Control"] and response["Repr-Digest"].startswith("sha-256=:")
    assert hashlib.sha256(response.content).hexdigest() == document.sha256
    # Another case's document under this case's URL: no such document.
    other = document_render(kind="formal_notice", case=a_case(), now=NOW)
    assert client.get(reverse("case-document", args=[case.pk, other.pk])).status_code == 404
    # A tampered file is not handed out.
    path = Path(document.path)
    from django.conf import settings

    full = Path(settings.DOCUMENTS_DIR) / path
    os.chmod(full, 0o640)
    full.write_bytes(b"%PDF-1.4 not what was sent")
    assert client.get(url).status_code == 409


def test_an_email_attaches_the_letter_as_a_stored_document(settings):
    """The e-mail helper's document maker ``letter_pdf``: the message's letter, made once and linked to it."""
    from notifications.mail import attachments_for
    from tests.factories import OutboundMessageFactory

    case = a_case()
    row = OutboundMessageFactory(case=case, channel="email", purpose="formal_notice")
    (first,) = attachments_for("letter_pdf", row)
    (again,) = attachments_for("letter_pdf", row)  # a retry: the same document, not a second one
    document = Document.objects.get(message=row)
    assert first.mimetype == "application/pdf" and first.content == again.content == document.pdf_bytes()
    assert first.filename == document.filename and document.kind == "formal_notice"


AS_OF = dt.date(2024, 3, 1)


def test_the_print_batch_of_a_sweep_day_holds_one_pdf_per_letter_planned(settings, tmp_path, locmem):
    settings.LETTERS_DIR = str(tmp_path)
    settings.PROVIDER_CONCURRENCY = 1
    team_with(user_with_role("collector", "c1"))
    # Loans 31 to 34 days past due: the sweep escalates their cases to the formal notice, one letter each — and, the
    # borrowers being American and their cases new, the validation notice of each (VAL-01), one letter each too.
    for n, dpd in enumerate(range(31, 35)):
        due = AS_OF - dt.timedelta(days=dpd)
        loan = loan_with_schedule((due.isoformat(), "100.00"), ((AS_OF + dt.timedelta(days=60)).isoformat(), "100.00"))
        loan.borrower.address_line1, loan.borrower.city = f"{n + 1} Main St", "Albany"
        loan.borrower.language = "zh-hans" if n % 2 else "en"
        loan.borrower.save()
    sweep_run(as_of=AS_OF)
    planned = list(OutboundMessage.objects.filter(channel="letter").order_by("id"))
    assert len(planned) == 8 and sorted(m.purpose for m in planned) == ["formal_notice"] * 4 + ["validation_notice"] * 4
    at = max(m.planned_for for m in planned) + dt.timedelta(minutes=1)
    with time_machine.travel(at, tick=False):
        token, ids = outbox_claim(now=at, limit=500)
        outbox_send(message_ids=ids, claim_token=token, now=at)
    sent = OutboundMessage.objects.filter(channel="letter", provider="print", provider_id__isnull=False)
    assert sent.count() == 8

    batch = print_batch_build(day=at.date())
    assert batch.letters == 8 and batch.archive.exists() and batch.manifest.exists()
    with zipfile.ZipFile(batch.archive) as bundle:
        pdfs = sorted(n for n in bundle.namelist() if n.endswith(".pdf"))
        rows = list(csv.DictReader(io.StringIO(bundle.read("manifest.csv").decode())))
        assert len(pdfs) == 8 and len(rows) == 8
        for row in rows:
            content = bundle.read(row["file"])
            document = Document.objects.get(pk=row["document_id"])
            assert hashlib.sha256(content).hexdigest() == row["sha256"] == document.sha256
            assert int(row["pages"]) == pdf_pages(content) == document.pages
            assert int(row["message_id"]) in {m.pk for m in planned} and row["case_id"] == str(document.case_id)
            assert "Main St" in row["recipient_address"] and "Albany" in row["recipient_address"]
        assert batch.manifest.read_text() == bundle.read("manifest.csv").decode()
    assert {int(r["message_id"]) for r in rows} == {m.pk for m in planned}
    # Each letter went to the print queue as its stored document's PDF; Chinese borrowers' in Chinese.
    letters = sorted((tmp_path / at.date().isoformat()).glob("letter-*.pdf"))
    assert len(letters) == 8
    assert sum("催收通知函" in pdf_text(p.read_bytes()) for p in letters) == 2
    assert sum("Validation notice" in pdf_text(p.read_bytes()) for p in letters) == 2
    # A day without letters: an empty batch, a manifest with its header only.
    empty = print_batch_build(day=at.date() - dt.timedelta(days=3))
    assert empty.letters == 0 and empty.manifest.read_text().startswith("document_id,")


def test_a_letter_that_cannot_be_made_fails_and_is_not_printed(settings, tmp_path, locmem):
    """A California borrower's letter without the lender's licence number would break the Rosenthal Act: the
    outbox row fails with the reason, nothing goes to print."""
    from collections_app.models import CollectionCase
    from tests.notifications.conftest import due_message

    settings.LETTERS_DIR = str(tmp_path)
    message, _ = due_message(channel="letter", purpose="formal_notice", address_line1="1 Sunset Blvd")
    type(message.borrower).objects.filter(pk=message.borrower_id).update(region="CA")
    CollectionCase.objects.filter(pk=message.case_id).update(state="formal_notice")
    token, ids = outbox_claim()
    assert outbox_send(message_ids=ids, claim_token=token) == {"failed": 1}
    message.refresh_from_db()
    assert message.status == "failed" and message.error_code == "document" and "US_CA" in message.status_reason
    assert list(tmp_path.glob("*/*.pdf")) == [] and not Document.objects.exists()
