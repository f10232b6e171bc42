"""The messages planned in a window with what the managers' counts read (issue 14): an index-only scan for
/messages/ and /performance/ in place of the plain index on the planned time."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0010_voice_menu"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="outboundmessage", name="outbox_planned_for"),
        migrations.AddIndex(
            model_name="outboundmessage",
            index=models.Index(
                fields=["planned_for"],
                include=("case", "channel", "status", "send_started_at", "id"),
                name="outbox_planned_cover",
            ),
        ),
    ]
