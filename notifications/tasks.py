"""Celery tasks of the outbox: thin wrappers that take ids and call the dispatch services.

``dispatch_due`` (beat, every minute) claims due rows in batches and hands each batch to ``send_batch`` on the
``provider`` queue, whose rate limit protects the provider's API. Nothing is ever scheduled with countdown or eta:
a deferred message waits in the outbox with its next allowed instant, and the next tick picks it up.

A database error (a restart, a dropped connection) does not fail a task: each unit of work — a claim, a batch's
judgement, a row's start and outcome — is tried again after a pause (``loans.db.db_retry``). Work the broker lost is
found by the watchdog (``reap_claims``).
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from loans.db import db_retry
from notifications.services import outbox_claim, outbox_reap, outbox_send, print_batch_build, recordings_purge


@shared_task(name="notifications.tasks.dispatch_due")
def dispatch_due() -> int:
    """Claim due messages, batch by batch, and queue each batch for sending; returns how many were claimed."""
    claimed = 0
    for _ in range(settings.OUTBOX_BATCHES_PER_TICK):
        token, ids = db_retry(outbox_claim, what="dispatch")
        if not ids:
            break
        send_batch.delay(ids, token)
        claimed += len(ids)
    return claimed


@shared_task(
    name="notifications.tasks.send_batch",
    acks_late=True,
    rate_limit=settings.PROVIDER_RATE_LIMIT,
    # The batch's own deadline (OUTBOX_BATCH_DEADLINE_SECONDS) ends it first; these only stop a batch gone wrong.
    soft_time_limit=settings.SEND_BATCH_SOFT_TIME_LIMIT,
    time_limit=settings.SEND_BATCH_SOFT_TIME_LIMIT + 60,
)
def send_batch(message_ids: list[int], claim_token: str) -> dict[str, int]:
    """Judge and send one claimed batch. Run again after a crash, it skips rows already handed to the provider."""
    return outbox_send(message_ids=message_ids, claim_token=claim_token)


@shared_task(name="notifications.tasks.reap_claims")
def reap_claims() -> dict[str, int]:
    """The outbox's watchdog (beat, every ``WATCHDOG_INTERVAL_SECONDS``): claims whose batch stopped moving are
    taken back, and what was planned again is claimed and queued now rather than at the next minute's tick."""
    reaped = db_retry(outbox_reap, what="reaper")
    if reaped["returned"]:
        reaped["queued"] = dispatch_due()
    return reaped


@shared_task(name="notifications.tasks.purge_recordings")
def purge_recordings() -> dict[str, int]:
    """Beat, daily: recordings past their retention are deleted, unless under legal hold (REC-01)."""
    return recordings_purge()


@shared_task(name="notifications.tasks.print_batch")
def print_batch(day: str = "") -> int:
    """Beat, daily: the print queue's batch of ``day`` (ISO date, UTC; default yesterday) for the mail house; returns
    how many letters it holds."""
    when = dt.date.fromisoformat(day) if day else timezone.now().date() - dt.timedelta(days=1)
    return db_retry(lambda: print_batch_build(day=when), what="print batch").letters
