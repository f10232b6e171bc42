"""What the loan owed when each case opened (days past due and amount overdue), for the KPIs (docs/kpis.md): the
cure rate by entry bucket and the liquidation rate. Cases opened before this migration get their case's current
figures, the best estimate the database holds."""

from decimal import Decimal

from django.db import migrations, models
from django.db.models import F


def backfill(apps, schema_editor):
    apps.get_model("collections_app", "CollectionCase").objects.update(
        entry_days_past_due=F("days_past_due"), entry_amount_overdue=F("amount_overdue")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("collections_app", "0016_team_timezone"),
    ]

    operations = [
        migrations.AddField(
            model_name="collectioncase",
            name="entry_days_past_due",
            field=models.PositiveIntegerField(default=0, verbose_name="days past due at opening"),
        ),
        migrations.AddField(
            model_name="collectioncase",
            name="entry_amount_overdue",
            field=models.DecimalField(
                decimal_places=2, default=Decimal("0.00"), max_digits=14, verbose_name="amount overdue at opening"
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
