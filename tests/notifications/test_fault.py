"""The fault test: a real worker process, killed with SIGKILL in the middle of a batch, then a new one. Every
message must end sent exactly once or in review, none lost, none duplicated — counted at the (fake) provider."""

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from collections_app.celery import app
from notifications.models import OutboundMessage
from notifications.services import outbox_reap
from notifications.tasks import dispatch_due
from tests.notifications.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE, due_message
from tests.notifications.test_dispatch_on_celery import wait_for

ROOT = Path(__file__).resolve().parents[2]


def start_worker(fake_url: str, log: Path) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "NOTIFICATIONS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": "+15005550006",
        "TWILIO_WEBHOOK_BASE_URL": PUBLIC_BASE,
        "TWILIO_API_BASE_URL": fake_url,
        "OUTBOX_BATCH_SIZE": "10",
        "PROVIDER_CONCURRENCY": "4",
    }
    command = [sys.executable, "-m", "celery", "-A", "collections_app", "worker", "-Q", "celery,provider",
               "--concurrency=1", "--without-gossip", "--without-mingle", "--loglevel=INFO"]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("a"), stderr=subprocess.STDOUT, start_new_session=True
    )


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
