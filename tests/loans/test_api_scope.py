"""Bulk intake keeps to the caller's scope, as the single-record endpoints do (issue 11): a manager's row that
matches a borrower or loan outside their teams' cases is a row error, and nothing of the request is written."""

import pytest
from django.urls import reverse

from compliance.services import facts_load
from loans.models import Borrower, Payment, PhoneNumber
from tests.factories import (
    BorrowerFactory,
    ProductFactory,
    TeamFactory,
    api_for,
    make_case,
    overdue_loan,
    user_with_role,
)
from tests.loans.test_api import bulk_loan

pytestmark = pytest.mark.django_db


@pytest.fixture
def teams():
    """Team A's case (its borrower B-A, loan L-A) and the managers of teams A and B."""
    manager_a, manager_b = user_with_role("manager", "mgr-a"), user_with_role("manager", "mgr-b")
    team_a = TeamFactory(name="A", manager=manager_a)
    TeamFactory(name="B", manager=manager_b)
    borrower = BorrowerFactory(external_id="B-A", national_id_masked="****1234")
    case = make_case(loan=overdue_loan(external_id="L-A", borrower=borrower), team=team_a)
    return manager_a, manager_b, case


def takeover_row():
    """Team A's borrower moved to California, national id erased, a new phone with consent."""
    row = bulk_loan("-NEW")
    row["borrower"].update(
        external_id="B-A",
        full_name="Someone Else",
        address={"line1": "1 Sunset Blvd", "city": "Los Angeles", "region": "CA", "country": "US"},
        phones=[{"number": "+13105550100", "sms_consent": True, "autodial_consent": True}],
    )
    return row


def test_a_manager_cannot_overwrite_another_teams_borrower_through_bulk_loans(teams):
    _, manager_b, case = teams
    ProductFactory()
    before = Borrower.objects.get(pk=case.borrower_id)
    response = api_for(manager_b).post(reverse("api-loans-bulk"), [bulk_loan(7), takeover_row()], format="json")
    assert response.status_code == 400, response.content
    (error,) = response.json()["errors"]
    assert error["row"] == 2 and error["field"] == "borrower.external_id"
    after = Borrower.objects.get(pk=case.borrower_id)
    assert (after.full_name, after.region, after.national_id_masked) == (before.full_name, "MA", "****1234")
    assert not PhoneNumber.objects.filter(number="+13105550100").exists()
    assert not Borrower.objects.filter(external_id="B7").exists()  # the good row is not written either


def test_a_manager_cannot_add_a_stored_loan_of_another_team_through_bulk_loans(teams):
    _, manager_b, _ = teams
    ProductFactory()
    row = bulk_loan(8, external_id="L-A")
    response = api_for(manager_b).post(reverse("api-loans-bulk"), [row], format="json")
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} >= {"loan.external_id"}


def test_a_manager_cannot_post_payments_into_another_teams_loans(teams):
    manager_a, manager_b, case = teams
    row = {"loan": "L-A", "amount": "10.00", "received_at": "2024-02-12T10:00:00Z", "reference": "X-1"}
    refused = api_for(manager_b).post(reverse("api-payments-bulk"), [row], format="json")
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "loan"
    assert not Payment.objects.exists()
    accepted = api_for(manager_a).post(reverse("api-payments-bulk"), [row], format="json")
    assert accepted.status_code == 201 and Payment.objects.get().loan_id == case.loan_id


def test_the_teams_manager_and_admins_may_update_the_borrower_and_new_records_are_anyones(teams):
    manager_a, manager_b, case = teams
    ProductFactory()
    assert api_for(manager_b).post(reverse("api-loans-bulk"), [bulk_loan(9)], format="json").status_code == 201
    updated = api_for(manager_a).post(reverse("api-loans-bulk"), [takeover_row()], format="json")
    assert updated.status_code == 201, updated.content
    facts, _ = facts_load([case.borrower_id], at=case.opened_at)
    assert "+13105550100" in facts[case.borrower_id].sms_consent
    admin = api_for(user_with_role("admin", "ada"))
    assert admin.post(reverse("api-loans-bulk"), [bulk_loan(9)], format="json").status_code == 201
