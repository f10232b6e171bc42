"""Shared plumbing of the import commands: progress bar, error report, exit code."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from loans.intake import FileFormatError, ImportSummary, IntakeRejected, read_and_import

PROGRESS_MIN_ROWS = 500  # smaller files finish before a bar would help


class ImportCommand(BaseCommand):
    kind = ""  # "loans" or "payments"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="a .csv or .jsonl file")
        parser.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        show = not options["no_progress"]

        def progress(items: Any, label: str, total: int) -> Any:
            if not show or total < PROGRESS_MIN_ROWS:
                return items
            return tqdm(items, desc=label, total=total, unit="row", file=cast(TextIO, self.stderr._out), leave=False)

        try:
            summary = read_and_import(path, kind=self.kind, progress=progress)
        except (IntakeRejected, FileFormatError) as exc:
            for error in exc.errors:
                self.stderr.write(f"{path}: {error}")
            raise CommandError(f"{path}: {len(exc.errors)} error(s) found; nothing was imported.") from exc
        self.stdout.write(self.style.SUCCESS(f"{path}: {describe(summary)}"))


def describe(summary: ImportSummary) -> str:
    parts = [f"{summary.rows} rows"]
    for bucket in ("created", "updated", "unchanged"):
        counts = getattr(summary, bucket)
        if any(counts.values()):
            parts.append(f"{bucket} " + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()) if n))
    return "; ".join(parts)
