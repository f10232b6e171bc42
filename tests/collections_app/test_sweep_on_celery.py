"""The daily sweep through Celery for real: a worker thread consuming from Redis runs the chunk tasks; a worker
process killed mid-run, and the run finishing by itself."""

import datetime as dt
import time

import psycopg2
import pytest
from django.db import connection

from collections_app.models import CollectionCase, SweepRun
from collections_app.sweep import sweep_start
from collections_app.tasks import daily_sweep
from tests.factories import loan_with_schedule
from tests.workers import RedisServer, kill_group, send_task, start_worker, wait_for, worker_env


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


def waiting_for_locks() -> int:
    """Backends of this database waiting for a lock (the chunks blocked on the run's row)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_sweep_run_whose_worker_was_killed_finishes_by_itself(tmp_path):
    """Issue 11: a worker killed mid-run left the run at 2/4 chunks for an hour (Redis's visibility timeout) with no
    alert. The dead worker's chunks roll back; the watchdog (beat inside the new worker) queues them again once the
    run stops moving, and the run finishes with every chunk counted once."""
    loans = [loan_with_schedule(("2024-01-01", "100.00")) for _ in range(8)]
    run = sweep_start(as_of=dt.date(2024, 1, 20), chunks=4)
    broker = RedisServer(tmp_path / "redis.log").start()
    log = tmp_path / "worker.log"
    env = worker_env(broker.url, WATCHDOG_INTERVAL_SECONDS="1", SWEEP_STALL_SECONDS="3")
    db = connection.settings_dict
    blocker = psycopg2.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"])
    worker = start_worker(env, log, concurrency=2)
    try:
        # Hold the run's row: each chunk does its work, then waits to record itself done — killed right there.
        with blocker.cursor() as cursor:
            cursor.execute("SELECT id FROM collections_app_sweeprun WHERE id = %s FOR UPDATE", [run.pk])
        for chunk in range(4):
            send_task(broker.url, "collections_app.tasks.sweep_chunk", run.pk, "2024-01-20", chunk, 4)
        assert wait_for(lambda: waiting_for_locks() == 2, seconds=60), log.read_text()[-3000:]
        kill_group(worker)
        killed = time.monotonic()
        blocker.rollback()
        run.refresh_from_db()
        assert run.chunks_done == 0 and run.finished_at is None
        worker = start_worker(env, log, beat_schedule=tmp_path / "beat-schedule")
        assert wait_for(lambda: SweepRun.objects.get(pk=run.pk).finished_at is not None, seconds=120), log.read_text()[
            -3000:
        ]
        recovered_in = time.monotonic() - killed
    finally:
        blocker.close()
        kill_group(worker)
        broker.stop()
    print(f"the run finished {recovered_in:.1f} s after the worker was killed")
    run.refresh_from_db()
    assert run.finished_chunks == [0, 1, 2, 3] and run.counts["open"] == 8 and run.requeues >= 1
    assert CollectionCase.objects.filter(loan__in=loans, state="reminder").count() == 8
