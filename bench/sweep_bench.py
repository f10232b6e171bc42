"""Benchmark of the daily sweep (issue: collection cases): `make bench` (or `python bench/sweep_bench.py`).

Seeds a PostgreSQL database (default ``collections_bench`` on 127.0.0.1, dropped and recreated; BENCH_DATABASE_URL
overrides) with LOANS loans of six monthly installments, about 10 % of them overdue at every depth, then:

1. computes every loan's balances as import_loans does at intake (as of the day before);
2. times the bare SQL that only recomputes days past due for the same rows (one UPDATE … FROM aggregate, rolled
   back so it changes nothing);
3. runs the real sweep on a real Celery worker (2 processes, Redis broker, 4 chunks) for the date — the first
   sweep, which opens a case for every overdue loan — and again for the next day, the steady daily case;
4. reports wall times, the ratio to the bare SQL, and the peak resident memory of the worker's processes.

Targets (issue 3): sweep ≤ 60 s, ≤ 3 times the bare SQL, worker peak ≤ 500 MB.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.scratch import NAME, URL, add_collectors_team, connect  # noqa: E402
from bench.seeds import SWEEP_SEED as SEED  # noqa: E402

BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
LOANS = int(os.environ.get("BENCH_LOANS", "1000000"))
AS_OF = dt.date(2026, 6, 15)
ENV = {
    **os.environ,
    "DATABASE_URL": URL,
    "CELERY_BROKER_URL": BROKER,
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "LOG_LEVEL": "INFO",
    "SWEEP_CHUNKS": "4",
}
WORKER_LOG = Path(os.environ.get("BENCH_WORKER_LOG", str(ROOT / "var" / "sweep-bench-worker.log")))


def recreate_database() -> None:
    admin = connect("postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{NAME}"')
    admin.close()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=ENV, check=True)


BARE_DPD = """
UPDATE loans_loan l SET days_past_due = COALESCE(%(as_of)s::date - a.oldest, 0)
FROM (SELECT loan_id, MIN(due_date) FILTER (WHERE due_date < %(as_of)s AND (paid_on IS NULL OR paid_on > %(as_of)s))
             AS oldest
      FROM loans_installment GROUP BY loan_id) a
WHERE l.id = a.loan_id
"""


def seed() -> float:
    started = time.perf_counter()
    conn = connect()
    with conn, conn.cursor() as cur:
        cur.execute(SEED, {"n": LOANS, "as_of": AS_OF})
        add_collectors_team(cur, team="Bench", prefix="bench")
    conn.close()
    return time.perf_counter() - started


def snapshot_as_intake_does(as_of: dt.date) -> float:
    """import_loans computes each loan's balances when it arrives; do the same for the seeded book, as of the day
    before the benchmark's first sweep (so that sweep sees a book as it would be after intake)."""
    conn = connect()
    started = time.perf_counter()
    with conn, conn.cursor() as cur:
        cur.execute(
            """
            UPDATE loans_loan l SET overdue_since = a.oldest, days_past_due = COALESCE(%(d)s::date - a.oldest, 0),
                   amount_overdue = a.overdue, outstanding_balance = a.outstanding, balances_as_of = %(d)s
            FROM (SELECT loan_id,
                         MIN(due_date) FILTER (WHERE due_date < %(d)s AND (paid_on IS NULL OR paid_on > %(d)s)) oldest,
                         COALESCE(SUM(principal_due - principal_paid) FILTER (WHERE due_date < %(d)s
                                  AND (paid_on IS NULL OR paid_on > %(d)s)), 0) overdue,
                         SUM(principal_due - principal_paid) outstanding
                  FROM loans_installment GROUP BY loan_id) a
            WHERE l.id = a.loan_id
            """,
            {"d": as_of},
        )
        cur.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


def bare_dpd(as_of: dt.date) -> float:
    conn = connect()
    with conn.cursor() as cur:
        started = time.perf_counter()
        cur.execute(BARE_DPD, {"as_of": as_of})
        elapsed = time.perf_counter() - started
    conn.rollback()
    conn.close()
    return elapsed


def peak_rss_mb(pids: list[int]) -> float:
    peak = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except FileNotFoundError:
            continue
    return peak / 1024


def worker_pids(main: int) -> list[int]:
    children = subprocess.run(["pgrep", "-P", str(main)], capture_output=True, text=True).stdout.split()
    return [main, *map(int, children)]


def sweep_on_worker(as_of: dt.date) -> tuple[float, float, dict]:
    """Start a Celery worker, run the daily sweep task for ``as_of`` through Redis, wait for the run to finish."""
    subprocess.run(["redis-cli", "-u", BROKER, "flushdb"], check=True, capture_output=True)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-c",
            "2",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=WORKER_LOG.open("a"),  # a file, never an unread pipe: a full pipe would stall the worker
    )
    try:
        conn = connect()  # the worker connects on its own; the task waits in Redis until it does
        conn.autocommit = True
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); from collections_app.tasks import daily_sweep; "
                f"daily_sweep.delay('{as_of.isoformat()}', 4)",
            ],
            cwd=ROOT,
            env=ENV,
            check=True,
        )
        deadline = time.monotonic() + 900
        counts: dict = {}
        pids = worker_pids(worker.pid)
        peak = 0.0
        while time.monotonic() < deadline:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT finished_at IS NOT NULL, counts FROM collections_app_sweeprun WHERE as_of = %s "
                    "ORDER BY id DESC LIMIT 1",
                    [as_of],
                )
                row = cur.fetchone()
            pids = worker_pids(worker.pid) or pids
            peak = max(peak, peak_rss_mb(pids))
            if row and row[0]:
                counts = row[1]
                break
            if worker.poll() is not None:
                raise RuntimeError(f"worker died: see {WORKER_LOG}")
            time.sleep(0.2)
        else:
            raise RuntimeError("the sweep did not finish within 15 minutes")
        elapsed = time.perf_counter() - started
        peak = max(peak, peak_rss_mb(worker_pids(worker.pid)))
        conn.close()
        return elapsed, peak, counts
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


def main() -> None:
    print(f"== sweep benchmark: {LOANS:,} loans, about 10 % overdue, PostgreSQL {URL.rsplit('/', 1)[-1]}")
    recreate_database()
    print(
        f"seeded in {seed():.1f} s; balances computed as intake does (as of the day before) in "
        f"{snapshot_as_intake_does(AS_OF - dt.timedelta(days=1)):.1f} s"
    )
    bare = bare_dpd(AS_OF)
    print(f"bare SQL recomputing days past due for every loan: {bare:.2f} s")
    first, first_peak, counts = sweep_on_worker(AS_OF)
    print(
        f"first sweep ({AS_OF}, opens every case): {first:.2f} s, {first / bare:.1f}x bare, "
        f"worker peak {first_peak:.0f} MB; opened {counts.get('open', 0):,} cases, "
        f"planned {counts.get('messages_planned', 0):,} messages, assigned {counts.get('assigned', 0):,}"
    )
    next_day = AS_OF + dt.timedelta(days=1)
    bare_next = bare_dpd(next_day)
    daily, daily_peak, counts = sweep_on_worker(next_day)
    print(
        f"daily sweep ({next_day}): {daily:.2f} s, {daily / bare_next:.1f}x bare ({bare_next:.2f} s), "
        f"worker peak {daily_peak:.0f} MB; {counts.get('loans_refreshed', 0):,} loans changed"
    )
    ok = max(first, daily) <= 60 and daily / bare_next <= 3 and max(first_peak, daily_peak) <= 500
    print(f"targets (≤ 60 s, ≤ 3x bare for the daily sweep, ≤ 500 MB): {'met' if ok else 'NOT met'}")
    print(f"per-step timings of the worker: {WORKER_LOG}")


if __name__ == "__main__":
    main()
