"""The legal evidence pack (issue 16.5), and on PostgreSQL a trigger that refuses any UPDATE of a pack row: a pack is
built once and never changed (its SHA-256 and file stay as recorded). The roles are synced: managers see and build
packs."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

IMMUTABLE = """
CREATE FUNCTION collections_app_evidencepack_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'an evidence pack is never changed (pack %)', OLD.id USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER collections_app_evidencepack_no_update BEFORE UPDATE ON collections_app_evidencepack
    FOR EACH ROW EXECUTE FUNCTION collections_app_evidencepack_immutable();
"""
MUTABLE = """
DROP TRIGGER IF EXISTS collections_app_evidencepack_no_update ON collections_app_evidencepack;
DROP FUNCTION IF EXISTS collections_app_evidencepack_immutable();
"""


def immutable(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(IMMUTABLE, params=None)


def mutable(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(MUTABLE, params=None)


def sync_roles(apps, schema_editor):
    """Managers and admins see and build evidence packs (core.roles)."""
    from core.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("collections_app", "0026_transitions_by_borrower_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="EvidencePack",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("version", models.PositiveSmallIntegerField(verbose_name="version")),
                (
                    "languages",
                    models.JSONField(
                        default=list, help_text="The borrower's, then the court's.", verbose_name="languages"
                    ),
                ),
                (
                    "path",
                    models.CharField(
                        help_text="Relative to DOCUMENTS_DIR.", max_length=200, unique=True, verbose_name="file"
                    ),
                ),
                ("sha256", models.CharField(max_length=64, verbose_name="SHA-256")),
                ("size", models.PositiveIntegerField(verbose_name="size (bytes)")),
                ("manifest_sha256", models.CharField(max_length=64, verbose_name="SHA-256 of the manifest")),
                ("content_digest", models.CharField(max_length=64)),
                ("files", models.PositiveSmallIntegerField(verbose_name="files")),
                ("reason", models.CharField(max_length=200, verbose_name="why it was built")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="built at")),
                (
                    "actor_label",
                    models.CharField(help_text='The username, or "system".', max_length=150, verbose_name="built by"),
                ),
                (
                    "case",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="evidence_packs",
                        to="collections_app.collectioncase",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "evidence pack",
                "verbose_name_plural": "evidence packs",
                "constraints": [
                    models.UniqueConstraint(fields=("case", "version"), name="evidence_pack_version_unique")
                ],
            },
        ),
        migrations.RunPython(immutable, mutable),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
