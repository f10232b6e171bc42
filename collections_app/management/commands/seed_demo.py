"""manage.py seed_demo — a believable demo portfolio and demo users (deterministic with --seed)."""

from __future__ import annotations

import datetime as dt
from typing import Any, TextIO, cast

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from collections_app.demo import demo_users_create
from collections_app.sweep import sweep_run
from loans.demo import seed_demo_portfolio
from loans.models import Loan
from loans.services import loans_refresh_balances


class Command(BaseCommand):
    help = "Build the demo portfolio (a Sanmenxia online lender in CNY and a US lender in USD) and demo users."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--loans", type=int, default=settings.DEMO_LOANS, help="how many loans (default %(default)s)"
        )
        parser.add_argument("--seed", type=int, default=2026, help="random seed: the same seed builds the same data")
        parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when loans already exist")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["loans"] < 1:
            raise CommandError("--loans must be at least 1")
        users = demo_users_create()
        if options["if_empty"] and Loan.objects.exists():
            self.stdout.write("Loans exist already; demo portfolio left as it is.")
        else:
            today = options["as_of"] or timezone.localdate()
            show = not options["no_progress"]

            def progress(items: Any, label: str, total: int) -> Any:
                return (
                    tqdm(items, desc=label, total=total, unit="row", leave=False, file=cast(TextIO, self.stderr._out))
                    if show
                    else items
                )

            with transaction.atomic():
                result = seed_demo_portfolio(
                    loans=options["loans"], seed=options["seed"], today=today, progress=progress
                )
                if options["as_of"]:
                    loans_refresh_balances(as_of=today)
            # The day's sweep turns the overdue loans into cases at every stage, with priorities and assignees.
            run = sweep_run(as_of=today)
            self.stdout.write(f"Sweep for {today}: {run.counts.get('open', 0)} cases opened.")
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo portfolio: {result.loans.created.get('loans', 0)} loans, "
                    f"{result.payments.created.get('payments', 0)} payments as of {today}."
                )
            )
        self.stdout.write(f"Demo logins (password for all: {users[0][2]}):")
        for username, role, _password in users:
            self.stdout.write(f"  {username:<15} {role}")
