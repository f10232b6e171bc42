"""manage.py run_sweep --as-of YYYY-MM-DD — the daily sweep for one date, in this process."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from collections_app.services import CaseError
from collections_app.sweep import sweep_run


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--as-of: {text!r} is not a date like 2026-03-31") from exc


class Command(BaseCommand):
    help = "Run the daily sweep (DPD, cases, promises, plans, escalation, priorities, outbox) for one date."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", required=True, help="YYYY-MM-DD")
        parser.add_argument("--chunks", type=int, default=1, help="split the work in N chunks (default 1)")

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = _date(options["as_of"])
        if options["chunks"] < 1:
            raise CommandError("--chunks must be at least 1")
        try:
            run = sweep_run(as_of=as_of, chunks=options["chunks"])
        except CaseError as exc:
            raise CommandError(str(exc)) from exc
        counts = ", ".join(f"{k} {v}" for k, v in sorted(run.counts.items()) if v) or "nothing to do"
        self.stdout.write(self.style.SUCCESS(f"Sweep for {as_of}: {counts}."))
