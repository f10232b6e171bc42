"""Seed the jurisdiction profiles (compliance.presets), version 1."""

from django.db import migrations


def seed(apps, schema_editor):
    from core.roles import sync_role_groups
    from compliance.presets import PRESETS

    Profile = apps.get_model("compliance", "JurisdictionProfile")
    for code, params in PRESETS.items():
        if not Profile.objects.filter(code=code).exists():
            Profile.objects.create(code=code, version=1, is_current=True, params=params)
    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0002_gate"), ("collections_app", "0005_sweeprun_loan_id_max")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
