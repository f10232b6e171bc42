"""seed_demo builds a believable, deterministic portfolio with a history: months lived through the real sweep,
dispatch (the console backend reporting delivery through Twilio's status path) and case services."""

import datetime as dt
import io

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse

from collections_app.models import (
    CallDisposition,
    CaseTransition,
    CollectionCase,
    CollectorProfile,
    PaymentPlan,
    PortfolioSnapshot,
    PromiseToPay,
    SweepRun,
)
from collections_app.selectors import reader_language_and_zone
from collections_app.selectors.kpis import self_cured
from compliance.models import ContactEvent, DebtClock, Decision
from loans.models import Borrower, Loan, Payment
from notifications.models import Document, InboundMessage, OutboundMessage
from notifications.providers import ConsoleProvider

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 6, 15)


def seed(loans=100, days=95, seed=7):
    out = io.StringIO()
    call_command(
        "seed_demo", loans=loans, days=days, seed=seed, as_of=AS_OF, no_progress=True, stdout=out, stderr=io.StringIO()
    )
    return out.getvalue()


def fingerprint():
    return (
        list(Loan.objects.order_by("external_id").values_list("external_id", "principal", "days_past_due", "status")),
        list(Payment.objects.order_by("reference").values_list("reference", "amount", "received_at")),
        sorted(CollectionCase.objects.values_list("loan__external_id", "state", "opened_on")),
        sorted(
            OutboundMessage.objects.values_list(
                "borrower__external_id", "channel", "purpose", "planned_for", "status", "error_code"
            )
        ),
        # What the gate said, when, and why (the reasons in their order): the clock stands still within a moment of
        # the history, so every instant is the same each time.
        sorted(
            (external_id, channel, at, outcome, [(r["rule"], r["outcome"], r["profile"]) for r in reasons])
            for external_id, channel, at, outcome, reasons in Decision.objects.values_list(
                "borrower__external_id", "channel", "created_at", "outcome", "reasons"
            )
        ),
        sorted(ContactEvent.objects.values_list("borrower__external_id", "channel", "at", "outcome", "target_role")),
    )


def test_the_demo_has_months_of_history_behind_every_figure_and_working_logins():
    output = seed()
    assert "Demo logins" in output and "collector.cn1" in output
    # The real sweep ran once a day, each run finished, each wrote the day's snapshot: over 90 days of trends.
    assert SweepRun.objects.filter(finished_at__isnull=False).count() == 95
    days = set(PortfolioSnapshot.objects.values_list("as_of", flat=True))
    assert len(days) == 95 and min(days) == AS_OF - dt.timedelta(days=94) and max(days) == AS_OF
    # Historical dates, not the day the command ran: cases opened and moved across the months.
    opened = set(CollectionCase.objects.values_list("opened_on", flat=True))
    assert min(opened) <= AS_OF - dt.timedelta(days=90) and max(opened) >= AS_OF - dt.timedelta(days=7)
    assert CaseTransition.objects.filter(transition="resolve").exists()  # cures
    assert CaseTransition.objects.filter(at__date__lt=AS_OF - dt.timedelta(days=60)).exists()
    # Promises kept and broken; plans started, and some outside policy waiting for a manager.
    promises = set(PromiseToPay.objects.values_list("status", flat=True))
    assert {"kept", "broken"} <= promises, promises
    plans = set(PaymentPlan.objects.values_list("status", flat=True))
    assert "pending_approval" in plans and plans & {"active", "completed", "broken"}, plans
    # Escalations: cases waiting in legal review, and some a manager approved.
    assert CollectionCase.objects.filter(state="legal_review").exists()
    assert CaseTransition.objects.filter(transition="approve_legal", actor_label__startswith="manager.").exists()
    # Calls with dispositions of several kinds (right and wrong party among them), in the ledger too.
    parties = set(CallDisposition.objects.values_list("party", flat=True))
    assert {"right_party", "wrong_party", "no_answer", "voicemail"} <= parties, parties
    assert ContactEvent.objects.filter(channel="call", target_role="third_party").exists()
    # The console backend reported delivery and some failures through the status path: a delivery rate to show.
    statuses = dict.fromkeys(OutboundMessage.objects.values_list("status", flat=True))
    assert {"delivered", "failed"} <= statuses.keys(), statuses
    assert OutboundMessage.objects.filter(status="failed", error_code__in=["30003", "30005"]).exists()
    assert ContactEvent.objects.filter(channel="sms", outcome="delivered").exists()
    assert Decision.objects.filter(allowed=False).exists()  # the gate said no, sometimes
    # The Chinese desk's stories (issue 14), all through the real gate and services: evening calls past 22:00
    # Beijing time deferred (CN-01); borrowers who replied 退订 (TD) through the inbound path, whose next reminder
    # texts the gate refused; cases cured by a payment after a text alone; letters the mail house delivered.
    refusals = Decision.objects.filter(allowed=False, dry_run=False, borrower__country="CN")
    rules = {(r["rule"], r["outcome"]) for reasons in refusals.values_list("reasons", flat=True) for r in reasons}
    assert {("CN-01", "defer"), ("USF-06", "deny")} <= rules, rules
    assert not any(rule.startswith("USF-2") for rule, _ in rules)  # a Chinese hold cites the lender's policy
    # Collector oversight: the Chinese desk is trained (CERT-01 never refused a call), collector.cn2's record runs out
    # within a month of the last day; the weekly QA samples were drawn and the managers scored the last weeks'.
    assert "CERT-01" not in {rule for rule, _ in rules}
    from collections_app.models import CallReview
    from compliance.models import CollectorCertification

    in_force = dict(CollectorCertification.objects.in_force(AS_OF).values_list("collector__username", "expires_on"))
    assert {"collector.cn1", "collector.cn2"} <= in_force.keys(), in_force
    assert in_force["collector.cn2"] - AS_OF <= dt.timedelta(days=30) < in_force["collector.cn1"] - AS_OF
    reviews = CallReview.objects.all()
    assert reviews.filter(reviewed_at__isnull=True).exists() and reviews.filter(score=100).exists()
    assert reviews.filter(score__lt=100).exclude(notes="").exists()
    assert set(reviews.values_list("collector__username", flat=True)) == {
        "collector.us1", "collector.us2", "collector.cn1", "collector.cn2"}  # fmt: skip
    assert InboundMessage.objects.filter(body="TD", action="opt_out", borrower__country="CN").exists()
    chinese = CollectionCase.objects.filter(borrower__country="CN")
    assert self_cured(chinese, since=AS_OF - dt.timedelta(days=94), until=AS_OF)["self_cured"] > 0
    # Those cures were paid on the borrower's page the text links to; other borrowers only looked at it.
    from notifications.models import PortalEvent

    paid_there = PortalEvent.objects.filter(kind="pay_completed").values("borrower_id")
    assert paid_there.exists() and PortalEvent.objects.filter(kind="visit").exclude(borrower_id__in=paid_there).exists()
    assert OutboundMessage.objects.filter(channel="letter", status="delivered").exists()
    # Complaints (CMP-01) for each team's queue: one overdue, one resolved within its clock, one about conduct in
    # review (its restriction in force), one from a vulnerable borrower; breathing spaces, standard and crisis (BS-01).
    from collections_app.models import Complaint, Hold
    from compliance.models import Restriction, VulnerabilityRecord

    for team in ("manager.us", "manager.cn"):
        theirs = Complaint.objects.filter(case__team__manager__username=team)
        assert theirs.pending().filter(acknowledge_by__lt=AS_OF, status="open").exists(), team
        resolved = theirs.get(status="resolved")
        assert resolved.resolved_at.date() <= resolved.final_by and resolved.resolved_at.date() < AS_OF
        conduct = theirs.get(category="conduct", status="open")
        assert conduct.restriction.lifted_at is None and conduct.restriction.kind == "complaint_review"
        vulnerable = VulnerabilityRecord.objects.values("borrower_id")
        assert theirs.filter(case__borrower_id__in=vulnerable, status="acknowledged").exists(), team
    assert Complaint.objects.filter(summary__contains="催收员").exists()  # the Chinese borrowers' own words
    spaces = Restriction.objects.filter(kind="breathing_space", lifted_at__isnull=True)
    assert sorted(r.details["type"] for r in spaces) == ["mental_health_crisis", "standard"]
    assert Hold.objects.filter(kind="breathing_space", lifted_at__isnull=True).count() == 2
    from collections_app.models import ReviewReminder

    assert ReviewReminder.objects.filter(review_on__lte=AS_OF).exists()  # reviews past their date: to-dos
    # VAL-01: every US case's validation notice was planned as it opened and left through the gate, so the clock
    # never ran out: the gate refused no US contact for want of a notice, and the US desk's calls and texts went on.
    us_loans = set(CollectionCase.objects.filter(borrower__country="US").values_list("loan_id", flat=True))
    notified = set(DebtClock.objects.filter(notice_sent_at__isnull=False).values_list("loan_id", flat=True))
    assert us_loans and notified <= us_loans and len(us_loans - notified) <= len(us_loans) // 20, us_loans - notified
    assert Document.objects.filter(kind="validation_notice", message__status__in=["sent", "delivered"]).exists()
    us = Decision.objects.filter(dry_run=False, borrower__country="US")
    us_rules = {(r["rule"], r["outcome"]) for reasons in us.values_list("reasons", flat=True) for r in reasons}
    assert ("VAL-01", "deny") not in us_rules and ("VAL-01", "review") not in us_rules, us_rules
    assert us.filter(channel="call", allowed=True).exists() and us.filter(channel="sms", allowed=True).exists()
    assert ContactEvent.objects.filter(borrower__country="US", channel="call", outcome="conversation").exists()
    # Both lenders, every depth, working logins, the collectors' phones (set after the history).
    assert set(Loan.objects.values_list("currency", flat=True)) == {"CNY", "USD"}
    dpd = list(Loan.objects.filter(status="active").values_list("days_past_due", flat=True))
    assert any(d == 0 for d in dpd) and any(1 <= d <= 30 for d in dpd) and any(d > 90 for d in dpd)
    assert Loan.objects.filter(status="paid_off").exists()
    assert Borrower.objects.filter(language="zh-hans", time_zones=["Asia/Shanghai"]).exists()
    assert CollectionCase.objects.filter(assigned_to__username="collector.cn1").exists()
    phones = dict(CollectorProfile.objects.values_list("user__username", "phone"))
    assert phones.keys() == {"collector.us1", "collector.us2", "collector.cn1", "collector.cn2"}
    cn1 = get_user_model().objects.get(username="collector.cn1")
    assert reader_language_and_zone(cn1) == ("zh-hans", "Asia/Shanghai")  # Chinese pages, the team's zone
    # Through the sign-in page (django-axes refuses authenticate() without a request).
    signed_in = Client().post(reverse("login"), {"username": "manager.us", "password": "demo-pass-2026"})
    assert signed_in.status_code == 302 and signed_in["Location"] == reverse("home")


def test_the_same_seed_builds_the_same_history():
    class Undo(Exception):
        pass

    prints = []
    for _ in range(2):
        with pytest.raises(Undo), transaction.atomic():
            seed(loans=40, days=12)
            prints.append(fingerprint())
            raise Undo
    assert prints[0] == prints[1] and prints[0][1] and prints[0][3] and prints[0][4]


def test_the_console_backend_reports_the_same_fate_for_a_message_every_time():
    fates = [ConsoleProvider.delivery_report(key=f"borrower:{n}:sms:x", channel="sms") for n in range(1, 401)]
    assert fates == [ConsoleProvider.delivery_report(key=f"borrower:{n}:sms:x", channel="sms") for n in range(1, 401)]
    failed = sum(status != "delivered" for status, _ in fates)
    assert 10 <= failed <= 60  # some, not most
    calls = {ConsoleProvider.delivery_report(key=str(n), channel="voice") for n in range(1, 401)}
    assert {("completed", "human"), ("completed", "machine_end_beep"), ("no-answer", "")} <= calls


def test_if_empty_leaves_an_existing_portfolio_alone():
    seed(loans=10, days=2)
    out = io.StringIO()
    call_command("seed_demo", if_empty=True, no_progress=True, stdout=out)
    assert Loan.objects.count() == 10
    assert "left as it is" in out.getvalue()


def test_built_in_the_first_minutes_of_a_day_the_demo_still_sweeps_that_day():
    import time_machine

    with time_machine.travel(dt.datetime(2026, 6, 15, 0, 10, tzinfo=dt.UTC), tick=False):
        seed(loans=20, days=3)  # today's own moments (00:20 onwards) are still to come
    swept = set(SweepRun.objects.filter(finished_at__isnull=False).values_list("as_of", flat=True))
    assert swept == {AS_OF - dt.timedelta(days=2), AS_OF - dt.timedelta(days=1), AS_OF}
    assert PortfolioSnapshot.objects.filter(as_of=AS_OF).exists()


def test_the_us_manager_has_the_oldest_waiting_disputes_verified_never_the_latest():
    """DSP-01's workflow in the demo's story (``_verify_disputes``): a dispute waiting 5 days gets its verification
    prepared, the latest one always waits; no random draw, so the rest of the story is unchanged."""
    from collections_app.demo import DemoHistory, _verify_disputes
    from collections_app.models import Dispute
    from collections_app.services import DisputeTerms, dispute_record
    from tests.factories import BorrowerFactory, make_case, overdue_loan, team_with, user_with_role

    collector, manager = user_with_role("collector", "casey"), user_with_role("manager", "morgan")
    team = team_with(collector, manager=manager)
    cases = [make_case(state="formal_notice", loan=overdue_loan(borrower=BorrowerFactory(address_line1="1 Main St")),
                       worked_by=collector) for _ in range(3)]  # fmt: skip
    today = dt.date.today()
    for days_ago, case in zip((9, 6, 1), cases, strict=True):
        with time_machine.travel(dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago), tick=False):
            dispute_record(case_id=case.pk, actor=collector, reason="Not mine", terms=DisputeTerms(channel="letter"))
    history = DemoHistory(days=1)
    for _ in range(3):
        _verify_disputes(team, manager, today, history)
    prepared = dict(Dispute.objects.values_list("case_id", "prepared_by__username"))
    assert prepared == {cases[0].pk: "morgan", cases[1].pk: "morgan", cases[2].pk: None}
    assert history.counts["verifications_prepared"] == 2
