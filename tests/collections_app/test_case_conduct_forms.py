"""Issue 17 on the case page: a complaint staff received (CMP-01) through the complaints service, with errors beside
the fields; complaints and forbearance on the timeline; a crisis breathing space's treatment end given later (BS-01);
forbearance offered first to a vulnerable borrower under UK_CONC (UK-02)."""

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from collections_app.models import CaseTransition, Complaint, ComplaintStatus
from collections_app.services import breathing_space_treatment_end, forbearance_record, hold_place
from collections_app.services.complaints import complaint_acknowledge, complaint_resolve
from compliance.services import vulnerability_record
from core.models import UserSettings
from tests.factories import BorrowerFactory, make_case, overdue_loan, team_with, user_with_role

pytestmark = pytest.mark.django_db
UK = {"country": "GB", "region": "", "time_zones": ["Europe/London"]}
NOW = dt.datetime(2025, 6, 2, 9, tzinfo=dt.UTC)  # a Monday


@pytest.fixture
def manager():
    return user_with_role("manager", "morgan")


@pytest.fixture
def collector(manager):
    collector = user_with_role("collector", "casey")
    team_with(collector, manager=manager)
    return collector


def case_for(collector, **borrower):
    return make_case(
        state="formal_notice", loan=overdue_loan(borrower=BorrowerFactory(**borrower)), worked_by=collector
    )


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def post_complaint(client, case, **fields):
    data = {"category": "conduct", "channel": "letter", "received_at": "", "summary": "rude calls at work"} | fields
    url = reverse("case-action", args=[case.pk, "complaint"])
    return client.post(url, {f"complaint-{k}": v for k, v in data.items()})


# CMP-01 from the case page -------------------------------------------------------------------------------------
def test_a_collector_records_a_complaint_typed_in_their_zone_with_the_borrowers_clocks(collector):
    UserSettings.objects.create(user=collector, timezone="America/New_York")
    case = case_for(collector, **UK)
    client = signed_in(collector)
    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("case-detail", args=[case.pk])).content.decode()
        assert 'data-testid="complaint-form"' in page and "America/New_York" in page  # the zone named beside it
        # Typed 20:30 on Friday 30 May in New York: 01:30 on Saturday 31 May in London, the borrower's date.
        response = post_complaint(client, case, received_at="2025-05-30T20:30", channel="person")
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.received_at == dt.datetime(2025, 5, 31, 0, 30, tzinfo=dt.UTC)
    assert complaint.received_on == dt.date(2025, 5, 31) and complaint.regimes == "FCA"
    assert (complaint.channel, complaint.category, complaint.recorded_by) == ("person", "conduct", collector)
    assert complaint.restriction is not None  # conduct: automated contact on review until acknowledged
    with time_machine.travel(NOW, tick=False):
        timeline = client.get(reverse("case-detail", args=[case.pk])).context["timeline"]
    received = [t for t in timeline if t["kind"] == "complaint"]
    assert len(received) == 1 and "collection conduct" in received[0]["title"] and "in person" in received[0]["title"]
    assert "rude calls at work" in received[0]["detail"] and received[0]["who"] == "casey"


def test_a_complaint_with_errors_comes_back_as_typed_with_the_errors_beside_the_fields(collector):
    case = case_for(collector, **UK)
    client = signed_in(collector)
    response = post_complaint(client, case, category="", summary="they phoned my employer", received_at="yesterday")
    assert response.status_code == 200 and not Complaint.objects.exists()
    form = response.context["forms"]["complaint"]
    assert set(form.errors) == {"category", "received_at"}
    assert "they phoned my employer" in response.content.decode()
    future = post_complaint(client, case, received_at="2999-01-01T10:00")
    assert future.status_code == 200 and not Complaint.objects.exists()
    assert "received_at" in future.context["forms"]["complaint"].errors  # the service's refusal, beside the field
    wrong_channel = post_complaint(client, case, channel="api")
    assert "channel" in wrong_channel.context["forms"]["complaint"].errors  # not one staff record on this form


def test_a_manager_records_one_too_and_a_collector_cannot_on_another_collectors_case(collector, manager):
    case = case_for(collector, **UK)
    assert post_complaint(signed_in(manager), case, category="amount").status_code == 302
    other = case_for(user_with_role("collector", "jordan"), **UK)
    assert post_complaint(signed_in(collector), other).status_code == 404
    assert Complaint.objects.count() == 1


def test_the_timeline_shows_complaints_received_acknowledged_and_resolved_and_forbearance(collector, manager):
    case = case_for(collector, **UK)
    client = signed_in(collector)
    with time_machine.travel(NOW, tick=False):
        post_complaint(client, case, category="amount", summary="the fee is wrong")
    complaint = Complaint.objects.get()
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        complaint_acknowledge(complaint_id=complaint.pk, actor=manager)
    with time_machine.travel(NOW + dt.timedelta(days=2), tick=False):
        forbearance_record(case_id=case.pk, actor=collector, kind="fees_waived", details="late fees")
    with time_machine.travel(NOW + dt.timedelta(days=3), tick=False):
        complaint_resolve(complaint_id=complaint.pk, actor=manager, outcome="upheld", response_text="fee refunded")
    timeline = client.get(reverse("case-detail", args=[case.pk])).context["timeline"]
    mine = [(t["kind"], t["title"], t["who"]) for t in timeline if t["kind"] in ("complaint", "forbearance")]
    assert [kind for kind, *_ in mine] == ["complaint", "forbearance", "complaint", "complaint"]  # newest first
    assert mine[0][1] == "Complaint resolved: upheld" and mine[0][2] == "morgan"
    assert mine[2][1] == "Complaint acknowledged" and mine[3][1].startswith("Complaint received: amount owed")
    assert mine[1][2] == "casey"
    assert complaint.__class__.objects.get().status == ComplaintStatus.RESOLVED


def test_the_case_page_in_chinese_names_the_complaint_in_words(collector):
    case = case_for(collector, **UK)
    client = signed_in(collector)
    post_complaint(client, case, category="data")
    client.cookies["django_language"] = "zh-hans"
    page = client.get(reverse("case-detail", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "收到投诉" in page and "Complaint received" not in page


# BS-01: the crisis treatment's end, after placing --------------------------------------------------------------
def crisis(case, actor):
    return hold_place(case_id=case.pk, actor=actor, kind="breathing_space", reason="debt adviser's notice",
                      breathing_space_type="mental_health_crisis")  # fmt: skip


def test_a_manager_gives_the_treatment_end_later_and_the_space_ends_30_days_after_it_audited(collector, manager):
    case = case_for(collector, **UK)
    with time_machine.travel(NOW, tick=False):
        hold = crisis(case, collector)
        assert hold.restriction.ends_at is None
        page = signed_in(manager).get(reverse("case-detail", args=[case.pk])).content.decode()
        assert 'data-testid="treatment-form"' in page
        url = reverse("case-action", args=[case.pk, "breathing-space-treatment"])
        response = signed_in(manager).post(url, {"treatment-hold": hold.pk, "treatment-treatment_ends_on": "2025-07-10",
                                                 "treatment-reason": "discharge letter"})  # fmt: skip
    assert response.status_code == 302
    hold.restriction.refresh_from_db()
    assert hold.restriction.ends_at == dt.datetime(2025, 8, 10, tzinfo=dt.UTC)  # the 30th day after, included
    assert hold.restriction.details["treatment_ends_on"] == "2025-07-10"
    row = CaseTransition.objects.get(case=case, transition="breathing_space_treatment")
    assert row.actor == manager and "2025-07-10" in row.reason and "discharge letter" in row.reason
    with time_machine.travel(NOW + dt.timedelta(days=2), tick=False):
        breathing_space_treatment_end(hold_id=hold.pk, actor=manager, treatment_ends_on=dt.date(2025, 9, 1),
                                      reason="treatment extended")  # fmt: skip
    hold.restriction.refresh_from_db()
    assert hold.restriction.ends_at.date() == dt.date(2025, 10, 2)
    assert "(was 2025-07-10)" in CaseTransition.objects.filter(transition="breathing_space_treatment").last().reason


def test_a_collector_may_not_change_it_and_errors_stay_beside_the_fields(collector, manager):
    case = case_for(collector, **UK)
    with time_machine.travel(NOW, tick=False):
        hold = crisis(case, collector)
        page = signed_in(collector).get(reverse("case-detail", args=[case.pk])).content.decode()
        assert 'data-testid="treatment-form"' not in page
        url = reverse("case-action", args=[case.pk, "breathing-space-treatment"])
        refused = signed_in(collector).post(url, {"treatment-hold": hold.pk, "treatment-reason": "x",
                                                  "treatment-treatment_ends_on": "2025-07-10"})  # fmt: skip
        assert refused.status_code == 403
        early = signed_in(manager).post(url, {"treatment-hold": hold.pk, "treatment-reason": "letter",
                                              "treatment-treatment_ends_on": "2025-05-01"})  # fmt: skip
    assert early.status_code == 200 and "treatment_ends_on" in early.context["forms"]["treatment"].errors
    assert 'value="letter"' in early.content.decode()
    hold.restriction.refresh_from_db()
    assert (
        hold.restriction.ends_at is None
        and not CaseTransition.objects.filter(transition="breathing_space_treatment").exists()
    )


def test_a_standard_breathing_space_has_no_treatment_end(collector, manager):
    case = case_for(collector, **UK)
    hold = hold_place(case_id=case.pk, actor=collector, kind="breathing_space", reason="notice")
    url = reverse("case-action", args=[case.pk, "breathing-space-treatment"])
    response = signed_in(manager).post(url, {"treatment-hold": hold.pk, "treatment-reason": "letter",
                                             "treatment-treatment_ends_on": "2099-07-10"})  # fmt: skip
    assert response.status_code == 200 and "only a mental-health crisis breathing space" in response.content.decode()
    hold.restriction.refresh_from_db()
    assert hold.restriction.details == {"type": "standard", "started_on": hold.restriction.details["started_on"]}


# UK-02 ---------------------------------------------------------------------------------------------------------
def test_uk02_a_vulnerable_uk_borrower_is_offered_forbearance_first_until_some_is_recorded(collector, manager):
    case = case_for(collector, **UK)
    client = signed_in(collector)
    assert 'data-testid="forbearance-first"' not in client.get(reverse("case-detail", args=[case.pk])).content.decode()
    vulnerability_record(borrower_id=case.borrower_id, actor=manager, drivers=["health"], details=None,
                         consent_method="spoken", review_on=dt.date.today() + dt.timedelta(days=90),
                         adjustments=[], where="test")  # fmt: skip
    assert 'data-testid="forbearance-first"' in client.get(reverse("case-detail", args=[case.pk])).content.decode()
    forbearance_record(case_id=case.pk, actor=collector, kind="payment_holiday")
    assert 'data-testid="forbearance-first"' not in client.get(reverse("case-detail", args=[case.pk])).content.decode()
    us = case_for(collector)
    vulnerability_record(borrower_id=us.borrower_id, actor=manager, drivers=["health"], details=None,
                         consent_method="spoken", review_on=dt.date.today() + dt.timedelta(days=90),
                         adjustments=[], where="test")  # fmt: skip
    assert 'data-testid="forbearance-first"' not in client.get(reverse("case-detail", args=[us.pk])).content.decode()
