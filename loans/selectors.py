"""Reads of the loans domain for pages and the API."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db.models import Case, CharField, Count, Sum, Value, When

from loans.models import Loan
from loans.querysets import LoanQuerySet

# The buckets collections teams report by (days past due).
DPD_BUCKETS: list[tuple[str, int, int | None]] = [
    ("current", 0, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91-180", 91, 180),
    ("181+", 181, None),
]


def dpd_bucket_expression() -> Case:
    whens = []
    for label, low, high in DPD_BUCKETS:
        condition = {"days_past_due__gte": low}
        if high is not None:
            condition["days_past_due__lte"] = high
        whens.append(When(**condition, then=Value(label)))
    return Case(*whens, output_field=CharField())


def portfolio_by_bucket(loans: LoanQuerySet | None = None, *, by: Sequence[str] = ()) -> Any:
    """Active loans (of ``loans``, default all) per currency and DPD bucket — and per the expressions ``by`` names,
    annotated on ``loans`` — with count, amount overdue and outstanding (one aggregate query)."""
    return (
        (Loan.objects.all() if loans is None else loans)
        .active()
        .annotate(bucket=dpd_bucket_expression())
        .values("currency", "bucket", *by)
        .annotate(loans=Count("id"), overdue=Sum("amount_overdue"), outstanding=Sum("outstanding_balance"))
        .order_by("currency")
    )


def portfolio_overview(loans: LoanQuerySet | None = None) -> list[dict[str, Any]]:
    """The portfolio (``loans``, default all) at a glance per currency, buckets in reporting order, with totals (one
    query)."""
    return portfolio_table(portfolio_by_bucket(loans))


def portfolio_table(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of currency, bucket, loans, overdue and outstanding (live, or stored snapshots) as the landing page's
    table: per currency, every bucket in reporting order, with totals."""
    order = {label: index for index, (label, _, _) in enumerate(DPD_BUCKETS)}
    table: dict[str, dict[str, Any]] = {}
    for row in rows:
        currency = table.setdefault(
            row["currency"],
            {
                "currency": row["currency"],
                "buckets": {label: None for label, _, _ in DPD_BUCKETS},
                "loans": 0,
                "overdue": Decimal("0.00"),
                "outstanding": Decimal("0.00"),
            },
        )
        currency["buckets"][row["bucket"]] = row
        currency["loans"] += row["loans"]
        currency["overdue"] += row["overdue"] or 0
        currency["outstanding"] += row["outstanding"] or 0
    for currency in table.values():
        currency["bucket_rows"] = [
            {"label": label, **(currency["buckets"][label] or {"loans": 0, "overdue": 0, "outstanding": 0})}
            for label in sorted(currency["buckets"], key=order.__getitem__)
        ]
    return list(table.values())
