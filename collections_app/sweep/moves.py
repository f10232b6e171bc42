"""The sweep's bulk moves: each one performs a transition declared on ``CollectionCase`` — its from-states and target
are read from that declaration — in one UPDATE and one INSERT … SELECT of audit rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django_fsm import ANY_OTHER_STATE, ANY_STATE, RETURN_VALUE, Transition

from collections_app.models import (
    FINAL_STATES,
    CaseState,
    CollectionCase,
    CollectionPolicy,
)
from collections_app.sweep.context import Chunk, as_text, execute
from loans.models import LoanProduct
from notifications.planning import messages_cancel

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


def move_cases(
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
    moved = execute(
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
        execute(
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


def no_breathing_space(case: str = "{case}") -> str:
    """BS-01 in SQL: no breathing space in force for the borrower of ``case`` (the case table, or its alias in a
    query), borrower-wide or on its loan."""
    return (
        f"NOT EXISTS (SELECT 1 FROM {{restriction}} r WHERE r.borrower_id = {case}.borrower_id "
        "AND r.kind = 'breathing_space' AND r.lifted_at IS NULL AND r.starts_at <= %(now)s "
        f"AND (r.ends_at IS NULL OR r.ends_at > %(now)s) AND (r.loan_id IS NULL OR r.loan_id = {case}.loan_id))"
    )


# BS-01: no escalation while a breathing space of the borrower (all their debts, or this loan) is in force.
NO_BREATHING_SPACE = no_breathing_space()


_PROMISE_SUMMARY = (
    "(SELECT 'promised ' || "
    + as_text("pr.amount")
    + " || ' by ' || "
    + as_text("pr.promised_on")
    + " || ', paid ' || "
    + as_text("pr.paid_amount")
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
        + as_text("days_past_due")
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
            reason="'loan cured: nothing overdue on ' || " + as_text("%(as_of)s"),
        ),
        BulkMove("promise_kept", where=_promise_checked("('kept')"), reason=_PROMISE_SUMMARY),
        BulkMove("promise_broken", where=_promise_checked("('partial', 'broken')"), reason=_PROMISE_SUMMARY),
        BulkMove("plan_broken", where=_plan_ended("broken"), reason="'a plan payment was missed past its grace'"),
        BulkMove("plan_completed", where=_plan_ended("completed"), reason="'plan completed but the loan is not cured'"),
        BulkMove(
            "escalate_formal_notice",
            where=f"days_past_due >= %(threshold)s AND {_NOT_IN_GRACE} AND {NO_BREATHING_SPACE}",
            reason=_threshold_reason("formal notice"),
        ),
        BulkMove(
            "request_legal",
            where=f"days_past_due >= %(threshold)s AND {_NOT_IN_GRACE} AND {NO_BREATHING_SPACE}",
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


def forbearance_first_sql(profiles: list[Any]) -> tuple[str, dict[str, Any]]:
    """FB-01 in SQL for ``request_legal``: no case whose borrower's address falls under a profile with
    ``forbearance_before_enforcement`` unless the case records forbearance (and, where the profile asks, a referral
    to free debt advice). ("TRUE", {}) when no profile asks for it."""

    def missing(params: dict[str, Any]) -> str | None:
        rule = params.get("forbearance_before_enforcement") or {}
        if not rule.get("required"):
            return None
        sql = (
            "NOT EXISTS (SELECT 1 FROM {forbearance} f WHERE f.case_id = {case}.id "
            "AND f.kind <> 'debt_advice_referral')"
        )
        if rule.get("debt_advice_referral"):
            sql += (
                " OR NOT EXISTS (SELECT 1 FROM {forbearance} f WHERE f.case_id = {case}.id "
                "AND f.kind = 'debt_advice_referral')"
            )
        return sql

    return _unless_under_profiles(profiles, missing, "fb")


def default_notice_sql(profiles: list[Any]) -> tuple[str, dict[str, Any]]:
    """DN-01 in SQL for ``request_legal``: no case whose borrower's address falls under a profile with
    ``default_notice`` unless a default notice was posted during the case (the debt's clock) and the date it names to
    remedy the breach by is before the sweep's day. ("TRUE", {}) when no profile asks for it."""

    def missing(params: dict[str, Any]) -> str | None:
        if "default_notice" not in params:
            return None
        return (
            "NOT EXISTS (SELECT 1 FROM {clock} k WHERE k.loan_id = {case}.loan_id "
            "AND k.default_notice_sent_at >= {case}.opened_at AND k.default_notice_remedy_by < %(as_of)s)"
        )

    return _unless_under_profiles(profiles, missing, "dn")


def _unless_under_profiles(
    profiles: list[Any], missing: Callable[[dict[str, Any]], str | None], prefix: str
) -> tuple[str, dict[str, Any]]:
    """A condition on ``{case}``: its borrower's address falls under no profile for which ``missing`` (the profile's
    parameters → the SQL of what the case still lacks, or None when the profile asks for nothing) holds. The
    profiles' scopes (countries, regions, cities) become parameters named with ``prefix``."""
    blocked: list[str] = []
    params: dict[str, Any] = {}
    for n, profile in enumerate(profiles):
        lacking = missing(profile.params)
        if lacking is None:
            continue
        scope = profile.params.get("applies_to", {})

        def one_of(column: str, key: str, values: list[str], n: int = n) -> str:
            names = [f"{prefix}{n}_{key}_{i}" for i in range(len(values))]
            params.update(zip(names, values, strict=True))
            return f"{column} IN ({', '.join(f'%({name})s' for name in names)})"

        where = [one_of("b.country", "countries", list(scope.get("countries", [])))]
        for key, column in (("regions", "UPPER(b.region)"), ("cities", "UPPER(b.city)")):
            if scope.get(key):
                where.append(one_of(column, key, [v.upper() for v in scope[key]]))
        blocked.append(f"({' AND '.join(where)} AND ({lacking}))")
    if not blocked:
        return "TRUE", {}
    sql = "NOT EXISTS (SELECT 1 FROM {borrower} b WHERE b.id = {case}.borrower_id AND (" + " OR ".join(blocked) + "))"
    return sql, params


# FN-01 for ``request_legal``: the case's formal notice was sent in writing (a letter handed to the mail house, or an
# e-mail that carried the notice's PDF) before the start of the day its response period (the policy's days) was last
# running.
# A correlated count, looked up per case through the outbox's case index (see steps.PER_CASE_COUNTS).
FORMAL_NOTICE_SERVED = """(SELECT COUNT(*) FROM {outbox} m WHERE m.case_id = {case}.id AND m.purpose = 'formal_notice'
    AND m.channel IN ('letter', 'email') AND m.status IN ('sent', 'delivered') AND m.sent_at < %(fn01_cutoff)s
    AND (m.channel = 'letter' OR EXISTS (SELECT 1 FROM {document} d WHERE d.message_id = m.id))) > 0"""


def cancel_messages_of_marked(ctx: Chunk, mark: str, reason: str) -> None:
    ctx.counts["messages_cancelled"] += messages_cancel(
        cases=CollectionCase.objects.filter(sweep_mark=mark).values("id"), reason=reason, now=ctx.now
    )
