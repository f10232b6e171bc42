"""Bad input is refused, never a crash: a superscript digit where an id goes, a NUL byte in a search, amounts too
large for a Decimal context, dates at the edge of the calendar, JSON nested beyond the parser's recursion — each
answers 4xx (or, on the case page's forms, a refusal message) with a clear message and writes nothing."""

import datetime as dt

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from collections_app.models import CollectionCase, FieldVisit, PaymentPlan, PromiseToPay
from compliance.models import ContactEvent, Decision, Restriction
from loans.models import Loan, Payment
from tests.factories import PhoneFactory, TeamFactory, api_for, make_case, user_with_role

pytestmark = pytest.mark.django_db
NOON_NY = dt.datetime(2025, 6, 4, 16, 0, tzinfo=dt.UTC)
WRITTEN = [Payment, Loan, ContactEvent, Decision, Restriction, FieldVisit, PaymentPlan, PromiseToPay]


def rows() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in WRITTEN}


@pytest.fixture
def admin():
    return user_with_role("admin", "ada")


@pytest.fixture
def case(admin):
    case = make_case(assigned_to=admin)
    PhoneFactory(borrower=case.borrower, number="+16175550142", sms_consent=True, autodial_consent=True)
    return case


@pytest.fixture
def api(admin):
    client = api_for(admin)
    client.raise_request_exception = False
    return client


@pytest.fixture
def web(admin):
    client = Client(raise_request_exception=False)
    client.force_login(admin)
    return client


def said(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


# ---------------------------------------------------------------------------------------------------------------
# Ids in query strings and forms: "²".isdigit() is True, int("²") raises
# ---------------------------------------------------------------------------------------------------------------
def test_a_superscript_digit_as_the_contacts_borrower_filter_is_a_400(api, case):
    response = api.get(reverse("api-contacts"), {"borrower": "²"})
    assert response.status_code == 400 and "borrower" in response.json()
    assert api.get(reverse("api-contacts"), {"borrower": case.borrower_id}).status_code == 200


@pytest.mark.parametrize("value", ["²", "١٢", "9" * 30, "-1"])
def test_a_call_parameter_that_is_not_a_decision_id_is_a_400_on_the_case_page(web, case, value):
    response = web.get(reverse("case-detail", args=[case.pk]), {"call": value})
    assert response.status_code == 400 and "call" in response.content.decode()


def test_a_superscript_digit_as_the_performance_team_is_a_400(web, admin):
    TeamFactory(name="US", manager=admin)
    response = web.get(reverse("performance"), {"team": "²"})
    assert response.status_code == 400 and "team" in response.content.decode()


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("escalations-decide", {"case": "²", "decision": "approve_legal", "reason": "ok"}),
        ("cases-reassign", {"case": "²", "to_user": "1"}),
        ("cases-reassign", {"case": "1", "to_user": "²"}),
    ],
)
def test_superscript_digits_in_the_managers_forms_are_a_400_and_change_nothing(web, case, url, data):
    before = CollectionCase.objects.values_list("pk", "state", "assigned_to").get(pk=case.pk)
    response = web.post(reverse(url), data)
    assert response.status_code == 400
    assert CollectionCase.objects.values_list("pk", "state", "assigned_to").get(pk=case.pk) == before


# ---------------------------------------------------------------------------------------------------------------
# NUL bytes: PostgreSQL refuses them in text
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("query", ["\x00", "Borrower\x00 0"])
def test_a_nul_byte_in_the_queue_search_is_a_400(web, case, query):
    response = web.get(reverse("case-queue"), {"q": query})
    assert response.status_code == 400 and "search" in response.content.decode().lower()


# ---------------------------------------------------------------------------------------------------------------
# Amounts
# ---------------------------------------------------------------------------------------------------------------
HUGE_AMOUNTS = ["1e309", "1" * 40, "1" * 40 + ".50", "-1e309", "9" * 13]


@pytest.mark.parametrize("amount", HUGE_AMOUNTS)
def test_an_amount_beyond_the_decimal_context_is_a_field_error_on_a_payment(api, case, amount):
    before = rows()
    body = {"loan": case.loan_id, "amount": amount, "received_at": "2024-02-12T10:00:00+00:00", "reference": "P"}
    response = api.post(reverse("api-payments"), body, format="json")
    assert response.status_code == 400 and "amount" in response.json(), response.content
    assert rows() == before


@pytest.mark.parametrize("amount", HUGE_AMOUNTS[:2])
def test_an_amount_beyond_the_decimal_context_is_a_row_error_in_bulk_payments(api, case, amount):
    before = rows()
    row = {"loan": case.loan.external_id, "amount": amount, "received_at": "2024-02-12T10:00:00+00:00",
           "reference": "P"}  # fmt: skip
    response = api.post(reverse("api-payments-bulk"), [row], format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "amount"
    assert rows() == before


def test_an_amount_beyond_the_decimal_context_is_a_refusal_on_the_case_page(web, case):
    response = web.post(reverse("case-action", args=[case.pk, "promise"]),
                         {"amount": "1e309", "promised_on": "2024-02-15"})  # fmt: skip
    assert response.status_code == 200 and "amount" in response.context["forms"]["promise"].errors
    assert not PromiseToPay.objects.exists()


# ---------------------------------------------------------------------------------------------------------------
# Dates at the edges of the calendar: year 0, year 9999 plus a day or a time zone
# ---------------------------------------------------------------------------------------------------------------
EDGE_INSTANTS = ["0000-00-00T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z", "9999-12-31T23:59:59+14:00"]


@pytest.mark.parametrize("at", EDGE_INSTANTS)
def test_a_payment_received_at_the_edge_of_the_calendar_is_a_field_error(api, case, at):
    before = rows()
    body = {"loan": case.loan_id, "amount": "10.00", "received_at": at, "reference": "P"}
    response = api.post(reverse("api-payments"), body, format="json")
    assert response.status_code == 400 and "received_at" in response.json(), response.content
    assert rows() == before


@pytest.mark.parametrize("at", EDGE_INSTANTS)
def test_a_compliance_check_at_the_edge_of_the_calendar_is_a_field_error(api, case, at):
    before = rows()
    body = {"borrower": case.borrower_id, "channel": "call", "at": at}
    response = api.post(reverse("api-compliance-check"), body, format="json")
    assert response.status_code == 400 and "at" in response.json(), response.content
    assert rows() == before


@pytest.mark.parametrize("at", EDGE_INSTANTS)
def test_a_contact_at_the_edge_of_the_calendar_is_a_field_error(api, case, at):
    before = rows()
    body = {"borrower": case.borrower_id, "channel": "call", "direction": "outbound", "outcome": "conversation",
            "occurred_at": at}  # fmt: skip
    response = api.post(reverse("api-contacts"), body, format="json")
    assert response.status_code == 400 and "occurred_at" in response.json(), response.content
    assert rows() == before


@pytest.mark.parametrize("start", ["9999-12-31T20:00:00Z", "9999-12-31T10:00:00+14:00"])
def test_a_visit_at_the_end_of_the_calendar_is_a_field_error(api, case, start):
    before = rows()
    body = {"address": "1 Main St", "collectors": ["ada"], "window_start": start, "window_end": "9999-12-31T23:00:00Z"}
    response = api.post(reverse("api-case-visits", args=[case.pk]), body, format="json")
    assert response.status_code == 400 and "window_start" in response.json(), response.content
    assert rows() == before


@pytest.mark.parametrize("starts_on", ["9999-12-01", "9999-12-31", "0000-00-00"])
def test_a_plan_starting_at_the_end_of_the_calendar_is_a_field_error(api, case, starts_on):
    before = rows()
    body = {"down_payment": "0", "count": 3, "frequency": "monthly", "starts_on": starts_on}
    response = api.post(reverse("api-case-payment-plans", args=[case.pk]), body, format="json")
    assert response.status_code == 400 and "starts_on" in response.json(), response.content
    assert rows() == before


@pytest.mark.parametrize(
    ("action", "data", "field"),
    [
        ("plan", {"down_payment": "0", "count": "3", "frequency": "monthly", "starts_on": "9999-12-01"}, "starts_on"),
        ("visit", {"address": "x", "window_start": "9999-12-31T20:00", "window_end": "9999-12-31T23:00"},
         "window_start"),
        ("promise", {"amount": "10", "promised_on": "9999-12-31"}, "promised_on"),
    ],
)  # fmt: skip
def test_the_case_page_forms_refuse_dates_at_the_end_of_the_calendar(web, case, action, data, field):
    before = rows()
    response = web.post(reverse("case-action", args=[case.pk, action]), data)
    assert response.status_code == 200 and field in response.context["forms"][action].errors  # beside the field
    assert rows() == before


def test_a_plan_form_without_a_waiver_waives_nothing_rather_than_crashing(web, case):
    form = {"down_payment": "10", "count": "2", "frequency": "monthly", "starts_on": "2025-06-10"}  # no "waive"
    with time_machine.travel(NOON_NY, tick=False):
        response = web.post(reverse("case-action", args=[case.pk, "plan"]), form)
    assert response.status_code == 302
    assert PaymentPlan.objects.get(case=case).waived_amount == 0


# ---------------------------------------------------------------------------------------------------------------
# JSON nested deeper than the parser can recurse
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["api-payments", "api-compliance-check", "api-contacts", "api-loans-bulk"])
def test_json_nested_a_hundred_thousand_levels_deep_is_a_400(api, case, url):
    before = rows()
    body = "[" * 100_000 + "]" * 100_000
    response = api.generic("POST", reverse(url), body, content_type="application/json")
    assert response.status_code == 400 and "nested" in response.json()["detail"], response.content
    assert rows() == before


def test_json_nested_deeper_than_any_request_needs_is_a_400(api, case):
    details: dict = {}
    for _ in range(200):
        details = {"x": details}
    body = {"kind": "dispute", "details": details}
    response = api.post(reverse("api-borrower-restrictions", args=[case.borrower_id]), body, format="json")
    assert response.status_code == 400 and "nested" in response.json()["detail"]
    assert not Restriction.objects.exists()


@pytest.mark.parametrize("details", [{"from": "\x00"}, {"\x00": "22:00"}, {"nested": [{"deep": "a\x00b"}]}])
def test_a_nul_byte_anywhere_in_a_restrictions_details_is_a_field_error(api, case, details):
    body = {"kind": "dispute", "details": details}
    response = api.post(reverse("api-borrower-restrictions", args=[case.borrower_id]), body, format="json")
    assert response.status_code == 400 and "details" in response.json(), response.content
    assert not Restriction.objects.exists()


def test_a_nul_byte_in_a_managers_reason_is_a_400_and_changes_nothing(web, admin):
    case = make_case(state="legal_review", assigned_to=admin)
    response = web.post(reverse("escalations-decide"), {"case": case.pk, "decision": "approve_legal", "reason": "\x00"})
    assert response.status_code == 400 and "reason" in response.content.decode()
    assert CollectionCase.objects.get(pk=case.pk).state == "legal_review"


def test_reassignment_never_redirects_to_another_site(web, case):
    response = web.post(reverse("cases-reassign"), {"case": case.pk, "next": "https://evil.example.com/"})
    assert response.status_code == 302 and response["Location"] == reverse("case-queue")
