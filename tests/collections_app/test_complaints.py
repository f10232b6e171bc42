"""CMP-01 complaints: recorded from each channel with the strictest clocks, a conduct complaint puts automated
contact on REVIEW until a manager acknowledges it, flagged texts are confirmed or dismissed, resolution is kept."""

import datetime as dt

import pytest
import time_machine

from collections_app.models import Complaint, ComplaintStatus
from collections_app.services.cases import InvalidRequest, TransitionConflict
from collections_app.services.complaints import (
    complaint_acknowledge,
    complaint_confirm,
    complaint_dismiss,
    complaint_record,
    complaint_record_by_borrower,
    complaint_resolve,
)
from compliance.engine import REVIEW
from compliance.models import Restriction
from compliance.services import contact_check
from notifications.services.callbacks import inbound_sms_handle
from tests.factories import PhoneFactory, make_case, user_with_role

pytestmark = pytest.mark.django_db
NOON_NY = dt.datetime(2026, 11, 11, 17, 0, tzinfo=dt.UTC)  # Wednesday 12:00 in New York
NUMBER = "+16175550142"


@pytest.fixture
def manager():
    return user_with_role("manager", "mia")


@pytest.fixture
def case():
    collector = user_with_role("collector", "casey")
    case = make_case(assigned_to=collector)
    PhoneFactory(borrower=case.borrower, number=NUMBER, sms_consent=True, autodial_consent=True)
    return case


def automated_sms(case):
    _decision, result = contact_check(
        borrower_id=case.borrower_id, channel="sms", loan_id=case.loan_id, to=NUMBER, automated=True, dry_run=True
    )
    return result


def test_a_conduct_complaint_puts_automated_contact_on_review_until_a_manager_acknowledges(case, manager):
    with time_machine.travel(NOON_NY, tick=False):
        assert automated_sms(case).outcome != REVIEW
        complaint = complaint_record(
            case_id=case.pk, actor=manager, channel="staff", category="conduct", summary="The collector shouted"
        )
        result = automated_sms(case)
        assert result.outcome == REVIEW and [r.rule for r in result.reasons if r.outcome == REVIEW] == ["CMP-01"]
        # A manual call is not held by it.
        _d, manual = contact_check(borrower_id=case.borrower_id, channel="call", to=NUMBER, dry_run=True)
        assert "CMP-01" not in [r.rule for r in manual.reasons]
        complaint_acknowledge(complaint_id=complaint.pk, actor=manager)
        assert automated_sms(case).outcome != REVIEW
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.ACKNOWLEDGED and complaint.acknowledged_by == manager
    assert Restriction.objects.get(pk=complaint.restriction_id).lifted_by == manager


def test_a_complaint_about_the_amount_does_not_hold_contact(case, manager):
    with time_machine.travel(NOON_NY, tick=False):
        complaint = complaint_record(
            case_id=case.pk, actor=manager, channel="letter", category="amount", summary="Fees are wrong"
        )
        assert complaint.restriction_id is None and automated_sms(case).outcome != REVIEW


def test_the_clocks_are_the_us_ones_for_a_us_borrower_and_the_collector_is_the_cases(case, manager):
    # Received 2026-11-11 in New York: +15 days is Thanksgiving, so acknowledge by Wednesday 11-25; +60 = 2027-01-10
    # (Sunday) -> Friday 2027-01-08.
    with time_machine.travel(NOON_NY, tick=False):
        complaint = complaint_record(case_id=case.pk, actor=manager, channel="staff", category="data", summary="x")
    assert complaint.received_on == dt.date(2026, 11, 11)
    assert (complaint.acknowledge_by, complaint.final_by) == (dt.date(2026, 11, 25), dt.date(2027, 1, 8))
    assert complaint.regimes == "CFPB" and complaint.collector == case.assigned_to


def test_the_borrowers_page_records_a_complaint_without_a_user(case):
    complaint = complaint_record_by_borrower(case_id=case.pk, category="other", summary="Nobody answers")
    assert complaint.channel == "portal" and complaint.recorded_by is None and complaint.status == "open"


@pytest.mark.parametrize(("field", "data"), [("category", {"category": "rude"}), ("summary", {"summary": "  "})])
def test_a_complaint_without_a_category_or_words_is_refused(case, manager, field, data):
    kwargs = {"category": "conduct", "summary": "x", **data}
    with pytest.raises(InvalidRequest) as refused:
        complaint_record(case_id=case.pk, actor=manager, channel="staff", **kwargs)
    assert refused.value.field == field and not Complaint.objects.exists()


def test_a_flagged_text_is_confirmed_as_a_conduct_complaint_received_when_it_came_in(case, manager):
    with time_machine.travel(NOON_NY, tick=False):
        message, _reply = inbound_sms_handle(
            provider_id="SM1", from_number=NUMBER, to_number="+15550000000", body="I will complain to the CFPB"
        )
    ordinary, _ = inbound_sms_handle(provider_id="SM2", from_number=NUMBER, to_number="+1555", body="paying Friday")
    assert message.possible_complaint and not ordinary.possible_complaint
    complaint = complaint_confirm(inbound_message_id=message.pk, actor=manager, category="conduct")
    assert complaint.case == case and complaint.channel == "sms" and complaint.received_on == dt.date(2026, 11, 11)
    assert complaint.restriction is not None
    with pytest.raises(TransitionConflict):
        complaint_dismiss(inbound_message_id=message.pk, actor=manager)


def test_a_dismissed_text_leaves_no_clock_and_no_review(case, manager):
    message, _ = inbound_sms_handle(provider_id="SM3", from_number=NUMBER, to_number="+1555", body="我要投诉")
    dismissed = complaint_dismiss(inbound_message_id=message.pk, actor=manager)
    assert dismissed.status == ComplaintStatus.DISMISSED and dismissed.restriction is None
    assert not Complaint.objects.pending().exists()


def test_resolving_records_the_outcome_and_response_and_lifts_an_unacknowledged_review(case, manager):
    complaint = complaint_record(case_id=case.pk, actor=manager, channel="call", category="conduct", summary="x")
    with pytest.raises(InvalidRequest):
        complaint_resolve(complaint_id=complaint.pk, actor=manager, outcome="upheld")
    complaint_resolve(complaint_id=complaint.pk, actor=manager, outcome="upheld", response_text="We apologise")
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.RESOLVED and complaint.outcome == "upheld"
    assert complaint.acknowledged_at is not None
    assert Restriction.objects.get(pk=complaint.restriction_id).lifted_at is not None
    with pytest.raises(TransitionConflict):
        complaint_resolve(complaint_id=complaint.pk, actor=manager, outcome="upheld", response_text="again")


def test_the_managers_queue_shows_complaints_by_due_date_with_the_overdue_one_flagged(case, manager):
    from django.test import Client
    from django.urls import reverse

    with time_machine.travel(dt.datetime(2026, 10, 1, 16, 0, tzinfo=dt.UTC), tick=False):
        late = complaint_record(case_id=case.pk, actor=manager, channel="letter", category="conduct", summary="Rude")
    with time_machine.travel(NOON_NY, tick=False):
        soon = complaint_record(case_id=case.pk, actor=manager, channel="staff", category="amount", summary="Fees")
        message, _ = inbound_sms_handle(provider_id="SM9", from_number=NUMBER, to_number="+1555", body="投诉")
        client = Client()
        client.force_login(manager)
        page = client.get(reverse("escalations-complaints"))
        assert page.status_code == 200
        rows = list(page.context["page"])
        assert rows == [late, soon]
        html = page.content.decode()
        assert html.count('data-testid="overdue"') == 1 and "Overdue" in html
        assert 'data-testid="possible-complaint"' in html
        done = client.post(reverse("complaint-acknowledge", args=[late.pk]))
        assert done.status_code == 302
        decided = client.post(reverse("possible-complaint", args=[message.pk]), {"decision": "dismiss"})
        assert decided.status_code == 302
    late.refresh_from_db()
    assert late.status == "acknowledged" and late.acknowledged_by == manager
    assert Complaint.objects.get(inbound_message_id=message.pk).status == "dismissed"


def test_collectors_may_not_see_or_act_on_the_complaints_queue(case, manager):
    from django.test import Client
    from django.urls import reverse

    complaint = complaint_record(case_id=case.pk, actor=manager, channel="staff", category="conduct", summary="x")
    client = Client()
    client.force_login(case.assigned_to)
    assert client.get(reverse("escalations-complaints")).status_code == 403
    assert client.post(reverse("complaint-acknowledge", args=[complaint.pk])).status_code == 403
    assert client.post(reverse("complaint-resolve", args=[complaint.pk])).status_code == 403
