"""NYC-01, WA-01, CN-11 and BS-01 against the pure evaluation core (RULES.md §2.4, §2.8), around each boundary."""

import datetime as dt
import importlib

import pytest
from django.apps import apps

from compliance.engine import (
    ALLOW,
    DEFER,
    DENY,
    Attempt,
    BorrowerFacts,
    LedgerEvent,
    Profile,
    RestrictionFact,
    applicable,
    evaluate,
)
from compliance.models import JurisdictionProfile
from compliance.presets import PRESETS

PROFILES = [Profile(code, 1, params) for code, params in PRESETS.items()]
NYC_MOBILE, NYC_EMAIL = "+12125550100", "ana@example.com"
NYC = BorrowerFacts(
    1,
    zones=("America/New_York",),
    country="US",
    region="NY",
    city="Brooklyn",
    phone_kinds={NYC_MOBILE: "mobile"},
    email_kinds={NYC_EMAIL: "personal"},
    sms_consent=frozenset({NYC_MOBILE}),
    written_consent=frozenset({NYC_MOBILE, NYC_EMAIL}),
)
WA_MOBILE, WA_WORK = "+12065550100", "+12065550199"
WA = BorrowerFacts(
    2,
    zones=("America/Los_Angeles",),
    country="US",
    region="WA",
    phone_kinds={WA_MOBILE: "mobile", WA_WORK: "work"},
)
CN_MOBILE = "+8613812345678"
CN = BorrowerFacts(3, zones=("Asia/Shanghai",), country="CN", phone_kinds={CN_MOBILE: "mobile"})


def z(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def event(id_, channel, at, outcome="no_answer", to=NYC_MOBILE, debts=(1,), direction="outbound"):
    return LedgerEvent(id_, channel, direction, z(at), outcome, to, debts)


def check(facts, *events, **attempt):
    attempt.setdefault("channel", "call")
    facts = BorrowerFacts(**{**facts.__dict__, "ledger": tuple(events)})
    return evaluate(Attempt(**attempt), facts, PROFILES)


# NYC-01 ---------------------------------------------------------------------------------------------------------
def test_nyc_applies_by_city_and_not_to_the_rest_of_the_state():
    codes = {p.code for p in applicable(PROFILES, "US", "NY", "Brooklyn")}
    assert codes == {"US_FED_REGF", "US_NYC_DCWP"}
    assert {p.code for p in applicable(PROFILES, "US", "NY", "Buffalo")} == {"US_FED_REGF"}
    assert {p.code for p in applicable(PROFILES, "US", "WA", "Seattle")} == {"US_FED_REGF", "US_WA"}


def test_nyc_three_contacts_or_attempts_in_seven_days_across_channels_per_account():
    past = (
        event(1, "call", "2025-06-02T15:00Z"),  # unanswered: an attempt counts
        event(2, "sms", "2025-06-03T15:00Z", outcome="delivered"),
        event(3, "email", "2025-06-04T15:00Z", outcome="sent", to=NYC_EMAIL),
    )
    result = check(NYC, *past, at=z("2025-06-05T15:00Z"), to=NYC_MOBILE, debts=(1,))
    assert result.outcome == DEFER and [r.rule for r in result.reasons] == ["NYC-01"]
    assert result.inputs["contact_cap"]["1:all"]["events"] == [1, 2, 3]
    # Rolling 7 days: the first attempt leaves the window one second after 06-09 15:00Z, and the call is allowed then.
    assert result.next_allowed_at == z("2025-06-09T15:00:01Z")
    # Another account is not capped by these attempts (per account).
    assert check(NYC, *past, at=z("2025-06-05T15:00Z"), to=NYC_MOBILE, debts=(2,)).outcome == ALLOW
    # A failed call (never placed) is not an attempt.
    failed = (event(1, "call", "2025-06-02T15:00Z", outcome="failed"), *past[1:])
    assert check(NYC, *failed, at=z("2025-06-05T15:00Z"), to=NYC_MOBILE, debts=(1,)).outcome == ALLOW


def test_nyc_e_mail_and_texts_need_written_consent():
    without = BorrowerFacts(**{**NYC.__dict__, "written_consent": frozenset()})
    for channel, to in (("sms", NYC_MOBILE), ("email", NYC_EMAIL)):
        refused = check(without, channel=channel, at=z("2025-06-05T15:00Z"), to=to, content="Reply STOP to opt out")
        assert refused.outcome == DENY and "NYC-01" in [r.rule for r in refused.reasons]
        allowed = check(NYC, channel=channel, at=z("2025-06-05T15:00Z"), to=to, content="Reply STOP to opt out")
        assert allowed.outcome == ALLOW
    # A call needs none.
    assert check(without, at=z("2025-06-05T15:00Z"), to=NYC_MOBILE).outcome == ALLOW


# WA-01 ----------------------------------------------------------------------------------------------------------
def test_wa_one_contact_a_week_at_work_three_in_any_form():
    at_work = event(1, "call", "2025-06-02T18:00Z", to=WA_WORK)
    refused = check(WA, at_work, at=z("2025-06-04T18:00Z"), to=WA_WORK, to_kind="work")
    assert refused.outcome == DEFER and [r.rule for r in refused.reasons] == ["WA-01"]
    assert refused.inputs["contact_cap"]["any:work"]["events"] == [1]
    # The home number is still open (1 of 3).
    assert check(WA, at_work, at=z("2025-06-04T18:00Z"), to=WA_MOBILE).outcome == ALLOW
    three = (
        at_work,
        event(2, "sms", "2025-06-03T18:00Z", "delivered", WA_MOBILE),
        event(3, "call", "2025-06-03T19:00Z", to=WA_MOBILE),
    )
    assert check(WA, *three, at=z("2025-06-04T18:00Z"), to=WA_MOBILE).reasons[0].rule == "WA-01"


def test_wa_home_hours_start_at_7_30_but_the_federal_8_am_governs():
    result = check(WA, at=z("2025-06-04T14:45Z"), to=WA_MOBILE)  # 07:45 PDT
    assert result.outcome == DEFER and [r.rule for r in result.reasons] == ["USF-01"]
    early = check(WA, at=z("2025-06-04T14:15Z"), to=WA_MOBILE)  # 07:15 PDT: both windows object
    assert {r.rule for r in early.reasons} == {"USF-01", "WA-01"}


# CN-11 ----------------------------------------------------------------------------------------------------------
def contact(facts, *events, at="2025-07-15T07:00Z"):
    return check(
        facts, *events, at=z(at), to="+8613700000000", target_role="emergency_contact", purpose="locate_or_relay"
    )


def test_cn11_two_failures_are_not_enough_the_third_opens_the_contact():
    two = (
        event(1, "call", "2025-07-15T01:00Z", to=CN_MOBILE),
        event(2, "call", "2025-07-15T02:00Z", "busy", CN_MOBILE),
    )
    assert contact(CN, *two).outcome == DENY
    third = event(3, "call", "2025-07-15T03:00Z", "voicemail", CN_MOBILE)
    assert contact(CN, *two, third).outcome == ALLOW
    # Days do not matter any more: three failures over three days count too.
    spread = [event(i, "call", f"2025-07-1{i}T03:00Z", to=CN_MOBILE) for i in (2, 3, 4)]
    assert contact(CN, *spread).outcome == ALLOW


def test_cn11_an_inbound_contact_resets_the_count():
    failures = [event(i, "call", f"2025-07-15T0{i}:00Z", to=CN_MOBILE) for i in (1, 2, 3)]
    inbound = event(9, "sms", "2025-07-15T04:00Z", "delivered", CN_MOBILE, direction="inbound")
    result = contact(CN, *failures, inbound)
    assert result.outcome == DENY and result.inputs["unreachable"]["reset_by"] == 9
    # A contact asked about the debt itself is refused even when unreachable.
    assert (
        check(
            CN, *failures, at=z("2025-07-15T07:00Z"), to="+8613700000000", target_role="emergency_contact", purpose=""
        ).outcome
        == DENY
    )


# BS-01 ----------------------------------------------------------------------------------------------------------
def test_breathing_space_denies_every_collection_contact_but_not_the_statutory_notice_or_the_attorney():
    space = RestrictionFact(7, "breathing_space", None, {"type": "mental_health_crisis"})
    facts = BorrowerFacts(**{**NYC.__dict__, "restrictions": (space,)})
    for channel in ("call", "sms", "email", "visit"):
        to = NYC_EMAIL if channel == "email" else NYC_MOBILE
        result = check(facts, channel=channel, at=z("2025-06-05T15:00Z"), to=to, content="STOP", debts=(1,))
        assert result.outcome == DENY and "BS-01" in [r.rule for r in result.reasons]
        assert result.inputs["breathing_space"] == [7]
    notice = check(facts, channel="letter", at=z("2025-06-05T15:00Z"), purpose="statutory_notice", debts=(1,))
    assert notice.outcome == ALLOW
    assert check(facts, channel="letter", at=z("2025-06-05T15:00Z"), debts=(1,)).outcome == DENY
    lawyer = check(facts, at=z("2025-06-05T15:00Z"), to="+12125550999", target_role="attorney", debts=(1,))
    assert "BS-01" not in [r.rule for r in lawyer.reasons]
    # A breathing space on another loan leaves this one alone.
    other = BorrowerFacts(**{**NYC.__dict__, "restrictions": (RestrictionFact(8, "breathing_space", 2, {}),)})
    assert check(other, at=z("2025-06-05T15:00Z"), to=NYC_MOBILE, debts=(1,)).outcome == ALLOW


# The data migration -----------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_migration_publishes_the_conduct_profiles_and_new_versions_and_takes_them_back():
    migration = importlib.import_module("compliance.migrations.0011_conduct_profiles")
    # As a database migrated before: China by days, the UK without FB-01, no NYC / WA / EU profiles.
    JurisdictionProfile.objects.filter(code__in=["CN_ONLINE_LENDING", "UK_CONC", *migration.NEW_CODES]).delete()
    china = {**PRESETS["CN_ONLINE_LENDING"], "third_parties": {"unreachable_after_days": 3, "rule": "CN-05"}}
    JurisdictionProfile.objects.create(code="CN_ONLINE_LENDING", version=4, is_current=True, params=china)
    uk = {k: v for k, v in PRESETS["UK_CONC"].items() if k != "forbearance_before_enforcement"}
    JurisdictionProfile.objects.create(code="UK_CONC", version=2, is_current=True, params=uk)
    us_before = JurisdictionProfile.objects.get(code="US_FED_REGF", is_current=True).version

    migration.publish(apps, None)
    migration.publish(apps, None)  # run twice: nothing more

    current = {p.code: p for p in JurisdictionProfile.objects.filter(is_current=True)}
    assert current["CN_ONLINE_LENDING"].version == 5
    assert current["CN_ONLINE_LENDING"].params["third_parties"] == {
        "unreachable_after_consecutive_failures": 3,
        "rule": "CN-05",
    }
    assert current["UK_CONC"].version == 3 and current["UK_CONC"].params["forbearance_before_enforcement"]["required"]
    assert {code: current[code].version for code in migration.NEW_CODES} == {c: 1 for c in migration.NEW_CODES}
    assert current["US_FED_REGF"].version == us_before
    migration.unpublish(apps, None)
    current = {p.code: p.version for p in JurisdictionProfile.objects.filter(is_current=True)}
    assert current["CN_ONLINE_LENDING"] == 4 and current["UK_CONC"] == 2
    assert not set(migration.NEW_CODES) & set(current)


@pytest.mark.django_db
def test_the_gate_loads_the_city_and_the_written_consent_until_an_opt_out_revokes_it():
    from compliance.services import consent_record, facts_load
    from tests.factories import BorrowerFactory, EmailFactory

    borrower = BorrowerFactory(country="US", region="NY", city="Brooklyn")
    email = EmailFactory(borrower=borrower).address
    consent_record(borrower_id=borrower.pk, medium="email", address=email, kind="written_consent", source="collector")
    facts = facts_load([borrower.pk], at=z("2026-10-01T15:00Z"))[0][borrower.pk]
    assert facts.city == "Brooklyn" and facts.written_consent == {email}
    consent_record(borrower_id=borrower.pk, medium="email", address=email, kind="opt_out", source="inbound_email")
    assert facts_load([borrower.pk], at=z("2026-10-01T15:00Z"))[0][borrower.pk].written_consent == frozenset()


@pytest.mark.django_db
def test_a_written_consent_is_recorded_through_the_api_for_the_borrowers_own_addresses_only():
    from django.urls import reverse

    from tests.factories import BorrowerFactory, EmailFactory, api_for, make_case, overdue_loan, user_with_role

    collector = user_with_role("collector", "casey")
    borrower = BorrowerFactory(country="US", region="NY", city="Queens")
    make_case(loan=overdue_loan(borrower=borrower), assigned_to=collector)
    email = EmailFactory(borrower=borrower).address
    client, url = api_for(collector), reverse("api-borrower-consents", args=[borrower.pk])
    given = client.post(url, {"medium": "email", "address": email, "kind": "written_consent", "text": "signed form"},
                        format="json")  # fmt: skip
    assert given.status_code == 201 and given.json()["kind"] == "written_consent"
    assert client.post(url, {"medium": "email", "address": "x@example.com", "kind": "written_consent"},
                       format="json").status_code == 400  # fmt: skip
    assert [e["kind"] for e in client.get(url).json()] == ["written_consent"]
    facts = facts_load_one(borrower.pk)
    assert facts.written_consent == {email}


def facts_load_one(borrower_id):
    from compliance.services import facts_load

    return facts_load([borrower_id], at=z("2026-10-01T15:00Z"))[0][borrower_id]
