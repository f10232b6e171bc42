"""Real processes for the fault tests: a Celery worker started as the deployment starts it (optionally with beat
inside it, running the watchdog), and a Redis server of the test's own that it can restart — never the shared one."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis
from celery import Celery
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, seconds: float = 60, every: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it holds or ``seconds`` pass (tests never sleep for work to happen)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


class RedisServer:
    """``redis-server`` on a free port, without persistence: a restart loses every queued message, as a Redis
    restart without AOF does in production."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--daemonize", "no"]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=self.log.open("a"), stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url)
        assert wait_for(lambda: _pings(client), seconds=20), self.log.read_text()[-2000:]
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)

    def restart(self) -> None:
        self.stop()
        self.start()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.exceptions.ConnectionError:
        return False


def worker_env(broker_url: str, **extra: str) -> dict[str, str]:
    """The environment of a worker on the test database and the given broker; the watchdog's timings short and the
    daily sweep's hour far from now (beat must not start one)."""
    db = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker_url,
        "SWEEP_HOUR_UTC": str((dt.datetime.now(dt.UTC).hour + 12) % 24),
        **extra,
    }


def start_worker(
    env: dict[str, str], log: Path, *, concurrency: int = 1, beat_schedule: Path | None = None
) -> subprocess.Popen:
    """``celery worker`` on both queues (prefork, as deployed) in its own process group; with ``beat_schedule``, beat
    runs inside it (the watchdog) on a schedule file instead of the database scheduler."""
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "celery,provider",
               f"--concurrency={concurrency}", "--without-gossip", "--without-mingle", "--loglevel=INFO"]  # fmt: skip
    if beat_schedule is not None:
        command += ["-B", "--scheduler", "celery.beat:PersistentScheduler", "-s", str(beat_schedule)]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("a"), stderr=subprocess.STDOUT, start_new_session=True
    )


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the worker and its pool processes (a crash, an OOM kill)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def send_task(broker_url: str, name: str, *args: object) -> None:
    """Queue a task by name on ``broker_url`` (this process's app publishes to CELERY_BROKER_URL, which Celery reads
    from the environment before any setting)."""
    publisher = Celery("publisher")
    try:
        with publisher.connection_for_write(broker_url) as conn:
            publisher.send_task(name, args=list(args), connection=conn)
    finally:
        publisher.close()


def drop_connection_of(pid: int) -> None:
    """What a PostgreSQL restart does to a worker: its connection (backend ``pid``) is closed under it."""
    import psycopg2

    db = connection.settings_dict
    admin = psycopg2.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"])
    try:
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        admin.close()
