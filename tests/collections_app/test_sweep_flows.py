"""The sweep follows each loan from one month to the next (collections_app/sweep/flows.py): positions per loan and
the roll matrix against the positions of 30 days before, so that no roll rate can pass 100 %."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from collections_app.models import LoanPosition, PortfolioFlow
from collections_app.sweep import sweep_run
from collections_app.sweep.flows import POSITIONS_KEPT_DAYS, compared_date
from loans.services import payment_record
from tests.factories import loan_with_schedule, user_with_role

pytestmark = pytest.mark.django_db

T0, T = dt.date(2024, 1, 20), dt.date(2024, 2, 19)


def matrix(as_of=T):
    return {(f.from_bucket, f.to_bucket): f.loans for f in PortfolioFlow.objects.filter(as_of=as_of)}


def test_a_loan_already_in_the_wide_bucket_is_not_counted_as_rolling_into_it():
    """On T0: one loan 61-90 days past due (71) and one already 91-180 (100). On T, 30 days later, both are in
    91-180. Bucket totals would give 61-90 → 91-180 a rate of 2/1 = 200 %; followed loan by loan it is 1/1."""
    rolled = loan_with_schedule(("2023-11-10", "100.00"))
    stayed = loan_with_schedule(("2023-10-12", "100.00"))
    sweep_run(as_of=T0)
    assert {p.loan_id: p.bucket for p in LoanPosition.objects.filter(as_of=T0)} == {
        rolled.pk: "61-90",
        stayed.pk: "91-180",
    }
    sweep_run(as_of=T)
    assert compared_date(as_of=T) == T0
    assert matrix() == {("61-90", "91-180"): 1, ("91-180", "91-180"): 1}

    client = Client()
    client.force_login(user_with_role("admin", "ada"))
    flows = client.get(reverse("performance"), {"days": 30}).context["flows"]
    assert [(f["from"], f["to"], f["loans_to"], f["loans_from"], f["count_rate"]) for f in flows] == [
        ("61-90", "91-180", 1, 1, 1.0),
        ("91-180", "181+", 0, 1, 0.0),
    ]


def test_a_loan_paid_off_between_the_two_days_left_its_bucket_without_rolling():
    paid = loan_with_schedule(("2024-01-01", "100.00"))
    late = loan_with_schedule(("2024-01-01", "100.00"))
    sweep_run(as_of=T0)
    payment_record(loan_id=paid.pk, amount=Decimal("100.00"), received_at=dt.datetime(2024, 2, 1, tzinfo=dt.UTC),
                   reference="P-1")  # fmt: skip
    sweep_run(as_of=T)
    # The repaid loan is no longer active on T: no bucket now (''), not a roll.
    flows = {(f.from_bucket, f.to_bucket): (f.loans, f.outstanding) for f in PortfolioFlow.objects.all()}
    assert flows == {("1-30", "31-60"): (1, Decimal("100.00")), ("1-30", ""): (1, Decimal("100.00"))}
    assert LoanPosition.objects.filter(as_of=T, loan=late, bucket="31-60").exists()
    assert not LoanPosition.objects.filter(as_of=T, loan=paid).exists()


def test_current_loans_are_counted_by_the_snapshot_and_followed_when_they_fall_behind():
    """On T0 two loans are current and are not recorded one by one; by T one has missed its 2024-02-01 installment
    (18 days past due): current → 1-30 is 1 of 2. A loan disbursed after T0 was not in that day's cohort."""
    loan_with_schedule(("2024-02-01", "100.00"), disbursed_on=dt.date(2024, 1, 1))
    loan_with_schedule(("2024-03-01", "100.00"), disbursed_on=dt.date(2024, 1, 1))
    sweep_run(as_of=T0)
    assert not LoanPosition.objects.exists()
    loan_with_schedule(("2024-02-05", "100.00"), disbursed_on=dt.date(2024, 1, 25))
    sweep_run(as_of=T)
    assert matrix() == {("current", "1-30"): 1, ("current", "current"): 1}


def test_without_a_day_about_a_month_before_there_is_no_matrix_and_old_positions_are_forgotten():
    loan_with_schedule(("2024-01-01", "100.00"))
    sweep_run(as_of=T0)
    sweep_run(as_of=T0 + dt.timedelta(days=10))
    assert not PortfolioFlow.objects.exists()  # ten days are not a month: no rate rather than a wrong one
    late = T0 + dt.timedelta(days=POSITIONS_KEPT_DAYS + 1)
    sweep_run(as_of=late)
    assert set(LoanPosition.objects.values_list("as_of", flat=True)) == {T0 + dt.timedelta(days=10), late}
    sweep_run(as_of=late)  # a rerun replaces the day's positions, never doubles them
    assert LoanPosition.objects.filter(as_of=late).count() == 1
