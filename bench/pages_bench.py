"""Benchmark of the busiest pages (issue 6): `make bench` runs it after the sweep benchmark, in its database.

The sweep benchmark leaves 1,000,000 loans and about 83,000 open cases; this tops the open cases up to 100,000
(copies of an existing case on loans that have none), gives a collector 1,000 of them, and serves the app with
gunicorn (2 workers, DEBUG off) on loopback. A load generator (4 threads, keep-alive sessions) then requests:

- the collector's queue (first page, ordered by priority, with "call now?" for each row);
- the same queue for an admin, who sees all 100,000 open cases;
- case pages of random cases;
- the managers' pages (issue 14), for a manager whose team works every open case: the Portfolio landing page (and
  an admin's), the queue, the four escalation lists, /performance/ and /messages/.

It prints p50/p95 per page (target p95 ≤ 150 ms; managers' pages ≤ 300 ms) beside the time of the bare SQL the page
runs (the same queries, captured from one request, executed again on their own).
"""

from __future__ import annotations

import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.scratch import served  # noqa: E402

URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/collections_bench")
PORT = int(os.environ.get("BENCH_PORT", "8799"))
# The cache the app's processes share, as deployed (docker-compose: Redis): the performance page's figures live there.
CACHE = os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/12")
OPEN_CASES, MINE = 100_000, 1_000
PASSWORD = "bench-pass-2026"  # noqa: S105 - a throwaway account in the scratch database
os.environ.update({"DATABASE_URL": URL, "CACHE_URL": CACHE, "DJANGO_SETTINGS_MODULE": "config.settings",
                   "DEBUG": "false"})  # fmt: skip


def prepare() -> list[int]:
    """Top up to 100,000 open cases, make the users, give the collector 1,000 cases; returns some case ids."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection

    from collections_app.models import OPEN_STATES, CollectionCase

    users = get_user_model()
    admin = users.objects.filter(username="bench-admin").first() or users.objects.create_superuser("bench-admin")
    collector = users.objects.filter(username="bench.collector").first() or users.objects.create_user("bench.collector")
    manager = users.objects.filter(username="bench.manager").first() or users.objects.create_user("bench.manager")
    for user in (admin, collector, manager):
        user.set_password(PASSWORD)
        user.save()
    collector.groups.add(Group.objects.get(name="collector"))
    manager.groups.add(Group.objects.get(name="manager"))
    from collections_app.models import Team

    Team.objects.filter(pk=Team.objects.order_by("pk").values("pk")[:1]).update(manager=manager)  # the sweep's team
    open_cases = CollectionCase.objects.filter(state__in=OPEN_STATES)
    missing = OPEN_CASES - open_cases.count()
    with connection.cursor() as cursor:
        if missing > 0:
            table = CollectionCase._meta.db_table
            cursor.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name <> 'id'",
                [table],
            )
            columns = [row[0] for row in cursor.fetchall()]
            values = [
                "l.id" if c == "loan_id" else "l.borrower_id" if c == "borrower_id" else f't."{c}"' for c in columns
            ]
            cursor.execute(
                f"""
                INSERT INTO {table} ({", ".join(f'"{c}"' for c in columns)})
                SELECT {", ".join(values)}
                FROM loans_loan l
                CROSS JOIN (SELECT * FROM {table} WHERE state = 'reminder' ORDER BY id LIMIT 1) t
                WHERE NOT EXISTS (SELECT 1 FROM {table} c WHERE c.loan_id = l.id)
                ORDER BY l.id LIMIT %s
                """,
                [missing],
            )
        cursor.execute(
            f"UPDATE {CollectionCase._meta.db_table} SET assigned_to_id = %s WHERE id IN "
            f"(SELECT id FROM {CollectionCase._meta.db_table} WHERE state IN %s ORDER BY id LIMIT %s)",
            [collector.pk, tuple(OPEN_STATES), MINE],
        )
        # The steady state autovacuum keeps a live database in: statistics current, visibility map set (the
        # queue's count is an index-only scan).
        cursor.execute(f"VACUUM ANALYZE {CollectionCase._meta.db_table}")
    ids = list(open_cases.values_list("pk", flat=True).order_by("?")[:200])
    print(f"pages: {open_cases.count():,} open cases, {MINE:,} assigned to the collector")
    return ids


def signed_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    if username.startswith("token:"):  # the API: a token, as lenders' systems call it
        session.headers["Authorization"] = f"Token {username.removeprefix('token:')}"
        return session
    page = session.get(f"{base}/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
    )
    assert answer.ok and "whoami" in answer.text, answer.text[:300]
    return session


def load(base: str, username: str, paths: list[str], requests_total: int = 120, threads: int = 4) -> list[float]:
    """Request the paths round-robin from ``threads`` keep-alive sessions; the latencies in milliseconds."""
    times: list[float] = []
    lock = threading.Lock()
    counter = iter(range(requests_total))

    def worker() -> None:
        session = signed_in(base, username)
        for path in paths[:3]:
            session.get(base + path)  # warm up (and fail early on a bad login)
        for n in counter:
            started = time.perf_counter()
            response = session.get(base + paths[n % len(paths)])
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (response.status_code, paths[n % len(paths)])
            with lock:
                times.append(elapsed)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sorted(times)


def bare_sql(username: str, path: str) -> float:
    """The page's own queries, captured from one in-process request, run again alone: milliseconds (median of 5)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    if username.startswith("token:"):
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {username.removeprefix('token:')}"
    else:
        client.force_login(get_user_model().objects.get(username=username))
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    statements = []
    for query in ctx.captured_queries:
        sql = query["sql"]
        if sql.startswith(("SAVEPOINT", "RELEASE", "FETCH", "CLOSE")):
            continue
        if sql.startswith("DECLARE"):  # a server-side cursor (.iterator()): its query, run whole
            sql = sql.split(" CURSOR WITH HOLD FOR ", 1)[-1].split(" CURSOR FOR ", 1)[-1]
        statements.append(sql)
    rounds = []
    with connection.cursor() as cursor:
        for _ in range(5):
            started = time.perf_counter()
            for sql in statements:
                cursor.execute(sql)
                if cursor.description:
                    cursor.fetchall()
            rounds.append((time.perf_counter() - started) * 1000)
    return statistics.median(rounds), len(statements)


def figures_afresh() -> None:
    """The performance page reads figures that beat recomputes every few minutes (PERFORMANCE_FIGURES_SECONDS):
    time that computation for the manager (5 rounds), then leave every scope's default view ready in the shared
    cache, as beat does."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from collections_app.selectors.reports import performance_figures, refresh_performance_figures

    manager = get_user_model().objects.get(username="bench.manager")
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        performance_figures(user=manager, days=30, fresh=True)
        rounds.append((time.perf_counter() - started) * 1000)
    refresh_performance_figures()
    print(
        f"manager: performance figures computed afresh (beat does it every "
        f"{settings.PERFORMANCE_FIGURES_SECONDS * 0.8:.0f} s): median {statistics.median(rounds):.0f} ms, "
        f"max {max(rounds):.0f} ms"
    )


def main() -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True)
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client accepts testserver as a host
    case_ids = prepare()
    with served(PORT, CACHE_URL=CACHE) as base:
        from django.contrib.auth import get_user_model
        from rest_framework.authtoken.models import Token

        token = Token.objects.get_or_create(user=get_user_model().objects.get(username="bench-admin"))[0].key
        pages = [
            (
                "API case list (100,000 open cases, filtered, by priority)",
                f"token:{token}",
                ["/api/v1/cases/?state=reminder&state=formal_notice&ordering=-priority"],
            ),
            ("collector queue", "bench.collector", ["/cases/"]),
            ("admin queue (all open cases)", "bench-admin", ["/cases/"]),
            ("case page", "bench-admin", [f"/cases/{pk}/" for pk in random.Random(7).sample(case_ids, 50)]),
            ("manager: Portfolio (landing page)", "bench.manager", ["/"]),
            ("admin: Portfolio (landing page)", "bench-admin", ["/"]),
            ("manager: queue", "bench.manager", ["/cases/"]),
            ("manager: escalations, legal review", "bench.manager", ["/escalations/"]),
            ("manager: escalations, plans waiting", "bench.manager", ["/escalations/plans/"]),
            ("manager: escalations, compliance exceptions", "bench.manager", ["/escalations/exceptions/"]),
            ("manager: escalations, recent denials", "bench.manager", ["/escalations/denials/"]),
            ("manager: performance", "bench.manager", ["/performance/"]),
            ("manager: messages", "bench.manager", ["/messages/"]),
        ]
        only = os.environ.get("BENCH_PAGES", "")  # a regular expression, e.g. "^manager:" for the managers' pages
        for label, user, paths in pages:
            if not re.search(only, label):
                continue
            if label == "manager: performance":
                figures_afresh()
            times = load(base, user, paths)
            sql, queries = bare_sql(user, paths[0])
            p50, p95 = statistics.median(times), times[int(len(times) * 0.95)]
            target = 100 if label.startswith("API") else 300 if label.startswith(("manager", "admin:")) else 150
            print(
                f"{label}: p50 {p50:.0f} ms, p95 {p95:.0f} ms over {len(times)} requests (target p95 ≤ {target} ms: "
                f"{'met' if p95 <= target else 'NOT met'}); bare SQL {sql:.0f} ms in {queries} queries"
            )


if __name__ == "__main__":
    main()
