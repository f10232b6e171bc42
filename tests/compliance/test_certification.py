"""CERT-01: under CN_ONLINE_LENDING a manual contact needs everyone making it to hold a training record in force
(the pure core, with the facts passed in), the gate loads those records only when a profile requires them (the
database), automated contacts and US borrowers are not concerned, and the service records and checks them."""

import datetime as dt

import pytest
import time_machine

from compliance.engine import (
    ALLOW,
    DENY,
    Attempt,
    BorrowerFacts,
    CertificationFact,
    Profile,
    StaffFact,
    add_months,
    evaluate,
)
from compliance.models import CollectorCertification, Decision
from compliance.presets import PRESETS
from compliance.services import CertificationInvalid, certification_record, certification_withdraw, contact_check
from tests.factories import BorrowerFactory, CertificationFactory, PhoneFactory, user_with_role

PROFILES = [Profile(code, 1, params) for code, params in PRESETS.items()]
NOON_BEIJING = dt.datetime(2025, 6, 4, 4, 0, tzinfo=dt.UTC)  # 12:00 in Beijing, a Wednesday
MOBILE_CN = "+8613800138000"
MOBILE_US = "+16175550100"


def cn_facts():
    return BorrowerFacts(1, zones=("Asia/Shanghai",), country="CN", phone_kinds={MOBILE_CN: "mobile"})


def staff(*records, user_id=42):
    return (StaffFact(user_id, tuple(CertificationFact(n, p, e) for n, (p, e) in enumerate(records, 1))),)


def cn_call(*records, at=NOON_BEIJING, **attempt):
    return evaluate(
        Attempt(channel="call", at=at, to=MOBILE_CN, debts=(1,), actor_id=42, staff=staff(*records), **attempt),
        cn_facts(),
        PROFILES,
    )


def cert_reasons(result):
    return [r for r in result.reasons if r.rule == "CERT-01"]


# ---------------------------------------------------------------------------------------------------------------
# The pure core
# ---------------------------------------------------------------------------------------------------------------
def test_a_certified_collectors_call_in_china_is_allowed_and_the_inputs_say_whom_it_checked():
    result = cn_call((dt.date(2025, 1, 10), dt.date(2026, 1, 9)))
    assert result.outcome == ALLOW and not cert_reasons(result)
    assert result.inputs["certification"] == {"day": "2025-06-04", "staff": [42], "uncertified": []}


def test_an_uncertified_collector_is_denied_with_cert_01_in_both_languages():
    result = cn_call()
    assert result.outcome == DENY
    (reason,) = cert_reasons(result)
    assert reason.profile == "CN_ONLINE_LENDING"
    assert "training" in reason.message and "培训" in reason.message_zh
    assert result.inputs["certification"]["uncertified"] == [42]


def test_an_expired_record_does_not_count_and_the_last_day_is_still_valid_in_beijing_time():
    record = (dt.date(2024, 6, 4), dt.date(2025, 6, 3))
    assert cn_call(record).outcome == DENY  # expired yesterday
    # 23:30 on 2025-06-03 in Beijing is 15:30 UTC the same day: the record's last day there.
    late = dt.datetime(2025, 6, 3, 13, 30, tzinfo=dt.UTC)  # 21:30 Beijing, inside the hours
    assert cn_call(record, at=late).outcome == ALLOW
    # 00:30 on 2025-06-04 in Beijing is still 2025-06-03 in UTC: Beijing's day decides (outside the hours anyway).
    assert cert_reasons(cn_call(record, at=dt.datetime(2025, 6, 3, 16, 30, tzinfo=dt.UTC)))


def test_a_record_typed_with_a_longer_expiry_still_needs_renewing_after_the_profiles_twelve_months():
    assert cn_call((dt.date(2024, 5, 1), dt.date(2027, 5, 1))).outcome == DENY
    assert cn_call((dt.date(2024, 6, 5), dt.date(2027, 5, 1))).outcome == ALLOW  # 12 months end on 2025-06-04


def test_a_record_passed_after_the_day_does_not_count_yet():
    assert cn_call((dt.date(2025, 6, 5), dt.date(2026, 6, 4))).outcome == DENY


def test_automated_contacts_are_not_concerned_but_a_text_a_collector_sends_is():
    reminder = evaluate(
        Attempt(channel="sms", at=NOON_BEIJING, to=MOBILE_CN, debts=(1,), automated=True), cn_facts(), PROFILES
    )
    assert not cert_reasons(reminder) and "certification" not in reminder.inputs
    # The case page's "send SMS": a template the system sends (automated for TCPA), at a collector's request.
    asked = evaluate(
        Attempt(channel="sms", at=NOON_BEIJING, to=MOBILE_CN, debts=(1,), automated=True, staff=staff()),
        cn_facts(),
        PROFILES,
    )
    assert [r.outcome for r in cert_reasons(asked)] == [DENY]


def test_not_required_under_us_fed():
    facts = BorrowerFacts(2, zones=("America/New_York",), country="US", region="NY", phone_kinds={MOBILE_US: "mobile"})
    at = dt.datetime(2025, 6, 4, 16, 0, tzinfo=dt.UTC)  # noon in New York
    result = evaluate(Attempt(channel="call", at=at, to=MOBILE_US, debts=(1,), staff=staff()), facts, PROFILES)
    assert not cert_reasons(result) and "certification" not in result.inputs


def test_every_visitor_must_be_certified():
    valid = CertificationFact(1, dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    people = (StaffFact(1, (valid,)), StaffFact(2, ()))
    result = evaluate(
        Attempt(channel="visit", at=NOON_BEIJING, debts=(1,), collectors=2, staff=people), cn_facts(), PROFILES
    )
    assert cert_reasons(result) and result.inputs["certification"]["uncertified"] == [2]


def test_add_months_keeps_the_day_or_takes_the_months_last():
    assert add_months(dt.date(2025, 1, 31), 1) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2025, 11, 15), 3) == dt.date(2026, 2, 15)


# ---------------------------------------------------------------------------------------------------------------
# The gate with the database
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture
def cn_borrower(db):
    borrower = BorrowerFactory(country="CN", region="河南省", time_zones=["Asia/Shanghai"], language="zh-hans")
    PhoneFactory(borrower=borrower, number=MOBILE_CN)
    return borrower


@pytest.mark.django_db
def test_the_gate_denies_an_uncertified_collectors_call_and_stores_the_decision(cn_borrower):
    collector = user_with_role("collector", "wang")
    with time_machine.travel(NOON_BEIJING, tick=False):
        decision, result = contact_check(borrower_id=cn_borrower.pk, channel="call", actor=collector, reserve=True)
    assert not result.allowed and decision.outcome == DENY
    assert [r["rule"] for r in decision.reasons] == ["CERT-01"]
    assert decision.reasons[0]["message_zh"].startswith("该催收员")
    assert decision.inputs["certification"]["uncertified"] == [collector.pk]
    assert Decision.objects.filter(actor=collector, allowed=False).count() == 1


@pytest.mark.django_db
def test_the_gate_allows_a_certified_collector_and_refuses_again_once_expired_or_withdrawn(cn_borrower):
    collector = user_with_role("collector", "wang")
    record = CertificationFactory(collector=collector, passed_on=dt.date(2025, 1, 2), expires_on=dt.date(2026, 1, 1))
    with time_machine.travel(NOON_BEIJING, tick=False):
        assert contact_check(borrower_id=cn_borrower.pk, channel="call", actor=collector)[1].allowed
    with time_machine.travel(dt.datetime(2026, 1, 2, 4, tzinfo=dt.UTC), tick=False):
        _, later = contact_check(borrower_id=cn_borrower.pk, channel="call", actor=collector)
    assert [r.rule for r in later.reasons] == ["CERT-01"]
    certification_withdraw(certification_id=record.pk, actor=user_with_role("manager", "liu"))
    with time_machine.travel(NOON_BEIJING, tick=False):
        assert not contact_check(borrower_id=cn_borrower.pk, channel="call", actor=collector)[1].allowed


@pytest.mark.django_db
def test_the_gate_leaves_automated_contacts_and_us_borrowers_alone(cn_borrower):
    collector = user_with_role("collector", "casey")
    with time_machine.travel(NOON_BEIJING, tick=False):
        _, automated = contact_check(borrower_id=cn_borrower.pk, channel="call", automated=True, actor=collector)
    assert "CERT-01" not in {r.rule for r in automated.reasons}
    us = BorrowerFactory(country="US", region="NY", time_zones=["America/New_York"])
    PhoneFactory(borrower=us, number=MOBILE_US)
    with time_machine.travel(dt.datetime(2025, 6, 4, 16, tzinfo=dt.UTC), tick=False):
        _, result = contact_check(borrower_id=us.pk, channel="call", actor=collector)
    assert result.allowed and "certification" not in result.inputs


@pytest.mark.django_db
def test_recording_a_certificate_checks_its_fields_and_lasts_the_profiles_validity():
    collector, manager = user_with_role("collector", "wang"), user_with_role("manager", "liu")
    with time_machine.travel(NOON_BEIJING, tick=False):
        record = certification_record(
            collector=collector, course=" 催收合规培训 ", passed_on=dt.date(2025, 2, 28), actor=manager
        )
        assert (record.course, record.expires_on, record.recorded_by) == ("催收合规培训", dt.date(2026, 2, 27), manager)
        for fields, field in [
            ({"course": "  "}, "course"),
            ({"passed_on": None}, "passed_on"),
            ({"passed_on": dt.date(2025, 6, 5)}, "passed_on"),
            ({"expires_on": dt.date(2025, 1, 1)}, "expires_on"),
        ]:
            with pytest.raises(CertificationInvalid) as refused:
                certification_record(
                    **{"collector": collector, "course": "x", "passed_on": dt.date(2025, 2, 1), "actor": manager}
                    | fields
                )
            assert refused.value.field == field
    assert CollectorCertification.objects.count() == 1
