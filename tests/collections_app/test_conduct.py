"""BS-01 (breathing space) and FB-01 (forbearance before enforcement) on the case: the transition API's 409 with the
rule, the case page's message, the sweep neither escalating nor charging interest and fees (RULES.md §2.8)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from collections_app.models import CaseTransition, CollectionCase, Forbearance
from collections_app.services import forbearance_record, hold_place
from collections_app.sweep import sweep_run
from compliance.models import Restriction
from loans.models import Installment
from tests.factories import (
    BorrowerFactory,
    InstallmentFactory,
    LoanFactory,
    api_for,
    loan_with_schedule,
    make_case,
    notices_served,
    overdue_loan,
    team_with,
    user_with_role,
)

pytestmark = pytest.mark.django_db
D = Decimal
UK = {"country": "GB", "region": "", "time_zones": ["Europe/London"]}
DE = {"country": "DE", "region": "", "time_zones": ["Europe/Berlin"]}


@pytest.fixture
def collector():
    collector = user_with_role("collector", "casey")
    team_with(collector, manager=user_with_role("manager", "morgan"))
    return collector


def case_for(collector, state="formal_notice", **borrower):
    loan = overdue_loan(borrower=BorrowerFactory(**borrower))
    case = make_case(state=state, loan=loan, worked_by=collector)
    notices_served(case)  # FN-01 and DN-01 met: these tests are about the other rules
    return case


def request_legal(client, case):
    url = reverse("api-case-transition", args=[case.pk, "request_legal"])
    return client.post(url, {"reason": "no payment after the notice"}, format="json")


# FB-01 ---------------------------------------------------------------------------------------------------------
def test_fb01_uk_request_legal_is_409_until_forbearance_is_recorded_through_the_api(collector):
    case = case_for(collector, **UK)
    client = api_for(collector)
    refused = request_legal(client, case)
    assert refused.status_code == 409 and refused.json()["rule"] == "FB-01"
    assert "forbearance" in refused.json()["detail"]
    case.refresh_from_db()
    assert case.state == "formal_notice" and not CaseTransition.objects.filter(case=case).exists()

    url = reverse("api-case-forbearance", args=[case.pk])
    recorded = client.post(url, {"kind": "payment_holiday", "details": "two months", "starts_on": "2024-03-01",
                                 "ends_on": "2024-04-30"}, format="json")  # fmt: skip
    assert recorded.status_code == 201 and recorded.json()["recorded_by"] == "casey"
    assert [f["kind"] for f in client.get(url).json()] == ["payment_holiday"]
    assert client.post(url, {"kind": "magic"}, format="json").status_code == 400
    assert client.post(url, {"kind": "fees_waived", "starts_on": "2024-05-01", "ends_on": "2024-04-01"},
                       format="json").status_code == 400  # fmt: skip
    done = request_legal(client, case)
    assert done.status_code == 200 and done.json()["state"] == "legal_review"


def test_fb01_eu_needs_a_debt_advice_referral_too_and_a_referral_alone_is_not_forbearance(collector):
    case = case_for(collector, **DE)
    client = api_for(collector)
    forbearance_record(case_id=case.pk, actor=collector, kind="debt_advice_referral")
    assert request_legal(client, case).json()["rule"] == "FB-01"  # a referral is not forbearance
    forbearance_record(case_id=case.pk, actor=collector, kind="reduced_payments")
    assert request_legal(client, case).status_code == 200
    other = case_for(collector, **DE)
    forbearance_record(case_id=other.pk, actor=collector, kind="interest_frozen")
    refused = request_legal(client, other)
    assert refused.status_code == 409 and "debt advice" in refused.json()["detail"]


def test_fb01_does_not_apply_in_the_us(collector):
    assert request_legal(api_for(collector), case_for(collector)).status_code == 200


def test_forbearance_from_the_case_page_form_keeps_what_was_typed_on_an_error(collector):
    case = case_for(collector, **UK)
    client = Client()
    client.force_login(collector)
    url = reverse("case-action", args=[case.pk, "forbearance"])
    bad = client.post(url, {"kind": "term_extended", "details": "6 more months", "starts_on": "2024-05-01",
                            "ends_on": "2024-04-01"})  # fmt: skip
    assert bad.status_code == 200 and "6 more months" in bad.content.decode()
    assert not Forbearance.objects.exists()
    client.post(url, {"kind": "term_extended", "details": "6 more months"})
    page = client.get(reverse("case-detail", args=[case.pk])).content.decode()
    assert 'data-testid="forbearances"' in page and "term extended" in page


# BS-01 ---------------------------------------------------------------------------------------------------------
def breathing_space(case, actor, **terms):
    return hold_place(case_id=case.pk, actor=actor, kind="breathing_space", reason="debt adviser's notice", **terms)


def test_bs01_a_breathing_space_is_the_borrowers_for_60_days_or_the_crisis_treatment_plus_30(collector):
    case = case_for(collector, **UK)
    with time_machine.travel(dt.datetime(2025, 6, 2, 9, tzinfo=dt.UTC), tick=False):
        hold = breathing_space(case, collector)
    restriction = hold.restriction
    assert restriction.loan_id is None and restriction.kind == "breathing_space"
    assert restriction.ends_at == dt.datetime(2025, 8, 1, 9, tzinfo=dt.UTC)  # 60 days
    assert restriction.details["type"] == "standard"
    crisis = case_for(collector, **UK)
    with time_machine.travel(dt.datetime(2025, 6, 2, 9, tzinfo=dt.UTC), tick=False):
        open_ended = breathing_space(crisis, collector, breathing_space_type="mental_health_crisis")
        assert open_ended.restriction.ends_at is None  # until the treatment's end is known
        dated = breathing_space(
            crisis, collector, breathing_space_type="mental_health_crisis", treatment_ends_on=dt.date(2025, 7, 10)
        )
    assert dated.restriction.ends_at.date() == dt.date(2025, 8, 10)  # the 30th day after the treatment, included


def test_bs01_escalation_of_the_borrowers_other_case_is_409_with_the_rule_and_a_message_in_the_browser(collector):
    borrower = BorrowerFactory(**UK)
    held = make_case(loan=overdue_loan(borrower=borrower), worked_by=collector)
    other = make_case(loan=overdue_loan(borrower=borrower), worked_by=collector)
    breathing_space(held, collector)
    url = reverse("api-case-transition", args=[other.pk, "escalate_formal_notice"])
    refused = api_for(collector).post(url, {"reason": "no answer"}, format="json")
    assert refused.status_code == 409 and refused.json()["rule"] == "BS-01"
    client = Client()
    client.force_login(collector)
    page = client.post(
        reverse("case-action", args=[other.pk, "transition-escalate_formal_notice"]), {"reason": "x"}, follow=True
    )
    assert "Breathing space: no escalation" in page.content.decode()
    other.refresh_from_db()
    assert other.state == "reminder"


def test_bs01_the_sweep_neither_escalates_nor_charges_interest_or_fees_during_the_space():
    loan = LoanFactory(borrower=BorrowerFactory(**UK))
    for number, due in enumerate(["2024-01-01", "2024-02-01", "2024-03-01", "2024-06-01"], start=1):
        InstallmentFactory(loan=loan, number=number, due_date=dt.date.fromisoformat(due), principal_due=D("100.00"),
                           interest_due=D("10.00"), fee_due=D("5.00"))  # fmt: skip
    sweep_run(as_of=dt.date(2024, 1, 10))
    case = CollectionCase.objects.get(loan=loan)
    manager = user_with_role("manager", "morgan")
    with time_machine.travel(dt.datetime(2024, 1, 20, 12, tzinfo=dt.UTC), tick=False):
        breathing_space(case, manager)  # until 2024-03-20
    with time_machine.travel(dt.datetime(2024, 3, 5, 12, tzinfo=dt.UTC), tick=False):
        sweep_run(as_of=dt.date(2024, 3, 5))  # DPD 64: formal notice would be due (30)
    case.refresh_from_db()
    assert case.state == "on_hold"
    rows = {i.number: (i.interest_due, i.fee_due, i.frozen_interest, i.frozen_fee) for i in loan.installments.all()}
    assert rows[1] == (D("10.00"), D("5.00"), D("0.00"), D("0.00"))  # due before the space: as agreed
    assert rows[2] == rows[3] == (D("0.00"), D("0.00"), D("10.00"), D("5.00"))  # fell due during it: frozen
    assert rows[4] == (D("10.00"), D("5.00"), D("0.00"), D("0.00"))  # not due yet
    loan.refresh_from_db()
    assert loan.amount_overdue == D("315.00")  # 115 + 100 + 100
    with time_machine.travel(dt.datetime(2024, 3, 6, 12, tzinfo=dt.UTC), tick=False):
        sweep_run(as_of=dt.date(2024, 3, 6))  # again: nothing more to freeze
    assert Installment.objects.filter(loan=loan, frozen_interest=D("10.00")).count() == 2


def test_bs01_and_fb01_the_sweep_does_not_escalate_other_cases_of_the_borrower_nor_to_legal_without_forbearance():
    borrower = BorrowerFactory(**UK)
    spaced = loan_with_schedule(("2024-01-01", "100.00"), borrower=borrower)
    held = loan_with_schedule(("2024-01-01", "100.00"), borrower=borrower)
    plain = loan_with_schedule(("2024-01-01", "100.00"), borrower=BorrowerFactory(**UK))
    us = loan_with_schedule(("2024-01-01", "100.00"))
    sweep_run(as_of=dt.date(2024, 1, 10))
    manager = user_with_role("manager", "morgan")
    with time_machine.travel(dt.datetime(2024, 1, 20, 12, tzinfo=dt.UTC), tick=False):
        breathing_space(CollectionCase.objects.get(loan=held), manager)
    with time_machine.travel(dt.datetime(2024, 2, 5, 12, tzinfo=dt.UTC), tick=False):
        sweep_run(as_of=dt.date(2024, 2, 5))  # DPD 35
    state = {loan: CollectionCase.objects.get(loan=loan).state for loan in (spaced, held, plain, us)}
    assert state == {spaced: "reminder", held: "on_hold", plain: "formal_notice", us: "formal_notice"}
    for case in CollectionCase.objects.filter(loan__in=[spaced, held, plain, us]):
        notices_served(case)  # FN-01 and DN-01 met: this test is about BS-01 and FB-01
    with time_machine.travel(dt.datetime(2024, 4, 15, 12, tzinfo=dt.UTC), tick=False):
        sweep_run(as_of=dt.date(2024, 4, 15))  # DPD 105; the breathing space ended on 2024-03-20
    assert CollectionCase.objects.get(loan=spaced).state == "formal_notice"
    assert CollectionCase.objects.get(loan=plain).state == "formal_notice"  # FB-01: no forbearance recorded
    assert CollectionCase.objects.get(loan=us).state == "legal_review"
    forbearance_record(case_id=CollectionCase.objects.get(loan=plain).pk, actor=manager, kind="payment_holiday")
    with time_machine.travel(dt.datetime(2024, 4, 16, 12, tzinfo=dt.UTC), tick=False):
        sweep_run(as_of=dt.date(2024, 4, 16))
    assert CollectionCase.objects.get(loan=plain).state == "legal_review"
    assert Restriction.objects.filter(kind="breathing_space").count() == 1
