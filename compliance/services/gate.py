"""The one gate every contact asks first: a check (stored as a ``Decision``), with a reservation when asked, for one
contact or a batch. With ``reserve=True`` the borrower's row is locked first and an allowed contact writes a
``reserved`` ledger entry in the same transaction, so that two workers deciding for the same borrower at the same
moment cannot both take a slot only one may have."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any

from django.db import transaction
from django.utils import timezone

from compliance.engine import (
    Attempt,
    BorrowerFacts,
    LedgerEvent,
    Result,
    StaffFact,
    applicable,
    contact_point,
    evaluate,
)
from compliance.models import (
    ContactEvent,
    Decision,
)
from compliance.services.certification import staff_facts
from compliance.services.facts import EVALUATOR_VERSION, ComplianceError, facts_load, profiles_current, to_kind_for
from loans.models import Borrower


def _addressed(attempt: Attempt, facts: BorrowerFacts) -> Attempt:
    """The attempt with its address (the one the system would use when none was named) and the address's class."""
    to = attempt.to or contact_point(facts, attempt.channel)
    return replace(attempt, to=to, to_kind=to_kind_for(facts, attempt.channel, to))


@dataclass(frozen=True)
class PlannedContact:
    """One contact to evaluate in a batch."""

    borrower_id: int
    attempt: Attempt
    loan_id: int | None = None


def _store(
    borrower_id: int, loan_id: int | None, attempt: Attempt, result: Result, actor: Any, dry_run: bool
) -> Decision:
    return Decision(
        borrower_id=borrower_id,
        loan_id=loan_id,
        channel=attempt.channel,
        to=attempt.to,
        at=attempt.at,
        automated=attempt.automated,
        purpose=attempt.purpose,
        outcome=result.outcome,
        allowed=result.allowed,
        reasons=[r.as_dict() for r in result.reasons],
        next_allowed_at=result.next_allowed_at,
        inputs=result.inputs,
        profiles=result.inputs.get("profiles", []),
        evaluated=result.evaluated,
        evaluator_version=EVALUATOR_VERSION,
        dry_run=dry_run,
        actor=actor if getattr(actor, "pk", None) else None,
    )


def contact_check(
    *,
    borrower_id: int,
    channel: str,
    loan_id: int | None = None,
    debts: Sequence[int] = (),
    to: str = "",
    at: dt.datetime | None = None,
    automated: bool = False,
    purpose: str = "",
    content: str = "",
    target_role: str = "debtor",
    collectors: int = 1,
    actor: Any = None,
    staff: Sequence[Any] | None = None,
    reserve: bool = False,
    dry_run: bool = False,
) -> tuple[Decision, Result]:
    """Ask the gate about one contact now (or at ``at``); store and return the decision.

    ``staff``: the people making a manual contact (a field visit's collectors); by default the actor. Their training
    records are loaded only when a profile that applies requires them (CERT-01).

    ``reserve``: lock the borrower and, if allowed, write a ``reserved`` ledger entry that later becomes the
    contact's real outcome (``contact_record(reservation=…)``), so concurrent checks count it.
    """
    if at is not None and at.tzinfo is None:
        raise ComplianceError("the instant must have a time zone")
    debts = tuple(debts) or ((loan_id,) if loan_id else ())
    # A reservation needs a transaction (lock, check, reserve as one step); a plain check is one INSERT.
    with transaction.atomic() if reserve else nullcontext():
        # One lock per borrower: the check and the reservation happen as one step for each borrower.
        if reserve and not Borrower.objects.select_for_update().filter(pk=borrower_id).exists():
            raise ComplianceError(f"borrower {borrower_id} does not exist")
        # The clock is read after the lock: a request that read it before waiting for the lock would judge an
        # instant earlier than the reservation the lock's holder just wrote, and the ledger counts only what
        # happened up to the instant judged — two calls would take the last slot (issue 11).
        at = at or timezone.now()
        loaded, profiles = facts_load([borrower_id], at=at, with_profiles=True)
        facts = loaded.get(borrower_id)
        if facts is None:
            raise ComplianceError(f"borrower {borrower_id} does not exist")
        to = to or contact_point(facts, channel)
        attempt = Attempt(
            channel=channel,
            at=at,
            to=to,
            to_kind=to_kind_for(facts, channel, to),
            automated=automated,
            target_role=target_role,
            debts=debts,
            content=content,
            purpose=purpose,
            collectors=collectors,
            actor_id=None if automated else getattr(actor, "pk", None),
            staff=_staff(facts, profiles or [], automated, actor, staff),
        )
        try:
            result = evaluate(attempt, facts, profiles or [])
        except ValueError as exc:
            raise ComplianceError(str(exc)) from exc
        decision = _store(borrower_id, loan_id, attempt, result, actor, dry_run)
        decision.save()
        if reserve and result.allowed:
            _reservation(borrower_id, attempt, decision).save()
    return decision, result


def _staff(
    facts: BorrowerFacts, profiles: Sequence[Any], automated: bool, actor: Any, staff: Sequence[Any] | None
) -> tuple[StaffFact, ...]:
    """CERT-01's facts: the people making a manual contact and their training records, when a profile requires it."""
    if automated:
        return ()
    chosen = applicable(profiles, facts.country, facts.region, facts.city)
    if not any((p.params.get("collector_certification") or {}).get("required") for p in chosen):
        return ()
    people = list(staff) if staff is not None else [actor]
    return staff_facts([getattr(p, "pk", p) for p in people if p is not None and getattr(p, "pk", p)])


def _reservation(borrower_id: int, attempt: Attempt, decision: Decision) -> ContactEvent:
    """The ledger entry holding an allowed contact's slot until its real outcome is known."""
    return ContactEvent(
        borrower_id=borrower_id,
        debts=list(attempt.debts),
        channel=attempt.channel,
        direction="outbound",
        to=attempt.to,
        target_role=attempt.target_role,
        at=attempt.at,
        outcome="reserved",
        automated=attempt.automated,
        decision=decision,
        actor=decision.actor,
    )


def contacts_reserve_batch(planned: Sequence[PlannedContact]) -> list[tuple[Decision, Result]]:
    """Check and reserve many contacts at once, as ``contact_check(reserve=True)`` does for one: the borrowers'
    rows are locked (in id order, so that two batches never deadlock), their facts loaded in one query, and each
    allowed contact is added to its borrower's ledger before the next one is judged, so that two messages to the
    same person in one batch count each other. Decisions and reservations are written in two inserts.
    Call it inside a transaction."""
    if not planned:
        return []
    borrower_ids = sorted({p.borrower_id for p in planned})
    list(Borrower.objects.select_for_update().filter(pk__in=borrower_ids).order_by("pk").values_list("pk"))
    facts, _ = facts_load(borrower_ids, at=max(p.attempt.at for p in planned))
    profiles = profiles_current()
    decided = []
    for p in planned:
        borrower = facts[p.borrower_id]
        p = replace(p, attempt=_addressed(p.attempt, borrower))
        result = evaluate(p.attempt, borrower, profiles)
        decision = _store(p.borrower_id, p.loan_id, p.attempt, result, None, False)
        decided.append((p, decision, result))
        if result.allowed:
            held = LedgerEvent(
                -len(decided), p.attempt.channel, "outbound", p.attempt.at, "reserved", p.attempt.to, p.attempt.debts
            )
            facts[p.borrower_id] = replace(borrower, ledger=(*borrower.ledger, held))
    Decision.objects.bulk_create([d for _, d, _ in decided])
    ContactEvent.objects.bulk_create([_reservation(p.borrower_id, p.attempt, d) for p, d, r in decided if r.allowed])
    return [(d, r) for _, d, r in decided]


def contacts_check_batch(planned: Sequence[PlannedContact], *, store: bool = True) -> list[Result]:
    """Evaluate many planned contacts: facts for all their borrowers in one load, decisions in one bulk insert."""
    if not planned:
        return []
    at = max(p.attempt.at for p in planned)
    facts, _ = facts_load([p.borrower_id for p in planned], at=at)
    profiles = profiles_current()
    planned = [replace(p, attempt=_addressed(p.attempt, facts[p.borrower_id])) for p in planned]
    results = [evaluate(p.attempt, facts[p.borrower_id], profiles) for p in planned]
    if store:
        Decision.objects.bulk_create(
            [
                _store(p.borrower_id, p.loan_id, p.attempt, r, None, False)
                for p, r in zip(planned, results, strict=True)
            ],
            batch_size=2000,
        )
    return results
