"""Benchmark of the compliance gate (issue 4): `make bench` runs it after the sweep benchmark.

1. The pure core: 100,000 planned contacts for 20,000 borrowers with realistic ledgers (a few weeks of calls and
   texts each), evaluated with every preset — decisions per second (target ≥ 20,000/s).
2. Loading (with ``--api``, in the sweep benchmark's database): a month of ledger for 20,000 borrowers with open
   cases is written once, then their facts are loaded — number of queries (fixed) and time.
3. One API check through DRF's test client with a token, in process: time per request and queries (target ≤ 10 ms,
   ≤ 5 queries).
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


LEDGER_BORROWERS, LEDGER_EVENTS = 20_000, 12


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import subprocess

    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True)
    import django

    django.setup()


def ledger_seed() -> list[int]:
    """A realistic recent ledger (12 calls and texts over the last month) and a consent event for 20,000 borrowers
    with open cases, written once into the benchmark database; returns those borrowers."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT borrower_id FROM collections_app_collectioncase ORDER BY borrower_id LIMIT %s",
            [LEDGER_BORROWERS],
        )
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT count(*) FROM compliance_contactevent WHERE borrower_id = ANY(%s)", [ids])
        if cursor.fetchone()[0] == 0:
            cursor.execute(
                """
                INSERT INTO compliance_contactevent (borrower_id, debts, channel, direction, "to", target_role, at,
                    outcome, automated, is_exception, note, created_at)
                SELECT b, '[]'::jsonb, CASE WHEN n %% 3 = 0 THEN 'sms' ELSE 'call' END, 'outbound', '+16175550100',
                    'debtor', now() - (n * interval '2 days 3 hours'),
                    (ARRAY['no_answer', 'voicemail', 'conversation', 'busy', 'delivered'])[1 + (b + n) %% 5],
                    n %% 2 = 0, false, '', now()
                FROM unnest(%s::bigint[]) AS b, generate_series(1, %s) AS n
                """,
                [ids, LEDGER_EVENTS],
            )
            cursor.execute(
                """
                INSERT INTO compliance_consentevent (borrower_id, medium, address, kind, source, text, at)
                SELECT b, 'sms', '+16175550100', 'opt_in', 'bench', '', now() - interval '40 days'
                FROM unnest(%s::bigint[]) AS b
                """,
                [ids],
            )
            cursor.execute("ANALYZE compliance_contactevent; ANALYZE compliance_consentevent")
    return ids


def load(ids: list[int]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from compliance.services import facts_load

    with CaptureQueriesContext(connection) as ctx:
        started = time.perf_counter()
        facts, _ = facts_load(ids, at=timezone.now())
        elapsed = time.perf_counter() - started
    events = sum(len(f.ledger) for f in facts.values())
    print(
        f"load: facts for {len(facts):,} borrowers ({events:,} ledger events) in {elapsed:.2f} s, "
        f"{len(ctx)} queries (fixed, whatever the number of borrowers)"
    )


def api_check(ids: list[int]) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from collections_app.models import CollectionCase

    setup_test_environment()
    case = CollectionCase.objects.filter(borrower_id=ids[0]).first() if ids else None
    if case is None:
        print("api: no case in the database (run the sweep benchmark first)")
        return
    admin = get_user_model().objects.filter(is_superuser=True).first() or get_user_model().objects.create_superuser(
        "bench-admin", password="bench-admin-pass-1"
    )
    # The lenders' systems call the API with a token (a browser session costs one more query, for the session).
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=admin)[0].key}")
    body = {"borrower": case.borrower_id, "loan": case.loan_id, "channel": "call", "to": "+16175550100"}
    with CaptureQueriesContext(connection) as ctx:
        response = client.post("/api/v1/compliance/check/", body, format="json")
    assert response.status_code == 200, response.content
    queries, times = len(ctx), []
    for _ in range(300):
        started = time.perf_counter()
        response = client.post("/api/v1/compliance/check/", body, format="json")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content
    times.sort()
    p50, p95 = statistics.median(times), times[int(len(times) * 0.95)]
    print(
        f"api check: p50 {p50:.1f} ms, p95 {p95:.1f} ms, {queries} queries per request (targets ≤ 10 ms, ≤ 5 queries)"
    )


if __name__ == "__main__":
    core()
    if "--api" in sys.argv:
        _django()
        borrowers = ledger_seed()
        load(borrowers)
        api_check(borrowers)
