"""The managers' escalation queue: legal review with evidence, bulk approve and reject, plans, reassignment,
denials and exceptions — only for managers, only their teams' cases."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from collections_app.models import CollectionCase
from tests.factories import (
    ContactEventFactory,
    TeamFactory,
    TeamMembershipFactory,
    make_case,
    team_with,
    user_with_role,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    manager = user_with_role("manager", "morgan")
    collector = user_with_role("collector", "casey")
    return manager, collector, team_with(collector, name="US", manager=manager)


def in_review(team, collector, **fields):
    return make_case(state="legal_review", team=team, assigned_to=collector, **fields)


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_queue_shows_my_teams_cases_in_review_with_their_evidence(team):
    manager, collector, t = team
    mine = in_review(t, collector)
    ContactEventFactory(borrower=mine.borrower, outcome="no_answer", at="2024-02-06T15:00Z", is_exception=True)
    other_team = TeamFactory(name="CN", language="zh-hans", manager=user_with_role("manager", "mei"))
    make_case(state="legal_review", team=other_team)
    response = client_for(manager).get(reverse("escalations"))
    assert response.status_code == 200
    (row,) = response.context["review"]
    assert row.pk == mine.pk and row.exception_count == 1 and row.notices_sent is None
    assert len(response.context["exceptions"]) == 1


def test_bulk_approval_moves_every_checked_case_to_legal(team):
    manager, collector, t = team
    cases = [in_review(t, collector) for _ in range(3)]
    response = client_for(manager).post(
        reverse("escalations-decide"), {"case": [c.pk for c in cases[:2]], "decision": "approve_legal"}
    )
    assert response.status_code == 302
    states = dict(CollectionCase.objects.filter(pk__in=[c.pk for c in cases]).values_list("pk", "state"))
    assert [states[c.pk] for c in cases] == ["legal", "legal", "legal_review"]


def test_rejecting_needs_a_reason_and_goes_back_to_formal_notice(team):
    manager, collector, t = team
    case = in_review(t, collector)
    client = client_for(manager)
    response = client.post(reverse("escalations-decide"), {"case": [case.pk], "decision": "reject_legal"})
    assert "reason" in " ".join(str(m) for m in get_messages(response.wsgi_request))
    client.post(reverse("escalations-decide"), {"case": [case.pk], "decision": "reject_legal", "reason": "new job"})
    case.refresh_from_db()
    assert case.state == "formal_notice"


def test_collectors_cannot_open_or_use_the_queue(team):
    _, collector, t = team
    case = in_review(t, collector)
    client = client_for(collector)
    assert client.get(reverse("escalations")).status_code == 403
    assert (
        client.post(reverse("escalations-decide"), {"case": [case.pk], "decision": "approve_legal"}).status_code == 403
    )
    case.refresh_from_db()
    assert case.state == "legal_review"


def test_a_manager_cannot_decide_another_teams_case(team):
    manager, _, _ = team
    other_team = TeamFactory(name="CN", language="zh-hans", manager=user_with_role("manager", "mei"))
    theirs = make_case(state="legal_review", team=other_team)
    client_for(manager).post(reverse("escalations-decide"), {"case": [theirs.pk], "decision": "approve_legal"})
    theirs.refresh_from_db()
    assert theirs.state == "legal_review"


def test_bulk_reassignment_within_the_team(team):
    manager, collector, t = team
    other = user_with_role("collector", "jordan")
    TeamMembershipFactory(user=other, team=t)
    cases = [in_review(t, collector) for _ in range(2)]
    client = client_for(manager)
    assert {p.username for p in client.get(reverse("case-queue")).context["collectors"]} == {"casey", "jordan"}
    client.post(reverse("cases-reassign"), {"case": [c.pk for c in cases], "to_user": other.pk})
    assert set(CollectionCase.objects.filter(pk__in=[c.pk for c in cases]).values_list("assigned_to", flat=True)) == {
        other.pk
    }
    outsider = user_with_role("collector", "sam")
    client.post(reverse("cases-reassign"), {"case": [cases[0].pk], "to_user": outsider.pk})
    assert CollectionCase.objects.get(pk=cases[0].pk).assigned_to == other
