"""What providers tell us back: message and call statuses (forward only) and inbound texts (opt-outs first)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from compliance.complaints import looks_like_complaint
from compliance.models import ConsentKind
from compliance.services import (
    consent_record,
    default_notice_returned,
)
from loans.models import Loan, PhoneNumber
from notifications.models import (
    MAILED_PURPOSES,
    Channel,
    InboundAction,
    InboundMessage,
    MessagePurpose,
    MessageStatus,
    OutboundMessage,
)
from notifications.providers import OPTED_OUT, ConsoleProvider
from notifications.services.dispatch import ledger_outcome, provider_opt_out
from notifications.services.mailed import messages_mailed
from notifications.services.rendering import lender_name, reply_text

# ---------------------------------------------------------------------------------------------------------------
# Provider callbacks
# ---------------------------------------------------------------------------------------------------------------
SMS_DELIVERED = {"delivered", "read"}


SMS_FAILED = {"undelivered", "failed"}


# Call statuses (Twilio) → ledger outcomes (docs/compliance-rules.md). A completed call answered by a person counts as a
# conversation about the debt (the prerecorded reminder names it): conservative, it starts Reg F's quiet period.
CALL_OUTCOMES = {"no-answer": "no_answer", "busy": "busy", "failed": "failed", "canceled": "failed"}


def message_status_apply(*, provider_id: str, status: str, error_code: str = "") -> OutboundMessage | None:
    """A message status callback: forward only (sent → delivered | failed); repeats and late ones change nothing."""
    with transaction.atomic():
        row = OutboundMessage.objects.select_for_update().filter(provider_id=provider_id).first()
        if row is None:
            return None
        if row.status != MessageStatus.SENT or status not in SMS_DELIVERED | SMS_FAILED:
            if status and row.status == MessageStatus.SENT:
                OutboundMessage.objects.filter(pk=row.pk).update(provider_status=status)
            return row
        now = timezone.now()
        if status in SMS_DELIVERED:
            row.status, row.delivered_at = MessageStatus.DELIVERED, now
            ledger_outcome(row, "delivered", at=row.sent_at or now)
        else:
            row.status, row.error_code = MessageStatus.FAILED, error_code
            who = "mail house" if row.channel == Channel.LETTER else "carrier"
            row.status_reason = f"The {who} did not deliver it ({status} {error_code})."
            ledger_outcome(row, "failed", at=row.sent_at or now)
            if error_code == OPTED_OUT:
                provider_opt_out(row, "")
        row.provider_status = status
        row.save(
            update_fields=["status", "delivered_at", "error_code", "status_reason", "provider_status", "updated_at"]
        )
        if row.status == MessageStatus.DELIVERED and row.purpose in MAILED_PURPOSES:
            messages_mailed(message_ids=[row.pk])  # idempotent: already recorded when it was sent
        elif row.status == MessageStatus.FAILED and row.purpose == MessagePurpose.DEFAULT_NOTICE:
            # A default notice the mail house could not deliver was not served: DN-01 waits for one that is.
            default_notice_returned(loan_id=row.loan_id, ref=f"message:{row.pk}")
        return row


def call_status_apply(*, provider_id: str, status: str, answered_by: str = "") -> OutboundMessage | None:
    """A call status callback: the final status becomes the call's outcome in the contact ledger, once."""
    with transaction.atomic():
        row = OutboundMessage.objects.select_for_update().filter(provider_id=provider_id).first()
        if row is None:
            return None
        final = status == "completed" or status in CALL_OUTCOMES
        if row.status != MessageStatus.SENT or not final:
            if row.status == MessageStatus.SENT and status:
                OutboundMessage.objects.filter(pk=row.pk).update(provider_status=status)
            return row
        if status == "completed":
            outcome = (
                "voicemail"
                if answered_by.startswith("machine")
                else "failed"
                if answered_by == "fax"
                else "conversation"
            )
        else:
            outcome = CALL_OUTCOMES[status]
        now = timezone.now()
        ledger_outcome(row, outcome, at=row.sent_at or now)
        row.provider_status = f"{status} {answered_by}".strip()
        if outcome in ("conversation", "voicemail"):
            row.status, row.delivered_at = MessageStatus.DELIVERED, now
        else:
            row.status, row.status_reason = MessageStatus.FAILED, f"The call was not answered ({status})."
        row.save(update_fields=["status", "delivered_at", "status_reason", "provider_status", "updated_at"])
        return row


def console_status_report(*, message_id: int) -> OutboundMessage | None:
    """The console backend reports what became of a message it "sent" as Twilio would (``ConsoleProvider.
    delivery_report``: delivered, undelivered, answered, no answer …) — and of a letter put in the print queue, as
    the mail house would (delivered, returned, refused) —, through the same services as Twilio's status callbacks —
    the row's status, its ledger outcome —, so delivery figures on ``make run`` are real ones."""
    row = (
        OutboundMessage.objects.filter(pk=message_id)
        .values_list("provider_id", "channel", "status", "borrower__external_id", "purpose", "planned_for")
        .first()
    )
    if row is None or row[2] != MessageStatus.SENT or not row[0]:
        return None
    provider_id, channel, _, borrower, purpose, planned_for = row
    assert provider_id is not None  # checked above (for the type checker)
    # Keyed by what the message is (whose, which, when), not by row ids: the same portfolio gets the same fates.
    key = f"{borrower}:{channel}:{purpose}:{planned_for:%Y-%m-%d}"
    status, detail = ConsoleProvider.delivery_report(key=key, channel=channel)
    if channel in ("sms", "letter"):
        return message_status_apply(provider_id=provider_id, status=status, error_code=detail)
    return call_status_apply(provider_id=provider_id, status=status, answered_by=detail)


# ---------------------------------------------------------------------------------------------------------------
# Inbound SMS (TW-01): our own keyword handling is the system of record
# ---------------------------------------------------------------------------------------------------------------
OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT", "TD", "退订"}


OPT_IN_WORDS = {"START", "UNSTOP", "YES"}


HELP_WORDS = {"HELP", "INFO"}


MAYBE_OPT_OUT = (
    "STOP",
    "UNSUBSCRIBE",
    "OPT OUT",
    "DON'T TEXT",
    "DO NOT TEXT",
    "REMOVE ME",
    "退订",
    "别再发",
    "不要再发",
)


def inbound_classify(body: str) -> str:
    """Exact keywords (trimmed, upper-cased, spaces collapsed) act; anything that merely sounds like an opt-out
    goes to review (a person decides what the borrower meant)."""
    text = " ".join(body.strip().upper().split()).strip(".!")
    if text in OPT_OUT_WORDS:
        return InboundAction.OPT_OUT
    if text in OPT_IN_WORDS:
        return InboundAction.OPT_IN
    if text in HELP_WORDS:
        return InboundAction.HELP
    if any(word in text for word in MAYBE_OPT_OUT):
        return InboundAction.REVIEW
    return InboundAction.NONE


def inbound_sms_handle(*, provider_id: str, from_number: str, to_number: str, body: str) -> tuple[InboundMessage, str]:
    """Record an inbound SMS and act on it: the opt-out (or opt-in) is committed with the message, for every
    borrower with that number, before any reply. Returns the message and the one reply to send ('' for none). A
    repeated delivery of the same message, even at the same instant, changes nothing and replies nothing."""
    with transaction.atomic():
        existing = InboundMessage.objects.filter(provider_id=provider_id).first()
        if existing is not None:
            return existing, ""
        action = inbound_classify(body)
        phones = list(PhoneNumber.objects.filter(number=from_number).select_related("borrower"))
        try:
            # The message is the claim: Twilio retries overlap, and of two deliveries at once the second waits on
            # the unique provider id until the first commits, then does nothing (no second opt-out, no second
            # reply). Its opt-out is written in the same transaction, so it is never recorded without it.
            with transaction.atomic():
                message = InboundMessage.objects.create(
                    provider_id=provider_id,
                    from_number=from_number,
                    to_number=to_number,
                    body=body,
                    borrower=phones[0].borrower if phones else None,
                    action=action,
                    possible_complaint=looks_like_complaint(body),
                )
        except IntegrityError:
            return InboundMessage.objects.get(provider_id=provider_id), ""
        consent_kinds: dict[str, ConsentKind] = {
            InboundAction.OPT_OUT: ConsentKind.OPT_OUT,
            InboundAction.OPT_IN: ConsentKind.OPT_IN,
        }
        kind = consent_kinds.get(action)
        if kind is not None:
            for phone in phones:
                consent_record(
                    borrower_id=phone.borrower_id,
                    medium="sms",
                    address=from_number,
                    kind=kind,
                    source="inbound_sms",
                    text=body,
                )
    borrower = phones[0].borrower if phones else None
    # The reply signs with the lender of the borrower's latest loan (one reply, whatever their number of loans).
    latest = (
        Loan.objects.filter(borrower=borrower).select_related("product").order_by("-id").first() if borrower else None
    )
    return message, reply_text(
        action, borrower.language if borrower else "en", lender_name(latest.product if latest else None)
    )
