"""Draw the week's QA sample of collectors' calls, as the Monday beat task does (once per collector and week)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from collections_app.services import InvalidRequest
from collections_app.services.qa import last_complete_week, qa_sample_week, sample_size


class Command(BaseCommand):
    help = "Draw a random sample of each collector's calls of a week (default: the week that ended) for QA review."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--week", type=dt.date.fromisoformat, default=None, help="a day of the week (YYYY-MM-DD)")
        parser.add_argument("--size", type=int, default=None, help="calls per collector (default: QA_SAMPLE_SIZE)")
        parser.add_argument("--seed", type=int, default=0, help="the same seed draws the same calls")

    def handle(self, *args: Any, **options: Any) -> None:
        week = options["week"] or last_complete_week()
        try:
            run = qa_sample_week(week=week, size=options["size"], seed=options["seed"])
        except InvalidRequest as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Week of {run.week_start}: {run.sampled} calls sampled for {run.collectors} collectors "
            f"(up to {options['size'] or sample_size()} each); {run.skipped} collectors were sampled before."
        )
