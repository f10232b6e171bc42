"""Benchmark of the collector's desk (issue 13): the next-case selection at 100,000 open cases.

`make bench` runs it last, in the database the other benchmarks filled (100,000 open cases after pages_bench). Run
alone on an empty or small database, it builds a book of its own first: 100,000 open cases of borrowers spread over
six zones (New York, Chicago, Denver, Los Angeles, Honolulu, Beijing), in every state (legal review, holds, promises
and plans among them), with callbacks, contacts in the ledger (the gate's caps) and cease-and-desist restrictions.

It times ``next_case_for`` — what GET /cases/next/ asks — for a collector with 1,000 cases and for an admin who sees
all 100,000, at eight times of the day (so that a different part of the book is inside its contact hours each time),
and the whole request through the test client. Prints p50/p95 and the number of queries; target p95 ≤ 1 s.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.scratch import URL, ensure_database  # noqa: E402

OPEN_CASES, MINE, ROUNDS = 100_000, 1_000, 20
os.environ.update({"DATABASE_URL": URL, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "false"})

PLACES = [
    (["America/New_York"], "US", "NY"),
    (["America/Chicago"], "US", "IL"),
    (["America/Denver"], "US", "CO"),
    (["America/Los_Angeles"], "US", "CA"),
    (["Pacific/Honolulu"], "US", "HI"),
    (["Asia/Shanghai"], "CN", "BJ"),
]
STATES = [("reminder", 70), ("formal_notice", 10), ("legal_review", 8), ("on_hold", 4), ("promise_to_pay", 5),
          ("payment_plan", 3)]  # fmt: skip


def build(missing: int) -> None:
    """A synthetic book: ``missing`` borrowers, each with a phone, a loan and an open case."""
    from django.db import transaction
    from django.utils import timezone

    from collections_app.models import CollectionCase, CollectionPolicy
    from compliance.models import ContactEvent, Restriction
    from loans.models import Borrower, Loan, LoanProduct, PhoneNumber

    rnd = random.Random(13)
    product, _ = LoanProduct.objects.get_or_create(
        code="desk-bench", defaults={"name": "Desk bench", "lender_name": "Bench Lender", "currency": "USD",
                                     "timezone": "America/New_York"},
    )  # fmt: skip
    policy = CollectionPolicy.objects.get(is_current=True, product__isnull=True)
    states = [s for s, weight in STATES for _ in range(weight)]
    now = timezone.now()
    start = Borrower.objects.count()
    for chunk in range(0, missing, 5_000):
        n = min(5_000, missing - chunk)
        with transaction.atomic():
            borrowers = []
            for i in range(n):
                zones, country, region = rnd.choice(PLACES)
                k = start + chunk + i
                borrowers.append(Borrower(external_id=f"DESK-{k}", full_name=f"Desk Borrower {k}", country=country,
                                          region=region, time_zones=zones))  # fmt: skip
            Borrower.objects.bulk_create(borrowers)
            PhoneNumber.objects.bulk_create(
                PhoneNumber(borrower=b, number=f"+1212{(start + chunk + i) % 10_000_000:07d}", kind="mobile")
                for i, b in enumerate(borrowers)
            )
            loans = Loan.objects.bulk_create(
                [
                    Loan(external_id=f"DESK-L{b.external_id}", borrower=b, product=product,
                         principal=Decimal("500.00"), currency="USD", disbursed_on=dt.date(2025, 1, 1))
                    for b in borrowers
                ]
            )  # fmt: skip
            cases = []
            for loan in loans:
                state = rnd.choice(states)
                due = rnd.random() < 0.01
                cases.append(CollectionCase(
                    loan=loan, borrower_id=loan.borrower_id, state=state, policy=policy, opened_on=dt.date(2025, 3, 1),
                    stage_entered_on=dt.date(2025, 3, 1), days_past_due=rnd.randint(1, 400),
                    amount_overdue=Decimal(rnd.randint(50, 5000)), priority=rnd.randint(0, 100),
                    return_state="reminder" if state in ("on_hold", "promise_to_pay", "payment_plan") else "",
                    callback_at=(now + dt.timedelta(hours=rnd.randint(-5, 5))) if due else None,
                ))  # fmt: skip
            CollectionCase.objects.bulk_create(cases)
            ContactEvent.objects.bulk_create(
                [
                    ContactEvent(borrower=b, channel="call", direction="outbound", outcome="conversation",
                                 at=now - dt.timedelta(days=rnd.randint(0, 6)), to="", debts=[])
                    for b in borrowers
                    if rnd.random() < 0.15
                ]
            )  # fmt: skip
            Restriction.objects.bulk_create(
                Restriction(borrower=b, kind="cease_and_desist", starts_at=now - dt.timedelta(days=30))
                for b in borrowers
                if rnd.random() < 0.02
            )
        print(f"  built {chunk + n:,} of {missing:,} cases", flush=True)


def prepare() -> tuple[object, object]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection

    from collections_app.models import OPEN_STATES, CollectionCase

    users = get_user_model()
    admin = users.objects.filter(username="bench-admin").first() or users.objects.create_superuser("bench-admin")
    collector = users.objects.filter(username="bench.collector").first() or users.objects.create_user("bench.collector")
    collector.groups.add(Group.objects.get(name="collector"))
    open_cases = CollectionCase.objects.filter(state__in=OPEN_STATES)
    missing = OPEN_CASES - open_cases.count()
    if missing > 0:
        build(missing)
    table = CollectionCase._meta.db_table
    with connection.cursor() as cursor:
        if not open_cases.filter(assigned_to=collector).exists():
            cursor.execute(
                f"UPDATE {table} SET assigned_to_id = %s WHERE id IN "
                f"(SELECT id FROM {table} WHERE state IN %s ORDER BY random() LIMIT %s)",
                [collector.pk, tuple(OPEN_STATES), MINE],
            )
        cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("ANALYZE")
    print(f"desk: {open_cases.count():,} open cases, {open_cases.filter(assigned_to=collector).count():,} of them the "
          f"collector's")  # fmt: skip
    return collector, admin


def measure(user: object, label: str) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from collections_app.selectors import next_case_for

    today = timezone.now().replace(minute=7, second=0, microsecond=0)
    times, queries, found = [], 0, 0
    for hour in range(0, 24, 3):  # eight times of the day, UTC
        now = today.replace(hour=hour)
        for _ in range(ROUNDS):
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                case = next_case_for(user=user, now=now)
                times.append((time.perf_counter() - started) * 1000)
            queries = max(queries, len(ctx))
            found += case is not None
    times.sort()
    p50, p95 = statistics.median(times), times[int(len(times) * 0.95)]
    print(
        f"next case, {label}: p50 {p50:.0f} ms, p95 {p95:.0f} ms over {len(times)} selections at 8 times of the day "
        f"(target p95 ≤ 1000 ms: {'met' if p95 <= 1000 else 'NOT met'}); at most {queries} queries; a case found in "
        f"{found} of {len(times)}"
    )


def measure_request(user: object) -> None:
    from django.test import Client

    client = Client()
    client.force_login(user)
    times = []
    for _ in range(40):
        started = time.perf_counter()
        response = client.get("/cases/next/")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 302, response.status_code
    times.sort()
    print(f"GET /cases/next/ (admin, whole request): p50 {statistics.median(times):.0f} ms, "
          f"p95 {times[int(len(times) * 0.95)]:.0f} ms over {len(times)} requests")  # fmt: skip


def main() -> None:
    ensure_database()
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True)
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client accepts testserver as a host
    collector, admin = prepare()
    measure(collector, "collector with 1,000 cases")
    measure(admin, "admin who sees all 100,000 open cases")
    measure_request(admin)


if __name__ == "__main__":
    main()
