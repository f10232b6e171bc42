"""API throttles (REST_FRAMEWORK's DEFAULT_THROTTLE_CLASSES; rates in settings). A module of their own: DRF imports
them while its views module loads, so they must not import the API's views."""

from __future__ import annotations

from rest_framework import throttling
from rest_framework.settings import api_settings


class _RatesFromSettings:
    """DRF copies the throttle rates into its classes when they are imported; read them per request instead, so a
    settings change (a test's override) applies."""

    @property
    def THROTTLE_RATES(self) -> dict[str, str | None]:  # DRF's name
        return api_settings.DEFAULT_THROTTLE_RATES


class UserThrottle(_RatesFromSettings, throttling.UserRateThrottle):
    """Signed-in callers, per user — one token each — whether by token or session ("user" rate)."""


class ScopedThrottle(_RatesFromSettings, throttling.ScopedRateThrottle):
    """Views with a ``throttle_scope`` (the bulk intake) also count against that scope's rate, per user."""
