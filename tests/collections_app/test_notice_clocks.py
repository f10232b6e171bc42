"""The notices that gate escalation (issue 16, point 2) and the letters a case's events call for: the UK notice of
sums in arrears (CCA s.86B) and default notice (s.87) planned by the sweep and sent as letters with their PDFs, the
default notice's remedy date holding back legal action (DN-01) in the sweep and the transition API, the formal
notice's response period (FN-01) on a collector's request, a payment plan confirmed in writing and a request to stop
contact acknowledged in writing — the one letter that goes through the cease-and-desist hold."""

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from collections_app.models import CaseTransition, CollectionCase
from collections_app.services import forbearance_record, hold_place, plan_propose
from collections_app.services.evidence import evidence_pack_build
from collections_app.sweep import sweep_run
from compliance import notices
from compliance.conduct import escalation_refusals
from compliance.engine import Profile
from compliance.models import DebtClock
from compliance.presets import PRESETS
from compliance.services import contact_check
from loans.services import product_today
from notifications.documents.content import day
from notifications.models import Document, OutboundMessage
from notifications.services import outbox_claim, outbox_send, print_batch_build
from tests.collections_app.test_sweep import set_policy
from tests.factories import (
    BorrowerFactory,
    OutboundMessageFactory,
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
UK = {
    "country": "GB",
    "region": "",
    "time_zones": ["Europe/London"],
    "address_line1": "1 High Street",
    "city": "York",
    "postal_code": "YO1 7HH",
}
US = {"address_line1": "1 Main St", "city": "Albany", "postal_code": "12207", "region": "NY"}
PROFILES = [Profile(code, 1, params) for code, params in PRESETS.items()]


def moment(text):
    """A moment of the story, mid-morning in London and New York alike."""
    return time_machine.travel(dt.datetime.fromisoformat(f"{text}T14:00:00+00:00"), tick=False)


def sweep(text):
    with moment(text):
        return sweep_run(as_of=dt.date.fromisoformat(text))


def send_due(text):
    """The dispatcher's run on that day: every message due goes through the gate to its provider."""
    with moment(text):
        token, ids = outbox_claim(limit=500)
        outbox_send(message_ids=ids, claim_token=token)


def the_case(loan):
    return CollectionCase.objects.exclude(state__in=["resolved", "closed"]).get(loan=loan)


def letters(loan, purpose):
    return OutboundMessage.objects.filter(loan=loan, purpose=purpose, channel="letter")


@pytest.fixture
def mail(settings, tmp_path):
    settings.LETTERS_DIR = str(tmp_path / "letters")
    settings.NOTIFICATIONS_BACKEND = "locmem"
    settings.PROVIDER_CONCURRENCY = 1  # the sends in this thread: the test's transaction holds the rows
    return tmp_path


@pytest.fixture
def collector():
    collector = user_with_role("collector", "casey")
    team_with(collector, manager=user_with_role("manager", "morgan"))
    return collector


# ---------------------------------------------------------------------------------------------------------------
# The notice of sums in arrears (s.86B)
# ---------------------------------------------------------------------------------------------------------------
def test_the_arrears_notice_is_planned_once_two_payments_are_missed_and_only_for_uk_borrowers():
    schedule = [("2024-01-01", "50.00"), ("2024-02-01", "50.00"), ("2024-03-01", "50.00")]
    uk = loan_with_schedule(*schedule, borrower=BorrowerFactory(**UK))
    us = loan_with_schedule(*schedule, borrower=BorrowerFactory(**US))
    sweep("2024-01-10")  # the case opens with one payment missed: not yet
    assert the_case(uk).state == "reminder" and not letters(uk, "arrears_notice").exists()
    sweep("2024-02-05")  # two missed
    sweep("2024-02-06")
    planned = letters(uk, "arrears_notice").get()
    assert planned.case == the_case(uk) and planned.status == "planned"
    assert not OutboundMessage.objects.filter(loan=us, purpose="arrears_notice").exists()


def test_a_single_payment_loan_gets_no_arrears_notice_and_an_open_case_gets_one_every_six_months():
    single = loan_with_schedule(("2024-01-01", "100.00"), borrower=BorrowerFactory(**UK))
    two = loan_with_schedule(("2024-01-01", "50.00"), ("2024-02-01", "50.00"), borrower=BorrowerFactory(**UK))
    sweep("2024-02-05")
    assert not letters(single, "arrears_notice").exists()  # s.86B: agreements with two payments or more due
    first = letters(two, "arrears_notice").get()
    OutboundMessage.objects.filter(pk=first.pk).update(
        status="sent", sent_at=dt.datetime(2024, 2, 6, 10, tzinfo=dt.UTC)
    )
    sweep("2024-08-05")  # 180 days after it left: not yet
    assert letters(two, "arrears_notice").count() == 1
    sweep("2024-08-06")  # s.86B(2): a further notice at intervals of not more than 6 months
    assert letters(two, "arrears_notice").count() == 2


def test_the_arrears_notice_goes_as_a_letter_with_its_pdf_even_in_a_breathing_space(mail, collector):
    borrower = BorrowerFactory(**UK)
    schedule = [("2024-01-01", "50.00"), ("2024-02-01", "50.00")]
    spaced = loan_with_schedule(*schedule, borrower=borrower)
    other = loan_with_schedule(*schedule, borrower=borrower)
    sweep("2024-02-10")  # two payments missed
    # A breathing space covers every debt of the borrower (BS-01); the case it was placed on is on hold.
    with moment("2024-02-10"):
        hold_place(case_id=the_case(spaced).pk, actor=collector, kind="breathing_space", reason="debt adviser")
    send_due("2024-02-11")
    letter = letters(other, "arrears_notice").get()
    assert letter.status == "sent", letter.status_reason  # BS-01 lets the notice the Act requires through
    document = Document.objects.get(message=letter)
    assert document.kind == "arrears_notice" and document.case == the_case(other)
    text = pdf_text(document.pdf_bytes())
    assert "Notice of sums in arrears" in text and "86B" in text and other.external_id in text
    batch = print_batch_build(day=dt.date(2024, 2, 11))
    assert batch.letters >= 1 and document.sha256 in batch.manifest.read_text()


# ---------------------------------------------------------------------------------------------------------------
# The default notice (s.87) and DN-01
# ---------------------------------------------------------------------------------------------------------------
def test_the_default_notice_sets_the_remedy_date_that_holds_back_legal_review_in_the_sweep(mail, collector):
    set_policy(legal_dpd=31, formal_notice_response_days=1)
    loan = loan_with_schedule(("2024-01-01", "100.00"), borrower=BorrowerFactory(**UK))
    sweep("2024-01-10")
    sweep("2024-01-31")  # DPD 30: formal notice; the default notice planned with the formal notice letter
    case = the_case(loan)
    assert case.state == "formal_notice"
    assert letters(loan, "default_notice").get().status == "planned"
    with moment("2024-01-31"):
        forbearance_record(case_id=case.pk, actor=collector, kind="payment_holiday")  # FB-01 met
    # Thursday 1 February to the print queue; posted by the mail house on Friday 2; served on Tuesday 6 (the 2nd
    # business day after posting); remedy by 14 days later.
    send_due("2024-02-01")
    notice = letters(loan, "default_notice").get()
    assert notice.status == "sent", notice.status_reason
    assert letters(loan, "formal_notice").get().status == "sent"
    clock = DebtClock.objects.get(loan=loan)
    assert (
        clock.default_notice_remedy_by == dt.date(2024, 2, 20) == notices.default_notice_remedy_by(dt.date(2024, 2, 2))
    )
    assert clock.default_notice_ref == f"message:{notice.pk}"
    document = Document.objects.get(message=notice)
    assert (document.facts["posted_on"], document.facts["remedy_by"]) == ("2024-02-02", "2024-02-20")
    with translation.override("en"):
        assert day(dt.date(2024, 2, 20)) in pdf_text(document.pdf_bytes())
    sweep("2024-02-05")  # FN-01 met (sent 1 February, 1 day to respond), legal DPD reached: DN-01 holds it
    assert the_case(loan).state == "formal_notice"
    sweep("2024-02-20")  # the last day to remedy
    assert the_case(loan).state == "formal_notice"
    sweep("2024-02-21")
    assert the_case(loan).state == "legal_review"
    assert CaseTransition.objects.filter(case=case, transition="request_legal").count() == 1
    # The evidence pack keeps the clock: the default notice posted and the remedy date it named.
    with moment("2024-02-21"):
        pack = evidence_pack_build(case_id=case.pk, actor=None).pack
    with zipfile.ZipFile(io.BytesIO(pack.zip_bytes())) as bundle:
        (row,) = csv.DictReader(io.StringIO(bundle.read("data/validation-notice-clock.csv").decode()))
        assert row["default_notice_remedy_by"] == "2024-02-20" and row["default_notice_ref"] == clock.default_notice_ref
        assert f"notices/{document.filename}" in bundle.namelist()


def test_no_default_notice_is_planned_during_a_breathing_space(collector):
    borrower = BorrowerFactory(**UK)
    spaced = loan_with_schedule(("2024-01-01", "100.00"), borrower=borrower)
    other = loan_with_schedule(("2024-01-01", "100.00"), borrower=borrower)
    elsewhere = loan_with_schedule(("2024-01-01", "100.00"), borrower=BorrowerFactory(**UK))
    sweep("2024-01-10")
    with moment("2024-01-20"):
        hold_place(case_id=the_case(spaced).pk, actor=collector, kind="breathing_space", reason="debt adviser")
    CollectionCase.objects.filter(loan__in=[other, elsewhere]).update(state="formal_notice")
    sweep("2024-01-21")
    assert not letters(other, "default_notice").exists()  # the borrower's breathing space covers this debt too
    assert letters(elsewhere, "default_notice").exists()


def uk_case(collector, state="formal_notice"):
    case = make_case(state=state, loan=overdue_loan(borrower=BorrowerFactory(**UK)), worked_by=collector)
    forbearance_record(case_id=case.pk, actor=collector, kind="payment_holiday")  # FB-01 met
    return case


def request_legal(client, case):
    url = reverse("api-case-transition", args=[case.pk, "request_legal"])
    return client.post(url, {"reason": "no payment after the default notice"}, format="json")


def test_dn01_request_legal_is_409_without_a_default_notice_and_within_its_remedy_period(collector):
    case = uk_case(collector)
    client = api_for(collector)
    today = product_today(case.loan.product)
    notices_served(case, remedy_by=today + dt.timedelta(days=3))  # FN-01 met; the remedy period still running
    refused = request_legal(client, case)
    assert refused.status_code == 409 and refused.json()["rule"] == "DN-01"
    assert (today + dt.timedelta(days=3)).isoformat() in refused.json()["detail"]
    # A default notice posted before this case opened (an earlier breach, since remedied) does not count.
    DebtClock.objects.filter(loan=case.loan).update(
        default_notice_sent_at=case.opened_at - dt.timedelta(days=200), default_notice_remedy_by=dt.date(2020, 1, 1)
    )
    assert request_legal(client, case).json()["rule"] == "DN-01"
    assert "No default notice has been posted" in request_legal(client, case).json()["detail"]
    DebtClock.objects.filter(loan=case.loan).update(
        default_notice_sent_at=case.opened_at, default_notice_remedy_by=today - dt.timedelta(days=1)
    )
    done = request_legal(client, case)
    assert done.status_code == 200 and done.json()["state"] == "legal_review"


def test_dn01_does_not_apply_outside_the_uk(collector):
    case = make_case(state="formal_notice", loan=overdue_loan(borrower=BorrowerFactory(**US)), worked_by=collector)
    OutboundMessageFactory(
        case=case,
        channel="letter",
        purpose="formal_notice",
        status="sent",
        planned_for=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        sent_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )
    assert request_legal(api_for(collector), case).status_code == 200


def test_dn01_in_the_pure_core_refuses_enforcement_only_and_judges_the_remedy_date_inclusively():
    uk = [p for p in PROFILES if p.code == "UK_CONC"]
    remedy = dt.date(2024, 2, 19)

    def rules(transition, remedy_by, today):
        refusals = escalation_refusals(transition, breathing_space=False, forbearance_kinds=["x"], profiles=uk,
                                       default_notice_remedy_by=remedy_by, today=today)  # fmt: skip
        return [r.rule for r in refusals]

    assert rules("request_legal", None, remedy) == ["DN-01"]
    assert rules("request_legal", remedy, remedy) == ["DN-01"]  # the borrower may still pay on the day it names
    assert rules("approve_legal", remedy, remedy) == ["DN-01"]
    assert rules("request_legal", remedy, remedy + dt.timedelta(days=1)) == []
    assert rules("escalate_formal_notice", None, remedy) == []  # the notice comes with the formal notice stage


# ---------------------------------------------------------------------------------------------------------------
# FN-01: the formal notice's response period on a person's request
# ---------------------------------------------------------------------------------------------------------------
def test_fn01_a_collectors_request_waits_for_the_written_notice_and_the_policys_days(collector):
    case = make_case(state="formal_notice", loan=overdue_loan(borrower=BorrowerFactory(**US)), worked_by=collector)
    client = api_for(collector)
    refused = request_legal(client, case)
    assert refused.status_code == 409 and refused.json()["rule"] == "FN-01"
    # A text is no written notice.
    texted = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    OutboundMessageFactory(
        case=case, channel="sms", purpose="formal_notice", status="sent", planned_for=texted, sent_at=texted
    )
    assert request_legal(client, case).json()["rule"] == "FN-01"
    # A letter sent 10 days ago: 14 days to respond (the default policy), ends in 4 days.
    posted = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    letter = OutboundMessageFactory(
        case=case, channel="letter", purpose="formal_notice", status="sent", planned_for=posted, sent_at=posted
    )
    waiting = request_legal(client, case)
    assert waiting.status_code == 409 and waiting.json()["rule"] == "FN-01"
    assert "to respond" in waiting.json()["detail"]
    OutboundMessage.objects.filter(pk=letter.pk).update(sent_at=posted - dt.timedelta(days=5))
    assert request_legal(client, case).status_code == 200


# ---------------------------------------------------------------------------------------------------------------
# Confirmations: a plan agreed, a request to stop contact
# ---------------------------------------------------------------------------------------------------------------
def test_a_plan_that_starts_is_confirmed_in_a_letter_carrying_its_schedule(mail, collector):
    case = make_case(state="reminder", loan=overdue_loan(borrower=BorrowerFactory(**US)), worked_by=collector)
    manager = collector.team_membership.team.manager  # their own proposal starts at once, whatever the limits
    plan = plan_propose(case_id=case.pk, actor=manager, down_payment=Decimal("0"), count=2, frequency="monthly",
                        starts_on=dt.date.today() + dt.timedelta(days=3))  # fmt: skip
    assert plan.status == "active"
    letter = letters(case.loan, "plan_confirmation").get()
    assert letter.case == case and letter.status == "planned"
    document = Document.objects.get(message=letter)
    assert document.kind == "plan_confirmation" and document.facts["plan"] == plan.pk
    text = pdf_text(document.pdf_bytes())
    assert "Confirmation of your payment arrangement" in text
    with translation.override("en"):
        for installment in plan.installments.all():
            assert day(installment.due_date) in text
    # Once per plan, however the plan is touched again.
    from collections_app.services.arrangements import plan_confirmation_send

    assert plan_confirmation_send(plan, manager).pk == letter.pk
    assert letters(case.loan, "plan_confirmation").count() == 1 and Document.objects.filter(message=letter).count() == 1


def test_a_request_to_stop_contact_is_acknowledged_by_the_one_letter_the_hold_lets_through(mail, collector):
    case = make_case(state="reminder", loan=overdue_loan(borrower=BorrowerFactory(**US)), worked_by=collector)
    with moment("2026-11-30"):
        hold = hold_place(case_id=case.pk, actor=collector, kind="cease_and_desist", reason="letter from borrower")
    case.refresh_from_db()
    assert case.state == "on_hold"
    letter = letters(case.loan, "cease_acknowledgement").get()
    document = Document.objects.get(message=letter)
    assert document.facts["received_on"] == "2026-11-30"
    text = pdf_text(document.pdf_bytes())
    assert "We have received your request to stop contacting you" in text
    with translation.override("en"):
        assert day(dt.date(2026, 11, 30)) in text
    # The hold refuses a call, and the acknowledgement goes.
    with moment("2026-11-30"):
        _d, call = contact_check(borrower_id=case.borrower_id, channel="call", loan_id=case.loan_id)
    assert not call.allowed
    send_due("2026-11-30")
    letter.refresh_from_db()
    assert letter.status == "sent", letter.status_reason
    assert hold.pk and letters(case.loan, "cease_acknowledgement").count() == 1


# ---------------------------------------------------------------------------------------------------------------
# The case page says where each clock stands
# ---------------------------------------------------------------------------------------------------------------
def test_the_case_page_shows_the_notice_clocks_and_what_they_hold_back(client, collector):
    case = uk_case(collector)
    client.force_login(collector)
    url = reverse("case-detail", args=[case.pk])
    page = client.get(url)
    clocks = [(c.name, c.running) for c in page.context["notice_clocks"]]
    assert clocks == [("Default notice", True), ("Formal notice", True)]
    text = page.content.decode()
    assert "Not posted yet" in text and "Not sent as a letter or an e-mail yet" in text
    notices_served(case)  # long ago: both clocks have run out
    passed = client.get(url)
    assert [c.running for c in passed.context["notice_clocks"]] == [False, False]
    with translation.override("en"):
        assert day(dt.date(2000, 1, 21)) in passed.content.decode()  # legal action from the day after the remedy date
    chinese = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "违约通知" in chinese.content.decode()


def test_a_default_notice_the_mail_house_returns_was_not_served(collector):
    from compliance.services import default_notice_record
    from notifications.services.callbacks import message_status_apply

    case = uk_case(collector)
    notices_served(case)  # the formal notice long ago; the default notice below replaces the clock's
    today = product_today(case.loan.product)
    now = dt.datetime.now(dt.UTC)
    letter = OutboundMessageFactory(
        case=case,
        channel="letter",
        purpose="default_notice",
        status="sent",
        provider_id="LT-dn",
        planned_for=now,
        sent_at=now,
    )
    default_notice_record(loan_id=case.loan_id, sent_at=now, remedy_by=today - dt.timedelta(days=1),
                          ref=f"message:{letter.pk}")  # fmt: skip
    client = api_for(collector)
    message_status_apply(provider_id="LT-dn", status="undelivered", error_code="30005")
    letter.refresh_from_db()
    assert letter.status == "failed"
    clock = DebtClock.objects.get(loan=case.loan)
    assert clock.default_notice_remedy_by is None and clock.default_notice_ref == ""
    refused = request_legal(client, case)
    assert refused.status_code == 409 and refused.json()["rule"] == "DN-01"


def test_a_default_notice_sent_on_a_later_day_is_made_again_with_a_remedy_date_from_that_day(mail):
    from notifications.services import document_for_message

    loan = loan_with_schedule(("2024-01-01", "100.00"), borrower=BorrowerFactory(**UK))
    sweep("2024-01-10")
    CollectionCase.objects.filter(loan=loan).update(state="formal_notice")
    sweep("2024-01-31")
    letter = letters(loan, "default_notice").get()
    with moment("2024-01-31"):
        first = document_for_message(message=letter)  # made, then the send was put back (a review, a retry)
        assert document_for_message(message=letter).pk == first.pk  # the same day: the same document
    send_due("2024-02-05")
    letter.refresh_from_db()
    assert letter.status == "sent", letter.status_reason
    sent = Document.objects.filter(message=letter).order_by("-id").first()
    assert sent.pk != first.pk and first.facts["remedy_by"] < sent.facts["remedy_by"]
    assert DebtClock.objects.get(loan=loan).default_notice_remedy_by.isoformat() == sent.facts["remedy_by"]
    batch = print_batch_build(day=dt.date(2024, 2, 5))
    assert sent.sha256 in batch.manifest.read_text() and first.sha256 not in batch.manifest.read_text()


def test_a_returned_default_notice_is_planned_again_a_week_later():
    loan = loan_with_schedule(("2024-01-01", "100.00"), borrower=BorrowerFactory(**UK))
    sweep("2024-01-10")
    CollectionCase.objects.filter(loan=loan).update(state="formal_notice")
    sweep("2024-01-31")
    returned = letters(loan, "default_notice").get()
    with moment("2024-02-02"):
        returned.status, returned.sent_at = "failed", dt.datetime(2024, 2, 1, 10, tzinfo=dt.UTC)
        returned.save()
    sweep("2024-02-08")
    assert letters(loan, "default_notice").count() == 1
    sweep("2024-02-10")
    assert letters(loan, "default_notice").exclude(pk=returned.pk).get().status == "planned"


def test_fn01_an_email_counts_as_the_written_notice_only_when_it_carried_the_notices_pdf(collector):
    from notifications.services import document_render

    case = make_case(state="formal_notice", loan=overdue_loan(borrower=BorrowerFactory(**US)), worked_by=collector)
    long_ago = dt.datetime(2024, 1, 2, 10, tzinfo=dt.UTC)
    email = OutboundMessageFactory(
        case=case, channel="email", purpose="formal_notice", status="delivered", planned_for=long_ago, sent_at=long_ago
    )
    client = api_for(collector)
    assert request_legal(client, case).json()["rule"] == "FN-01"  # a covering e-mail without the notice
    document_render(kind="formal_notice", case=case, message=email)
    assert request_legal(client, case).status_code == 200


def test_a_cease_request_is_recorded_even_when_its_acknowledgement_cannot_be_made_yet(collector):
    # California wants the lender's licence number on every letter; this product names none: no document now.
    borrower = BorrowerFactory(region="CA", city="Fresno", address_line1="1 Fulton St", postal_code="93721")
    case = make_case(state="reminder", loan=overdue_loan(borrower=borrower), worked_by=collector)
    hold = hold_place(case_id=case.pk, actor=collector, kind="cease_and_desist", reason="letter from borrower")
    case.refresh_from_db()
    assert case.state == "on_hold" and hold.restriction.kind == "cease_and_desist"
    letter = letters(case.loan, "cease_acknowledgement").get()
    assert letter.status == "planned" and not Document.objects.filter(message=letter).exists()


def test_a_returned_formal_notice_is_sent_again_from_the_case_page_and_only_then(client, collector):
    case = make_case(state="formal_notice", loan=overdue_loan(borrower=BorrowerFactory(**US)), worked_by=collector)
    long_ago = dt.datetime(2024, 1, 2, 10, tzinfo=dt.UTC)
    returned = OutboundMessageFactory(
        case=case, channel="letter", purpose="formal_notice", status="failed", planned_for=long_ago, sent_at=long_ago
    )
    client.force_login(collector)
    url = reverse("case-detail", args=[case.pk])
    page = client.get(url)
    (formal,) = [c for c in page.context["notice_clocks"] if c.name == "Formal notice"]
    assert formal.resend and "Came back undelivered" in formal.status
    assert b'data-testid="formal-notice-resend"' in page.content
    done = client.post(reverse("case-action", args=[case.pk, "formal-notice-resend"]), follow=True)
    assert "Formal notice planned again" in done.content.decode()
    again = letters(case.loan, "formal_notice").exclude(pk=returned.pk).get()
    assert again.status == "planned" and again.case == case
    assert CaseTransition.objects.filter(case=case, transition="resend_formal_notice", actor=collector).exists()
    # While that one is on its way there is nothing to send again.
    refused = client.post(reverse("case-action", args=[case.pk, "formal-notice-resend"]), follow=True)
    assert "nothing to send again" in refused.content.decode()
    assert letters(case.loan, "formal_notice").count() == 2
    assert b'data-testid="formal-notice-resend"' not in client.get(url).content
