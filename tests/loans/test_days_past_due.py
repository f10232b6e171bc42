"""Days past due, overdue amount and outstanding balance: the set-based refresh."""

import datetime as dt
from decimal import Decimal

import pytest

from loans.models import Loan
from loans.services import loans_refresh_balances, payment_record
from tests.factories import loan_with_schedule

pytestmark = pytest.mark.django_db
D = Decimal


def _refresh(loan, day):
    loans_refresh_balances(as_of=dt.date.fromisoformat(day), loan_ids=[loan.pk])
    loan.refresh_from_db()
    return loan


def test_an_installment_is_not_past_due_on_its_due_date_and_one_day_past_due_the_day_after():
    loan = loan_with_schedule(("2025-03-31", "100.00"))
    assert _refresh(loan, "2025-03-31").days_past_due == 0
    loan = _refresh(loan, "2025-04-01")
    assert (loan.days_past_due, loan.overdue_since, loan.amount_overdue) == (1, dt.date(2025, 3, 31), D("100.00"))


@pytest.mark.parametrize(
    ("due", "as_of", "dpd"),
    [
        ("2024-02-28", "2024-03-01", 2),  # leap year: 29 February exists
        ("2023-02-28", "2023-03-01", 1),  # common year
        ("2024-01-31", "2024-03-01", 30),  # across a short month
        ("2023-12-31", "2024-01-01", 1),  # across a year end
        ("2023-03-01", "2024-03-01", 366),  # a year that contains 29 February
    ],
)
def test_days_past_due_counts_calendar_days_across_month_ends_and_leap_years(due, as_of, dpd):
    loan = loan_with_schedule((due, "100.00"))
    assert _refresh(loan, as_of).days_past_due == dpd


def test_days_past_due_counts_from_the_oldest_unpaid_installment():
    loan = loan_with_schedule(("2025-01-10", "100.00"), ("2025-02-10", "100.00"), ("2025-03-10", "100.00"))
    loan = _refresh(loan, "2025-03-15")
    assert (loan.days_past_due, loan.amount_overdue, loan.outstanding_balance) == (64, D("300.00"), D("300.00"))


def test_paying_the_oldest_installment_moves_days_past_due_to_the_next_one():
    loan = loan_with_schedule(("2025-01-10", "100.00"), ("2025-02-10", "100.00"), ("2025-03-10", "100.00"))
    payment_record(
        loan_id=loan.pk, amount=D("120.00"), received_at=dt.datetime(2025, 3, 1, 15, tzinfo=dt.UTC), reference="P"
    )
    loan = _refresh(loan, "2025-03-15")
    assert (loan.days_past_due, loan.overdue_since) == (33, dt.date(2025, 2, 10))
    assert (loan.amount_overdue, loan.outstanding_balance) == (D("180.00"), D("180.00"))


def test_a_payment_made_after_the_as_of_date_does_not_erase_past_lateness():
    loan = loan_with_schedule(("2025-01-10", "100.00"))
    payment_record(
        loan_id=loan.pk, amount=D("100.00"), received_at=dt.datetime(2025, 2, 1, 15, tzinfo=dt.UTC), reference="P"
    )
    assert _refresh(loan, "2025-01-20").days_past_due == 10
    assert _refresh(loan, "2025-02-01").days_past_due == 0


def test_a_fully_paid_loan_is_paid_off_and_not_overdue():
    loan = loan_with_schedule(("2025-01-10", "100.00"))
    payment_record(
        loan_id=loan.pk, amount=D("100.00"), received_at=dt.datetime(2025, 1, 9, 15, tzinfo=dt.UTC), reference="P"
    )
    loan = _refresh(loan, "2025-06-01")
    assert (loan.status, loan.days_past_due, loan.outstanding_balance) == ("paid_off", 0, D("0.00"))


def test_one_refresh_updates_every_loan_in_a_single_statement(django_assert_max_num_queries):
    loans = [loan_with_schedule(("2025-01-10", "100.00")) for _ in range(5)]
    with django_assert_max_num_queries(3):  # the UPDATE and the two status corrections, whatever the number of loans
        assert loans_refresh_balances(as_of=dt.date(2025, 1, 20)) == 5
    assert set(Loan.objects.filter(pk__in=[x.pk for x in loans]).values_list("days_past_due", flat=True)) == {10}
