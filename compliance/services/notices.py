"""VAL-01 and DSP-01 (Reg F 1006.34, 1006.38): a debt's validation notice recorded when it is mailed, and the
validation-period facts a dispute is judged by when it is received. DN-01 (Consumer Credit Act 1974 s.87-88): a UK
debt's default notice recorded when it is posted, with the date it names to remedy the breach by."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from compliance.engine import applicable
from compliance.models import DebtClock
from compliance.services.facts import profiles_current
from loans.models import Loan


def validation_notice_applies(*, country: str, region: str = "", city: str = "") -> bool:
    """Whether a profile of this address asks for a validation notice (VAL-01: the US profiles)."""
    return any("validation_notice" in p.params for p in applicable(profiles_current(), country, region, city))


def validation_notice_record(
    *, loan_id: int, sent_at: dt.datetime, mailed_on: dt.date, validation_period_ends_on: dt.date, ref: str
) -> DebtClock:
    """The validation notice of this debt left (a letter handed to the mail house, an e-mail sent): the first one
    recorded sets the debt's clock (later copies — the e-mail beside the letter — change nothing). The notice is a
    communication too: it is the first one when nothing came before."""
    with transaction.atomic():
        borrower_id = Loan.objects.values_list("borrower_id", flat=True).get(pk=loan_id)
        clock, _ = DebtClock.objects.select_for_update().get_or_create(
            loan_id=loan_id, defaults={"borrower_id": borrower_id}
        )
        if clock.notice_sent_at is None:
            clock.notice_sent_at, clock.notice_mailed_on = sent_at, mailed_on
            clock.validation_period_ends_on, clock.notice_ref = validation_period_ends_on, ref[:40]
            if clock.first_communication_at is None and not clock.before_system:
                clock.first_communication_at = sent_at
            clock.save()
        return clock


def default_notice_record(*, loan_id: int, sent_at: dt.datetime, remedy_by: dt.date, ref: str) -> DebtClock:
    """A default notice of this debt was posted: the debt's clock keeps the latest one (a later notice, for a later
    breach, names a later remedy date; a copy of the same notice changes nothing)."""
    with transaction.atomic():
        borrower_id = Loan.objects.values_list("borrower_id", flat=True).get(pk=loan_id)
        clock, _ = DebtClock.objects.select_for_update().get_or_create(
            loan_id=loan_id, defaults={"borrower_id": borrower_id}
        )
        if clock.default_notice_sent_at is None or clock.default_notice_sent_at < sent_at:
            clock.default_notice_sent_at, clock.default_notice_remedy_by = sent_at, remedy_by
            clock.default_notice_ref = ref[:40]
            if clock.first_communication_at is None and not clock.before_system:
                clock.first_communication_at = sent_at
            clock.save()
        return clock


def default_notice_returned(*, loan_id: int, ref: str) -> bool:
    """The default notice ``ref`` came back undelivered: it was not served, so the debt's clock forgets it (only if it
    is still the one the clock keeps). Returns whether the clock changed."""
    forgotten = DebtClock.objects.filter(loan_id=loan_id, default_notice_ref=ref[:40]).update(
        default_notice_sent_at=None, default_notice_remedy_by=None, default_notice_ref=""
    )
    return bool(forgotten)


def validation_first_communication_before_system(*, loan_id: int) -> DebtClock:
    """The first communication about this debt happened before the system (a portfolio taken over): VAL-01 sends
    its contacts to REVIEW until a validation notice is recorded."""
    borrower_id = Loan.objects.values_list("borrower_id", flat=True).get(pk=loan_id)
    clock, _ = DebtClock.objects.update_or_create(
        loan_id=loan_id, defaults={"borrower_id": borrower_id, "before_system": True}
    )
    return clock


def dispute_period_facts(*, loan_id: int, received_on: dt.date) -> dict[str, Any]:
    """What a dispute received on ``received_on`` records about the validation period (DSP-01): whether VAL-01
    applies to the debt, when its period ends (None while no notice was mailed) and whether the dispute falls in it —
    a dispute before the notice is mailed is in it (the period has not even started to run out)."""
    loan = Loan.objects.select_related("borrower").only("borrower__country", "borrower__region", "borrower__city")
    borrower = loan.get(pk=loan_id).borrower
    if not validation_notice_applies(country=borrower.country, region=borrower.region, city=borrower.city):
        return {"val01": False, "validation_period_ends_on": None, "in_validation_period": None}
    ends = DebtClock.objects.filter(loan_id=loan_id).values_list("validation_period_ends_on", flat=True).first()
    return {
        "val01": True,
        "validation_period_ends_on": ends.isoformat() if ends else None,
        "in_validation_period": ends is None or received_on <= ends,
    }
