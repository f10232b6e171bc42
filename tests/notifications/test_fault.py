"""The fault tests: real worker processes and real faults. A worker killed with SIGKILL in the middle of a batch,
then a new one; Redis restarted (its queue lost) in the middle of dispatch. Every message must end sent exactly once
or in review, none lost, none duplicated — counted at the (fake) provider."""

import datetime as dt
import os
import signal
import time
from pathlib import Path

import pytest
from django.conf import settings

from config.celery import app
from notifications.models import OutboundMessage
from notifications.services import outbox_reap
from notifications.tasks import dispatch_due
from tests.notifications.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE, due_message
from tests.workers import RedisServer, kill_group, send_task, wait_for, worker_env
from tests.workers import start_worker as start_celery_worker


def twilio_env(fake_url: str) -> dict[str, str]:
    return {
        "NOTIFICATIONS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": "+15005550006",
        "TWILIO_WEBHOOK_BASE_URL": PUBLIC_BASE,
        "TWILIO_API_BASE_URL": fake_url,
    }


def start_worker(fake_url: str, log: Path):
    env = worker_env(
        settings.CELERY_BROKER_URL, **twilio_env(fake_url), OUTBOX_BATCH_SIZE="10", PROVIDER_CONCURRENCY="4"
    )
    return start_celery_worker(env, log)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(fake_twilio, tmp_path):
    with app.connection_for_write() as conn:
        for queue in ("celery", "provider"):
            conn.default_channel.queue_purge(queue)
    fake_twilio.delay = 0.15  # a slow provider, so that the kill lands while a batch is being sent
    messages = {m.pk: number for m, number in (due_message() for _ in range(30))}
    log = tmp_path / "worker.log"
    worker = start_worker(fake_twilio.url, log)
    try:
        dispatch_due.delay()
        assert wait_for(lambda: len(fake_twilio.requests) >= 4, seconds=90), log.read_text()[-3000:]
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        killed_at = len(fake_twilio.requests)
        assert killed_at < 30, "the kill came too late to interrupt a batch"
        # The claims the dead worker held: never sent → planned again; maybe sent → review.
        reaped = outbox_reap(older_than=dt.timedelta(0))
        assert reaped["returned"] > 0
        worker = start_worker(fake_twilio.url, log)
        fake_twilio.delay = 0
        dispatch_due.delay()
        assert wait_for(
            lambda: not OutboundMessage.objects.filter(status__in=["planned", "claimed"]).exists(), seconds=120
        ), log.read_text()[-3000:]
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    rows = {m.pk: m for m in OutboundMessage.objects.filter(pk__in=messages)}
    statuses = [m.status for m in rows.values()]
    assert set(statuses) <= {"sent", "review"}, statuses
    assert statuses.count("review") <= 4  # at most the messages in flight (PROVIDER_CONCURRENCY) when it died
    for pk, number in messages.items():
        requests = fake_twilio.count(To=number)
        if rows[pk].status == "sent":
            assert requests == 1, (pk, requests)
        else:
            assert requests <= 1 and rows[pk].send_started_at is not None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_redis_restart_mid_dispatch_loses_no_message_and_sends_none_twice(fake_twilio, tmp_path):
    """Issue 11: a Redis restart lost every queued batch, whose claims then waited 10-16 minutes for the reaper. The
    watchdog (beat inside the worker, every second here) takes the orphaned claims back and queues them again."""
    broker = RedisServer(tmp_path / "redis.log").start()
    fake_twilio.delay = 0.2  # slow enough that the restart lands while batches wait in the queue
    messages = {m.pk: number for m, number in (due_message() for _ in range(30))}
    log = tmp_path / "worker.log"
    env = worker_env(broker.url, **twilio_env(fake_twilio.url), OUTBOX_BATCH_SIZE="5", PROVIDER_CONCURRENCY="2",
                     WATCHDOG_INTERVAL_SECONDS="1", OUTBOX_CLAIM_TIMEOUT_SECONDS="3")  # fmt: skip
    worker = start_celery_worker(env, log, beat_schedule=tmp_path / "beat-schedule")
    try:
        assert wait_for(lambda: "ready." in log.read_text(), seconds=60), log.read_text()[-3000:]
        send_task(broker.url, "notifications.tasks.dispatch_due")
        assert wait_for(lambda: len(fake_twilio.requests) >= 2, seconds=60), log.read_text()[-3000:]
        broker.restart()  # no persistence: every batch still queued is gone
        restarted = time.monotonic()
        waiting = OutboundMessage.objects.filter(status="claimed", send_started_at__isnull=True).count()
        fake_twilio.delay = 0
        assert wait_for(
            lambda: not OutboundMessage.objects.filter(status__in=["planned", "claimed"]).exists(), seconds=120
        ), log.read_text()[-3000:]
        recovered_in = time.monotonic() - restarted
    finally:
        kill_group(worker)
        broker.stop()
    assert waiting > 5, "the restart came too late to lose queued batches"
    assert "claims returned" in log.read_text()  # the watchdog, not luck, brought them back
    print(f"every message sent {recovered_in:.1f} s after the Redis restart")
    rows = {m.pk: m for m in OutboundMessage.objects.filter(pk__in=messages)}
    assert {m.status for m in rows.values()} == {"sent"}, [(m.status, m.status_reason) for m in rows.values()]
    for number in messages.values():
        assert fake_twilio.count(To=number) == 1, number
