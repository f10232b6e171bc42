"""The California profile (``US_CA``, compliance.presets): letters to a California borrower show the lender's
licence number (Cal. Civ. Code 1788.11 as amended by SB 908). Seeded once as version 1; a database seeded after the
preset existed (0003 seeds every preset) has it already and is left alone."""

from django.db import migrations


def seed(apps, schema_editor):
    from jsonschema import Draft202012Validator

    from compliance.presets import PRESETS, SCHEMA

    Profile = apps.get_model("compliance", "JurisdictionProfile")
    if Profile.objects.filter(code="US_CA").exists():
        return
    Draft202012Validator(SCHEMA).validate(PRESETS["US_CA"])
    Profile.objects.create(code="US_CA", version=1, is_current=True, params=PRESETS["US_CA"])


def unseed(apps, schema_editor):
    apps.get_model("compliance", "JurisdictionProfile").objects.filter(code="US_CA").delete()


class Migration(migrations.Migration):
    dependencies = [("compliance", "0009_complaint_review_kind")]

    operations = [migrations.RunPython(seed, unseed)]
