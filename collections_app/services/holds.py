"""Holds on a case (each also a compliance restriction the gate counts) and notes."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app.labels import BORROWER
from collections_app.models import (
    OPEN_STATES,
    BreathingSpaceType,
    CaseNote,
    CaseState,
    Dispute,
    DisputeChannel,
    Forbearance,
    ForbearanceKind,
    Hold,
    HoldKind,
    PaymentPlan,
    PlanStatus,
    PromiseStatus,
    PromiseToPay,
)
from collections_app.services.cases import (
    InvalidRequest,
    NotPermitted,
    TransitionConflict,
    audit,
    locked_case,
    run_transition,
)
from compliance.services import (
    dispute_period_facts,
    restriction_add,
    restriction_lift,
    restriction_may_lift,
    restriction_reschedule,
)
from loans.services import product_today
from notifications.models import MessagePurpose, OutboundMessage
from notifications.services import letter_plan


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
    breathing_space_type: str = "",
    treatment_ends_on: dt.date | None = None,
    dispute: DisputeTerms | None = None,
) -> Hold:
    """Put the case on hold and record the matching compliance restriction (the gate stops contact).
    ``by_borrower``: the borrower asked on their own (a dispute from their page; no user: ``actor`` None, audited as
    ``BORROWER``); ``via``: how they did (their page's link and address), for the audit row.

    A breathing space (BS-01) covers every debt of the borrower, so its restriction is the borrower's, not the
    loan's, and ends by itself: a standard one after 60 days, a mental-health crisis one 30 days after the treatment
    ends (open-ended until that date is known).

    A dispute also records its ``Dispute`` (``dispute``: how and when it was received; default: by staff, now, not in
    writing) with what DSP-01 needs — whether it fell in the debt's validation period — on the restriction too."""
    if (actor is None) != by_borrower:
        raise ValueError("a hold is placed by a user, or by the borrower on their own (by_borrower, no actor)")
    if kind not in HoldKind.values:
        raise InvalidRequest(_("unknown hold kind"), field="kind")
    if not reason.strip():
        raise InvalidRequest(_("give a reason"), field="reason")
    starts_at = timezone.now()
    ends_at, details = _breathing_space_terms(kind, breathing_space_type, treatment_ends_on, starts_at)
    terms = (dispute or DisputeTerms()).checked(starts_at) if kind == HoldKind.DISPUTE else None
    with transaction.atomic():
        case = locked_case(case_id)
        if case.state not in OPEN_STATES:
            raise TransitionConflict(_("the case is not open"))
        period: dict[str, Any] = {}
        if terms is not None:
            received_on = timezone.localtime(terms.received_at, zoneinfo.ZoneInfo(case.loan.product.timezone)).date()
            period = dispute_period_facts(loan_id=case.loan_id, received_on=received_on)
            details = {**details, "received_on": received_on.isoformat(), "written": terms.written,
                       "original_creditor": terms.original_creditor,
                       "in_validation_period": period["in_validation_period"],
                       "dsp01": bool(terms.written and period["in_validation_period"])}  # fmt: skip
        restriction = restriction_add(
            borrower_id=case.borrower_id,
            loan_id=None if kind == HoldKind.BREATHING_SPACE else case.loan_id,
            kind=kind,
            starts_at=starts_at,
            ends_at=ends_at,
            details=details,
            reason=reason,
            document_ref=document_ref,
            source=f"case:{case.pk}",
            actor=actor,
        )
        hold = Hold.objects.create(
            case=case, kind=kind, reason=reason, document_ref=document_ref, restriction=restriction, placed_by=actor
        )
        if terms is not None:
            ends = period["validation_period_ends_on"]
            Dispute.objects.create(
                hold=hold, case=case, received_at=terms.received_at, channel=terms.channel, written=terms.written,
                original_creditor=terms.original_creditor, in_validation_period=period["in_validation_period"],
                validation_period_ends_on=dt.date.fromisoformat(ends) if ends else None,
            )  # fmt: skip
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
        if kind == HoldKind.CEASE_AND_DESIST:
            cease_acknowledgement_plan(hold, actor)
    return hold


def cease_acknowledgement_plan(hold: Hold, actor: User | None) -> OutboundMessage:
    """A request to stop contact is acknowledged in writing (FDCPA 1692c(c) lets this one letter through; elsewhere
    it is plain good practice): a letter planned at once, carrying the ``cease_acknowledgement`` document made now
    with the day the request was received. The gate lets it through the hold it answers; once per hold."""
    case = hold.case
    received_at = hold.restriction.starts_at if hold.restriction is not None else hold.placed_at
    received_on = timezone.localtime(received_at, zoneinfo.ZoneInfo(case.loan.product.timezone)).date()
    return letter_plan(key=f"hold:{hold.pk}:cease_acknowledgement:letter", case=case,
                       purpose=MessagePurpose.CEASE_ACKNOWLEDGEMENT, actor=actor,
                       details={"received_on": received_on.isoformat()})  # fmt: skip


@dataclass(frozen=True)
class DisputeTerms:
    """How a dispute was received: ``channel`` (``DisputeChannel``), when (default now; never in the future), in
    writing or not, and whether it asks for the original creditor's name and address (1006.38(c))."""

    channel: str = DisputeChannel.STAFF
    received_at: dt.datetime | None = None
    written: bool = False
    original_creditor: bool = False

    def checked(self, now: dt.datetime) -> _Received:
        if self.channel not in DisputeChannel.values:
            raise InvalidRequest(_("choose how the dispute was received"), field="channel")
        received_at = self.received_at or now
        if received_at > now + dt.timedelta(minutes=5):
            raise InvalidRequest(_("the dispute cannot be received in the future"), field="received_at")
        # A letter or the borrower's page is writing by nature; a call never is.
        written = self.written or self.channel in (DisputeChannel.LETTER, DisputeChannel.PORTAL)
        if self.channel == DisputeChannel.CALL:
            written = False
        return _Received(self.channel, received_at, written, self.original_creditor)


@dataclass(frozen=True)
class _Received:
    channel: str
    received_at: dt.datetime
    written: bool
    original_creditor: bool


BREATHING_SPACE_DAYS = 60  # BS-01: standard breathing space
CRISIS_EXTRA_DAYS = 30  # BS-01: mental-health crisis breathing space, after the treatment ends


def _breathing_space_terms(
    kind: str, type_: str, treatment_ends_on: dt.date | None, starts_at: dt.datetime, *, check: bool = True
) -> tuple[dt.datetime | None, dict[str, Any]]:
    """When a breathing space ends and what the restriction records about it (nothing for other holds)."""
    if kind != HoldKind.BREATHING_SPACE:
        return None, {}
    type_ = type_ or BreathingSpaceType.STANDARD
    if type_ not in BreathingSpaceType.values:
        raise InvalidRequest(_("choose the kind of breathing space"), field="breathing_space_type")
    details: dict[str, Any] = {"type": type_, "started_on": str(timezone.localdate(starts_at))}
    if type_ == BreathingSpaceType.STANDARD:
        return starts_at + dt.timedelta(days=BREATHING_SPACE_DAYS), details
    if treatment_ends_on is None:
        return None, details  # until the treatment's end is known (then 30 days more)
    if check and treatment_ends_on < timezone.localdate(starts_at):
        raise InvalidRequest(_("the treatment cannot have ended before today"), field="treatment_ends_on")
    details["treatment_ends_on"] = str(treatment_ends_on)
    end = dt.datetime.combine(treatment_ends_on + dt.timedelta(days=CRISIS_EXTRA_DAYS + 1), dt.time.min)
    return timezone.make_aware(end), details


def breathing_space_treatment_end(*, hold_id: int, actor: User, treatment_ends_on: dt.date, reason: str) -> Hold:
    """BS-01: give (or change) when the treatment of a mental-health crisis breathing space ends, after it was placed;
    the breathing space then ends 30 days after it. Managers and admins (who lift such holds) only; audited on the
    case with the old and new end."""
    if not reason.strip():
        raise InvalidRequest(_("give a reason"), field="reason")
    with transaction.atomic():
        hold = Hold.objects.select_for_update().select_related("restriction").get(pk=hold_id)
        if not restriction_may_lift(kind=hold.kind, actor=actor):
            raise NotPermitted(_("only managers and admins change a breathing space"))
        restriction = hold.restriction
        crisis = (
            (restriction.details or {}).get("type") == BreathingSpaceType.MENTAL_HEALTH_CRISIS if restriction else False
        )
        if hold.kind != HoldKind.BREATHING_SPACE or restriction is None or not crisis:
            raise InvalidRequest(_("only a mental-health crisis breathing space has a treatment end"))
        if hold.lifted_at is not None or restriction.lifted_at is not None:
            raise TransitionConflict(_("the hold was lifted already"))
        started = dt.date.fromisoformat(restriction.details.get("started_on") or str(timezone.localdate()))
        if treatment_ends_on < started:
            raise InvalidRequest(
                _("the treatment cannot end before the breathing space started"), field="treatment_ends_on"
            )
        before = restriction.details.get("treatment_ends_on") or "—"
        ends_at, details = _breathing_space_terms(
            HoldKind.BREATHING_SPACE,
            BreathingSpaceType.MENTAL_HEALTH_CRISIS,
            treatment_ends_on,
            restriction.starts_at,
            check=False,
        )
        restriction_reschedule(restriction_id=restriction.pk, ends_at=ends_at, details=details)
        case = locked_case(hold.case_id)
        change = _("treatment ends on %(new)s (was %(old)s): the breathing space ends on %(end)s") % {
            "new": treatment_ends_on,
            "old": before,
            "end": treatment_ends_on + dt.timedelta(days=CRISIS_EXTRA_DAYS),
        }
        audit(case, from_state=case.state, name="breathing_space_treatment", actor=actor, reason=f"{change}. {reason}")
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
def forbearance_record(
    *,
    case_id: int,
    actor: User,
    kind: str,
    details: str = "",
    starts_on: dt.date | None = None,
    ends_on: dt.date | None = None,
) -> Forbearance:
    """Record forbearance offered or agreed on the case, or a referral to free debt advice (FB-01 reads these before
    legal escalation). Collectors and managers of the case (who recorded it and when are kept on the record)."""
    if kind not in ForbearanceKind.values:
        raise InvalidRequest(_("choose the kind of forbearance"), field="kind")
    if starts_on and ends_on and ends_on < starts_on:
        raise InvalidRequest(_("the end cannot be before the start"), field="ends_on")
    with transaction.atomic():
        case = locked_case(case_id)
        if case.state not in OPEN_STATES:
            raise TransitionConflict(_("the case is not open"))
        return Forbearance.objects.create(
            case=case, kind=kind, details=details.strip(), starts_on=starts_on, ends_on=ends_on, recorded_by=actor
        )


def note_add(*, case_id: int, actor: User, text: str) -> CaseNote:
    if not text.strip():
        raise InvalidRequest(_("the note is empty"), field="text")
    return CaseNote.objects.create(case_id=case_id, author=actor, text=text.strip())
