"""Borrower messages: templates, the outbox (planned → claimed → sent → delivered, or failed / denied / deferred /
cancelled / review) and inbound SMS.

The sweep and collectors plan rows into the outbox with an idempotency key, so planning twice creates nothing new.
The dispatcher claims due rows, asks the compliance gate at send time and hands them to a provider; provider
callbacks move a row forward only (see ``notifications.services``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from compliance.models import ContactOutcome
from loans.models import Borrower, Loan


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    VOICE = "voice", _("voice call")
    EMAIL = "email", _("email")
    LETTER = "letter", _("letter")


# Texts and calls go to the provider, e-mail through Django's e-mail backend (notifications.mail), letters to the
# print queue.
DISPATCHED_CHANNELS = [Channel.SMS, Channel.VOICE, Channel.EMAIL, Channel.LETTER]
# The compliance gate's name for each channel (a voice message is a call).
GATE_CHANNEL: dict[str, str] = {
    Channel.SMS: "sms",
    Channel.VOICE: "call",
    Channel.LETTER: "letter",
    Channel.EMAIL: "email",
}


class MessagePurpose(models.TextChoices):
    PRE_DUE = "pre_due", _("pre-due reminder")
    REMINDER = "reminder", _("reminder")
    FORMAL_NOTICE = "formal_notice", _("formal notice")
    LEGAL = "legal", _("legal")
    PROMISE_REMINDER = "promise_reminder", _("promise reminder")
    PLAN_REMINDER = "plan_reminder", _("plan reminder")
    OPT_OUT_CONFIRMATION = "opt_out_confirmation", _("opt-out confirmation")
    BALANCE = "balance", _("balance and how to pay")  # asked for on a reminder call ("press 1")
    # VAL-01: the US validation notice (Reg F 1006.34), planned by the system once per debt.
    VALIDATION_NOTICE = "validation_notice", _("validation notice")
    # DSP-01: the verification of a disputed debt (Reg F 1006.38(d)(2)): the one contact a dispute allows.
    VERIFICATION = "verification", _("verification of a disputed debt")
    # UK (Consumer Credit Act 1974): the notice of sums in arrears (s.86B) and the default notice (s.87, DN-01),
    # planned by the sweep for borrowers under a profile that asks for them.
    ARREARS_NOTICE = "arrears_notice", _("notice of sums in arrears")
    DEFAULT_NOTICE = "default_notice", _("default notice")
    # Written confirmations the case's events call for: a payment plan agreed, a request to stop contact received.
    PLAN_CONFIRMATION = "plan_confirmation", _("payment plan confirmation")
    CEASE_ACKNOWLEDGEMENT = "cease_acknowledgement", _("acknowledgement of a request to stop contact")


# Purposes the law requires whatever else stops collection, with a letter (and a PDF) of their own: a collector
# never asks for them as a text (``SmsForm``), and the gate excepts them as the rules say (VAL-01, DSP-01).
LETTER_ONLY_PURPOSES = ("validation_notice", "verification")
# Letters the system plans itself for an event or a clock, each carrying its document; what they state, once they
# have left, sets a clock (the default notice's remedy date: DN-01) — never a text a collector asks for.
REQUIRED_LETTER_PURPOSES = ("arrears_notice", "default_notice", "plan_confirmation", "cease_acknowledgement")
# Messages whose leaving is recorded (``messages_mailed``): a validation notice's clock (VAL-01), a verification's
# dispute hold (DSP-01), a default notice's remedy date (DN-01).
MAILED_PURPOSES = (*LETTER_ONLY_PURPOSES, "default_notice")


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


# A message that left (handed to its provider or the mail house, or delivered), and one that has not left yet and
# still may (waiting, being sent, or in a person's hands).
LEFT_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED)
NOT_LEFT_STATUSES = (MessageStatus.PLANNED, MessageStatus.CLAIMED, MessageStatus.DEFERRED, MessageStatus.REVIEW)


class MessageTemplate(models.Model):
    """The text of one kind of message (purpose, channel, language), with placeholders; checked when saved."""

    purpose = models.CharField(_("purpose"), max_length=24, choices=MessagePurpose.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    language = models.CharField(_("language"), max_length=8, choices=[("en", "English"), ("zh-hans", "简体中文")])
    subject = models.CharField(_("subject"), max_length=200, blank=True, help_text=_("E-mail and letters only."))
    body = models.TextField(
        _("body"),
        help_text=_(
            "Placeholders: {name}, {amount_due}, {due_date}, {lender}, {pay_link}, {reference}, {help_phone}. "
            "SMS and e-mail must say how to opt out where the borrower's jurisdiction demands it."
        ),
    )
    # A document maker's name (notifications.mail.attachment_maker): what the e-mail attaches, e.g. the letter's PDF.
    attachment = models.CharField(
        _("attached document"),
        max_length=40,
        blank=True,
        default="",
        help_text=_("E-mail and letters only: the document attached to each message (blank: none)."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["purpose", "channel", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["purpose", "channel", "language"], condition=Q(is_active=True), name="template_one_active"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} / {self.channel} / {self.language}"


class OutboundMessage(models.Model):
    """One message to a borrower, planned by the sweep or a collector; sent at most once."""

    idempotency_key = models.CharField(max_length=160, unique=True)
    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="messages")
    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="messages")
    # Few indexes on purpose: every send updates the row (case: see the (case, channel, created_at) index).
    case = models.ForeignKey(
        "collections_app.CollectionCase",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
        db_index=False,
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    purpose = models.CharField(_("purpose"), max_length=24, choices=MessagePurpose.choices)
    to = models.CharField(_("to"), max_length=254, blank=True, help_text=_("Chosen at send time when blank."))
    planned_for = models.DateTimeField(_("planned for"))
    status = models.CharField(_("status"), max_length=10, choices=MessageStatus.choices, default=MessageStatus.PLANNED)
    status_reason = models.TextField(_("status reason"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Dispatch: who claimed it and when, the gate's decision, what was sent, and the provider's answer.
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    # Database defaults too: the sweep plans rows with set-based SQL that names only the planning columns.
    claim_token = models.CharField(max_length=40, blank=True, default="", db_default="")
    attempts = models.PositiveSmallIntegerField(_("send attempts"), default=0, db_default=0)
    decision = models.ForeignKey(
        "compliance.Decision", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    template = models.ForeignKey(
        MessageTemplate, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    body = models.TextField(_("text sent"), blank=True, default="", db_default="")
    send_started_at = models.DateTimeField(
        _("handed to the provider at"),
        null=True,
        blank=True,
        help_text=_("Set just before the provider is called: a row with this and no provider id may have been sent."),
    )
    provider = models.CharField(_("provider"), max_length=16, blank=True, default="", db_default="")
    # NULL until the provider answers: the unique index must not see the empty rows as one value.
    provider_id = models.CharField(_("provider id"), max_length=64, null=True, blank=True)  # noqa: DJ001
    provider_status = models.CharField(_("provider status"), max_length=32, blank=True, default="", db_default="")
    error_code = models.CharField(_("error code"), max_length=16, blank=True, default="", db_default="")
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )

    class Meta:
        verbose_name = _("outbound message")
        verbose_name_plural = _("outbound messages")
        indexes = [
            models.Index(fields=["planned_for"], condition=Q(status__in=["planned", "deferred"]), name="outbox_due"),
            models.Index(fields=["case", "channel", "created_at"]),
            models.Index(fields=["claimed_at"], condition=Q(status="claimed"), name="outbox_claimed"),
            # The managers' pages (/performance/, /messages/): the messages planned in a window, whatever their
            # status, with what their counts read (an index-only scan, never the wide rows).
            models.Index(
                fields=["planned_for"],
                include=["case", "channel", "status", "send_started_at", "id"],
                name="outbox_planned_cover",
            ),
        ]
        # A plain unique index (a unique field would add a second, pattern-matching one on PostgreSQL).
        constraints = [models.UniqueConstraint(fields=["provider_id"], name="outbox_provider_id_unique")]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.channel} → {self.borrower_id} ({self.status})"


class InboundAction(models.TextChoices):
    OPT_OUT = "opt_out", _("opt-out")
    OPT_IN = "opt_in", _("opt back in")
    HELP = "help", _("help")
    REVIEW = "review", _("may be an opt-out: review")
    NONE = "none", _("no action")


class InboundMessage(models.Model):
    """An SMS a borrower sent us (signature-checked webhook), with what it made the system do."""

    provider_id = models.CharField(_("provider id"), max_length=64, unique=True)
    from_number = models.CharField(_("from"), max_length=32)
    to_number = models.CharField(_("to"), max_length=32)
    body = models.TextField(_("text"), blank=True)
    borrower = models.ForeignKey(
        Borrower, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_messages"
    )
    action = models.CharField(_("action"), max_length=8, choices=InboundAction.choices)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    # The complaint classifier's flag (compliance.complaints, CMP-01): a person confirms or dismisses it.
    possible_complaint = models.BooleanField(_("possible complaint"), default=False)

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        indexes = [models.Index(fields=["action", "received_at"])]

    def __str__(self) -> str:
        return f"{self.action} from {self.from_number} at {self.received_at:%Y-%m-%d %H:%M}"


class ProviderPause(models.Model):
    """Sending through a provider is paused after an answer that may have been lost (a timeout, a dropped
    connection, a gateway's 502/504): every further send would risk a duplicate and end in review. Until ``until``
    no batch starts a send; then one batch sends one message as a probe (moving ``until`` on, so the others keep
    waiting) and a definite answer ends the pause. No row: sending as usual."""

    provider = models.CharField(_("provider"), max_length=16, unique=True)
    until = models.DateTimeField(_("paused until"))
    reason = models.TextField(_("reason"), blank=True)
    since = models.DateTimeField(_("paused since"))

    class Meta:
        verbose_name = _("provider pause")
        verbose_name_plural = _("provider pauses")

    def __str__(self) -> str:
        return f"{self.provider} paused until {self.until:%Y-%m-%d %H:%M:%S}"


# ---------------------------------------------------------------------------------------------------------------
# A collector's call placed through the provider (click-to-call), and its recordings (REC-01)
# ---------------------------------------------------------------------------------------------------------------
class CollectorCallStatus(models.TextChoices):
    PLACING = "placing", _("placing")  # allowed and reserved; the provider not asked yet
    RINGING = "ringing", _("ringing your phone")  # the provider took it: the collector's phone rings
    CONNECTING = "connecting", _("calling the borrower")  # the borrower's leg started
    ENDED = "ended", _("ended")  # the borrower's leg ended: its outcome is in the ledger
    NOT_CONNECTED = "not_connected", _("not connected")  # nobody called the borrower: the reservation was released
    REVIEW = "review", _("review")  # the provider's answer was lost: it may have placed the call


class CollectorCall(models.Model):
    """A collector's call through the provider: it rings the collector's own phone, then bridges to the borrower's
    number (``to``) with the lender's caller id, announcing and recording the call as the borrower's profiles say
    (REC-01). The borrower's leg settles the gate's reservation (``decision``) into the ledger's real outcome."""

    case = models.ForeignKey("collections_app.CollectionCase", on_delete=models.PROTECT, related_name="calls")
    borrower = models.ForeignKey(Borrower, on_delete=models.PROTECT, related_name="+")
    collector = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.OneToOneField("compliance.Decision", on_delete=models.PROTECT, related_name="+")
    to = models.CharField(_("borrower's number"), max_length=32)
    agent_number = models.CharField(_("collector's phone"), max_length=32)
    language = models.CharField(_("borrower's language"), max_length=8, default="en")
    record = models.BooleanField(_("recorded"), default=False)
    disclosure = models.BooleanField(_("recording announced"), default=False)
    retention_years = models.PositiveSmallIntegerField(_("recordings kept (years)"), default=0)
    status = models.CharField(
        _("status"), max_length=16, choices=CollectorCallStatus.choices, default=CollectorCallStatus.PLACING
    )
    provider = models.CharField(_("provider"), max_length=16, blank=True)
    # NULL until the provider answers: the unique index must not see the empty rows as one value.
    provider_id = models.CharField(_("provider id"), max_length=64, null=True, blank=True)  # noqa: DJ001
    borrower_leg_id = models.CharField(_("borrower's leg"), max_length=64, blank=True)
    provider_status = models.CharField(_("provider status"), max_length=32, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=12, blank=True, choices=ContactOutcome.choices, help_text=_("The ledger's.")
    )
    answered = models.BooleanField(_("the borrower's leg was answered"), null=True, blank=True)
    # What only a person knows (the disposition), kept here until the borrower's leg settles the ledger entry.
    classified_outcome = models.CharField(max_length=12, blank=True)
    classified_role = models.CharField(max_length=20, blank=True)
    duration_seconds = models.PositiveIntegerField(_("duration (seconds)"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("placed at"), auto_now_add=True)
    send_started_at = models.DateTimeField(_("handed to the provider at"), null=True, blank=True)
    dialled_at = models.DateTimeField(_("borrower dialled at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)

    class Meta:
        verbose_name = _("collector's call")
        verbose_name_plural = _("collectors' calls")
        indexes = [models.Index(fields=["case", "created_at"])]
        constraints = [models.UniqueConstraint(fields=["provider_id"], name="collector_call_provider_id_unique")]

    def __str__(self) -> str:
        return f"call {self.pk} on case {self.case_id} ({self.status})"


class CallRecording(models.Model):
    """A recording of a collector's call, kept at the provider and streamed through the app to those who may hear
    it; deleted once its retention has passed, unless under legal hold."""

    call = models.ForeignKey(CollectorCall, on_delete=models.PROTECT, related_name="recordings")
    provider = models.CharField(_("provider"), max_length=16)
    provider_id = models.CharField(_("recording id"), max_length=64, unique=True)
    duration_seconds = models.PositiveIntegerField(_("duration (seconds)"), default=0)
    channels = models.PositiveSmallIntegerField(_("channels"), default=1)
    recorded_at = models.DateTimeField(_("recorded at"))
    retain_until = models.DateTimeField(_("kept until"))
    legal_hold = models.BooleanField(
        _("legal hold"), default=False, help_text=_("Kept past its retention until the hold is released.")
    )
    legal_hold_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    legal_hold_at = models.DateTimeField(_("legal hold changed at"), null=True, blank=True, editable=False)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("call recording")
        verbose_name_plural = _("call recordings")
        permissions = [("set_legal_hold", _("Can put a call recording under legal hold or release it"))]
        indexes = [
            models.Index(fields=["retain_until"], condition=Q(deleted_at__isnull=True), name="recordings_to_purge")
        ]

    def __str__(self) -> str:
        return f"recording {self.provider_id} of call {self.call_id}"


# ---------------------------------------------------------------------------------------------------------------
# What a borrower pressed on an automated reminder call (the <Gather> menu)
# ---------------------------------------------------------------------------------------------------------------
class KeypressAction(models.TextChoices):
    BALANCE_SMS = "balance_sms", _("asked for the balance by text message")
    PROMISE = "promise", _("promised a date")
    OPT_OUT = "opt_out", _("asked for no more automated calls")
    UNKNOWN = "unknown", _("pressed a key the menu does not offer")


class KeypressStep(models.TextChoices):
    MENU = "menu", _("menu")
    PROMISE_DAYS = "promise_days", _("days until the promised payment")


class VoiceKeypress(models.Model):
    """One answer a borrower keyed on an automated reminder call (``call``, the outbox's voice row), and what it did:
    the case timeline shows it as the borrower's own action."""

    call = models.ForeignKey(OutboundMessage, on_delete=models.CASCADE, related_name="keypresses")
    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="+", db_index=False)
    case = models.ForeignKey(
        "collections_app.CollectionCase",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="keypresses",
        db_index=False,  # the (case, at) index below
    )
    call_sid = models.CharField(_("provider's call id"), max_length=64)
    step = models.CharField(_("step"), max_length=16, choices=KeypressStep.choices)
    digits = models.CharField(_("keys pressed"), max_length=16, blank=True)
    action = models.CharField(_("action"), max_length=16, choices=KeypressAction.choices)
    done = models.BooleanField(_("carried out"), default=False)
    result = models.TextField(_("what happened"), blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("key pressed on a reminder call")
        verbose_name_plural = _("keys pressed on reminder calls")
        indexes = [models.Index(fields=["case", "at"])]

    def __str__(self) -> str:
        return f"{self.digits or '-'} on call {self.call_id} ({self.action})"


# ---------------------------------------------------------------------------------------------------------------
# Links to the borrower's page (portal/), issued in messages
# ---------------------------------------------------------------------------------------------------------------
class PortalLink(models.Model):
    """One link to a borrower's page, issued in a message: the URL's token signs ``public_id`` (nothing personal in
    it); it works until ``expires_at`` unless revoked, and locks for a while after too many wrong answers to the
    identity check."""

    public_id = models.CharField(_("link id"), max_length=16, unique=True, editable=False)
    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="+")
    issued_at = models.DateTimeField(_("issued at"))
    expires_at = models.DateTimeField(_("expires at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    failed_answers = models.PositiveSmallIntegerField(_("wrong answers in a row"), default=0)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)

    class Meta:
        verbose_name = _("borrower page link")
        verbose_name_plural = _("borrower page links")
        indexes = [models.Index(fields=["borrower", "issued_at"], name="portal_link_borrower")]

    def __str__(self) -> str:
        return f"link {self.public_id}"


class PortalEventKind(models.TextChoices):
    VISIT = "visit", _("opened their page")
    CHECK_PASSED = "check_passed", _("confirmed who they are")
    CHECK_FAILED = "check_failed", _("gave a wrong answer to the identity check")
    LOCKED = "locked", _("link locked after too many wrong answers")
    PAY_STARTED = "pay_started", _("started a payment")
    PAY_COMPLETED = "pay_completed", _("completed a payment")


class PortalEvent(models.Model):
    """Audit row of one thing a borrower did on their page, through one link (the actor is always the borrower):
    written with the request, never edited."""

    link = models.ForeignKey(PortalLink, on_delete=models.CASCADE, related_name="events")
    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="+")  # the case timeline's lookup
    kind = models.CharField(_("what"), max_length=16, choices=PortalEventKind.choices)
    ip = models.GenericIPAddressField(_("address"), null=True, blank=True)
    at = models.DateTimeField(_("at"))
    # A payment's events: the key of the online payment (``loans.PaymentCheckout.idempotency_key``) they are about,
    # so that the provider's later confirmation is recorded against the link the payment was started from.
    payment_key = models.CharField(_("payment"), max_length=64, blank=True, default="")

    class Meta:
        verbose_name = _("borrower page event")
        verbose_name_plural = _("borrower page events")
        indexes = [
            models.Index(fields=["borrower", "at"], name="portal_event_borrower_at"),
            models.Index(fields=["payment_key"], condition=~Q(payment_key=""), name="portal_event_payment"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} through {self.link_id} at {self.at:%Y-%m-%d %H:%M}"


# ---------------------------------------------------------------------------------------------------------------
# Documents: letters and notices rendered as PDFs (notifications.documents), kept once and never changed
# ---------------------------------------------------------------------------------------------------------------
class DocumentKind(models.TextChoices):
    PRE_DUE_NOTICE = "pre_due_notice", _("pre-due notice")
    REMINDER_LETTER = "reminder_letter", _("reminder letter")
    FORMAL_NOTICE = "formal_notice", _("formal notice")
    VALIDATION_NOTICE = "validation_notice", _("validation notice")
    ARREARS_NOTICE = "arrears_notice", _("notice of sums in arrears")
    DEFAULT_NOTICE = "default_notice", _("default notice")
    DISPUTE_VERIFICATION = "dispute_verification", _("verification of a disputed debt")
    PLAN_CONFIRMATION = "plan_confirmation", _("settlement or payment plan confirmation")
    CEASE_ACKNOWLEDGEMENT = "cease_acknowledgement", _("acknowledgement of a request to stop contact")


class DocumentIntegrityError(Exception):
    """A document's file is missing or no longer has the SHA-256 recorded when it was made."""


class Document(models.Model):
    """A letter or notice rendered as a PDF, written once under ``DOCUMENTS_DIR`` with its SHA-256 recorded. There is
    no update path: the service only creates, the file is never overwritten, and PostgreSQL refuses an UPDATE of the
    row (a trigger, migration 0014)."""

    kind = models.CharField(_("kind"), max_length=24, choices=DocumentKind.choices)
    language = models.CharField(_("language"), max_length=8, choices=[("en", "English"), ("zh-hans", "简体中文")])
    title = models.CharField(_("title"), max_length=200, help_text=_("As the borrower reads it, in their language."))
    # None only for a loan's document outside any case (an e-mail before the due date carrying a pre-due notice).
    case = models.ForeignKey(
        "collections_app.CollectionCase", on_delete=models.PROTECT, null=True, blank=True, related_name="documents"
    )
    borrower = models.ForeignKey(Borrower, on_delete=models.PROTECT, related_name="documents")
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="documents")
    # The outbox entry (letter or e-mail) that sent it; none for a document prepared on its own.
    message = models.ForeignKey(
        OutboundMessage, on_delete=models.PROTECT, null=True, blank=True, related_name="documents"
    )
    path = models.CharField(_("file"), max_length=200, unique=True, help_text=_("Relative to DOCUMENTS_DIR."))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size = models.PositiveIntegerField(_("size (bytes)"))
    pages = models.PositiveSmallIntegerField(_("pages"))
    # What the document states that clocks and reports read later: its dates (validation period end, remedy date)
    # and amounts, as ISO dates and decimal strings.
    facts = models.JSONField(_("what it states"), default=dict, blank=True)
    created_at = models.DateTimeField(_("made at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        indexes = [
            models.Index(fields=["case", "created_at"], name="document_case_made"),
            models.Index(fields=["created_at"], name="document_made"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk} ({self.language})"

    @property
    def filename(self) -> str:
        """The name a download or an attachment carries (no personal data in it)."""
        return f"{self.kind.replace('_', '-')}-{self.pk}.pdf"

    def pdf_bytes(self) -> bytes:
        """The PDF, checked against its recorded SHA-256 (``DocumentIntegrityError`` if it changed or is gone)."""
        import hashlib
        from pathlib import Path

        try:
            content = (Path(settings.DOCUMENTS_DIR) / self.path).read_bytes()
        except OSError as exc:
            raise DocumentIntegrityError(f"document {self.pk}: its file cannot be read ({exc})") from exc
        if hashlib.sha256(content).hexdigest() != self.sha256:
            raise DocumentIntegrityError(f"document {self.pk}: its file no longer has the recorded SHA-256")
        return content
