"""Documents: letters and notices rendered as PDFs (``notifications.documents``), stored once and never changed, and
the print queue's daily batch for the mail house.

``document_render`` is the one way a document is made: it lays the letter out, writes the PDF under
``DOCUMENTS_DIR`` (a new name, created exclusively: nothing is ever overwritten), records its SHA-256 and links it to
the case, the borrower, the loan and the outbox entry that sends it. ``Document.pdf_bytes()`` reads it back,
checked against that hash. E-mails attach one through the ``letter_pdf`` document maker.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import os
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications.documents.content import DocumentError, borrower_today, letter_build
from notifications.documents.pdf import pdf_build
from notifications.mail import Attachment, attachment_maker
from notifications.models import (
    Channel,
    Document,
    DocumentIntegrityError,
    DocumentKind,
    MessagePurpose,
    OutboundMessage,
)
from notifications.planning import message_plan_once

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "zh-hans")
# The document a letter (or an e-mail that attaches "the letter") carries, by the message's purpose.
PURPOSE_KINDS: dict[str, str] = {
    MessagePurpose.PRE_DUE: DocumentKind.PRE_DUE_NOTICE,
    MessagePurpose.REMINDER: DocumentKind.REMINDER_LETTER,
    MessagePurpose.PROMISE_REMINDER: DocumentKind.REMINDER_LETTER,
    MessagePurpose.PLAN_REMINDER: DocumentKind.REMINDER_LETTER,
    MessagePurpose.BALANCE: DocumentKind.REMINDER_LETTER,
    MessagePurpose.FORMAL_NOTICE: DocumentKind.FORMAL_NOTICE,
    MessagePurpose.LEGAL: DocumentKind.FORMAL_NOTICE,
    MessagePurpose.VALIDATION_NOTICE: DocumentKind.VALIDATION_NOTICE,
    MessagePurpose.VERIFICATION: DocumentKind.DISPUTE_VERIFICATION,
    MessagePurpose.ARREARS_NOTICE: DocumentKind.ARREARS_NOTICE,
    MessagePurpose.DEFAULT_NOTICE: DocumentKind.DEFAULT_NOTICE,
    MessagePurpose.PLAN_CONFIRMATION: DocumentKind.PLAN_CONFIRMATION,
    MessagePurpose.CEASE_ACKNOWLEDGEMENT: DocumentKind.CEASE_ACKNOWLEDGEMENT,
}


def document_render(
    *,
    kind: str,
    case: Any | None = None,
    loan: Any | None = None,
    language: str = "",
    message: OutboundMessage | None = None,
    actor: Any | None = None,
    details: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Document:
    """Render a document of ``kind`` about ``case`` (or, outside any case, ``loan``) in ``language`` (default: the
    borrower's), store it and return it. ``message``: the outbox entry that sends it. ``details``: what only the
    caller knows (``disputed_on``, ``received_on``, ``settlement_amount`` and ``pay_by``, ``credits``,
    ``response_days``). Raises ``DocumentError`` when the document cannot be made as required (a licence number a
    profile needs, nothing to confirm)."""
    if kind not in DocumentKind.values:
        raise DocumentError(f"unknown document kind {kind!r}")
    if case is None and loan is None:
        raise DocumentError("a document is about a case or a loan")
    loan = case.loan if case is not None else loan
    assert loan is not None
    language = language or loan.borrower.language
    language = language if language in LANGUAGES else "en"
    now = now or timezone.now()
    letter = letter_build(kind=kind, loan=loan, case=case, language=language, now=now, details=details)
    content, pages = pdf_build(letter)
    relative = f"{now:%Y/%m}/{uuid.uuid4().hex}.pdf"
    path = _write_once(Path(settings.DOCUMENTS_DIR) / relative, content)
    try:
        with transaction.atomic():
            return Document.objects.create(
                kind=kind,
                language=language,
                title=letter.title[:200],
                case=case,
                borrower_id=loan.borrower_id,
                loan=loan,
                message=message,
                path=relative,
                sha256=hashlib.sha256(content).hexdigest(),
                size=len(content),
                pages=pages,
                facts=letter.facts,
                created_by=actor,
            )
    except Exception:
        path.unlink(missing_ok=True)  # no row names it: the file goes too
        raise


def document_prepare(**render: Any) -> Document | None:
    """``document_render`` for a letter planned by another write (a hold, a plan): made now, in a savepoint, so that
    a document that cannot be made (a licence number a profile needs, a full disk) never undoes that write. None
    then, logged: the letter stays planned and its document is made when it is sent — where a failure fails the
    letter with the reason, for a person to see."""
    try:
        with transaction.atomic():
            return document_render(**render)
    except Exception:
        logger.exception("the %s document of message %s could not be made now", render.get("kind"),
                         getattr(render.get("message"), "pk", None))  # fmt: skip
        return None


def letter_plan(
    *, key: str, case: Any, purpose: str, actor: Any | None = None, details: dict[str, Any] | None = None
) -> OutboundMessage:
    """A letter about ``case`` that an event calls for (a plan confirmed, a request to stop acknowledged), planned at
    once — once per ``key`` — with the document of its purpose's kind made now (``document_prepare``: should that
    fail, it is made when the letter is sent)."""
    message, new = message_plan_once(
        key=key,
        borrower_id=case.borrower_id,
        loan_id=case.loan_id,
        case_id=case.pk,
        channel=Channel.LETTER,
        purpose=purpose,
    )
    if new:
        document_prepare(kind=PURPOSE_KINDS[purpose], case=case, message=message, actor=actor, details=details)
    return message


def _write_once(path: Path, content: bytes) -> Path:
    """Write ``content`` to ``path``, which must not exist (``O_EXCL``): a document's file is never overwritten. The
    file is read-only afterwards."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    os.chmod(path, 0o440)
    return path


def file_write_once(path: Path, content: bytes) -> Path:
    """Write a new file that nothing may overwrite, read-only afterwards (documents, and the evidence packs the case
    app builds from them)."""
    return _write_once(path, content)


def document_verify(*, document: Document) -> bool:
    """Whether the document's file still has the SHA-256 recorded when it was made."""
    try:
        document.pdf_bytes()
    except DocumentIntegrityError:
        return False
    return True


def document_for_message(*, message: OutboundMessage) -> Document:
    """The document an outbox entry (a letter, an e-mail that attaches its letter) carries: the one made for it
    already — a batch run again after a crash must not make a second —, else a new one of the kind its purpose
    calls for, in the borrower's language."""
    existing = Document.objects.filter(message=message).order_by("-id").first()
    if existing is not None and not _dated_for_another_day(existing, message):
        return existing
    kind = PURPOSE_KINDS.get(message.purpose, DocumentKind.REMINDER_LETTER)
    return document_render(kind=kind, case=message.case, loan=message.loan, message=message)


def _dated_for_another_day(document: Document, message: OutboundMessage) -> bool:
    """A default notice names its remedy date from the day it is made: one that goes out on a later day (a letter put
    back in the queue after a review, a retry) is made again for that day — the borrower keeps the full 14 days of
    s.88(2), and the debt's clock reads the new date (DN-01). The earlier document stays, as every document does."""
    if message.purpose != MessagePurpose.DEFAULT_NOTICE:
        return False
    return document.facts.get("date") != borrower_today(message.loan.borrower, timezone.now()).isoformat()


@attachment_maker("letter_pdf", label="the letter as a PDF")
def letter_pdf(row: OutboundMessage) -> list[Attachment]:
    """E-mail attachment: the message's letter as a PDF (a stored document, like a printed letter)."""
    document = document_for_message(message=row)
    return [Attachment(document.filename, document.pdf_bytes(), "application/pdf")]


# ---------------------------------------------------------------------------------------------------------------
# The print queue's daily batch
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PrintBatch:
    """One day's batch for the mail house: a ZIP of the day's letters and its manifest."""

    day: dt.date
    archive: Path
    manifest: Path
    letters: int


MANIFEST_COLUMNS = ["document_id", "message_id", "case_id", "recipient_address", "pages", "sha256", "file"]


def print_batch_build(*, day: dt.date) -> PrintBatch:
    """The batch of the letters the print queue took on ``day`` (UTC, the folder ``LETTERS_DIR/<day>/``): one ZIP
    with each letter's PDF and ``manifest.csv`` (document, message, case, recipient's address, pages, SHA-256), and
    the manifest beside it. Built again, it is the same batch (letters added since included); written to a temporary
    name and renamed, so the mail house never collects half a batch. A document whose file no longer has its hash
    stops the batch: nothing altered goes to print."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    documents = list(
        Document.objects.filter(
            message__channel=Channel.LETTER,
            message__provider_id__isnull=False,
            message__send_started_at__gte=start,
            message__send_started_at__lt=start + dt.timedelta(days=1),
        )
        .select_related("message")
        .order_by("message_id", "-id")  # the newest of a message's documents: the one it was sent with
    )
    folder = Path(settings.LETTERS_DIR) / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    manifest = io.StringIO()
    writer = csv.writer(manifest, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    archive = folder / f"batch-{day.isoformat()}.zip"
    partial = archive.with_suffix(".part")
    seen: set[int] = set()
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for document in documents:
            if document.message_id in seen:  # one letter per message
                continue
            seen.add(document.message_id or 0)
            name = f"letters/letter-{document.message_id}-{document.pk}.pdf"
            info = zipfile.ZipInfo(name, date_time=(day.year, day.month, day.day, 0, 0, 0))
            bundle.writestr(info, document.pdf_bytes(), compress_type=zipfile.ZIP_DEFLATED)
            address = document.message.to if document.message else ""
            writer.writerow([document.pk, document.message_id, document.case_id or "", address.replace("\n", " / "),
                             document.pages, document.sha256, name])  # fmt: skip
        info = zipfile.ZipInfo("manifest.csv", date_time=(day.year, day.month, day.day, 0, 0, 0))
        bundle.writestr(info, manifest.getvalue())
    os.replace(partial, archive)
    manifest_path = folder / f"manifest-{day.isoformat()}.csv"
    manifest_partial = manifest_path.with_suffix(".part")
    manifest_partial.write_text(manifest.getvalue(), encoding="utf-8")
    os.replace(manifest_partial, manifest_path)
    logger.info("print batch %s: %s letters", day, len(seen))
    return PrintBatch(day=day, archive=archive, manifest=manifest_path, letters=len(seen))
