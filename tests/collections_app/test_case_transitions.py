"""Every transition and guard of the case state machine, through the services."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, connection
from django_fsm import ConcurrentTransition

from collections_app.models import CaseTransition, CollectionCase, Hold, PaymentPlan, PromiseToPay
from collections_app.services import (
    InvalidRequest,
    NotPermitted,
    TransitionConflict,
    available_transitions,
    case_transition,
    cases_reassign,
    grace_extend,
    hold_lift,
    hold_place,
    plan_decide,
    plan_propose,
    promise_record,
)
from compliance.models import Restriction
from tests.factories import make_case, notices_served, team_with, user_with_role

pytestmark = pytest.mark.django_db
D = Decimal
# The fixture loan has 100.00 due on 2024-02-01 and 100.00 on 2024-03-01; "today" is 2024-02-11 in New York.
TODAY = dt.datetime(2024, 2, 11, 15, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def collector():
    return user_with_role("collector", "casey")


@pytest.fixture
def manager():
    return user_with_role("manager", "morgan")


def last_audit(case):
    return CaseTransition.objects.filter(case=case).order_by("-id").first()


def test_a_collector_escalates_to_formal_notice_and_the_move_is_audited(collector):
    case = make_case("reminder")
    case_transition(case_id=case.pk, name="escalate_formal_notice", actor=collector, reason="no answer for weeks")
    case.refresh_from_db()
    audit = last_audit(case)
    assert case.state == "formal_notice"
    assert (audit.from_state, audit.to_state, audit.transition) == (
        "reminder",
        "formal_notice",
        "escalate_formal_notice",
    )
    assert (audit.actor, audit.actor_label, audit.reason) == (collector, "casey", "no answer for weeks")
    assert audit.policy_id == case.policy_id


def test_a_reason_is_required_for_a_persons_escalation(collector):
    case = make_case("reminder")
    with pytest.raises(InvalidRequest):
        case_transition(case_id=case.pk, name="escalate_formal_notice", actor=collector, reason="  ")


def test_a_collector_cannot_approve_legal_escalation_but_a_manager_can(collector, manager):
    case = make_case("legal_review")
    with pytest.raises(NotPermitted):
        case_transition(case_id=case.pk, name="approve_legal", actor=collector, reason="enough notice")
    assert CollectionCase.objects.get(pk=case.pk).state == "legal_review"
    with pytest.raises(InvalidRequest):  # a person approving says why
        case_transition(case_id=case.pk, name="approve_legal", actor=manager)
    case_transition(case_id=case.pk, name="approve_legal", actor=manager, reason="enough notice")
    assert CollectionCase.objects.get(pk=case.pk).state == "legal"


def test_rejecting_legal_returns_to_formal_notice_with_the_reason(manager):
    case = make_case("legal_review")
    case_transition(case_id=case.pk, name="reject_legal", actor=manager, reason="debt is disputed informally")
    case.refresh_from_db()
    assert case.state == "formal_notice"
    assert last_audit(case).reason == "debt is disputed informally"


def test_requesting_legal_goes_straight_to_legal_when_the_policy_needs_no_approval(collector):
    case = make_case("formal_notice")
    case.policy.legal_requires_approval = False
    case.policy.save()
    notices_served(case)
    case_transition(case_id=case.pk, name="request_legal", actor=collector, reason="threshold passed")
    assert CollectionCase.objects.get(pk=case.pk).state == "legal"
    assert list(CaseTransition.objects.filter(case=case).values_list("transition", "actor_label")) == [
        ("request_legal", "casey"),
        ("approve_legal", "system"),
    ]


def test_a_transition_from_the_wrong_state_is_a_conflict(collector, manager):
    with pytest.raises(TransitionConflict):
        case_transition(case_id=make_case("reminder").pk, name="request_legal", actor=collector, reason="x")
    with pytest.raises(TransitionConflict):
        case_transition(case_id=make_case("formal_notice").pk, name="approve_legal", actor=manager, reason="x")


def test_only_managers_close_and_a_closed_case_never_reopens(collector, manager):
    case = make_case("formal_notice")
    with pytest.raises(NotPermitted):
        case_transition(case_id=case.pk, name="close", actor=collector, reason="x", close_reason="settled")
    case_transition(case_id=case.pk, name="close", actor=manager, reason="settled for 80%", close_reason="settled")
    case.refresh_from_db()
    assert (case.state, case.close_reason) == ("closed", "settled") and case.closed_at is not None
    for name in ("escalate_formal_notice", "request_legal", "close"):
        with pytest.raises(TransitionConflict):
            case_transition(case_id=case.pk, name=name, actor=manager, reason="again", close_reason="settled")
    assert available_transitions(case, manager) == []


def test_close_needs_a_known_reason(manager):
    with pytest.raises(InvalidRequest):
        case_transition(case_id=make_case().pk, name="close", actor=manager, reason="x", close_reason="bored")


def test_resolving_needs_a_cured_loan():
    case = make_case("reminder")
    assert not case.resolve.__self__._is_cured()
    case.days_past_due, case.amount_overdue = 0, D("0.00")
    assert case._is_cured()


def test_the_available_transitions_follow_the_state_and_the_role(collector, manager):
    review = make_case("legal_review")
    assert "approve_legal" not in available_transitions(review, collector)
    assert {"approve_legal", "reject_legal", "close"} <= set(available_transitions(review, manager))
    assert available_transitions(make_case("reminder"), collector) == ["escalate_formal_notice"]


def test_one_open_case_per_loan_is_a_database_constraint():
    case = make_case("reminder")
    with pytest.raises(IntegrityError):
        make_case("formal_notice", loan=case.loan)


def test_a_resolved_case_does_not_block_a_new_case_on_the_same_loan():
    case = make_case("resolved")
    assert make_case("reminder", loan=case.loan).pk != case.pk


# --------------------------------------------------------------------------------------------------------------
# Promises
# --------------------------------------------------------------------------------------------------------------
def test_a_promise_moves_the_case_to_promise_to_pay_and_remembers_the_stage(collector):
    case = make_case("formal_notice")
    promise = promise_record(case_id=case.pk, actor=collector, amount=D("100.00"), promised_on=dt.date(2024, 2, 15))
    case.refresh_from_db()
    assert (case.state, case.return_state) == ("promise_to_pay", "formal_notice")
    assert promise.status == "open"
    assert promise.window_end == dt.datetime(2024, 2, 16, 5, tzinfo=dt.UTC)  # midnight in New York


@pytest.mark.parametrize(
    ("amount", "day", "field"),
    [
        ("0", "2024-02-15", "amount"),
        ("5000", "2024-02-15", "amount"),
        ("50", "2024-02-10", "promised_on"),
        ("50", "2024-03-30", "promised_on"),
    ],
)
def test_a_promise_must_be_a_positive_amount_within_the_policy_window(collector, amount, day, field):
    case = make_case("reminder")
    with pytest.raises(InvalidRequest) as info:
        promise_record(case_id=case.pk, actor=collector, amount=D(amount), promised_on=dt.date.fromisoformat(day))
    assert info.value.field == field
    assert CollectionCase.objects.get(pk=case.pk).state == "reminder"


def test_there_is_at_most_one_open_promise(collector):
    case = make_case("reminder")
    promise_record(case_id=case.pk, actor=collector, amount=D("50"), promised_on=dt.date(2024, 2, 15))
    with pytest.raises(TransitionConflict):
        promise_record(case_id=case.pk, actor=collector, amount=D("50"), promised_on=dt.date(2024, 2, 16))
    assert PromiseToPay.objects.filter(case=case).count() == 1


def test_no_promise_once_the_case_is_with_the_lawyers(collector):
    with pytest.raises(TransitionConflict):
        promise_record(case_id=make_case("legal").pk, actor=collector, amount=D("50"), promised_on=dt.date(2024, 2, 15))


# --------------------------------------------------------------------------------------------------------------
# Holds
# --------------------------------------------------------------------------------------------------------------
def test_a_hold_pauses_the_case_records_a_restriction_and_lifting_it_returns_to_the_stage(collector):
    case = make_case("formal_notice")
    hold = hold_place(
        case_id=case.pk, actor=collector, kind="dispute", reason="borrower disputes the fee", document_ref="LETTER-17"
    )
    case.refresh_from_db()
    assert (case.state, case.return_state) == ("on_hold", "formal_notice")
    assert Restriction.objects.active().filter(borrower=case.borrower, kind="dispute", loan=case.loan).exists()
    hold_lift(hold_id=hold.pk, actor=collector, reason="verification sent and accepted")
    case.refresh_from_db()
    assert case.state == "formal_notice"
    assert not Restriction.objects.active().filter(borrower=case.borrower).exists()


def test_the_case_stays_on_hold_until_the_last_hold_is_lifted(collector, manager):
    case = make_case("reminder")
    first = hold_place(case_id=case.pk, actor=collector, kind="dispute", reason="a")
    hold_place(case_id=case.pk, actor=manager, kind="bankruptcy", reason="chapter 7 filing", document_ref="CASE-1")
    hold_lift(hold_id=first.pk, actor=collector, reason="resolved")
    assert CollectionCase.objects.get(pk=case.pk).state == "on_hold"
    assert Hold.objects.filter(case=case, lifted_at__isnull=True).count() == 1


def test_a_hold_during_a_promise_cancels_the_promise_and_returns_to_the_stage_later(collector):
    case = make_case("reminder")
    promise_record(case_id=case.pk, actor=collector, amount=D("50"), promised_on=dt.date(2024, 2, 15))
    hold = hold_place(case_id=case.pk, actor=collector, kind="deceased", reason="family called")
    assert PromiseToPay.objects.get(case=case).status == "cancelled"
    with pytest.raises(NotPermitted):  # a deceased hold is lifted by a manager (issue 11)
        hold_lift(hold_id=hold.pk, actor=collector, reason="wrong person")
    hold_lift(hold_id=hold.pk, actor=user_with_role("manager", "morgan"), reason="wrong person")
    assert CollectionCase.objects.get(pk=case.pk).state == "reminder"


def test_a_hold_needs_a_known_kind_and_a_reason(collector):
    case = make_case()
    with pytest.raises(InvalidRequest):
        hold_place(case_id=case.pk, actor=collector, kind="vacation", reason="x")
    with pytest.raises(InvalidRequest):
        hold_place(case_id=case.pk, actor=collector, kind="dispute", reason="")


# --------------------------------------------------------------------------------------------------------------
# Plans and grace
# --------------------------------------------------------------------------------------------------------------
def overdue_case():
    case = make_case("reminder")
    loan = case.loan
    loan.amount_overdue = D("100.00")
    loan.outstanding_balance = D("200.00")
    loan.save()
    return case


def test_a_plan_within_policy_starts_at_once(collector):
    case = overdue_case()
    plan = plan_propose(
        case_id=case.pk,
        actor=collector,
        down_payment=D("20.00"),
        count=4,
        frequency="weekly",
        starts_on=dt.date(2024, 2, 12),
    )
    case.refresh_from_db()
    assert (plan.status, case.state, case.return_state) == ("active", "payment_plan", "reminder")
    amounts = list(plan.installments.values_list("amount", flat=True))
    assert amounts == [D("20.00"), D("20.00"), D("20.00"), D("20.00"), D("20.00")]
    assert plan.installments.first().breaks_after == dt.date(2024, 2, 15)


def long_plan(case, actor):
    """Twelve weekly payments and no down payment: outside the default installment policy."""
    return plan_propose(
        case_id=case.pk,
        actor=actor,
        down_payment=D("0.00"),
        count=12,
        frequency="weekly",
        starts_on=dt.date(2024, 2, 12),
    )


def test_a_plan_outside_policy_waits_for_a_manager_who_can_approve_it(collector, manager):
    case = overdue_case()
    plan = long_plan(case, collector)
    assert plan.status == "pending_approval"
    assert any("12 installments" in b for b in plan.outside_policy)
    assert any("down payment" in b for b in plan.outside_policy)
    assert CollectionCase.objects.get(pk=case.pk).state == "reminder"
    with pytest.raises(NotPermitted):
        plan_decide(plan_id=plan.pk, actor=collector, approve=True)
    plan_decide(plan_id=plan.pk, actor=manager, approve=True, reason="long-standing customer")
    assert CollectionCase.objects.get(pk=case.pk).state == "payment_plan"
    assert PaymentPlan.objects.get(pk=plan.pk).decided_by == manager


def test_a_rejected_plan_leaves_the_case_where_it_was(collector, manager):
    case = overdue_case()
    plan = long_plan(case, collector)
    with pytest.raises(InvalidRequest):
        plan_decide(plan_id=plan.pk, actor=manager, approve=False)
    plan_decide(plan_id=plan.pk, actor=manager, approve=False, reason="too long")
    assert (PaymentPlan.objects.get(pk=plan.pk).status, CollectionCase.objects.get(pk=case.pk).state) == (
        "rejected",
        "reminder",
    )


def test_a_hardship_grace_extension_is_one_off_within_policy_and_audited(collector):
    case = make_case("reminder")
    with pytest.raises(InvalidRequest):
        grace_extend(case_id=case.pk, actor=collector, days=30, reason="lost job")
    grace_extend(case_id=case.pk, actor=collector, days=10, reason="lost job")
    case.refresh_from_db()
    assert case.grace_until == dt.date(2024, 2, 21)
    assert last_audit(case).transition == "extend_grace" and "lost job" in last_audit(case).reason
    with pytest.raises(TransitionConflict):
        grace_extend(case_id=case.pk, actor=collector, days=2, reason="again")


def test_only_managers_reassign_and_each_move_is_audited(collector, manager):
    case = make_case()
    other = user_with_role("collector", "jordan")
    with pytest.raises(NotPermitted):
        cases_reassign(case_ids=[case.pk], to_user=other, actor=collector)
    assert cases_reassign(case_ids=[case.pk], to_user=other, actor=manager) == 1
    assert CollectionCase.objects.get(pk=case.pk).assigned_to == other
    assert last_audit(case).transition == "reassign"


# --------------------------------------------------------------------------------------------------------------
# Concurrency (PostgreSQL row locks)
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_managers_deciding_the_same_case_at_once_one_wins_and_the_other_gets_a_conflict():
    case = make_case("legal_review")
    approver, rejecter = user_with_role("manager", "m1"), user_with_role("manager", "m2")
    barrier = threading.Barrier(2)
    outcomes = {}

    def decide(name, actor):
        try:
            barrier.wait()
            case_transition(case_id=case.pk, name=name, actor=actor, reason="decided")
            outcomes[name] = "ok"
        except TransitionConflict as exc:
            outcomes[name] = str(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=decide, args=a) for a in (("approve_legal", approver), ("reject_legal", rejecter))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(v == "ok" for v in outcomes.values()) == [False, True]
    loser = next(v for v in outcomes.values() if v != "ok")
    assert "cannot" in loser
    assert CaseTransition.objects.filter(case=case).count() == 1
    final = CollectionCase.objects.get(pk=case.pk).state
    assert final == ("legal" if outcomes["approve_legal"] == "ok" else "formal_notice")


def test_saving_a_stale_copy_of_a_case_is_refused(manager):
    stale = CollectionCase.objects.get(pk=make_case("legal_review").pk)
    case_transition(case_id=stale.pk, name="approve_legal", actor=manager, reason="x")
    stale.reject_legal()
    with pytest.raises(ConcurrentTransition):
        stale.save()


# --------------------------------------------------------------------------------------------------------------
# Field visits
# --------------------------------------------------------------------------------------------------------------
def test_a_field_visit_is_scheduled_for_open_cases_and_its_outcome_recorded(collector):
    from collections_app.services import visit_record, visit_schedule

    case = make_case("formal_notice", team=team_with(collector))
    start = TODAY + dt.timedelta(days=1)
    visit = visit_schedule(
        case_id=case.pk,
        actor=collector,
        address="",
        collectors=[collector],
        window_start=start,
        window_end=start + dt.timedelta(hours=2),
    )
    assert "MA" in visit.address and list(visit.collectors.all()) == [collector]
    with pytest.raises(InvalidRequest):
        visit_record(visit_id=visit.pk, actor=collector, status="visited", outcome="")
    visit_record(
        visit_id=visit.pk,
        actor=collector,
        status="visited",
        outcome="spoke to borrower, will pay Friday",
        visited_at=start + dt.timedelta(minutes=30),
    )
    case.refresh_from_db()
    assert case.last_contact_at == start + dt.timedelta(minutes=30)
    with pytest.raises(TransitionConflict):
        visit_record(visit_id=visit.pk, actor=collector, status="not_home", outcome="again")


def test_no_visit_in_the_past_or_to_a_case_on_hold(collector):
    from collections_app.services import visit_schedule

    team = team_with(collector)
    case = make_case("on_hold", team=team)
    start = TODAY + dt.timedelta(days=1)
    with pytest.raises(TransitionConflict):
        visit_schedule(
            case_id=case.pk,
            actor=collector,
            address="x",
            collectors=[collector],
            window_start=start,
            window_end=start + dt.timedelta(hours=1),
        )
    with pytest.raises(InvalidRequest):
        visit_schedule(
            case_id=make_case(team=team).pk,
            actor=collector,
            address="x",
            collectors=[collector],
            window_start=TODAY - dt.timedelta(hours=2),
            window_end=TODAY - dt.timedelta(hours=1),
        )


def test_the_gate_refuses_a_visit_at_night_and_flags_one_made_outside_its_window(collector):
    from collections_app.services import visit_record, visit_schedule
    from compliance.models import ContactEvent

    case = make_case("formal_notice", team=team_with(collector))
    night = dt.datetime(2024, 2, 12, 3, 0, tzinfo=dt.UTC)  # 22:00 in Boston
    with pytest.raises(InvalidRequest, match="USF-01"):
        visit_schedule(
            case_id=case.pk,
            actor=collector,
            address="",
            collectors=[collector],
            window_start=night,
            window_end=night + dt.timedelta(hours=1),
        )
    morning = dt.datetime(2024, 2, 12, 15, 0, tzinfo=dt.UTC)
    visit = visit_schedule(
        case_id=case.pk,
        actor=collector,
        address="",
        collectors=[collector],
        window_start=morning,
        window_end=morning + dt.timedelta(hours=2),
    )
    visit_record(
        visit_id=visit.pk,
        actor=collector,
        status="not_home",
        outcome="nobody answered",
        visited_at=morning + dt.timedelta(hours=5),
    )
    event = ContactEvent.objects.get(borrower=case.borrower, channel="visit")
    assert (event.outcome, event.is_exception, event.decision_id) == ("not_home", True, visit.decision_id)


def test_a_field_visit_in_china_needs_two_collectors(collector):
    from collections_app.services import visit_schedule
    from tests.factories import BorrowerFactory, certified, loan_with_schedule

    borrower = BorrowerFactory(country="CN", region="河南省", time_zones=["Asia/Shanghai"])
    partner = user_with_role("collector", "partner")
    team = team_with(collector, partner, name="CN", language="zh-hans")
    certified(collector, partner, on=dt.date(2024, 2, 12))  # CERT-01: both visitors trained
    case = make_case("reminder", loan=loan_with_schedule(("2024-02-01", "100.00"), borrower=borrower), team=team)
    start = dt.datetime(2024, 2, 12, 2, 0, tzinfo=dt.UTC)  # 10:00 Beijing time
    with pytest.raises(InvalidRequest, match="CN-08"):
        visit_schedule(
            case_id=case.pk,
            actor=collector,
            address="",
            collectors=[collector],
            window_start=start,
            window_end=start + dt.timedelta(hours=1),
        )
    assert visit_schedule(
        case_id=case.pk,
        actor=collector,
        address="",
        collectors=[collector, partner],
        window_start=start,
        window_end=start + dt.timedelta(hours=1),
    ).decision.allowed


def test_only_collectors_of_the_cases_team_count_as_the_second_collector(collector):
    """Issue 11: anyone active — another team's collector, a manager — satisfied CN-08's two-collector rule."""
    from collections_app.services import visit_schedule
    from tests.factories import BorrowerFactory, loan_with_schedule

    manager = user_with_role("manager", "morgan")
    stranger = user_with_role("collector", "stranger")
    team_with(stranger, name="Other")
    team = team_with(collector, name="CN", language="zh-hans", manager=manager)
    borrower = BorrowerFactory(country="CN", region="河南省", time_zones=["Asia/Shanghai"])
    case = make_case("reminder", loan=loan_with_schedule(("2024-02-01", "100.00"), borrower=borrower), team=team)
    start = dt.datetime(2024, 2, 12, 2, 0, tzinfo=dt.UTC)
    for second in (manager, stranger):
        with pytest.raises(InvalidRequest, match="only collectors of team CN"):
            visit_schedule(case_id=case.pk, actor=collector, address="", collectors=[collector, second],
                           window_start=start, window_end=start + dt.timedelta(hours=1))  # fmt: skip
    with pytest.raises(InvalidRequest, match="no team yet"):
        visit_schedule(case_id=make_case().pk, actor=collector, address="", collectors=[collector],
                       window_start=start, window_end=start + dt.timedelta(hours=1))  # fmt: skip
    assert not case.visits.exists()
