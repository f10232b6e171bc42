"""The allocation waterfall (pure) and payment recording (service, PostgreSQL)."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from loans.allocation import InstallmentDue, PaymentIn, allocate, validate_order
from loans.models import Installment, Payment, PaymentAllocation
from loans.services import PaymentConflict, payment_record
from tests.factories import loan_with_schedule

D = Decimal
UTC = dt.UTC


def _inst(id_, due, principal="100.00", interest="0.00", fee="0.00", opening="0.00"):
    return InstallmentDue(
        id=id_,
        due_date=dt.date.fromisoformat(due),
        number=id_,
        due={"principal": D(principal), "interest": D(interest), "fee": D(fee)},
        opening_paid=D(opening),
    )


def _pay(id_, amount, when):
    at = dt.datetime.fromisoformat(when).replace(tzinfo=UTC)
    return PaymentIn(id=id_, amount=D(amount), received_at=at, local_date=at.date())


def test_a_partial_payment_pays_fees_then_interest_then_principal_of_the_oldest_installment():
    result = allocate(
        [_inst(1, "2026-01-01", "100.00", "10.00", "5.00"), _inst(2, "2026-02-01")],
        [_pay(1, "12.00", "2026-01-05T10:00")],
    )
    assert result.paid[1] == {"fee": D("5.00"), "interest": D("7.00"), "principal": D("0.00")}
    assert result.paid[2]["principal"] == 0
    assert result.paid_on == {1: None, 2: None}
    assert result.allocations == [(1, 1, "fee", D("5.00")), (1, 1, "interest", D("7.00"))]


def test_a_configured_order_can_pay_principal_first():
    result = allocate(
        [_inst(1, "2026-01-01", "100.00", "10.00")],
        [_pay(1, "100.00", "2026-01-01T09:00")],
        validate_order(["principal", "interest", "fee"]),
    )
    assert result.paid[1] == {"principal": D("100.00"), "interest": D("0.00"), "fee": D("0.00")}


def test_an_allocation_order_must_name_every_component_once():
    with pytest.raises(ValueError):
        validate_order(["principal", "principal", "fee"])


def test_an_over_payment_clears_every_installment_and_leaves_credit():
    result = allocate([_inst(1, "2026-01-01"), _inst(2, "2026-02-01")], [_pay(7, "250.00", "2026-01-03T12:00")])
    assert result.paid_on == {1: dt.date(2026, 1, 3), 2: dt.date(2026, 1, 3)}
    assert result.unapplied == {7: D("50.00")}
    assert result.credit == D("50.00")


def test_payments_are_applied_in_the_order_they_were_received_whatever_order_they_arrive_in():
    installments = [_inst(1, "2026-01-01"), _inst(2, "2026-02-01")]
    early, late = _pay(2, "100.00", "2026-01-02T08:00"), _pay(1, "100.00", "2026-02-10T08:00")
    assert (
        allocate(installments, [late, early]).paid_on
        == allocate(installments, [early, late]).paid_on
        == {1: dt.date(2026, 1, 2), 2: dt.date(2026, 2, 10)}
    )


def test_paid_before_intake_counts_towards_its_own_installment_only():
    result = allocate(
        [_inst(1, "2026-01-01", opening="100.00"), _inst(2, "2026-02-01", opening="40.00")],
        [_pay(1, "60.00", "2026-02-03T08:00")],
    )
    assert result.paid_on == {1: dt.date(2026, 1, 1), 2: dt.date(2026, 2, 3)}
    assert result.allocations == [(1, 2, "principal", D("60.00"))]


# ---------------------------------------------------------------------------------------------------------------
# payment_record: the service, against PostgreSQL
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_recording_a_payment_allocates_it_and_refreshes_the_loan():
    loan = loan_with_schedule(("2024-02-01", "100.00"), ("2024-03-01", "100.00"), ("2024-04-01", "100.00"))
    payment, created = payment_record(
        loan_id=loan.pk, amount=D("150.00"), received_at=dt.datetime(2024, 2, 5, 15, tzinfo=UTC), reference="R1"
    )
    assert created
    first, second, third = Installment.objects.filter(loan=loan).order_by("number")
    assert (first.principal_paid, first.paid_on) == (D("100.00"), dt.date(2024, 2, 5))
    assert (second.principal_paid, second.paid_on) == (D("50.00"), None)
    assert third.principal_paid == 0
    assert sum(a.amount for a in PaymentAllocation.objects.filter(payment=payment)) == D("150.00")
    loan.refresh_from_db()
    assert loan.outstanding_balance == D("150.00")


@pytest.mark.django_db
def test_posting_the_same_reference_again_returns_the_first_payment_and_changes_nothing():
    loan = loan_with_schedule(("2024-02-01", "100.00"))
    at = dt.datetime(2024, 2, 1, 10, tzinfo=UTC)
    first, created = payment_record(loan_id=loan.pk, amount=D("40.00"), received_at=at, reference="DUP")
    again, created_again = payment_record(loan_id=loan.pk, amount=D("40.00"), received_at=at, reference="DUP")
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert Payment.objects.filter(loan=loan).count() == 1
    assert Installment.objects.get(loan=loan).principal_paid == D("40.00")


@pytest.mark.django_db
def test_the_same_reference_with_another_amount_is_a_conflict_not_a_second_payment():
    loan = loan_with_schedule(("2024-02-01", "100.00"))
    at = dt.datetime(2024, 2, 1, 10, tzinfo=UTC)
    payment_record(loan_id=loan.pk, amount=D("40.00"), received_at=at, reference="DUP")
    with pytest.raises(PaymentConflict):
        payment_record(loan_id=loan.pk, amount=D("41.00"), received_at=at, reference="DUP")
    assert Payment.objects.filter(loan=loan).count() == 1


@pytest.mark.django_db
def test_a_late_arriving_earlier_payment_is_reallocated_as_if_it_had_arrived_in_order():
    loan = loan_with_schedule(("2024-02-01", "100.00"), ("2024-03-01", "100.00"))
    payment_record(
        loan_id=loan.pk, amount=D("100.00"), received_at=dt.datetime(2024, 3, 2, 12, tzinfo=UTC), reference="B"
    )
    payment_record(
        loan_id=loan.pk, amount=D("100.00"), received_at=dt.datetime(2024, 2, 1, 12, tzinfo=UTC), reference="A"
    )
    paid_on = dict(Installment.objects.filter(loan=loan).values_list("number", "paid_on"))
    assert paid_on == {1: dt.date(2024, 2, 1), 2: dt.date(2024, 3, 2)}


@pytest.mark.django_db
def test_a_payment_counts_on_its_date_in_the_products_time_zone():
    # 03:30 UTC on 2 Feb is still 1 Feb in New York: paid on the due date, not a day late.
    loan = loan_with_schedule(("2024-02-01", "100.00"))
    payment_record(
        loan_id=loan.pk, amount=D("100.00"), received_at=dt.datetime(2024, 2, 2, 3, 30, tzinfo=UTC), reference="X"
    )
    assert Installment.objects.get(loan=loan).paid_on == dt.date(2024, 2, 1)


@pytest.mark.django_db
def test_over_payment_becomes_credit_on_the_loan():
    loan = loan_with_schedule(("2024-02-01", "100.00"))
    payment, _ = payment_record(
        loan_id=loan.pk, amount=D("130.00"), received_at=dt.datetime(2024, 1, 20, tzinfo=UTC), reference="O"
    )
    loan.refresh_from_db()
    assert payment.unapplied_amount == D("30.00")
    assert loan.credit_balance == D("30.00")
    assert loan.status == "paid_off"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_posts_of_one_reference_record_one_payment():
    loan = loan_with_schedule(("2024-02-01", "100.00"), ("2024-03-01", "100.00"))
    results, errors = [], []
    barrier = threading.Barrier(2)

    def post():
        try:
            barrier.wait()
            results.append(
                payment_record(
                    loan_id=loan.pk,
                    amount=D("100.00"),
                    received_at=dt.datetime(2024, 2, 1, tzinfo=UTC),
                    reference="RACE",
                )[1]
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert sorted(results) == [False, True]
    assert Payment.objects.filter(loan=loan).count() == 1
    assert Installment.objects.get(loan=loan, number=1).principal_paid == D("100.00")
