"""The sweep after a fault: a chunk runs once however often it is queued, the watchdog queues again the chunks of a
stalled run, ``run_sweep`` finishes an unfinished run, a run past its deadline is reported, and a chunk survives the
database dropping its connection."""

import datetime as dt
import logging

import psycopg2
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from collections_app.models import CollectionCase, SweepRun
from collections_app.sweep import _chunk_lock_key, sweep_chunk_run, sweep_start, sweep_watchdog
from collections_app.tasks import sweep_chunk_task
from tests.factories import loan_with_schedule, user_with_role
from tests.workers import drop_connection_of

AS_OF = dt.date(2024, 1, 20)


def overdue_loans(n):
    return [loan_with_schedule(("2024-01-01", "100.00")) for _ in range(n)]


def run_chunk(run, chunk, **kwargs):
    return sweep_chunk_run(run_id=run.pk, as_of=run.as_of, chunk=chunk, chunks=run.chunks, **kwargs)


def age(run, seconds):
    SweepRun.objects.filter(pk=run.pk).update(progress_at=timezone.now() - dt.timedelta(seconds=seconds))


@pytest.mark.django_db
def test_a_chunk_queued_twice_runs_once():
    overdue_loans(4)
    run = sweep_start(as_of=AS_OF, chunks=2)
    assert run_chunk(run, 0) is True
    assert run_chunk(run, 0) is False  # the watchdog's copy, or a redelivery
    assert run_chunk(run, 1) is True
    run.refresh_from_db()
    assert run.finished_at is not None and run.counts["open"] == 4 and run.finished_chunks == [0, 1]
    assert run_chunk(run, 1) is False  # a late copy of a finished run's chunk


@pytest.mark.django_db
def test_run_sweep_finishes_an_unfinished_run_for_the_same_date_instead_of_starting_over():
    loans = overdue_loans(6)
    run = sweep_start(as_of=AS_OF, chunks=4)
    run_chunk(run, 0)
    run_chunk(run, 2)  # the worker running 1 and 3 was killed
    call_command("run_sweep", "--as-of", AS_OF.isoformat())
    assert SweepRun.objects.filter(as_of=AS_OF).count() == 1
    run.refresh_from_db()
    assert run.finished_at is not None and run.finished_chunks == [0, 1, 2, 3] and run.counts["open"] == 6
    assert CollectionCase.objects.filter(loan__in=loans).count() == 6


@pytest.mark.django_db
def test_a_run_started_by_beat_sweeps_each_product_for_its_date_of_the_start_even_when_resumed_later():
    loans = overdue_loans(3)
    product = loans[0].product
    run = sweep_start(as_of=AS_OF, chunks=2, local_dates=True)
    assert set(run.product_dates) == {str(product.pk)}
    SweepRun.objects.filter(pk=run.pk).update(product_dates={str(product.pk): "2024-01-20"})  # started that day
    sweep_chunk_task(run.pk, None, 0, 2)  # resumed days later: still swept as of the run's date
    sweep_chunk_task(run.pk, None, 1, 2)
    case = CollectionCase.objects.get(loan=loans[0])
    assert case.opened_on == dt.date(2024, 1, 20) and case.days_past_due == 19


@pytest.mark.django_db
def test_the_watchdog_queues_again_the_unfinished_chunks_of_a_stalled_run(settings):
    settings.SWEEP_STALL_SECONDS = 60
    overdue_loans(4)
    older = sweep_start(as_of=dt.date(2024, 1, 19), chunks=2)  # superseded by the next one: left alone
    run = sweep_start(as_of=AS_OF, chunks=4)
    run_chunk(run, 0)
    run_chunk(run, 2)
    assert sweep_watchdog() is None  # a chunk finished just now: the run moves
    age(run, 61)
    age(older, 3600)
    stalled, chunks = sweep_watchdog()
    assert stalled.pk == run.pk and chunks == [1, 3]
    assert sweep_watchdog() is None  # queued again just now: give them the stall time to run
    run.refresh_from_db()
    assert run.requeues == 1
    run_chunk(run, 1)
    run_chunk(run, 3)
    age(run, 3600)
    assert sweep_watchdog() is None  # finished


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_chunk_a_worker_is_running_is_neither_run_twice_nor_queued_again(settings):
    settings.SWEEP_STALL_SECONDS = 60
    overdue_loans(2)
    run = sweep_start(as_of=AS_OF, chunks=2)
    age(run, 61)
    db = connection.settings_dict
    worker = psycopg2.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"])
    try:
        with worker.cursor() as cursor:  # another worker's transaction holds chunk 1
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_chunk_lock_key(run.pk, 1)])
        assert run_chunk(run, 1) is False
        assert sweep_watchdog()[1] == [0]
    finally:
        worker.rollback()
        worker.close()
    assert run_chunk(run, 1) is True  # the other worker died: its transaction rolled back, the lock went with it


@pytest.mark.django_db
def test_a_run_unfinished_past_its_deadline_is_logged_once_and_shown_to_managers(settings, caplog):
    settings.SWEEP_DEADLINE_MINUTES = 30
    overdue_loans(2)
    run = sweep_start(as_of=AS_OF, chunks=2)
    run_chunk(run, 0)
    manager, collector = Client(), Client()
    manager.force_login(user_with_role("manager", "morgan"))
    collector.force_login(user_with_role("collector", "casey"))
    assert "sweep-overdue" not in manager.get(reverse("home")).content.decode()  # not late yet
    SweepRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - dt.timedelta(minutes=31))
    with caplog.at_level(logging.WARNING, logger="collections_app.sweep"):
        sweep_watchdog()
        sweep_watchdog()
    alerts = [r for r in caplog.records if r.levelno == logging.ERROR and "unfinished 30 minutes" in r.getMessage()]
    assert len(alerts) == 1
    page = manager.get(reverse("case-queue")).content.decode()
    assert 'data-testid="sweep-overdue"' in page and "1/2" in page and AS_OF.isoformat() in page
    assert "sweep-overdue" not in collector.get(reverse("case-queue")).content.decode()
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("root", password="x-long-pass-1"))
    assert 'data-testid="sweep-overdue"' in admin.get(reverse("admin:index")).content.decode()  # the Django admin too
    run_chunk(run, 1)
    assert "sweep-overdue" not in manager.get(reverse("home")).content.decode()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_chunk_runs_again_when_the_database_dropped_its_connection(settings):
    """A PostgreSQL restart closes every connection: the chunk's task tries again instead of failing."""
    settings.DB_RETRY_DELAYS = [0.05, 0.1]
    loans = overdue_loans(2)
    run = sweep_start(as_of=AS_OF, chunks=1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        drop_connection_of(cursor.fetchone()[0])
    try:
        assert sweep_chunk_task(run.pk, AS_OF.isoformat(), 0, 1) is True
    finally:
        connection.close()
    run.refresh_from_db()
    assert run.finished_at is not None
    assert CollectionCase.objects.filter(loan__in=loans).count() == 2
