"""The borrower's own actions (issue 15): a promise, a plan, a dispute, contact preferences and a call back, through
the forms of ``collections_app.borrower_forms`` and the services of ``collections_app.services.borrower_actions`` —
each audited as the borrower's (the link and the address named), each obeyed by the real compliance gate at its very
next check. Bad input gives form errors in the borrower's words and writes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation

from collections_app.borrower_forms import (
    BorrowerPromiseForm,
    CallbackForm,
    DisputeForm,
    PlanChoiceForm,
    PreferencesForm,
    service_error,
)
from collections_app.models import CaseTransition, CollectionCase, Hold, PaymentPlan, PromiseToPay
from collections_app.selectors.borrower_actions import (
    callback_slots,
    contact_preferences,
    plan_options,
    promise_limits,
)
from collections_app.selectors.case_page import case_page
from collections_app.selectors.escalations import EscalationFilters, dispute_rows, plans_waiting_rows
from collections_app.services import CaseError, hold_place
from collections_app.services.borrower_actions import (
    BorrowerActor,
    borrower_callback_request,
    borrower_dispute,
    borrower_plan_choose,
    borrower_preferences_set,
    borrower_promise,
)
from compliance.models import ConsentEvent, Decision, Restriction
from compliance.services import contact_check
from tests.factories import EmailFactory, PhoneFactory, make_case, team_with, user_with_role

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
NOW = dt.datetime(2024, 2, 12, 13, 0, tzinfo=dt.UTC)  # 08:00 in New York, the product's and the borrower's zone
ACTOR = BorrowerActor(link_id="Lk7Qx2", ip="203.0.113.9")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def _uploads(settings, tmp_path):
    settings.DISPUTE_UPLOADS_DIR = str(tmp_path / "disputes")
    return Path(settings.DISPUTE_UPLOADS_DIR)


@pytest.fixture
def case():
    """An open case (100.00 overdue, under the default policies) of a borrower in Massachusetts with a mobile that
    consented to texts and automated calls, and an e-mail address."""
    manager = user_with_role("manager", "morgan")
    collector = user_with_role("collector", "casey")
    team = team_with(collector, name="US", manager=manager)
    case = make_case(team=team, assigned_to=collector)
    PhoneFactory(borrower=case.borrower, number="+16175550101", sms_consent=True, autodial_consent=True)
    EmailFactory(borrower=case.borrower, address="pat@example.com")
    return case


def borrower_rows(case):
    return list(CaseTransition.objects.filter(case=case, actor_label="borrower").order_by("id"))


def nothing_written(case, before):
    """No audit row, promise, plan, hold, restriction or consent since ``before`` (the counts taken then)."""
    return counts(case) == before


def counts(case):
    return (
        CaseTransition.objects.filter(case=case).count(),
        PromiseToPay.objects.filter(case=case).count(),
        PaymentPlan.objects.filter(case=case).count(),
        Hold.objects.filter(case=case).count(),
        Restriction.objects.filter(borrower=case.borrower).count(),
        ConsentEvent.objects.filter(borrower=case.borrower).count(),
    )


def assert_audited(row, *words):
    assert row.actor is None and row.actor_label == "borrower"
    assert "link Lk7Qx2" in row.reason and "203.0.113.9" in row.reason
    for word in words:
        assert word in row.reason


# ---------------------------------------------------------------------------------------------------------------
# Promise
# ---------------------------------------------------------------------------------------------------------------
def test_a_promise_within_the_policys_days_is_recorded_as_the_borrowers_own(case):
    limits = promise_limits(case_id=case.pk)
    assert limits.earliest == dt.date(2024, 2, 12) and limits.latest == dt.date(2024, 2, 26)  # 14 days (policy)
    form = BorrowerPromiseForm({"amount": "100.00", "promised_on": "2024-02-20"}, limits=limits)
    assert form.is_valid(), form.errors

    promise = borrower_promise(case_id=case.pk, actor=ACTOR, **form.cleaned_data)

    assert promise.created_by is None and promise.promised_on == dt.date(2024, 2, 20)
    case.refresh_from_db()
    assert case.state == "promise_to_pay"
    (row,) = borrower_rows(case)
    assert row.transition == "take_promise"
    assert_audited(row, "promise 100.00 USD by 2024-02-20")
    with translation.override("zh-hans"):
        shown = case_page(case=case, now=NOW, chinese=True)["timeline"]
    assert any(item["who"] == "借款人（自助）" and "link Lk7Qx2" in item["detail"] for item in shown)


@pytest.mark.parametrize("day", ["2024-02-27", "2024-02-11"])
def test_a_promise_date_outside_the_limits_is_a_form_error_in_words_and_writes_nothing(case, day):
    before = counts(case)
    limits = promise_limits(case_id=case.pk)
    form = BorrowerPromiseForm({"amount": "100.00", "promised_on": day}, limits=limits)
    assert not form.is_valid()
    assert form.errors["promised_on"] == ["Please choose a date from Feb. 12, 2024 to Feb. 26, 2024."]
    assert form["promised_on"].value() == day  # what was typed stays
    with translation.override("zh-hans"):
        chinese = BorrowerPromiseForm({"amount": "100.00", "promised_on": day}, limits=limits)
        assert not chinese.is_valid()
        assert chinese.errors["promised_on"][0].startswith("请选择")
    # And the service refuses it too, should a page skip the form, in the borrower's words.
    with translation.override("zh-hans"), pytest.raises(CaseError, match="请选择提供的日期之一"):
        borrower_promise(case_id=case.pk, actor=ACTOR, amount=Decimal("100.00"),
                         promised_on=dt.date.fromisoformat(day))  # fmt: skip
    assert nothing_written(case, before)


def test_a_second_promise_shows_the_services_refusal_on_the_form(case):
    borrower_promise(case_id=case.pk, actor=ACTOR, amount=Decimal("50.00"), promised_on=dt.date(2024, 2, 14))
    form = BorrowerPromiseForm({"amount": "50.00", "promised_on": "2024-02-15"}, limits=promise_limits(case_id=case.pk))
    assert not form.is_valid()
    assert form.non_field_errors() == ["You have already promised a payment on this loan."]
    try:
        borrower_promise(case_id=case.pk, actor=ACTOR, amount=Decimal("50.00"), promised_on=dt.date(2024, 2, 15))
    except CaseError as exc:
        service_error(form, exc)
    # The service's refusal joins the form's own, in the borrower's words (not the collectors').
    assert form.non_field_errors()[1] == "We cannot record a promise on this loan now. Please call us."
    assert PromiseToPay.objects.filter(case=case).count() == 1


# ---------------------------------------------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------------------------------------------
def test_the_plans_offered_show_every_payment_and_which_start_at_once(case):
    offered = plan_options(case_id=case.pk)
    keys = {o.key: o for o in offered.options}
    # Default policy: at most 6 installments, 180 days, 10 % down, weekly/biweekly/monthly allowed.
    assert {"weekly-2", "biweekly-6", "monthly-6", "monthly-12"} <= set(keys)
    three = keys["monthly-3"]
    assert three.starts_at_once and three.down_payment == Decimal("10.00")
    assert three.payments == (
        (dt.date(2024, 2, 12), Decimal("10.00")),
        (dt.date(2024, 3, 12), Decimal("30.00")),
        (dt.date(2024, 4, 12), Decimal("30.00")),
        (dt.date(2024, 5, 12), Decimal("30.00")),
    )
    assert not keys["monthly-12"].starts_at_once
    assert "12 installments (policy: at most 6)" in keys["monthly-12"].breaches
    for option in offered.options:
        assert sum(amount for _day, amount in option.payments) == Decimal("100.00")
    form = PlanChoiceForm(offered=offered)
    labels = dict(form.fields["option"].choices)
    assert labels["monthly-3"] == ("USD 10.00 on Feb. 12, 2024, then 3 monthly payments of USD 30.00 (starts at once)")
    assert labels["monthly-12"].endswith("(needs our manager's approval)")


def test_a_plan_inside_the_policy_starts_at_once(case):
    form = PlanChoiceForm({"option": "monthly-3"}, offered=plan_options(case_id=case.pk))
    assert form.is_valid()
    chosen = borrower_plan_choose(case_id=case.pk, actor=ACTOR, option=form.cleaned_data["option"])
    assert chosen.started
    assert chosen.plan.proposed_by is None and chosen.plan.status == "active"
    assert chosen.plan.installments.count() == 4
    case.refresh_from_db()
    assert case.state == "payment_plan"
    (row,) = borrower_rows(case)
    assert row.transition == "start_plan"
    assert_audited(row, "100.00 in 4 payments")


def test_a_plan_outside_the_policy_waits_in_the_managers_queue(case):
    chosen = borrower_plan_choose(case_id=case.pk, actor=ACTOR, option="monthly-12")
    assert not chosen.started and chosen.plan.status == "pending_approval"
    case.refresh_from_db()
    assert case.state == "reminder"
    (row,) = borrower_rows(case)
    assert row.transition == "propose_plan" and row.from_state == row.to_state == "reminder"
    assert_audited(row, "waits for a manager")
    manager = case.team.manager
    assert list(plans_waiting_rows(user=manager, filters=EscalationFilters())) == [chosen.plan]
    client = Client()
    client.force_login(manager)
    page = client.get(reverse("escalations-plans"))
    assert "proposed by the borrower (self-service)" in page.content.decode()


def test_a_plan_not_offered_is_a_form_error_and_writes_nothing(case):
    before = counts(case)
    offered = plan_options(case_id=case.pk)
    form = PlanChoiceForm({"option": "monthly-48"}, offered=offered)
    assert not form.is_valid()
    assert form.errors["option"] == ["Choose one of the plans offered."]
    with pytest.raises(CaseError, match="Choose one of the plans offered"):
        borrower_plan_choose(case_id=case.pk, actor=ACTOR, option="monthly-48")
    assert nothing_written(case, before)


# ---------------------------------------------------------------------------------------------------------------
# Dispute
# ---------------------------------------------------------------------------------------------------------------
def test_a_dispute_with_a_document_holds_the_case_and_the_next_text_is_denied(case, _uploads):
    upload = SimpleUploadedFile("receipt.pdf", PDF, content_type="application/pdf")
    form = DisputeForm({"reason": "paid", "details": "Paid in cash at the branch on 2 Feb"}, {"document": upload})
    assert form.is_valid(), form.errors

    hold = borrower_dispute(case_id=case.pk, actor=ACTOR, **form.cleaned_data)

    assert hold.kind == "dispute" and hold.placed_by is None
    assert hold.reason == "I have already paid: Paid in cash at the branch on 2 Feb"
    stored = list(_uploads.rglob("*.pdf"))
    assert len(stored) == 1 and stored[0].read_bytes() == PDF
    assert stored[0].stat().st_mode & 0o077 == 0  # the service's own user only
    assert hold.document_ref == f"dispute-upload:{case.pk}/{stored[0].name}"
    case.refresh_from_db()
    assert case.state == "on_hold"
    (row,) = borrower_rows(case)
    assert row.transition == "place_hold"
    assert_audited(row, "I have already paid")
    # The gate's very next check: a reminder text about the loan is denied with the dispute rule.
    _decision, result = contact_check(borrower_id=case.borrower_id, channel="sms", loan_id=case.loan_id,
                                      automated=True, purpose="reminder")  # fmt: skip
    # DSP-01: in writing (their page), within the validation period (no notice mailed yet: it has not even begun).
    assert not result.allowed and "DSP-01" in {r.rule for r in result.reasons}
    # The managers' disputes list shows it with its document, which a manager may download and a collector not.
    manager, collector = case.team.manager, case.assigned_to
    assert list(dispute_rows(user=manager, filters=EscalationFilters())) == [hold]
    client = Client()
    client.force_login(manager)
    page = client.get(reverse("escalations-disputes")).content.decode()
    assert "I have already paid" in page and "recorded by the borrower (self-service)" in page
    document = client.get(reverse("dispute-document", args=[hold.pk]))
    assert document.status_code == 200 and b"".join(document.streaming_content) == PDF
    assert document["Content-Type"] == "application/pdf" and "attachment" in document["Content-Disposition"]
    client.force_login(collector)
    assert client.get(reverse("dispute-document", args=[hold.pk])).status_code == 403


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("big.pdf", PDF + b"0" * (5 * 1024 * 1024), "The file is too large: at most 5 MB."),
        ("letter.pdf", b"MZ\x90\x00 this is a program, not a PDF", "This file is not a PDF, JPEG or PNG document."),
        ("page.html", b"<html><script>alert(1)</script></html>", "This file is not a PDF, JPEG or PNG document."),
    ],
)
def test_an_oversize_or_forbidden_upload_is_a_form_error_and_writes_nothing(case, _uploads, name, content, error):
    before = counts(case)
    data = {"reason": "not_mine", "details": "Never had a loan with you"}
    form = DisputeForm(data, {"document": SimpleUploadedFile(name, content)})
    assert not form.is_valid()
    assert form.errors["document"] == [error]
    assert form["details"].value() == "Never had a loan with you"  # what was typed stays
    with pytest.raises(CaseError):
        borrower_dispute(case_id=case.pk, actor=ACTOR, reason="not_mine", document=SimpleUploadedFile(name, content))
    assert nothing_written(case, before)
    assert not _uploads.exists() or not any(_uploads.rglob("*"))


def test_another_reason_needs_the_borrowers_words_and_a_second_dispute_is_refused(case, _uploads):
    form = DisputeForm({"reason": "other", "details": "  "})
    assert not form.is_valid() and form.errors["details"] == ["Please tell us why you dispute this debt."]
    with translation.override("zh-hans"):
        chinese = DisputeForm({"reason": "other"})
        assert not chinese.is_valid() and chinese.errors["details"] == ["请告诉我们您对这笔债务有异议的原因。"]
    borrower_dispute(case_id=case.pk, actor=ACTOR, reason="wrong_amount")
    upload = SimpleUploadedFile("photo.png", PNG)
    with pytest.raises(CaseError, match="already disputed"):
        borrower_dispute(case_id=case.pk, actor=ACTOR, reason="paid", document=upload)
    assert Hold.objects.filter(case=case).count() == 1
    assert not any(_uploads.rglob("*.png"))  # the refused dispute's document is not kept


# ---------------------------------------------------------------------------------------------------------------
# Contact preferences
# ---------------------------------------------------------------------------------------------------------------
def at_ny(hour, minute=0, day=13):
    return dt.datetime(2024, 2, day, hour, minute, tzinfo=NY)


def test_no_calls_before_ten_defers_a_call_at_half_past_nine_with_the_borrowers_own_words(case):
    words = "I work nights, please do not call before 10"
    current = contact_preferences(borrower_id=case.borrower_id)
    assert current.zone == "America/New_York" and not current.quiet_before
    data = {"quiet_before": "10:00", "language": "en", "words": words}
    form = PreferencesForm(data, current=current)
    assert form.is_valid(), form.errors
    assert form.fields["quiet_before"].help_text == "Your local time (America/New_York)."

    saved = borrower_preferences_set(borrower_id=case.borrower_id, actor=ACTOR, **form.cleaned_data)

    assert saved.changes == [f"no contact 00:00–10:00 local time: “{words}”"]
    _decision, result = contact_check(borrower_id=case.borrower_id, channel="call", loan_id=case.loan_id,
                                      at=at_ny(9, 30))  # fmt: skip
    assert not result.allowed and result.outcome == "defer"
    (reason,) = [r for r in result.reasons if r.rule == "USF-02"]
    assert words in reason.message and words in reason.message_zh
    assert result.next_allowed_at == at_ny(10, 1).astimezone(dt.UTC)
    stored = Decision.objects.get(pk=_decision.pk)
    assert any(words in r["message"] for r in stored.reasons)
    _decision, later = contact_check(borrower_id=case.borrower_id, channel="call", loan_id=case.loan_id,
                                     at=at_ny(10, 30))  # fmt: skip
    assert later.allowed
    (row,) = borrower_rows(case)
    assert row.transition == "set_preferences"
    assert_audited(row, words)
    assert contact_preferences(borrower_id=case.borrower_id).quiet_before == "10:00"


def test_opt_outs_language_and_channel_are_what_the_gate_and_the_borrower_record_say_next(case):
    saved = borrower_preferences_set(borrower_id=case.borrower_id, actor=ACTOR, language="zh-hans",
                                     preferred_channel="email", stop_sms=True, stop_automated_calls=True,
                                     stop_email=False, words="Too many texts")  # fmt: skip
    assert len(saved.changes) == 3
    text = contact_check(borrower_id=case.borrower_id, channel="sms", loan_id=case.loan_id, automated=True,
                         at=at_ny(12))[1]  # fmt: skip
    assert not text.allowed and "USF-06" in {r.rule for r in text.reasons}
    robocall = contact_check(borrower_id=case.borrower_id, channel="call", loan_id=case.loan_id, automated=True,
                             at=at_ny(12))[1]  # fmt: skip
    assert not robocall.allowed and "TCPA-02" in {r.rule for r in robocall.reasons}
    by_hand = contact_check(borrower_id=case.borrower_id, channel="call", loan_id=case.loan_id, at=at_ny(12))[1]
    assert by_hand.allowed  # a collector's own call is not an automated one
    email = contact_check(borrower_id=case.borrower_id, channel="email", loan_id=case.loan_id, at=at_ny(12))[1]
    assert "USF-06" not in {r.rule for r in email.reasons}
    events = ConsentEvent.objects.filter(borrower=case.borrower).order_by("id")
    assert {(e.medium, e.kind, e.source, e.text) for e in events} == {
        ("sms", "opt_out", "borrower_page", "Too many texts"),
        ("voice", "opt_out", "borrower_page", "Too many texts"),
    }
    case.borrower.refresh_from_db()
    assert (case.borrower.language, case.borrower.preferred_channel) == ("zh-hans", "email")
    shown = contact_preferences(borrower_id=case.borrower_id)
    assert shown.stop_sms and shown.stop_automated_calls and not shown.stop_email
    # Saving the same again changes nothing and writes nothing.
    before = counts(case)
    again = borrower_preferences_set(borrower_id=case.borrower_id, actor=ACTOR, language="zh-hans",
                                     preferred_channel="email", stop_sms=True, stop_automated_calls=True)  # fmt: skip
    assert again.changes == [] and nothing_written(case, before)
    # Unticking texts opts the number back in.
    borrower_preferences_set(borrower_id=case.borrower_id, actor=ACTOR, language="zh-hans",
                             preferred_channel="email", stop_automated_calls=True)  # fmt: skip
    assert contact_check(borrower_id=case.borrower_id, channel="sms", loan_id=case.loan_id, automated=True,
                         at=at_ny(12))[1].allowed  # fmt: skip


def test_an_evening_before_the_morning_is_a_form_error_and_writes_nothing(case):
    before = counts(case)
    current = contact_preferences(borrower_id=case.borrower_id)
    form = PreferencesForm({"quiet_before": "12:00", "quiet_after": "17:00", "language": "en"}, current=current)
    assert form.is_valid()  # 17:00 is after 12:00
    bad = PreferencesForm({"quiet_before": "11:00", "quiet_after": "08:00", "language": "en"}, current=current)
    assert not bad.is_valid() and "quiet_after" in bad.errors  # 08:00 is not offered for the evening
    with pytest.raises(CaseError):
        borrower_preferences_set(borrower_id=case.borrower_id, actor=ACTOR, quiet_before="11:00",
                                 quiet_after="08:00", language="en")  # fmt: skip
    assert nothing_written(case, before)


# ---------------------------------------------------------------------------------------------------------------
# Call back
# ---------------------------------------------------------------------------------------------------------------
def test_only_slots_the_gate_allows_are_offered_in_the_borrowers_zone(case):
    borrower_preferences_set(borrower_id=case.borrower_id, actor=ACTOR, quiet_before="10:00", language="en")
    decisions = Decision.objects.count()
    offered = callback_slots(case_id=case.pk)
    assert Decision.objects.count() == decisions  # offering a time is not a contact: nothing stored
    assert offered.zone == "America/New_York" and offered.slots
    starts = [slot.start for slot in offered.slots]
    assert all(s.tzinfo == NY for s in starts)
    assert starts[0] == at_ny(10, 0, day=12)  # the borrower's 10:00, not the 08:00 of the window
    assert all(dt.time(10) <= s.time() and s.time() <= dt.time(20, 30) for s in starts)
    assert starts[-1] == at_ny(20, 30, day=14)  # three days: 12, 13 and 14 February
    assert len(starts) == 3 * 22
    form = CallbackForm(offered=offered)
    assert form.fields["slot"].choices[0][1] == "Feb. 12, 2024, 10:00–10:30 (America/New_York)"


def test_a_call_back_in_an_allowed_slot_is_recorded_for_the_collectors_desk(case):
    offered = callback_slots(case_id=case.pk)
    chosen = offered.slots[3]
    form = CallbackForm({"slot": chosen.key}, offered=offered)
    assert form.is_valid(), form.errors
    borrower_callback_request(case_id=case.pk, actor=ACTOR, start=form.cleaned_data["start"])
    case.refresh_from_db()
    assert case.callback_at == chosen.start
    (row,) = borrower_rows(case)
    assert row.transition == "request_callback"
    assert_audited(row, f"call back at {chosen.start.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC")


def test_a_call_back_at_a_time_the_gate_refuses_is_refused_and_writes_nothing(case):
    before = counts(case)
    offered = callback_slots(case_id=case.pk)
    early = at_ny(7, 0, day=13).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")  # before the 08:00 window
    form = CallbackForm({"slot": early}, offered=offered)
    assert not form.is_valid() and form.errors["slot"] == ["Please choose one of the times offered."]
    with pytest.raises(CaseError, match="cannot call you at that time"):
        borrower_callback_request(case_id=case.pk, actor=ACTOR, start=at_ny(7, 0, day=13))
    assert nothing_written(case, before)
    assert CollectionCase.objects.get(pk=case.pk).callback_at is None


def test_a_dispute_on_a_case_already_on_hold_is_still_audited_as_the_borrowers(case):
    hardship = user_with_role("collector", "kim")
    hold_place(case_id=case.pk, actor=hardship, kind="hardship_review", reason="lost job")
    hold = borrower_dispute(case_id=case.pk, actor=ACTOR, reason="wrong_amount", details="It was 80, not 100")
    assert hold.case.state == "on_hold"
    (row,) = borrower_rows(case)
    assert row.transition == "dispute" and row.from_state == row.to_state == "on_hold"
    assert_audited(row, "The amount is wrong: It was 80, not 100")
