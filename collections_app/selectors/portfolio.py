"""The landing page's portfolio at a glance, per currency and days-past-due bucket.

Managers and admins read it from the sweep's latest ``PortfolioSnapshot`` rows — a handful of stored rows instead of
an aggregate over every loan (at 100,000 open cases that took seconds) —, scoped as the performance page's figures
are: admins the whole book (loans no team works included), managers their teams' rows. Collectors, and anyone
before the first sweep, get the same table aggregated live over the loans of the cases they may see (a collector's
few hundred). Two queries at most, whatever the size of the book."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Subquery, Sum

from collections_app.models import PortfolioSnapshot
from collections_app.selectors.access import cases_visible_to, team_ids
from core.roles import ADMIN, MANAGER, user_role
from loans.models import Loan
from loans.selectors import portfolio_overview, portfolio_table


@dataclass
class Portfolio:
    currencies: list[dict[str, Any]]
    as_of: dt.date | None  # the sweep's date the figures are from; None: live
    whole: bool  # the whole book (admins), not only the reader's teams' or cases' loans


def portfolio_for(user: Any) -> Portfolio:
    role = user_role(user)
    if role in (ADMIN, MANAGER):
        latest = PortfolioSnapshot.objects.order_by("-as_of").values("as_of")[:1]
        rows = PortfolioSnapshot.objects.filter(as_of=Subquery(latest))
        if role != ADMIN:
            rows = rows.filter(team_id__in=team_ids(user, managed=True))
        totals: list[dict[str, Any]] = [
            dict(row)
            for row in rows.values("as_of", "currency", "bucket")
            .annotate(loans=Sum("loans"), overdue=Sum("overdue"), outstanding=Sum("outstanding"))
            .order_by("currency", "bucket")
        ]
        if totals:
            return Portfolio(portfolio_table(totals), totals[0]["as_of"], role == ADMIN)
        if PortfolioSnapshot.objects.exists():
            return Portfolio([], None, False)  # swept, and none of this manager's teams has a loan to show
    # Admins see the whole portfolio; everyone else the loans of the cases they may see (issue 11).
    loans = None if role == ADMIN else Loan.objects.filter(pk__in=cases_visible_to(user).values("loan_id"))
    return Portfolio(portfolio_overview(loans), None, role == ADMIN)
