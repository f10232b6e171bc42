"""What managers and admins must see on every page: a daily sweep past its deadline, a paused provider."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from collections_app.models import OPEN_STATES, ReviewReminder, SweepRun
from notifications.models import ProviderPause


def sweep_overdue(*, now: dt.datetime | None = None) -> SweepRun | None:
    """The latest sweep run, if it is still unfinished ``SWEEP_DEADLINE_MINUTES`` after it started (the managers'
    banner; the watchdog logs it once)."""
    run = SweepRun.objects.order_by("-id").first()
    if run is None or run.finished_at is not None:
        return None
    now = now or timezone.now()
    return run if run.started_at <= now - dt.timedelta(minutes=settings.SWEEP_DEADLINE_MINUTES) else None


def providers_paused() -> list[ProviderPause]:
    """Providers no batch sends through for now (an answer may have been lost; see notifications.services.pause)."""
    return list(ProviderPause.objects.order_by("provider"))


def review_reminders_for(*, user: Any, limit: int = 20) -> list[ReviewReminder]:
    """The user's to-dos (VUL-01): vulnerability reviews past their date on open cases, the oldest first; one gone
    once the record is reviewed (a new review date) or ended. One query."""
    return list(
        ReviewReminder.objects.filter(
            user=user, record__ended_at__isnull=True, record__review_on=F("review_on"), case__state__in=OPEN_STATES
        )
        .select_related("case__borrower")
        .order_by("review_on", "id")[:limit]
    )
