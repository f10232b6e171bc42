"""Complaints through the API (CMP-01): list by status and overdue, record one with the borrower's clocks, and
acknowledge and resolve as a manager; 400 with the field, 403 for a collector, 404 outside the caller's cases."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from collections_app.models import Complaint
from collections_app.services.complaints import complaint_record
from tests.factories import BorrowerFactory, api_for, make_case, overdue_loan, team_with, user_with_role

pytestmark = pytest.mark.django_db
UK = {"country": "GB", "region": "", "time_zones": ["Europe/London"]}
NOW = dt.datetime(2025, 6, 2, 9, tzinfo=dt.UTC)  # a Monday


@pytest.fixture
def team():
    manager = user_with_role("manager", "morgan")
    collector = user_with_role("collector", "casey")
    team_with(collector, manager=manager)
    case = make_case(state="formal_notice", loan=overdue_loan(borrower=BorrowerFactory(**UK)), worked_by=collector)
    return manager, collector, case


def test_the_lenders_system_records_a_complaint_with_the_borrowers_clocks(team):
    _manager, collector, case = team
    body = {"case": case.pk, "category": "conduct", "summary": "called at work", "received_at": "2025-05-30T23:30:00Z"}
    with time_machine.travel(NOW, tick=False):
        response = api_for(collector).post(reverse("api-complaint-list"), body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["channel"] == "api" and data["status"] == "open" and data["regimes"] == "FCA"
    assert data["received_on"] == "2025-05-31"  # 00:30 in London
    assert data["acknowledge_by"] == "2025-06-04" and data["final_by"] == "2025-07-25"
    assert data["collector"] == "casey" and data["due"] == "2025-06-04" and data["overdue"] is False
    assert Complaint.objects.get().restriction is not None  # conduct: automated contact on review


def test_bad_input_is_400_with_the_field_and_another_teams_case_is_no_such_case(team):
    _manager, collector, case = team
    client = api_for(collector)
    url = reverse("api-complaint-list")
    bad = client.post(url, {"case": case.pk, "category": "rudeness", "summary": "", "colour": "red"}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"colour"}  # unknown fields first
    bad = client.post(url, {"case": case.pk, "category": "rudeness", "summary": ""}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"category", "summary"}
    naive = client.post(url, {"case": case.pk, "category": "data", "summary": "x", "received_at": "2025-05-30T10:00"},
                        format="json")  # fmt: skip
    assert naive.status_code == 400 and "received_at" in naive.json()
    future = client.post(url, {"case": case.pk, "category": "data", "summary": "x",
                               "received_at": "2999-05-30T10:00:00Z"}, format="json")  # fmt: skip
    assert future.status_code == 400 and "received_at" in future.json()  # the service's refusal
    other = make_case(loan=overdue_loan(), worked_by=user_with_role("collector", "jordan"))
    elsewhere = client.post(url, {"case": other.pk, "category": "data", "summary": "x"}, format="json")
    assert elsewhere.status_code == 400 and "case" in elsewhere.json()
    assert not Complaint.objects.exists()


def test_the_list_filters_by_status_and_overdue_soonest_due_first(team):
    manager, collector, case = team
    with time_machine.travel(NOW - dt.timedelta(days=20), tick=False):
        late = complaint_record(case_id=case.pk, actor=collector, channel="letter", category="amount", summary="a")
    with time_machine.travel(NOW, tick=False):
        fresh = complaint_record(case_id=case.pk, actor=collector, channel="call", category="data", summary="b")
        client = api_for(manager)
        url = reverse("api-complaint-list")
        rows = client.get(url).json()["results"]
        assert [r["id"] for r in rows] == [late.pk, fresh.pk] and rows[0]["overdue"] and not rows[1]["overdue"]
        assert [r["id"] for r in client.get(url, {"overdue": "true"}).json()["results"]] == [late.pk]
        assert [r["id"] for r in client.get(url, {"overdue": "false"}).json()["results"]] == [fresh.pk]
        client.post(reverse("api-complaint-resolve", args=[late.pk]), {"outcome": "upheld", "response_text": "sorry"},
                    format="json")  # fmt: skip
        assert [r["id"] for r in client.get(url, {"status": "resolved"}).json()["results"]] == [late.pk]
        assert [r["id"] for r in client.get(url, {"overdue": "true"}).json()["results"]] == []
        assert client.get(url, {"status": "later"}).status_code == 400


def test_a_manager_acknowledges_and_resolves_a_collector_may_not(team):
    manager, collector, case = team
    complaint = complaint_record(case_id=case.pk, actor=collector, channel="call", category="conduct", summary="x")
    ack = reverse("api-complaint-acknowledge", args=[complaint.pk])
    resolve = reverse("api-complaint-resolve", args=[complaint.pk])
    assert api_for(collector).post(ack, format="json").status_code == 403
    done = api_for(manager).post(ack, format="json")
    assert done.status_code == 200 and done.json()["status"] == "acknowledged"
    complaint.restriction.refresh_from_db()
    assert complaint.restriction.lifted_at is not None  # automated contact resumes
    assert api_for(manager).post(ack, format="json").status_code == 409
    bad = api_for(manager).post(resolve, {"outcome": "maybe"}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"outcome", "response_text"}
    closed = api_for(manager).post(resolve, {"outcome": "not_upheld", "response_text": "we called once"}, format="json")
    assert closed.status_code == 200 and closed.json()["outcome"] == "not_upheld"
    assert api_for(manager).post(resolve, {"outcome": "upheld", "response_text": "x"}, format="json").status_code == 409
    stranger = user_with_role("manager", "riley")
    team_with(user_with_role("collector", "jordan"), name="Team B", manager=stranger)
    assert api_for(stranger).get(reverse("api-complaint-detail", args=[complaint.pk])).status_code == 404
