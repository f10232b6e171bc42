"""The one gate every contact asks first — the outbox dispatcher, a collector's call, a field visit, a letter.

``contact_check`` loads what the gate counts for the borrower (a fixed number of queries), evaluates the pure core
(``compliance.engine``), and stores a ``Decision`` with its inputs. With ``reserve=True`` it locks the borrower's row
first and, when allowed, writes a ``reserved`` entry in the contact ledger inside the same transaction, so that two
workers deciding for the same borrower at the same moment cannot both take a slot only one may have.
``contacts_check_batch`` does the same for thousands of planned contacts in a fixed number of queries.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from compliance.engine import (
    Attempt,
    BorrowerFacts,
    LedgerEvent,
    Profile,
    RestrictionFact,
    Result,
    contact_point,
    evaluate,
)
from compliance.models import (
    COLLECTOR_LIFTABLE_KINDS,
    ConsentEvent,
    ConsentKind,
    ContactEvent,
    Decision,
    JurisdictionProfile,
    Restriction,
)
from loans.models import Borrower, EmailAddress, PhoneNumber
from loans.sql import json_rows_sql
from loans.versioning import version_publish

EVALUATOR_VERSION = "2026.11-1"
LEDGER_DAYS = 35  # the longest window any rule counts over (MA: 30 days), plus margin
COVER_MINUTES = 30  # a logged contact is covered by an allowing decision for the same channel this close in time


class ComplianceError(Exception):
    """A request the gate cannot evaluate (unknown borrower, bad channel)."""


def profiles_current() -> list[Profile]:
    return [Profile(p.code, p.version, p.params) for p in JurisdictionProfile.objects.filter(is_current=True)]


def _json(value: Any) -> Any:
    """A JSON value from an aggregate: PostgreSQL nests it, SQLite hands nested JSON columns back as text."""
    return json.loads(value) if isinstance(value, str) else value


def _instant(value: str) -> dt.datetime:
    """A timestamp from JSON: ISO-8601 with an offset on PostgreSQL, naive UTC on SQLite."""
    at = dt.datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def facts_load(
    borrower_ids: Iterable[int], *, at: dt.datetime, with_profiles: bool = False
) -> tuple[dict[int, BorrowerFacts], list[Profile] | None]:
    """Everything the gate counts for these borrowers — phones, e-mail addresses, consents and opt-outs,
    restrictions in force and the recent contact ledger — in one query whatever their number. With
    ``with_profiles`` the current jurisdiction profiles come in the same query (for a single check; a batch loads
    them once on their own).

    Plain SQL on purpose: the same query built with the ORM cost more time to compile than to run, and a single
    check's budget is a few milliseconds (issue 4)."""
    ids = sorted(set(borrower_ids))
    if not ids:
        return {}, profiles_current() if with_profiles else None
    stamp = connection.ops.adapt_datetimefield_value
    profiles_sql = ", " + _profiles_sql() if with_profiles else ""
    sql = f"""
        SELECT b.id, b.time_zones, b.country, b.region, {_children_sql()}{profiles_sql}
        FROM {Borrower._meta.db_table} b WHERE b.id IN ({", ".join(["%s"] * len(ids))})
    """
    since, until = at - dt.timedelta(days=LEDGER_DAYS), at + dt.timedelta(days=1)
    params = [stamp(at), stamp(at), stamp(since), stamp(until), *ids]
    facts, profiles = {}, None
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [c[0] for c in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(columns, values, strict=True))
            if with_profiles:
                profiles = [Profile(p["code"], p["version"], _json(p["params"])) for p in _json(row["profiles"]) or []]
            facts[row["id"]] = _facts_from_row(row)
    return facts, profiles


def _children_sql() -> str:
    return ", ".join(
        [
            json_rows_sql(
                PhoneNumber._meta.db_table,
                "borrower_id = b.id",
                id="id",
                position="position",
                number="number",
                kind="kind",
                sms_consent="sms_consent",
                autodial_consent="autodial_consent",
            )
            + " AS phones",
            json_rows_sql(EmailAddress._meta.db_table, "borrower_id = b.id", id="id", address="address", kind="kind")
            + " AS emails",
            # Consents and opt-outs as known now: an opt-out is honoured at once, whatever instant is evaluated.
            json_rows_sql(
                ConsentEvent._meta.db_table,
                "borrower_id = b.id",
                id="id",
                at="at",
                medium="medium",
                address="address",
                kind="kind",
            )
            + " AS consents",
            # In force at the instant: started, not lifted, not ended (Restriction.objects.active).
            json_rows_sql(
                Restriction._meta.db_table,
                "borrower_id = b.id AND starts_at <= %s AND lifted_at IS NULL AND (ends_at IS NULL OR ends_at > %s)",
                id="id",
                kind="kind",
                loan_id="loan_id",
                details="details",
            )
            + " AS in_force",
            json_rows_sql(
                ContactEvent._meta.db_table,
                "borrower_id = b.id AND at > %s AND at <= %s",
                id="id",
                channel="channel",
                direction="direction",
                at="at",
                outcome="outcome",
                to='"to"',
                debts="debts",
                target_role="target_role",
                automated="automated",
            )
            + " AS ledger",
        ]
    )


def _profiles_sql() -> str:
    return (
        json_rows_sql(JurisdictionProfile._meta.db_table, "is_current", code="code", version="version", params="params")
        + " AS profiles"
    )


def _facts_from_row(row: dict[str, Any]) -> BorrowerFacts:
    # In the borrower's order (then the order they were added): the first eligible number is the one used.
    phones = sorted(_json(row["phones"]) or [], key=lambda p: (p["position"], p["id"]))
    state: dict[tuple[str, str], str] = {}
    for event in sorted(_json(row["consents"]) or [], key=lambda e: (_instant(e["at"]), e["id"])):
        state[(event["medium"], event["address"])] = event["kind"]
        if event["kind"] in (ConsentKind.AUTODIAL_CONSENT, ConsentKind.AUTODIAL_REVOKED):
            state[("autodial", event["address"])] = event["kind"]
    numbers = [str(p["number"]) for p in phones]
    ledger = [
        LedgerEvent(
            e["id"],
            e["channel"],
            e["direction"],
            _instant(e["at"]),
            e["outcome"],
            e["to"],
            tuple(_json(e["debts"]) or ()),
            e["target_role"],
            bool(e["automated"]),
        )
        for e in _json(row["ledger"]) or []
    ]
    return BorrowerFacts(
        borrower_id=row["id"],
        zones=tuple(_json(row["time_zones"]) or ()),
        country=row["country"],
        region=row["region"],
        restrictions=tuple(
            RestrictionFact(r["id"], r["kind"], r["loan_id"], _json(r["details"]) or {})
            for r in sorted(_json(row["in_force"]) or [], key=lambda r: r["id"])
        ),
        sms_opted_out=frozenset(n for n in numbers if state.get(("sms", n)) == ConsentKind.OPT_OUT),
        email_opted_out=frozenset(a for (m, a), k in state.items() if m == "email" and k == ConsentKind.OPT_OUT),
        sms_consent=frozenset(str(p["number"]) for p in phones if p["sms_consent"]),
        autodial_consent=frozenset(
            n
            for n, p in zip(numbers, phones, strict=True)
            if (
                p["autodial_consent"]
                and state.get(("autodial", n)) != ConsentKind.AUTODIAL_REVOKED
                and state.get(("sms", n)) != ConsentKind.OPT_OUT
            )
            or state.get(("autodial", n)) == ConsentKind.AUTODIAL_CONSENT
        ),
        ledger=tuple(sorted(ledger, key=lambda e: (e.at, e.id))),
        phone_kinds={n: p["kind"] for n, p in zip(numbers, phones, strict=True)},
        email_kinds={e["address"]: e["kind"] for e in sorted(_json(row["emails"]) or [], key=lambda e: e["id"])},
    )


def to_kind_for(facts: BorrowerFacts, channel: str, to: str) -> str:
    """The class of the address being contacted (work numbers and work email are treated differently)."""
    if not to:
        return "address" if channel in ("letter", "visit") else "mobile"
    if channel in ("call", "sms"):
        return facts.phone_kinds.get(to, "mobile")
    if channel == "email":
        return "work_email" if facts.email_kinds.get(to) == "work" else "email"
    return "address"


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
    reserve: bool = False,
    dry_run: bool = False,
) -> tuple[Decision, Result]:
    """Ask the gate about one contact now (or at ``at``); store and return the decision.

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


PROVISIONAL = ("reserved", "sent")  # a slot held, or a text sent and not yet delivered: the outcome may still change


def reservation_settle(
    *, decision_id: int | None, outcome: str, at: dt.datetime, note: str | None = None, debts: Sequence[int] = ()
) -> ContactEvent | None:
    """The contact a decision allowed took place: its ledger entry — the reservation, or a text sent and not yet
    delivered — takes the real outcome and instant. The one place a provisional entry becomes final (a collector's
    call, a dispatched message, a provider's callback). None when the decision holds no provisional entry."""
    if decision_id is None:
        return None
    entry = ContactEvent.objects.select_for_update().filter(decision_id=decision_id, outcome__in=PROVISIONAL).first()
    if entry is None:
        return None
    entry.outcome, entry.at = outcome, at
    fields = ["outcome", "at"]
    if note is not None:
        entry.note = note
        fields.append("note")
    if debts:
        entry.debts = list(debts)
        fields.append("debts")
    entry.save(update_fields=fields)
    return entry


def reservation_settle_with(statement: str, params: Sequence[Any], *, outcome: str, at: dt.datetime) -> None:
    """``reservation_settle`` in the same round trip as the caller's own statement, which must return
    ``decision_id`` rows (dispatch marks a message sent and its ledger entry sent at once, once per message: the
    hot path). PostgreSQL only: a data-modifying CTE."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH settled AS ({statement} RETURNING decision_id)
            UPDATE {ContactEvent._meta.db_table} SET outcome = %s, at = %s
            WHERE decision_id IN (SELECT decision_id FROM settled) AND outcome IN %s
            """,
            [*params, outcome, at, PROVISIONAL],
        )


def reservations_release(*, decision_ids: Iterable[int | None]) -> int:
    """The contacts these decisions reserved did not happen (a retry, a returned claim, a person's review): their
    slots stop counting. Outcomes already known are left alone."""
    ids = [d for d in decision_ids if d]
    return ContactEvent.objects.filter(decision_id__in=ids, outcome="reserved").update(outcome="cancelled")


def contact_record(
    *,
    borrower_id: int,
    channel: str,
    direction: str,
    outcome: str,
    at: dt.datetime,
    debts: Sequence[int] = (),
    to: str = "",
    automated: bool = False,
    target_role: str = "debtor",
    actor: Any = None,
    decision_id: int | None = None,
    note: str = "",
    covered_until: dt.datetime | None = None,
) -> ContactEvent:
    """Append a contact that happened to the ledger.

    An outbound contact is normally covered by an allowing decision: the reservation it made (turned into this
    outcome) or one given for the same borrower and channel around that time — or, with ``covered_until``, the
    decision ``decision_id`` for a window from its instant to then (a field visit's window). A contact that no
    allowing decision covers is recorded all the same — the ledger must be complete for the caps — and marked as an
    exception for the managers' review.
    """
    with transaction.atomic():
        settled = reservation_settle(decision_id=decision_id, outcome=outcome, at=at, note=note, debts=debts)
        if settled is not None:
            return settled
        allowing = Decision.objects.filter(borrower_id=borrower_id, channel=channel, allowed=True, dry_run=False)
        if covered_until is not None:
            window = allowing.filter(pk=decision_id, at__lte=at) if decision_id and at <= covered_until else None
        else:
            window = allowing.filter(
                Q(pk=decision_id) if decision_id else Q(),
                at__gte=at - dt.timedelta(minutes=COVER_MINUTES),
                at__lte=at + dt.timedelta(minutes=COVER_MINUTES),
            )
        covered = direction == "inbound" or (window is not None and window.exists())
        return ContactEvent.objects.create(
            borrower_id=borrower_id,
            debts=list(debts),
            channel=channel,
            direction=direction,
            to=to,
            target_role=target_role,
            at=at,
            outcome=outcome,
            automated=automated,
            actor=actor if getattr(actor, "pk", None) else None,
            decision_id=decision_id,
            is_exception=not covered,
            note=note,
        )


def consent_record(
    *,
    borrower_id: int,
    medium: str,
    address: str,
    kind: str,
    source: str,
    text: str = "",
    actor: Any = None,
    at: dt.datetime | None = None,
) -> ConsentEvent:
    """Append an opt-out, opt-in or consent change (the latest event per address and medium is the state)."""
    return ConsentEvent.objects.create(
        borrower_id=borrower_id,
        medium=medium,
        address=address,
        kind=kind,
        source=source,
        text=text,
        at=at or timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
    )


def profile_revise(*, profile: JurisdictionProfile, actor: Any) -> JurisdictionProfile:
    """Publish edited parameters as a new version of the profile (validated against the schema)."""
    return version_publish(instance=profile, scope={"code": profile.code}, actor=actor)


def restriction_add(
    *,
    borrower_id: int,
    kind: str,
    actor: Any,
    loan_id: int | None = None,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
    details: dict[str, Any] | None = None,
    reason: str = "",
    document_ref: str = "",
    source: str = "api",
) -> Restriction:
    """Record a restriction the gate counts from ``starts_at`` (default now): a request, a notice, a law."""
    return Restriction.objects.create(
        borrower_id=borrower_id,
        loan_id=loan_id,
        kind=kind,
        starts_at=starts_at or timezone.now(),
        ends_at=ends_at,
        details=details or {},
        reason=reason,
        document_ref=document_ref,
        source=source,
        created_by=actor if getattr(actor, "pk", None) else None,
    )


class LiftRefused(ComplianceError):
    """The actor may not lift a restriction of this kind."""


def restriction_may_lift(*, kind: str, actor: Any) -> bool:
    """The one rule for lifting, on the case page and in the API (issue 11): a dispute or a preference the borrower
    set, anyone working the case; a legal status or right (cease and desist, attorney, bankruptcy, deceased, SMS
    opt-out, time-barred), managers and admins only (``COLLECTOR_LIFTABLE_KINDS``)."""
    return kind in COLLECTOR_LIFTABLE_KINDS or bool(actor and actor.has_perm("compliance.lift_restriction"))


def restriction_lift(*, restriction_id: int, actor: Any, reason: str) -> Restriction:
    """Lift a restriction (kept, with who lifted it and why); lifting twice changes nothing. Raises LiftRefused when
    the actor may not lift this kind (``restriction_may_lift``)."""
    with transaction.atomic():
        restriction = Restriction.objects.select_for_update().get(pk=restriction_id)
        if not restriction_may_lift(kind=restriction.kind, actor=actor):
            raise LiftRefused(f"only managers and admins lift a {restriction.get_kind_display()} restriction")
        if restriction.lifted_at is None:
            restriction.lifted_at, restriction.lifted_by, restriction.lift_reason = timezone.now(), actor, reason
            restriction.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        return restriction
