"""Lifting a legal-status restriction becomes a permission of its own (managers and admins), and the roles re-sync."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from core.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0005_lean_indexes"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="restriction",
            options={
                "permissions": [
("lift_restriction", "Can lift any restriction (cease and desist, attorney, bankruptcy, opt-out…)")
                ],
                "verbose_name": "restriction",
                "verbose_name_plural": "restrictions",
            },
        ),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
