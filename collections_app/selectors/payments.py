"""What the policy says about paying online (the payment itself is the loans app's: ``loans.payments``)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import F, Q

from collections_app.models import CollectionPolicy
from collections_app.services import policy_current
from loans.models import Loan


def payment_minimum(*, loan: Loan) -> Decimal:
    """The least a borrower may pay online as an amount of their choice: the current collection policy's
    ``min_payment`` for the loan's product (``loans.payments.payment_amount`` lets a smaller balance be paid)."""
    policy: CollectionPolicy = policy_current(CollectionPolicy, loan.product_id)
    return policy.min_payment


def payment_minimums(*, product_ids: set[int]) -> dict[int, Decimal]:
    """``payment_minimum`` for several products in one query (the borrower's page shows every loan's minimum): each
    product's own current policy, else the default one."""
    if not product_ids:
        return {}
    current = CollectionPolicy.objects.filter(Q(product_id__in=product_ids) | Q(product__isnull=True), is_current=True)
    found: dict[int | None, Decimal] = {}
    for product_id, minimum in current.order_by(F("product_id").asc(nulls_last=True)).values_list(
        "product_id", "min_payment"
    ):
        found.setdefault(product_id, minimum)
    default = found.get(None)
    result = {pk: found.get(pk, default) for pk in product_ids}
    return {pk: minimum for pk, minimum in result.items() if minimum is not None}
