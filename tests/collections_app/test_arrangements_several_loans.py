"""A plan covering several loans of one borrower (collections_app.services.arrangements.plan_propose_several): one
plan per loan, all or none, judged by the installment policy together; from the case page and the API."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from collections_app.models import CaseTransition, CollectionCase, PaymentPlan
from collections_app.services import InvalidRequest, TransitionConflict, plan_propose_several
from tests.factories import (
    BorrowerFactory,
    api_for,
    loan_with_schedule,
    make_case,
    overdue_loan,
    team_with,
    user_with_role,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def collector():
    person = user_with_role("collector", "casey")
    team_with(person)
    return person


def start():
    return dt.date.today() + dt.timedelta(days=7)


def borrower_cases(collector, *loans):
    return [make_case(loan=loan, worked_by=collector) for loan in loans]


def test_within_policy_every_loans_plan_starts_and_each_audit_names_all_loans(collector):
    borrower = BorrowerFactory()
    first, second = borrower_cases(collector, overdue_loan(borrower=borrower), overdue_loan(borrower=borrower))
    plans = plan_propose_several(
        case_id=first.pk, actor=collector, down_payment=Decimal("20.00"), count=2, frequency="monthly",
        starts_on=start(), also={second.pk: Decimal("30.00")},
    )  # fmt: skip
    assert [(p.case_id, p.status, p.total_amount, p.down_payment) for p in plans] == [
        (first.pk, "active", Decimal("100.00"), Decimal("20.00")),
        (second.pk, "active", Decimal("100.00"), Decimal("30.00")),
    ]
    assert set(CollectionCase.objects.values_list("state", flat=True)) == {"payment_plan"}
    for case in (first, second):
        reason = CaseTransition.objects.get(case=case, transition="start_plan").reason
        assert first.loan.external_id in reason and second.loan.external_id in reason


def test_loans_together_above_the_collectors_limit_all_wait_for_a_manager(collector):
    borrower = BorrowerFactory()
    loans = [loan_with_schedule(("2024-02-01", "3000.00"), borrower=borrower) for _ in range(2)]
    first, second = borrower_cases(collector, *loans)
    plans = plan_propose_several(
        case_id=first.pk, actor=collector, down_payment=Decimal("300.00"), count=3, frequency="monthly",
        starts_on=start(), also={second.pk: Decimal("300.00")},
    )  # fmt: skip
    assert {p.status for p in plans} == {"pending_approval"}  # each alone (3,000) is under the 5,000 limit
    assert all(any("together" in b for b in p.outside_policy) for p in plans)
    assert set(CollectionCase.objects.values_list("state", flat=True)) == {"reminder"}


def test_one_loan_outside_the_policy_holds_the_others_too(collector):
    borrower = BorrowerFactory()
    first, second = borrower_cases(collector, overdue_loan(borrower=borrower), overdue_loan(borrower=borrower))
    plans = plan_propose_several(
        case_id=first.pk, actor=collector, down_payment=Decimal("20.00"), count=2, frequency="monthly",
        starts_on=start(), also={second.pk: Decimal("0.00")},  # below the 10 % down payment
    )  # fmt: skip
    assert {p.status for p in plans} == {"pending_approval"}
    assert "another loan of the same plan is outside the policy" in plans[0].outside_policy


def test_all_or_none_and_only_the_same_borrowers_cases(collector):
    borrower = BorrowerFactory()
    first, second = borrower_cases(collector, overdue_loan(borrower=borrower), overdue_loan(borrower=borrower))
    stranger = make_case(worked_by=collector)
    with pytest.raises(InvalidRequest):
        plan_propose_several(
            case_id=first.pk, actor=collector, down_payment=Decimal("20.00"), count=2, frequency="monthly",
            starts_on=start(), also={stranger.pk: Decimal("20.00")},
        )  # fmt: skip
    CollectionCase.objects.filter(pk=second.pk).update(state="on_hold", return_state="reminder")
    with pytest.raises(TransitionConflict):
        plan_propose_several(
            case_id=first.pk, actor=collector, down_payment=Decimal("20.00"), count=2, frequency="monthly",
            starts_on=start(), also={second.pk: Decimal("20.00")},
        )  # fmt: skip
    assert not PaymentPlan.objects.exists()


def test_the_case_pages_plan_form_covers_the_ticked_loans(collector):
    borrower = BorrowerFactory()
    first, second = borrower_cases(collector, overdue_loan(borrower=borrower), overdue_loan(borrower=borrower))
    client = Client()
    client.force_login(collector)
    page = client.get(reverse("case-detail", args=[first.pk])).content.decode()
    assert "Down payment for loan" in page
    form = {"down_payment": "20.00", "count": "2", "frequency": "monthly", "starts_on": start().isoformat()}
    url = reverse("case-action", args=[first.pk, "plan"])
    missing = client.post(url, {**form, f"also_{second.pk}": "on"})
    assert missing.status_code == 200 and "Give the down payment on this loan" in missing.content.decode()
    done = client.post(url, {**form, f"also_{second.pk}": "on", f"also_amount_{second.pk}": "25.00"})
    assert done.status_code == 302
    assert dict(PaymentPlan.objects.values_list("case_id", "down_payment")) == {
        first.pk: Decimal("20.00"),
        second.pk: Decimal("25.00"),
    }


def test_the_api_takes_a_plan_covering_other_loans(collector):
    borrower = BorrowerFactory()
    first, second = borrower_cases(collector, overdue_loan(borrower=borrower), overdue_loan(borrower=borrower))
    response = api_for(collector).post(
        reverse("api-case-payment-plans", args=[first.pk]),
        {"down_payment": "20.00", "count": 2, "frequency": "monthly", "starts_on": start().isoformat(),
         "also_cover": [{"case": second.pk, "down_payment": "20.00"}]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert set(PaymentPlan.objects.values_list("case_id", flat=True)) == {first.pk, second.pk}
