"""The conduct rules a case's escalation must pass (compliance.conduct): what they count, loaded for one case."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone

from compliance.conduct import escalation_refusals
from compliance.engine import Reason, applicable
from compliance.models import DebtClock, Restriction, RestrictionKind
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
    *,
    borrower_id: int,
    loan_id: int,
    transition: str,
    forbearance_kinds: Iterable[str],
    case_opened_at: dt.datetime | None = None,
    today: dt.date | None = None,
) -> list[Reason]:
    """BS-01, DSP-01, FB-01 and DN-01 for one case's escalation (empty: nothing objects). A few small queries.
    ``case_opened_at``: a default notice counts for DN-01 only if it was posted since (one from an earlier case of the
    same loan was for a breach since remedied)."""
    borrower = Borrower.objects.only("country", "region", "city").get(pk=borrower_id)
    profiles = applicable(profiles_current(), borrower.country, borrower.region, borrower.city)
    return escalation_refusals(
        transition,
        breathing_space=bool(breathing_space_in_force(borrower_id=borrower_id, loan_id=loan_id)),
        forbearance_kinds=forbearance_kinds,
        profiles=profiles,
        disputed_in_validation_period=disputed_in_validation_period(loan_id=loan_id),
        default_notice_remedy_by=default_notice_remedy_by(loan_id=loan_id, since=case_opened_at),
        today=today or timezone.localdate(),
    )


def default_notice_remedy_by(*, loan_id: int, since: dt.datetime | None = None) -> dt.date | None:
    """DN-01: the remedy date of the default notice posted about this debt (since ``since``), None if none was."""
    clock = DebtClock.objects.filter(loan_id=loan_id).first()
    if clock is None:
        return None
    return clock.default_notice_remedy_by_since(since or dt.datetime.min.replace(tzinfo=dt.UTC))


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
