"""Payments and bulk intake through the API: idempotent payments (201 then 200, 409 on a conflicting reference),
bulk loans and payments all-or-nothing with row errors, roles."""

import pytest
from django.urls import reverse

from loans.models import Borrower, Loan, Payment
from tests.factories import LoanFactory, ProductFactory, TeamFactory, api_for, make_case, user_with_role

pytestmark = pytest.mark.django_db


def bulk_loan(n, **loan):
    return {
        "borrower": {
            "external_id": f"B{n}",
            "full_name": f"Pat Doe {n}",
            "language": "en",
            "address": {"line1": "1 Main St", "city": "Boston", "region": "MA", "postal_code": "02118",
                        "country": "US"},
            "phones": [{"number": "+16175550123", "kind": "mobile", "sms_consent": True}],
        },
        "loan": {"external_id": f"L{n}", "product": "us-test", "principal": "1200.00", "currency": "USD",
                 "disbursed_on": "2026-01-01", "annual_rate": "12", "term_months": 12, "first_due_date": "2026-02-01",
                 **loan},
    }  # fmt: skip


def test_a_payment_posted_twice_is_recorded_once():
    case = make_case()
    client = api_for(user_with_role("manager", "morgan"))
    body = {"loan": case.loan_id, "amount": "60.00", "received_at": "2024-02-12T10:00:00+00:00", "reference": "PAY-1"}
    first = client.post(reverse("api-payments"), body, format="json")
    assert first.status_code == 201, first.content
    again = client.post(reverse("api-payments"), body, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    conflict = client.post(reverse("api-payments"), {**body, "amount": "70.00"}, format="json")
    assert conflict.status_code == 409 and "reference" in conflict.json()
    assert Payment.objects.count() == 1
    listed = client.get(reverse("api-payments"), {"loan": case.loan_id}).json()
    assert listed["count"] == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [({"amount": 60.5}, "amount"), ({"received_at": "2024-02-12T10:00:00"}, "received_at"), ({"x": 1}, "x")],
)
def test_bad_payments_get_field_errors(change, field):
    admin = user_with_role("admin", "ada")
    case = make_case()
    body = {"loan": case.loan_id, "amount": "60.00", "received_at": "2024-02-12T10:00:00+00:00", "reference": "P"}
    response = api_for(admin).post(reverse("api-payments"), {**body, **change}, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not Payment.objects.exists()


def test_a_manager_cannot_pay_into_a_loan_they_do_not_see():
    manager = user_with_role("manager", "morgan")
    case = make_case(team=TeamFactory(name="Other", manager=user_with_role("manager", "mo")))
    response = api_for(manager).post(
        reverse("api-payments"),
        {"loan": case.loan_id, "amount": "1.00", "received_at": "2024-02-12T10:00:00Z", "reference": "P"},
        format="json",
    )
    assert response.status_code == 400 and "loan" in response.json()


def test_collectors_do_not_post_payments_even_on_their_own_cases():
    """Issue 11: code, tests and README agree — payments come from managers, admins and the lender's systems."""
    collector = user_with_role("collector", "casey")
    case = make_case(assigned_to=collector)
    body = {"loan": case.loan_id, "amount": "60.00", "received_at": "2024-02-12T10:00:00+00:00", "reference": "P"}
    response = api_for(collector).post(reverse("api-payments"), body, format="json")
    assert response.status_code == 403
    assert not Payment.objects.exists()
    assert api_for(collector).get(reverse("api-payments"), {"loan": case.loan_id}).status_code == 200


def test_bulk_loans_are_all_or_nothing_with_row_errors():
    ProductFactory()
    client = api_for(user_with_role("admin", "ada"))
    bad = client.post(reverse("api-loans-bulk"), [bulk_loan(1), bulk_loan(2, principal="-5")], format="json")
    assert bad.status_code == 400
    (error,) = bad.json()["errors"]
    assert error["row"] == 2 and "principal" in error["field"]
    assert not Loan.objects.exists() and not Borrower.objects.exists()
    good = client.post(reverse("api-loans-bulk"), [bulk_loan(1), bulk_loan(2)], format="json")
    assert good.status_code == 201 and good.json()["rows"] == 2
    assert Loan.objects.count() == 2 and Loan.objects.get(external_id="L1").installments.count() == 12
    again = client.post(reverse("api-loans-bulk"), [bulk_loan(1)], format="json")
    assert again.status_code == 201 and Loan.objects.count() == 2  # re-sending changes nothing


def test_bulk_payments_and_the_limits():
    ProductFactory()
    client = api_for(user_with_role("admin", "ada"))
    client.post(reverse("api-loans-bulk"), [bulk_loan(1)], format="json")
    rows = [{"loan": "L1", "amount": "100.00", "received_at": "2026-02-01T09:00:00Z", "reference": f"R{i}"}
            for i in range(3)]  # fmt: skip
    assert client.post(reverse("api-payments-bulk"), rows, format="json").status_code == 201
    assert Payment.objects.count() == 3
    missing = client.post(reverse("api-payments-bulk"), [{**rows[0], "loan": "NOPE", "reference": "Z"}], format="json")
    assert missing.status_code == 400 and missing.json()["errors"][0]["row"] == 1
    assert client.post(reverse("api-payments-bulk"), {"loan": "L1"}, format="json").status_code == 400
    assert client.post(reverse("api-payments-bulk"), [rows[0]] * 10_001, format="json").status_code == 400


def test_collectors_may_not_use_bulk_intake():
    client = api_for(user_with_role("collector", "casey"))
    assert client.post(reverse("api-loans-bulk"), [bulk_loan(1)], format="json").status_code == 403


def borrower_body(**changes):
    body = {
        "external_id": "CRM-1",
        "full_name": "Pat Doe",
        "language": "en",
        "national_id": "900-70-1234",
        "address": {"line1": "1 Main St", "city": "Boston", "region": "MA", "postal_code": "02118", "country": "US"},
        "phones": [{"number": "+16175550123", "kind": "mobile", "sms_consent": True, "autodial_consent": False}],
        "emails": [{"address": "pat@example.com", "kind": "personal"}],
    }
    return {**body, **changes}


def test_a_manager_creates_and_updates_a_borrower_and_reads_the_derived_fields():
    client = api_for(user_with_role("admin", "ada"))
    created = client.post(reverse("api-borrower-list"), borrower_body(), format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["national_id"].endswith("1234") and "900-70" not in body["national_id"]
    assert body["time_zones"] == ["America/New_York"]
    assert body["jurisdictions"] == ["US_FED_REGF", "US_MA_STRICT"]
    assert body["phones"][0]["number"] == "+16175550123"
    moved = client.put(
        reverse("api-borrower-detail", args=[body["id"]]),
        borrower_body(address={"line1": "9 Pine", "city": "Austin", "region": "TX", "country": "US"},
                      timezone="America/Chicago"),
        format="json",
    )  # fmt: skip
    assert moved.status_code == 200
    assert moved.json()["jurisdictions"] == ["US_FED_REGF"] and moved.json()["time_zones"] == ["America/Chicago"]
    duplicate = client.post(reverse("api-borrower-list"), borrower_body(), format="json")
    assert duplicate.status_code == 400 and "external_id" in duplicate.json()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"language": "fr"}, "language"),
        ({"address": {"country": "USA"}}, "address"),
        ({"phones": [{"number": "617"}]}, "phones"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"nickname": "P"}, "nickname"),
    ],
)
def test_bad_borrowers_get_field_errors(change, field):
    client = api_for(user_with_role("admin", "ada"))
    response = client.post(reverse("api-borrower-list"), borrower_body(**change), format="json")
    assert response.status_code == 400 and field in response.json()
    assert not Borrower.objects.exists()


def test_collectors_read_only_their_borrowers_and_loans_and_cannot_write():
    collector = user_with_role("collector", "casey")
    case = make_case(assigned_to=collector)
    other = make_case()
    client = api_for(collector)
    assert [b["id"] for b in client.get(reverse("api-borrower-list")).json()["results"]] == [case.borrower_id]
    assert client.get(reverse("api-borrower-detail", args=[other.borrower_id])).status_code == 404
    assert client.post(reverse("api-borrower-list"), borrower_body(), format="json").status_code == 403
    loans = client.get(reverse("api-loan-list")).json()["results"]
    assert [loan["id"] for loan in loans] == [case.loan_id]
    (loan,) = loans
    assert loan["installments"][0] == {"number": 1, "due_date": "2024-02-01", "amount_due": "100.00",
                                       "amount_paid": "0.00", "paid_on": None}  # fmt: skip
    assert loan["days_past_due"] == 10 and loan["amount_overdue"] == "100.00" and loan["product"] == "us-test"


def test_a_loan_is_created_for_a_borrower_with_a_generated_or_given_schedule():
    ProductFactory()
    client = api_for(user_with_role("admin", "ada"))
    borrower = client.post(reverse("api-borrower-list"), borrower_body(), format="json").json()["id"]
    generated = client.post(reverse("api-loan-list"), {
        "borrower": borrower, "external_id": "L-9", "product": "us-test", "principal": "1200.00", "currency": "USD",
        "disbursed_on": "2026-01-01", "annual_rate": "12", "term_months": 12, "first_due_date": "2026-02-01"},
        format="json")  # fmt: skip
    assert generated.status_code == 201, generated.content
    assert len(generated.json()["installments"]) == 12 and generated.json()["status"] == "active"
    given = client.post(reverse("api-loan-list"), {
        "borrower": borrower, "external_id": "L-10", "product": "us-test", "principal": "200.00", "currency": "USD",
        "disbursed_on": "2026-01-01", "installments": [
            {"number": 1, "due_date": "2026-02-01", "amount_due": "100.00"},
            {"number": 2, "due_date": "2026-03-01", "amount_due": "100.00", "amount_paid": "40.00"}]},
        format="json")  # fmt: skip
    assert given.status_code == 201 and given.json()["installments"][1]["amount_paid"] == "40.00"
    incomplete = client.post(reverse("api-loan-list"), {
        "borrower": borrower, "external_id": "L-11", "product": "us-test", "principal": "200.00", "currency": "USD",
        "disbursed_on": "2026-01-01", "term_months": 2}, format="json")  # fmt: skip
    assert incomplete.status_code == 400 and "installments" in incomplete.json()
    taken = client.post(reverse("api-loan-list"), {
        "borrower": borrower, "external_id": "L-10", "product": "us-test", "principal": "200.00", "currency": "CNY",
        "disbursed_on": "2026-01-01", "annual_rate": "1", "term_months": 2, "first_due_date": "2026-02-01"},
        format="json")  # fmt: skip
    assert taken.status_code == 400 and {"external_id", "currency"} <= set(taken.json())
    assert Loan.objects.count() == 2


def loan_body(borrower_id, **changes):
    body = {"borrower": borrower_id, "external_id": "L-NEW", "product": "us-test", "principal": "1200.00",
            "currency": "USD", "disbursed_on": "2026-01-01", "annual_rate": "12", "term_months": 12,
            "first_due_date": "2026-02-01"}  # fmt: skip
    return {**body, **changes}


def test_a_manager_creates_a_loan_for_a_borrower_of_their_cases_and_gets_it_back():
    # The borrower is visible through a case; the new loan has no case yet: the answer must not depend on one.
    manager = user_with_role("manager", "mia")
    case = make_case()
    client = api_for(manager)
    client.raise_request_exception = False
    created = client.post(reverse("api-loan-list"), loan_body(case.borrower_id), format="json")
    assert created.status_code == 201, created.content
    assert created.json()["external_id"] == "L-NEW" and len(created.json()["installments"]) == 12
    retried = client.post(reverse("api-loan-list"), loan_body(case.borrower_id), format="json")
    assert retried.status_code == 400 and "external_id" in retried.json()
    assert Loan.objects.filter(external_id="L-NEW").count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        # 600 annuity installments at 999 % on the largest principal: the balance overflows its column on refresh.
        ({"principal": "999999999999.99", "annual_rate": "999", "term_months": 600}, "principal"),
        ({"principal": "999999999999.99", "annual_rate": None, "term_months": None, "first_due_date": None,
          "installments": [{"number": n, "due_date": f"2027-{n:02d}-01", "amount_due": "999999999999.00"}
                           for n in (1, 2)]}, "installments"),
        ({"first_due_date": "9999-12-01"}, "first_due_date"),
        ({"disbursed_on": "0000-00-00"}, "disbursed_on"),
        ({"principal": "1e309"}, "principal"),
    ],
)  # fmt: skip
def test_a_loan_whose_numbers_cannot_be_stored_is_refused_before_anything_is_written(changes, field):
    admin = user_with_role("admin", "ada")
    case = make_case()
    client = api_for(admin)
    client.raise_request_exception = False
    body = {k: v for k, v in loan_body(case.borrower_id, **changes).items() if v is not None}
    loans = Loan.objects.count()
    response = client.post(reverse("api-loan-list"), body, format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert Loan.objects.count() == loans


def test_payments_that_would_take_the_credit_past_what_an_amount_holds_are_refused():
    admin = user_with_role("admin", "ada")
    case = make_case()
    client = api_for(admin)
    client.raise_request_exception = False
    body = {"loan": case.loan_id, "amount": "999999999999.00", "received_at": "2024-02-12T10:00:00+00:00"}
    assert client.post(reverse("api-payments"), {**body, "reference": "A"}, format="json").status_code == 201
    response = client.post(reverse("api-payments"), {**body, "reference": "B"}, format="json")
    assert response.status_code == 400 and "amount" in response.json(), response.content
    assert Payment.objects.filter(loan=case.loan).count() == 1


def test_bulk_payments_that_would_take_the_credit_past_what_an_amount_holds_are_row_errors():
    admin = user_with_role("admin", "ada")
    case = make_case()
    client = api_for(admin)
    client.raise_request_exception = False
    row = {"loan": case.loan.external_id, "amount": "999999999999.00", "received_at": "2024-02-12T10:00:00+00:00"}
    response = client.post(reverse("api-payments-bulk"), [{**row, "reference": "A"}, {**row, "reference": "B"}],
                           format="json")  # fmt: skip
    assert response.status_code == 400, response.content
    (error,) = response.json()["errors"]
    assert (error["row"], error["field"]) == (2, "amount") and "more than an amount can hold" in error["message"]
    assert not Payment.objects.exists()


def test_a_single_payment_in_fractional_yen_is_refused_like_the_bulk_path_refuses_it():
    admin = user_with_role("admin", "ada")
    product = ProductFactory(code="jp-test", currency="JPY", timezone="Asia/Tokyo")
    loan = LoanFactory(product=product, currency="JPY", principal="30000.00")
    client = api_for(admin)
    body = {"loan": loan.pk, "received_at": "2024-02-12T10:00:00+09:00", "reference": "Y-1"}
    response = client.post(reverse("api-payments"), {**body, "amount": "100.50"}, format="json")
    assert response.status_code == 400 and "JPY" in response.json()["amount"][0], response.content
    assert not Payment.objects.exists()
    assert client.post(reverse("api-payments"), {**body, "amount": "100"}, format="json").status_code == 201
