"""Our own boundary cases around each rule: window edges to the second, DST starts, two zones, day 7 and 8."""

import datetime as dt

import pytest

from compliance.engine import ALLOW, DEFER, Attempt, BorrowerFacts, LedgerEvent, Profile, evaluate
from compliance.presets import PRESETS

PROFILES = [Profile(code, 1, params) for code, params in PRESETS.items()]
NY = BorrowerFacts(1, zones=("America/New_York",), country="US", region="NY")
TWO_ZONES = BorrowerFacts(2, zones=("America/New_York", "America/Los_Angeles"), country="US", region="NY")


def at(text):
    return dt.datetime.fromisoformat(text)


def outcome(facts, when, **kw):
    return evaluate(Attempt(channel=kw.pop("channel", "call"), at=at(when), to="+12125550100", **kw), facts, PROFILES)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2025-06-04T08:00:00-04:00", DEFER),
        ("2025-06-04T08:00:01-04:00", ALLOW),
        ("2025-06-04T20:59:59-04:00", ALLOW),
        ("2025-06-04T21:00:00-04:00", DEFER),
    ],
)
def test_the_second_before_and_after_each_window_edge(when, expected):
    assert outcome(NY, when).outcome == expected


def test_dst_start_a_stale_winter_offset_would_allow_a_call_at_7_30():
    # 2025-03-09: clocks jump from 02:00 EST to 03:00 EDT. 11:30Z is 07:30 EDT (it would be 06:30 EST).
    assert outcome(NY, "2025-03-09T11:30:00+00:00").outcome == DEFER
    assert outcome(NY, "2025-03-09T12:30:00+00:00").outcome == ALLOW  # 08:30 EDT


def test_two_candidate_zones_both_must_be_inside_the_window():
    # 11:00 in New York is 08:00 in Los Angeles: the boundary there is excluded.
    result = outcome(TWO_ZONES, "2025-06-04T11:00:00-04:00")
    assert result.outcome == DEFER and "America/Los_Angeles" in result.reasons[0].message
    assert result.next_allowed_at == at("2025-06-04T08:01:00-07:00")
    # 21:00 in New York closes the window although it is only 18:00 in Los Angeles.
    assert outcome(TWO_ZONES, "2025-06-04T21:00:00-04:00").outcome == DEFER


def test_letters_are_exempt_from_the_clock_but_not_from_holds():
    assert outcome(NY, "2025-06-04T23:30:00-04:00", channel="letter").outcome == ALLOW


def test_the_conversation_quiet_period_ends_at_the_start_of_day_eight():
    talk = LedgerEvent(1, "call", "outbound", at("2025-06-03T10:00:00-04:00"), "conversation", debts=(1,))
    facts = BorrowerFacts(**{**NY.__dict__, "ledger": (talk,)})
    assert outcome(facts, "2025-06-09T20:00:00-04:00", debts=(1,)).outcome == DEFER  # day 7
    assert outcome(facts, "2025-06-10T08:30:00-04:00", debts=(1,)).outcome == ALLOW  # day 8


def test_busy_and_failed_calls_do_not_count_towards_seven_in_seven():
    calls = tuple(
        LedgerEvent(
            i, "call", "outbound", at(f"2025-06-0{i}T10:00:00-04:00"), "busy" if i % 2 else "failed", debts=(1,)
        )
        for i in range(1, 9)
    )
    facts = BorrowerFacts(**{**NY.__dict__, "ledger": calls})
    assert outcome(facts, "2025-06-08T12:00:00-04:00", debts=(1,)).outcome == ALLOW


def test_a_borrower_outside_every_profile_goes_to_review():
    facts = BorrowerFacts(3, zones=("Asia/Tokyo",), country="JP")
    assert outcome(facts, "2025-06-04T12:00:00+09:00").outcome == "review"
