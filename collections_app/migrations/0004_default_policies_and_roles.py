"""Default collection and installment policies (version 1), and the roles re-synced with the new permissions."""

from decimal import Decimal

from django.db import migrations


def create_defaults(apps, schema_editor):
    from core.roles import sync_role_groups

    CollectionPolicy = apps.get_model("collections_app", "CollectionPolicy")
    InstallmentPolicy = apps.get_model("collections_app", "InstallmentPolicy")
    if not CollectionPolicy.objects.filter(product__isnull=True).exists():
        CollectionPolicy.objects.create(
            product=None, version=1, is_current=True, grace_days=3, formal_notice_dpd=30, legal_dpd=90,
            legal_requires_approval=True, pre_due_offsets=[3, 1],
            cadence={"reminder": {"sms": 3, "voice": 2}, "formal_notice": {"letter": 0, "sms": 0, "voice": 3},
                     "legal": {"letter": 0}},
            promise_max_days=14, max_grace_extension_days=14,
        )
    if not InstallmentPolicy.objects.filter(product__isnull=True).exists():
        InstallmentPolicy.objects.create(
            product=None, version=1, is_current=True, max_installments=6, max_term_days=180,
            min_down_payment_percent=Decimal("10.00"), max_waiver_percent=Decimal("50.00"),
            approval_above=Decimal("5000.00"), allowed_frequencies=["weekly", "biweekly", "monthly"],
            plan_grace_days=3,
        )
    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("collections_app", "0003_case_relations"),
        ("notifications", "0001_initial"),
        ("compliance", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
