"""The collector's desk: the next case (ordering and skipping rules), the "can act now" queue, the disposition that
records a promise in one step and opens the next case, and the case page's actions agreeing with the gate."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from collections_app.models import CallDisposition, CaseState, CollectionCase, PromiseToPay
from collections_app.selectors import actionable_cases, next_case_for
from compliance.models import Decision
from tests.factories import (
    HoldFactory,
    PhoneFactory,
    PromiseFactory,
    RestrictionFactory,
    make_case,
    user_with_role,
)
from tests.zones import zone_where_it_is

pytestmark = pytest.mark.django_db

# A Wednesday afternoon in UTC: the zones below are chosen against it, so the rules do not depend on the clock.
NOW = dt.datetime(2026, 11, 25, 15, 7, tzinfo=dt.UTC)
DAY, NIGHT = zone_where_it_is(12, NOW), zone_where_it_is(2, NOW)


@pytest.fixture
def collector():
    return user_with_role("collector", "casey")


def case_for(user, *, zone=DAY, priority=50, **fields):
    case = make_case(assigned_to=user, priority=priority, **fields)
    case.borrower.time_zones = [zone]
    case.borrower.region = "NY"
    case.borrower.save()
    PhoneFactory(borrower=case.borrower)
    return case


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_next_case_is_the_most_urgent_one_the_user_can_act_on_now(collector):
    low = case_for(collector, priority=10)
    high = case_for(collector, priority=90)
    case_for(user_with_role("collector", "jordan"), priority=99)  # someone else's
    assert next_case_for(user=collector, now=NOW) == high
    # A callback due comes first, whatever the priority; then a promise due today; then the priority order.
    promised = case_for(collector, priority=5, state=CaseState.PROMISE_TO_PAY, return_state=CaseState.REMINDER)
    PromiseFactory(case=promised, promised_on=NOW.date())
    assert next_case_for(user=collector, now=NOW) == promised
    CollectionCase.objects.filter(pk=low.pk).update(callback_at=NOW - dt.timedelta(minutes=10))
    assert next_case_for(user=collector, now=NOW) == low
    # The one just worked is passed over.
    assert next_case_for(user=collector, now=NOW, skip=[low.pk]) == promised


def test_the_next_case_skips_what_waits_and_what_the_gate_denies_now(collector):
    case_for(collector, priority=99, state=CaseState.LEGAL_REVIEW)  # awaiting a manager
    HoldFactory(case=case_for(collector, priority=98, state=CaseState.ON_HOLD, return_state=CaseState.REMINDER))
    case_for(collector, priority=97, zone=NIGHT)  # 02:00 where the borrower lives
    later = case_for(collector, priority=96)
    CollectionCase.objects.filter(pk=later.pk).update(callback_at=NOW + dt.timedelta(hours=2))  # asked for later
    waiting = case_for(collector, priority=95, state=CaseState.PROMISE_TO_PAY, return_state=CaseState.REMINDER)
    PromiseFactory(case=waiting, promised_on=NOW.date() + dt.timedelta(days=5))  # not due yet
    ceased = case_for(collector, priority=94)
    RestrictionFactory(borrower=ceased.borrower, kind="cease_and_desist", starts_at=NOW - dt.timedelta(days=1))
    actionable = case_for(collector, priority=10)
    assert next_case_for(user=collector, now=NOW) == actionable
    # The queue's "can act now" view: the SQL steps leave out the waiting states and the night; the gate's answer
    # per row says the rest (the cease is shown there as "no").
    assert set(actionable_cases(user=collector, now=NOW)) == {ceased, actionable}
    CollectionCase.objects.filter(pk=actionable.pk).update(state="resolved")
    assert next_case_for(user=collector, now=NOW) is None


def test_the_next_case_runs_a_fixed_number_of_queries_whatever_the_book(collector, django_assert_max_num_queries):
    for _ in range(3):
        case_for(collector, zone=NIGHT)
    case_for(collector)
    with CaptureQueriesContext(connection) as few:
        assert next_case_for(user=collector, now=NOW) is not None
    for priority in range(60):  # more than a batch of denied cases ahead of the actionable one
        c = case_for(collector, priority=priority + 20)
        RestrictionFactory(borrower=c.borrower, kind="cease_and_desist", starts_at=NOW - dt.timedelta(days=1))
    with django_assert_max_num_queries(len(few) + 6):  # more batches, never more than MAX_BATCHES
        next_case_for(user=collector, now=NOW)
    assert len(few) <= 13


def test_next_case_redirects_to_the_case_or_back_to_the_queue(collector):
    client = client_for(collector)
    response = client.get(reverse("case-next"))
    assert response.status_code == 302 and response["Location"] == reverse("case-queue") + "?view=all"
    assert "Nothing you can act on now" in client.get(response["Location"]).content.decode()
    case = case_for(collector, zone=zone_where_it_is(12))
    response = client.get(reverse("case-next"))
    assert response.status_code == 302 and response["Location"] == reverse("case-detail", args=[case.pk])
    assert client.get(reverse("case-next"), {"skip": case.pk})["Location"].startswith(reverse("case-queue"))


def test_the_queue_opens_on_what_a_collector_can_act_on_now_with_a_way_to_see_all(collector):
    now_case = case_for(collector, zone=zone_where_it_is(12), priority=10)
    waiting = case_for(collector, zone=zone_where_it_is(12), priority=90, state=CaseState.LEGAL_REVIEW)
    client = client_for(collector)
    default = client.get(reverse("case-queue"))
    assert default.context["filters"]["view"] == "now"
    assert [c.pk for c in default.context["page"]] == [now_case.pk]
    every = client.get(reverse("case-queue"), {"view": "all"})
    assert [c.pk for c in every.context["page"]] == [waiting.pk, now_case.pk]
    body = default.content.decode()
    assert 'data-testid="next-case"' in body and 'data-testid="queue-call"' in body and "?view=all" in body


def start_call(client, case):
    response = client.post(
        reverse("case-action", args=[case.pk, "call-start"]), {"to": str(case.borrower.phones.first().number)}
    )
    assert response.status_code == 302, response
    return Decision.objects.filter(borrower=case.borrower, channel="call", allowed=True).latest("pk")


def test_right_party_promise_in_one_step_then_the_next_case(collector):
    case = case_for(collector, zone=zone_where_it_is(12), priority=90)
    other = case_for(collector, zone=zone_where_it_is(12), priority=10)
    client = client_for(collector)
    decision = start_call(client, case)
    page = client.get(reverse("case-detail", args=[case.pk]), {"call": decision.pk}).content.decode()
    assert 'data-testid="preset-promise"' in page and f'value="{case.amount_overdue}"' in page  # filled in
    pay_by = timezone.localdate() + dt.timedelta(days=3)
    response = client.post(
        reverse("case-action", args=[case.pk, "call-log"]),
        {"decision": decision.pk, "preset": "right_party-promise", "promise_amount": "60.00",
         "promise_on": pay_by.isoformat(), "then": "next"},
    )  # fmt: skip
    assert response.status_code == 302 and response["Location"] == reverse("case-next") + f"?skip={case.pk}"
    disposition = CallDisposition.objects.get(decision=decision)
    assert (disposition.party, disposition.result) == ("right_party", "promise")
    promise = PromiseToPay.objects.get(case=case)
    assert (promise.amount, promise.promised_on) == (Decimal("60.00"), pay_by)
    assert client.get(response["Location"])["Location"] == reverse("case-detail", args=[other.pk])


def test_a_promise_refused_keeps_nothing_and_comes_back_as_typed(collector):
    case = case_for(collector, zone=zone_where_it_is(12))
    client = client_for(collector)
    decision = start_call(client, case)
    response = client.post(
        reverse("case-action", args=[case.pk, "call-log"]),
        {"decision": decision.pk, "preset": "right_party-promise", "promise_amount": "60.00",
         "promise_on": "2020-01-01", "note": "pays soon"},
    )  # fmt: skip
    assert response.status_code == 200
    body = response.content.decode()
    assert "the date is in the past" in body and 'value="pays soon"' in body and 'value="2020-01-01"' in body
    assert not CallDisposition.objects.exists() and not PromiseToPay.objects.exists()
    # Through htmx the next case opens as a new page.
    ok = client.post(
        reverse("case-action", args=[case.pk, "call-log"]),
        {"decision": decision.pk, "preset": "no_answer", "then": "next"},
        HTTP_HX_REQUEST="true",
    )
    assert ok.status_code == 204 and ok["HX-Redirect"] == reverse("case-next") + f"?skip={case.pk}"


def test_the_case_page_actions_agree_with_the_gate(collector):
    case = case_for(collector, zone=zone_where_it_is(2), days_past_due=283)  # night: no call, no SMS now
    case.borrower.phones.update(sms_consent=False)
    page = client_for(collector).get(reverse("case-detail", args=[case.pk]))
    body = page.content.decode()
    assert 'data-testid="call-denied"' in body and 'data-testid="sms-denied"' in body
    assert "disabled" in body.split('data-testid="call-start"')[1].split(">")[0]
    assert "disabled" in body.split('data-testid="sms-send"')[1].split(">")[0]
    assert 'data-testid="sms-consent"' not in body and 'data-testid="no-sms-consent"' in body
    assert "{#" not in body and "#}" not in body  # a template comment is one line: a longer one would be shown
    assert page.context["forms"]["sms"].initial["purpose"] == "reminder"  # not "pre-due" on a case long overdue


def test_no_green_sms_badge_when_the_gate_refuses_texts_for_want_of_consent(collector):
    case = case_for(collector, zone=zone_where_it_is(12))
    case.borrower.phones.update(sms_consent=True, autodial_consent=False)  # TCPA: automated texts need consent
    client = client_for(collector)
    body = client.get(reverse("case-detail", args=[case.pk])).content.decode()
    assert "TCPA-01" in body and 'data-testid="sms-consent"' not in body and 'data-testid="no-sms-consent"' in body
    case.borrower.phones.update(autodial_consent=True)
    body = client.get(reverse("case-detail", args=[case.pk])).content.decode()
    assert 'data-testid="sms-consent"' in body and 'data-testid="sms-denied"' not in body


def test_a_promise_the_case_cannot_take_keeps_the_disposition_card_as_typed(collector):
    case = case_for(collector, zone=zone_where_it_is(12))
    PromiseFactory(case=case, promised_on=timezone.localdate() + dt.timedelta(days=2))  # an open promise already
    client = client_for(collector)
    decision = start_call(client, case)
    response = client.post(
        reverse("case-action", args=[case.pk, "call-log"]),
        {"decision": decision.pk, "preset": "right_party-promise", "promise_amount": "60.00",
         "promise_on": (timezone.localdate() + dt.timedelta(days=3)).isoformat()},
    )  # fmt: skip
    assert response.status_code == 200 and "already has an open promise" in response.content.decode()
    assert 'data-testid="call-log"' in response.content.decode()  # the card is still there, to record the call
    assert not CallDisposition.objects.exists()
