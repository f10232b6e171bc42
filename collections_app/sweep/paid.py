"""Money that arrived online settles its loan's case at once, with the daily sweep's own steps for that one loan:
the case takes the loan's refreshed figures, and a cured case resolves (an open promise kept, an active plan
completed) and its planned messages are cancelled — in the payment's transaction, so that no dispatch cycle after
it can send a reminder about money already paid. Registered with ``loans.payments`` in ``CollectionsAppConfig``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.utils import timezone

from collections_app.models import CollectionPolicy
from collections_app.services import policy_current
from collections_app.sweep.context import Chunk
from collections_app.sweep.steps import step_refresh, step_resolve
from loans.models import Loan
from loans.services import product_today


def loans_settle_paid(*, loan_ids: Iterable[int]) -> int:
    """Refresh and, when cured, resolve the open cases of these loans; returns how many cases were resolved."""
    resolved = 0
    for loan in Loan.objects.filter(pk__in=list(loan_ids)).select_related("product").order_by("pk"):
        ctx = Chunk(
            run_id=0,
            as_of=product_today(loan.product),
            now=timezone.now(),
            chunk=0,
            chunks=1,
            product_id=loan.product_id,
            loan_id=loan.pk,
            # Marks must never repeat: a case keeps its mark, and an audit INSERT selects by mark.
            tag=f"paid-{uuid.uuid4().hex[:16]}",
        )
        step_refresh(ctx, loan.product)
        step_resolve(ctx, loan.product, policy_current(CollectionPolicy, loan.product_id))
        resolved += ctx.counts["resolve"]
    return resolved
