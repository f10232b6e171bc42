"""The daily sweep through Celery for real: a worker thread consuming from Redis runs the chunk tasks."""

import datetime as dt
import time

import pytest

from collections_app.models import CollectionCase, SweepRun
from collections_app.tasks import daily_sweep
from tests.factories import loan_with_schedule


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_beat_task_fans_chunks_out_to_workers_and_the_last_one_closes_the_run(celery_worker):
    loans = [loan_with_schedule(("2024-01-01", "100.00")) for _ in range(6)]
    daily_sweep.delay("2024-01-20", 3)
    deadline = time.monotonic() + 60
    run = None
    while time.monotonic() < deadline:
        run = SweepRun.objects.filter(as_of=dt.date(2024, 1, 20)).first()
        if run is not None and run.finished_at is not None:
            break
        time.sleep(0.1)
    assert run is not None and run.finished_at is not None, "the sweep did not finish within 60 s"
    assert (run.chunks, run.chunks_done, run.counts["open"]) == (3, 3, 6)
    assert CollectionCase.objects.filter(loan__in=loans, state="reminder").count() == 6
