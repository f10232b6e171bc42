"""The borrower's actions from their page (issue 15): promise, plan, dispute, contact preferences, call back — thin
views over the services of ``collections_app.services.borrower_actions``, behind the page's own protections (the
signed link, the identity check, the rate limits) and CSRF. Bad input comes back with 200, the error beside its field
and what was typed, and nothing written; a good one is audited as the borrower's (the link's public id, the address)
and redirects to a confirmation read back from the database; the gate's next check obeys it."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from collections_app.models import CaseTransition, CollectionCase, Hold, PaymentPlan, PromiseToPay
from collections_app.selectors.borrower_actions import callback_slots
from compliance.models import ConsentEvent, Restriction
from compliance.services import contact_check
from notifications.models import PortalLink
from notifications.services import portal_link_issue
from tests.factories import (
    EmailFactory,
    PhoneFactory,
    ProductFactory,
    loan_with_schedule,
    make_case,
    team_with,
    user_with_role,
)

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
NOW = dt.datetime(2024, 2, 12, 13, 0, tzinfo=dt.UTC)  # 08:00 in New York, the product's and the borrower's zone
IP = "203.0.113.9"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CASE_ACTIONS = ["portal-promise", "portal-plan", "portal-dispute", "portal-callback"]
DONE_PAGES = ["portal-promise-done", "portal-plan-done", "portal-dispute-done", "portal-callback-done"]


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def case():
    """An open case (100.00 overdue since 2024-02-01, default policies) of a Massachusetts borrower with a mobile that
    consented to texts and automated calls, and an e-mail address."""
    manager = user_with_role("manager", "morgan")
    collector = user_with_role("collector", "casey")
    case = make_case(team=team_with(collector, name="US", manager=manager), assigned_to=collector)
    PhoneFactory(borrower=case.borrower, number="+16175550101", sms_consent=True, autodial_consent=True)
    EmailFactory(borrower=case.borrower, address="pat@example.com")
    return case


@pytest.fixture
def token(case):
    return portal_link_issue(borrower_id=case.borrower_id)


def url(name, token, case=None, **query):
    args = [token] if case is None else [token, case.loan.external_id]
    address = reverse(name, args=args)
    return address + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def client():
    return Client(REMOTE_ADDR=IP)


def text(response) -> str:
    return response.content.decode()


def counts(case):
    """Every row an action could write about the case or its borrower."""
    return (
        CaseTransition.objects.filter(case=case).count(),
        PromiseToPay.objects.filter(case=case).count(),
        PaymentPlan.objects.filter(case=case).count(),
        Hold.objects.filter(case=case).count(),
        Restriction.objects.filter(borrower=case.borrower).count(),
        ConsentEvent.objects.filter(borrower=case.borrower).count(),
        CollectionCase.objects.filter(pk=case.pk, callback_at__isnull=False).count(),
    )


def borrower_row(case):
    (row,) = CaseTransition.objects.filter(case=case, actor_label="borrower")
    link = PortalLink.objects.get(borrower=case.borrower)
    assert row.actor is None and f"link {link.public_id}" in row.reason and IP in row.reason
    return row


def assert_no_data(response, case):
    body = text(response)
    for secret in (case.borrower.full_name, "USD", "100.00", case.loan.external_id):
        assert secret not in body, f"{secret!r} shown"


def valid_post(name, case):
    """A good form for each action (the callback's first allowed slot)."""
    if name == "portal-promise":
        return {"amount": "100.00", "promised_on": "2024-02-20"}
    if name == "portal-plan":
        return {"option": "monthly-3"}
    if name == "portal-dispute":
        return {"reason": "paid", "details": "Paid in cash"}
    if name == "portal-callback":
        return {"slot": callback_slots(case_id=case.pk).slots[0].key}
    return {"quiet_before": "10:00", "language": "en"}


# ---------------------------------------------------------------------------------------------------------------
# The page's protections
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [*CASE_ACTIONS, *DONE_PAGES, "portal-preferences", "portal-preferences-done"])
@pytest.mark.parametrize("how", ["tampered", "expired"])
def test_without_a_valid_link_every_action_is_the_neutral_403_with_no_data_and_writes_nothing(case, token, name,
                                                                                             how):  # fmt: skip
    if how == "tampered":
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    else:
        PortalLink.objects.update(expires_at=NOW - dt.timedelta(seconds=1))
    before = counts(case)
    with_case = case if name not in ("portal-preferences", "portal-preferences-done") else None
    for response in (client().get(url(name, token, with_case)), client().post(url(name, token, with_case),
                                                                              valid_post(name, case))):  # fmt: skip
        assert response.status_code in (403, 405)
        if response.status_code == 403:
            assert "This link does not open" in text(response)
        assert_no_data(response, case)
    assert counts(case) == before


def test_a_loan_that_is_not_the_borrowers_gets_please_call_us_and_no_data(case, token):
    other = make_case()
    response = client().get(reverse("portal-promise", args=[token, other.loan.external_id]))
    assert response.status_code == 404 and "Please call us" in text(response)
    assert other.loan.external_id not in text(response) and other.borrower.full_name not in text(response)
    before = counts(other)
    posted = client().post(reverse("portal-promise", args=[token, other.loan.external_id]),
                           {"amount": "10.00", "promised_on": "2024-02-20"})  # fmt: skip
    assert posted.status_code == 404 and counts(other) == before


def test_the_identity_check_comes_before_any_form_and_a_post_without_it_writes_nothing():
    product = ProductFactory(code="us-checked", portal_factor="national_id_last4")
    case = make_case(loan=loan_with_schedule(("2024-02-01", "100.00"), product=product))
    CaseTransition.objects.all().delete()
    type(case.borrower).objects.filter(pk=case.borrower_id).update(national_id_masked="*****123X")
    token = portal_link_issue(borrower_id=case.borrower_id)
    browser = client()
    asked = browser.get(url("portal-promise", token, case))
    assert asked.status_code == 200 and "The last 4 characters of your ID number" in text(asked)
    assert "I will pay by" not in text(asked) and "USD" not in text(asked)
    before = counts(case)
    posted = browser.post(url("portal-promise", token, case), {"amount": "100.00", "promised_on": "2024-02-20"})
    assert posted.status_code == 303 and posted["Location"] == reverse("portal-page", args=[token]) + "?lang=en"
    assert counts(case) == before
    assert browser.post(reverse("portal-check", args=[token]), {"answer": "123X"}).status_code == 303
    assert "I will pay by" in text(browser.get(url("portal-promise", token, case)))
    done = browser.post(url("portal-promise", token, case), {"amount": "100.00", "promised_on": "2024-02-20"})
    assert done.status_code == 303 and PromiseToPay.objects.filter(case=case).count() == 1


def test_a_post_without_the_csrf_token_is_refused_and_writes_nothing(case, token):
    browser = Client(enforce_csrf_checks=True, REMOTE_ADDR=IP)
    before = counts(case)
    refused = browser.post(url("portal-promise", token, case), {"amount": "100.00", "promised_on": "2024-02-20"})
    assert refused.status_code == 403 and counts(case) == before
    form = browser.get(url("portal-promise", token, case))
    csrf = browser.cookies["csrftoken"].value
    assert 'name="csrfmiddlewaretoken"' in text(form)
    accepted = browser.post(url("portal-promise", token, case),
                            {"amount": "100.00", "promised_on": "2024-02-20", "csrfmiddlewaretoken": csrf})  # fmt: skip
    assert accepted.status_code == 303


def test_actions_count_against_the_links_rate_limit(case, token, settings):
    settings.PORTAL_RATE_PER_LINK = 2
    browser = client()
    assert browser.get(url("portal-plan", token, case)).status_code == 200
    assert browser.get(url("portal-preferences", token)).status_code == 200
    before = counts(case)
    busy = browser.post(url("portal-plan", token, case), {"option": "monthly-3"})
    assert busy.status_code == 429 and counts(case) == before


@pytest.mark.parametrize("name", [*CASE_ACTIONS, "portal-preferences"])
def test_each_form_costs_the_same_queries_however_many_loans_the_borrower_has(name):
    def queries_for(loans):
        case = make_case()
        PhoneFactory(borrower=case.borrower, number=f"+1617555{loans:04d}", sms_consent=True)
        for _ in range(loans - 1):
            make_case(loan=loan_with_schedule(("2024-02-01", "100.00"), borrower=case.borrower))
        token = portal_link_issue(borrower_id=case.borrower_id)
        browser = client()
        target = url(name, token, None if name == "portal-preferences" else case)
        browser.get(target)  # the session's and cookies' first writes out of the count
        with CaptureQueriesContext(connection) as ctx:
            assert browser.get(target).status_code == 200
        return len(ctx)

    assert queries_for(1) == queries_for(3)


# ---------------------------------------------------------------------------------------------------------------
# Promise
# ---------------------------------------------------------------------------------------------------------------
def test_a_promise_out_of_the_limits_comes_back_beside_its_field_as_typed_and_writes_nothing(case, token):
    before = counts(case)
    response = client().post(url("portal-promise", token, case), {"amount": "100.00", "promised_on": "2024-06-30"})
    assert response.status_code == 200
    body = text(response)
    assert "Please choose a date from Feb. 12, 2024 to" in body and 'value="2024-06-30"' in body
    assert 'data-testid="error-promised_on"' in body and 'value="100.00"' in body
    assert counts(case) == before


def test_a_promise_is_recorded_as_the_borrowers_and_the_confirmation_says_what_and_when(case, token):
    browser = client()
    response = browser.post(url("portal-promise", token, case), {"amount": "60.00", "promised_on": "2024-02-20"})
    assert response.status_code == 303 and response["Location"] == url("portal-promise-done", token, case, lang="en")
    (made,) = PromiseToPay.objects.filter(case=case)
    assert made.amount == Decimal("60.00") and made.created_by is None
    assert borrower_row(case).transition == "take_promise"
    done = text(browser.get(response["Location"]))
    assert "You promised to pay USD 60.00 by Feb. 20, 2024." in done
    again = browser.get(url("portal-promise", token, case))
    assert "You have already promised a payment on this loan." in text(again) and "I will pay by" not in text(again)


def test_the_promise_form_in_chinese_keeps_an_iso_date_and_says_errors_in_chinese(case, token):
    response = client().post(url("portal-promise", token, case, lang="zh-hans"),
                             {"amount": "500.00", "promised_on": "2024-02-20"})  # fmt: skip
    body = text(response)
    assert response.status_code == 200 and '<html lang="zh-hans">' in body
    assert "该金额超过您在这笔贷款上的欠款（USD 200.00）。" in body and 'value="2024-02-20"' in body


# ---------------------------------------------------------------------------------------------------------------
# Plan
# ---------------------------------------------------------------------------------------------------------------
def test_the_plans_show_every_payment_and_which_start_at_once(case, token):
    body = text(client().get(url("portal-plan", token, case)))
    inside, outside = body.split('data-testid="plans-inside"')[1].split('data-testid="plans-outside"')
    assert 'data-testid="plan-monthly-3"' in inside and 'data-testid="plan-monthly-12"' in outside
    three = inside.split('data-testid="plan-monthly-3"')[1].split("</label>")[0]
    for day, amount in [("Feb. 12, 2024", "10.00"), ("March 12, 2024", "30.00"), ("April 12, 2024", "30.00"),
                        ("May 12, 2024", "30.00")]:  # fmt: skip
        assert f'<span class="pay-day">{day}</span> <span class="pay-amount">USD {amount}</span>' in three
    assert "Plans our team must approve" in body


def test_a_plan_inside_the_policy_starts_and_the_page_says_so(case, token):
    browser = client()
    response = browser.post(url("portal-plan", token, case), {"option": "monthly-3"})
    assert response.status_code == 303
    (plan,) = PaymentPlan.objects.filter(case=case)
    assert plan.status == "active"
    done = text(browser.get(response["Location"]))
    assert "Your plan has started" in done and "approval" not in done
    assert done.count('class="pay-day"') == 4


def test_a_plan_outside_the_policy_is_sent_for_approval_and_the_page_says_so(case, token):
    browser = client()
    response = browser.post(url("portal-plan", token, case), {"option": "monthly-12"})
    (plan,) = PaymentPlan.objects.filter(case=case)
    assert plan.status == "pending_approval" and plan.proposed_by is None
    done = text(browser.get(response["Location"]))
    assert "Your plan was sent to our team for approval" in done and done.count('class="pay-day"') == 13
    staff = Client()
    staff.force_login(case.team.manager)
    assert "proposed by the borrower (self-service)" in text(staff.get(reverse("escalations-plans")))


def test_no_plan_chosen_is_an_error_beside_the_plans_and_writes_nothing(case, token):
    before = counts(case)
    response = client().post(url("portal-plan", token, case), {"option": "monthly-48"})
    assert response.status_code == 200 and "Choose one of the plans offered." in text(response)
    assert 'data-testid="error-option"' in text(response) and counts(case) == before


# ---------------------------------------------------------------------------------------------------------------
# Dispute
# ---------------------------------------------------------------------------------------------------------------
def test_a_dispute_with_a_document_holds_the_case_and_the_next_text_is_denied(case, token):
    browser = client()
    document = SimpleUploadedFile("receipt.pdf", PDF, content_type="application/pdf")
    response = browser.post(url("portal-dispute", token, case),
                            {"reason": "paid", "details": "Paid at the branch", "document": document})  # fmt: skip
    assert response.status_code == 303
    (hold,) = Hold.objects.filter(case=case)
    assert hold.kind == "dispute" and hold.document_ref and hold.reason == "I have already paid: Paid at the branch"
    assert borrower_row(case).transition == "place_hold"
    done = text(browser.get(response["Location"]))
    assert "We have received your dispute" in done and "We have your document too." in done
    _decision, result = contact_check(borrower_id=case.borrower_id, channel="sms", loan_id=case.loan_id,
                                      automated=True, purpose="reminder")  # fmt: skip
    # DSP-01: in writing (their page), within the validation period (no notice mailed yet: it has not even begun).
    assert not result.allowed and "DSP-01" in {r.rule for r in result.reasons}
    # The form again: the dispute is already there.
    assert browser.get(url("portal-dispute", token, case))["Location"].startswith(url("portal-dispute-done", token,
                                                                                      case))  # fmt: skip


def test_a_forbidden_document_comes_back_beside_its_field_keeping_the_words_and_writes_nothing(case, token):
    before = counts(case)
    program = SimpleUploadedFile("letter.pdf", b"MZ\x90\x00 a program")
    response = client().post(url("portal-dispute", token, case),
                             {"reason": "not_mine", "details": "Never had a loan", "document": program})  # fmt: skip
    body = text(response)
    assert response.status_code == 200 and 'data-testid="error-document"' in body
    assert "This file is not a PDF, JPEG or PNG document." in body and "Never had a loan</textarea>" in body
    assert re.search(r'value="not_mine"[^>]*checked', body)  # the reason chosen stays chosen
    assert 'data-testid="choose-again"' in body and counts(case) == before


def test_a_request_far_larger_than_a_document_may_be_is_refused_unread(case, token, settings):
    settings.DISPUTE_UPLOAD_MAX_BYTES = 1024 * 1024
    before = counts(case)
    big = SimpleUploadedFile("big.pdf", PDF + b"0" * 1_400_000)
    response = client().post(url("portal-dispute", token, case), {"reason": "paid", "document": big})
    body = text(response)
    assert response.status_code == 200 and "The file is too large: at most 1 MB." in body
    assert 'data-testid="error-document"' in body and 'data-testid="choose-again"' in body and counts(case) == before


# ---------------------------------------------------------------------------------------------------------------
# Contact preferences
# ---------------------------------------------------------------------------------------------------------------
def test_no_calls_before_ten_then_a_call_at_half_past_nine_is_not_allowed_with_the_borrowers_words(case, token):
    words = "I work nights, please do not call before 10"
    browser = client()
    form = text(browser.get(url("portal-preferences", token)))
    assert "Your local time (America/New_York)." in form
    response = browser.post(url("portal-preferences", token), {"quiet_before": "10:00", "language": "en",
                                                                "words": words})  # fmt: skip
    assert response.status_code == 303
    done = text(browser.get(response["Location"]))
    assert "We will not contact you before 10:00, your local time (America/New_York)." in done
    _decision, result = contact_check(borrower_id=case.borrower_id, channel="call", loan_id=case.loan_id,
                                      at=dt.datetime(2024, 2, 13, 9, 30, tzinfo=NY))  # fmt: skip
    assert not result.allowed
    assert any(words in r.message for r in result.reasons if r.rule == "USF-02")
    assert borrower_row(case).transition == "set_preferences"


def test_stopping_texts_and_choosing_chinese_confirms_in_chinese(case, token):
    browser = client()
    response = browser.post(url("portal-preferences", token), {"language": "zh-hans", "stop_sms": "on",
                                                                "preferred_channel": "email"})  # fmt: skip
    assert response.status_code == 303 and response["Location"].endswith("?lang=zh-hans")
    done = text(browser.get(response["Location"]))
    assert "我们不会再给您发短信。" in done and "您希望我们通过电子邮件与您联系。" in done
    assert ConsentEvent.objects.filter(borrower=case.borrower, kind="opt_out", medium="sms").count() == 1


def test_a_time_not_offered_comes_back_beside_its_field_keeping_the_rest_and_writes_nothing(case, token):
    before = counts(case)
    typed = {"quiet_before": "10:00", "quiet_after": "bad", "language": "en", "words": "mornings only"}
    response = client().post(url("portal-preferences", token), typed)
    body = text(response)
    assert response.status_code == 200 and 'data-testid="error-quiet_after"' in body
    assert "mornings only</textarea>" in body and '<option value="10:00" selected>' in body
    assert counts(case) == before


# ---------------------------------------------------------------------------------------------------------------
# Call back
# ---------------------------------------------------------------------------------------------------------------
def test_only_allowed_slots_are_offered_in_the_borrowers_zone_named(case, token):
    body = text(client().get(url("portal-callback", token, case)))
    offered = callback_slots(case_id=case.pk).slots
    assert body.count("<option value=") == len(offered) and "(America/New_York)" in body
    assert all(8 <= s.start.hour < 21 for s in offered)
    # Grouped by day, in the borrower's clock: at 08:00 the first is 08:30 (a quarter of an hour ahead at least).
    first = body.split('<optgroup label="Feb. 12, 2024">')[1]
    assert first.split("</option>")[0].endswith(">Feb. 12, 2024, 08:30–09:00") and offered[0].key == "2024-02-12T13:30Z"
    assert '<optgroup label="Feb. 13, 2024">' in body and 'value="2024-02-12T13:00Z"' not in body


def test_a_call_back_in_an_offered_slot_is_recorded_and_confirmed_in_local_time(case, token):
    browser = client()
    slot = callback_slots(case_id=case.pk).slots[2]
    response = browser.post(url("portal-callback", token, case), {"slot": slot.key})
    assert response.status_code == 303
    case.refresh_from_db()
    assert case.callback_at == slot.start
    done = text(browser.get(response["Location"]))
    local = slot.start.astimezone(NY)
    assert f"between {local:%H:%M} and" in done and "(America/New_York)" in done
    assert borrower_row(case).transition == "request_callback"


def test_a_slot_not_offered_comes_back_beside_its_field_and_writes_nothing(case, token):
    before = counts(case)
    response = client().post(url("portal-callback", token, case), {"slot": "2024-02-13T05:00Z"})
    assert response.status_code == 200 and "Please choose one of the times offered." in text(response)
    assert 'data-testid="error-slot"' in text(response) and counts(case) == before


# ---------------------------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------------------------
def test_the_page_offers_each_action_for_each_loan(case, token):
    second = make_case(loan=loan_with_schedule(("2024-01-01", "80.00"), borrower=case.borrower))
    body = text(client().get(reverse("portal-page", args=[token])))
    for name in CASE_ACTIONS:
        for each in (case, second):
            assert f'href="{url(name, token, each)}?lang=en"' in body
    assert f'href="{url("portal-preferences", token)}?lang=en"' in body
