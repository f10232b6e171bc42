"""What a borrower agrees to: promises to pay, installment plans (within policy or for a manager to approve) and the
one hardship grace extension."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from collections_app.labels import BORROWER
from collections_app.models import (
    OPEN_STATES,
    CaseTransition,
    CollectionCase,
    Frequency,
    InstallmentPolicy,
    PaymentPlan,
    PlanInstallment,
    PlanStatus,
    PromiseStatus,
    PromiseToPay,
)
from collections_app.services.cases import (
    STAGE_PURPOSES,
    ZERO,
    InvalidRequest,
    NotPermitted,
    TransitionConflict,
    audit,
    cancel_planned_messages,
    locked_case,
    policy_current,
    run_transition,
)
from loans.models import Installment
from loans.services import product_today
from notifications.models import MessagePurpose, OutboundMessage
from notifications.services import letter_plan


# ---------------------------------------------------------------------------------------------------------------
# Promises to pay
# ---------------------------------------------------------------------------------------------------------------
def day_bounds(day: dt.date, zone: str) -> tuple[dt.datetime, dt.datetime]:
    tz = ZoneInfo(zone)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)


def promise_record(
    *,
    case_id: int,
    actor: User | None,
    amount: Decimal,
    promised_on: dt.date,
    note: str = "",
    covers: str = "",
    by_borrower: bool = False,
    via: str = "",
) -> PromiseToPay:
    """Record the borrower's promise; the case waits in promise_to_pay until the sweep checks it the day after.
    ``covers``: the loans of one promise about several (``promise_record_several``), for the audit row.
    ``by_borrower``: the borrower made it on their own (no user: ``actor`` None, audited as ``BORROWER``); ``via``:
    how they did (their page's link and address), for the audit row."""
    if (actor is None) != by_borrower:
        raise ValueError("a promise is made by a user, or by the borrower on their own (by_borrower, no actor)")
    with transaction.atomic():
        case = locked_case(case_id)
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
        run_transition(
            case,
            "take_promise",
            actor,
            f"promise {amount} {case.loan.currency} by {promised_on}{covers}{via}",
            label=BORROWER if by_borrower else "",
        )
        _, window_end = day_bounds(promised_on, product.timezone)
        return PromiseToPay.objects.create(
            case=case,
            amount=amount,
            promised_on=promised_on,
            counts_from=timezone.now(),
            window_end=window_end,
            created_by=actor,
            note=note,
        )


def promise_record_several(
    *,
    borrower_id: int,
    actor: User | None,
    amounts: dict[int, Decimal],
    promised_on: dt.date,
    note: str = "",
    by_borrower: bool = False,
) -> list[PromiseToPay]:
    """One promise of a borrower covering several of their loans: ``amounts`` is case id → the amount promised on
    that loan. Recorded as one promise per loan, all or none (one transaction): each case moves to promise_to_pay
    and the sweep judges each loan's promise as kept, partial or broken from that loan's own payments the day
    after; each case's audit row names every loan the promise covers."""
    if not amounts:
        raise InvalidRequest(_("Choose at least one loan."), field="cases")
    with transaction.atomic():
        cases = list(
            CollectionCase.objects.filter(pk__in=list(amounts), borrower_id=borrower_id, state__in=OPEN_STATES)
            .select_related("loan")
            .order_by("pk")
        )
        if len(cases) != len(amounts):
            raise InvalidRequest(_("A loan chosen is not an open case of this borrower."), field="cases")
        covers = "; one promise covering " + ", ".join(
            f"{c.loan.external_id} ({amounts[c.pk]} {c.loan.currency})" for c in cases
        )
        return [
            promise_record(
                case_id=c.pk,
                actor=actor,
                amount=amounts[c.pk],
                promised_on=promised_on,
                note=note,
                covers=covers,
                by_borrower=by_borrower,
            )
            for c in cases
        ]


# ---------------------------------------------------------------------------------------------------------------
# Installment plans
# ---------------------------------------------------------------------------------------------------------------
PERIODS: dict[str, relativedelta] = {
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


def loan_fees_overdue(*, loan_id: int, today: dt.date) -> Decimal:
    """The fees of the loan's installments overdue on ``today``: what a plan's waiver is measured against."""
    return Installment.objects.overdue_on(today).filter(loan_id=loan_id).aggregate(s=Sum("fee_due"))["s"] or ZERO


@dataclass
class _PlanTerms:
    """A proposed plan for one case, checked: its total, policy, schedule and what is outside the policy."""

    case: CollectionCase
    total: Decimal
    down_payment: Decimal
    waive: Decimal
    policy: InstallmentPolicy
    schedule: list[tuple[dt.date, Decimal]]
    breaches: list[str]


def _plan_terms(
    case: CollectionCase,
    *,
    down_payment: Decimal,
    count: int,
    frequency: str,
    starts_on: dt.date,
    waive: Decimal,
) -> _PlanTerms:
    """Check a plan for the (locked) case's overdue amount against its state and its installment policy."""
    if not can_proceed(case.start_plan):
        raise TransitionConflict(f"a case in {case.get_state_display()} cannot start a plan")
    if PaymentPlan.objects.filter(case=case, status__in=[PlanStatus.PENDING_APPROVAL, PlanStatus.ACTIVE]).exists():
        raise TransitionConflict("the case already has a plan waiting or active")
    loan = case.loan
    today = product_today(loan.product)
    if starts_on < today:
        raise InvalidRequest("the first payment date is in the past", field="starts_on")
    overdue = loan.amount_overdue
    fees = loan_fees_overdue(loan_id=loan.pk, today=today)
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
    return _PlanTerms(case, total, down_payment, waive, policy, schedule, breaches)


def _plan_create(
    terms: _PlanTerms,
    *,
    actor: User | None,
    frequency: str,
    starts_on: dt.date,
    approved_now: bool,
    covers: str = "",
    label: str = "",
    via: str = "",
) -> PaymentPlan:
    case = terms.case
    plan = PaymentPlan.objects.create(
        case=case,
        policy=terms.policy,
        status=PlanStatus.ACTIVE if approved_now else PlanStatus.PENDING_APPROVAL,
        total_amount=terms.total,
        down_payment=terms.down_payment,
        waived_amount=terms.waive,
        frequency=frequency,
        starts_on=starts_on,
        counts_from=timezone.now(),
        outside_policy=terms.breaches,
        proposed_by=actor,
        decided_by=actor if approved_now and terms.breaches else None,
    )
    PlanInstallment.objects.bulk_create(
        PlanInstallment(
            plan=plan,
            number=n,
            due_date=day,
            amount=amount,
            breaks_after=day + dt.timedelta(days=terms.policy.plan_grace_days),
        )
        for n, (day, amount) in enumerate(terms.schedule, start=1)
    )
    if approved_now:
        reason = f"plan {plan.pk}: {terms.total} in {len(terms.schedule)} payments{covers}{via}"
        run_transition(case, "start_plan", actor, reason, label=label)
        plan_confirmation_send(plan, actor)
    elif label:  # no user to name on the plan: the audit row says who asked for it, and how
        reason = f"plan {plan.pk}: {terms.total} in {len(terms.schedule)} payments, waits for a manager{via}"
        audit(case, from_state=case.state, name="propose_plan", actor=actor, reason=reason, label=label)
    return plan


def _plan_limits(frequency: str, count: int) -> None:
    if frequency not in Frequency.values:
        raise InvalidRequest("choose weekly, biweekly or monthly", field="frequency")
    if not 1 <= count <= 60:
        raise InvalidRequest("between 1 and 60 installments", field="count")


def plan_propose(
    *,
    case_id: int,
    actor: User | None,
    down_payment: Decimal,
    count: int,
    frequency: str,
    starts_on: dt.date,
    waive: Decimal = ZERO,
    by_borrower: bool = False,
    via: str = "",
) -> PaymentPlan:
    """A collector proposes a plan for the overdue amount. Within policy it starts at once; outside it waits for a
    manager (a manager's own proposal outside policy starts at once: approving it is their call). ``by_borrower``:
    the borrower chose it on their own (no user: ``actor`` None, audited as ``BORROWER`` with ``via``)."""
    if (actor is None) != by_borrower:
        raise ValueError("a plan is proposed by a user, or by the borrower on their own (by_borrower, no actor)")
    _plan_limits(frequency, count)
    with transaction.atomic():
        terms = _plan_terms(
            locked_case(case_id),
            down_payment=down_payment,
            count=count,
            frequency=frequency,
            starts_on=starts_on,
            waive=waive,
        )
        approved_now = not terms.breaches or (actor is not None and actor.has_perm("collections_app.approve_plan"))
        return _plan_create(
            terms,
            actor=actor,
            frequency=frequency,
            starts_on=starts_on,
            approved_now=approved_now,
            label=BORROWER if by_borrower else "",
            via=via,
        )


def plan_propose_several(
    *,
    case_id: int,
    actor: User,
    down_payment: Decimal,
    count: int,
    frequency: str,
    starts_on: dt.date,
    waive: Decimal = ZERO,
    also: dict[int, Decimal],
) -> list[PaymentPlan]:
    """One installment plan covering several loans of a borrower: the plan of ``case_id`` (its down payment and
    waiver) and, with the same number of payments, frequency and start, one for each case in ``also`` (case id →
    the down payment on that loan). Recorded as one plan per loan, all or none: each loan's plan is paid, broken
    or completed from that loan's own payments by the sweep. The policy judges them together: if any loan's plan
    is outside the policy, or the loans together exceed the amount a collector may agree alone, every plan waits
    for a manager (or starts at once when a manager proposes it); each case's audit row names every loan."""
    _plan_limits(frequency, count)
    with transaction.atomic():
        main = locked_case(case_id)
        cases = [main]
        for other_id in sorted(also):
            other = locked_case(other_id)
            if other.borrower_id != main.borrower_id or other.pk == main.pk:
                raise InvalidRequest(_("A loan chosen is not an open case of this borrower."), field="also")
            cases.append(other)

        def check(case: CollectionCase, down: Decimal, waived: Decimal) -> _PlanTerms:
            return _plan_terms(
                case, down_payment=down, count=count, frequency=frequency, starts_on=starts_on, waive=waived
            )

        terms = [check(main, down_payment, waive)] + [check(c, also[c.pk], ZERO) for c in cases[1:]]
        together = sum((t.total for t in terms), ZERO)
        for t in terms:
            if together > t.policy.approval_above and t.total <= t.policy.approval_above:
                t.breaches.append(f"the loans together ({together}) are above {t.policy.approval_above}: a manager")
        outside = [t for t in terms if t.breaches]
        for t in terms:
            if outside and not t.breaches:
                t.breaches.append("another loan of the same plan is outside the policy")
        approved_now = not outside or actor.has_perm("collections_app.approve_plan")
        covers = "; one plan covering " + ", ".join(f"{t.case.loan.external_id} ({t.total})" for t in terms)
        return [
            _plan_create(
                t, actor=actor, frequency=frequency, starts_on=starts_on, approved_now=approved_now, covers=covers
            )
            for t in terms
        ]


def plan_decide(*, plan_id: int, actor: User, approve: bool, reason: str = "") -> PaymentPlan:
    """A manager approves (the plan starts) or rejects a plan waiting for approval, with a reason either way; both
    are audited in the case's history with that reason."""
    if not actor.has_perm("collections_app.approve_plan"):
        raise NotPermitted("only a manager may approve or reject plans")
    reason = reason.strip()
    if not reason:
        raise InvalidRequest("give a reason for approving or rejecting", field="reason")
    with transaction.atomic():
        plan = PaymentPlan.objects.select_for_update().get(pk=plan_id)
        if plan.status != PlanStatus.PENDING_APPROVAL:
            raise TransitionConflict(f"the plan is {plan.get_status_display()}, not waiting for approval")
        case = locked_case(plan.case_id)
        plan.decided_by, plan.decision_reason = actor, reason
        if approve:
            plan.status = PlanStatus.ACTIVE
            plan.counts_from = timezone.now()
            run_transition(case, "start_plan", actor, f"plan {plan.pk} approved: {reason}")
        else:
            plan.status = PlanStatus.REJECTED
            plan.ended_on = product_today(case.loan.product)
            audit(case, from_state=case.state, name="reject_plan", actor=actor, reason=f"plan {plan.pk}: {reason}")
        plan.save(update_fields=["status", "decided_by", "decision_reason", "counts_from", "ended_on"])
        if approve:
            plan_confirmation_send(plan, actor)
    return plan


def plan_confirmation_send(plan: PaymentPlan, actor: User | None) -> OutboundMessage:
    """A plan that starts is confirmed in writing: a letter planned at once carrying the ``plan_confirmation``
    document (each payment and its date), made now from the plan as agreed. Once per plan; it goes through the gate
    like any letter."""
    return letter_plan(key=f"plan:{plan.pk}:confirmation:letter", case=plan.case,
                       purpose=MessagePurpose.PLAN_CONFIRMATION, actor=actor)  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# Hardship grace extension
# ---------------------------------------------------------------------------------------------------------------
def grace_extend(*, case_id: int, actor: User, days: int, reason: str) -> CollectionCase:
    """One-off hardship grace: for ``days`` the case neither escalates nor gets automated reminders. Audited."""
    if not reason.strip():
        raise InvalidRequest("give a reason", field="reason")
    with transaction.atomic():
        case = locked_case(case_id)
        if case.state not in OPEN_STATES:
            raise TransitionConflict("the case is not open")
        if not 1 <= days <= case.policy.max_grace_extension_days:
            raise InvalidRequest(f"policy allows 1 to {case.policy.max_grace_extension_days} days", field="days")
        if CaseTransition.objects.filter(case=case, transition="extend_grace").exists():
            raise TransitionConflict("this case has had its one grace extension already")
        case.grace_until = product_today(case.loan.product) + dt.timedelta(days=days)
        case.save(update_fields=["grace_until"])
        cancel_planned_messages(case, STAGE_PURPOSES, f"hardship grace until {case.grace_until}")
        audit(
            case,
            from_state=case.state,
            name="extend_grace",
            actor=actor,
            reason=f"{days} days (until {case.grace_until}): {reason.strip()}",
        )
    return case
