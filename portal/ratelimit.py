"""Requests per minute, counted in the cache (a fixed window: ``add`` then ``incr``, both atomic in Redis and in
the local-memory cache), so a link or an address that asks too often gets 429 before the database is asked."""

from __future__ import annotations

import time

from django.core.cache import cache

WINDOW_SECONDS = 60


def rate_allow(*, scope: str, key: str, limit: int, now: float | None = None) -> bool:
    """Count one request of ``key`` in ``scope`` and say whether it is within ``limit`` for the current minute."""
    bucket = int((now if now is not None else time.time()) // WINDOW_SECONDS)
    name = f"portal-rate:{scope}:{key}:{bucket}"
    if cache.add(name, 1, timeout=WINDOW_SECONDS + 5):
        return limit >= 1
    try:
        count = cache.incr(name)
    except ValueError:  # expired between the two calls: this request starts the count again
        cache.add(name, 1, timeout=WINDOW_SECONDS + 5)
        count = 1
    return count <= limit
