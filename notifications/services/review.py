"""A person settles a message in review."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from compliance.services import (
    reservations_release,
)
from notifications.models import (
    Channel,
    MessageStatus,
    OutboundMessage,
)
from notifications.services.dispatch import ledger_outcome
from notifications.services.mailed import messages_mailed

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------------------
# Planning by people
# ---------------------------------------------------------------------------------------------------------------
def message_review_resolve(*, message_id: int, was_sent: bool, actor: Any) -> OutboundMessage:
    """A person settles a message in review after checking with the provider (or the borrower): it went out (it
    becomes ``sent`` and counts as sent), or it did not (planned again, its reserved slot released, and it will be
    judged by the gate afresh)."""
    now = timezone.now()
    who = getattr(actor, "username", "") or "someone"
    with transaction.atomic():
        row = OutboundMessage.objects.select_for_update().get(pk=message_id)
        if row.status != MessageStatus.REVIEW:
            raise ValueError("only a message in review can be settled")
        if was_sent:
            row.status, row.sent_at = MessageStatus.SENT, row.send_started_at or now
            row.status_reason, row.error_code = f"Reviewed by {who}: it was sent.", ""
            if row.channel != Channel.VOICE and row.decision_id:
                ledger_outcome(row, "sent", at=row.sent_at)
        else:
            reservations_release(decision_ids=[row.decision_id])
            row.status, row.planned_for, row.send_started_at = MessageStatus.PLANNED, now, None
            row.claimed_at, row.claim_token = None, ""
            row.status_reason = f"Reviewed by {who}: it was not sent; planned again."
        row.save(update_fields=["status", "sent_at", "status_reason", "error_code", "planned_for", "send_started_at",
                                "claimed_at", "claim_token", "updated_at"])  # fmt: skip
    logger.info("message %s review settled by %s: %s", row.pk, who, "sent" if was_sent else "planned again")
    if was_sent:
        messages_mailed(message_ids=[row.pk])  # a validation notice's clock, a verification's dispute
    return row
