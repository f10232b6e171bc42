"""Named querysets: the vocabulary selectors and services use to read loans and installments."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from loans.models import Installment, Loan  # noqa: F401 (the string type arguments below name them)


class LoanQuerySet(models.QuerySet["Loan"]):
    def active(self) -> LoanQuerySet:
        return self.filter(status="active")

    def overdue(self) -> LoanQuerySet:
        """Active loans whose snapshot says something is past due."""
        return self.active().filter(days_past_due__gt=0)


class InstallmentQuerySet(models.QuerySet["Installment"]):
    def unpaid_on(self, day: dt.date) -> InstallmentQuerySet:
        """Installments not yet fully paid at the end of ``day``."""
        return self.filter(models.Q(paid_on__isnull=True) | models.Q(paid_on__gt=day))

    def overdue_on(self, day: dt.date) -> InstallmentQuerySet:
        """Installments due before ``day`` and still unpaid at its end."""
        return self.unpaid_on(day).filter(due_date__lt=day)
