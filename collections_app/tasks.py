"""Celery tasks of the case domain: thin wrappers that take ids and call the sweep."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from collections_app.models import SweepRun
from collections_app.sweep import sweep_chunk, sweep_chunk_done, sweep_start


@shared_task(name="collections_app.tasks.daily_sweep")
def daily_sweep(as_of: str | None = None, chunks: int | None = None) -> int:
    """Start a sweep and fan its chunks out to the workers; the last chunk to finish closes the run."""
    return sweep_launch(as_of=dt.date.fromisoformat(as_of) if as_of else None, chunks=chunks).pk


def sweep_launch(*, as_of: dt.date | None, chunks: int | None = None) -> SweepRun:
    """Open a run and queue its chunks (the beat task, and admins through the API). Without ``as_of`` each product
    is swept for its own local date."""
    chunks = chunks or settings.SWEEP_CHUNKS
    run = sweep_start(as_of=as_of or timezone.now().date(), chunks=chunks)
    day = as_of.isoformat() if as_of else None
    for chunk in range(chunks):
        sweep_chunk_task.delay(run.pk, day, chunk, chunks)
    return run


@shared_task(name="collections_app.tasks.sweep_chunk", acks_late=True)
def sweep_chunk_task(run_id: int, as_of: str | None, chunk: int, chunks: int) -> None:
    """One chunk in one transaction: a worker that dies mid-chunk rolls back, and the redelivered task redoes it."""
    counts = sweep_chunk(
        run_id=run_id, as_of=dt.date.fromisoformat(as_of) if as_of else None, chunk=chunk, chunks=chunks
    )
    sweep_chunk_done(run_id=run_id, chunk=chunk, counts=counts)
