"""The least a borrower may pay online as an amount of their choice (a collection policy's ``min_payment``), and the
roles re-synced with the online payments' permissions (everyone who reads loans sees their payment attempts)."""

from decimal import Decimal

import django.core.validators
from django.db import migrations, models


def sync_roles(apps, schema_editor):
    from core.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("collections_app", "0019_loan_positions_and_flows"),
        ("loans", "0003_payment_checkouts"),
    ]

    operations = [
        migrations.AddField(
            model_name="collectionpolicy",
            name="min_payment",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("10.00"),
                help_text=(
                    "The least a borrower may pay online as an amount of their choice, in the product's currency "
                    "(a smaller balance may always be paid in full)."
                ),
                max_digits=14,
                validators=[django.core.validators.MinValueValidator(Decimal("0.00"))],
                verbose_name="smallest online payment",
            ),
        ),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
