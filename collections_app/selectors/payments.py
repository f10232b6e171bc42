"""What the policy says about paying online (the payment itself is the loans app's: ``loans.payments``)."""

from __future__ import annotations

from decimal import Decimal

from collections_app.models import CollectionPolicy
from collections_app.services import policy_current
from loans.models import Loan


def payment_minimum(*, loan: Loan) -> Decimal:
    """The least a borrower may pay online as an amount of their choice: the current collection policy's
    ``min_payment`` for the loan's product (``loans.payments.payment_amount`` lets a smaller balance be paid)."""
    policy: CollectionPolicy = policy_current(CollectionPolicy, loan.product_id)
    return policy.min_payment
