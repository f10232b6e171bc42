"""VUL-01 review reminders: once a vulnerability record's review date has passed, the daily task gives the collector
of each of the borrower's open cases and the team's manager a to-do on their home page — once (idempotent), gone
when the record is reviewed (a new review date) or ended."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from collections_app.models import ReviewReminder
from collections_app.tasks import vulnerability_review_reminders
from compliance.services import vulnerability_end, vulnerability_record
from tests.factories import BorrowerFactory, make_case, overdue_loan, team_with, user_with_role

pytestmark = pytest.mark.django_db
TODAY = dt.date(2025, 6, 2)


@pytest.fixture
def people():
    manager = user_with_role("manager", "morgan")
    collector = user_with_role("collector", "casey")
    team_with(collector, manager=manager)
    return manager, collector


def record(borrower, actor, review_on):
    return vulnerability_record(borrower_id=borrower.pk, actor=actor, drivers=["health"], consent_method="spoken",
                                review_on=review_on, where="test")[0]  # fmt: skip


def home(user):
    client = Client()
    client.force_login(user)
    return client.get(reverse("home"))


def test_the_collector_and_the_manager_get_a_to_do_once_the_review_date_passes(people, time_machine):
    manager, collector = people
    borrower = BorrowerFactory()
    case = make_case(loan=overdue_loan(borrower=borrower), worked_by=collector)
    make_case(state="resolved", loan=overdue_loan(borrower=borrower), worked_by=collector)  # not an open case
    calm = make_case(loan=overdue_loan(), worked_by=collector)
    time_machine.move_to(dt.datetime(2025, 5, 1, 9, tzinfo=dt.UTC), tick=False)
    due = record(borrower, manager, review_on=TODAY)
    record(calm.borrower, manager, review_on=TODAY + dt.timedelta(days=1))  # not yet
    time_machine.move_to(dt.datetime(2025, 6, 1, 9, tzinfo=dt.UTC), tick=False)
    assert vulnerability_review_reminders() == 0  # the day before
    time_machine.move_to(dt.datetime(2025, 6, 2, 9, tzinfo=dt.UTC), tick=False)
    assert vulnerability_review_reminders() == 2
    assert vulnerability_review_reminders() == 0  # idempotent
    assert set(ReviewReminder.objects.values_list("user__username", "case_id", "record_id")) == {
        ("casey", case.pk, due.pk),
        ("morgan", case.pk, due.pk),
    }
    for user in (collector, manager):
        page = home(user)
        assert [r.case_id for r in page.context["reviews"]] == [case.pk]
        assert "review due on 2025-06-02" in page.content.decode()
    assert 'data-testid="review-reminders"' not in home(user_with_role("collector", "jordan")).content.decode()


def test_a_review_with_a_new_date_or_the_end_of_the_record_clears_the_to_do(people, time_machine):
    manager, collector = people
    first, second = BorrowerFactory(), BorrowerFactory()
    make_case(loan=overdue_loan(borrower=first), worked_by=collector)
    make_case(loan=overdue_loan(borrower=second), worked_by=collector)
    time_machine.move_to(dt.datetime(2025, 5, 1, 9, tzinfo=dt.UTC), tick=False)
    record(first, manager, review_on=TODAY)
    ended = record(second, manager, review_on=TODAY)
    time_machine.move_to(dt.datetime(2025, 6, 3, 9, tzinfo=dt.UTC), tick=False)
    vulnerability_review_reminders()
    assert len(home(collector).context["reviews"]) == 2
    record(first, collector, review_on=dt.date(2025, 9, 1))  # reviewed: the next review in September
    vulnerability_end(record_id=ended.pk, actor=manager, reason="recovered", where="test")
    assert home(collector).context["reviews"] == []
    assert vulnerability_review_reminders() == 0
