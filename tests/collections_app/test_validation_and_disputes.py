"""VAL-01 (the US validation notice and its clock) and DSP-01 (a dispute in the validation period) end to end: the
business-day arithmetic, VECTORS rows 70-72 through the gate and the transition API, the notice planned and sent by
the system (a letter, and an e-mail to a consented address, each with its PDF), the dispute workflow (received,
verification prepared, mailed: the hold lifts by itself) and the managers' disputes list (RULES.md §2.8)."""

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import translation

from collections_app.models import CaseTransition, CollectionCase, Dispute, Hold
from collections_app.services import DisputeTerms, dispute_record, dispute_verification_prepare
from collections_app.sweep import sweep_run
from compliance import notices
from compliance.engine import (
    ALLOW,
    DENY,
    REVIEW,
    WARN,
    Attempt,
    BorrowerFacts,
    DebtClockFact,
    Profile,
    RestrictionFact,
    evaluate,
)
from compliance.models import ConsentEvent, DebtClock, Decision, Restriction
from compliance.presets import PRESETS
from compliance.services import (
    contact_check,
    contact_record,
    validation_first_communication_before_system,
    validation_notice_record,
)
from notifications.documents.content import day
from notifications.models import Document, OutboundMessage
from notifications.services import document_render, outbox_claim, outbox_send
from tests.factories import (
    BorrowerFactory,
    EmailFactory,
    PhoneFactory,
    api_for,
    loan_with_schedule,
    make_case,
    notices_served,
    overdue_loan,
    team_with,
    user_with_role,
)
from tests.notifications.pdfs import pdf_text

pytestmark = pytest.mark.django_db
PROFILES = [Profile(code, 1, params) for code, params in PRESETS.items()]
ADDRESS = {"address_line1": "1 Main St", "city": "Albany", "postal_code": "12207", "region": "NY"}


def at(text):
    return dt.datetime.fromisoformat(text)


@pytest.fixture
def collector():
    collector = user_with_role("collector", "casey")
    team_with(collector, manager=user_with_role("manager", "morgan"))
    return collector


def us_case(collector, state="formal_notice"):
    borrower = BorrowerFactory(time_zones=["America/New_York"], **ADDRESS)
    PhoneFactory(borrower=borrower, number="+15185550100")
    return make_case(state=state, loan=overdue_loan(borrower=borrower), worked_by=collector)


# ---------------------------------------------------------------------------------------------------------------
# The clock's arithmetic: business days without US federal holidays, Saturdays and Sundays (1006.34(b)(5))
# ---------------------------------------------------------------------------------------------------------------
def test_presumed_receipt_skips_a_us_federal_holiday_and_the_weekend():
    # Mailed Thu 2025-07-03: Fri 07-04 is Independence Day, then the weekend: Mon 7, Tue 8, Wed 9, Thu 10, Fri 11.
    assert notices.presumed_receipt(dt.date(2025, 7, 3)) == dt.date(2025, 7, 11)
    assert notices.validation_period_end(dt.date(2025, 7, 3)) == dt.date(2025, 8, 10)
    # Mailed Fri 2025-11-07: the weekend, then Tue 11-11 is Veterans Day: Mon 10, Wed 12, Thu 13, Fri 14, Mon 17.
    assert notices.presumed_receipt(dt.date(2025, 11, 7)) == dt.date(2025, 11, 17)
    # Without a holiday, a Monday's notice is presumed received the next Monday (row 72: the period ends 07-09).
    assert notices.presumed_receipt(dt.date(2025, 6, 2)) == dt.date(2025, 6, 9)
    assert notices.validation_period_end(dt.date(2025, 6, 2)) == dt.date(2025, 7, 9)


def test_the_validation_notice_states_its_mailing_date_and_the_end_of_its_period(collector):
    case = us_case(collector)
    document = document_render(kind="validation_notice", case=case, details={"mailed_on": "2025-07-03"})
    assert document.facts["mailed_on"] == "2025-07-03"
    assert document.facts["presumed_receipt"] == "2025-07-11"
    assert document.facts["validation_period_ends"] == "2025-08-10"
    with translation.override("en"):
        assert day(dt.date(2025, 8, 10)) in pdf_text(document.pdf_bytes())


# ---------------------------------------------------------------------------------------------------------------
# VAL-01 in the pure core
# ---------------------------------------------------------------------------------------------------------------
NY = BorrowerFacts(1, zones=("America/New_York",), country="US", region="NY", phone_kinds={"+15185550100": "mobile"})


def check(clock, when, **attempt):
    facts = BorrowerFacts(**{**NY.__dict__, "debt_clocks": (clock,) if clock else ()})
    return evaluate(Attempt(channel=attempt.pop("channel", "call"), at=at(when), to="+15185550100", debts=(7,),
                            **attempt), facts, PROFILES)  # fmt: skip


def test_val01_warns_through_day_5_after_the_first_communication_and_denies_after():
    first = DebtClockFact(7, first_communication_at=at("2025-06-02T10:00:00-04:00"))
    warned = check(first, "2025-06-03T14:00:00-04:00")  # row 70
    assert warned.outcome == WARN and warned.allowed and [r.rule for r in warned.reasons] == ["VAL-01"]
    assert check(first, "2025-06-07T20:30:00-04:00").outcome == WARN  # day 5 (Saturday), to its end
    denied = check(first, "2025-06-08T09:00:00-04:00")  # past day 5
    assert denied.outcome == DENY and [r.rule for r in denied.reasons] == ["VAL-01"]
    assert check(first, "2025-06-09T14:00:00-04:00").outcome == DENY  # row 71


def test_val01_is_silent_once_the_notice_is_recorded_before_any_communication_and_for_the_notices_themselves():
    mailed = DebtClockFact(7, at("2025-06-02T10:00:00-04:00"), notice_sent_at=at("2025-06-02T12:00:00-04:00"))
    assert check(mailed, "2025-06-20T14:00:00-04:00").outcome == ALLOW
    assert check(None, "2025-06-20T14:00:00-04:00").outcome == ALLOW  # no communication yet: this one starts it
    late = DebtClockFact(7, first_communication_at=at("2025-06-02T10:00:00-04:00"))
    for purpose in ("validation_notice", "verification"):
        assert check(late, "2025-06-20T14:00:00-04:00", channel="letter", purpose=purpose).outcome == ALLOW
    assert check(late, "2025-06-20T14:00:00-04:00", target_role="attorney").outcome == ALLOW


def test_val01_asks_a_person_when_the_first_communication_predates_the_system():
    result = check(DebtClockFact(7, before_system=True), "2025-06-20T14:00:00-04:00")
    assert result.outcome == REVIEW and [r.rule for r in result.reasons] == ["VAL-01"]


def test_dsp01_cites_the_written_dispute_in_the_validation_period_and_lets_the_verification_through():
    facts = BorrowerFacts(**{**NY.__dict__, "restrictions": (RestrictionFact(1, "dispute", 7, {"dsp01": True}),)})
    denied = evaluate(Attempt("call", at("2025-06-23T14:00:00-04:00"), "+15185550100", debts=(7,)), facts, PROFILES)
    assert denied.outcome == DENY and [r.rule for r in denied.reasons] == ["DSP-01"]
    verification = Attempt("letter", at("2025-06-23T14:00:00-04:00"), debts=(7,), purpose="verification")
    assert evaluate(verification, facts, PROFILES).outcome == ALLOW
    oral = BorrowerFacts(**{**NY.__dict__, "restrictions": (RestrictionFact(1, "dispute", 7, {"dsp01": False}),)})
    oral_result = evaluate(Attempt("call", at("2025-06-23T14:00:00-04:00"), "+15185550100", debts=(7,)), oral, PROFILES)
    assert [r.rule for r in oral_result.reasons] == ["USF-20"]  # a dispute on a call: the hold, not DSP-01


# ---------------------------------------------------------------------------------------------------------------
# VECTORS rows 70-72 through the gate (the ledger starts the clock) and the transition API
# ---------------------------------------------------------------------------------------------------------------
def test_tv70_tv71_the_first_text_starts_the_clock_a_call_warns_the_next_day_and_is_denied_a_week_later(collector):
    case = us_case(collector)
    contact_record(borrower_id=case.borrower_id, channel="sms", direction="outbound", outcome="delivered",
                   at=at("2025-06-02T10:00:00-04:00"), debts=[case.loan_id], automated=True)  # fmt: skip
    clock = DebtClock.objects.get(loan=case.loan)
    assert clock.first_communication_at == at("2025-06-02T10:00:00-04:00") and clock.notice_sent_at is None
    _decision, result = contact_check(borrower_id=case.borrower_id, channel="call", loan_id=case.loan_id,
                                      at=at("2025-06-03T14:00:00-04:00"))  # fmt: skip
    assert result.outcome == WARN and result.allowed and {r.rule for r in result.reasons} == {"VAL-01"}
    client = api_for(collector)
    answer = client.post(reverse("api-compliance-check"), {"borrower": case.borrower_id, "loan": case.loan_id,
                         "channel": "call", "at": "2025-06-09T14:00:00-04:00"}, format="json")  # fmt: skip
    assert answer.status_code == 200, answer.content
    assert answer.json()["outcome"] == DENY and [r["rule"] for r in answer.json()["reasons"]] == ["VAL-01"]
    # A later communication does not move the clock; an earlier one recorded late does.
    contact_record(borrower_id=case.borrower_id, channel="call", direction="outbound", outcome="conversation",
                   at=at("2025-06-04T10:00:00-04:00"), debts=[case.loan_id])  # fmt: skip
    assert DebtClock.objects.get(loan=case.loan).first_communication_at == at("2025-06-02T10:00:00-04:00")


def test_a_pre_due_reminder_is_not_the_first_communication_about_the_debt(collector):
    case = us_case(collector)
    contact_record(borrower_id=case.borrower_id, channel="sms", direction="outbound", outcome="delivered",
                   at=at("2025-06-02T10:00:00-04:00"), debts=[case.loan_id], collection=False)  # fmt: skip
    contact_record(borrower_id=case.borrower_id, channel="call", direction="outbound", outcome="no_answer",
                   at=at("2025-06-03T10:00:00-04:00"), debts=[case.loan_id])  # fmt: skip
    assert not DebtClock.objects.filter(loan=case.loan).exists()


def test_tv72_a_written_dispute_in_the_validation_period_denies_the_call_and_request_legal_is_409(collector):
    case = us_case(collector)
    validation_notice_record(loan_id=case.loan_id, sent_at=at("2025-06-02T12:00:00-04:00"),
                             mailed_on=dt.date(2025, 6, 2), validation_period_ends_on=dt.date(2025, 7, 9),
                             ref="message:test")  # fmt: skip
    with time_machine.travel(at("2025-06-20T11:00:00-04:00"), tick=False):
        dispute = dispute_record(case_id=case.pk, actor=collector, reason="Not my debt",
                                 terms=DisputeTerms(channel="letter"))  # fmt: skip
    assert dispute.written and dispute.in_validation_period and dispute.dsp01
    assert dispute.validation_period_ends_on == dt.date(2025, 7, 9) and dispute.stage == "received"
    _decision, result = contact_check(borrower_id=case.borrower_id, channel="call", loan_id=case.loan_id,
                                      at=at("2025-06-23T14:00:00-04:00"))  # fmt: skip
    assert result.outcome == DENY and [r.rule for r in result.reasons] == ["DSP-01"]
    refused = api_for(collector).post(reverse("api-case-transition", args=[case.pk, "request_legal"]),
                                      {"reason": "no payment"}, format="json")  # fmt: skip
    assert refused.status_code == 409 and refused.json()["rule"] == "DSP-01"
    assert "validation period" in refused.json()["detail"]
    client = Client()
    client.force_login(collector)
    page = client.post(reverse("case-action", args=[case.pk, "transition-request_legal"]), {"reason": "x"},
                       follow=True)  # fmt: skip
    assert "Disputed in writing within the validation period: no escalation" in page.content.decode()
    case.refresh_from_db()
    assert case.state == "on_hold" and not CaseTransition.objects.filter(case=case, transition="request_legal")


def test_a_dispute_after_the_validation_period_or_on_a_call_is_not_dsp01(collector):
    case = us_case(collector)
    validation_notice_record(loan_id=case.loan_id, sent_at=at("2025-06-02T12:00:00-04:00"),
                             mailed_on=dt.date(2025, 6, 2), validation_period_ends_on=dt.date(2025, 7, 9),
                             ref="message:test")  # fmt: skip
    with time_machine.travel(at("2025-07-10T11:00:00-04:00"), tick=False):
        late = dispute_record(case_id=case.pk, actor=collector, reason="Paid", terms=DisputeTerms(channel="letter"))
    assert late.in_validation_period is False and not late.dsp01
    assert Restriction.objects.get(pk=late.hold.restriction_id).details["dsp01"] is False
    refused = api_for(collector).post(reverse("api-case-transition", args=[case.pk, "request_legal"]),
                                      {"reason": "no payment"}, format="json")  # fmt: skip
    assert refused.status_code == 409 and refused.json().get("rule") != "DSP-01"  # on hold: a plain conflict


# ---------------------------------------------------------------------------------------------------------------
# The validation notice sent by the system
# ---------------------------------------------------------------------------------------------------------------
def test_a_new_us_case_gets_its_validation_notice_by_letter_and_consented_e_mail_once_with_its_pdf(settings, tmp_path):
    settings.LETTERS_DIR = str(tmp_path)
    settings.NOTIFICATIONS_BACKEND = "locmem"
    settings.PROVIDER_CONCURRENCY = 1  # the sends in this thread: the test's transaction holds the rows
    borrower = BorrowerFactory(time_zones=["America/New_York"], **ADDRESS)
    email = EmailFactory(borrower=borrower)
    ConsentEvent.objects.create(borrower=borrower, medium="email", address=email.address, kind="opt_in",
                                source="api", at=at("2023-12-01T12:00:00+00:00"))  # fmt: skip
    unconsented = BorrowerFactory(time_zones=["America/New_York"], **ADDRESS)
    EmailFactory(borrower=unconsented)
    loan = loan_with_schedule(("2024-01-01", "100.00"), borrower=borrower)
    other = loan_with_schedule(("2024-01-01", "100.00"), borrower=unconsented)
    sweep_run(as_of=dt.date(2024, 1, 5))
    notices_ = OutboundMessage.objects.filter(purpose="validation_notice")
    assert sorted(notices_.filter(loan=loan).values_list("channel", flat=True)) == ["email", "letter"]
    assert list(notices_.filter(loan=other).values_list("channel", flat=True)) == ["letter"]
    with time_machine.travel(at("2024-01-05T15:00:00+00:00"), tick=False):  # 10:00 in New York
        token, ids = outbox_claim(limit=500)
        outbox_send(message_ids=ids, claim_token=token)
    letter = notices_.get(loan=loan, channel="letter")
    mail = notices_.get(loan=loan, channel="email")
    assert letter.status == "sent" and mail.status == "sent", (letter.status_reason, mail.status_reason)
    for message in (letter, mail):
        document = Document.objects.get(message=message)
        assert document.kind == "validation_notice" and document.facts["mailed_on"] == "2024-01-05"
        # Mailed Fri 01-05: Mon 8 … Fri 12 (five business days), then 30 days.
        assert document.facts["presumed_receipt"] == "2024-01-12"
        assert document.facts["validation_period_ends"] == "2024-02-11"
    clock = DebtClock.objects.get(loan=loan)
    assert clock.notice_mailed_on == dt.date(2024, 1, 5) and clock.validation_period_ends_on == dt.date(2024, 2, 11)
    assert clock.notice_ref in {f"message:{letter.pk}", f"message:{mail.pk}"}
    # Once per debt: later sweeps plan none again.
    sweep_run(as_of=dt.date(2024, 1, 6))
    sweep_run(as_of=dt.date(2024, 1, 7))
    assert notices_.filter(loan=loan).count() == 2 and notices_.filter(loan=other).count() == 1
    # The notice's letter itself passed the gate with its purpose.
    decision = Decision.objects.get(pk=letter.decision_id)
    assert decision.purpose == "validation_notice" and decision.allowed


def test_a_notice_cancelled_by_a_hold_is_planned_again_once_the_hold_lifts(collector):
    from collections_app.services import hold_lift, hold_place

    borrower = BorrowerFactory(time_zones=["America/New_York"], **ADDRESS)
    loan = loan_with_schedule(("2024-01-01", "100.00"), borrower=borrower)
    sweep_run(as_of=dt.date(2024, 1, 5))
    case = CollectionCase.objects.get(loan=loan)
    hold = hold_place(case_id=case.pk, actor=collector, kind="hardship_review", reason="lost their job")
    letters = OutboundMessage.objects.filter(loan=loan, purpose="validation_notice")
    assert list(letters.values_list("status", flat=True)) == ["cancelled"]
    sweep_run(as_of=dt.date(2024, 1, 6))  # on hold: dispatch would cancel it, so none is planned
    assert letters.exclude(status="cancelled").count() == 0
    hold_lift(hold_id=hold.pk, actor=collector, reason="back at work")
    sweep_run(as_of=dt.date(2024, 1, 7))
    sweep_run(as_of=dt.date(2024, 1, 8))
    assert list(letters.exclude(status="cancelled").values_list("status", flat=True)) == ["planned"]


def test_a_chinese_borrowers_case_gets_no_validation_notice():
    borrower = BorrowerFactory(country="CN", region="河南省", time_zones=["Asia/Shanghai"], **{"city": "三门峡"})
    loan_with_schedule(("2024-01-01", "100.00"), borrower=borrower)
    sweep_run(as_of=dt.date(2024, 1, 5))
    assert CollectionCase.objects.filter(borrower=borrower).exists()
    assert not OutboundMessage.objects.filter(purpose="validation_notice").exists()


def test_a_debt_communicated_with_before_the_system_is_reviewed_until_its_notice_is_mailed(collector):
    case = us_case(collector)
    validation_first_communication_before_system(loan_id=case.loan_id)
    _d, before = contact_check(borrower_id=case.borrower_id, channel="call", loan_id=case.loan_id,
                               at=at("2025-06-23T14:00:00-04:00"))  # fmt: skip
    assert before.outcome == REVIEW and [r.rule for r in before.reasons] == ["VAL-01"]
    validation_notice_record(loan_id=case.loan_id, sent_at=at("2025-06-23T09:00:00-04:00"),
                             mailed_on=dt.date(2025, 6, 23), validation_period_ends_on=dt.date(2025, 7, 30),
                             ref="message:test")  # fmt: skip
    _d, after = contact_check(borrower_id=case.borrower_id, channel="call", loan_id=case.loan_id,
                              at=at("2025-06-23T14:00:00-04:00"))  # fmt: skip
    assert after.outcome == ALLOW


# ---------------------------------------------------------------------------------------------------------------
# The dispute workflow
# ---------------------------------------------------------------------------------------------------------------
# In the borrower's working day, so that the contact hours (USF-01) neither refuse the call alongside DSP-01 nor
# the text once the hold lifts, whenever the suite runs.
@time_machine.travel(dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.UTC), tick=True)
def test_a_dispute_from_the_api_is_verified_and_the_hold_lifts_when_the_verification_letter_is_sent(
    collector, settings, tmp_path
):
    settings.LETTERS_DIR = str(tmp_path)
    settings.NOTIFICATIONS_BACKEND = "locmem"
    settings.PROVIDER_CONCURRENCY = 1  # the sends in this thread: the test's transaction holds the rows
    case = us_case(collector)
    client = api_for(collector)
    url = reverse("api-case-disputes", args=[case.pk])
    bad = client.post(url, {"reason": "", "channel": "fax"}, format="json")
    assert bad.status_code == 400 and {"reason", "channel"} <= set(bad.json())
    received = client.post(url, {"reason": "The amount is wrong", "channel": "letter"}, format="json")
    assert received.status_code == 201, received.content
    body = received.json()
    assert body["stage"] == "received" and body["dsp01"] and body["written"] and body["in_validation_period"]
    dispute = Dispute.objects.get(pk=body["id"])
    case.refresh_from_db()
    assert case.state == "on_hold"

    prepared = client.post(reverse("api-case-dispute-verification", args=[case.pk, dispute.pk]), format="json")
    assert prepared.status_code == 200 and prepared.json()["stage"] == "prepared"
    again = client.post(reverse("api-case-dispute-verification", args=[case.pk, dispute.pk]), format="json")
    assert again.status_code == 409
    dispute.refresh_from_db()
    assert dispute.verification_document.kind == "dispute_verification"
    letter = dispute.verification_message
    assert letter.channel == "letter" and letter.purpose == "verification" and letter.status == "planned"
    assert dispute.verification_document.message_id == letter.pk
    # The one contact the dispute lets through; a call is still refused.
    _d, call = contact_check(borrower_id=case.borrower_id, channel="call", loan_id=case.loan_id)
    assert call.outcome == DENY and [r.rule for r in call.reasons] == ["DSP-01"]

    token, ids = outbox_claim(limit=500)
    assert ids == [letter.pk]
    outbox_send(message_ids=ids, claim_token=token)
    letter.refresh_from_db()
    assert letter.status == "sent", letter.status_reason
    assert list(tmp_path.rglob("letter-*.pdf"))  # handed to the print queue as its PDF
    dispute.refresh_from_db()
    hold = Hold.objects.get(pk=dispute.hold_id)
    assert dispute.mailed_at is not None and dispute.stage == "mailed"
    assert hold.lifted_at is not None and "verification mailed" in hold.lift_reason
    assert Restriction.objects.get(pk=hold.restriction_id).lifted_at is not None
    case.refresh_from_db()
    assert case.state == "formal_notice"
    lifted = CaseTransition.objects.filter(case=case, transition="lift_hold").get()
    assert lifted.actor is None and lifted.actor_label == "system" and "verification mailed" in lifted.reason
    # Contact resumes (the verification letter was the first communication: VAL-01 warns, it does not refuse).
    _d, resumed = contact_check(borrower_id=case.borrower_id, channel="call", loan_id=case.loan_id)
    assert resumed.allowed
    notices_served(case)  # FN-01: the formal notice letter left long ago
    legal = client.post(reverse("api-case-transition", args=[case.pk, "request_legal"]), {"reason": "verified"},
                        format="json")  # fmt: skip
    assert legal.status_code == 200, legal.content
    # The managers' list keeps it at its last stage for a while (its hold lifted).
    manager = Client()
    manager.force_login(collector.team_membership.team.manager)
    listed = manager.get(reverse("escalations-disputes")).content.decode()
    assert listed.count('data-testid="dispute-row"') == 1 and "verification mailed" in listed
    # A repeated report of the same letter changes nothing.
    from collections_app.services import dispute_verification_mailed

    assert dispute_verification_mailed(letter).mailed_at == dispute.mailed_at


def test_a_dispute_by_letter_recorded_on_the_case_page_shows_its_stage_and_prepares_the_verification(collector):
    case = us_case(collector)
    client = Client()
    client.force_login(collector)
    action = reverse("case-action", args=[case.pk, "dispute"])
    tomorrow = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    refused = client.post(action, {"dispute-channel": "letter", "dispute-received_on": tomorrow,
                                   "dispute-reason": "Not mine"})  # fmt: skip
    page = refused.content.decode()
    assert refused.status_code == 200 and "cannot be received in the future" in page and "Not mine" in page
    assert not Dispute.objects.exists()
    done = client.post(action, {"dispute-channel": "letter", "dispute-reason": "Not mine",
                                "dispute-original_creditor": "on"}, follow=True)  # fmt: skip
    text = done.content.decode()
    assert "Dispute recorded" in text and 'data-testid="dispute"' in text
    assert "Within the validation period" in text and "verification prepared" not in text
    dispute = Dispute.objects.get()
    assert dispute.channel == "letter" and dispute.written and dispute.original_creditor
    prepared = client.post(reverse("case-action", args=[case.pk, "dispute-verification"]), {"dispute": dispute.pk},
                           follow=True)  # fmt: skip
    assert "Verification prepared" in prepared.content.decode()
    dispute.refresh_from_db()
    assert dispute.stage == "prepared" and dispute.prepared_by == collector
    assert CaseTransition.objects.filter(case=case, transition="verification_prepared").exists()


def test_the_managers_disputes_list_shows_age_stage_and_the_validation_period_in_a_fixed_number_of_queries(
    collector, django_assert_max_num_queries
):
    manager = collector.team_membership.team.manager
    cases = [us_case(collector) for _ in range(3)]
    with time_machine.travel(dt.datetime.now(dt.UTC) - dt.timedelta(days=4), tick=False):
        first = dispute_record(
            case_id=cases[0].pk, actor=collector, reason="Paid", terms=DisputeTerms(channel="letter")
        )
    dispute_record(case_id=cases[1].pk, actor=collector, reason="Wrong amount", terms=DisputeTerms(channel="call"))
    dispute_verification_prepare(dispute_id=first.pk, actor=collector)
    client = Client()
    client.force_login(manager)
    url = reverse("escalations-disputes")
    client.get(url)  # warm caches (session, permissions)
    with django_assert_max_num_queries(14) as few:
        page = client.get(url)
    for case in cases[2:]:
        dispute_record(case_id=case.pk, actor=collector, reason="Not mine", terms=DisputeTerms(channel="api"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url)
    text = page.content.decode()
    assert text.count('data-testid="dispute-row"') == 2
    assert "4 days old" in text and "0 days old" in text
    assert "verification prepared" in text and ">received<" in text
    assert "in the validation period, in writing" in text and "in the validation period (not in writing)" in text
