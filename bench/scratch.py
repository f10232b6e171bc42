"""The benchmarks' scratch PostgreSQL database (``BENCH_DATABASE_URL``, default ``collections_bench``): one
connection helper, creating the database when a benchmark runs alone, and the team of collectors the sweep's
assignment deals cases to."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import psycopg2
import requests

URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/collections_bench")
NAME = urlparse(URL).path.lstrip("/")


def connect(dbname: str | None = None):  # type: ignore[no-untyped-def]
    parts = urlparse(URL)
    return psycopg2.connect(host=parts.hostname, port=parts.port or 5432, user=parts.username or "postgres",
                            password=parts.password, dbname=dbname or NAME)  # fmt: skip


def ensure_database() -> None:
    """Create the scratch database if it does not exist yet (`make bench` creates it in its first benchmark)."""
    admin = connect("postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [NAME])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{NAME}"')
    admin.close()


def add_collectors_team(cur, *, team: str, prefix: str, collectors: int = 20) -> None:  # type: ignore[no-untyped-def]
    """An English-speaking team of ``collectors`` active collectors (usernames ``prefix1``…) taking new cases, so
    that assignment has real work to do."""
    cur.execute(
        """
        INSERT INTO collections_app_team (name, language, timezone, collectors_see_team_cases)
            VALUES (%(team)s, 'en', 'America/New_York', false);
        INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                               is_active, date_joined)
        SELECT '!', false, %(prefix)s || g, '', '', '', false, true, now() FROM generate_series(1, %(n)s) g;
        INSERT INTO auth_user_groups (user_id, group_id)
        SELECT u.id, g.id FROM auth_user u, auth_group g WHERE u.username LIKE %(like)s AND g.name = 'collector';
        INSERT INTO collections_app_teammembership (user_id, team_id, accepts_new_cases)
        SELECT u.id, t.id, true FROM auth_user u, collections_app_team t
        WHERE u.username LIKE %(like)s AND t.name = %(team)s;
        """,
        {"team": team, "prefix": prefix, "n": collectors, "like": prefix + "%"},
    )


@contextmanager
def served(port: int, **env: str) -> Iterator[str]:
    """The app under gunicorn (2 workers, DEBUG off as the benchmark's environment says) on loopback ``port``, with
    ``env`` added to its environment, until the block ends; yields its base URL once /healthz answers (60 s
    deadline, or the server's exit, fail the benchmark)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--workers", "2", "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "ALLOWED_HOSTS": "127.0.0.1,localhost", **env},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.RequestException:  # not listening yet, or still starting its workers
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
