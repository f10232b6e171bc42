"""The benchmarks seed their books with raw SQL (a million rows in seconds). A NOT NULL column added to a model
without a database default breaks those INSERTs, and nothing but `make bench` would notice: run each seed at a
handful of rows here, in the test database, so the suite does."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from bench.seeds import DRY_RUN_SEED, SWEEP_SEED
from loans.models import Installment, Loan

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("seed", "prefix"), [(SWEEP_SEED, "L"), (DRY_RUN_SEED, "DRL")])
def test_each_benchmark_seed_still_fills_every_required_column(seed: str, prefix: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(seed, {"n": 7, "as_of": dt.date(2026, 6, 15)})
    loans = Loan.objects.filter(external_id__startswith=prefix)
    assert loans.count() == 7
    assert Installment.objects.filter(loan__in=loans).count() == 7 * 6
