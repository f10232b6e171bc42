"""The notifications app's reads that are use cases of their own."""

from __future__ import annotations

from notifications.models import Channel, Document, OutboundMessage


def reminder_call_for_keypad(*, message_id: int | None, call_sid: str) -> OutboundMessage | None:
    """The automated call a keypad answer is about: the outbox's voice row named in the (signed) URL, placed as the
    provider's call ``call_sid``. A row whose provider id is not yet recorded counts only once it was handed to the
    provider (the answer can overtake the recording of the id). None for anything else."""
    if message_id is None or not call_sid:
        return None
    row = (
        OutboundMessage.objects.select_related("borrower", "loan__product", "case__loan__product")
        .filter(pk=message_id, channel=Channel.VOICE)
        .first()
    )
    if row is None:
        return None
    if row.provider_id == call_sid or (row.provider_id is None and row.send_started_at is not None):
        return row
    return None


def documents_of_case(*, case_id: int) -> list[Document]:
    """A case's documents, newest first, with the outbox entry that sent each (the case page's list)."""
    return list(Document.objects.filter(case_id=case_id).select_related("message").order_by("-created_at", "-id"))


def document_of_case(*, case_id: int, document_id: int) -> Document | None:
    """One document of the case (None: no such document on this case)."""
    return Document.objects.filter(pk=document_id, case_id=case_id).first()
