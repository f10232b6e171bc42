"""E-mail's own writes: the unsubscribe link every e-mail carries (a signed token naming the outbox row, so the
address it reached is the one opted out) and what the mail provider reports back (bounces, complaints, deliveries).

Opt-outs are recorded through compliance's consent service (``consent_record``, medium ``email``): the gate reads
the latest consent event per address, so the next e-mail to that address is denied (USF-06).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core import signing
from django.db import transaction
from django.utils import timezone

from compliance.models import ConsentEvent, ConsentKind
from compliance.services import consent_record, contact_reclassify
from notifications.mail import UNSUBSCRIBE_SALT, message_id_local_part
from notifications.models import Channel, MessageStatus, OutboundMessage
from notifications.services.dispatch import ledger_outcome
from notifications.services.rendering import lender_name

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------------------
# The unsubscribe link (notifications.mail makes its token)
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UnsubscribeTarget:
    """What an unsubscribe link stands for: the e-mail address, whose it is, and whether it is opted out now."""

    message_id: int
    borrower_id: int
    address: str
    language: str
    lender: str
    opted_out: bool


def unsubscribe_target(*, token: str) -> UnsubscribeTarget | None:
    """The e-mail an unsubscribe token names, or None when it was not signed here or names no e-mail sent."""
    try:
        message_id = int(signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None
    row = (
        OutboundMessage.objects.filter(pk=message_id, channel=Channel.EMAIL)
        .exclude(to="")
        .select_related("borrower", "loan__product")
        .first()
    )
    if row is None:
        return None
    return UnsubscribeTarget(
        message_id=row.pk,
        borrower_id=row.borrower_id,
        address=row.to,
        language=row.borrower.language,
        lender=lender_name(row.loan.product),
        opted_out=_opted_out(row.borrower_id, row.to),
    )


def _opted_out(borrower_id: int, address: str) -> bool:
    latest = (
        ConsentEvent.objects.filter(borrower_id=borrower_id, medium="email", address=address)
        .order_by("-at", "-id")
        .values_list("kind", flat=True)
        .first()
    )
    return latest == ConsentKind.OPT_OUT


def email_opt_out(*, borrower_id: int, address: str, source: str, text: str = "") -> bool:
    """Record that ``address`` wants no more e-mail (compliance's consent ledger); False when it was opted out
    already (a link clicked twice, a provider repeating its event: one event is enough)."""
    with transaction.atomic():
        if _opted_out(borrower_id, address):
            return False
        consent_record(
            borrower_id=borrower_id, medium="email", address=address, kind=ConsentKind.OPT_OUT, source=source,
            text=text[:2000],
        )  # fmt: skip
    return True


def email_unsubscribe(*, target: UnsubscribeTarget, one_click: bool) -> bool:
    """The borrower unsubscribed through the link (``one_click``: their mail program's RFC 8058 POST)."""
    how = "one-click unsubscribe (RFC 8058)" if one_click else "unsubscribe page"
    return email_opt_out(
        borrower_id=target.borrower_id, address=target.address, source="email_unsubscribe",
        text=f"{how}, e-mail {target.message_id}",
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# What the mail provider reports (README "E-mail": the webhook's format)
# ---------------------------------------------------------------------------------------------------------------
EVENT_TYPES = {"delivered", "bounce", "complaint"}


def email_event_apply(
    *,
    message_id: str,
    kind: str,
    bounce_type: str = "",
    status: str = "",
    diagnostic: str = "",
) -> OutboundMessage | None:
    """One event from the mail provider about an e-mail we sent (its Message-ID): ``delivered`` (sent →
    delivered), ``bounce`` (permanent: the e-mail failed, whatever was reported before; transient: noted, the
    provider retries) or ``complaint`` (the borrower marked it as spam: an opt-out of that address, CAN-SPAM
    15 U.S.C. 7704(a)(4)). Repeats change nothing. None when no e-mail has that id."""
    provider_id = message_id_local_part(message_id)
    if not provider_id:
        return None
    with transaction.atomic():
        row = OutboundMessage.objects.select_for_update().filter(provider_id=provider_id, channel=Channel.EMAIL).first()
        if row is None:
            return None
        now = timezone.now()
        if kind == "complaint":
            email_opt_out(borrower_id=row.borrower_id, address=row.to, source="email_complaint",
                          text=f"complaint about e-mail {row.pk}: {diagnostic}".strip())  # fmt: skip
            OutboundMessage.objects.filter(pk=row.pk).update(provider_status="complained", updated_at=now)
        elif kind == "bounce" and bounce_type == "permanent":
            if row.status in (MessageStatus.SENT, MessageStatus.DELIVERED):
                _bounced(row, status=status, diagnostic=diagnostic)
        elif kind == "bounce":
            if row.status == MessageStatus.SENT:
                OutboundMessage.objects.filter(pk=row.pk).update(provider_status="soft_bounce", updated_at=now)
        elif kind == "delivered" and row.status == MessageStatus.SENT:
            row.status, row.delivered_at, row.provider_status = MessageStatus.DELIVERED, now, "delivered"
            ledger_outcome(row, "delivered", at=row.sent_at or now)
            row.save(update_fields=["status", "delivered_at", "provider_status", "updated_at"])
        return row


def _bounced(row: OutboundMessage, *, status: str, diagnostic: str) -> None:
    """A permanent bounce: the e-mail failed, and so did its contact in the ledger (a bounced e-mail reached nobody:
    it must not count as a communication)."""
    now = timezone.now()
    if row.status == MessageStatus.SENT:
        ledger_outcome(row, "failed", at=row.sent_at or now)
    elif row.decision_id:
        contact_reclassify(decision_id=row.decision_id, outcome="failed", note="bounced")
    row.status, row.provider_status, row.error_code = MessageStatus.FAILED, "bounced", status[:16]
    row.status_reason = f"The e-mail bounced ({status or 'permanent'}): {diagnostic}".strip()[:2000]
    row.save(update_fields=["status", "provider_status", "error_code", "status_reason", "updated_at"])
    logger.info("e-mail %s bounced (%s)", row.pk, status or "permanent")
