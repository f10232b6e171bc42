"""The REST API for cases, messages and sweeps, and its OpenAPI description."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from collections_app.models import CollectionCase, SweepRun
from tests.factories import OutboundMessageFactory, api_for, make_case, notices_served, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def collector():
    return user_with_role("collector", "casey")


def mine(collector, **fields):
    return make_case(assigned_to=collector, **fields)


def test_a_collector_lists_their_cases_by_priority_with_filters(collector):
    low = mine(collector, priority=10, days_past_due=40)
    high = mine(collector, state="formal_notice", priority=80)
    make_case()  # nobody's: not visible to the collector
    client = api_for(collector)
    body = client.get(reverse("api-case-list")).json()
    assert body["count"] == 2 and [c["id"] for c in body["results"]] == [high.pk, low.pk]
    assert body["results"][0]["assigned_to"] == "casey"
    assert body["results"][0]["available_transitions"] == ["request_legal"]
    assert [c["id"] for c in client.get(reverse("api-case-list"), {"state": "reminder"}).json()["results"]] == [low.pk]
    assert [c["id"] for c in client.get(reverse("api-case-list"), {"min_dpd": 30}).json()["results"]] == [low.pk]
    ordered = client.get(reverse("api-case-list"), {"ordering": "priority"}).json()["results"]
    assert [c["id"] for c in ordered] == [low.pk, high.pk]


def test_the_case_list_runs_a_fixed_number_of_queries(collector):
    for _ in range(3):
        mine(collector)
    client = api_for(collector)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("api-case-list"))
    for _ in range(10):
        mine(collector)
    with CaptureQueriesContext(connection) as many:
        assert client.get(reverse("api-case-list")).json()["count"] == 13
    assert len(many) == len(few)


def test_transitions_answer_409_when_they_cannot_proceed_and_403_without_the_permission(collector):
    case = mine(collector)
    client = api_for(collector)
    url = reverse("api-case-transition", args=[case.pk, "request_legal"])
    conflict = client.post(url, {"reason": "no payment"}, format="json")
    assert conflict.status_code == 409 and conflict.json()["detail"]
    CollectionCase.objects.filter(pk=case.pk).update(state="formal_notice")
    assert client.post(url, {}, format="json").status_code == 400
    unsent = client.post(url, {"reason": "no payment after the notice"}, format="json")
    assert unsent.status_code == 409 and unsent.json()["rule"] == "FN-01"  # no formal notice sent in writing yet
    notices_served(case)
    done = client.post(url, {"reason": "no payment after the notice"}, format="json")
    assert done.status_code == 200 and done.json()["state"] == "legal_review"
    approve = client.post(
        reverse("api-case-transition", args=[case.pk, "approve_legal"]), {"reason": "x"}, format="json"
    )
    assert approve.status_code == 403
    assert client.post(reverse("api-case-transition", args=[case.pk, "fly"]), {}, format="json").status_code == 400
    assert client.post(url, {"reason": "x", "extra": 1}, format="json").status_code == 400


def test_another_collectors_case_is_not_found(collector):
    theirs = mine(user_with_role("collector", "jordan"))
    assert api_for(collector).get(reverse("api-case-detail", args=[theirs.pk])).status_code == 404


def test_messages_are_listed_for_visible_cases_and_filtered(collector):
    case, other = mine(collector), make_case()
    for c, status in [(case, "sent"), (case, "failed"), (other, "sent")]:
        OutboundMessageFactory(case=c, status=status, planned_for=dt.datetime(2024, 2, 6, tzinfo=dt.UTC))
    client = api_for(collector)
    assert client.get(reverse("api-message-list")).json()["count"] == 2
    failed = client.get(reverse("api-message-list"), {"status": "failed"}).json()
    assert failed["count"] == 1 and failed["results"][0]["status"] == "failed"


def test_only_admins_start_a_sweep_for_a_date(collector):
    assert api_for(collector).post(reverse("api-sweep-list"), {"as_of": "2024-02-10"}, format="json").status_code == 403
    admin = api_for(user_with_role("admin", "ada"))
    assert admin.post(reverse("api-sweep-list"), {"as_of": "2999-01-01"}, format="json").status_code == 400
    assert admin.post(reverse("api-sweep-list"), {"as_of": "10 Feb"}, format="json").status_code == 400
    started = admin.post(reverse("api-sweep-list"), {"as_of": "2024-02-10", "chunks": 2}, format="json")
    assert started.status_code == 202 and started.json()["chunks"] == 2
    run = SweepRun.objects.get(pk=started.json()["id"])
    assert run.as_of == dt.date(2024, 2, 10)
    assert admin.get(reverse("api-sweep-detail", args=[run.pk])).json()["id"] == run.pk


def test_the_schema_validates_and_the_docs_are_served_offline(collector):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
    client = APIClient()
    client.force_login(collector)  # both need a login (tests/collections_app/test_security.py)
    schema = client.get(reverse("api-schema"))
    assert schema.status_code == 200 and b"/api/v1/cases/" in schema.content
    docs = client.get(reverse("api-docs"))
    assert docs.status_code == 200 and b"drf_spectacular_sidecar" in docs.content  # local assets, no CDN


def test_unauthenticated_requests_get_401():
    assert APIClient().get(reverse("api-case-list")).status_code == 401


def test_the_committed_openapi_description_is_current(tmp_path):
    """docs/openapi.yml is what lenders' developers read: `make schema` refreshes it after an API change."""
    from pathlib import Path

    fresh = tmp_path / "openapi.yml"
    call_command("spectacular", "--file", str(fresh))
    committed = Path(__file__).resolve().parents[2] / "docs" / "openapi.yml"
    assert committed.read_text() == fresh.read_text(), "run `make schema` and commit docs/openapi.yml"


def test_promises_plans_notes_and_visits_under_a_case(collector):
    import time_machine

    case = mine(collector)
    client = api_for(collector)
    with time_machine.travel(dt.datetime(2024, 2, 12, 15, tzinfo=dt.UTC), tick=False):
        promise = client.post(reverse("api-case-promises", args=[case.pk]),
                              {"amount": "100.00", "promised_on": "2024-02-15"}, format="json")  # fmt: skip
        assert promise.status_code == 201, promise.content
        assert client.get(reverse("api-case-promises", args=[case.pk])).json()[0]["status"] == "open"
        late = client.post(reverse("api-case-promises", args=[case.pk]),
                           {"amount": "100.00", "promised_on": "2024-02-14"}, format="json")  # fmt: skip
        assert late.status_code == 409  # the case is in promise_to_pay already
    note = client.post(reverse("api-case-notes", args=[case.pk]), {"text": "asked for a plan"}, format="json")
    assert note.status_code == 201 and note.json()["author"] == "casey"
    assert client.post(reverse("api-case-notes", args=[case.pk]), {"text": ""}, format="json").status_code == 400
    other = mine(collector)
    plan = client.post(reverse("api-case-payment-plans", args=[other.pk]),
                       {"down_payment": "20.00", "count": 4, "frequency": "monthly", "starts_on": "2026-12-15"},
                       format="json")  # fmt: skip
    assert plan.status_code == 201, plan.content
    assert client.get(reverse("api-case-payment-plans", args=[other.pk])).json()[0]["id"] == plan.json()["id"]
    visit = client.post(reverse("api-case-visits", args=[other.pk]),
                        {"address": "1 Main St", "collectors": ["nobody"], "window_start": "2026-12-15T15:00:00Z",
                         "window_end": "2026-12-15T17:00:00Z"}, format="json")  # fmt: skip
    assert visit.status_code == 400 and "collectors" in visit.json()


def test_visits_are_recorded_and_grace_granted_through_the_api(collector):
    import time_machine

    from tests.factories import team_with

    case = mine(collector, team=team_with(collector))
    client = api_for(collector)
    with time_machine.travel(dt.datetime(2024, 2, 12, 15, tzinfo=dt.UTC), tick=False):
        naive = client.post(reverse("api-case-visits", args=[case.pk]),
                            {"address": "1 Main St", "collectors": ["casey"], "window_start": "2024-02-13T10:00:00",
                             "window_end": "2024-02-13T12:00:00"}, format="json")  # fmt: skip
        assert naive.status_code == 400 and set(naive.json()) == {"window_start", "window_end"}
        window = {"window_start": "2024-02-13T10:00:00-05:00", "window_end": "2024-02-13T12:00:00-05:00"}
        visit = client.post(reverse("api-case-visits", args=[case.pk]),
                            {"address": "1 Main St", "collectors": ["casey"], **window}, format="json")  # fmt: skip
        assert visit.status_code == 201, visit.content
        outcome_url = reverse("api-case-visit-outcome", args=[case.pk, visit.json()["id"]])
        bad = client.post(outcome_url, {"status": "scheduled"}, format="json")
        assert bad.status_code == 400 and "status" in bad.json()
        done = client.post(outcome_url, {"status": "not_home", "outcome": "nobody answered",
                                         "visited_at": "2024-02-13T10:30:00-05:00"}, format="json")  # fmt: skip
        assert done.status_code == 200 and done.json()["status"] == "not_home"
        assert client.post(outcome_url, {"status": "visited", "outcome": "x"}, format="json").status_code == 409
        grace = client.post(reverse("api-case-grace", args=[case.pk]), {"days": 7, "reason": "lost job"}, format="json")
        assert grace.status_code == 200, grace.content
        again = client.post(reverse("api-case-grace", args=[case.pk]), {"days": 3, "reason": "x"}, format="json")
        assert again.status_code == 409
    other = mine(user_with_role("collector", "jordan"))
    assert (
        client.post(reverse("api-case-grace", args=[other.pk]), {"days": 7, "reason": "x"}, format="json").status_code
        == 404
    )


def test_a_promise_through_the_api_can_cover_other_loans_of_the_same_borrower(collector):
    from collections_app.models import PromiseToPay
    from tests.factories import BorrowerFactory, overdue_loan

    borrower = BorrowerFactory()
    first, second = (mine(collector, loan=overdue_loan(borrower=borrower)) for _ in range(2))
    stranger = mine(collector)  # another borrower's case
    client = api_for(collector)
    url = reverse("api-case-promises", args=[first.pk])
    promised_on = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    refused = client.post(url, {"amount": "50.00", "promised_on": promised_on,
                                "also_cover": [{"case": stranger.pk, "amount": "20.00"}]}, format="json")  # fmt: skip
    assert refused.status_code == 400 and "also_cover" in refused.json() and not PromiseToPay.objects.exists()
    created = client.post(url, {"amount": "50.00", "promised_on": promised_on,
                                "also_cover": [{"case": second.pk, "amount": "20.00"}]}, format="json")  # fmt: skip
    assert created.status_code == 201, created.content
    assert created.json()["amount"] == "50.00"
    amounts = dict(PromiseToPay.objects.values_list("case_id", "amount"))
    assert {k: str(v) for k, v in amounts.items()} == {first.pk: "50.00", second.pk: "20.00"}
    assert set(CollectionCase.objects.filter(pk__in=[first.pk, second.pk]).values_list("state", flat=True)) == {
        "promise_to_pay"
    }
