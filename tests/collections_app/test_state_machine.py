"""The state machine has one source: the django-fsm transitions declared on ``CollectionCase``.

The daily sweep moves cases in bulk with SQL. Each of its moves names the transition it performs
(``collections_app.sweep.MOVES``) and reads that transition's sources and target from the declaration; these tests
hold the sweep to it: every state change the sweep audits must be one the machine declares — same name, a declared
source, the declared target — and must be what running that transition on the case gives.
"""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django_fsm import RETURN_VALUE, can_proceed

from collections_app.models import CaseState, CaseTransition, CollectionCase, CollectionPolicy
from collections_app.services import hold_place, plan_propose, policy_revise, promise_record
from collections_app.sweep import MOVES, OPENING, OPENING_STATE, BulkMove, sweep_run
from loans.models import Installment
from loans.services import payment_record
from tests.factories import loan_with_schedule, notices_served, user_with_role

D = Decimal


def declaration(transition: str, from_state: str):
    """django-fsm's own answer: the declared transition ``transition`` from ``from_state``, or None."""
    method = getattr(CollectionCase(state=from_state), transition, None)
    if not hasattr(method, "_django_fsm") or not can_proceed(method, check_conditions=False):
        return None
    return method._django_fsm.get_transition(from_state)


def undeclared(rows):
    """The (from_state, to_state, transition) rows the machine does not declare."""
    wrong = []
    for from_state, to_state, transition in rows:
        if transition == OPENING:  # a new case: not a transition, it starts in the field's default
            ok = from_state == "" and to_state == CollectionCase._meta.get_field("state").default
        else:
            declared = declaration(transition, from_state)
            target = declared.target if declared else None
            ok = declared is not None and (
                to_state in target.allowed_states if isinstance(target, RETURN_VALUE) else to_state == target
            )
        if not ok:
            wrong.append((from_state, to_state, transition))
    return wrong


# --------------------------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------------------------
def test_every_bulk_move_of_the_sweep_is_a_declared_transition():
    declared_names = {t.name for t in CollectionCase._meta.get_field("state").get_all_transitions(CollectionCase)}
    assert OPENING not in declared_names and OPENING_STATE == CaseState.REMINDER
    for name, move in MOVES.items():
        assert move.transition == name and name in declared_names
        assert move.sources, name
        for source in move.sources:
            target = declaration(name, source).target
            assert move.targets == (list(target.allowed_states) if isinstance(target, RETURN_VALUE) else [target])
            assert undeclared([(source, to, name) for to in move.targets]) == []


@pytest.mark.parametrize("name", [n for n, m in MOVES.items() if isinstance(m.target, RETURN_VALUE)])
def test_a_move_back_to_the_stage_writes_what_the_models_transition_returns(name):
    """The sweep writes ``return_state`` for a RETURN_VALUE target: the model's method must return exactly that."""
    move = MOVES[name]
    for source in move.sources:
        for stage in move.targets:
            case = CollectionCase(state=source, return_state=stage)
            getattr(case, name)()
            assert case.state == stage


def test_the_check_rejects_moves_the_machine_does_not_declare():
    assert undeclared([("", "reminder", "open"), ("legal_review", "legal", "approve_legal")]) == []
    wrong = [
        ("reminder", "legal_review", "escalate_formal_notice"),  # wrong target
        ("legal", "legal_review", "request_legal"),  # wrong source
        ("promise_to_pay", "legal", "promise_kept"),  # outside the allowed return states
        ("reminder", "resolved", "cure"),  # no such transition
        ("formal_notice", "formal_notice", "escalate_formal_notice"),
        ("", "formal_notice", "open"),  # a case opens in the field's default
    ]
    assert undeclared(wrong) == wrong


def test_a_bulk_move_of_an_undeclared_transition_is_refused():
    with pytest.raises(ImproperlyConfigured, match="does not declare"):
        _ = BulkMove("cure", where="TRUE", reason="''").sources
    with pytest.raises(ImproperlyConfigured, match="does not declare"):
        _ = BulkMove("cure", where="TRUE", reason="''").target


# --------------------------------------------------------------------------------------------------------------
# The sweep over a portfolio that exercises every bulk move
# --------------------------------------------------------------------------------------------------------------
def day(text):
    return dt.date.fromisoformat(text)


def pay(loan, amount, when, ref):
    payment_record(loan_id=loan.pk, amount=D(amount), received_at=dt.datetime.fromisoformat(when), reference=ref)


def open_case(loan):
    return CollectionCase.objects.open().get(loan=loan)


class Sweeps:
    """Runs the sweep for a date and checks at once every transition row it wrote: declared by the machine, one
    step on from the case's previous row (each case's audit trail is a path through the machine, each move audited
    once), and what running that transition on the case gives (with the case's days past due and amount overdue as
    the sweep left them, which is what its guards judged)."""

    def __init__(self):
        self.names = set()

    def __call__(self, text):
        last = CaseTransition.objects.order_by("-id").values_list("id", flat=True).first() or 0
        sweep_run(as_of=day(text))
        written = list(CaseTransition.objects.filter(id__gt=last).select_related("case").order_by("id"))
        assert written, f"the sweep of {text} moved nothing: the portfolio does not exercise it"
        assert {(r.actor, r.actor_label) for r in written} == {(None, "system")}
        rows = [(r.from_state, r.to_state, r.transition) for r in written]
        assert undeclared(rows) == []
        for row in written:
            self.names.add(row.transition)
            if row.transition == OPENING:
                assert not CaseTransition.objects.filter(case=row.case, id__lt=row.id).exists(), row
            else:
                self.replay(row)

    @staticmethod
    def replay(row):
        earlier = CaseTransition.objects.filter(case=row.case, id__lt=row.id).order_by("-id")
        assert earlier.exists() and earlier[0].to_state == row.from_state, f"{row}: not where the case was"
        entered = earlier.filter(to_state=row.from_state).first()
        case = CollectionCase(
            state=row.from_state,
            return_state=entered.from_state if entered else "",
            days_past_due=row.case.days_past_due,
            amount_overdue=row.case.amount_overdue,
        )
        method = getattr(case, row.transition)
        assert can_proceed(method), f"{row}: the transition's guards refuse it"
        method()
        assert case.state == row.to_state, row


@pytest.mark.django_db
def test_every_move_the_sweep_makes_is_a_transition_the_machine_declares():
    collector, manager = user_with_role("collector"), user_with_role("manager")
    escalates = loan_with_schedule(("2024-01-01", "100.00"))
    cured = loan_with_schedule(("2024-01-01", "100.00"), ("2024-06-01", "100.00"))
    cured_later = loan_with_schedule(("2024-01-01", "100.00"), ("2024-06-01", "100.00"))
    kept = loan_with_schedule(("2024-01-01", "100.00"), ("2024-06-01", "100.00"))
    broken = loan_with_schedule(("2024-01-01", "100.00"), ("2024-06-01", "100.00"))
    broken_in_notice = loan_with_schedule(("2023-12-01", "100.00"), ("2024-06-01", "100.00"))
    kept_cured = loan_with_schedule(("2024-01-01", "100.00"), ("2024-06-01", "100.00"))
    held_cured = loan_with_schedule(("2024-01-01", "100.00"), ("2024-06-01", "100.00"))
    plan_broken = loan_with_schedule(("2024-01-01", "100.00"), ("2024-06-01", "100.00"))
    plan_done = loan_with_schedule(("2024-01-01", "100.00"), ("2024-01-15", "100.00"), ("2024-06-01", "100.00"))
    plan_waived = loan_with_schedule(("2024-01-01", "100.00"), ("2024-06-01", "100.00"))
    Installment.objects.filter(loan=plan_waived, number=1).update(fee_due=D("30.00"))

    sweep = Sweeps()
    sweep("2024-01-10")  # a case opens for each loan; 40 days past due, broken_in_notice's goes to formal notice
    with time_machine.travel(dt.datetime(2024, 1, 10, 15, tzinfo=dt.UTC), tick=False):
        for loan, amount in ((kept, "60.00"), (broken, "60.00"), (broken_in_notice, "60.00"), (kept_cured, "100.00")):
            promise_record(case_id=open_case(loan).pk, actor=collector, amount=D(amount), promised_on=day("2024-01-15"))
        hold_place(case_id=open_case(held_cured).pk, actor=collector, kind="dispute", reason="not my loan")
        for loan in (plan_broken, plan_done):  # 20.00 on the 12th, 40.00 on the 19th and the 26th
            plan_propose(
                case_id=open_case(loan).pk,
                actor=collector,
                down_payment=D("20.00"),
                count=2,
                frequency="weekly",
                starts_on=day("2024-01-12"),
            )
        plan_propose(  # 130.00 overdue, 30.00 of it fees waived: 50.00 on the 12th and the 19th
            case_id=open_case(plan_waived).pk,
            actor=manager,
            down_payment=D("50.00"),
            count=1,
            frequency="weekly",
            starts_on=day("2024-01-12"),
            waive=D("30.00"),
        )
    pay(cured, "100.00", "2024-01-11T15:00:00+00:00", "C")
    pay(held_cured, "100.00", "2024-01-11T15:00:00+00:00", "H")
    for loan in (plan_broken, plan_done):
        pay(loan, "20.00", "2024-01-12T15:00:00+00:00", "1")
    pay(plan_waived, "50.00", "2024-01-12T15:00:00+00:00", "1")
    pay(kept, "60.00", "2024-01-12T15:00:00+00:00", "K")
    pay(kept_cured, "100.00", "2024-01-14T15:00:00+00:00", "K")
    sweep("2024-01-16")  # resolve from reminder, promise_to_pay and on_hold; promises kept and broken
    pay(plan_done, "40.00", "2024-01-19T15:00:00+00:00", "2")
    pay(plan_waived, "50.00", "2024-01-19T15:00:00+00:00", "2")
    pay(cured_later, "100.00", "2024-01-19T15:00:00+00:00", "C")
    sweep("2024-01-20")  # a cure resolves; the waived plan completes, the waiver cures the loan, its case resolves
    sweep("2024-01-23")  # a plan payment 4 days late: plan_broken
    pay(plan_done, "40.00", "2024-01-26T15:00:00+00:00", "3")
    sweep("2024-01-27")  # every plan payment made, the 15th's installment still overdue: plan_completed
    sweep("2024-01-31")  # 30 days past due: escalate_formal_notice
    policy = CollectionPolicy.objects.get(product__isnull=True, is_current=True)
    policy.legal_requires_approval = False
    policy_revise(policy=policy, actor=None)
    notices_served(open_case(escalates))  # FN-01: its formal notice letter left
    sweep("2024-04-15")  # request_legal, then approve_legal: the policy needs no approval

    assert sweep.names == {OPENING, *MOVES}  # every bulk move ran at least once
    assert open_case(escalates).state == CaseState.LEGAL
    assert CaseTransition.objects.filter(
        case__loan=broken_in_notice, transition="promise_broken", to_state=CaseState.FORMAL_NOTICE
    ).exists()  # back to the stage it left, not to the first one
