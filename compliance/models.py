"""State the compliance gate counts (docs/compliance-rules.md): profiles, restrictions, consents and opt-outs, the
contact ledger and the decisions.

``Restriction`` is written by holds on collection cases (dispute, bankruptcy, deceased, cease-and-desist, hardship
review) and by the API; the gate reads the active ones.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from jsonschema import Draft202012Validator

from compliance.presets import SCHEMA
from loans.models import Borrower, Loan


class RestrictionKind(models.TextChoices):
    CEASE_AND_DESIST = "cease_and_desist", _("cease and desist")
    ATTORNEY_REPRESENTED = "attorney_represented", _("represented by an attorney")
    BANKRUPTCY = "bankruptcy", _("bankruptcy")
    DISPUTE = "dispute", _("dispute")
    DISPUTE_VERIFIED = "dispute_verified", _("dispute (verification sent)")
    DECEASED = "deceased", _("deceased")
    HARDSHIP_REVIEW = "hardship_review", _("hardship review")
    INCONVENIENT_TIME = "inconvenient_time", _("inconvenient time")
    INCONVENIENT_PLACE = "inconvenient_place", _("inconvenient place")
    NO_WORK_CONTACT = "no_work_contact", _("no contact at work")
    EMPLOYER_PROHIBITS = "employer_prohibits", _("employer prohibits contact")
    SMS_OPT_OUT = "sms_opt_out", _("SMS opt-out")
    TIME_BARRED = "time_barred", _("time-barred debt")
    COMPLAINT_REVIEW = "complaint_review", _("complaint under review")
    BREATHING_SPACE = "breathing_space", _("breathing space")


# Restrictions the collector working the case may lift: preferences the borrower set and may take back, and a dispute
# (lifted when verification is sent, USF-20). Every other kind records a legal status or right — cease and desist,
# attorney, bankruptcy, death, SMS opt-out, time-barred debt: lifting it resumes contact the law stopped, so only
# managers and admins may (permission ``lift_restriction``). New kinds are managers' until listed here.
COLLECTOR_LIFTABLE_KINDS = frozenset(
    {
        RestrictionKind.DISPUTE,
        RestrictionKind.DISPUTE_VERIFIED,
        RestrictionKind.HARDSHIP_REVIEW,
        RestrictionKind.INCONVENIENT_TIME,
        RestrictionKind.INCONVENIENT_PLACE,
        RestrictionKind.NO_WORK_CONTACT,
        RestrictionKind.EMPLOYER_PROHIBITS,
    }
)


class RestrictionQuerySet(models.QuerySet["Restriction"]):
    def active(self, at: dt.datetime | None = None) -> RestrictionQuerySet:
        """In force at ``at`` (default now): started, not ended, not lifted."""
        at = at or timezone.now()
        return self.filter(starts_at__lte=at, lifted_at__isnull=True).filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=at)
        )


class Restriction(models.Model):
    """A restriction on contacting a borrower (optionally about one loan), from a hold, a request or a law."""

    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="restrictions")
    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, null=True, blank=True, related_name="restrictions")
    kind = models.CharField(_("kind"), max_length=24, choices=RestrictionKind.choices)
    starts_at = models.DateTimeField(_("starts at"), default=timezone.now)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    document_ref = models.CharField(_("document reference"), max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=40, blank=True, help_text=_("e.g. hold:<id>, api, inbound_sms"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lift_reason = models.TextField(_("lift reason"), blank=True)

    objects = RestrictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("restriction")
        verbose_name_plural = _("restrictions")
        permissions = [
            ("lift_restriction", _("Can lift any restriction (cease and desist, attorney, bankruptcy, opt-out…)")),
        ]
        indexes = [
            models.Index(fields=["borrower", "kind"], condition=Q(lifted_at__isnull=True), name="restriction_in_force")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.borrower_id})"


class JurisdictionProfile(models.Model):
    """A jurisdiction's contact rules as validated data (docs/compliance-rules.md); every edit a new version."""

    code = models.SlugField(_("code"), max_length=40)
    version = models.PositiveIntegerField(default=1, editable=False)
    is_current = models.BooleanField(default=True, editable=False)
    params = models.JSONField(_("parameters"), help_text=_("Validated against compliance.presets.SCHEMA."))
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )

    class Meta:
        verbose_name = _("jurisdiction profile")
        verbose_name_plural = _("jurisdiction profiles")
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="profile_version_unique"),
            models.UniqueConstraint(fields=["code"], condition=Q(is_current=True), name="profile_one_current"),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"

    def clean(self) -> None:
        errors = sorted(Draft202012Validator(SCHEMA).iter_errors(self.params), key=lambda e: list(e.path))
        if errors:
            raise ValidationError({"params": [f"{'/'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in errors]})


class ConsentKind(models.TextChoices):
    OPT_OUT = "opt_out", _("opted out of this medium")
    OPT_IN = "opt_in", _("opted back in")
    AUTODIAL_CONSENT = "autodial_consent", _("consented to automated calls/texts")
    AUTODIAL_REVOKED = "autodial_revoked", _("revoked consent to automated calls/texts")
    # NYC-01: a written consent to e-mail or texts at this address (an opt-out revokes it).
    WRITTEN_CONSENT = "written_consent", _("gave written consent to e-mail or texts")


class ConsentEvent(models.Model):
    """Append-only history of consents and opt-outs per address and medium; the latest event is the state."""

    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="consent_events")
    medium = models.CharField(
        _("medium"), max_length=8, choices=[("sms", "SMS"), ("voice", _("voice")), ("email", _("email"))]
    )
    address = models.CharField(_("number or address"), max_length=254)
    kind = models.CharField(_("kind"), max_length=20, choices=ConsentKind.choices)
    source = models.CharField(_("source"), max_length=40, help_text=_("inbound_sms, provider_error, api, collector"))
    text = models.TextField(_("what was said"), blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("consent event")
        verbose_name_plural = _("consent events")
        indexes = [models.Index(fields=["borrower", "address", "at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.medium} ({self.at:%Y-%m-%d})"


class Direction(models.TextChoices):
    OUTBOUND = "outbound", _("outbound")
    INBOUND = "inbound", _("inbound")


class ContactOutcome(models.TextChoices):
    CONVERSATION = "conversation", _("conversation")
    NO_ANSWER = "no_answer", _("no answer")
    VOICEMAIL = "voicemail", _("voicemail")
    BUSY = "busy", _("busy")
    FAILED = "failed", _("failed / not connected")
    SENT = "sent", _("sent")
    DELIVERED = "delivered", _("delivered")
    VISITED = "visited", _("visited")
    NOT_HOME = "not_home", _("not at home")
    RESERVED = "reserved", _("reserved (about to happen)")
    CANCELLED = "cancelled", _("reservation released (never happened)")


class ContactEvent(models.Model):
    """The append-only contact ledger: every attempt and communication the caps count (docs/compliance-rules.md)."""

    # Indexes kept to what is read: the ledger is written once per contact (borrower: see the (borrower, at) index).
    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="contact_events", db_index=False)
    debts = models.JSONField(_("debts in scope"), default=list, help_text=_("Loan ids discussed or in scope."))
    channel = models.CharField(_("channel"), max_length=8)
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    to = models.CharField(_("to"), max_length=254, blank=True)
    target_role = models.CharField(_("with"), max_length=20, default="debtor")
    at = models.DateTimeField(_("at"))
    outcome = models.CharField(_("outcome"), max_length=12, choices=ContactOutcome.choices)
    automated = models.BooleanField(_("automated"), default=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    decision = models.ForeignKey("Decision", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    is_exception = models.BooleanField(_("not covered by an allowing decision"), default=False)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("contact event")
        verbose_name_plural = _("contact events")
        indexes = [
            models.Index(fields=["borrower", "at"]),
            models.Index(fields=["at"], condition=Q(is_exception=True), name="contact_exceptions"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.channel} {self.outcome} at {self.at:%Y-%m-%d %H:%M}"


class Decision(models.Model):
    """One answer of the gate, with everything it counted, so a manager can later see exactly why."""

    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="decisions", db_index=False)
    loan = models.ForeignKey(Loan, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    channel = models.CharField(max_length=8)
    to = models.CharField(max_length=254, blank=True)
    at = models.DateTimeField(help_text=_("The instant the contact was evaluated for."))
    automated = models.BooleanField(default=False)
    purpose = models.CharField(max_length=40, blank=True)
    outcome = models.CharField(max_length=8)
    allowed = models.BooleanField()
    reasons = models.JSONField(default=list)
    next_allowed_at = models.DateTimeField(null=True, blank=True)
    inputs = models.JSONField(default=dict)
    profiles = models.JSONField(default=list)
    evaluated = models.JSONField(default=list)
    evaluator_version = models.CharField(max_length=20)
    dry_run = models.BooleanField(default=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")
        indexes = [
            models.Index(fields=["borrower", "created_at"]),
            models.Index(fields=["created_at"], condition=Q(allowed=False), name="decision_denials"),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} {self.channel} for {self.borrower_id} at {self.at:%Y-%m-%d %H:%M}"


# ---------------------------------------------------------------------------------------------------------------
# Vulnerability (VUL-01: FCA FG21/1, CONC 7.2.1R, Consumer Duty)
# ---------------------------------------------------------------------------------------------------------------
class VulnerabilityDriver(models.TextChoices):
    """The four drivers of vulnerability of FG21/1."""

    HEALTH = "health", _("health")
    LIFE_EVENT = "life_event", _("life event")
    RESILIENCE = "resilience", _("low resilience")
    CAPABILITY = "capability", _("low capability")


class ConsentMethod(models.TextChoices):
    """How the borrower agreed that their vulnerability be recorded (data about health is special-category data)."""

    SPOKEN = "spoken", _("said so on a call")
    WRITTEN = "written", _("in writing")
    ONLINE = "online", _("online, on the lender's site")


class Adjustment(models.TextChoices):
    """What the lender agreed to do differently for this borrower; the gate enforces each (VUL-01)."""

    NO_AUTOMATED = "no_automated", _("no automated contact")
    NAMED_COLLECTOR = "named_collector", _("only the named collector")
    WRITTEN_ONLY = "written_only", _("written contact only (letters and e-mail)")


class VulnerabilityQuerySet(models.QuerySet["VulnerabilityRecord"]):
    def active(self) -> VulnerabilityQuerySet:
        """Not ended (a record past its review date stays in force until someone reviews or ends it)."""
        return self.filter(ended_at__isnull=True)


class VulnerabilityRecord(models.Model):
    """A borrower's vulnerability (FG21/1 drivers), recorded with their consent, and the adjustments agreed."""

    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="vulnerabilities")
    drivers = models.JSONField(_("drivers"), default=list, help_text=_("VulnerabilityDriver values."))
    details = models.TextField(_("details"), blank=True)
    consent_method = models.CharField(_("consent given"), max_length=12, choices=ConsentMethod.choices)
    consent_at = models.DateTimeField(_("consent given at"))
    review_on = models.DateField(_("review date"))
    adjustments = models.JSONField(_("agreed adjustments"), default=list, help_text=_("Adjustment values."))
    named_collector = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source = models.CharField(_("source"), max_length=20, default="staff", help_text=_("staff or api"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    end_reason = models.TextField(_("why it ended"), blank=True)

    objects = VulnerabilityQuerySet.as_manager()

    class Meta:
        verbose_name = _("vulnerability record")
        verbose_name_plural = _("vulnerability records")
        permissions = [("view_vulnerability_details", _("Can read the details of a vulnerability record"))]
        constraints = [
            models.UniqueConstraint(
                fields=["borrower"], condition=Q(ended_at__isnull=True), name="vulnerability_one_active"
            )
        ]

    def __str__(self) -> str:
        return f"vulnerability {self.pk} ({self.borrower_id})"

    def driver_labels(self) -> list[str]:
        return [str(VulnerabilityDriver(d).label) for d in self.drivers if d in VulnerabilityDriver.values]

    def adjustment_items(self) -> list[tuple[str, str]]:
        """(code, words) of each agreed adjustment."""
        return [(a, str(Adjustment(a).label)) for a in self.adjustments if a in Adjustment.values]


class VulnerabilityAccess(models.TextChoices):
    VIEWED = "viewed", _("viewed")
    RECORDED = "recorded", _("recorded")
    UPDATED = "updated", _("updated")
    ENDED = "ended", _("ended")


class VulnerabilityAudit(models.Model):
    """Who saw or changed a vulnerability record, when and where: every page view and API read writes one."""

    record = models.ForeignKey(VulnerabilityRecord, on_delete=models.CASCADE, related_name="audit")
    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="+", db_index=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=10, choices=VulnerabilityAccess.choices)
    where = models.CharField(max_length=40, help_text=_("case:<id>, borrower page, api"))
    details_shown = models.BooleanField(default=False)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("vulnerability audit entry")
        verbose_name_plural = _("vulnerability audit entries")
        indexes = [models.Index(fields=["borrower", "at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.record_id} by {self.actor_id} at {self.at:%Y-%m-%d %H:%M}"


# ---------------------------------------------------------------------------------------------------------------
# Collector certification (CERT-01: training and an exam before collecting, renewed yearly, where a profile says so)
# ---------------------------------------------------------------------------------------------------------------
class CertificationQuerySet(models.QuerySet["CollectorCertification"]):
    def in_force(self, day: dt.date) -> CertificationQuerySet:
        """Records passed on or before ``day`` and not expired on it (the profile's validity is the gate's)."""
        return self.filter(passed_on__lte=day, expires_on__gte=day, revoked_at__isnull=True)


class CollectorCertification(models.Model):
    """A collector's training record: the course or certificate, when it was passed and until when it counts, who
    recorded it. The gate reads these for manual contacts under profiles that require them (CERT-01)."""

    collector = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="certifications")
    course = models.CharField(_("course or certificate"), max_length=200)
    passed_on = models.DateField(_("passed on"))
    expires_on = models.DateField(_("expires on"))
    evidence_reference = models.CharField(
        _("evidence"), max_length=200, blank=True, help_text=_("Certificate number or where the evidence is kept.")
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    revoked_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = CertificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("collector certification")
        verbose_name_plural = _("collector certifications")
        indexes = [models.Index(fields=["collector", "expires_on"])]
        constraints = [
            models.CheckConstraint(condition=Q(expires_on__gte=F("passed_on")), name="certification_expires_after_pass")
        ]

    def __str__(self) -> str:
        return f"{self.course} ({self.collector_id}, {self.passed_on} → {self.expires_on})"


# VAL-01 / DSP-01: a debt's first communication and validation notice (Reg F 1006.34, 1006.38)
# ---------------------------------------------------------------------------------------------------------------
class DebtClock(models.Model):
    """What the gate counts VAL-01 from, per debt: when the first communication about it happened (written by the
    contact ledger when an outbound contact reaches the debtor — a text or e-mail sent, a letter mailed, a call
    answered, a visit), whether it predates the system, and when the validation notice was mailed with the end of its
    validation period (written when the notice leaves: notifications); and, for UK debts, the default notice posted
    with its remedy date (DN-01). One row per loan, for every debt."""

    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="+")
    loan = models.OneToOneField(Loan, on_delete=models.CASCADE, related_name="debt_clock")
    first_communication_at = models.DateTimeField(_("first communication"), null=True, blank=True)
    before_system = models.BooleanField(
        _("first communication before the system"),
        default=False,
        help_text=_("Its date is not known: a person checks that a validation notice went out."),
    )
    notice_sent_at = models.DateTimeField(_("validation notice mailed at"), null=True, blank=True)
    notice_mailed_on = models.DateField(_("validation notice mailed on"), null=True, blank=True)
    validation_period_ends_on = models.DateField(_("validation period ends on"), null=True, blank=True)
    notice_ref = models.CharField(_("validation notice"), max_length=40, blank=True, help_text=_("message:<id>"))
    # DN-01 (UK, Consumer Credit Act 1974 s.87-88): the latest default notice posted about the debt and the date it
    # names to remedy the breach by; no legal action may be asked for before that date has passed.
    default_notice_sent_at = models.DateTimeField(_("default notice posted at"), null=True, blank=True)
    default_notice_remedy_by = models.DateField(_("default notice: remedy by"), null=True, blank=True)
    default_notice_ref = models.CharField(_("default notice"), max_length=40, blank=True, help_text=_("message:<id>"))

    class Meta:
        verbose_name = _("debt clock")
        verbose_name_plural = _("debt clocks")

    def __str__(self) -> str:
        return f"debt clock of loan {self.loan_id}"

    def default_notice_remedy_by_since(self, since: dt.datetime) -> dt.date | None:
        """DN-01: the remedy date of the default notice posted at or after ``since`` (the case's opening: one posted
        for an earlier case of the loan was for a breach since remedied), None when none was."""
        sent_at = self.default_notice_sent_at
        return self.default_notice_remedy_by if sent_at is not None and sent_at >= since else None
