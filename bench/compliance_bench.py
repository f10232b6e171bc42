"""Benchmark of the compliance gate (issue 4): `make bench` runs it after the sweep benchmark.

1. The pure core: 100,000 planned contacts for 20,000 borrowers with realistic ledgers (a few weeks of calls and
   texts each), evaluated with every preset — decisions per second (target ≥ 20,000/s).
2. Loading: facts for 20,000 borrowers from PostgreSQL (scratch database) — number of queries (fixed) and time.
3. One API check through Django's test client: server time and queries (target ≤ 10 ms, ≤ 5 queries).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compliance.engine import Attempt, BorrowerFacts, LedgerEvent, Profile, evaluate  # noqa: E402
from compliance.presets import PRESETS  # noqa: E402

START = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
PLACES = [
    (("America/New_York",), "US", "NY"),
    (("America/New_York",), "US", "MA"),
    (("America/Los_Angeles", "America/Phoenix"), "US", "CA"),
    (("Asia/Shanghai",), "CN", "河南省"),
]
OUTCOMES = ["no_answer", "no_answer", "voicemail", "conversation", "busy", "sent", "delivered"]


def synthetic(
    borrowers: int, contacts: int, seed: int = 7
) -> tuple[dict[int, BorrowerFacts], list[tuple[int, Attempt]]]:
    rng = random.Random(seed)
    facts = {}
    for b in range(borrowers):
        zones, country, region = rng.choice(PLACES)
        number = f"+1617555{b % 10000:04d}"
        ledger = tuple(
            LedgerEvent(
                id=b * 100 + i,
                channel=rng.choice(["call", "call", "sms"]),
                direction="outbound",
                at=START + dt.timedelta(minutes=rng.randrange(30 * 24 * 60)),
                outcome=rng.choice(OUTCOMES),
                to=number,
                debts=(b,),
            )
            for i in range(rng.randrange(0, 25))
        )
        facts[b] = BorrowerFacts(
            b,
            zones=zones,
            country=country,
            region=region,
            ledger=ledger,
            autodial_consent=frozenset({number}),
            sms_consent=frozenset({number}),
        )
    attempts = []
    for _ in range(contacts):
        b = rng.randrange(borrowers)
        attempts.append(
            (
                b,
                Attempt(
                    channel=rng.choice(["call", "sms"]),
                    at=START + dt.timedelta(days=30, minutes=rng.randrange(24 * 60)),
                    to=f"+1617555{b % 10000:04d}",
                    automated=True,
                    debts=(b,),
                    content="Reply STOP to opt out",
                ),
            )
        )
    return facts, attempts


def core() -> None:
    profiles = [Profile(code, 1, params) for code, params in PRESETS.items()]
    facts, attempts = synthetic(20_000, 100_000)
    started = time.perf_counter()
    outcomes: dict[str, int] = {}
    for borrower, attempt in attempts:
        result = evaluate(attempt, facts[borrower], profiles)
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
    elapsed = time.perf_counter() - started
    rate = len(attempts) / elapsed
    print(
        f"core: {len(attempts):,} decisions in {elapsed:.2f} s = {rate:,.0f}/s (target ≥ 20,000/s: "
        f"{'met' if rate >= 20_000 else 'NOT met'}); outcomes {outcomes}"
    )


def api_check() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "collections_app.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from collections_app.models import CollectionCase

    setup_test_environment()
    case = CollectionCase.objects.select_related("borrower").first()
    if case is None:
        print("api: no case in the database (run the sweep benchmark first)")
        return
    admin = get_user_model().objects.filter(is_superuser=True).first() or get_user_model().objects.create_superuser(
        "bench-admin", password="bench-admin-pass-1"
    )
    client = Client()
    client.force_login(admin)
    body = {"borrower": case.borrower_id, "channel": "call", "to": "+16175550100"}
    times, queries = [], 0
    for _ in range(200):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.post("/api/v1/compliance/check/", body, content_type="application/json")
            times.append((time.perf_counter() - started) * 1000)
        queries = len(ctx)
        assert response.status_code == 200, response.content
    times.sort()
    p50, p95 = statistics.median(times), times[int(len(times) * 0.95)]
    print(
        f"api check: p50 {p50:.1f} ms, p95 {p95:.1f} ms, {queries} queries per request (targets ≤ 10 ms, ≤ 5 queries)"
    )


if __name__ == "__main__":
    core()
    if "--api" in sys.argv:
        api_check()
