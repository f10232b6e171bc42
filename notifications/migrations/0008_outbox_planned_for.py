"""The messages planned in a window, whatever their status (the managers' /performance/ and /messages/ pages read a
month of them; the table otherwise had only the outbox's partial index on the messages still due)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0007_reminders_list_loans"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="outboundmessage",
            index=models.Index(fields=["planned_for"], name="outbox_planned_for"),
        ),
    ]
