"""The outbox: every planned borrower message, with an idempotency key so that planning twice creates nothing new.

Dispatch (claiming, the compliance check at send time, providers, webhooks) arrives with issue 5; the sweep plans
rows here already.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from loans.models import Borrower, Loan


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    VOICE = "voice", _("voice call")
    EMAIL = "email", _("email")
    LETTER = "letter", _("letter")


class MessagePurpose(models.TextChoices):
    PRE_DUE = "pre_due", _("pre-due reminder")
    REMINDER = "reminder", _("reminder")
    FORMAL_NOTICE = "formal_notice", _("formal notice")
    LEGAL = "legal", _("legal")
    PROMISE_REMINDER = "promise_reminder", _("promise reminder")
    PLAN_REMINDER = "plan_reminder", _("plan reminder")
    OPT_OUT_CONFIRMATION = "opt_out_confirmation", _("opt-out confirmation")


class MessageStatus(models.TextChoices):
    PLANNED = "planned", _("planned")
    CLAIMED = "claimed", _("claimed")
    SENT = "sent", _("sent")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")
    DENIED = "denied", _("denied")
    DEFERRED = "deferred", _("deferred")
    CANCELLED = "cancelled", _("cancelled")
    REVIEW = "review", _("needs review")


class OutboundMessage(models.Model):
    """One message to a borrower, planned by the sweep or a collector; sent at most once."""

    idempotency_key = models.CharField(max_length=160, unique=True)
    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="messages")
    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="messages")
    case = models.ForeignKey(
        "collections_app.CollectionCase", on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    purpose = models.CharField(_("purpose"), max_length=24, choices=MessagePurpose.choices)
    to = models.CharField(_("to"), max_length=254, blank=True, help_text=_("Chosen at send time when blank."))
    planned_for = models.DateTimeField(_("planned for"))
    status = models.CharField(_("status"), max_length=10, choices=MessageStatus.choices, default=MessageStatus.PLANNED)
    status_reason = models.TextField(_("status reason"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("outbound message")
        verbose_name_plural = _("outbound messages")
        indexes = [
            models.Index(fields=["planned_for"], condition=Q(status__in=["planned", "deferred"]), name="outbox_due"),
            models.Index(fields=["case", "channel", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.channel} → {self.borrower_id} ({self.status})"
