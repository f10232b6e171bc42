"""manage.py seed_demo — a demo portfolio with months of history, and demo users (deterministic with --seed)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, TextIO, cast

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from collections_app.demo import demo_history_build, demo_people_create, demo_profiles_create, demo_users_create
from loans.models import Loan


class Command(BaseCommand):
    help = (
        "Build the demo portfolio (a Sanmenxia online lender in CNY and a US lender in USD) with --days of history "
        "lived through the real sweep, dispatch and case services, and the demo users."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--loans", type=int, default=settings.DEMO_LOANS, help="how many loans (default %(default)s)"
        )
        parser.add_argument(
            "--days", type=int, default=settings.DEMO_DAYS, help="days of history, up to --as-of (default %(default)s)"
        )
        parser.add_argument("--seed", type=int, default=2026, help="random seed: the same seed builds the same data")
        parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when loans already exist")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["loans"] < 1:
            raise CommandError("--loans must be at least 1")
        if options["days"] < 1:
            raise CommandError("--days must be at least 1")
        if options["if_empty"] and Loan.objects.exists():
            users = demo_users_create()
            self.stdout.write("Loans exist already; demo portfolio left as it is.")
        else:
            today = options["as_of"] or timezone.localdate()
            show = not options["no_progress"]

            def progress(items: Any, label: str, total: int) -> Any:
                return (
                    tqdm(items, desc=label, total=total, unit="day", leave=False, file=cast(TextIO, self.stderr._out))
                    if show
                    else items
                )

            started = time.monotonic()
            # The collectors' phones come after the history: its calls are dialled by hand (no simulated call and
            # recording for each); from then on a click-to-call rings the collector's (fictional) phone.
            users = demo_people_create()
            history = demo_history_build(
                loans=options["loans"], seed=options["seed"], today=today, days=options["days"], progress=progress
            )
            demo_profiles_create()
            counts = history.counts
            self.stdout.write(
                f"Sweeps for {history.days} days up to {today}: {counts.get('open', 0)} cases opened, "
                f"{counts.get('resolve', 0)} resolved; {counts.get('sent', 0)} messages sent; "
                f"{counts.get('calls_allowed', 0)} calls, {counts.get('promises', 0)} promises."
            )
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo portfolio: {history.loans} loans, {history.payments} payments as of {today} "
                    f"({time.monotonic() - started:.0f} s)."
                )
            )
        self.stdout.write(f"Demo logins (password for all: {users[0][2]}):")
        for username, role, _password in users:
            self.stdout.write(f"  {username:<15} {role}")
