"""State the compliance gate counts (shared/compliance/RULES.md §1.4). The gate itself arrives with issue 4.

``Restriction`` is written by holds on collection cases (dispute, bankruptcy, deceased, cease-and-desist, hardship
review) and by the API; the gate reads the active ones.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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


class RestrictionQuerySet(models.QuerySet):
    def active(self, at=None) -> RestrictionQuerySet:  # type: ignore[no-untyped-def]
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
        indexes = [
            models.Index(fields=["borrower", "kind"], condition=Q(lifted_at__isnull=True), name="restriction_in_force")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.borrower_id})"
