"""A hold cites the rule of the borrower's own jurisdiction: Regulation F's USF-20 for a US borrower's dispute, the
lender's policy (HOLD-DISPUTE, …) for a Chinese or UK borrower, whose catalogue has no such law; the data migration
that published ``hold_rules`` as a new version of the Chinese and UK profiles."""

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from compliance.engine import DENY, Attempt, BorrowerFacts, Profile, RestrictionFact, evaluate
from compliance.models import JurisdictionProfile
from compliance.presets import POLICY_HOLD_RULES, PRESETS

PROFILES = [Profile(code, 1, params) for code, params in PRESETS.items()]
AT = dt.datetime(2025, 6, 11, 4, 0, tzinfo=dt.UTC)  # midday in Beijing, midnight in New York: letters only
KINDS = ["cease_and_desist", "attorney_represented", "bankruptcy", "dispute", "deceased"]


def held(country: str, region: str, zone: str, kind: str) -> BorrowerFacts:
    return BorrowerFacts(1, zones=(zone,), country=country, region=region,
                         restrictions=(RestrictionFact(1, kind, loan_id=7),))  # fmt: skip


def cited(facts: BorrowerFacts, channel: str = "letter") -> list[tuple[str, str]]:
    result = evaluate(Attempt(channel=channel, at=AT, to="+8613800138000", debts=(7,)), facts, PROFILES)
    assert result.outcome == DENY
    return [(r.rule, r.profile) for r in result.reasons]


def test_a_chinese_borrowers_dispute_hold_cites_the_lenders_policy_not_regulation_f():
    facts = held("CN", "河南省", "Asia/Shanghai", "dispute")
    assert cited(facts) == [("HOLD-DISPUTE", "CN_ONLINE_LENDING")]
    assert cited(facts, channel="sms") == [("HOLD-DISPUTE", "CN_ONLINE_LENDING")]


def test_a_us_borrowers_dispute_hold_still_cites_regulation_f_once_per_profile():
    assert cited(held("US", "NY", "America/New_York", "dispute")) == [("USF-20", "US_FED_REGF")]
    assert cited(held("US", "MA", "America/New_York", "dispute")) == [
        ("USF-20", "US_FED_REGF"),
        ("USF-20", "US_MA_STRICT"),
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_outside_the_us_no_hold_cites_a_us_rule(kind):
    for country, region, zone in (("CN", "河南省", "Asia/Shanghai"), ("GB", "", "Europe/London")):
        rules = {rule for rule, _ in cited(held(country, region, zone, kind))}
        assert rules == {POLICY_HOLD_RULES[kind]}, (country, kind, rules)
        assert not any(rule.startswith(("USF-", "BK-")) for rule in rules)


@pytest.mark.django_db
def test_a_profile_names_its_hold_rules_only_for_known_hold_kinds():
    profile = JurisdictionProfile(code="CN_ONLINE_LENDING", params={**PRESETS["CN_ONLINE_LENDING"],
                                                                   "hold_rules": {"disputes": "X-1"}})  # fmt: skip
    with pytest.raises(ValidationError):
        profile.full_clean()


@pytest.mark.django_db
def test_the_migration_publishes_hold_rules_as_a_new_version_and_keeps_the_old_one():
    migration = importlib.import_module("compliance.migrations.0008_hold_rules")
    # As a database migrated before: China's profile without hold rules, edited once by an admin.
    JurisdictionProfile.objects.filter(code="CN_ONLINE_LENDING").delete()
    without = {k: v for k, v in PRESETS["CN_ONLINE_LENDING"].items() if k != "hold_rules"}
    JurisdictionProfile.objects.create(code="CN_ONLINE_LENDING", version=1, is_current=False, params=without)
    edited = {**without, "description": "edited by an admin"}
    JurisdictionProfile.objects.create(code="CN_ONLINE_LENDING", version=2, is_current=True, params=edited)
    us_before = JurisdictionProfile.objects.get(code="US_FED_REGF", is_current=True).version

    migration.publish(apps, None)
    migration.publish(apps, None)  # run twice: nothing more

    versions = list(JurisdictionProfile.objects.filter(code="CN_ONLINE_LENDING").order_by("version"))
    assert [(p.version, p.is_current) for p in versions] == [(1, False), (2, False), (3, True)]
    assert versions[2].params == {**edited, "hold_rules": POLICY_HOLD_RULES}
    assert JurisdictionProfile.objects.get(code="US_FED_REGF", is_current=True).version == us_before  # US: none
    migration.unpublish(apps, None)
    assert JurisdictionProfile.objects.get(code="CN_ONLINE_LENDING", is_current=True).version == 2
