"""Holds on a case (each also a compliance restriction the gate counts) and notes."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app.labels import BORROWER
from collections_app.models import (
    OPEN_STATES,
    CaseNote,
    CaseState,
    Hold,
    HoldKind,
    PaymentPlan,
    PlanStatus,
    PromiseStatus,
    PromiseToPay,
)
from collections_app.services.cases import InvalidRequest, NotPermitted, TransitionConflict, locked_case, run_transition
from compliance.services import (
    restriction_add,
    restriction_lift,
    restriction_may_lift,
)
from loans.services import product_today


# ---------------------------------------------------------------------------------------------------------------
# Holds
# ---------------------------------------------------------------------------------------------------------------
def hold_place(
    *,
    case_id: int,
    actor: User | None,
    kind: str,
    reason: str,
    document_ref: str = "",
    by_borrower: bool = False,
    via: str = "",
) -> Hold:
    """Put the case on hold and record the matching compliance restriction (the gate stops contact).
    ``by_borrower``: the borrower asked on their own (a dispute from their page; no user: ``actor`` None, audited as
    ``BORROWER``); ``via``: how they did (their page's link and address), for the audit row."""
    if (actor is None) != by_borrower:
        raise ValueError("a hold is placed by a user, or by the borrower on their own (by_borrower, no actor)")
    if kind not in HoldKind.values:
        raise InvalidRequest(_("unknown hold kind"), field="kind")
    if not reason.strip():
        raise InvalidRequest(_("give a reason"), field="reason")
    with transaction.atomic():
        case = locked_case(case_id)
        if case.state not in OPEN_STATES:
            raise TransitionConflict(_("the case is not open"))
        restriction = restriction_add(
            borrower_id=case.borrower_id,
            loan_id=case.loan_id,
            kind=kind,
            reason=reason,
            document_ref=document_ref,
            source=f"case:{case.pk}",
            actor=actor,
        )
        hold = Hold.objects.create(
            case=case, kind=kind, reason=reason, document_ref=document_ref, restriction=restriction, placed_by=actor
        )
        if case.state != CaseState.ON_HOLD:
            previous = case.state
            run_transition(
                case,
                "place_hold",
                actor,
                f"{hold.get_kind_display()}: {reason}{via}",
                label=BORROWER if by_borrower else "",
            )
            if previous == CaseState.PROMISE_TO_PAY:
                PromiseToPay.objects.filter(case=case, status=PromiseStatus.OPEN).update(status=PromiseStatus.CANCELLED)
            elif previous == CaseState.PAYMENT_PLAN:
                PaymentPlan.objects.filter(case=case, status=PlanStatus.ACTIVE).update(
                    status=PlanStatus.CANCELLED, ended_on=product_today(case.loan.product)
                )
    return hold


def hold_lift(*, hold_id: int, actor: User, reason: str) -> Hold:
    """Lift one hold; the case returns to its stage when no other hold remains."""
    if not reason.strip():
        raise InvalidRequest(_("give a reason"), field="reason")
    with transaction.atomic():
        hold = Hold.objects.select_for_update().get(pk=hold_id)
        if hold.lifted_at is not None:
            raise TransitionConflict(_("the hold was lifted already"))
        if not restriction_may_lift(kind=hold.kind, actor=actor):
            raise NotPermitted(_("only managers and admins lift a %(kind)s hold") % {"kind": hold.get_kind_display()})
        case = locked_case(hold.case_id)
        if hold.restriction_id:  # the gate's restriction, lifted by its owner (the same rule, checked there too)
            restriction = restriction_lift(restriction_id=hold.restriction_id, actor=actor, reason=reason)
            now = restriction.lifted_at
        else:
            now = timezone.now()
        hold.lifted_at, hold.lifted_by, hold.lift_reason = now, actor, reason
        hold.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        others = Hold.objects.filter(case=case, lifted_at__isnull=True).exclude(pk=hold.pk).exists()
        if case.state == CaseState.ON_HOLD and not others:
            run_transition(case, "lift_hold", actor, f"{hold.get_kind_display()} lifted: {reason}")
    return hold


# ---------------------------------------------------------------------------------------------------------------
# Notes, visits, assignment
# ---------------------------------------------------------------------------------------------------------------
def note_add(*, case_id: int, actor: User, text: str) -> CaseNote:
    if not text.strip():
        raise InvalidRequest(_("the note is empty"), field="text")
    return CaseNote.objects.create(case_id=case_id, author=actor, text=text.strip())
