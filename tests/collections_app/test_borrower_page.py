"""The borrower page: every loan and case of a borrower under the cases' access rule, and a promise covering several
of their loans (one promise per loan, all or none, each audited)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from collections_app.models import CaseTransition, CollectionCase, PromiseToPay
from collections_app.services import InvalidRequest, promise_record_several
from tests.factories import BorrowerFactory, LoanFactory, make_case, overdue_loan, team_with, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    collector, other = user_with_role("collector", "casey"), user_with_role("collector", "otto")
    manager = user_with_role("manager", "mona")
    team = team_with(collector, manager=manager, name="A")
    team_with(other, name="B")
    borrower = BorrowerFactory(full_name="Maria Garcia")
    cases = [
        make_case(loan=overdue_loan(borrower=borrower, external_id=f"L-{n}"), assigned_to=collector, team=team)
        for n in (1, 2, 3)
    ]
    LoanFactory(borrower=borrower, external_id="L-4")  # a loan without a case
    return {"collector": collector, "other": other, "manager": manager, "borrower": borrower, "cases": cases}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def url(borrower, name="borrower-detail"):
    return reverse(name, args=[borrower.pk])


def test_the_collector_sees_every_loan_its_case_state_in_words_and_links_to_the_cases(world):
    response = client_for(world["collector"]).get(url(world["borrower"]))
    assert response.status_code == 200
    html = response.content.decode()
    for case in world["cases"]:
        assert reverse("case-detail", args=[case.pk]) in html
    assert all(f"L-{n}" in html for n in (1, 2, 3, 4))
    assert "USD 300.00" in html  # 3 x 100.00 overdue in all
    assert ">reminder<" in html and "formal_notice" not in html and "no case" in html


def test_another_teams_collector_and_manager_get_404_and_the_teams_manager_sees_it(world):
    assert client_for(world["other"]).get(url(world["borrower"])).status_code == 404
    assert client_for(user_with_role("manager", "other-mgr")).get(url(world["borrower"])).status_code == 404
    assert client_for(world["manager"]).get(url(world["borrower"])).status_code == 200
    assert client_for(user_with_role("admin", "root")).get(url(world["borrower"])).status_code == 200


def test_a_case_the_reader_may_not_open_is_listed_without_a_link(world):
    stranger_case = make_case(loan=overdue_loan(borrower=world["borrower"]), assigned_to=world["other"])
    html = client_for(world["collector"]).get(url(world["borrower"])).content.decode()
    assert reverse("case-detail", args=[stranger_case.pk]) not in html and stranger_case.loan.external_id in html


def test_the_case_page_links_to_the_borrower_page(world):
    page = client_for(world["collector"]).get(reverse("case-detail", args=[world["cases"][0].pk]))
    assert url(world["borrower"]) in page.content.decode()


def test_a_promise_covering_two_loans_moves_both_cases_and_audits_each(world):
    first, second, third = world["cases"]
    promised_on = dt.date.today() + dt.timedelta(days=2)
    response = client_for(world["collector"]).post(
        url(world["borrower"], "borrower-promise"),
        {f"cover_{first.pk}": "on", f"amount_{first.pk}": "60.00", f"cover_{second.pk}": "on",
         f"amount_{second.pk}": "40.00", f"amount_{third.pk}": "99.00", "promised_on": promised_on.isoformat()},
    )  # fmt: skip
    assert response.status_code == 302
    promises = {p.case_id: p.amount for p in PromiseToPay.objects.all()}
    assert promises == {first.pk: Decimal("60.00"), second.pk: Decimal("40.00")}  # an unticked amount is ignored
    states = dict(CollectionCase.objects.values_list("pk", "state"))
    assert (states[first.pk], states[second.pk], states[third.pk]) == ("promise_to_pay", "promise_to_pay", "reminder")
    for case in (first, second):
        audit = CaseTransition.objects.get(case=case, transition="take_promise")
        assert "one promise covering" in audit.reason and "L-1" in audit.reason and "L-2" in audit.reason


def test_a_ticked_loan_without_an_amount_comes_back_as_typed_with_the_error_beside_it(world):
    first, second, _ = world["cases"]
    response = client_for(world["collector"]).post(
        url(world["borrower"], "borrower-promise"),
        {f"cover_{first.pk}": "on", f"amount_{first.pk}": "60.00", f"cover_{second.pk}": "on",
         "promised_on": "2030-01-01", "note": "typed note"},
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 200 and "Give the amount promised on this loan." in html
    assert 'value="60.00"' in html and 'value="typed note"' in html and not PromiseToPay.objects.exists()


def test_nothing_ticked_is_refused(world):
    response = client_for(world["collector"]).post(
        url(world["borrower"], "borrower-promise"), {"promised_on": dt.date.today().isoformat()}
    )
    assert response.status_code == 200 and "Tick at least one loan" in response.content.decode()


def test_a_promise_over_several_loans_is_all_or_none(world):
    first, second, _ = world["cases"]
    with pytest.raises(InvalidRequest):
        promise_record_several(
            borrower_id=world["borrower"].pk,
            actor=world["collector"],
            amounts={first.pk: Decimal("10.00"), second.pk: Decimal("10000.00")},  # more than the loan's balance
            promised_on=dt.date.today() + dt.timedelta(days=1),
        )
    assert not PromiseToPay.objects.exists()
    assert set(CollectionCase.objects.values_list("state", flat=True)) == {"reminder"}


def test_a_case_of_another_borrower_cannot_be_covered(world):
    stranger = make_case(loan=overdue_loan())
    with pytest.raises(InvalidRequest):
        promise_record_several(
            borrower_id=world["borrower"].pk,
            actor=world["collector"],
            amounts={world["cases"][0].pk: Decimal("10.00"), stranger.pk: Decimal("10.00")},
            promised_on=dt.date.today() + dt.timedelta(days=1),
        )
    assert not PromiseToPay.objects.exists()


def test_the_case_pages_promise_form_can_cover_the_borrowers_other_open_cases(world):
    first, second, third = world["cases"]
    client = client_for(world["collector"])
    page = client.get(reverse("case-detail", args=[first.pk])).content.decode()
    assert f'name="also_{second.pk}"' in page and f'name="also_{third.pk}"' in page and f"also_{first.pk}" not in page
    promised_on = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    action = reverse("case-action", args=[first.pk, "promise"])
    missing = client.post(action, {"amount": "30.00", "promised_on": promised_on, f"also_{third.pk}": "on"})
    assert missing.status_code == 200 and "Give the amount promised on this loan." in missing.content.decode()
    assert not PromiseToPay.objects.exists()
    done = client.post(
        action,
        {"amount": "30.00", "promised_on": promised_on, f"also_{third.pk}": "on", f"also_amount_{third.pk}": "45.00"},
    )
    assert done.status_code == 302
    assert dict(PromiseToPay.objects.values_list("case_id", "amount")) == {
        first.pk: Decimal("30.00"),
        third.pk: Decimal("45.00"),
    }
    assert CollectionCase.objects.get(pk=second.pk).state == "reminder"


def test_a_promise_on_one_case_alone_is_unchanged(world):
    first = world["cases"][0]
    response = client_for(world["collector"]).post(
        reverse("case-action", args=[first.pk, "promise"]),
        {"amount": "30.00", "promised_on": (dt.date.today() + dt.timedelta(days=2)).isoformat()},
    )
    assert response.status_code == 302
    assert list(PromiseToPay.objects.values_list("case_id", flat=True)) == [first.pk]
