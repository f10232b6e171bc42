from django.db import migrations


def sync_roles(apps, schema_editor):
    from core.roles import sync_role_groups

    sync_role_groups(apps)  # admins see and lift provider pauses (notifications.*)


class Migration(migrations.Migration):

    dependencies = [
        ('collections_app', '0011_callback'),
        ('notifications', '0005_recovery'),
    ]

    operations = [
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
