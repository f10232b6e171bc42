"""Celery tasks of the loans domain: thin wrappers around services."""

from __future__ import annotations

import logging

from celery import shared_task

from loans.services import loans_refresh_balances

logger = logging.getLogger(__name__)


@shared_task(name="loans.tasks.refresh_days_past_due")
def refresh_days_past_due() -> int:
    """Refresh every loan's days past due and balances for each product's local today."""
    updated = loans_refresh_balances()
    logger.info("refreshed days past due for %d loans", updated)
    return updated
