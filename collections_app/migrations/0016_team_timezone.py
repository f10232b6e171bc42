"""A team's time zone (its members' pages default to it), and the roles re-synced with the user settings' permissions
(admins edit anyone's language and zone)."""

import core.models
from django.db import migrations, models


def sync_roles(apps, schema_editor):
    from core.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("collections_app", "0015_collector_calls"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="team",
            name="timezone",
            field=models.CharField(
                default="UTC",
                help_text="Where the team works: times on its members' pages are shown in this zone unless they chose one.",
                max_length=64,
                validators=[core.models.validate_zone],
                verbose_name="time zone",
            ),
        ),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
