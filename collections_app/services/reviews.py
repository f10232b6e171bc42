"""Vulnerability review reminders (VUL-01): when a record's review date has passed, the collector of each of the
borrower's open cases and their team's manager get a to-do on their home page. Idempotent: run daily (the beat task
``collections_app.tasks.vulnerability_review_reminders``), each person is reminded once per record, case and review
date."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from collections_app.models import OPEN_STATES, CollectionCase, ReviewReminder
from compliance.models import VulnerabilityRecord


def review_reminders_create(*, today: dt.date) -> int:
    """Write the to-dos for the records in force whose review date is on or before ``today``; returns how many
    were new. Three queries, whatever the number of records."""
    due = {
        r.borrower_id: r
        for r in VulnerabilityRecord.objects.active()
        .filter(review_on__lte=today)
        .only("pk", "borrower_id", "review_on")
    }
    if not due:
        return 0
    rows = []
    cases = CollectionCase.objects.filter(borrower_id__in=due, state__in=OPEN_STATES).values_list(
        "pk", "borrower_id", "assigned_to_id", "team__manager_id"
    )
    for case_id, borrower_id, collector_id, manager_id in cases:
        record = due[borrower_id]
        for user_id in {collector_id, manager_id} - {None}:
            rows.append(ReviewReminder(record=record, case_id=case_id, user_id=user_id, review_on=record.review_on))
    with transaction.atomic():
        before = ReviewReminder.objects.count()
        ReviewReminder.objects.bulk_create(rows, ignore_conflicts=True)
        return ReviewReminder.objects.count() - before
