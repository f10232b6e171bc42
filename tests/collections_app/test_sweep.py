"""The daily sweep: boundaries, promises, plans, escalation, the outbox, priorities, idempotency, chunks."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine
from django.db import connection

from collections_app.models import CaseTransition, CollectionCase, CollectionPolicy, PaymentPlan, PromiseToPay
from collections_app.services import grace_extend, plan_propose, policy_revise, promise_record
from collections_app.sweep import sweep_chunk, sweep_chunk_done, sweep_run, sweep_start
from loans.models import Loan
from loans.services import payment_record
from notifications.models import OutboundMessage
from tests.factories import loan_with_schedule, notices_served, team_with, user_with_role

pytestmark = pytest.mark.django_db
D = Decimal


def day(text):
    return dt.date.fromisoformat(text)


def sweep(text, chunks=1):
    return sweep_run(as_of=day(text), chunks=chunks)


def the_case(loan):
    return CollectionCase.objects.get(
        loan=loan,
        state__in=["reminder", "formal_notice", "legal_review", "legal", "promise_to_pay", "payment_plan", "on_hold"],
    )


def pay(loan, amount, when, ref):
    payment_record(loan_id=loan.pk, amount=D(amount), received_at=dt.datetime.fromisoformat(when), reference=ref)


def set_policy(**changes):
    policy = CollectionPolicy.objects.get(product__isnull=True, is_current=True)
    for key, value in changes.items():
        setattr(policy, key, value)
    return policy_revise(policy=policy, actor=None)


def test_a_case_opens_the_day_after_the_grace_period_not_on_its_last_day():
    loan = loan_with_schedule(("2024-01-31", "100.00"))
    sweep("2024-02-03")  # 3 days past due = the grace period
    assert not CollectionCase.objects.filter(loan=loan).exists()
    sweep("2024-02-04")  # 4 days past due
    case = the_case(loan)
    assert (case.state, case.days_past_due, case.amount_overdue) == ("reminder", 4, D("100.00"))
    audit = CaseTransition.objects.get(case=case)
    assert (audit.transition, audit.actor_label, audit.actor) == ("open", "system", None)
    assert "days past due 4 > grace period of 3 days" in audit.reason


def test_the_grace_period_is_the_products_current_policy_version():
    set_policy(grace_days=5)
    loan = loan_with_schedule(("2024-01-31", "100.00"))
    sweep("2024-02-05")
    assert not CollectionCase.objects.filter(loan=loan).exists()
    sweep("2024-02-06")
    assert the_case(loan).policy.version == 2


def test_stages_follow_the_dpd_thresholds_at_their_exact_boundaries():
    loan = loan_with_schedule(("2024-01-01", "100.00"))
    sweep("2024-01-30")  # DPD 29
    assert the_case(loan).state == "reminder"
    sweep("2024-01-31")  # DPD 30
    assert the_case(loan).state == "formal_notice"
    notices_served(the_case(loan))
    sweep("2024-03-30")  # DPD 89
    assert the_case(loan).state == "formal_notice"
    sweep("2024-03-31")  # DPD 90
    assert the_case(loan).state == "legal_review"


def test_legal_review_waits_for_the_formal_notice_sent_in_writing_and_its_response_period():
    """FN-01: days past due alone do not make a case ready for legal review: its formal notice letter must have left
    and the policy's 14 days to respond (in the product's calendar) must have passed."""
    loan = loan_with_schedule(("2024-01-01", "100.00"))
    sweep("2024-01-31")  # DPD 30: formal notice, its letter planned (the cadence's "letter": 0)
    case = the_case(loan)
    letter = OutboundMessage.objects.get(case=case, purpose="formal_notice", channel="letter")
    # A text at the stage is no written notice, however long ago it went.
    texts = OutboundMessage.objects.filter(case=case, purpose="formal_notice", channel="sms")
    assert texts.update(status="sent", sent_at=dt.datetime(2024, 2, 1, 14, 0, tzinfo=dt.UTC)) == 1
    sweep("2024-03-31")  # DPD 90, the letter never left
    assert the_case(loan).state == "formal_notice"
    # The letter left on 25 March (New York).
    OutboundMessage.objects.filter(pk=letter.pk).update(
        status="sent", sent_at=dt.datetime(2024, 3, 25, 14, 0, tzinfo=dt.UTC)
    )
    sweep("2024-04-08")  # the last day of the response period (25 March + 14 days)
    assert the_case(loan).state == "formal_notice"
    sweep("2024-04-09")
    case = the_case(loan)
    assert case.state == "legal_review"
    assert CaseTransition.objects.filter(case=case, transition="request_legal").count() == 1


def test_a_loan_found_deep_overdue_climbs_to_formal_notice_in_one_run_and_waits_there_for_its_notice():
    loan = loan_with_schedule(("2024-01-01", "100.00"))
    sweep("2024-04-15")
    case = the_case(loan)
    assert case.state == "formal_notice"  # FN-01: its formal notice has not even been sent yet
    assert list(CaseTransition.objects.filter(case=case).values_list("from_state", "to_state", "transition")) == [
        ("", "reminder", "open"),
        ("reminder", "formal_notice", "escalate_formal_notice"),
    ]
    notices_served(case)
    sweep("2024-04-16")
    assert the_case(loan).state == "legal_review"


def test_without_approval_the_sweep_hands_over_to_legal_and_records_the_policy_version():
    set_policy(legal_requires_approval=False)
    loan = loan_with_schedule(("2024-01-01", "100.00"))
    sweep("2024-04-15")
    notices_served(the_case(loan))
    sweep("2024-04-16")
    case = the_case(loan)
    assert case.state == "legal"
    last = CaseTransition.objects.filter(case=case).order_by("-id").first()
    assert (last.transition, last.policy.version) == ("approve_legal", 2)


def test_a_hardship_grace_extension_holds_back_escalation_until_it_ends():
    loan = loan_with_schedule(("2024-01-01", "100.00"))
    sweep("2024-01-10")
    with time_machine.travel(dt.datetime(2024, 1, 25, 15, tzinfo=dt.UTC), tick=False):
        grace_extend(case_id=the_case(loan).pk, actor=user_with_role("collector"), days=10, reason="hospital")
    sweep("2024-02-04")  # DPD 34, grace until 2024-02-04
    assert the_case(loan).state == "reminder"
    sweep("2024-02-05")
    assert the_case(loan).state == "formal_notice"


def test_a_cured_loan_resolves_its_case_and_cancels_its_planned_messages():
    loan = loan_with_schedule(("2024-01-01", "100.00"), ("2024-06-01", "100.00"))
    sweep("2024-01-10")
    case = the_case(loan)
    assert OutboundMessage.objects.filter(case=case, status="planned").exists()
    pay(loan, "100.00", "2024-01-11T15:00:00+00:00", "P1")
    sweep("2024-01-12")
    case.refresh_from_db()
    assert case.state == "resolved" and case.closed_at is not None
    assert not OutboundMessage.objects.filter(case=case, status="planned").exists()
    assert CaseTransition.objects.filter(case=case).last().reason.startswith("loan cured")
    sweep("2024-01-13")
    assert CollectionCase.objects.filter(loan=loan).count() == 1


def test_a_loan_that_goes_overdue_again_gets_a_new_case():
    loan = loan_with_schedule(("2024-01-01", "100.00"), ("2024-02-01", "100.00"))
    sweep("2024-01-10")
    pay(loan, "100.00", "2024-01-11T15:00:00+00:00", "P1")
    sweep("2024-01-12")
    sweep("2024-02-10")
    assert list(CollectionCase.objects.filter(loan=loan).order_by("id").values_list("state", flat=True)) == [
        "resolved",
        "reminder",
    ]


# --------------------------------------------------------------------------------------------------------------
# Promises
# --------------------------------------------------------------------------------------------------------------
def promised_case(amount="60.00", on="2024-01-15"):
    loan = loan_with_schedule(("2024-01-01", "100.00"), ("2024-06-01", "100.00"))
    sweep("2024-01-10")
    case = the_case(loan)
    with time_machine.travel(dt.datetime(2024, 1, 10, 15, tzinfo=dt.UTC), tick=False):
        promise_record(case_id=case.pk, actor=user_with_role("collector"), amount=D(amount), promised_on=day(on))
    return loan, case


def test_a_promise_is_judged_the_day_after_its_date_not_on_it():
    loan, case = promised_case()
    pay(loan, "60.00", "2024-01-15T20:00:00-05:00", "P1")  # the evening of the promised day, New York time
    sweep("2024-01-15")
    assert PromiseToPay.objects.get(case=case).status == "open"
    sweep("2024-01-16")
    promise = PromiseToPay.objects.get(case=case)
    assert (promise.status, promise.paid_amount) == ("kept", D("60.00"))
    case.refresh_from_db()
    assert case.state == "reminder"  # kept, but 40.00 is still overdue
    assert CaseTransition.objects.filter(case=case).last().transition == "promise_kept"


def test_a_kept_promise_that_cures_the_loan_resolves_the_case():
    loan, case = promised_case(amount="100.00")
    pay(loan, "100.00", "2024-01-14T12:00:00+00:00", "P1")
    sweep("2024-01-16")
    assert (PromiseToPay.objects.get(case=case).status, CollectionCase.objects.get(pk=case.pk).state) == (
        "kept",
        "resolved",
    )


@pytest.mark.parametrize(("paid", "status"), [("20.00", "partial"), (None, "broken")])
def test_a_partly_kept_or_broken_promise_returns_the_case_to_its_stage(paid, status):
    loan, case = promised_case()
    if paid:
        pay(loan, paid, "2024-01-12T12:00:00+00:00", "P1")
    pay(loan, "60.00", "2024-01-16T12:00:00+00:00", "LATE")  # after the promised day: does not count
    sweep("2024-01-16")
    promise = PromiseToPay.objects.get(case=case)
    assert promise.status == status
    assert CollectionCase.objects.get(pk=case.pk).state == "reminder"
    last = CaseTransition.objects.filter(case=case).last()
    assert last.transition == "promise_broken" and f"({status})" in last.reason


# --------------------------------------------------------------------------------------------------------------
# Plans
# --------------------------------------------------------------------------------------------------------------
def plan_case():
    loan = loan_with_schedule(("2024-01-01", "100.00"), ("2024-06-01", "100.00"))
    sweep("2024-01-10")
    case = the_case(loan)
    with time_machine.travel(dt.datetime(2024, 1, 10, 15, tzinfo=dt.UTC), tick=False):
        plan = plan_propose(
            case_id=case.pk,
            actor=user_with_role("collector"),
            down_payment=D("20.00"),
            count=2,
            frequency="weekly",
            starts_on=day("2024-01-12"),
        )
    assert plan.status == "active"  # 20 on the 12th, 40 on the 19th, 40 on the 26th
    return loan, case, plan


def test_a_plan_paid_on_time_completes_and_resolves_the_cured_case():
    loan, case, plan = plan_case()
    pay(loan, "20.00", "2024-01-12T15:00:00+00:00", "D")
    pay(loan, "40.00", "2024-01-19T15:00:00+00:00", "I1")
    sweep("2024-01-20")
    assert list(plan.installments.values_list("paid_amount", flat=True)) == [D("20.00"), D("40.00"), D("0.00")]
    assert CollectionCase.objects.get(pk=case.pk).state == "payment_plan"
    pay(loan, "40.00", "2024-01-26T15:00:00+00:00", "I2")
    sweep("2024-01-27")
    assert PaymentPlan.objects.get(pk=plan.pk).status == "completed"
    assert CollectionCase.objects.get(pk=case.pk).state == "resolved"


def test_a_plan_payment_missed_past_its_grace_breaks_the_plan():
    loan, case, plan = plan_case()
    pay(loan, "20.00", "2024-01-12T15:00:00+00:00", "D")
    sweep("2024-01-22")  # the 19th's payment is 3 days late: still within grace
    assert PaymentPlan.objects.get(pk=plan.pk).status == "active"
    sweep("2024-01-23")
    assert PaymentPlan.objects.get(pk=plan.pk).status == "broken"
    case.refresh_from_db()
    assert case.state == "reminder"
    assert CaseTransition.objects.filter(case=case).last().transition == "plan_broken"


def test_an_active_plan_pauses_stage_reminders():
    loan, case, _ = plan_case()
    assert not OutboundMessage.objects.filter(case=case, purpose="reminder", status="planned").exists()
    pay(loan, "20.00", "2024-01-12T15:00:00+00:00", "D")
    sweep("2024-01-18")
    assert CollectionCase.objects.get(pk=case.pk).state == "payment_plan"
    assert not OutboundMessage.objects.filter(case=case, purpose="reminder", status="planned").exists()
    assert OutboundMessage.objects.filter(case=case, purpose="plan_reminder").exists()  # the 19th's payment


# --------------------------------------------------------------------------------------------------------------
# Outbox planning
# --------------------------------------------------------------------------------------------------------------
def test_stage_messages_follow_the_cadence_and_planning_twice_adds_nothing():
    set_policy(cadence={"reminder": {"sms": 3, "voice": 2}, "formal_notice": {"letter": 0}})
    loan = loan_with_schedule(("2024-01-01", "100.00"))

    def planned(on):
        return sorted(
            OutboundMessage.objects.filter(loan=loan, planned_for__date=day(on)).values_list("channel", flat=True)
        )

    sweep("2024-01-05")
    sweep("2024-01-05")
    # The validation notice of the new case too (VAL-01: a US borrower), once.
    assert planned("2024-01-05") == ["letter", "sms", "voice"]
    for on in ("2024-01-06", "2024-01-07", "2024-01-08"):
        sweep(on)
    assert (planned("2024-01-06"), planned("2024-01-07"), planned("2024-01-08")) == ([], ["voice"], ["sms"])


def test_pre_due_reminders_are_planned_at_each_offset_for_loans_not_overdue():
    loan = loan_with_schedule(("2024-03-10", "100.00"))
    for on in ("2024-03-06", "2024-03-07", "2024-03-08", "2024-03-09"):
        sweep(on)
    keys = sorted(
        OutboundMessage.objects.filter(loan=loan, purpose="pre_due").values_list("idempotency_key", flat=True)
    )
    installment = loan.installments.get()
    assert keys == [f"loan:{loan.pk}:pre_due:{installment.pk}:1", f"loan:{loan.pk}:pre_due:{installment.pk}:3"]


# --------------------------------------------------------------------------------------------------------------
# Priority, assignment, idempotency, chunks, concurrency
# --------------------------------------------------------------------------------------------------------------
def test_priority_is_the_sum_of_its_explained_parts_and_deeper_debt_ranks_higher():
    shallow = loan_with_schedule(("2024-03-01", "100.00"), ("2024-04-01", "100.00"))
    deep = loan_with_schedule(("2023-12-01", "100.00"), ("2024-01-01", "100.00"))
    sweep("2024-03-10")
    a, b = the_case(shallow), the_case(deep)
    for case in (a, b):
        parts = (
            case.priority_dpd,
            case.priority_amount,
            case.priority_promises,
            case.priority_contact,
            case.priority_reach,
            case.priority_history,
        )
        assert case.priority == sum(parts)
    assert b.priority > a.priority and b.priority_dpd > a.priority_dpd


def test_new_cases_go_to_collectors_of_the_borrowers_language_by_workload():
    a, b, c = (user_with_role("collector", name) for name in ("a", "b", "c"))
    team_with(a, b, name="EN", language="en")
    team_with(c, name="ZH", language="zh-hans")
    loans = [loan_with_schedule(("2024-01-01", "100.00")) for _ in range(4)]
    chinese = loan_with_schedule(("2024-01-01", "100.00"))
    chinese.borrower.language = "zh-hans"
    chinese.borrower.save()
    sweep("2024-01-10")
    owners = [the_case(loan).assigned_to for loan in loans]
    assert sorted(u.username for u in owners) == ["a", "a", "b", "b"]
    assert the_case(chinese).assigned_to == c


def fingerprint():
    return (
        sorted(
            CollectionCase.objects.values_list(
                "loan__external_id", "state", "days_past_due", "priority", "assigned_to_id", "stage_entered_on"
            )
        ),
        sorted(CaseTransition.objects.values_list("case__loan__external_id", "from_state", "to_state", "transition")),
        sorted(OutboundMessage.objects.values_list("loan__external_id", "purpose", "channel", "status")),
        sorted(Loan.objects.values_list("external_id", "days_past_due", "amount_overdue", "status")),
    )


def portfolio():
    from loans.demo import seed_demo_portfolio

    seed_demo_portfolio(loans=150, seed=11, today=day("2026-06-15"))


def test_running_the_sweep_twice_for_a_date_changes_nothing_the_second_time():
    portfolio()
    first_run = sweep("2026-06-15")
    assert first_run.counts["open"] > 10
    before = fingerprint()
    second = sweep("2026-06-15")
    assert fingerprint() == before
    assert not any(
        second.counts.get(k) for k in ("open", "resolve", "escalate_formal_notice", "request_legal", "messages_planned")
    )


def test_chunks_give_the_same_result_as_one_pass():
    portfolio()
    sweep("2026-06-15", chunks=3)
    chunked = fingerprint()
    OutboundMessage.objects.all().delete()
    CaseTransition.objects.all().delete()
    CollectionCase.objects.all().delete()
    sweep("2026-06-15", chunks=1)
    assert fingerprint() == chunked


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_chunks_run_in_parallel_while_payments_arrive():
    portfolio()
    run = sweep_start(as_of=day("2026-06-15"), chunks=2)
    overdue = list(Loan.objects.filter(days_past_due__gt=10)[:5])
    errors = []

    def work(fn):
        try:
            fn()
        except Exception as exc:  # pragma: no cover - reported by the assertion
            errors.append(exc)
        finally:
            connection.close()

    def chunk(n):
        return lambda: sweep_chunk_done(
            run_id=run.pk, chunk=n, counts=sweep_chunk(run_id=run.pk, as_of=run.as_of, chunk=n, chunks=2)
        )

    def payments():
        for loan in overdue:
            pay(loan, str(loan.amount_overdue), "2026-06-14T12:00:00+00:00", f"PAR-{loan.pk}")

    threads = [threading.Thread(target=work, args=(f,)) for f in (chunk(0), chunk(1), payments)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    run.refresh_from_db()
    assert run.chunks_done == 2 and run.finished_at is not None
    sweep("2026-06-15")  # whatever raced, the next pass settles every paid loan
    for loan in overdue:
        loan.refresh_from_db()
        assert loan.days_past_due == 0
        assert not CollectionCase.objects.filter(loan=loan).exclude(state__in=["resolved", "closed"]).exists()


def test_a_partly_paid_plan_installment_still_breaks_the_plan_after_its_grace():
    loan, _case, plan = plan_case()
    pay(loan, "20.00", "2024-01-12T15:00:00+00:00", "D")
    pay(loan, "25.00", "2024-01-19T15:00:00+00:00", "I1-part")
    sweep("2024-01-22")
    assert list(plan.installments.values_list("paid_amount", flat=True)) == [D("20.00"), D("25.00"), D("0.00")]
    sweep("2024-01-23")
    assert PaymentPlan.objects.get(pk=plan.pk).status == "broken"


def test_a_completed_plan_with_a_fee_waiver_waives_the_fees_and_resolves_the_case():
    from loans.models import Installment

    loan = loan_with_schedule(("2024-01-01", "100.00"), ("2024-06-01", "100.00"))
    Installment.objects.filter(loan=loan, number=1).update(fee_due=D("30.00"))
    sweep("2024-01-10")  # 130.00 overdue: 100.00 principal and 30.00 of fees
    case = the_case(loan)
    with time_machine.travel(dt.datetime(2024, 1, 10, 15, tzinfo=dt.UTC), tick=False):
        plan = plan_propose(
            case_id=case.pk,
            actor=user_with_role("manager"),
            down_payment=D("50.00"),
            count=1,
            frequency="weekly",
            starts_on=day("2024-01-12"),
            waive=D("30.00"),
        )
    assert (plan.status, plan.total_amount) == ("active", D("100.00"))
    pay(loan, "50.00", "2024-01-12T15:00:00+00:00", "D")
    pay(loan, "50.00", "2024-01-19T15:00:00+00:00", "I1")
    sweep("2024-01-20")
    assert PaymentPlan.objects.get(pk=plan.pk).status == "completed"
    assert Installment.objects.get(loan=loan, number=1).fee_due == D("0.00")
    assert CollectionCase.objects.get(pk=case.pk).state == "resolved"


def test_a_chunk_reported_twice_is_counted_once_and_the_run_closes_only_when_all_are_done():
    loan_with_schedule(("2024-01-01", "100.00"))
    run = sweep_start(as_of=day("2024-01-10"), chunks=2)
    counts = sweep_chunk(run_id=run.pk, as_of=run.as_of, chunk=0, chunks=2)
    assert sweep_chunk_done(run_id=run.pk, chunk=0, counts=counts) is False
    assert sweep_chunk_done(run_id=run.pk, chunk=0, counts=counts) is False  # a redelivered task
    run.refresh_from_db()
    assert (run.chunks_done, run.finished_at) == (1, None)
    assert (
        sweep_chunk_done(run_id=run.pk, chunk=1, counts=sweep_chunk(run_id=run.pk, as_of=run.as_of, chunk=1, chunks=2))
        is True
    )
