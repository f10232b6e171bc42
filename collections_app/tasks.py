"""Celery tasks of the case domain: thin wrappers that take ids and call the sweep.

A database error (a restart, a dropped connection) does not fail a chunk: the chunk is one transaction and runs
again after a pause (``loans.db.db_retry``). Chunks the broker lost, or whose worker died, are queued again by the
watchdog (``sweep_watchdog``).
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from collections_app.models import SweepRun
from collections_app.selectors.reports import refresh_performance_figures as refresh_figures
from collections_app.services.qa import last_complete_week, qa_sample_week
from collections_app.services.reviews import review_reminders_create
from collections_app.sweep import sweep_chunk_run, sweep_start, sweep_watchdog
from loans.db import db_retry


@shared_task(name="collections_app.tasks.daily_sweep")
def daily_sweep(as_of: str | None = None, chunks: int | None = None) -> int:
    """Start a sweep and fan its chunks out to the workers; the last chunk to finish closes the run."""
    return sweep_launch(as_of=dt.date.fromisoformat(as_of) if as_of else None, chunks=chunks).pk


def sweep_launch(*, as_of: dt.date | None, chunks: int | None = None) -> SweepRun:
    """Open a run and queue its chunks (the beat task, and admins through the API). Without ``as_of`` each product
    is swept for its own local date."""
    chunks = chunks or settings.SWEEP_CHUNKS
    run = db_retry(
        lambda: sweep_start(as_of=as_of or timezone.now().date(), chunks=chunks, local_dates=as_of is None),
        what="sweep start",
    )
    sweep_queue(run=run, chunks=range(chunks))
    return run


def sweep_queue(*, run: SweepRun, chunks: range | list[int]) -> None:
    """Queue chunks of a run (a run swept by product-local dates passes no date: each chunk reads the run's)."""
    day = None if run.product_dates else run.as_of.isoformat()
    for chunk in chunks:
        sweep_chunk_task.delay(run.pk, day, chunk, run.chunks)


@shared_task(name="collections_app.tasks.sweep_chunk", acks_late=True)
def sweep_chunk_task(run_id: int, as_of: str | None, chunk: int, chunks: int) -> bool:
    """One chunk in one transaction: a worker that dies mid-chunk rolls back, and the chunk runs again (redelivered,
    or queued again by the watchdog); a copy of a chunk done or running does nothing."""
    day = dt.date.fromisoformat(as_of) if as_of else None
    return db_retry(
        lambda: sweep_chunk_run(run_id=run_id, as_of=day, chunk=chunk, chunks=chunks),
        what=f"sweep run {run_id} chunk {chunk}",
    )


@shared_task(name="collections_app.tasks.sweep_watchdog")
def sweep_watchdog_task() -> list[int]:
    """The sweep's watchdog (beat, every ``WATCHDOG_INTERVAL_SECONDS``): queue again the chunks of a stalled run."""
    stalled = db_retry(sweep_watchdog, what="sweep watchdog")
    if stalled is None:
        return []
    run, chunks = stalled
    sweep_queue(run=run, chunks=chunks)
    return chunks


@shared_task(name="collections_app.tasks.vulnerability_review_reminders")
def vulnerability_review_reminders() -> int:
    """Daily: a to-do for the collector and the manager of each case whose borrower's vulnerability record is past
    its review date (VUL-01); running it twice in a day adds nothing."""
    return review_reminders_create(today=timezone.localdate())


@shared_task(name="collections_app.tasks.evidence_pack_build")
def evidence_pack_build_task(case_id: int, reason: str = "") -> int:
    """Build a case's evidence pack (queued after the commit that moved the case to legal); idempotent: the same
    evidence gives back the pack already built."""
    from collections_app.services.evidence import evidence_pack_build

    return db_retry(
        lambda: evidence_pack_build(case_id=case_id, actor=None, reason=reason).pack.pk,
        what=f"evidence pack of case {case_id}",
    )


@shared_task(name="collections_app.tasks.evidence_packs_missing")
def evidence_packs_missing_task() -> list[int]:
    """Build the packs of cases in legal that have none (queued after a sweep chunk moved cases to legal); queues
    itself again while more are waiting."""
    from collections_app.services.evidence import evidence_packs_missing

    built = db_retry(evidence_packs_missing, what="evidence packs")
    if built:
        evidence_packs_missing_task.delay()
    return built


@shared_task(name="collections_app.tasks.refresh_performance_figures", ignore_result=True)
def refresh_performance_figures() -> int:
    """Beat: the performance page's default figures of every scope, recomputed before they go stale."""
    return refresh_figures()


@shared_task(name="collections_app.tasks.qa_sample")
def qa_sample(week: str | None = None, size: int | None = None, seed: int = 0) -> int:
    """QA: draw the sample of each collector's calls of the week that ended (or the week starting ``week``); run again,
    it adds nothing. Returns the number of calls drawn."""
    start = dt.date.fromisoformat(week) if week else last_complete_week()
    return db_retry(lambda: qa_sample_week(week=start, size=size, seed=seed), what="qa sample").sampled
