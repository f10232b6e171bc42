"""What every step of the sweep shares: the tables by name, a chunk's range of loans and its counters, the SQL
runner."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from collections_app.models import (
    OPEN_STATES,
    CaseTransition,
    CollectionCase,
    Forbearance,
    PaymentPlan,
    PlanInstallment,
    PromiseToPay,
    Team,
    TeamMembership,
)
from compliance.models import ConsentEvent, DebtClock, Restriction
from loans.models import Borrower, EmailAddress, Installment, Loan, Payment, PhoneNumber
from notifications.models import Document, OutboundMessage

logger = logging.getLogger("collections_app.sweep")  # one logger for the whole sweep, whichever module logs


T = {
    "case": CollectionCase._meta.db_table,
    "transition": CaseTransition._meta.db_table,
    "promise": PromiseToPay._meta.db_table,
    "plan": PaymentPlan._meta.db_table,
    "plan_inst": PlanInstallment._meta.db_table,
    "loan": Loan._meta.db_table,
    "inst": Installment._meta.db_table,
    "payment": Payment._meta.db_table,
    "phone": PhoneNumber._meta.db_table,
    "borrower": Borrower._meta.db_table,
    "team": Team._meta.db_table,
    "member": TeamMembership._meta.db_table,
    "restriction": Restriction._meta.db_table,
    "forbearance": Forbearance._meta.db_table,
    "clock": DebtClock._meta.db_table,
    "consent": ConsentEvent._meta.db_table,
    "email": EmailAddress._meta.db_table,
    "outbox": OutboundMessage._meta.db_table,
    "document": Document._meta.db_table,
}


OPEN = "(" + ", ".join(f"'{s}'" for s in OPEN_STATES) + ")"


@dataclass
class Chunk:
    """What one chunk of one run works on, and what it did."""

    run_id: int
    as_of: dt.date
    now: dt.datetime
    chunk: int
    chunks: int
    counts: Counter[str] = field(default_factory=Counter)
    product_id: int = 0
    loan_id_max: int = 0
    # A payment's own settling (``sweep.paid``): the steps run on this one loan, their marks tagged with ``tag``.
    loan_id: int | None = None
    tag: str = ""

    @property
    def lo(self) -> int:
        return self.loan_id if self.loan_id is not None else chunk_bounds(self.chunk, self.chunks, self.loan_id_max)[0]

    @property
    def hi(self) -> int:
        return self.loan_id if self.loan_id is not None else chunk_bounds(self.chunk, self.chunks, self.loan_id_max)[1]

    def params(self, **extra: Any) -> dict[str, Any]:
        return {"as_of": self.as_of, "now": self.now, "lo": self.lo, "hi": self.hi, **extra}

    def mark(self, step: str) -> str:
        """Unique per run, chunk, product and step: an audit INSERT must see only the rows its UPDATE moved."""
        return f"{self.tag or self.run_id}:{self.chunk}:{self.product_id}:{step}"


LAST_ID = 2**62


def chunk_bounds(chunk: int, chunks: int, loan_id_max: int) -> tuple[int, int]:
    """Chunk ``chunk`` of ``chunks`` covers a contiguous range of loan ids, so that its statements read only its
    part of each table through the loan-id indexes (a modulo split would make every chunk scan everything). The last
    chunk is open-ended: loans created after the run started are swept too."""
    size = max(loan_id_max // chunks + 1, 1)
    low = chunk * size + 1 if chunk else 0
    return low, LAST_ID if chunk == chunks - 1 else (chunk + 1) * size


def execute(sql: str, params: dict[str, Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql.format(**T, OPEN=OPEN), params)
        return max(cursor.rowcount, 0)


def as_text(expression: str) -> str:
    return f"CAST({expression} AS TEXT)"
