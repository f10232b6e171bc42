"""The daily sweep: set-based SQL over every loan and case, in chunks several workers can run side by side.

For a date D, per chunk (a contiguous range of loan ids) and per product (whose current policy supplies the
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
8. plan the day's messages into the outbox (stage cadence — texts, calls and e-mails one per borrower per slot, about
   every overdue loan of theirs, letters one per case —, pre-due, promise and plan reminders) and cancel planned
   ones that no longer fit the case's state.

After the last chunk: assign unassigned cases — to the collector who already has an open case of the same borrower
(one owner per borrower), else round-robin by workload, a borrower at a time, within the team of the borrower's
language.

Every statement is an UPDATE or INSERT … SELECT over the whole chunk — no Python loop over rows. Each bulk state
change is a ``BulkMove`` (the registry ``MOVES``) naming the django-fsm transition of ``CollectionCase`` it performs:
the states it moves from and the state it writes are read from that declaration, and its audit rows carry the
transition's name. It marks the rows it moved (``sweep_mark``) and one INSERT … SELECT writes their
``CaseTransition`` rows in the same transaction. Every step's condition describes the state it fixes, so running
the sweep twice for the same date changes nothing the second time; outbox rows are protected by unique idempotency
keys.

The SQL runs on PostgreSQL (production, tests, benchmark) and SQLite ≥ 3.35 (the embedded default).

The package: ``context`` (tables, a chunk, the SQL runner), ``moves`` (the bulk moves), ``steps`` (a chunk's steps),
``runs`` (runs, chunks, the watchdog, the snapshot).
"""

from collections_app.sweep.context import Chunk, chunk_bounds
from collections_app.sweep.moves import MOVES, OPENING, OPENING_STATE, BulkMove, declared_transitions
from collections_app.sweep.runs import (
    _chunk_lock_key,
    portfolio_snapshot_take,
    sweep_chunk,
    sweep_chunk_done,
    sweep_chunk_run,
    sweep_run,
    sweep_start,
    sweep_watchdog,
)
from collections_app.sweep.steps import assign_unassigned

__all__ = [
    "MOVES",
    "OPENING",
    "OPENING_STATE",
    "BulkMove",
    "Chunk",
    "_chunk_lock_key",
    "assign_unassigned",
    "chunk_bounds",
    "declared_transitions",
    "portfolio_snapshot_take",
    "sweep_chunk",
    "sweep_chunk_done",
    "sweep_chunk_run",
    "sweep_run",
    "sweep_start",
    "sweep_watchdog",
]
