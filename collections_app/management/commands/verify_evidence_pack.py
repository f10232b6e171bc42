"""manage.py verify_evidence_pack PATH | --pack ID — check an evidence pack against its manifest.

A ZIP handed to a lawyer or a court (PATH), or a stored pack (``--pack``, also checked against the SHA-256 of the ZIP
and of its manifest recorded when it was built): every file must be in ``manifest.csv`` with the SHA-256 and size it
has, and every file the manifest lists must be in the pack. Exits 0 when it verifies, 1 with each mismatch named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from collections_app.models import EvidencePack
from collections_app.services.evidence import pack_verify


class Command(BaseCommand):
    help = "Verify an evidence pack (a ZIP file, or a stored pack by id) against its manifest of SHA-256 hashes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", help="the pack's ZIP file")
        parser.add_argument("--pack", type=int, help="a stored pack's id (its file under DOCUMENTS_DIR)")

    def handle(self, *args: Any, **options: Any) -> None:
        if bool(options["path"]) == bool(options["pack"]):
            raise CommandError("give either the ZIP file's path or --pack ID")
        expected: dict[str, str] = {}
        if options["pack"]:
            pack = EvidencePack.objects.filter(pk=options["pack"]).first()
            if pack is None:
                raise CommandError(f"there is no evidence pack {options['pack']}")
            what = f"evidence pack {pack.pk} (case {pack.case_id}, version {pack.version})"
            source = Path(settings.DOCUMENTS_DIR) / pack.path
            expected = {"expected_sha256": pack.sha256, "expected_manifest_sha256": pack.manifest_sha256}
        else:
            source = Path(options["path"])
            what = str(source)
        try:
            content = source.read_bytes()
        except OSError as exc:
            raise CommandError(f"{what}: cannot be read ({exc})") from exc
        problems = pack_verify(content, **expected)
        if problems:
            listed = "\n".join(f"  - {p}" for p in problems)
            raise CommandError(f"{what} does NOT verify ({len(problems)} problem(s)):\n{listed}")
        self.stdout.write(self.style.SUCCESS(f"{what} verifies: every file matches its SHA-256 in the manifest."))
