"""Writes to collection cases: transitions, promises, plans, holds, grace extensions, notes, visits, assignment.

Every function follows one shape (DESIGN.md §4, §8): open a transaction, lock the case row, check, transition,
save, write the ``CaseTransition`` audit row, and do database side effects in the same transaction. Domain errors are
``CaseError`` subclasses that the views and the API map to 403/409/400.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import ROUND_DOWN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django_fsm import can_proceed, has_transition_perm

from collections_app.models import (
    OPEN_STATES,
    CaseNote,
    CaseState,
    CaseTransition,
    CloseReason,
    CollectionCase,
    CollectionPolicy,
    FieldVisit,
    Frequency,
    Hold,
    HoldKind,
    InstallmentPolicy,
    PaymentPlan,
    PlanInstallment,
    PlanStatus,
    PromiseStatus,
    PromiseToPay,
    VisitStatus,
)
from compliance.services import (
    contact_check,
    contact_record,
    restriction_add,
    restriction_lift,
    restriction_may_lift,
)
from core.roles import COLLECTOR
from loans.models import Installment
from loans.services import product_today
from loans.versioning import version_publish
from notifications.models import MessagePurpose
from notifications.planning import messages_cancel

SYSTEM = "system"
ZERO = Decimal("0.00")


class CaseError(Exception):
    """A request about a case that cannot be carried out; the message says why, for the person who asked."""


class TransitionConflict(CaseError):
    """The case is not in a state where this can happen now (HTTP 409)."""


class NotPermitted(CaseError):
    """The user's role does not allow this (HTTP 403)."""


class InvalidRequest(CaseError):
    """The request itself is wrong: an amount, a date, a limit (HTTP 400)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


# Transitions a person may ask for by name (the others have their own services with their own inputs).
USER_TRANSITIONS = {"escalate_formal_notice", "request_legal", "approve_legal", "reject_legal", "close"}
REASON_REQUIRED = {"reject_legal", "close", "escalate_formal_notice", "request_legal"}
# Automated stage messages stop when a case leaves the ladder (promise, plan, hold) or ends.
STAGE_PURPOSES = [MessagePurpose.REMINDER, MessagePurpose.FORMAL_NOTICE, MessagePurpose.LEGAL]


# ---------------------------------------------------------------------------------------------------------------
# Policies
# ---------------------------------------------------------------------------------------------------------------
def policy_current(model: type[CollectionPolicy] | type[InstallmentPolicy], product_id: int | None):  # type: ignore[no-untyped-def]
    """The current version for a product, falling back to the default (product empty)."""
    policies = {p.product_id: p for p in model.objects.filter(is_current=True, product_id__in=[product_id])}
    if product_id in policies:
        return policies[product_id]
    default = model.objects.filter(is_current=True, product__isnull=True).first()
    if default is None:
        raise InvalidRequest(f"no current {model._meta.verbose_name} for this product and no default")
    return default


def policy_revise(*, policy: CollectionPolicy | InstallmentPolicy, actor: AbstractBaseUser | None) -> Any:
    """Save an edited policy as a new version; the old version stays, no longer current (cases keep pointing at it)."""
    return version_publish(instance=policy, scope={"product_id": policy.product_id}, actor=actor)


# ---------------------------------------------------------------------------------------------------------------
# Transitions
# ---------------------------------------------------------------------------------------------------------------
def _actor_label(actor: AbstractBaseUser | None) -> str:
    return actor.get_username() if actor is not None else SYSTEM


def _audit(
    case: CollectionCase,
    *,
    from_state: str,
    name: str,
    actor: AbstractBaseUser | None,
    reason: str,
    at: dt.datetime | None = None,
) -> CaseTransition:
    return CaseTransition.objects.create(
        case=case,
        from_state=from_state,
        to_state=case.state,
        transition=name,
        actor=actor,
        actor_label=_actor_label(actor),
        reason=reason,
        policy_id=case.policy_id,
        at=at or timezone.now(),
    )


def _cancel_planned_messages(case: CollectionCase, purposes: Iterable[str] | None, reason: str) -> int:
    """Planned or deferred messages of the case that must not go out any more (the outbox's owner cancels them)."""
    return messages_cancel(cases=[case.pk], purposes=purposes, reason=reason)


CLOSED_FOR_MESSAGES = (CaseState.RESOLVED, CaseState.CLOSED, CaseState.ON_HOLD)


def message_cancel_reason(case: CollectionCase, purpose: str) -> str:
    """Does a message still fit its case at send time? Not once the case is resolved, closed or on hold, nor a stage
    reminder once the case has left that stage (registered with dispatch in ``CollectionsAppConfig.ready``)."""
    if case.state in CLOSED_FOR_MESSAGES:
        return f"The case is {case.get_state_display()}."
    if purpose in STAGE_PURPOSES and case.state != purpose:
        return "The case is no longer in this stage."
    return ""


def _after_state_change(case: CollectionCase, reason: str) -> None:
    """Database side effects of entering a state, inside the transition's transaction."""
    if case.state in CLOSED_FOR_MESSAGES:
        _cancel_planned_messages(case, None, f"case {case.state}: {reason}"[:500])
    elif case.state in (CaseState.PROMISE_TO_PAY, CaseState.PAYMENT_PLAN):
        _cancel_planned_messages(case, STAGE_PURPOSES, f"automated reminders paused: {case.state}")
    if case.state in (CaseState.RESOLVED, CaseState.CLOSED):
        case.closed_at = timezone.now()


def _locked_case(case_id: int) -> CollectionCase:
    try:
        return CollectionCase.objects.select_for_update().select_related("loan__product").get(pk=case_id)
    except CollectionCase.DoesNotExist as exc:
        raise InvalidRequest(f"case {case_id} does not exist") from exc


def _run_transition(case: CollectionCase, name: str, actor: AbstractBaseUser | None, reason: str) -> CaseTransition:
    """Check permission and guards, change the state, save and audit. The caller holds the row lock."""
    method = getattr(case, name)
    action = name.replace("_", " ")
    # Order matters for the message: the wrong state is a conflict (409) whoever asks; then the role (403).
    if not can_proceed(method, check_conditions=False):
        raise TransitionConflict(f"a case in {case.get_state_display()} cannot {action}")
    if actor is not None and not has_transition_perm(method, actor):
        raise NotPermitted(f"your role may not {action}")
    if not can_proceed(method):
        raise TransitionConflict(f"the case cannot {action} now")
    from_state = case.state
    method()
    case.stage_entered_on = product_today(case.loan.product)
    _after_state_change(case, reason)
    case.save()  # ConcurrentTransitionMixin: refuses if the state changed under us since the row was read
    return _audit(case, from_state=from_state, name=name, actor=actor, reason=reason)


def case_transition(
    *, case_id: int, name: str, actor: AbstractBaseUser | None, reason: str = "", close_reason: str = ""
) -> CollectionCase:
    """Run a named transition for a person (or the system when ``actor`` is None)."""
    if name not in USER_TRANSITIONS:
        raise InvalidRequest(f"unknown transition {name!r}", field="transition")
    reason = reason.strip()
    if name in REASON_REQUIRED and actor is not None and not reason:
        raise InvalidRequest("give a reason", field="reason")
    if name == "close" and close_reason not in CloseReason.values:
        raise InvalidRequest("choose settled, written off or sold", field="close_reason")
    with transaction.atomic():
        case = _locked_case(case_id)
        if name == "close":
            case.close_reason = close_reason
        _run_transition(case, name, actor, reason)
        if name == "request_legal" and not case.policy.legal_requires_approval:
            _run_transition(case, "approve_legal", None, "policy: legal escalation needs no approval")
    return case


def available_transitions(case: CollectionCase, user: AbstractBaseUser) -> list[str]:
    """Named transitions this user may run on this case now (the buttons a page shows)."""
    return sorted(t.name for t in case.get_available_user_state_transitions(user) if t.name in USER_TRANSITIONS)


# ---------------------------------------------------------------------------------------------------------------
# Promises to pay
# ---------------------------------------------------------------------------------------------------------------
def _day_bounds(day: dt.date, zone: str) -> tuple[dt.datetime, dt.datetime]:
    tz = ZoneInfo(zone)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)


def promise_record(
    *, case_id: int, actor: AbstractBaseUser, amount: Decimal, promised_on: dt.date, note: str = ""
) -> PromiseToPay:
    """Record the borrower's promise; the case waits in promise_to_pay until the sweep checks it the day after."""
    with transaction.atomic():
        case = _locked_case(case_id)
        product = case.loan.product
        today = product_today(product)
        if amount <= 0:
            raise InvalidRequest("the amount must be greater than zero", field="amount")
        if amount > case.loan.outstanding_balance:
            raise InvalidRequest("the amount is more than the loan's outstanding balance", field="amount")
        if promised_on < today:
            raise InvalidRequest("the date is in the past", field="promised_on")
        if promised_on > today + dt.timedelta(days=case.policy.promise_max_days):
            raise InvalidRequest(
                f"policy allows promises up to {case.policy.promise_max_days} days ahead", field="promised_on"
            )
        if PromiseToPay.objects.filter(case=case, status=PromiseStatus.OPEN).exists():
            raise TransitionConflict("the case already has an open promise")
        _run_transition(case, "take_promise", actor, f"promise {amount} {case.loan.currency} by {promised_on}")
        _, window_end = _day_bounds(promised_on, product.timezone)
        return PromiseToPay.objects.create(
            case=case,
            amount=amount,
            promised_on=promised_on,
            counts_from=timezone.now(),
            window_end=window_end,
            created_by=actor,
            note=note,
        )


# ---------------------------------------------------------------------------------------------------------------
# Installment plans
# ---------------------------------------------------------------------------------------------------------------
PERIODS = {
    Frequency.WEEKLY: relativedelta(weeks=1),
    Frequency.BIWEEKLY: relativedelta(weeks=2),
    Frequency.MONTHLY: relativedelta(months=1),
}


def plan_schedule(
    *, total: Decimal, down_payment: Decimal, count: int, frequency: str, starts_on: dt.date
) -> list[tuple[dt.date, Decimal]]:
    """(due date, amount): the down payment on ``starts_on`` (if any), then ``count`` equal payments; the last takes
    the rounding remainder."""
    rest = total - down_payment
    each = (rest / count).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    lines = [(starts_on, down_payment)] if down_payment > 0 else []
    first = starts_on + PERIODS[frequency] if down_payment > 0 else starts_on
    for n in range(count):
        amount = each if n < count - 1 else rest - each * (count - 1)
        lines.append((first + PERIODS[frequency] * n, amount))
    return lines


def plan_policy_breaches(
    *,
    policy: InstallmentPolicy,
    overdue: Decimal,
    fees_overdue: Decimal,
    down_payment: Decimal,
    count: int,
    frequency: str,
    waived: Decimal,
    schedule: list[tuple[dt.date, Decimal]],
    starts_on: dt.date,
) -> list[str]:
    """Why a proposed plan is outside the installment policy (empty: within it)."""
    breaches = []
    total = overdue - waived
    if count > policy.max_installments:
        breaches.append(f"{count} installments (policy: at most {policy.max_installments})")
    term = (schedule[-1][0] - starts_on).days
    if term > policy.max_term_days:
        breaches.append(f"term of {term} days (policy: at most {policy.max_term_days})")
    if total > 0 and down_payment * 100 < policy.min_down_payment_percent * total:
        breaches.append(f"down payment below {policy.min_down_payment_percent}%")
    if waived > 0 and (fees_overdue == 0 or waived * 100 > policy.max_waiver_percent * fees_overdue):
        breaches.append(f"waiver above {policy.max_waiver_percent}% of overdue fees")
    if total > policy.approval_above:
        breaches.append(f"amount above {policy.approval_above} needs a manager")
    if frequency not in policy.allowed_frequencies:
        breaches.append(f"{frequency} payments are not allowed")
    return breaches


def plan_propose(
    *,
    case_id: int,
    actor: AbstractBaseUser,
    down_payment: Decimal,
    count: int,
    frequency: str,
    starts_on: dt.date,
    waive: Decimal = ZERO,
) -> PaymentPlan:
    """A collector proposes a plan for the overdue amount. Within policy it starts at once; outside it waits for a
    manager (a manager's own proposal outside policy starts at once: approving it is their call)."""
    if frequency not in Frequency.values:
        raise InvalidRequest("choose weekly, biweekly or monthly", field="frequency")
    if not 1 <= count <= 60:
        raise InvalidRequest("between 1 and 60 installments", field="count")
    with transaction.atomic():
        case = _locked_case(case_id)
        if not can_proceed(case.start_plan):
            raise TransitionConflict(f"a case in {case.get_state_display()} cannot start a plan")
        if PaymentPlan.objects.filter(case=case, status__in=[PlanStatus.PENDING_APPROVAL, PlanStatus.ACTIVE]).exists():
            raise TransitionConflict("the case already has a plan waiting or active")
        loan = case.loan
        today = product_today(loan.product)
        if starts_on < today:
            raise InvalidRequest("the first payment date is in the past", field="starts_on")
        overdue = loan.amount_overdue
        fees = Installment.objects.overdue_on(today).filter(loan=loan).aggregate(s=Sum("fee_due"))["s"] or ZERO
        if overdue <= 0:
            raise TransitionConflict("nothing is overdue on this loan")
        if not ZERO <= waive <= fees:
            raise InvalidRequest("the waiver must be between 0 and the overdue fees", field="waive")
        total = overdue - waive
        if not ZERO <= down_payment < total:
            raise InvalidRequest("the down payment must be less than the plan total", field="down_payment")
        policy = policy_current(InstallmentPolicy, loan.product_id)
        schedule = plan_schedule(
            total=total, down_payment=down_payment, count=count, frequency=frequency, starts_on=starts_on
        )
        breaches = plan_policy_breaches(
            policy=policy,
            overdue=overdue,
            fees_overdue=fees,
            down_payment=down_payment,
            count=count,
            frequency=frequency,
            waived=waive,
            schedule=schedule,
            starts_on=starts_on,
        )
        approved_now = not breaches or actor.has_perm("collections_app.approve_plan")
        plan = PaymentPlan.objects.create(
            case=case,
            policy=policy,
            status=PlanStatus.ACTIVE if approved_now else PlanStatus.PENDING_APPROVAL,
            total_amount=total,
            down_payment=down_payment,
            waived_amount=waive,
            frequency=frequency,
            starts_on=starts_on,
            counts_from=timezone.now(),
            outside_policy=breaches,
            proposed_by=actor,
            decided_by=actor if approved_now and breaches else None,
        )
        PlanInstallment.objects.bulk_create(
            PlanInstallment(
                plan=plan,
                number=n,
                due_date=day,
                amount=amount,
                breaks_after=day + dt.timedelta(days=policy.plan_grace_days),
            )
            for n, (day, amount) in enumerate(schedule, start=1)
        )
        if approved_now:
            _run_transition(case, "start_plan", actor, f"plan {plan.pk}: {total} in {len(schedule)} payments")
    return plan


def plan_decide(*, plan_id: int, actor: AbstractBaseUser, approve: bool, reason: str = "") -> PaymentPlan:
    """A manager approves (the plan starts) or rejects a plan waiting for approval."""
    if not actor.has_perm("collections_app.approve_plan"):
        raise NotPermitted("only a manager may approve or reject plans")
    if not approve and not reason.strip():
        raise InvalidRequest("give a reason for rejecting", field="reason")
    with transaction.atomic():
        plan = PaymentPlan.objects.select_for_update().get(pk=plan_id)
        if plan.status != PlanStatus.PENDING_APPROVAL:
            raise TransitionConflict(f"the plan is {plan.get_status_display()}, not waiting for approval")
        case = _locked_case(plan.case_id)
        plan.decided_by, plan.decision_reason = actor, reason
        if approve:
            plan.status = PlanStatus.ACTIVE
            plan.counts_from = timezone.now()
            _run_transition(case, "start_plan", actor, f"plan {plan.pk} approved. {reason}".strip())
        else:
            plan.status = PlanStatus.REJECTED
            plan.ended_on = product_today(case.loan.product)
        plan.save(update_fields=["status", "decided_by", "decision_reason", "counts_from", "ended_on"])
    return plan


# ---------------------------------------------------------------------------------------------------------------
# Hardship grace extension
# ---------------------------------------------------------------------------------------------------------------
def grace_extend(*, case_id: int, actor: AbstractBaseUser, days: int, reason: str) -> CollectionCase:
    """One-off hardship grace: for ``days`` the case neither escalates nor gets automated reminders. Audited."""
    if not reason.strip():
        raise InvalidRequest("give a reason", field="reason")
    with transaction.atomic():
        case = _locked_case(case_id)
        if case.state not in OPEN_STATES:
            raise TransitionConflict("the case is not open")
        if not 1 <= days <= case.policy.max_grace_extension_days:
            raise InvalidRequest(f"policy allows 1 to {case.policy.max_grace_extension_days} days", field="days")
        if CaseTransition.objects.filter(case=case, transition="extend_grace").exists():
            raise TransitionConflict("this case has had its one grace extension already")
        case.grace_until = product_today(case.loan.product) + dt.timedelta(days=days)
        case.save(update_fields=["grace_until"])
        _cancel_planned_messages(case, STAGE_PURPOSES, f"hardship grace until {case.grace_until}")
        _audit(
            case,
            from_state=case.state,
            name="extend_grace",
            actor=actor,
            reason=f"{days} days (until {case.grace_until}): {reason.strip()}",
        )
    return case


# ---------------------------------------------------------------------------------------------------------------
# Holds
# ---------------------------------------------------------------------------------------------------------------
def hold_place(*, case_id: int, actor: AbstractBaseUser, kind: str, reason: str, document_ref: str = "") -> Hold:
    """Put the case on hold and record the matching compliance restriction (the gate stops contact)."""
    if kind not in HoldKind.values:
        raise InvalidRequest("unknown hold kind", field="kind")
    if not reason.strip():
        raise InvalidRequest("give a reason", field="reason")
    with transaction.atomic():
        case = _locked_case(case_id)
        if case.state not in OPEN_STATES:
            raise TransitionConflict("the case is not open")
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
            _run_transition(case, "place_hold", actor, f"{hold.get_kind_display()}: {reason}")
            if previous == CaseState.PROMISE_TO_PAY:
                PromiseToPay.objects.filter(case=case, status=PromiseStatus.OPEN).update(status=PromiseStatus.CANCELLED)
            elif previous == CaseState.PAYMENT_PLAN:
                PaymentPlan.objects.filter(case=case, status=PlanStatus.ACTIVE).update(
                    status=PlanStatus.CANCELLED, ended_on=product_today(case.loan.product)
                )
    return hold


def hold_lift(*, hold_id: int, actor: AbstractBaseUser, reason: str) -> Hold:
    """Lift one hold; the case returns to its stage when no other hold remains."""
    if not reason.strip():
        raise InvalidRequest("give a reason", field="reason")
    with transaction.atomic():
        hold = Hold.objects.select_for_update().get(pk=hold_id)
        if hold.lifted_at is not None:
            raise TransitionConflict("the hold was lifted already")
        if not restriction_may_lift(kind=hold.kind, actor=actor):
            raise NotPermitted(f"only managers and admins lift a {hold.get_kind_display()} hold")
        case = _locked_case(hold.case_id)
        if hold.restriction_id:  # the gate's restriction, lifted by its owner (the same rule, checked there too)
            restriction = restriction_lift(restriction_id=hold.restriction_id, actor=actor, reason=reason)
            now = restriction.lifted_at
        else:
            now = timezone.now()
        hold.lifted_at, hold.lifted_by, hold.lift_reason = now, actor, reason
        hold.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        others = Hold.objects.filter(case=case, lifted_at__isnull=True).exclude(pk=hold.pk).exists()
        if case.state == CaseState.ON_HOLD and not others:
            _run_transition(case, "lift_hold", actor, f"{hold.get_kind_display()} lifted: {reason}")
    return hold


# ---------------------------------------------------------------------------------------------------------------
# Notes, visits, assignment
# ---------------------------------------------------------------------------------------------------------------
def note_add(*, case_id: int, actor: AbstractBaseUser, text: str) -> CaseNote:
    if not text.strip():
        raise InvalidRequest("the note is empty", field="text")
    return CaseNote.objects.create(case_id=case_id, author=actor, text=text.strip())


def visit_schedule(
    *,
    case_id: int,
    actor: AbstractBaseUser,
    address: str,
    collectors: list[Any],
    window_start: dt.datetime,
    window_end: dt.datetime,
) -> FieldVisit:
    """Schedule a field visit. The compliance gate checks it like any contact (hours at the window's start, holds,
    two collectors in China); a refused visit is not scheduled, and the reasons say why."""
    if window_end <= window_start:
        raise InvalidRequest("the visit window must end after it starts", field="window_end")
    if window_start < timezone.now():
        raise InvalidRequest("the visit window is in the past", field="window_start")
    if not collectors:
        raise InvalidRequest("name at least one collector", field="collectors")
    with transaction.atomic():
        case = _locked_case(case_id)
        if case.state not in OPEN_STATES or case.state == CaseState.ON_HOLD:
            raise TransitionConflict(f"no visits to a case in {case.get_state_display()}")
        _check_visitors(case, collectors)
        decision, result = contact_check(
            borrower_id=case.borrower_id,
            loan_id=case.loan_id,
            channel="visit",
            at=window_start,
            collectors=len(collectors),
            actor=actor,
        )
        if not result.allowed:
            reasons = "; ".join(f"{r.rule}: {r.message}" for r in result.reasons)
            raise InvalidRequest(f"the compliance gate refuses this visit: {reasons}", field="window_start")
        visit = FieldVisit.objects.create(
            case=case,
            address=address.strip() or case_address(case),
            window_start=window_start,
            window_end=window_end,
            scheduled_by=actor,
            decision=decision,
        )
        visit.collectors.set(collectors)
    return visit


def team_collectors(team_id: int | None) -> Any:
    """The active collectors of a team: the only people who may go on its cases' field visits."""
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(is_active=True, team_membership__team_id=team_id, groups__name=COLLECTOR)
        .order_by("username")
    )


def _check_visitors(case: CollectionCase, collectors: list[Any]) -> None:
    """Only collectors of the case's team count for a visit — also for the two collectors China requires (CN-08):
    another team's collector or a manager riding along is not a second collector (issue 11)."""
    if case.team_id is None:
        raise InvalidRequest("the case has no team yet: assign it before scheduling a visit", field="collectors")
    eligible = set(team_collectors(case.team_id).filter(pk__in=[c.pk for c in collectors]).values_list("pk", flat=True))
    outsiders = [c.get_username() for c in collectors if c.pk not in eligible]
    if outsiders:
        raise InvalidRequest(
            f"only collectors of team {case.team} go on its visits, not {', '.join(outsiders)}", field="collectors"
        )


def visit_record(
    *, visit_id: int, actor: AbstractBaseUser, status: str, outcome: str, visited_at: dt.datetime | None = None
) -> FieldVisit:
    """Record what happened at a field visit; a visit or a knock on the door is a contact in the ledger, an
    exception when it happened outside the window the gate allowed."""
    if status not in (VisitStatus.VISITED, VisitStatus.NOT_HOME, VisitStatus.CANCELLED):
        raise InvalidRequest("choose visited, not at home or cancelled", field="status")
    if status != VisitStatus.CANCELLED and not outcome.strip():
        raise InvalidRequest("describe the outcome", field="outcome")
    with transaction.atomic():
        visit = FieldVisit.objects.select_for_update().select_related("case").get(pk=visit_id)
        if visit.status != VisitStatus.SCHEDULED:
            raise TransitionConflict(f"the visit is already {visit.get_status_display()}")
        visit.status, visit.outcome = status, outcome.strip()
        if status != VisitStatus.CANCELLED:
            visit.visited_at = visited_at or timezone.now()
            # Covered by the gate's decision for the visit's window; outside it, an exception for the managers.
            contact_record(
                borrower_id=visit.case.borrower_id,
                channel="visit",
                direction="outbound",
                outcome="visited" if status == VisitStatus.VISITED else "not_home",
                at=visit.visited_at,
                debts=[visit.case.loan_id],
                actor=actor,
                note=visit.outcome,
                decision_id=visit.decision_id,
                covered_until=visit.window_end,
            )
            CollectionCase.objects.filter(pk=visit.case_id).update(last_contact_at=visit.visited_at)
        visit.save(update_fields=["status", "outcome", "visited_at"])
    return visit


def case_address(case: CollectionCase) -> str:
    b = case.borrower
    return ", ".join(
        part for part in (b.address_line1, b.address_line2, b.city, b.region, b.postal_code, b.country) if part
    )


def cases_reassign(*, case_ids: list[int], to_user: Any, actor: AbstractBaseUser) -> int:
    """A manager moves cases to another collector (in bulk); each move is audited."""
    if not actor.has_perm("collections_app.reassign_case"):
        raise NotPermitted("only managers may reassign cases")
    with transaction.atomic():
        cases = list(CollectionCase.objects.select_for_update().filter(pk__in=case_ids, state__in=OPEN_STATES))
        now = timezone.now()
        team = getattr(getattr(to_user, "team_membership", None), "team", None)
        CaseTransition.objects.bulk_create(
            CaseTransition(
                case=c,
                from_state=c.state,
                to_state=c.state,
                transition="reassign",
                actor=actor,
                actor_label=_actor_label(actor),
                policy_id=c.policy_id,
                at=now,
                reason=f"{c.assigned_to.get_username() if c.assigned_to else 'unassigned'} → {to_user.get_username()}",
            )
            for c in cases
        )
        CollectionCase.objects.filter(pk__in=[c.pk for c in cases]).update(assigned_to=to_user, team=team)
    return len(cases)


# ---------------------------------------------------------------------------------------------------------------
# A collector's call: the gate first, at the moment of dialling, then the outcome
# ---------------------------------------------------------------------------------------------------------------
def call_start(*, case_id: int, actor: AbstractBaseUser, to: str) -> tuple[Any, Any]:
    """Ask the gate for a manual call now and, if allowed, hold the slot (a reservation in the ledger) until the
    collector logs the outcome. Returns the decision and the result (reasons, next allowed time)."""
    from compliance.services import contact_check

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
    actor: AbstractBaseUser,
    decision_id: int,
    outcome: str,
    debts_discussed: bool,
    note: str = "",
    callback_at: dt.datetime | None = None,
) -> Any:
    """The outcome of a call the gate allowed: the reservation becomes the real outcome; a conversation about the
    debt starts Reg F's quiet period for it (USF-09)."""
    from compliance.models import Decision
    from compliance.services import contact_record

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
