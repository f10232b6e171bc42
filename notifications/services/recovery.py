"""Claims that lost their batch (a killed worker, a lost broker message): planned again if they never started, in
review if they may have reached the provider."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from compliance.services import (
    reservations_release,
)
from notifications.models import (
    MessageStatus,
    OutboundMessage,
)

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------------------
# Releasing unsent rows, and pausing a provider in trouble
# ---------------------------------------------------------------------------------------------------------------
def outbox_release(
    *, message_ids: Sequence[int], claim_token: str, reason: str, until: dt.datetime | None = None
) -> int:
    """Rows of a claimed batch that never reached the provider go back to planned (due at ``until``, or as they
    were), their reserved slots released: a later batch judges them again. Rows already started are left alone."""
    now = timezone.now()
    with transaction.atomic():
        rows = OutboundMessage.objects.filter(pk__in=message_ids, claim_token=claim_token, send_started_at__isnull=True)
        reservations_release(decision_ids=list(rows.values_list("decision_id", flat=True)))
        fields: dict[str, Any] = {"status": MessageStatus.PLANNED, "claim_token": "", "claimed_at": None}
        if until is not None:
            fields["planned_for"] = until
        return rows.update(**fields, status_reason=reason[:2000], updated_at=now)


# ---------------------------------------------------------------------------------------------------------------
# Reaper
# ---------------------------------------------------------------------------------------------------------------
def outbox_reap(*, now: dt.datetime | None = None, older_than: dt.timedelta | None = None) -> dict[str, int]:
    """The outbox's watchdog: claims whose batch stopped moving — its worker died, its broker message was lost (a
    Redis restart), the database failed it — are taken back. A running batch touches its claims every third of
    ``OUTBOX_CLAIM_TIMEOUT_SECONDS``, so a claim untouched for longer has no batch: what never reached the provider
    is planned again, what may have reached it (``send_started_at`` set) goes to review, never resent blindly."""
    now = now or timezone.now()
    cutoff = now - (
        older_than if older_than is not None else dt.timedelta(seconds=settings.OUTBOX_CLAIM_TIMEOUT_SECONDS)
    )
    stale = OutboundMessage.objects.filter(status=MessageStatus.CLAIMED, claimed_at__lte=cutoff)
    with transaction.atomic():
        never_started = stale.filter(send_started_at__isnull=True)
        reservations_release(decision_ids=never_started.values_list("decision_id", flat=True))
        returned = never_started.update(
            status=MessageStatus.PLANNED,
            claim_token="",
            claimed_at=None,
            status_reason="Returned by the reaper: the claim was never sent.",
            updated_at=now,
        )
        uncertain = stale.filter(send_started_at__isnull=False, provider_id__isnull=True).update(
            status=MessageStatus.REVIEW,
            claim_token="",
            status_reason="A worker stopped while handing this to the provider: it may have been sent. Check first.",
            updated_at=now,
        )
    if returned or uncertain:
        logger.warning("reaper: %s claims returned, %s to review", returned, uncertain)
    return {"returned": returned, "review": uncertain}
