"""Recording restrictions and contacts through the API: validation, roles, the gate counting what was recorded,
and exceptions for outbound contacts no decision covered."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from compliance.models import ContactEvent, Restriction
from compliance.services import contact_check
from tests.factories import PhoneFactory, RestrictionFactory, api_for, make_case, user_with_role

pytestmark = pytest.mark.django_db
NOON_NY = dt.datetime(2025, 6, 4, 16, 0, tzinfo=dt.UTC)


@pytest.fixture
def mine():
    collector = user_with_role("collector", "casey")
    case = make_case(assigned_to=collector)
    PhoneFactory(borrower=case.borrower, number="+16175550100", sms_consent=True, autodial_consent=True)
    return collector, case


def restrictions_url(case):
    return reverse("api-borrower-restrictions", args=[case.borrower_id])


def test_a_collector_records_an_inconvenient_time_and_the_gate_honours_it(mine):
    collector, case = mine
    response = api_for(collector).post(
        restrictions_url(case),
        {
            "kind": "inconvenient_time",
            "details": {"from": "09:00", "to": "17:00"},
            "reason": "works days",
            "starts_at": "2025-01-01T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["active"] is True
    _, result = contact_check(borrower_id=case.borrower_id, channel="call", to="+16175550100", at=NOON_NY)
    assert result.outcome == "defer" and "USF-02" in [r.rule for r in result.reasons]
    assert result.next_allowed_at == dt.datetime(2025, 6, 4, 21, 1, tzinfo=dt.UTC)  # 17:01 in New York


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "inconvenient_time", "details": {"from": "9pm"}}, "details"),
        ({"kind": "martian_law"}, "kind"),
        ({"kind": "bankruptcy", "surprise": 1}, "surprise"),
        ({"kind": "bankruptcy", "starts_at": "2025-06-02T00:00Z", "ends_at": "2025-06-01T00:00Z"}, "ends_at"),
        ({"kind": "dispute", "loan": 999999}, "loan"),
    ],
)
def test_bad_restrictions_get_field_errors_and_nothing_is_written(mine, body, field):
    collector, case = mine
    response = api_for(collector).post(restrictions_url(case), body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not Restriction.objects.exists()


def test_only_managers_lift_and_a_lifted_restriction_stops_counting(mine):
    collector, case = mine
    restriction = RestrictionFactory(borrower=case.borrower, kind="cease_and_desist")
    lift = reverse("api-restriction-lift", args=[case.borrower_id, restriction.pk])
    assert api_for(collector).post(lift, {"reason": "x"}, format="json").status_code == 403
    admin = user_with_role("admin", "ada")
    assert api_for(admin).post(lift, {}, format="json").status_code == 400
    response = api_for(admin).post(lift, {"reason": "withdrawn in writing"}, format="json")
    assert response.status_code == 200 and response.json()["active"] is False
    active = api_for(collector).get(restrictions_url(case), {"active": "true"}).json()
    assert active == []


def test_another_collectors_borrower_is_not_found(mine):
    _, case = mine
    stranger = api_for(user_with_role("collector", "jordan"))
    assert stranger.get(restrictions_url(case)).status_code == 404
    assert stranger.post(restrictions_url(case), {"kind": "bankruptcy"}, format="json").status_code == 404


def contact(case, **fields):
    body = {
        "borrower": case.borrower_id,
        "loan": case.loan_id,
        "channel": "call",
        "direction": "outbound",
        "occurred_at": NOON_NY.isoformat(),
        "outcome": "conversation",
        "to": "+16175550100",
    }
    return {**body, **fields}


def test_a_contact_covered_by_a_decision_is_recorded_and_counts(mine):
    collector, case = mine
    decision, _ = contact_check(borrower_id=case.borrower_id, channel="call", to="+16175550100", at=NOON_NY,
                                loan_id=case.loan_id, actor=collector)  # fmt: skip
    response = api_for(collector).post(
        reverse("api-contacts"), contact(case, decision=decision.pk, debts_discussed=[case.loan_id]), format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["is_exception"] is False
    # The conversation starts Reg F's 7-day quiet period for that debt.
    _, later = contact_check(borrower_id=case.borrower_id, channel="call", to="+16175550100",
                             at=NOON_NY + dt.timedelta(days=2), loan_id=case.loan_id)  # fmt: skip
    assert "USF-09" in [r.rule for r in later.reasons]


def test_an_outbound_contact_no_decision_covered_is_an_exception(mine):
    collector, case = mine
    response = api_for(collector).post(reverse("api-contacts"), contact(case), format="json")
    assert response.status_code == 201 and response.json()["is_exception"] is True
    listed = api_for(collector).get(reverse("api-contacts"), {"borrower": case.borrower_id}).json()
    assert listed["count"] == 1 and listed["results"][0]["is_exception"] is True


def test_bad_contacts_get_field_errors(mine):
    collector, case = mine
    other = make_case()
    client = api_for(collector)
    for body, field in [
        (contact(case, outcome="reserved"), "outcome"),
        (contact(case, channel="fax"), "channel"),
        (contact(case, debts_discussed=[other.loan_id]), "debts_discussed"),
        (contact(case, occurred_at="yesterday"), "occurred_at"),
    ]:
        response = client.post(reverse("api-contacts"), body, format="json")
        assert response.status_code == 400 and field in response.json(), (field, response.content)
    assert not ContactEvent.objects.exists()


def test_create_api_token_prints_a_working_token(mine, capsys):
    _collector, case = mine
    call_command("create_api_token", "casey")
    key = capsys.readouterr().out.strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(restrictions_url(case)).status_code == 200
    call_command("create_api_token", "casey", "--rotate")
    assert capsys.readouterr().out.strip() != key
    assert client.get(restrictions_url(case)).status_code == 401
    with pytest.raises(CommandError, match="No user"):
        call_command("create_api_token", "nobody")


def test_a_collector_lifts_a_preference_the_borrower_set_but_not_a_legal_status(mine):
    collector, case = mine
    preference = RestrictionFactory(borrower=case.borrower, kind="inconvenient_time",
                                    details={"from": "09:00", "to": "12:00"})  # fmt: skip
    lift = reverse("api-restriction-lift", args=[case.borrower_id, preference.pk])
    response = api_for(collector).post(lift, {"reason": "mornings are fine now"}, format="json")
    assert response.status_code == 200 and response.json()["active"] is False
    for kind in ("bankruptcy", "deceased", "attorney_represented", "sms_opt_out"):
        legal = RestrictionFactory(borrower=case.borrower, kind=kind)
        lift = reverse("api-restriction-lift", args=[case.borrower_id, legal.pk])
        assert api_for(collector).post(lift, {"reason": "x"}, format="json").status_code == 403, kind
        legal.refresh_from_db()
        assert legal.lifted_at is None


def test_timestamps_without_an_offset_are_refused(mine):
    """Issue 11: a bare local time was read as UTC; it is a 400 now, as payments already were."""
    collector, case = mine
    client = api_for(collector)
    contact = client.post(reverse("api-contacts"), {"borrower": case.borrower_id, "channel": "call",
                                                   "direction": "outbound", "outcome": "no_answer",
                                                   "occurred_at": "2025-06-04T12:00:00"}, format="json")  # fmt: skip
    assert contact.status_code == 400 and "occurred_at" in contact.json()
    check = client.post(reverse("api-compliance-check"), {"borrower": case.borrower_id, "channel": "call",
                                                          "at": "2025-06-04T12:00:00"}, format="json")  # fmt: skip
    assert check.status_code == 400 and "at" in check.json()
    restriction = client.post(restrictions_url(case), {"kind": "no_work_contact", "starts_at": "2025-06-04T12:00"},
                              format="json")  # fmt: skip
    assert restriction.status_code == 400 and "starts_at" in restriction.json()
    assert not ContactEvent.objects.exists() and not Restriction.objects.exists()
