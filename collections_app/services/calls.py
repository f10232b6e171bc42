"""A collector's call: the gate first, at the moment of dialling, then the outcome."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from collections_app.models import (
    OPEN_STATES,
    CollectionCase,
)
from collections_app.services.cases import InvalidRequest, TransitionConflict
from compliance.models import Decision
from compliance.services import (
    contact_check,
    contact_record,
)


# ---------------------------------------------------------------------------------------------------------------
# A collector's call: the gate first, at the moment of dialling, then the outcome
# ---------------------------------------------------------------------------------------------------------------
def call_start(*, case_id: int, actor: User, to: str) -> tuple[Any, Any]:
    """Ask the gate for a manual call now and, if allowed, hold the slot (a reservation in the ledger) until the
    collector logs the outcome. Returns the decision and the result (reasons, next allowed time)."""

    case = CollectionCase.objects.only("borrower_id", "loan_id", "state").get(pk=case_id)
    if case.state not in OPEN_STATES:
        raise TransitionConflict("the case is not open")
    if not case.borrower.phones.filter(number=to).exists():
        raise InvalidRequest("not one of the borrower's numbers", field="to")
    return contact_check(
        borrower_id=case.borrower_id, channel="call", to=to, loan_id=case.loan_id, actor=actor, reserve=True
    )


CALL_OUTCOMES = ["conversation", "no_answer", "voicemail", "busy", "failed"]


def call_log(
    *,
    case_id: int,
    actor: User,
    decision_id: int,
    outcome: str,
    debts_discussed: bool,
    note: str = "",
    callback_at: dt.datetime | None = None,
) -> Any:
    """The outcome of a call the gate allowed: the reservation becomes the real outcome; a conversation about the
    debt starts Reg F's quiet period for it (USF-09)."""

    if outcome not in CALL_OUTCOMES:
        raise InvalidRequest("choose what happened", field="outcome")
    case = CollectionCase.objects.only("borrower_id", "loan_id").get(pk=case_id)
    decision = Decision.objects.filter(pk=decision_id, borrower_id=case.borrower_id, channel="call").first()
    if decision is None or not decision.allowed:
        raise InvalidRequest("this call was not allowed by the gate", field="decision")
    with transaction.atomic():
        event = contact_record(
            borrower_id=case.borrower_id,
            channel="call",
            direction="outbound",
            outcome=outcome,
            at=timezone.now(),
            # A conversation that did not name the debt is kept without debts, which the gate counts for every
            # debt: stricter than Reg F asks (quiet period only for debts discussed), never laxer.
            debts=[case.loan_id] if debts_discussed or outcome != "conversation" else [],
            to=decision.to,
            actor=actor,
            decision_id=decision.pk,
            note=note,
        )
        # A new call settles any callback the borrower asked for; a new request replaces it.
        CollectionCase.objects.filter(pk=case_id).update(last_contact_at=event.at, callback_at=callback_at)
    return event
