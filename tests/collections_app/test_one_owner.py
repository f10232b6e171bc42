"""One owner per borrower: the sweep gives a borrower's new cases to the collector who already has one of their open
cases (or deals a new borrower's cases to one collector), and reassigning one case moves all of them."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from collections_app.models import CaseTransition, CollectionCase
from collections_app.services import cases_reassign
from collections_app.sweep import assign_unassigned, sweep_run
from tests.factories import (
    BorrowerFactory,
    LoanFactory,
    loan_with_schedule,
    make_case,
    team_with,
    user_with_role,
)

pytestmark = pytest.mark.django_db


def overdue(borrower, due="2024-02-01", amount="100.00"):
    return loan_with_schedule((due, amount), borrower=borrower)


def test_a_new_borrowers_cases_all_go_to_one_collector():
    collectors = [user_with_role("collector", f"c{n}") for n in range(3)]
    team_with(*collectors)
    borrower = BorrowerFactory()
    loans = [overdue(borrower) for _ in range(3)]
    sweep_run(as_of=dt.date(2024, 2, 10), chunks=2)
    owners = set(CollectionCase.objects.filter(loan__in=loans).values_list("assigned_to_id", flat=True))
    assert len(owners) == 1 and owners <= {c.pk for c in collectors}


def test_borrowers_are_still_dealt_round_robin_between_collectors():
    first, second = user_with_role("collector", "first"), user_with_role("collector", "second")
    team_with(first, second)
    for _ in range(2):
        borrower = BorrowerFactory()
        overdue(borrower)
        overdue(borrower)
    sweep_run(as_of=dt.date(2024, 2, 10))
    per_collector = {
        c.pk: set(CollectionCase.objects.filter(assigned_to=c).values_list("borrower_id", flat=True))
        for c in (first, second)
    }
    assert [len(b) for b in per_collector.values()] == [1, 1]  # one borrower (both cases) each


def test_a_borrowers_new_case_goes_to_the_collector_of_their_open_case_not_the_least_busy():
    busy, idle = user_with_role("collector", "busy"), user_with_role("collector", "idle")
    team = team_with(busy, idle)
    borrower = BorrowerFactory()
    existing = make_case(loan=overdue(borrower), assigned_to=busy, team=team)
    for _ in range(3):  # ``busy`` has more work: round-robin by workload would pick ``idle``
        make_case(assigned_to=busy, team=team)
    new = make_case(loan=LoanFactory(borrower=borrower))
    assert new.assigned_to_id is None
    assert assign_unassigned(existing.opened_at) == 1
    new.refresh_from_db()
    assert (new.assigned_to_id, new.team_id) == (busy.pk, team.pk)


def test_an_inactive_owner_does_not_keep_the_borrower():
    gone, present = user_with_role("collector", "gone"), user_with_role("collector", "present")
    team = team_with(gone, present)
    borrower = BorrowerFactory()
    make_case(loan=overdue(borrower), assigned_to=gone, team=team)
    gone.is_active = False
    gone.save()
    new = make_case(loan=LoanFactory(borrower=borrower))
    assign_unassigned(new.opened_at)
    new.refresh_from_db()
    assert new.assigned_to_id == present.pk


def test_reassigning_one_case_moves_all_the_borrowers_open_cases_each_audited():
    manager = user_with_role("manager", "boss")
    old, new = user_with_role("collector", "old"), user_with_role("collector", "new")
    team = team_with(old, new, manager=manager)
    borrower = BorrowerFactory()
    cases = [make_case(loan=LoanFactory(borrower=borrower), assigned_to=old, team=team) for _ in range(3)]
    closed = make_case(state="resolved", loan=LoanFactory(borrower=borrower), assigned_to=old, team=team)
    someone_else = make_case(assigned_to=old, team=team)
    assert cases_reassign(case_ids=[cases[0].pk], to_user=new, actor=manager) == 3
    assert set(
        CollectionCase.objects.filter(borrower=borrower, state="reminder").values_list("assigned_to", flat=True)
    ) == {new.pk}
    closed.refresh_from_db()
    someone_else.refresh_from_db()
    assert closed.assigned_to_id == old.pk and someone_else.assigned_to_id == old.pk
    assert CaseTransition.objects.filter(transition="reassign", case__borrower=borrower).count() == 3


def test_the_bulk_reassign_page_says_the_borrowers_cases_move_together():
    manager = user_with_role("manager", "boss")
    old, new = user_with_role("collector", "old"), user_with_role("collector", "new")
    team = team_with(old, new, manager=manager)
    borrower = BorrowerFactory()
    cases = [make_case(loan=LoanFactory(borrower=borrower), assigned_to=old, team=team) for _ in range(2)]
    client = Client()
    client.force_login(manager)
    response = client.post(reverse("cases-reassign"), {"case": [cases[0].pk], "to_user": new.pk}, follow=True)
    text = response.content.decode()
    assert "2 case(s) moved to new" in text and "every open case of the same borrower moves" in text
    assert {c.assigned_to_id for c in CollectionCase.objects.filter(borrower=borrower)} == {new.pk}
