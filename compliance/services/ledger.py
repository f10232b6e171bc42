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
    Decision,
)

COVER_MINUTES = 30  # a logged contact is covered by an allowing decision for the same channel this close in time


PROVISIONAL = ("reserved", "sent")  # a slot held, or a text sent and not yet delivered: the outcome may still change


def reservation_settle(
    *,
    decision_id: int | None,
    outcome: str,
    at: dt.datetime,
    note: str | None = None,
    debts: Sequence[int] = (),
    target_role: str | None = None,
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
) -> ContactEvent:
    """Append a contact that happened to the ledger.

    An outbound contact is normally covered by an allowing decision: the reservation it made (turned into this
    outcome) or one given for the same borrower and channel around that time — or, with ``covered_until``, the
    decision ``decision_id`` for a window from its instant to then (a field visit's window). A contact that no
    allowing decision covers is recorded all the same — the ledger must be complete for the caps — and marked as an
    exception for the managers' review. ``target_role``: who was reached (default: the reservation's, else the
    debtor).
    """
    with transaction.atomic():
        settled = reservation_settle(
            decision_id=decision_id, outcome=outcome, at=at, note=note, debts=debts, target_role=target_role
        )
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
            target_role=target_role or "debtor",
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
