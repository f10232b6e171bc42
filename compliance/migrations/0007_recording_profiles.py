"""REC-01: the current jurisdiction profiles get their ``recording`` parameters (compliance.presets), published as a
new version of each through the versioning every admin edit uses, so decisions made before keep the version they
were made under. A profile whose current version already says how calls are recorded is left alone (a fresh
database seeds the presets with it), and so are profiles the presets do not know."""

from django.db import migrations


def publish(apps, schema_editor):
    from jsonschema import Draft202012Validator

    from compliance.presets import PRESETS, SCHEMA
    from loans.versioning import version_publish

    Profile = apps.get_model("compliance", "JurisdictionProfile")
    for code, preset in PRESETS.items():
        current = Profile.objects.filter(code=code, is_current=True).first()
        if current is None or "recording" in current.params or "recording" not in preset:
            continue
        params = {**current.params, "recording": preset["recording"]}
        Draft202012Validator(SCHEMA).validate(params)  # the historical model does not carry the schema check
        version_publish(instance=Profile(code=code, params=params), scope={"code": code}, actor=None)


def unpublish(apps, schema_editor):
    """Back to the versions before: a current version that differs from the one before it only by ``recording``
    is removed and the one before it is current again."""
    Profile = apps.get_model("compliance", "JurisdictionProfile")
    for current in Profile.objects.filter(is_current=True):
        before = Profile.objects.filter(code=current.code, version=current.version - 1).first()
        without = {k: v for k, v in current.params.items() if k != "recording"}
        if before is not None and "recording" not in before.params and before.params == without:
            current.delete()
            Profile.objects.filter(pk=before.pk).update(is_current=True)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0006_lift_restriction_permission")]

    operations = [migrations.RunPython(publish, unpublish)]
