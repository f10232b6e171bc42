"""REC-01 in the jurisdiction profiles: how a call is recorded, announced and kept, the profiles combined; the data
migration that published it as a new version of each current profile."""

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from compliance.engine import Profile
from compliance.models import JurisdictionProfile
from compliance.presets import PRESETS
from compliance.recording import recording_policy, years_after
from compliance.selectors import recording_policy_for
from tests.factories import DecisionFactory


def profile(code, recording=None, version=1):
    params = {"applies_to": {"countries": ["US"]}}
    if recording is not None:
        params["recording"] = recording
    return Profile(code, version, params)


def test_china_records_every_call_for_five_years_without_an_announcement():
    policy = recording_policy([Profile("CN_ONLINE_LENDING", 1, PRESETS["CN_ONLINE_LENDING"])])
    assert (policy.record, policy.disclosure, policy.retention_years, policy.mode) == (True, False, 5, "required")


def test_a_massachusetts_borrower_is_told_the_call_is_recorded_and_it_is_kept_three_years():
    policy = recording_policy(
        [Profile("US_FED_REGF", 1, PRESETS["US_FED_REGF"]), Profile("US_MA_STRICT", 1, PRESETS["US_MA_STRICT"])]
    )
    assert (policy.record, policy.disclosure, policy.retention_years) == (True, True, 3)
    assert policy.profiles == ("US_FED_REGF@1", "US_MA_STRICT@1")


def test_the_stricter_answer_wins_and_the_longest_retention_is_kept():
    required = {"mode": "required", "retention_years": 5}
    announced = {"mode": "allowed_with_disclosure", "retention_years": 3}
    off = {"mode": "off"}
    assert recording_policy([profile("A", required), profile("B", off)]).record  # a duty to record beats "off"
    assert not recording_policy([profile("A", announced), profile("B", off)]).record
    both = recording_policy([profile("A", required), profile("B", announced)])
    assert (both.record, both.disclosure, both.retention_years) == (True, True, 5)
    assert not recording_policy([profile("A"), profile("B")]).record  # no profile speaks: not recorded
    assert not recording_policy([Profile("UK_CONC", 1, PRESETS["UK_CONC"])]).record


def test_a_profile_that_records_must_say_how_long():
    row = JurisdictionProfile(code="X", params={"applies_to": {"countries": ["US"]}, "recording": {"mode": "required"}})
    with pytest.raises(ValidationError, match="retention_years"):
        row.clean()
    row.params["recording"] = {"mode": "off"}
    row.clean()
    row.params["recording"] = {"mode": "sometimes", "retention_years": 1}
    with pytest.raises(ValidationError, match="mode"):
        row.clean()


def test_retention_runs_in_calendar_years():
    assert years_after(dt.datetime(2024, 2, 29, 10, tzinfo=dt.UTC), 3) == dt.datetime(2027, 2, 28, 10, tzinfo=dt.UTC)
    assert years_after(dt.datetime(2026, 5, 1, tzinfo=dt.UTC), 5) == dt.datetime(2031, 5, 1, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_the_current_profiles_say_how_calls_are_recorded():
    current = {p.code: p.params.get("recording") for p in JurisdictionProfile.objects.filter(is_current=True)}
    assert current["CN_ONLINE_LENDING"] == {"mode": "required", "retention_years": 5, "rule": "REC-01"}
    assert current["US_FED_REGF"]["mode"] == current["US_MA_STRICT"]["mode"] == "allowed_with_disclosure"
    assert current["US_FED_REGF"]["retention_years"] == 3
    assert current["UK_CONC"] == {"mode": "off"}


@pytest.mark.django_db
def test_the_migration_publishes_recording_as_a_new_version_and_keeps_the_old_one():
    migration = importlib.import_module("compliance.migrations.0007_recording_profiles")
    # As a database migrated before REC-01 had it: version 1 of China's profile without recording, edited once.
    JurisdictionProfile.objects.filter(code="CN_ONLINE_LENDING").delete()
    without = {k: v for k, v in PRESETS["CN_ONLINE_LENDING"].items() if k != "recording"}
    JurisdictionProfile.objects.create(code="CN_ONLINE_LENDING", version=1, is_current=False, params=without)
    edited = {**without, "description": "edited by an admin"}
    JurisdictionProfile.objects.create(code="CN_ONLINE_LENDING", version=2, is_current=True, params=edited)

    migration.publish(apps, None)
    migration.publish(apps, None)  # run twice: nothing more

    versions = list(JurisdictionProfile.objects.filter(code="CN_ONLINE_LENDING").order_by("version"))
    assert [(p.version, p.is_current) for p in versions] == [(1, False), (2, False), (3, True)]
    assert versions[2].params == {**edited, "recording": PRESETS["CN_ONLINE_LENDING"]["recording"]}
    migration.unpublish(apps, None)
    assert JurisdictionProfile.objects.get(code="CN_ONLINE_LENDING", is_current=True).version == 2


@pytest.mark.django_db
def test_a_call_is_recorded_under_the_profile_versions_its_decision_applied():
    decision = DecisionFactory(profiles=["CN_ONLINE_LENDING@1"])
    assert recording_policy_for(decision=decision).retention_years == 5
    # A later edit does not change how an allowed call is recorded.
    JurisdictionProfile.objects.filter(code="CN_ONLINE_LENDING").update(is_current=False)
    params = {**PRESETS["CN_ONLINE_LENDING"], "recording": {"mode": "off"}}
    JurisdictionProfile.objects.create(code="CN_ONLINE_LENDING", version=2, is_current=True, params=params)
    assert recording_policy_for(decision=decision).record
    assert not recording_policy_for(decision=DecisionFactory(profiles=[])).record
