"""The daily sweep: set-based SQL over every loan and case, in chunks several workers can run side by side.

For a date D, per chunk (``loan_id % chunks = chunk``) and per product (whose current policy supplies the
thresholds), in one transaction:

1. refresh days past due and balances of the loans (``loans_refresh_balances``) and copy them onto open cases;
2. resolve cases whose loan is cured (open promises count as kept, active plans as completed);
3. check promises whose date has passed: kept (back to the stage), partial or broken (back to the stage);
4. plans: apply payments since the plan started to its installments, oldest first; break plans with a payment
   unpaid past its grace, complete paid ones (fee waivers applied), resolve or return the case;
5. open a case for every active loan past the grace period without an open case;
6. escalate by DPD: reminder → formal notice → legal review (→ legal when the policy needs no approval), except
   cases in a hardship grace extension;
7. recompute each open case's priority score and its parts;
8. plan the day's messages into the outbox (stage cadence, pre-due, promise and plan reminders) and cancel planned
   ones that no longer fit the case's state.

After the last chunk: assign unassigned cases round-robin by workload within the team of the borrower's language.

Every statement is an UPDATE or INSERT … SELECT over the whole chunk — no Python loop over rows. Each bulk state
change is a ``BulkMove`` (the registry ``MOVES``) naming the django-fsm transition of ``CollectionCase`` it performs:
the states it moves from and the state it writes are read from that declaration, and its audit rows carry the
transition's name. It marks the rows it moved (``sweep_mark``) and one INSERT … SELECT writes their
``CaseTransition`` rows in the same transaction. Every step's condition describes the state it fixes, so running
the sweep twice for the same date changes nothing the second time; outbox rows are protected by unique idempotency
keys.

The SQL runs on PostgreSQL (production, tests, benchmark) and SQLite ≥ 3.35 (the embedded default).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import F, FilteredRelation, Q, QuerySet
from django.utils import timezone
from django_fsm import ANY_OTHER_STATE, ANY_STATE, RETURN_VALUE, Transition

from collections_app.models import (
    FINAL_STATES,
    OPEN_STATES,
    CaseState,
    CaseTransition,
    CollectionCase,
    CollectionPolicy,
    PaymentPlan,
    PlanInstallment,
    PortfolioSnapshot,
    PromiseToPay,
    SweepRun,
    Team,
    TeamMembership,
)
from collections_app.services import STAGE_PURPOSES, policy_current
from loans.models import Borrower, Installment, Loan, LoanProduct, Payment, PhoneNumber
from loans.selectors import portfolio_by_bucket
from loans.services import loan_waive_fees, loans_refresh_balances, product_today
from loans.sql import days_between_sql
from notifications.planning import messages_cancel, messages_plan_bulk

logger = logging.getLogger(__name__)

T = {
    "case": CollectionCase._meta.db_table,
    "transition": CaseTransition._meta.db_table,
    "promise": PromiseToPay._meta.db_table,
    "plan": PaymentPlan._meta.db_table,
    "plan_inst": PlanInstallment._meta.db_table,
    "loan": Loan._meta.db_table,
    "inst": Installment._meta.db_table,
    "payment": Payment._meta.db_table,
    "phone": PhoneNumber._meta.db_table,
    "borrower": Borrower._meta.db_table,
    "team": Team._meta.db_table,
    "member": TeamMembership._meta.db_table,
}
OPEN = "(" + ", ".join(f"'{s}'" for s in OPEN_STATES) + ")"


@dataclass
class Chunk:
    """What one chunk of one run works on, and what it did."""

    run_id: int
    as_of: dt.date
    now: dt.datetime
    chunk: int
    chunks: int
    counts: Counter[str] = field(default_factory=Counter)
    product_id: int = 0
    loan_id_max: int = 0

    @property
    def lo(self) -> int:
        return chunk_bounds(self.chunk, self.chunks, self.loan_id_max)[0]

    @property
    def hi(self) -> int:
        return chunk_bounds(self.chunk, self.chunks, self.loan_id_max)[1]

    def params(self, **extra: Any) -> dict[str, Any]:
        return {"as_of": self.as_of, "now": self.now, "lo": self.lo, "hi": self.hi, **extra}

    def mark(self, step: str) -> str:
        """Unique per run, chunk, product and step: an audit INSERT must see only the rows its UPDATE moved."""
        return f"{self.run_id}:{self.chunk}:{self.product_id}:{step}"


LAST_ID = 2**62


def chunk_bounds(chunk: int, chunks: int, loan_id_max: int) -> tuple[int, int]:
    """Chunk ``chunk`` of ``chunks`` covers a contiguous range of loan ids, so that its statements read only its
    part of each table through the loan-id indexes (a modulo split would make every chunk scan everything). The last
    chunk is open-ended: loans created after the run started are swept too."""
    size = max(loan_id_max // chunks + 1, 1)
    low = chunk * size + 1 if chunk else 0
    return low, LAST_ID if chunk == chunks - 1 else (chunk + 1) * size


def _execute(sql: str, params: dict[str, Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql.format(**T, OPEN=OPEN), params)
        return max(cursor.rowcount, 0)


def _text(expression: str) -> str:
    return f"CAST({expression} AS TEXT)"


# ---------------------------------------------------------------------------------------------------------------
# The bulk moves: each one performs a transition declared on CollectionCase
# ---------------------------------------------------------------------------------------------------------------
# A new case is not a transition: it starts in the state field's default, and its audit row has this name.
OPENING = "open"
OPENING_STATE = CaseState(CollectionCase._meta.get_field("state").default).value


@cache
def declared_transitions() -> dict[str, tuple[Transition, ...]]:
    """The case machine as django-fsm declares it on ``CollectionCase``: name → one entry per source state."""
    declared: dict[str, list[Transition]] = {}
    for declaration in CollectionCase._meta.get_field("state").get_all_transitions(CollectionCase):
        declared.setdefault(declaration.name, []).append(declaration)
    return {name: tuple(entries) for name, entries in declared.items()}


def _sources(declaration: Transition) -> list[str]:
    if declaration.source == ANY_STATE:
        return list(CaseState.values)
    if declaration.source == ANY_OTHER_STATE:
        return [s for s in CaseState.values if s != declaration.target]
    return [str(declaration.source)]


def _states_sql(states: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{CaseState(s).value}'" for s in states) + ")"


@dataclass(frozen=True)
class BulkMove:
    """One set-based move of the sweep, performing the django-fsm transition named ``transition``.

    The states it moves cases from and the state it writes are read from that transition's declaration on
    ``CollectionCase``, never written here, and its audit rows carry the transition's name. A declared target that
    is a state is written as it is; a ``RETURN_VALUE`` target (the transitions back to the stage a promise or plan
    left) is the case's ``return_state`` — what the model's method returns — and a case moves only if that is one
    of the declared allowed states. ``where`` (when the sweep runs the transition: its guards and the day's facts)
    and ``reason`` (the audit row's reason) are SQL over the case row.
    """

    transition: str
    where: str
    reason: str

    def declared(self) -> tuple[Transition, ...]:
        found = declared_transitions().get(self.transition)
        if not found:
            raise ImproperlyConfigured(f"the sweep runs {self.transition!r}, which CollectionCase does not declare")
        return found

    @property
    def sources(self) -> list[str]:
        return [state for declaration in self.declared() for state in _sources(declaration)]

    @property
    def target(self) -> str | RETURN_VALUE:
        targets = {id(d.target): d.target for d in self.declared()}
        if len(targets) != 1:
            raise ImproperlyConfigured(f"{self.transition} has one target per source: not one bulk UPDATE")
        (target,) = targets.values()
        if isinstance(target, RETURN_VALUE) and target.allowed_states:
            return target
        if isinstance(target, str) and target in CaseState.values:
            return target
        raise ImproperlyConfigured(f"the target of {self.transition} is not a state nor a bounded RETURN_VALUE")

    @property
    def targets(self) -> list[str]:
        """Every state the move may write."""
        target = self.target
        return [str(s) for s in target.allowed_states] if isinstance(target, RETURN_VALUE) else [target]


def _move(
    ctx: Chunk,
    move: BulkMove,
    *,
    product: LoanProduct,
    policy: CollectionPolicy,
    params: dict[str, Any] | None = None,
    step: str = "",
) -> int:
    """UPDATE the cases of this chunk and product that ``move`` applies to and audit each one (one INSERT … SELECT).

    ``step`` names the call when a step runs the same move twice (each call marks, and audits, only its rows)."""
    mark = ctx.mark(step or move.transition)
    target = move.target
    if isinstance(target, RETURN_VALUE):
        to, guard = "return_state", f"AND return_state IN {_states_sql(map(str, target.allowed_states))}"
    else:
        to, guard = f"'{target}'", ""
    final = [s for s in move.targets if s in FINAL_STATES]
    if not final:
        closed = ""
    elif isinstance(target, RETURN_VALUE):
        closed = f", closed_at = CASE WHEN return_state IN {_states_sql(final)} THEN %(now)s ELSE closed_at END"
    else:
        closed = ", closed_at = %(now)s"
    moved = _execute(
        f"""
        UPDATE {{case}} SET return_state = state, state = {to}, stage_entered_on = %(as_of)s,
               sweep_mark = %(mark)s, policy_id = %(policy)s {closed}
        WHERE state IN {_states_sql(move.sources)} {guard} AND loan_id BETWEEN %(lo)s AND %(hi)s
          AND loan_id IN (SELECT id FROM {{loan}} WHERE product_id = %(product)s)
          AND {move.where}
        """,
        ctx.params(mark=mark, policy=policy.pk, product=product.pk, **(params or {})),
    )
    if moved:
        _execute(
            f"""
            INSERT INTO {{transition}} (case_id, from_state, to_state, transition, actor_id, actor_label, reason,
                                        policy_id, at)
            SELECT id, return_state, state, %(name)s, NULL, 'system', {move.reason}, policy_id, %(now)s
            FROM {{case}} WHERE sweep_mark = %(mark)s
            """,
            ctx.params(mark=mark, name=move.transition, **(params or {})),
        )
        ctx.counts[move.transition] += moved
    return moved


_NOT_IN_GRACE = "(grace_until IS NULL OR grace_until < %(as_of)s)"
_PROMISE_SUMMARY = (
    "(SELECT 'promised ' || "
    + _text("pr.amount")
    + " || ' by ' || "
    + _text("pr.promised_on")
    + " || ', paid ' || "
    + _text("pr.paid_amount")
    + " || ' (' || pr.status || ')' FROM {promise} pr "
    "WHERE pr.case_id = {case}.id AND pr.checked_on = %(as_of)s ORDER BY pr.id DESC LIMIT 1)"
)


def _promise_checked(statuses: str) -> str:
    return (
        "EXISTS (SELECT 1 FROM {promise} pr WHERE pr.case_id = {case}.id "
        f"AND pr.checked_on = %(as_of)s AND pr.status IN {statuses})"
    )


def _plan_ended(status: str) -> str:
    return (
        "EXISTS (SELECT 1 FROM {plan} pl WHERE pl.case_id = {case}.id AND pl.ended_on = %(as_of)s "
        f"AND pl.status = '{status}')"
    )


def _threshold_reason(label: str) -> str:
    return (
        "'days past due ' || "
        + _text("days_past_due")
        + f" || ' reached the {label} threshold of ' || %(threshold_text)s"
    )


# Every state change the sweep makes, by the transition it performs (the test in
# tests/collections_app/test_state_machine.py holds the sweep's audit rows to the declared machine).
MOVES: dict[str, BulkMove] = {
    move.transition: move
    for move in (
        # The loan is cured: the guard of ``resolve`` (``_is_cured``) in SQL.
        BulkMove(
            "resolve",
            where="days_past_due = 0 AND amount_overdue = 0",
            reason="'loan cured: nothing overdue on ' || " + _text("%(as_of)s"),
        ),
        BulkMove("promise_kept", where=_promise_checked("('kept')"), reason=_PROMISE_SUMMARY),
        BulkMove("promise_broken", where=_promise_checked("('partial', 'broken')"), reason=_PROMISE_SUMMARY),
        BulkMove("plan_broken", where=_plan_ended("broken"), reason="'a plan payment was missed past its grace'"),
        BulkMove("plan_completed", where=_plan_ended("completed"), reason="'plan completed but the loan is not cured'"),
        BulkMove(
            "escalate_formal_notice",
            where=f"days_past_due >= %(threshold)s AND {_NOT_IN_GRACE}",
            reason=_threshold_reason("formal notice"),
        ),
        BulkMove(
            "request_legal",
            where=f"days_past_due >= %(threshold)s AND {_NOT_IN_GRACE}",
            reason=_threshold_reason("legal"),
        ),
        # Only the cases this run has just sent to legal review, when the policy needs no approval.
        BulkMove(
            "approve_legal",
            where="sweep_mark = %(previous)s",
            reason="'policy: legal escalation needs no approval'",
        ),
    )
}


def _cancel_messages_of_marked(ctx: Chunk, mark: str, reason: str) -> None:
    ctx.counts["messages_cancelled"] += messages_cancel(
        cases=CollectionCase.objects.filter(sweep_mark=mark).values("id"), reason=reason, now=ctx.now
    )


# ---------------------------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------------------------
def refresh_candidates(ctx: Chunk, product: LoanProduct) -> QuerySet[Loan]:
    """The loans of this chunk whose balances can have changed since the last finished sweep: those overdue, those
    with an unpaid installment that fell due since then, and those never computed. Payments refresh their own loan
    when they arrive, so a current loan with nothing newly due is already right; skipping it spares aggregating most
    of the installment table every day."""
    loans = Loan.objects.filter(id__range=(ctx.lo, ctx.hi), product=product)
    since = (
        SweepRun.objects.filter(finished_at__isnull=False, as_of__lt=ctx.as_of)
        .order_by("-as_of")
        .values_list("as_of", flat=True)
        .first()
    )
    if since is None:
        return loans
    newly_due = Installment.objects.filter(paid_on__isnull=True, due_date__gte=since, due_date__lt=ctx.as_of)
    return loans.filter(
        Q(overdue_since__isnull=False)
        | Q(balances_as_of__isnull=True)
        | Q(balances_as_of__gt=ctx.as_of)
        | Q(pk__in=newly_due.values("loan_id"))
    )


def step_refresh(ctx: Chunk, product: LoanProduct) -> None:
    ctx.counts["loans_refreshed"] += loans_refresh_balances(as_of=ctx.as_of, loans=refresh_candidates(ctx, product))
    ctx.counts["cases_refreshed"] += _execute(
        """
        UPDATE {case} SET days_past_due = (SELECT l.days_past_due FROM {loan} l WHERE l.id = {case}.loan_id),
                          amount_overdue = (SELECT l.amount_overdue FROM {loan} l WHERE l.id = {case}.loan_id)
        WHERE state IN {OPEN} AND loan_id BETWEEN %(lo)s AND %(hi)s
          AND EXISTS (SELECT 1 FROM {loan} l WHERE l.id = {case}.loan_id AND l.product_id = %(product)s
                      AND (l.days_past_due <> {case}.days_past_due OR l.amount_overdue <> {case}.amount_overdue))
        """,
        ctx.params(product=product.pk),
    )


def step_resolve(ctx: Chunk, product: LoanProduct, policy: CollectionPolicy, step: str = "resolve") -> None:
    if _move(ctx, MOVES["resolve"], product=product, policy=policy, step=step):
        mark = ctx.mark(step)
        _execute(
            "UPDATE {promise} SET status = 'kept', checked_on = %(as_of)s WHERE status = 'open' "
            "AND case_id IN (SELECT id FROM {case} WHERE sweep_mark = %(mark)s)",
            ctx.params(mark=mark),
        )
        _execute(
            "UPDATE {plan} SET status = 'completed', ended_on = %(as_of)s WHERE status = 'active' "
            "AND case_id IN (SELECT id FROM {case} WHERE sweep_mark = %(mark)s)",
            ctx.params(mark=mark),
        )
        _cancel_messages_of_marked(ctx, mark, "case resolved")


def step_promises(ctx: Chunk, product: LoanProduct, policy: CollectionPolicy) -> None:
    """The day after a promise's date: kept, partial or broken, from payments received within its window."""
    in_chunk = (
        "case_id IN (SELECT c.id FROM {case} c JOIN {loan} l ON l.id = c.loan_id "
        "WHERE l.product_id = %(product)s AND c.loan_id BETWEEN %(lo)s AND %(hi)s)"
    )
    paid = (
        "COALESCE((SELECT SUM(p.amount) FROM {payment} p JOIN {case} c ON c.loan_id = p.loan_id "
        "WHERE c.id = {promise}.case_id AND p.received_at >= {promise}.counts_from "
        "AND p.received_at < {promise}.window_end), 0)"
    )
    checked = _execute(
        f"""
        UPDATE {{promise}} SET paid_amount = {paid}, checked_on = %(as_of)s,
               status = CASE WHEN {paid} >= amount THEN 'kept' WHEN {paid} > 0 THEN 'partial' ELSE 'broken' END
        WHERE status = 'open' AND promised_on < %(as_of)s AND {in_chunk}
        """,
        ctx.params(product=product.pk),
    )
    if not checked:
        return
    ctx.counts["promises_checked"] += checked
    for name in ("promise_kept", "promise_broken"):
        _move(ctx, MOVES[name], product=product, policy=policy)


def step_plans(ctx: Chunk, product: LoanProduct, policy: CollectionPolicy) -> list[int]:
    """Apply payments to active plans, break or complete them; returns the plans completed with a fee waiver."""
    in_chunk = (
        "case_id IN (SELECT c.id FROM {case} c JOIN {loan} l ON l.id = c.loan_id "
        "WHERE l.product_id = %(product)s AND c.loan_id BETWEEN %(lo)s AND %(hi)s)"
    )
    params = ctx.params(product=product.pk)
    _execute(
        f"""
        UPDATE {{plan}} SET paid_amount = COALESCE((
            SELECT SUM(p.amount) FROM {{payment}} p JOIN {{case}} c ON c.loan_id = p.loan_id
            WHERE c.id = {{plan}}.case_id AND p.received_at >= {{plan}}.counts_from), 0)
        WHERE status = 'active' AND {in_chunk}
        """,
        params,
    )
    # Oldest plan payment first: each gets what the total paid leaves after the earlier ones.
    before = "(SELECT COALESCE(SUM(e.amount), 0) FROM {plan_inst} e WHERE e.plan_id = {plan_inst}.plan_id AND e.number < {plan_inst}.number)"  # noqa: E501
    total = "(SELECT pl.paid_amount FROM {plan} pl WHERE pl.id = {plan_inst}.plan_id)"
    _execute(
        f"""
        UPDATE {{plan_inst}} SET paid_amount = CASE
            WHEN {total} - {before} >= amount THEN amount
            WHEN {total} - {before} > 0 THEN {total} - {before}
            ELSE 0 END
        WHERE plan_id IN (SELECT id FROM {{plan}} WHERE status = 'active' AND {in_chunk})
        """,
        params,
    )
    ctx.counts["plans_broken"] += _execute(
        f"""
        UPDATE {{plan}} SET status = 'broken', ended_on = %(as_of)s
        WHERE status = 'active' AND {in_chunk} AND EXISTS (
            SELECT 1 FROM {{plan_inst}} pi WHERE pi.plan_id = {{plan}}.id AND pi.paid_amount < pi.amount
            AND pi.breaks_after < %(as_of)s)
        """,
        params,
    )
    ctx.counts["plans_completed"] += _execute(
        f"UPDATE {{plan}} SET status = 'completed', ended_on = %(as_of)s "
        f"WHERE status = 'active' AND paid_amount >= total_amount AND {in_chunk}",
        params,
    )
    _move(ctx, MOVES["plan_broken"], product=product, policy=policy)
    return list(
        PaymentPlan.objects.filter(
            status="completed",
            ended_on=ctx.as_of,
            waived_amount__gt=0,
            case__loan__product=product,
            case__state=CaseState.PAYMENT_PLAN,
        )
        .filter(case__loan__id__range=(ctx.lo, ctx.hi))
        .values_list("pk", flat=True)
    )


def step_plans_completed(ctx: Chunk, product: LoanProduct, policy: CollectionPolicy) -> None:
    """After waivers and a refresh: completed plans resolve (cured) or return the case to its stage."""
    step_resolve(ctx, product, policy, step="resolve_after_plans")  # its own mark: audits only the cases it moves
    _move(ctx, MOVES["plan_completed"], product=product, policy=policy)


def step_open(ctx: Chunk, product: LoanProduct, policy: CollectionPolicy) -> None:
    mark = ctx.mark(OPENING)
    opened = _execute(
        """
        INSERT INTO {case} (loan_id, borrower_id, state, return_state, policy_id, team_id, assigned_to_id, opened_on,
                            opened_at, stage_entered_on, closed_at, close_reason, days_past_due, amount_overdue,
                            grace_until, last_contact_at, priority, priority_dpd, priority_amount, priority_promises,
                            priority_contact, priority_reach, priority_history, sweep_mark)
        SELECT l.id, l.borrower_id, %(state)s, '', %(policy)s, NULL, NULL, %(as_of)s, %(now)s, %(as_of)s, NULL, '',
               l.days_past_due, l.amount_overdue, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, %(mark)s
        FROM {loan} l
        WHERE l.product_id = %(product)s AND l.status = 'active' AND l.days_past_due > %(grace)s
          AND l.id BETWEEN %(lo)s AND %(hi)s
        -- One open case per loan is a partial unique index: a loan that has one is skipped by the index itself
        -- (no anti-join, whose plan goes badly wrong while the case table's statistics are stale).
        ON CONFLICT (loan_id) WHERE state IN {OPEN} DO NOTHING
        """,
        ctx.params(policy=policy.pk, product=product.pk, grace=policy.grace_days, mark=mark, state=OPENING_STATE),
    )
    if opened:
        _execute(
            """
            INSERT INTO {transition} (case_id, from_state, to_state, transition, actor_id, actor_label, reason,
                                      policy_id, at)
            SELECT id, '', state, %(name)s, NULL, 'system',
                   'days past due ' || CAST(days_past_due AS TEXT) || ' > grace period of ' || %(grace)s || ' days',
                   policy_id, %(now)s
            FROM {case} WHERE sweep_mark = %(mark)s
            """,
            ctx.params(mark=mark, grace=str(policy.grace_days), name=OPENING),
        )
        ctx.counts[OPENING] += opened


def step_escalate(ctx: Chunk, product: LoanProduct, policy: CollectionPolicy) -> None:
    moved = 0
    for name, threshold in (("escalate_formal_notice", policy.formal_notice_dpd), ("request_legal", policy.legal_dpd)):
        moved = _move(
            ctx,
            MOVES[name],
            product=product,
            policy=policy,
            params={"threshold": threshold, "threshold_text": str(threshold)},
        )
    if moved and not policy.legal_requires_approval:  # ``moved``: by request_legal
        _move(
            ctx, MOVES["approve_legal"], product=product, policy=policy, params={"previous": ctx.mark("request_legal")}
        )


def step_priority(ctx: Chunk, product: LoanProduct) -> None:
    """Score 0..100 from its parts (weights in the comments), every part kept for the case page to explain."""
    gap = days_between_sql("%(as_of)s", "last_contact_at")
    _execute(
        f"""
        UPDATE {{case}} SET
          -- 40: how late (saturates at 180 days)
          priority_dpd = (CASE WHEN days_past_due >= 180 THEN 180 ELSE days_past_due END) * 40 / 180,
          -- 20: how much of the loan is overdue
          priority_amount = CAST(20 * (SELECT CASE WHEN l.principal <= 0 THEN 0
                                                   WHEN {{case}}.amount_overdue >= l.principal THEN 1
                                                   ELSE {{case}}.amount_overdue / l.principal END
                                       FROM {{loan}} l WHERE l.id = {{case}}.loan_id) AS INTEGER),
          -- 15: broken or partly kept promises (5 each, at most 3)
          priority_promises = 5 * (SELECT CASE WHEN COUNT(*) > 3 THEN 3 ELSE COUNT(*) END FROM {{promise}} pr
                                   WHERE pr.case_id = {{case}}.id AND pr.status IN ('broken', 'partial')),
          -- 10: days since the last contact (never contacted counts as long ago)
          priority_contact = CASE WHEN last_contact_at IS NULL THEN 10
                                  WHEN {gap} >= 14 THEN 10 ELSE {gap} * 10 / 14 END,
          -- 10: reachable: a phone at all (5), one with SMS or autodial consent (5)
          priority_reach = (SELECT CASE WHEN COUNT(*) > 0 THEN 5 ELSE 0 END
                                 + CASE WHEN SUM(CASE WHEN ph.sms_consent OR ph.autodial_consent THEN 1 ELSE 0 END) > 0
                                        THEN 5 ELSE 0 END
                            FROM {{phone}} ph WHERE ph.borrower_id = {{case}}.borrower_id),
          -- 5: payment history: share of past installments paid on time
          priority_history = (SELECT CASE WHEN COUNT(*) = 0 THEN 0
                                     ELSE 5 * SUM(CASE WHEN i.paid_on IS NOT NULL AND i.paid_on <= i.due_date
                                                       THEN 1 ELSE 0 END) / COUNT(*) END
                              FROM {{inst}} i WHERE i.loan_id = {{case}}.loan_id AND i.due_date < %(as_of)s)
        WHERE state IN {{OPEN}} AND loan_id BETWEEN %(lo)s AND %(hi)s
          AND loan_id IN (SELECT id FROM {{loan}} WHERE product_id = %(product)s)
        """,
        ctx.params(product=product.pk),
    )
    ctx.counts["prioritised"] += _execute(
        """
        UPDATE {case} SET priority = priority_dpd + priority_amount + priority_promises + priority_contact
                                     + priority_reach + priority_history
        WHERE state IN {OPEN} AND loan_id BETWEEN %(lo)s AND %(hi)s
          AND loan_id IN (SELECT id FROM {loan} WHERE product_id = %(product)s)
        """,
        ctx.params(product=product.pk),
    )


def step_plan_messages(ctx: Chunk, product: LoanProduct, policy: CollectionPolicy) -> None:
    """Plan today's messages: stage cadence, pre-due reminders, promise and plan reminders (idempotency keys). This
    step chooses who gets what; the outbox's owner writes the rows (notifications.planning)."""
    start_of_day = dt.datetime.combine(ctx.as_of, dt.time.min, tzinfo=dt.UTC)
    base = ctx.params(product=product.pk, planned_for=start_of_day)

    def plan(select: str, params: dict[str, Any], since: dt.datetime | None = None) -> None:
        ctx.counts["messages_planned"] += messages_plan_bulk(
            select_sql=select.format(**T, OPEN=OPEN), params=params, now=ctx.now, unless_planned_since=since
        )

    for stage, channels in (policy.cadence or {}).items():
        for channel, every in channels.items():
            once = every == 0
            slot = "once" if once else ctx.as_of.isoformat()
            plan(
                f"""
                SELECT 'case:' || {_text("c.id")} || ':' || c.state || ':' || %(channel)s || ':' || %(slot)s
                         AS idempotency_key,
                       c.borrower_id AS borrower_id, c.loan_id AS loan_id, c.id AS case_id, %(channel)s AS channel,
                       c.state AS purpose, %(planned_for)s AS planned_for
                FROM {{case}} c JOIN {{loan}} l ON l.id = c.loan_id
                WHERE c.state = %(stage)s AND l.product_id = %(product)s AND c.loan_id BETWEEN %(lo)s AND %(hi)s
                  AND (c.grace_until IS NULL OR c.grace_until < %(as_of)s)
                """,
                {**base, "channel": channel, "slot": slot, "stage": stage},
                # Every ``every`` days (0: once per stage): not while one planned since then is still around.
                since=dt.datetime(1970, 1, 1, tzinfo=dt.UTC) if once else start_of_day - dt.timedelta(days=every),
            )
    for offset in policy.pre_due_offsets or []:
        plan(
            f"""
            SELECT 'loan:' || {_text("l.id")} || ':pre_due:' || {_text("i.id")} || ':' || %(offset_text)s
                     AS idempotency_key,
                   l.borrower_id AS borrower_id, l.id AS loan_id, CAST(NULL AS BIGINT) AS case_id, 'sms' AS channel,
                   'pre_due' AS purpose, %(planned_for)s AS planned_for
            FROM {{inst}} i JOIN {{loan}} l ON l.id = i.loan_id
            WHERE i.paid_on IS NULL AND i.due_date = %(due)s AND l.status = 'active' AND l.days_past_due = 0
              AND l.product_id = %(product)s AND l.id BETWEEN %(lo)s AND %(hi)s
            """,
            {**base, "offset_text": str(offset), "due": ctx.as_of + dt.timedelta(days=offset)},
        )
    tomorrow = ctx.as_of + dt.timedelta(days=1)
    plan(
        f"""
        SELECT 'promise:' || {_text("pr.id")} || ':reminder' AS idempotency_key, c.borrower_id AS borrower_id,
               c.loan_id AS loan_id, c.id AS case_id, 'sms' AS channel, 'promise_reminder' AS purpose,
               %(planned_for)s AS planned_for
        FROM {{promise}} pr JOIN {{case}} c ON c.id = pr.case_id JOIN {{loan}} l ON l.id = c.loan_id
        WHERE pr.status = 'open' AND pr.promised_on = %(tomorrow)s AND l.product_id = %(product)s
          AND c.loan_id BETWEEN %(lo)s AND %(hi)s
        """,
        {**base, "tomorrow": tomorrow},
    )
    plan(
        f"""
        SELECT 'plan_installment:' || {_text("pi.id")} || ':reminder' AS idempotency_key,
               c.borrower_id AS borrower_id, c.loan_id AS loan_id, c.id AS case_id, 'sms' AS channel,
               'plan_reminder' AS purpose, %(planned_for)s AS planned_for
        FROM {{plan_inst}} pi JOIN {{plan}} pl ON pl.id = pi.plan_id JOIN {{case}} c ON c.id = pl.case_id
             JOIN {{loan}} l ON l.id = c.loan_id
        WHERE pl.status = 'active' AND pi.due_date = %(tomorrow)s AND pi.paid_amount < pi.amount
          AND l.product_id = %(product)s AND c.loan_id BETWEEN %(lo)s AND %(hi)s
        """,
        {**base, "tomorrow": tomorrow},
    )
    # Stage messages planned for a stage the case has left (escalated, paused, resolved) must not go out.
    in_chunk = CollectionCase.objects.filter(loan__product_id=product.pk, loan__id__range=(ctx.lo, ctx.hi))
    for stage in STAGE_PURPOSES:
        ctx.counts["messages_cancelled"] += messages_cancel(
            cases=in_chunk.exclude(state=stage).values("id"),
            purposes=[stage],
            reason="the case is no longer in this stage",
            now=ctx.now,
        )


def assign_unassigned(now: dt.datetime) -> int:
    """Round-robin by workload within the team whose language is the borrower's (collectors only)."""
    return _execute(
        """
        WITH agents AS (
            SELECT m.user_id, m.team_id, t.language,
                   ROW_NUMBER() OVER (PARTITION BY t.language ORDER BY
                       (SELECT COUNT(*) FROM {case} w WHERE w.assigned_to_id = m.user_id AND w.state IN {OPEN}),
                       m.user_id) - 1 AS rn,
                   COUNT(*) OVER (PARTITION BY t.language) AS n
            FROM {member} m JOIN {team} t ON t.id = m.team_id JOIN auth_user u ON u.id = m.user_id
            WHERE u.is_active AND m.accepts_new_cases
              AND EXISTS (SELECT 1 FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id
                          WHERE ug.user_id = u.id AND g.name = 'collector')
        ), todo AS (
            SELECT c.id, b.language,
                   ROW_NUMBER() OVER (PARTITION BY b.language ORDER BY c.priority DESC, c.id) - 1 AS rn
            FROM {case} c JOIN {borrower} b ON b.id = c.borrower_id
            WHERE c.assigned_to_id IS NULL AND c.state IN {OPEN}
        ), pairs AS (
            SELECT todo.id AS case_id, agents.user_id, agents.team_id
            FROM todo JOIN agents ON agents.language = todo.language AND agents.rn = todo.rn %% agents.n
        )
        UPDATE {case} SET assigned_to_id = pairs.user_id, team_id = pairs.team_id
        FROM pairs WHERE {case}.id = pairs.case_id
        """,
        {"now": now},
    )


# ---------------------------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------------------------
class _Timer:
    """Runs a step and logs how long it took (operators tune chunks and indexes from these lines)."""

    def __init__(self, ctx: Chunk) -> None:
        self.ctx = ctx

    def __call__(self, name: str, step: Any, *args: Any) -> Any:
        started = time.perf_counter()
        result = step(*args)
        logger.info(
            "sweep run %s chunk %s product %s: %s took %.2f s",
            self.ctx.run_id,
            self.ctx.chunk,
            self.ctx.product_id,
            name,
            time.perf_counter() - started,
        )
        return result


def sweep_chunk(*, run_id: int, as_of: dt.date | None, chunk: int, chunks: int) -> Counter[str]:
    """Run every step for one chunk, product by product, in one transaction.

    Without ``as_of`` each product is swept for its own local today (due dates are dates in its business zone).
    """
    counts: Counter[str] = Counter()
    loan_id_max, product_dates = SweepRun.objects.values_list("loan_id_max", "product_dates").get(pk=run_id)
    with transaction.atomic():
        for product in LoanProduct.objects.order_by("pk"):
            local = product_dates.get(str(product.pk))
            ctx = Chunk(
                run_id=run_id,
                # The product's date when the run started, so that a chunk resumed after midnight sweeps the same day.
                as_of=as_of or (dt.date.fromisoformat(local) if local else product_today(product)),
                now=timezone.now(),
                chunk=chunk,
                chunks=chunks,
                counts=counts,
                product_id=product.pk,
                loan_id_max=loan_id_max,
            )
            policy = policy_current(CollectionPolicy, product.pk)
            timed = _Timer(ctx)
            timed("refresh", step_refresh, ctx, product)
            timed("resolve", step_resolve, ctx, product, policy)
            timed("promises", step_promises, ctx, product, policy)
            waived = timed("plans", step_plans, ctx, product, policy)
            if waived:  # rare: a handful of plans a day, each a small per-loan adjustment
                for plan in PaymentPlan.objects.filter(pk__in=waived).select_related("case"):
                    loan_waive_fees(loan_id=plan.case.loan_id, amount=plan.waived_amount)
                timed("refresh", step_refresh, ctx, product)
            timed("plans_completed", step_plans_completed, ctx, product, policy)
            timed("open", step_open, ctx, product, policy)
            timed("escalate", step_escalate, ctx, product, policy)
            timed("priority", step_priority, ctx, product)
            timed("messages", step_plan_messages, ctx, product, policy)
    return counts


def sweep_start(*, as_of: dt.date, chunks: int = 1, local_dates: bool = False) -> SweepRun:
    """Open a run for ``as_of``. ``local_dates``: each product is swept for its own local date (the beat task); the
    dates are fixed now, so that chunks run later — resumed after a fault — sweep the same ones."""
    if chunks < 1:
        raise ValueError("at least one chunk")
    loan_id_max = Loan.objects.order_by("-id").values_list("id", flat=True).first() or 0
    dates = {str(p.pk): product_today(p).isoformat() for p in LoanProduct.objects.all()} if local_dates else {}
    return SweepRun.objects.create(
        as_of=as_of, chunks=chunks, loan_id_max=loan_id_max, product_dates=dates, progress_at=timezone.now()
    )


def sweep_chunk_run(*, run_id: int, as_of: dt.date | None, chunk: int, chunks: int, wait: bool = False) -> bool:
    """Run one chunk of a run and record it done, in one transaction — unless it is done already or running
    elsewhere. A chunk queued twice (the watchdog, a broker redelivery, ``run_sweep`` beside the workers) runs once;
    one whose worker died rolled back with it and runs again. ``wait``: wait for a copy running elsewhere rather
    than leave the chunk to it. True if this call ran the chunk."""
    with transaction.atomic():
        if not _chunk_lock(run_id, chunk, wait=wait):
            logger.info("sweep run %s chunk %s is running elsewhere", run_id, chunk)
            return False
        done, finished_at = SweepRun.objects.values_list("finished_chunks", "finished_at").get(pk=run_id)
        if chunk in done or finished_at is not None:
            return False
        counts = sweep_chunk(run_id=run_id, as_of=as_of, chunk=chunk, chunks=chunks)
        sweep_chunk_done(run_id=run_id, chunk=chunk, counts=counts)
    return True


# A PostgreSQL advisory lock per run and chunk, held by the chunk's transaction: released by its commit or rollback,
# or by the server when the worker's connection dies with it, so "not held" means "not running anywhere".
_CHUNK_LOCK = 0x5357 << 48  # "SW"


def _chunk_lock_key(run_id: int, chunk: int) -> int:
    return _CHUNK_LOCK | (run_id & 0xFFFF_FFFF) << 16 | chunk & 0xFFFF


def _chunk_lock(run_id: int, chunk: int, *, wait: bool) -> bool:
    """Take the chunk's lock in the current transaction (``wait``: until it is free); False if another holds it.
    SQLite runs one writing transaction at a time, which serialises chunks by itself."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        cursor.execute(f"SELECT {function}(%s)", [_chunk_lock_key(run_id, chunk)])
        return True if wait else bool(cursor.fetchone()[0])


def sweep_chunk_done(*, run_id: int, chunk: int, counts: Counter[str]) -> bool:
    """Record a finished chunk; the last one to finish assigns cases and closes the run. True for the last.

    Idempotent per chunk: a chunk task redelivered after its worker died past this point (acks_late) is not counted
    twice, so the run never closes before every chunk is done.
    """
    with transaction.atomic():
        run = SweepRun.objects.select_for_update().get(pk=run_id)
        if chunk in run.finished_chunks or run.finished_at is not None:
            return False
        run.finished_chunks = sorted([*run.finished_chunks, chunk])
        total = Counter(run.counts)
        total.update(counts)
        run.counts = dict(total)
        run.chunks_done = len(run.finished_chunks)
        run.progress_at = timezone.now()
        last = run.chunks_done >= run.chunks
        if last:
            run.counts["assigned"] = assign_unassigned(timezone.now())
            run.counts["snapshot_rows"] = portfolio_snapshot_take(as_of=run.as_of)
            run.finished_at = timezone.now()
        run.save(update_fields=["counts", "chunks_done", "finished_chunks", "finished_at", "progress_at"])
    if last:
        log = logger.warning if run.alerted_at else logger.info
        log("sweep run %s for %s finished: %s", run.pk, run.as_of, run.counts)
    return last


def sweep_watchdog(*, now: dt.datetime | None = None) -> tuple[SweepRun, list[int]] | None:
    """The sweep's watchdog (beat, every ``WATCHDOG_INTERVAL_SECONDS``): the latest run, if unfinished and with no
    chunk finished (or queued again) for ``SWEEP_STALL_SECONDS``, and the chunks to queue again — the unfinished
    ones no worker is running (a killed worker's chunk rolled back; its queued and prefetched ones were lost, or
    would come back only after Redis's visibility timeout of an hour). Chunks are idempotent and a copy of a chunk
    that is done or running does nothing, so queuing one too many is harmless. An older unfinished run is left
    alone: a later one has superseded it.

    Also logs, once, a run still unfinished ``SWEEP_DEADLINE_MINUTES`` after it started (managers see it in a
    banner: ``collections_app.selectors.sweep_overdue``)."""
    now = now or timezone.now()
    latest = SweepRun.objects.order_by("-id").first()
    if latest is None or latest.finished_at is not None:
        return None
    _alert_if_overdue(latest, now)
    if (latest.progress_at or latest.started_at) > now - dt.timedelta(seconds=settings.SWEEP_STALL_SECONDS):
        return None
    with transaction.atomic():
        # Skip a run whose row is locked: a chunk is being recorded as done, which is progress.
        run = SweepRun.objects.select_for_update(skip_locked=True).filter(pk=latest.pk, finished_at=None).first()
        if run is None:
            return None
        idle = [c for c in range(run.chunks) if c not in run.finished_chunks and _chunk_idle(run.pk, c)]
        if not idle:
            return None  # every unfinished chunk is running: the run moves, slowly
        run.progress_at, run.requeues = now, run.requeues + 1
        run.save(update_fields=["progress_at", "requeues"])
    logger.warning(
        "sweep run %s for %s stalled at %s/%s chunks: chunks %s queued again",
        run.pk, run.as_of, run.chunks_done, run.chunks, idle,
    )  # fmt: skip
    return run, idle


def _chunk_idle(run_id: int, chunk: int) -> bool:
    """No worker runs the chunk (PostgreSQL: its lock is free; taking it here holds it only until this transaction
    ends). SQLite cannot tell: assume idle — a copy queued too many waits its turn and finds the chunk done."""
    return _chunk_lock(run_id, chunk, wait=False)


def _alert_if_overdue(run: SweepRun, now: dt.datetime) -> None:
    deadline = run.started_at + dt.timedelta(minutes=settings.SWEEP_DEADLINE_MINUTES)
    if now < deadline or run.alerted_at is not None:
        return
    if SweepRun.objects.filter(pk=run.pk, alerted_at=None).update(alerted_at=now):
        logger.error(
            "sweep run %s for %s is unfinished %s minutes after it started (%s/%s chunks): cases, priorities and "
            "messages may be out of date; the watchdog queues stalled chunks again, `manage.py run_sweep --as-of %s` "
            "finishes it by hand",
            run.pk, run.as_of, settings.SWEEP_DEADLINE_MINUTES, run.chunks_done, run.chunks, run.as_of,
        )  # fmt: skip


def portfolio_snapshot_take(*, as_of: dt.date) -> int:
    """Record the portfolio by team, currency and DPD bucket for the date (one aggregate query; a rerun replaces
    it). A loan's team is the one working its open case; loans without one are recorded without a team."""

    loans = Loan.objects.annotate(
        open_case=FilteredRelation("cases", condition=Q(cases__state__in=OPEN_STATES))
    ).annotate(team=F("open_case__team_id"))
    rows = [
        PortfolioSnapshot(
            as_of=as_of,
            team_id=r["team"],
            currency=r["currency"],
            bucket=r["bucket"],
            loans=r["loans"],
            overdue=r["overdue"] or 0,
            outstanding=r["outstanding"] or 0,
        )
        for r in portfolio_by_bucket(loans, by=["team"])
    ]
    PortfolioSnapshot.objects.filter(as_of=as_of).delete()
    PortfolioSnapshot.objects.bulk_create(rows)
    return len(rows)


def sweep_run(*, as_of: dt.date, chunks: int = 1) -> SweepRun:
    """The whole sweep in this process, chunk after chunk (the command; beat runs chunks on workers).

    An unfinished run for the same date (its worker died, its chunks were lost) is finished rather than started
    over: its missing chunks run here, as that run split them, waiting for any a worker is running now."""
    run = SweepRun.objects.filter(as_of=as_of, finished_at=None).order_by("-id").first()
    if run is None:
        run = sweep_start(as_of=as_of, chunks=chunks)
    else:
        logger.warning("sweep run %s for %s resumed at %s/%s chunks", run.pk, as_of, run.chunks_done, run.chunks)
    day = None if run.product_dates else as_of
    for chunk in range(run.chunks):
        sweep_chunk_run(run_id=run.pk, as_of=day, chunk=chunk, chunks=run.chunks, wait=True)
    run.refresh_from_db()
    return run
