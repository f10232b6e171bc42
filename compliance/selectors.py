"""Reads of compliance state for the apps above: the recording policy a call's decision implies (REC-01) and the
latest contact in a borrower's ledger (the retention clock of recordings); the vulnerability record in force and who
reads its details (VUL-01)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Max, Q

from compliance.engine import Profile
from compliance.models import ContactEvent, Decision, JurisdictionProfile, VulnerabilityRecord
from compliance.recording import NOT_RECORDED, RecordingPolicy, recording_policy


def recording_policy_for(*, decision: Decision) -> RecordingPolicy:
    """REC-01 for the call this decision allowed, from the very profile versions the gate applied to it (a profile
    edited since does not change how a call already allowed is recorded)."""
    labels = [label.rpartition("@") for label in decision.profiles or []]
    wanted = Q()
    for code, _, version in labels:
        if version.isdigit():
            wanted |= Q(code=code, version=int(version))
    if not wanted:
        return NOT_RECORDED
    rows = JurisdictionProfile.objects.filter(wanted).order_by("code")
    return recording_policy(Profile(row.code, row.version, row.params) for row in rows)


def borrower_last_contact_at(*, borrower_id: int) -> dt.datetime | None:
    """The latest contact with the borrower the ledger holds (released reservations are not contacts)."""
    latest = ContactEvent.objects.filter(borrower_id=borrower_id).exclude(outcome="cancelled").aggregate(at=Max("at"))
    return latest["at"]


def vulnerability_active(*, borrower_id: int) -> VulnerabilityRecord | None:
    """The borrower's vulnerability record in force (at most one), with the named collector."""
    records = VulnerabilityRecord.objects.active().select_related("named_collector")
    return records.filter(borrower_id=borrower_id).first()


def vulnerability_details_visible(*, user: Any) -> bool:
    """Who reads a record's details (health, life events): managers and admins; collectors see the drivers and the
    adjustments, what they need to treat the borrower fairly (FG21/1: data minimisation)."""
    return bool(user and user.has_perm("compliance.view_vulnerability_details"))
