"""Every row of the rule catalogue's test vectors (VECTORS.md), against the pure evaluation core (no database)."""

import datetime as dt

import pytest

from compliance.engine import (
    ALLOW,
    DEFER,
    DENY,
    Attempt,
    BorrowerFacts,
    LedgerEvent,
    Profile,
    RestrictionFact,
    evaluate,
)
from compliance.presets import PRESETS

UTC = dt.UTC
PROFILES = [Profile(code, 1, params) for code, params in PRESETS.items()]
LA = BorrowerFacts(
    1,
    zones=("America/Los_Angeles",),
    country="US",
    region="CA",
    sms_consent=frozenset({"+12135550100"}),
    autodial_consent=frozenset({"+12135550100"}),
)
NY = BorrowerFacts(2, zones=("America/New_York",), country="US", region="NY")
MA = BorrowerFacts(3, zones=("America/New_York",), country="US", region="MA")
HENAN = BorrowerFacts(4, zones=("Asia/Shanghai",), country="CN", region="河南省")


def z(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def check(facts, **attempt):
    attempt.setdefault("channel", "call")
    attempt.setdefault("to", "+12135550100")
    return evaluate(Attempt(**attempt), facts, PROFILES)


def call(id_, at, outcome="no_answer", debts=(1,), to="+12135550100", direction="outbound", role="debtor"):
    return LedgerEvent(
        id=id_, channel="call", direction=direction, at=z(at), outcome=outcome, to=to, debts=debts, target_role=role
    )


def with_ledger(facts, *events, **changes):
    return BorrowerFacts(**{**facts.__dict__, "ledger": tuple(events), **changes})


# 4.1 Time window ----------------------------------------------------------------------------------------------
def test_tv01_a_call_at_8_30_pm_pacific_is_allowed():
    assert check(LA, at=z("2025-07-16T03:30Z"), debts=(1,)).outcome == ALLOW


def test_tv02_a_call_at_9_05_pm_pacific_is_deferred_to_just_after_8_am():
    result = check(LA, at=z("2025-07-16T04:05Z"), debts=(1,))
    assert result.outcome == DEFER and not result.allowed
    assert result.reasons[0].rule == "USF-01"
    assert result.next_allowed_at == z("2025-07-16T15:01Z")  # 08:01 PDT: the boundary itself is excluded


@pytest.mark.parametrize("instant", ["2025-07-16T04:00:00Z", "2025-07-16T15:00:00Z"])
def test_tv03_exactly_9_pm_and_exactly_8_am_are_both_denied(instant):
    assert check(LA, at=z(instant), debts=(1,)).outcome == DEFER


def test_tv07_dst_end_is_evaluated_with_the_rules_at_the_instant():
    assert check(NY, at=z("2025-11-02T12:30Z"), to="+12125550100").outcome == DEFER  # 07:30 EST
    assert check(NY, at=z("2025-11-02T13:30Z"), to="+12125550100").outcome == ALLOW  # 08:30 EST


# 4.2 Reg F frequency -------------------------------------------------------------------------------------------
SEVEN = [
    call(1, "2025-06-02T16:00Z"),
    call(2, "2025-06-03T16:00Z"),
    call(3, "2025-06-03T18:00Z"),
    call(4, "2025-06-04T16:00Z"),
    call(5, "2025-06-05T16:00Z"),
    call(6, "2025-06-06T16:00Z"),
    call(7, "2025-06-07T16:00Z"),
]


def test_tv13_an_eighth_call_within_seven_local_days_is_refused():
    result = check(with_ledger(LA, *SEVEN), at=z("2025-06-08T18:00Z"), debts=(1,))
    assert result.outcome == DEFER and {r.rule for r in result.reasons} == {"USF-08"}
    assert result.inputs["reg_f_calls"]["1"]["count"] == 7


def test_tv14_the_same_call_on_day_eight_is_allowed():
    assert check(with_ledger(LA, *SEVEN), at=z("2025-06-09T18:00Z"), debts=(1,)).outcome == ALLOW


def test_tv16_a_conversation_blocks_calls_about_that_debt_through_day_seven():
    facts = with_ledger(LA, call(1, "2025-06-03T17:00Z", outcome="conversation"))
    assert check(facts, at=z("2025-06-09T18:00Z"), debts=(1,)).outcome == DEFER
    assert check(facts, at=z("2025-06-10T18:00Z"), debts=(1,)).outcome == ALLOW
    assert check(facts, at=z("2025-06-09T18:00Z"), debts=(2,)).outcome == ALLOW  # another debt


def test_tv17_a_second_call_the_same_day_after_a_conversation_is_refused():
    facts = with_ledger(LA, call(1, "2025-06-03T17:00Z", outcome="conversation"))
    result = check(facts, at=z("2025-06-03T22:00Z"), debts=(1,))
    assert result.outcome == DEFER and result.reasons[0].rule == "USF-09"
    assert result.next_allowed_at == z("2025-06-10T15:01Z")  # day 8 at 08:01 PDT


# 4.3 Channels, consent, opt-outs ------------------------------------------------------------------------------
def test_tv23_stop_blocks_sms_and_robocalls_but_not_a_manual_call():
    facts = BorrowerFacts(**{**LA.__dict__, "sms_opted_out": frozenset({"+12135550100"})})
    at = z("2025-07-03T21:00Z")  # 14:00 PDT
    assert check(facts, channel="sms", at=at, content="Reply STOP to opt out").outcome == DENY
    assert check(facts, channel="call", at=at, debts=(1,)).outcome == ALLOW
    assert check(facts, channel="call", at=at, automated=True, debts=(1,)).outcome == DENY


def test_tv27_an_email_without_opt_out_instructions_is_refused():
    result = check(
        NY,
        channel="email",
        to="pat@example.com",
        to_kind="email",
        at=z("2025-07-03T18:00Z"),
        content="Your payment is overdue. Call us.",
    )
    assert result.outcome == DENY and result.reasons[0].rule == "USF-07"


# 4.4 Cease, disputes, bankruptcy ------------------------------------------------------------------------------
def test_tv32_after_a_cease_letter_calls_stop_but_the_termination_letter_may_go():
    facts = BorrowerFacts(**{**NY.__dict__, "restrictions": (RestrictionFact(1, "cease_and_desist"),)})
    assert check(facts, at=z("2025-06-11T16:00Z")).outcome == DENY
    assert check(facts, channel="letter", at=z("2025-06-11T16:00Z"), purpose="cease_exception").outcome == ALLOW


def test_tv36_a_written_dispute_stops_collection_until_the_verification_is_sent():
    pending = BorrowerFacts(**{**NY.__dict__, "restrictions": (RestrictionFact(1, "dispute", loan_id=1),)})
    assert check(pending, at=z("2025-03-25T16:00Z"), debts=(1,)).outcome == DENY
    assert check(pending, channel="letter", at=z("2025-04-01T16:00Z"), debts=(1,), purpose="verification").allowed
    sent = BorrowerFacts(
        **{
            **NY.__dict__,
            "restrictions": (RestrictionFact(1, "dispute", loan_id=1, details={"verification_sent_at": "2025-04-01"}),),
        }
    )
    assert check(sent, at=z("2025-04-02T16:00Z"), debts=(1,)).outcome == ALLOW


@pytest.mark.parametrize("channel", ["call", "sms", "letter"])
def test_tv41_a_bankruptcy_filing_stops_every_collection_channel(channel):
    facts = BorrowerFacts(**{**NY.__dict__, "restrictions": (RestrictionFact(1, "bankruptcy"),)})
    assert check(facts, channel=channel, at=z("2025-06-06T16:00Z"), content="Reply STOP to opt out").outcome == DENY


# 4.5 Massachusetts ---------------------------------------------------------------------------------------------
def test_tv45_massachusetts_counts_unanswered_calls_two_per_seven_days():
    facts = with_ledger(MA, call(1, "2025-06-02T15:00Z"), call(2, "2025-06-03T15:00Z"))
    result = check(facts, at=z("2025-06-05T15:00Z"), debts=(1,))
    assert result.outcome == DEFER and {r.rule for r in result.reasons} == {"MA-01"}
    assert check(with_ledger(NY, *facts.ledger), at=z("2025-06-05T15:00Z"), debts=(1,)).outcome == ALLOW


# 4.6 China -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("instant", "allowed"),
    [
        ("2025-07-15T13:59Z", True),
        ("2025-07-15T14:00Z", False),
        ("2025-07-15T00:05Z", True),
        ("2025-07-14T23:59Z", False),
    ],
)
def test_tv53_beijing_time_22_to_8_is_off_limits(instant, allowed):
    assert check(HENAN, at=z(instant), to="+8613812345678").allowed is allowed


def test_tv55_six_unanswered_attempts_cap_one_number_not_the_next():
    events = [call(i, f"2025-07-15T0{i}:00Z", to="+8613812345678") for i in range(1, 7)]
    facts = with_ledger(HENAN, *events)
    assert check(facts, at=z("2025-07-15T08:00Z"), to="+8613812345678").outcome == DEFER
    assert check(facts, at=z("2025-07-15T08:00Z"), to="+8613912345678").outcome == ALLOW


def test_tv56_three_connected_calls_a_day_across_in_house_and_agency_collectors():
    events = [call(i, f"2025-07-15T0{i}:00Z", outcome="conversation", to="+8613812345678") for i in (1, 2, 3)]
    result = check(with_ledger(HENAN, *events), at=z("2025-07-15T08:00Z"), to="+8613812345678")
    assert result.outcome == DEFER and result.reasons[0].rule == "CN-02"
    assert result.next_allowed_at == z("2025-07-16T00:01Z")  # 08:01 Beijing time the next day


def test_tv58_no_call_to_the_emergency_contact_while_the_debtor_answers():
    facts = with_ledger(HENAN, call(1, "2025-07-14T03:00Z", outcome="conversation", to="+8613812345678"))
    result = check(facts, at=z("2025-07-15T03:00Z"), to="+8613700000000", target_role="emergency_contact")
    assert result.outcome == DENY and result.reasons[0].rule == "CN-05"


# 4.9 Conduct beyond the contact gate (RULES.md §2.8) -------------------------------------------------------------
HENAN_PHONES = BorrowerFacts(
    **{**HENAN.__dict__, "phone_kinds": {"+8613812345678": "mobile"}, "sms_consent": frozenset({"+8613812345678"})}
)


def test_tv73_three_consecutive_failed_attempts_open_the_emergency_contact():
    facts = with_ledger(
        HENAN_PHONES,
        call(1, "2025-07-15T01:00Z", outcome="no_answer", to="+8613812345678"),  # 09:00 Beijing
        call(2, "2025-07-15T03:00Z", outcome="busy", to="+8613812345678"),  # 11:00
        call(3, "2025-07-15T06:00Z", outcome="no_answer", to="+8613812345678"),  # 14:00
    )
    result = check(
        facts,
        at=z("2025-07-15T07:00Z"),
        to="+8613700000000",
        target_role="emergency_contact",
        purpose="locate_or_relay",
    )
    assert result.outcome == ALLOW
    assert result.inputs["unreachable"]["consecutive_failures"] == [1, 2, 3]  # the attempts it counted (CN-11)


def test_tv74_a_conversation_between_the_failures_resets_the_count():
    facts = with_ledger(
        HENAN_PHONES,
        call(1, "2025-07-15T01:00Z", outcome="no_answer", to="+8613812345678"),
        call(2, "2025-07-15T03:00Z", outcome="busy", to="+8613812345678"),
        call(5, "2025-07-15T04:00Z", outcome="conversation", to="+8613812345678"),  # 12:00
        call(3, "2025-07-15T06:00Z", outcome="no_answer", to="+8613812345678"),
    )
    result = check(
        facts,
        at=z("2025-07-15T07:00Z"),
        to="+8613700000000",
        target_role="emergency_contact",
        purpose="locate_or_relay",
    )
    assert result.outcome == DENY and result.reasons[0].rule == "CN-11"
    assert result.inputs["unreachable"] == {
        "consecutive_failures": [3],
        "needed": 3,
        "reset_by": 5,
        "own_numbers_invalid": False,
    }


UK = BorrowerFacts(
    6,
    zones=("Europe/London",),
    country="GB",
    phone_kinds={"+447700900123": "mobile"},
    sms_consent=frozenset({"+447700900123"}),
    restrictions=(RestrictionFact(9, "breathing_space", None, {"type": "standard", "started_on": "2025-06-02"}),),
)


def test_tv75_breathing_space_denies_the_sms_but_lets_the_statutory_letter_through():
    sms = check(UK, channel="sms", at=z("2025-07-15T11:00Z"), to="+447700900123", debts=(1,), content="Reply STOP")
    assert sms.outcome == DENY and [r.rule for r in sms.reasons] == ["BS-01"]
    letter = check(UK, channel="letter", at=z("2025-07-15T11:00Z"), to="", debts=(1,), purpose="statutory_notice")
    assert letter.outcome == ALLOW
    # The arrears notice the sweep plans for UK borrowers (CCA s.86B) is such a letter; the default notice, the first
    # step towards enforcement the scheme stops, is not.
    arrears = check(UK, channel="letter", at=z("2025-07-15T11:00Z"), to="", debts=(1,), purpose="arrears_notice")
    assert arrears.outcome == ALLOW
    default = check(UK, channel="letter", at=z("2025-07-15T11:00Z"), to="", debts=(1,), purpose="default_notice")
    assert default.outcome == DENY and [r.rule for r in default.reasons] == ["BS-01"]
