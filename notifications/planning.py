"""Planning and cancelling outbox rows. The outbox is this app's table: the daily sweep and the case services ask
here instead of writing it themselves (one owner per table), and the set-based statements stay one statement each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.utils import timezone

from notifications.models import Channel, MessagePurpose, MessageStatus, OutboundMessage

# The columns a planning query yields, by these names (aliases), in any order.
PLANNED_COLUMNS = ("idempotency_key", "borrower_id", "loan_id", "case_id", "channel", "purpose", "planned_for")
WAITING = [MessageStatus.PLANNED, MessageStatus.DEFERRED]


# An outbox row whose idempotency key starts with this is about the borrower, not one loan: the stage reminder of
# the day covers every overdue loan of the borrower (which ones is asked at send time: ``covered_debts``).
BORROWER_WIDE = "borrower:"


def messages_plan_bulk(
    *,
    select_sql: str,
    params: dict[str, Any],
    now: dt.datetime,
    unless_planned_since: dt.datetime | None = None,
    per_borrower: bool = False,
) -> int:
    """Plan every message ``select_sql`` yields (its columns named as ``PLANNED_COLUMNS``) in one INSERT … SELECT.
    A key planned before is skipped (``ON CONFLICT DO NOTHING``: planning twice creates nothing). With
    ``unless_planned_since``, so is a message whose case (``per_borrower``: whose borrower) already has one of the
    same purpose and channel planned after that instant and not cancelled (a cadence's interval). Returns how many
    rows were planned."""
    table = OutboundMessage._meta.db_table
    whose = "m.borrower_id = p.borrower_id" if per_borrower else "m.case_id = p.case_id"
    recent = (
        f"""NOT EXISTS (SELECT 1 FROM {table} m WHERE {whose} AND m.purpose = p.purpose
                        AND m.channel = p.channel AND m.status <> 'cancelled' AND m.planned_for > %(_since)s)"""
        if unless_planned_since is not None
        else "1 = 1"  # SQLite needs a WHERE between INSERT … SELECT and ON CONFLICT
    )
    sql = f"""
        INSERT INTO {table} (idempotency_key, borrower_id, loan_id, case_id, channel, purpose, "to", planned_for,
                             status, status_reason, created_at, updated_at)
        SELECT p.idempotency_key, p.borrower_id, p.loan_id, p.case_id, p.channel, p.purpose, '', p.planned_for,
               'planned', '', %(_now)s, %(_now)s
        FROM ({select_sql}) p
        WHERE {recent}
        ON CONFLICT DO NOTHING
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "_now": now, "_since": unless_planned_since})
        return max(cursor.rowcount, 0)


def messages_cancel(
    *, cases: Any, reason: str, purposes: Iterable[str] | None = None, now: dt.datetime | None = None
) -> int:
    """Planned or deferred messages of these cases (ids, or a queryset of ids: one statement) that must not go out
    any more — the case was resolved, paused or moved on. Never ones already claimed by a dispatcher."""
    rows = OutboundMessage.objects.filter(case_id__in=cases, status__in=WAITING)
    if purposes is not None:
        rows = rows.filter(purpose__in=list(purposes))
    return rows.update(status=MessageStatus.CANCELLED, status_reason=reason[:500], updated_at=now or timezone.now())


def message_plan(
    *, case: Any, channel: str, purpose: str, actor: Any, planned_for: dt.datetime | None = None
) -> OutboundMessage:
    """A collector asks for a message on a case (e.g. "send an SMS now"): it joins the outbox like any other and
    goes through the gate when the dispatcher sends it. A double click within the same minute plans it once."""
    if channel not in Channel.values or purpose not in MessagePurpose.values:
        raise ValueError("unknown channel or purpose")
    when = planned_for or timezone.now()
    key = f"manual:{case.pk}:{channel}:{purpose}:{getattr(actor, 'pk', 0)}:{when:%Y%m%d%H%M}"
    message, _ = OutboundMessage.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "borrower_id": case.borrower_id,
            "loan_id": case.loan_id,
            "case": case,
            "channel": channel,
            "purpose": purpose,
            "planned_for": when,
            "created_by": actor if getattr(actor, "pk", None) else None,
        },
    )
    return message


def message_plan_once(
    *,
    key: str,
    borrower_id: int,
    loan_id: int,
    case_id: int | None,
    channel: str,
    purpose: str,
    planned_for: dt.datetime | None = None,
) -> tuple[OutboundMessage, bool]:
    """A message the borrower asked for (a reminder call's "press 1"), planned once per ``key`` whatever the number
    of requests; it goes through the gate when the dispatcher sends it. Returns the row and whether it is new."""
    if channel not in Channel.values or purpose not in MessagePurpose.values:
        raise ValueError("unknown channel or purpose")
    return OutboundMessage.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "borrower_id": borrower_id,
            "loan_id": loan_id,
            "case_id": case_id,
            "channel": channel,
            "purpose": purpose,
            "planned_for": planned_for or timezone.now(),
        },
    )


# ---------------------------------------------------------------------------------------------------------------
# Still wanted at send time?
# ---------------------------------------------------------------------------------------------------------------
CaseCheck = Any  # (case, purpose) -> a reason not to send, or "" to send


_case_checks: list[CaseCheck] = []


def case_check_register(check: CaseCheck) -> None:
    """The app that owns cases tells dispatch whether a message still fits its case (collections_app.apps): this
    app knows messages, not the states of a case."""
    if check not in _case_checks:
        _case_checks.append(check)


def case_cancel_reason(case: Any, purpose: str) -> str:
    """Why a message of ``purpose`` on ``case`` must not go out now ('' when it may), by the registered checks."""
    return next((reason for check in _case_checks if (reason := check(case, purpose))), "")


# ---------------------------------------------------------------------------------------------------------------
# Which loans a borrower-wide message covers
# ---------------------------------------------------------------------------------------------------------------
DebtsOf = Any  # (messages) -> {message id: [loan ids the message may cover, its own loan first]}


_debt_finders: list[DebtsOf] = []


def covered_debts_register(finder: DebtsOf) -> None:
    """The app that owns cases tells dispatch which loans a borrower-wide reminder covers (collections_app.apps):
    the borrower's other cases still on the ladder and overdue."""
    if finder not in _debt_finders:
        _debt_finders.append(finder)


def covered_debts(messages: Sequence[OutboundMessage]) -> dict[int, list[int]]:
    """The loans each message is about: its own loan, and for a borrower-wide one (``BORROWER_WIDE``) every loan the
    registered finder names."""
    covered = {m.pk: [m.loan_id] for m in messages}
    wide = [m for m in messages if m.idempotency_key.startswith(BORROWER_WIDE) and m.case_id is not None]
    for finder in _debt_finders if wide else []:
        for pk, loans in finder(wide).items():
            covered[pk] = list(dict.fromkeys([*covered[pk], *loans]))
    return covered


# ---------------------------------------------------------------------------------------------------------------
# A letter the law requires left (VAL-01's notice, DSP-01's verification)
# ---------------------------------------------------------------------------------------------------------------
MailedHook = Any  # (message) -> None, for a message of LETTER_ONLY_PURPOSES now sent or delivered


_mailed_hooks: list[MailedHook] = []


def mailed_register(hook: MailedHook) -> None:
    """The app that owns cases hears when a verification letter is mailed (collections_app.apps: the dispute's hold
    lifts by itself); this app knows messages, not disputes."""
    if hook not in _mailed_hooks:
        _mailed_hooks.append(hook)


def mailed_hooks() -> list[MailedHook]:
    return list(_mailed_hooks)
