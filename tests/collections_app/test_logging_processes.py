"""Personal data never reaches the logs of a real process: the Celery worker and beat (which replace the root
logger's handlers with their own), runserver and gunicorn (which log each request line with its query string) and a
management command. Each test starts the process as `make run` or docker-compose does and reads what it printed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from config.celery import app
from core.logging import mask_text
from notifications.models import OutboundMessage
from notifications.tasks import dispatch_due
from tests.factories import user_with_role
from tests.notifications.conftest import due_message
from tests.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NUMBER = "+8618962328931"
MASKED = mask_text(NUMBER)  # *********8931


def environment(**extra: str) -> dict[str, str]:
    """The test database and broker, the embedded default's console provider."""
    db = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "NOTIFICATIONS_BACKEND": "console",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@contextmanager
def running(command: list[str], log: Path, **env: str) -> Iterator[subprocess.Popen]:
    with log.open("a") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment(**env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def purge_queues() -> None:
    with app.connection_for_write() as conn:
        for queue in ("celery", "provider"):
            conn.default_channel.queue_purge(queue)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (a loopback URL the test built)
            return True
    except (OSError, urllib.error.URLError):
        return False


def get_signed_in(url: str) -> int:
    """GET as a manager with a session (stored in the test database, which the server process reads)."""
    client = Client()
    client.force_login(user_with_role("manager", "mia"))
    request = urllib.request.Request(  # noqa: S310
        url, headers={"Cookie": f"sessionid={client.cookies['sessionid'].value}", "Referer": url}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return response.status


def assert_masked(log: Path) -> str:
    text = log.read_text()
    assert NUMBER not in text and NUMBER[1:] not in text, text[-3000:]
    return text


def test_the_celery_worker_masks_the_numbers_the_console_provider_logs(tmp_path):
    purge_queues()
    message, number = due_message(phone=NUMBER)
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "celery,provider",
               "--concurrency=1", "--without-gossip", "--without-mingle", "--loglevel=INFO"]  # fmt: skip
    with running(command, log):
        dispatch_due.delay()
        # Sent, and (the console backend reports delivery as Twilio would) delivered or not.
        handed_over = OutboundMessage.objects.filter(pk=message.pk, status__in=["sent", "delivered", "failed"])
        sent = wait_for(handed_over.exists, seconds=90)
        assert sent, log.read_text()[-3000:]
        assert wait_for(lambda: "console SMS to" in log.read_text(), seconds=10), log.read_text()[-3000:]
    assert number == NUMBER
    text = assert_masked(log)
    assert f"console SMS to {MASKED}" in text


def test_celery_beat_masks_what_it_logs(tmp_path):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_second = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name=f"call back {NUMBER}", task="notifications.tasks.reap_claims",
                                interval=every_second)  # fmt: skip
    log = tmp_path / "beat.log"
    command = [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO", "--pidfile=",
               "--schedule", str(tmp_path / "beat-schedule")]  # fmt: skip
    try:
        with running(command, log):
            assert wait_for(lambda: f"call back {MASKED}" in log.read_text(), seconds=60), log.read_text()[-3000:]
    finally:
        purge_queues()
    assert_masked(log)


def test_runserver_masks_a_queue_search_by_phone_number_in_its_request_log(tmp_path):
    port = free_port()
    log = tmp_path / "runserver.log"
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    with running(command, log):
        assert wait_for(lambda: answers(f"http://127.0.0.1:{port}/healthz"), seconds=60), log.read_text()[-3000:]
        assert get_signed_in(f"http://127.0.0.1:{port}/cases/?q=%2B8618962328931") == 200
        assert wait_for(lambda: "/cases/?q=" in log.read_text(), seconds=10), log.read_text()[-3000:]
    text = assert_masked(log)
    assert "2B8618962328931" not in text
    assert f"GET /cases/?q={MASKED} HTTP/1.1" in text


def test_gunicorn_masks_the_query_string_and_referrer_in_its_access_log(tmp_path):
    port = free_port()
    log = tmp_path / "gunicorn.log"
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application",
               "--config", "python:config.gunicorn_conf", "--bind", f"127.0.0.1:{port}", "--workers", "1",
               "--access-logfile", "-"]  # fmt: skip
    with running(command, log):
        assert wait_for(lambda: answers(f"http://127.0.0.1:{port}/healthz"), seconds=60), log.read_text()[-3000:]
        assert get_signed_in(f"http://127.0.0.1:{port}/cases/?q=%2B8618962328931&stage=reminder") == 200
        assert wait_for(lambda: "/cases/?q=" in log.read_text(), seconds=10), log.read_text()[-3000:]
    text = assert_masked(log)
    assert "2B8618962328931" not in text
    assert f'"GET /cases/?q={MASKED}&stage=reminder HTTP/1.1" 200' in text
    assert f'"http://127.0.0.1:{port}/cases/?q={MASKED}&stage=reminder"' in text  # the referrer


def test_a_management_command_masks_what_it_logs_on_every_logger(tmp_path):
    script = (
        "import logging; from notifications.providers import provider_get; "
        f"provider_get().send_sms(to='{NUMBER}', body='test', status_callback=''); "
        f"logging.getLogger('django.request').warning('Bad Request: /cases/?q={NUMBER}')"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    text = result.stdout + result.stderr
    assert result.returncode == 0, text[-3000:]
    assert NUMBER not in text and NUMBER[1:] not in text, text
    assert f"console SMS to {MASKED}" in text and "Bad Request: /cases/?q=" in text
