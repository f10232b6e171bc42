"""Benchmark of the policy dry-run (issue 14, item 4): "Preview impact" at 100,000 open cases; target ≤ 30 s.

`make bench` runs it last, in the database the other benchmarks filled (about 100,000 open cases after
pages_bench and desk_bench), previewing the sweep of the day the last finished sweep ran for (that sweep has run;
the admin now edits the policy). Run alone against a database with fewer open cases (BENCH_DATABASE_URL; created if
missing), it first builds a book of its own: 206,000 loans of six monthly installments, half of them overdue
1 to 120 days (each borrower with a consented mobile, in Massachusetts), and sweeps it once, which opens about
100,400 cases and plans their messages.

Then it times ``policy_preview`` — the whole of what the button does: the sweep's steps run twice in rolled-back
transactions, the states, outbox rows and the gate's answers compared — for three drafts: a shorter grace period
with a lower formal-notice threshold, a faster reminder cadence, and narrower contact hours in US_MA_STRICT. It
checks that nothing stayed (case, transition, outbox and policy counts) and prints the times and the counts.
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
from bench.scratch import URL, add_collectors_team, connect, ensure_database  # noqa: E402
from bench.seeds import DRY_RUN_SEED as SEED  # noqa: E402

OPEN_CASES, LOANS = 100_000, 206_000  # half overdue, 1 to 120 days: 100,400 past the 3-day grace
AS_OF = dt.date(2026, 6, 15)
TARGET_S = 30.0
os.environ.update({"DATABASE_URL": URL, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "false"})
os.environ.setdefault("LOG_LEVEL", "WARNING")


def database_migrated() -> None:
    ensure_database()
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True)


def build() -> dt.date:
    """A book of its own (run alone): seed, sweep once for AS_OF. Returns the date swept."""
    from collections_app.sweep import sweep_run

    started = time.perf_counter()
    conn = connect()
    with conn, conn.cursor() as cur:
        cur.execute(SEED, {"n": LOANS, "as_of": AS_OF})
        add_collectors_team(cur, team="Dry-run bench", prefix="drybench")
    conn.close()
    seeded = time.perf_counter() - started
    started = time.perf_counter()
    sweep_run(as_of=AS_OF, chunks=4)
    print(f"dry-run: built {LOANS:,} loans in {seeded:.1f} s, first sweep {time.perf_counter() - started:.1f} s")
    conn = connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps a live database in
    conn.close()
    return AS_OF


def counts() -> tuple[int, ...]:
    from collections_app.models import CaseTransition, CollectionCase, CollectionPolicy
    from compliance.models import Decision, JurisdictionProfile
    from notifications.models import OutboundMessage

    return tuple(m.objects.count() for m in (CollectionCase, CaseTransition, OutboundMessage, CollectionPolicy,
                                              Decision, JurisdictionProfile))  # fmt: skip


def main() -> None:
    database_migrated()
    import django

    django.setup()
    from collections_app.models import OPEN_STATES, CollectionCase, CollectionPolicy, SweepRun
    from collections_app.sweep.preview import draft_copy, policy_preview
    from compliance.models import JurisdictionProfile
    from loans.models import LoanProduct

    open_cases = CollectionCase.objects.filter(state__in=OPEN_STATES).count()
    if open_cases < OPEN_CASES and not LoanProduct.objects.filter(code="dryrun-bench").exists():
        as_of = build()
    else:
        as_of = SweepRun.objects.filter(finished_at__isnull=False).order_by("-as_of").values_list("as_of", flat=True)[0]
    open_cases = CollectionCase.objects.filter(state__in=OPEN_STATES).count()
    at = dt.datetime.combine(as_of, dt.time(23, 30), tzinfo=dt.UTC)  # 19:30 in Boston
    policy = CollectionPolicy.objects.get(product__isnull=True, is_current=True)
    thresholds = draft_copy(policy)
    thresholds.grace_days, thresholds.formal_notice_dpd = 1, max(2, policy.formal_notice_dpd - 10)
    cadence = draft_copy(policy)
    cadence.cadence = {"reminder": {"sms": 1, "voice": 1}, "formal_notice": {"letter": 0, "sms": 2, "voice": 2}}
    profile = JurisdictionProfile.objects.get(code="US_MA_STRICT", is_current=True)
    hours = draft_copy(profile)
    hours.params = {**profile.params, "time_window": {**profile.params["time_window"], "end": "19:00"}}
    print(f"dry-run: {open_cases:,} open cases, previewing the sweep of {as_of} (gate at {at:%H:%M} UTC)")
    before = counts()
    worst = 0.0
    for name, draft in (("grace 1 day, formal notice 10 days earlier", thresholds),
                        ("daily reminder cadence", cadence), ("MA contact hours end at 19:00", hours)):  # fmt: skip
        started = time.perf_counter()
        preview = policy_preview(draft=draft, as_of=as_of, at=at)
        took = time.perf_counter() - started
        worst = max(worst, took)
        shown = {k: v for k, v in preview.counts().items() if v}
        print(f"dry-run: {name}: {took:.1f} s  {shown}")
        assert counts() == before, "the preview left rows behind"
    verdict = "OK" if worst <= TARGET_S else "OVER TARGET"
    print(f"dry-run: slowest preview {worst:.1f} s at {open_cases:,} open cases (target ≤ {TARGET_S:.0f} s): {verdict}")


if __name__ == "__main__":
    main()
