"""Collector certification (CERT-01): record a collector's training record, withdraw one, and the facts the gate
needs of the people making a manual contact."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.engine import CertificationFact, Profile, StaffFact, add_months
from compliance.models import CollectorCertification
from compliance.services.facts import ComplianceError


class CertificationInvalid(ComplianceError):
    """A training record that cannot be kept as asked; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def certification_validity_months(profiles: Iterable[Profile]) -> int | None:
    """The shortest validity any profile that requires certification sets (CN_ONLINE_LENDING: 12 months)."""
    months = [
        int(p.params["collector_certification"]["validity_months"])
        for p in profiles
        if (p.params.get("collector_certification") or {}).get("required")
        and p.params["collector_certification"].get("validity_months")
    ]
    return min(months) if months else None


def certification_record(
    *,
    collector: Any,
    course: str,
    passed_on: dt.date | None,
    expires_on: dt.date | None = None,
    evidence_reference: str = "",
    actor: Any,
    validity_months: int | None = None,
) -> CollectorCertification:
    """Record that ``collector`` passed ``course`` on ``passed_on``. Without ``expires_on`` it lasts the profiles'
    validity (``validity_months``; 12 when none says), ending the day before the same date a year later."""
    course = (course or "").strip()
    if collector is None or not getattr(collector, "pk", None):
        raise CertificationInvalid(_("choose the collector"), "collector")
    if not course:
        raise CertificationInvalid(_("name the course or certificate"), "course")
    if passed_on is None:
        raise CertificationInvalid(_("give the day the exam was passed"), "passed_on")
    if passed_on > timezone.localdate():
        raise CertificationInvalid(_("the exam cannot have been passed in the future"), "passed_on")
    if expires_on is None:
        expires_on = add_months(passed_on, validity_months or 12) - dt.timedelta(days=1)
    if expires_on < passed_on:
        raise CertificationInvalid(_("the certificate cannot expire before it was passed"), "expires_on")
    with transaction.atomic():
        return CollectorCertification.objects.create(
            collector=collector,
            course=course,
            passed_on=passed_on,
            expires_on=expires_on,
            evidence_reference=(evidence_reference or "").strip(),
            recorded_by=actor if getattr(actor, "pk", None) else None,
        )


def certification_withdraw(*, certification_id: int, actor: Any) -> CollectorCertification:
    """Withdraw a training record (recorded in error, or the certificate was revoked): the gate stops counting it."""
    with transaction.atomic():
        record = CollectorCertification.objects.select_for_update().get(pk=certification_id)
        if record.revoked_at is None:
            record.revoked_at = timezone.now()
            record.revoked_by = actor if getattr(actor, "pk", None) else None
            record.save(update_fields=["revoked_at", "revoked_by"])
    return record


def staff_facts(user_ids: Sequence[int]) -> tuple[StaffFact, ...]:
    """The people making a manual contact and their training records not withdrawn, in one query."""
    ids = list(dict.fromkeys(i for i in user_ids if i))
    if not ids:
        return ()
    found: dict[int, list[CertificationFact]] = defaultdict(list)
    rows = CollectorCertification.objects.filter(collector_id__in=ids, revoked_at__isnull=True).values_list(
        "pk", "collector_id", "passed_on", "expires_on"
    )
    for pk, collector_id, passed_on, expires_on in rows:
        found[collector_id].append(CertificationFact(pk, passed_on, expires_on))
    return tuple(StaffFact(i, tuple(found[i])) for i in ids)
