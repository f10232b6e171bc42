"""Benchmark of the borrower's page (issue 15): GET /p/<token> at 100,000 open cases, target p95 ≤ 150 ms.

`make bench` runs it after the pages benchmark, in the database the others filled (1,000,000 loans, 100,000 open
cases). Run alone on an empty or small database, it first builds the desk benchmark's book of 100,000 open cases
(``bench.desk_bench.build``). Either way it takes 300 borrowers with an open case at random, gives each of their
loans two unpaid installments (one overdue, one to come) and an amount overdue, issues each a link, and serves the
app with gunicorn (2 workers, DEBUG off, the per-address rate limit raised: every request comes from loopback) on
loopback. A load generator (4 threads, keep-alive sessions) opens the 300 links round-robin, 600 requests: each is
the whole page — the link, the borrower's loans, cases, installments and policies' minimums, the visit's audit row
(an INSERT), the payment forms and bank-transfer details. Prints p50/p95 beside the bare SQL of one request.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.scratch import URL, ensure_database, served  # noqa: E402

OPEN_CASES, BORROWERS, REQUESTS, THREADS = 100_000, 300, 600, 4
PORT = int(os.environ.get("BENCH_PORT", "8798"))
os.environ.update({"DATABASE_URL": URL, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "false"})


def prepare() -> list[str]:
    """100,000 open cases (built if missing), 300 borrowers with something overdue and a link each; their tokens."""
    from django.db import connection, transaction

    from bench.desk_bench import build
    from collections_app.models import OPEN_STATES, CollectionCase
    from loans.models import Installment, Loan
    from notifications.services import portal_links_issue

    open_cases = CollectionCase.objects.filter(state__in=OPEN_STATES)
    missing = OPEN_CASES - open_cases.count()
    if missing > 0:
        build(missing)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT borrower_id FROM {CollectionCase._meta.db_table} WHERE state IN %s "
            "ORDER BY borrower_id LIMIT 20000",
            [tuple(OPEN_STATES)],
        )
        candidates = [row[0] for row in cursor.fetchall()]
    chosen = random.Random(15).sample(candidates, min(BORROWERS, len(candidates)))
    today = dt.date.today()
    with transaction.atomic():
        for loan in Loan.objects.filter(borrower_id__in=chosen, status="active"):
            if not Installment.objects.filter(loan=loan, paid_on__isnull=True).exists():
                base = {"loan": loan, "principal_due": Decimal("100.00"), "interest_due": Decimal("0.00")}
                Installment.objects.bulk_create([
                    Installment(number=901, due_date=today - dt.timedelta(days=20), **base),
                    Installment(number=902, due_date=today + dt.timedelta(days=10), **base),
                ])  # fmt: skip
            if loan.amount_overdue <= 0:
                Loan.objects.filter(pk=loan.pk).update(amount_overdue=Decimal("100.00"), days_past_due=20,
                                                       outstanding_balance=Decimal("200.00"))  # fmt: skip
        tokens = portal_links_issue(borrower_ids=chosen)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"portal: {open_cases.count():,} open cases; {len(tokens)} borrowers with a link", flush=True)
    return list(tokens.values())


def load(base: str, tokens: list[str]) -> list[float]:
    times: list[float] = []
    lock = threading.Lock()
    counter = iter(range(REQUESTS))

    def worker() -> None:
        session = requests.Session()
        for token in tokens[:3]:
            assert session.get(f"{base}/p/{token}").status_code == 200  # warm up
        for n in counter:
            started = time.perf_counter()
            response = session.get(f"{base}/p/{tokens[n % len(tokens)]}")
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200 and 'data-testid="pay-form"' in response.text, response.status_code
            with lock:
                times.append(elapsed)

    pool = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sorted(times)


def bare_sql(token: str) -> tuple[float, int]:
    """The page's own queries, captured from one in-process request, run again alone: milliseconds (median of 5)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert Client().get(f"/p/{token}").status_code == 200
    statements = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    rounds = []
    with connection.cursor() as cursor:
        for _ in range(5):
            started = time.perf_counter()
            for sql in statements:
                if sql.startswith("INSERT"):
                    continue  # the visit's audit row: not written again
                cursor.execute(sql)
                if cursor.description:
                    cursor.fetchall()
            rounds.append((time.perf_counter() - started) * 1000)
    return statistics.median(rounds), len(statements)


def main() -> None:
    ensure_database()
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True)
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client accepts testserver as a host
    tokens = prepare()
    limits = {"PORTAL_RATE_PER_ADDRESS": "1000000", "PORTAL_RATE_PER_LINK": "1000000"}
    with served(PORT, **limits) as base:
        times = load(base, tokens)
        sql, queries = bare_sql(tokens[0])
        p50, p95 = statistics.median(times), times[int(len(times) * 0.95)]
        print(
            f"borrower's page: p50 {p50:.0f} ms, p95 {p95:.0f} ms over {len(times)} requests (target p95 ≤ 150 ms: "
            f"{'met' if p95 <= 150 else 'NOT met'}); bare SQL {sql:.1f} ms in {queries} queries"
        )


if __name__ == "__main__":
    main()
