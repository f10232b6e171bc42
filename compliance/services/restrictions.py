"""Restrictions the gate counts (requests, notices, legal statuses) and the one rule for lifting them; profile edits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from compliance.models import (
    COLLECTOR_LIFTABLE_KINDS,
    JurisdictionProfile,
    Restriction,
)
from compliance.services.facts import ComplianceError
from loans.versioning import version_publish


def profile_revise(*, profile: JurisdictionProfile, actor: Any) -> JurisdictionProfile:
    """Publish edited parameters as a new version of the profile (validated against the schema)."""
    return version_publish(instance=profile, scope={"code": profile.code}, actor=actor)


def restriction_add(
    *,
    borrower_id: int,
    kind: str,
    actor: Any,
    loan_id: int | None = None,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
    details: dict[str, Any] | None = None,
    reason: str = "",
    document_ref: str = "",
    source: str = "api",
) -> Restriction:
    """Record a restriction the gate counts from ``starts_at`` (default now): a request, a notice, a law."""
    return Restriction.objects.create(
        borrower_id=borrower_id,
        loan_id=loan_id,
        kind=kind,
        starts_at=starts_at or timezone.now(),
        ends_at=ends_at,
        details=details or {},
        reason=reason,
        document_ref=document_ref,
        source=source,
        created_by=actor if getattr(actor, "pk", None) else None,
    )


def restriction_reschedule(
    *, restriction_id: int, ends_at: dt.datetime | None, details: dict[str, Any] | None = None
) -> Restriction:
    """Change when a restriction in force ends (and what it records about why), e.g. a crisis breathing space once
    the treatment's end is known. The caller checks who may and writes the audit row."""
    with transaction.atomic():
        restriction = Restriction.objects.select_for_update().get(pk=restriction_id)
        restriction.ends_at = ends_at
        if details is not None:
            restriction.details = {**(restriction.details or {}), **details}
        restriction.save(update_fields=["ends_at", "details"])
        return restriction


class LiftRefused(ComplianceError):
    """The actor may not lift a restriction of this kind."""


def restriction_may_lift(*, kind: str, actor: Any) -> bool:
    """The one rule for lifting, on the case page and in the API (issue 11): a dispute or a preference the borrower
    set, anyone working the case; a legal status or right (cease and desist, attorney, bankruptcy, deceased, SMS
    opt-out, time-barred), managers and admins only (``COLLECTOR_LIFTABLE_KINDS``)."""
    return kind in COLLECTOR_LIFTABLE_KINDS or bool(actor and actor.has_perm("compliance.lift_restriction"))


def restriction_lift(*, restriction_id: int, actor: Any, reason: str) -> Restriction:
    """Lift a restriction (kept, with who lifted it and why); lifting twice changes nothing. Raises LiftRefused when
    the actor may not lift this kind (``restriction_may_lift``)."""
    with transaction.atomic():
        restriction = Restriction.objects.select_for_update().get(pk=restriction_id)
        if not restriction_may_lift(kind=restriction.kind, actor=actor):
            raise LiftRefused(f"only managers and admins lift a {restriction.get_kind_display()} restriction")
        if restriction.lifted_at is None:
            restriction.lifted_at, restriction.lifted_by, restriction.lift_reason = timezone.now(), actor, reason
            restriction.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        return restriction
