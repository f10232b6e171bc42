"""The conduct rules a case's escalation must pass (compliance.conduct): what they count, loaded for one case."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.db.models import Q

from compliance.conduct import escalation_refusals
from compliance.engine import Reason, applicable
from compliance.models import Restriction, RestrictionKind
from compliance.services.facts import profiles_current
from loans.models import Borrower


def breathing_space_in_force(*, borrower_id: int, loan_id: int | None = None) -> list[Restriction]:
    """The breathing spaces in force now for this borrower (borrower-wide, or on this loan)."""
    return list(
        Restriction.objects.active()
        .filter(borrower_id=borrower_id, kind=RestrictionKind.BREATHING_SPACE)
        .filter(Q(loan__isnull=True) | Q(loan_id=loan_id))
        .order_by("pk")
    )


def escalation_check(
    *, borrower_id: int, loan_id: int, transition: str, forbearance_kinds: Iterable[str]
) -> list[Reason]:
    """BS-01, DSP-01 and FB-01 for one case's escalation (empty: nothing objects). A few small queries."""
    borrower = Borrower.objects.only("country", "region", "city").get(pk=borrower_id)
    profiles = applicable(profiles_current(), borrower.country, borrower.region, borrower.city)
    return escalation_refusals(
        transition,
        breathing_space=bool(breathing_space_in_force(borrower_id=borrower_id, loan_id=loan_id)),
        forbearance_kinds=forbearance_kinds,
        profiles=profiles,
        disputed_in_validation_period=disputed_in_validation_period(loan_id=loan_id),
    )


def disputed_in_validation_period(*, loan_id: int) -> bool:
    """DSP-01: a dispute restriction in force on this debt, written and received within the validation period, whose
    verification has not been mailed (the restriction is lifted when it is)."""
    disputes = Restriction.objects.active().filter(loan_id=loan_id, kind=RestrictionKind.DISPUTE)
    return any(d.get("dsp01") and not d.get("verification_sent_at") for d in disputes.values_list("details", flat=True))


def breathing_spaces_in_force(*, at: dt.datetime, zone: str) -> list[tuple[int, int | None, dt.date, dt.date | None]]:
    """Every breathing space in force at ``at``: (borrower, loan or None for all their debts, first day, last day or
    None while open-ended), days in ``zone`` (the product's calendar). One query."""
    tz = ZoneInfo(zone)
    rows = (
        Restriction.objects.active(at)
        .filter(kind=RestrictionKind.BREATHING_SPACE)
        .values_list("borrower_id", "loan_id", "starts_at", "ends_at")
    )
    return [
        (
            borrower,
            loan,
            starts.astimezone(tz).date(),
            (ends - dt.timedelta(microseconds=1)).astimezone(tz).date() if ends else None,
        )
        for borrower, loan, starts, ends in rows
    ]
