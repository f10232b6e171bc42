"""Property-based tests of the evaluation core (hypothesis): caps hold, next_allowed_at is allowed, determinism."""

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from compliance.engine import REG_F_COUNTED, Attempt, BorrowerFacts, LedgerEvent, Profile, evaluate
from compliance.presets import PRESETS

PROFILES = [Profile(code, 1, params) for code, params in PRESETS.items()]
START = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)  # DST starts in the US on 2025-03-09: inside the range
NUMBER = "+16175550100"
PLACES = [
    (("America/New_York",), "US", "NY"),
    (("America/New_York",), "US", "MA"),
    (("America/New_York", "America/Los_Angeles"), "US", "CA"),
    (("Asia/Shanghai",), "CN", "河南省"),
]

events = st.lists(
    st.tuples(
        st.integers(0, 14 * 24 * 60),
        st.sampled_from(["conversation", "no_answer", "voicemail", "busy", "failed"]),
        st.sampled_from([(1,), (2,), ()]),
    ),
    max_size=25,
)


def build(place, history):
    zones, country, region = place
    ledger = tuple(
        LedgerEvent(
            id=i,
            channel="call",
            direction="outbound",
            at=START + dt.timedelta(minutes=m),
            outcome=o,
            to=NUMBER,
            debts=d,
        )
        for i, (m, o, d) in enumerate(sorted(history), start=1)
    )
    return BorrowerFacts(
        1,
        zones=zones,
        country=country,
        region=region,
        ledger=ledger,
        autodial_consent=frozenset({NUMBER}),
        sms_consent=frozenset({NUMBER}),
    )


attempts = st.tuples(st.sampled_from(PLACES), events, st.integers(0, 16 * 24 * 60), st.sampled_from([(1,), (2,)]))


@hsettings(max_examples=300, deadline=None)
@given(attempts)
def test_an_allowed_call_never_takes_a_cap_past_its_limit(case):
    place, history, minute, debts = case
    facts = build(place, [h for h in history if h[0] < minute])
    at = START + dt.timedelta(minutes=minute)
    result = evaluate(Attempt(channel="call", at=at, to=NUMBER, debts=debts), facts, PROFILES)
    if not result.allowed:
        return
    zone = facts.zones[0]
    today = at.astimezone(ZoneInfo(zone)).date()
    relevant = [e for e in facts.ledger if not e.debts or set(e.debts) & set(debts)]
    if place[1] == "US":
        local = [e.at.astimezone(ZoneInfo(zone)).date() for e in relevant if e.outcome in REG_F_COUNTED]
        assert sum(1 for d in local if today - dt.timedelta(days=6) <= d <= today) + 1 <= 7
        conversations = [e.at.astimezone(ZoneInfo(zone)).date() for e in relevant if e.outcome == "conversation"]
        assert all(today >= c + dt.timedelta(days=7) for c in conversations)
    if place[2] == "MA":
        recent = [e for e in relevant if e.outcome != "failed" and at - dt.timedelta(days=7) < e.at <= at]
        assert len(recent) + 1 <= 2
    if place[1] == "CN":
        same_day = [e for e in facts.ledger if e.at.astimezone(ZoneInfo(zone)).date() == today]
        assert sum(e.outcome == "conversation" for e in same_day) + 1 <= 3
        assert sum(e.outcome in ("no_answer", "busy", "voicemail", "failed") for e in same_day) + 1 <= 6


@hsettings(max_examples=300, deadline=None)
@given(attempts, st.sampled_from(["call", "sms", "visit"]))
def test_the_next_allowed_instant_is_itself_allowed(case, channel):
    place, history, minute, debts = case
    facts = build(place, [h for h in history if h[0] < minute])
    attempt = Attempt(
        channel=channel,
        at=START + dt.timedelta(minutes=minute),
        to=NUMBER,
        debts=debts,
        content="Reply STOP to opt out",
        collectors=2,
    )
    result = evaluate(attempt, facts, PROFILES)
    if result.next_allowed_at is not None:
        assert result.next_allowed_at > attempt.at
        later = evaluate(Attempt(**{**attempt.__dict__, "at": result.next_allowed_at}), facts, PROFILES)
        assert later.allowed, later.reasons


@hsettings(max_examples=100, deadline=None)
@given(attempts)
def test_evaluation_is_deterministic(case):
    place, history, minute, debts = case
    facts = build(place, history)
    attempt = Attempt(channel="call", at=START + dt.timedelta(minutes=minute), to=NUMBER, debts=debts)
    first, second = evaluate(attempt, facts, PROFILES), evaluate(attempt, facts, PROFILES)
    assert (first.outcome, first.reasons, first.next_allowed_at, first.inputs) == (
        second.outcome,
        second.reasons,
        second.next_allowed_at,
        second.inputs,
    )
