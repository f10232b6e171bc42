"""The provider pause: after an answer that may have been lost, hold texts and calls, then probe with one message."""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.conf import settings
from django.utils import timezone

from loans.db import db_retry
from notifications.models import (
    MessageStatus,
    ProviderPause,
)

logger = logging.getLogger(__name__)


class ProviderGate:
    """Whether a batch may start sends through its provider, read from ``ProviderPause`` (at most once a second)
    and changed by the answers: one that may have been lost (the row went to review) pauses the provider; a
    definite one after the pause ended (the probe) lifts it."""

    def __init__(self, provider: str, label: str) -> None:
        self.provider, self.label = provider, label
        self.paused_until: dt.datetime | None = None
        self.why = ""
        self.probing = False
        self.checked = -1.0

    def limit(self, threads: int) -> int:
        return 1 if self.probing else threads  # the probe goes alone

    def paused(self) -> bool:
        if self.paused_until is not None:
            return True
        if self.probing or time.monotonic() - self.checked < 1.0:
            return False
        self.checked = time.monotonic()
        state, until = db_retry(lambda: provider_gate(provider=self.provider), what=self.label)
        if state == "paused":
            self.paused_until, self.why = until, _PAUSED_REASON
            return True
        self.probing = state == "probe"
        return False

    def answered(self, status: str, message_id: int) -> None:
        if status == MessageStatus.REVIEW and self.paused_until is None:
            self.paused_until = db_retry(
                lambda: provider_pause(provider=self.provider, reason=f"message {message_id}: the answer may be lost"),
                what=self.label,
            )
            self.why, self.probing = _PAUSED_REASON, False
        elif self.probing and status in (MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.PLANNED):
            db_retry(lambda: provider_resume(provider=self.provider), what=self.label)
            self.probing = False


_PAUSED_REASON = "Sending is paused: the provider's answer to an earlier message may have been lost. Planned again."


def provider_pause(*, provider: str, reason: str, now: dt.datetime | None = None) -> dt.datetime:
    """Pause sends through ``provider`` for ``PROVIDER_PAUSE_SECONDS`` (again, if it already was); returns the end.

    Called when an answer may have been lost (a timeout, a dropped connection): with a provider hanging, each send
    ends in review, so batches stop starting them instead of putting hundreds of messages in review."""
    now = now or timezone.now()
    until = now + dt.timedelta(seconds=settings.PROVIDER_PAUSE_SECONDS)
    ProviderPause.objects.update_or_create(
        provider=provider,
        defaults={"until": until, "reason": reason[:2000]},
        create_defaults={"until": until, "reason": reason[:2000], "since": now},
    )
    logger.error("provider %s paused until %s: %s", provider, until.isoformat(timespec="seconds"), reason)
    return until


def provider_resume(*, provider: str) -> None:
    """The provider answered again: sends through it start as usual."""
    if ProviderPause.objects.filter(provider=provider).delete()[0]:
        logger.warning("provider %s answers again: sending resumed", provider)


def provider_gate(*, provider: str, now: dt.datetime | None = None) -> tuple[str, dt.datetime | None]:
    """Whether a batch may send through ``provider`` now: "open"; ("paused", until); or "probe" — the pause has ended
    and this caller sends one message to find out whether the provider answers again. Taking the probe moves the
    pause on (one conditional UPDATE) by as long as one provider call may take, so that one batch probes at a time,
    the others hold their messages only that long, and a probe whose worker died is taken over by the next batch."""
    now = now or timezone.now()
    until = ProviderPause.objects.filter(provider=provider).values_list("until", flat=True).first()
    if until is None:
        return "open", None
    if until > now:
        return "paused", until
    probe = min(settings.TWILIO_TIMEOUT_SECONDS + 5, settings.PROVIDER_PAUSE_SECONDS)
    later = now + dt.timedelta(seconds=probe)
    if ProviderPause.objects.filter(provider=provider, until=until).update(until=later):
        return "probe", None
    return "paused", later
