"""The roles re-synced for the models added without it (``Dispute``, ``compliance.DebtClock``): the admin role reads
them in the Django admin (core.roles: every permission of the four apps)."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from core.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("collections_app", "0032_formal_notice_response_days"),
        ("compliance", "0015_merge_0014_collector_certification_0014_debt_clocks"),
        ("notifications", "0017_validation_and_verification"),
    ]

    operations = [
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
