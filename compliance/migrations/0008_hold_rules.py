"""Outside the US a hold cites the lender's policy, not a US rule: the current Chinese and UK jurisdiction profiles get
their ``hold_rules`` (compliance.presets.POLICY_HOLD_RULES: a Chinese borrower's dispute hold said USF-20, Regulation
F's rule), published as a new version of each through the versioning every admin edit uses, so decisions made before
keep the version they were made under. A profile whose current version already names its hold rules is left alone (a
fresh database seeds the presets with them), and so are profiles the presets give none."""

from django.db import migrations


def publish(apps, schema_editor):
    from jsonschema import Draft202012Validator

    from compliance.presets import PRESETS, SCHEMA
    from loans.versioning import version_publish

    Profile = apps.get_model("compliance", "JurisdictionProfile")
    for code, preset in PRESETS.items():
        current = Profile.objects.filter(code=code, is_current=True).first()
        if current is None or "hold_rules" in current.params or "hold_rules" not in preset:
            continue
        params = {**current.params, "hold_rules": preset["hold_rules"]}
        Draft202012Validator(SCHEMA).validate(params)  # the historical model does not carry the schema check
        version_publish(instance=Profile(code=code, params=params), scope={"code": code}, actor=None)


def unpublish(apps, schema_editor):
    """Back to the versions before: a current version that differs from the one before it only by ``hold_rules``
    is removed and the one before it is current again."""
    Profile = apps.get_model("compliance", "JurisdictionProfile")
    for current in Profile.objects.filter(is_current=True):
        before = Profile.objects.filter(code=current.code, version=current.version - 1).first()
        without = {k: v for k, v in current.params.items() if k != "hold_rules"}
        if before is not None and "hold_rules" not in before.params and before.params == without:
            current.delete()
            Profile.objects.filter(pk=before.pk).update(is_current=True)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0007_recording_profiles")]

    operations = [migrations.RunPython(publish, unpublish)]
