"""The contact ledger and consents: what happened, appended; a reservation settled into the contact's outcome (the
one place that step is done) or released."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from compliance.models import (
    ConsentEvent,
    ContactEvent,
    DebtClock,
    Decision,
)
from loans.models import Loan

COVER_MINUTES = 30  # a logged contact is covered by an allowing decision for the same channel this close in time


PROVISIONAL = ("reserved", "sent")  # a slot held, or a text sent and not yet delivered: the outcome may still change
# VAL-01: outcomes by which an outbound contact communicated with the debtor (Reg F 1006.2(d): information conveyed)
# — a text, e-mail or letter that left, a call answered, a visit made. An unanswered call or a voicemail is not.
COMMUNICATED = ("sent", "delivered", "conversation", "visited")


def _clock_upsert_sql(select: str) -> str:
    """Each debt's first communication (``DebtClock``), from ``select`` (borrower_id, loan_id, at rows): a new row,
    or an earlier instant than the one known. One statement, PostgreSQL and SQLite alike."""
    table = DebtClock._meta.db_table
    return f"""
        INSERT INTO {table} (borrower_id, loan_id, first_communication_at, before_system, notice_ref,
                            default_notice_ref)
        {select}
        ON CONFLICT (loan_id) DO UPDATE SET first_communication_at = excluded.first_communication_at
        WHERE {table}.first_communication_at IS NULL OR {table}.first_communication_at > excluded.first_communication_at
    """


def first_communication_record(*, borrower_id: int, debts: Sequence[int], at: dt.datetime) -> None:
    """VAL-01: an outbound contact communicated with the debtor about ``debts`` at ``at``: the first such instant
    per debt is kept (``DebtClock.first_communication_at``). Unknown loan ids are ignored."""
    loans = sorted({int(d) for d in debts})
    if not loans:
        return
    marks = ", ".join(["%s"] * len(loans))
    select = f"SELECT %s, l.id, %s, %s, '', '' FROM {Loan._meta.db_table} l WHERE l.id IN ({marks})"
    with connection.cursor() as cursor:
        cursor.execute(_clock_upsert_sql(select), [borrower_id, at, False, *loans])


def _communicated(entry: ContactEvent) -> None:
    if entry.direction == "outbound" and entry.outcome in COMMUNICATED and entry.target_role == "debtor":
        first_communication_record(borrower_id=entry.borrower_id, debts=entry.debts or [], at=entry.at)


def reservation_settle(
    *,
    decision_id: int | None,
    outcome: str,
    at: dt.datetime,
    note: str | None = None,
    debts: Sequence[int] = (),
    target_role: str | None = None,
    collection: bool = True,
) -> ContactEvent | None:
    """The contact a decision allowed took place: its ledger entry — the reservation, or a text sent and not yet
    delivered — takes the real outcome and instant (and, when given, who was reached: a call to the borrower's
    number may be answered by someone else). The one place a provisional entry becomes final (a collector's call, a
    dispatched message, a provider's callback). None when the decision holds no provisional entry."""
    if decision_id is None:
        return None
    entry = ContactEvent.objects.select_for_update().filter(decision_id=decision_id, outcome__in=PROVISIONAL).first()
    if entry is None:
        return None
    entry.outcome, entry.at = outcome, at
    fields = ["outcome", "at"]
    if target_role is not None:
        entry.target_role = target_role
        fields.append("target_role")
    if note is not None:
        entry.note = note
        fields.append("note")
    if debts:
        entry.debts = list(debts)
        fields.append("debts")
    entry.save(update_fields=fields)
    if collection:
        _communicated(entry)
    return entry


def reservation_settle_with(
    statement: str, params: Sequence[Any], *, outcome: str, at: dt.datetime, collection: bool = True
) -> None:
    """``reservation_settle`` in the same round trip as the caller's own statement, which must return
    ``decision_id`` rows (dispatch marks a message sent and its ledger entry sent at once, once per message: the
    hot path). PostgreSQL only: a data-modifying CTE. ``collection``: the contact is about collecting the debt (not a
    reminder before anything fell due), so it may be the debt's first communication (VAL-01)."""
    settle = f"""
        UPDATE {ContactEvent._meta.db_table} SET outcome = %s, at = %s
        WHERE decision_id IN (SELECT decision_id FROM settled) AND outcome IN %s
    """
    if outcome not in COMMUNICATED or not collection:
        with connection.cursor() as cursor:
            cursor.execute(f"WITH settled AS ({statement} RETURNING decision_id) {settle}",
                           [*params, outcome, at, PROVISIONAL])  # fmt: skip
        return
    # VAL-01: the debts' first communication in the same round trip (``first_communication_record``).
    first = _clock_upsert_sql(
        f"""SELECT t.borrower_id, l.id, MIN(t.at), %s, '', '' FROM touched t
            CROSS JOIN LATERAL jsonb_array_elements_text(t.debts) d
            JOIN {Loan._meta.db_table} l ON l.id = CAST(d.value AS BIGINT)
            WHERE t.direction = 'outbound' AND t.target_role = 'debtor'
            GROUP BY t.borrower_id, l.id"""
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH settled AS ({statement} RETURNING decision_id), "
            f"touched AS ({settle} RETURNING borrower_id, debts, at, direction, target_role) {first}",
            [*params, outcome, at, PROVISIONAL, False],
        )


def contact_reclassify(
    *, decision_id: int, outcome: str | None = None, target_role: str | None = None, note: str = ""
) -> ContactEvent | None:
    """What only a person knows, added to a contact whose outcome a provider already reported: who answered the
    call — the borrower, someone else (``target_role``), a machine (``voicemail`` instead of ``conversation``). The
    entry keeps its instant and debts. None when the decision's entry is still provisional (its settlement will
    carry the classification) or missing."""
    entry = (
        ContactEvent.objects.select_for_update()
        .filter(decision_id=decision_id)
        .exclude(outcome__in=(*PROVISIONAL, "cancelled"))
        .first()
    )
    if entry is None:
        return None
    fields = []
    if outcome is not None and outcome != entry.outcome:
        entry.outcome = outcome
        fields.append("outcome")
    if target_role is not None and target_role != entry.target_role:
        entry.target_role = target_role
        fields.append("target_role")
    if note:
        entry.note = f"{entry.note}\n{note}".strip()
        fields.append("note")
    if fields:
        entry.save(update_fields=fields)
    return entry


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
    target_role: str | None = None,
    actor: Any = None,
    decision_id: int | None = None,
    note: str = "",
    covered_until: dt.datetime | None = None,
    collection: bool = True,
) -> ContactEvent:
    """Append a contact that happened to the ledger.

    An outbound contact is normally covered by an allowing decision: the reservation it made (turned into this
    outcome) or one given for the same borrower and channel around that time — or, with ``covered_until``, the
    decision ``decision_id`` for a window from its instant to then (a field visit's window). A contact that no
    allowing decision covers is recorded all the same — the ledger must be complete for the caps — and marked as an
    exception for the managers' review. ``target_role``: who was reached (default: the reservation's, else the
    debtor). ``collection``: the contact is about collecting the debt — a reminder before anything fell due is not —
    so it may be the debt's first communication (VAL-01's clock).
    """
    with transaction.atomic():
        settled = reservation_settle(
            decision_id=decision_id, outcome=outcome, at=at, note=note, debts=debts, target_role=target_role,
            collection=collection,
        )  # fmt: skip
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
        entry = ContactEvent.objects.create(
            borrower_id=borrower_id,
            debts=list(debts),
            channel=channel,
            direction=direction,
            to=to,
            target_role=target_role or "debtor",
            at=at,
            outcome=outcome,
            automated=automated,
            actor=actor if getattr(actor, "pk", None) else None,
            decision_id=decision_id,
            is_exception=not covered,
            note=note,
        )
        if collection:
            _communicated(entry)
        return entry


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
