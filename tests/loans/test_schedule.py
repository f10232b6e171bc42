import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loans.schedule import add_months, equal_installments


def test_a_twelve_month_annuity_has_equal_installments_and_repays_the_principal_exactly():
    schedule = equal_installments(
        principal=Decimal("10000.00"),
        annual_rate=Decimal("12"),
        term_months=12,
        first_due_date=dt.date(2026, 1, 15),
        currency="USD",
    )
    assert len(schedule) == 12
    # The textbook payment for 10,000 at 1 % a month over 12 months is 888.49.
    assert {s.amount for s in schedule[:-1]} == {Decimal("888.49")}
    assert sum(s.principal for s in schedule) == Decimal("10000.00")
    assert schedule[0].interest == Decimal("100.00")
    assert abs(schedule[-1].amount - Decimal("888.49")) < Decimal("0.10")
    assert [s.number for s in schedule] == list(range(1, 13))


def test_a_zero_rate_loan_splits_the_principal_and_the_last_installment_takes_the_remainder():
    schedule = equal_installments(
        principal=Decimal("100.00"),
        annual_rate=Decimal("0"),
        term_months=3,
        first_due_date=dt.date(2026, 1, 1),
        currency="CNY",
    )
    assert [s.principal for s in schedule] == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    assert all(s.interest == 0 for s in schedule)


def test_due_dates_anchor_on_the_first_due_day_across_short_months_and_leap_years():
    schedule = equal_installments(
        principal=Decimal("1200.00"),
        annual_rate=Decimal("10"),
        term_months=5,
        first_due_date=dt.date(2024, 1, 31),
        currency="USD",
    )
    assert [s.due_date for s in schedule] == [
        dt.date(2024, 1, 31),
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 31),
        dt.date(2024, 4, 30),
        dt.date(2024, 5, 31),
    ]


def test_add_months_clamps_to_february_28_in_a_common_year():
    assert add_months(dt.date(2025, 1, 31), 1) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2025, 11, 30), 3) == dt.date(2026, 2, 28)


def test_yen_schedules_have_no_fractional_amounts():
    schedule = equal_installments(
        principal=Decimal("100000"),
        annual_rate=Decimal("15"),
        term_months=7,
        first_due_date=dt.date(2026, 1, 1),
        currency="JPY",
    )
    assert all(s.principal == s.principal.to_integral() and s.interest == s.interest.to_integral() for s in schedule)
    assert sum(s.principal for s in schedule) == Decimal("100000")


@pytest.mark.parametrize(
    ("principal", "rate", "term"),
    [(Decimal("0"), Decimal("10"), 12), (Decimal("100"), Decimal("-1"), 12), (Decimal("100"), Decimal("10"), 0)],
)
def test_it_refuses_impossible_terms(principal, rate, term):
    with pytest.raises(ValueError):
        equal_installments(
            principal=principal, annual_rate=rate, term_months=term, first_due_date=dt.date(2026, 1, 1), currency="USD"
        )


@given(
    principal=st.decimals(min_value="1.00", max_value="1000000.00", places=2),
    rate=st.decimals(min_value="0", max_value="60", places=2),
    term=st.integers(min_value=1, max_value=120),
)
def test_any_schedule_repays_exactly_the_principal_with_no_negative_parts(principal, rate, term):
    schedule = equal_installments(
        principal=principal, annual_rate=rate, term_months=term, first_due_date=dt.date(2026, 3, 31), currency="USD"
    )
    assert sum(s.principal for s in schedule) == principal
    assert all(s.principal >= 0 and s.interest >= 0 for s in schedule)
    assert all(isinstance(s.amount, Decimal) for s in schedule)
