"""A letter the law requires left: the validation notice (VAL-01) and the UK default notice (DN-01) set their debt's
clock from the facts their document states (mailing date, validation period end; remedy date), and the registered
hooks hear of it (a verification letter lifts its
dispute's hold: collections_app). Called when such a message becomes sent — by dispatch, or by a person settling a
message in review — and again when it is delivered; every step is idempotent."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from compliance.services import default_notice_record, validation_notice_record
from notifications.models import (
    LEFT_STATUSES,
    MAILED_PURPOSES,
    Document,
    DocumentKind,
    MessagePurpose,
    OutboundMessage,
)
from notifications.planning import mailed_hooks

logger = logging.getLogger(__name__)


def messages_mailed(*, message_ids: Iterable[int]) -> int:
    """Record that these messages left, for those of ``MAILED_PURPOSES`` that did (others are skipped).
    Returns how many were recorded."""
    rows = list(
        OutboundMessage.objects.filter(pk__in=list(message_ids), purpose__in=MAILED_PURPOSES, status__in=LEFT_STATUSES)
    )
    for row in rows:
        with transaction.atomic():
            if row.purpose == MessagePurpose.VALIDATION_NOTICE:
                _validation_notice_mailed(row)
            elif row.purpose == MessagePurpose.DEFAULT_NOTICE:
                _default_notice_mailed(row)
            for hook in mailed_hooks():
                hook(row)
    return len(rows)


def _validation_notice_mailed(row: OutboundMessage) -> None:
    """The debt's clock: mailed on the date the notice states (its document's facts), the validation period's end."""
    document = Document.objects.filter(message=row, kind=DocumentKind.VALIDATION_NOTICE).order_by("id").first()
    sent_at = row.sent_at or timezone.now()
    if document is None or not document.facts.get("validation_period_ends"):
        logger.error("message %s: a validation notice left without its document's dates", row.pk)
        return
    validation_notice_record(
        loan_id=row.loan_id,
        sent_at=sent_at,
        mailed_on=dt.date.fromisoformat(document.facts.get("mailed_on") or document.facts["date"]),
        validation_period_ends_on=dt.date.fromisoformat(document.facts["validation_period_ends"]),
        ref=f"message:{row.pk}",
    )


def _default_notice_mailed(row: OutboundMessage) -> None:
    """DN-01: the debt's default notice was posted on the date it states, with the date it names to remedy by."""
    document = Document.objects.filter(message=row, kind=DocumentKind.DEFAULT_NOTICE).order_by("-id").first()
    if document is None or not document.facts.get("remedy_by"):
        logger.error("message %s: a default notice left without its document's remedy date", row.pk)
        return
    default_notice_record(
        loan_id=row.loan_id,
        sent_at=row.sent_at or timezone.now(),
        remedy_by=dt.date.fromisoformat(document.facts["remedy_by"]),
        ref=f"message:{row.pk}",
    )
