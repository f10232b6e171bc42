"""API throttles (REST_FRAMEWORK's DEFAULT_THROTTLE_CLASSES; rates in settings). A module of their own: DRF imports
them while its views module loads, so they must not import the API's views."""

from __future__ import annotations

from typing import cast

from rest_framework import throttling
from rest_framework.settings import api_settings


class _RatesFromSettings:
    """DRF copies the throttle rates into its classes when they are imported; read them per request instead, so a
    settings change (a test's override) applies."""

    @property
    def THROTTLE_RATES(self) -> dict[str, str | None]:  # DRF's name
        # Rates are strings ("1200/minute"); the stubs give DEFAULT_THROTTLE_RATES numbers.
        return cast("dict[str, str | None]", api_settings.DEFAULT_THROTTLE_RATES)


# The property stands in for DRF's class attribute on purpose (read per request), which mypy calls an override.
class UserThrottle(_RatesFromSettings, throttling.UserRateThrottle):  # type: ignore[override]
    """Signed-in callers, per user — one token each — whether by token or session ("user" rate)."""


class ScopedThrottle(_RatesFromSettings, throttling.ScopedRateThrottle):  # type: ignore[override]
    """Views with a ``throttle_scope`` (the bulk intake) also count against that scope's rate, per user."""
