"""Running the sweep: a run per date split into chunks that workers run in parallel, each recorded in the same
transaction under its own lock; the watchdog that queues stalled chunks again; the daily portfolio snapshot."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, FilteredRelation, Q
from django.utils import timezone

from collections_app.models import (
    OPEN_STATES,
    CollectionPolicy,
    PaymentPlan,
    PortfolioSnapshot,
    SweepRun,
)
from collections_app.services import policy_current
from collections_app.sweep.context import Chunk, logger
from collections_app.sweep.flows import flows_take, positions_take
from collections_app.sweep.steps import (
    assign_unassigned,
    step_escalate,
    step_open,
    step_plan_messages,
    step_plans,
    step_plans_completed,
    step_priority,
    step_promises,
    step_refresh,
    step_resolve,
)
from loans.models import Loan, LoanProduct
from loans.selectors import portfolio_by_bucket
from loans.services import loan_waive_fees, product_today


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


def sweep_chunk(
    *, run_id: int, as_of: dt.date | None, chunk: int, chunks: int, skip: frozenset[str] = frozenset()
) -> Counter[str]:
    """Run every step for one chunk, product by product, in one transaction.

    Without ``as_of`` each product is swept for its own local today (due dates are dates in its business zone).
    ``skip``: steps to leave out — only the policy dry-run does, of steps whose result it does not read
    (``priority``).
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
            if "priority" not in skip:
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
    it), each loan's position and the month's roll matrix (``sweep.flows``). A loan's team is the one working its
    open case; loans without one are recorded without a team."""

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
    # Each loan's position, then the roll matrix against the positions of a month before (the roll rates).
    positions_take(as_of=as_of)
    flows_take(as_of=as_of)
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
