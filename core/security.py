"""Sign-in lockout (django-axes hooks): the client's address behind trusted proxies, and the lockout page."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or with ``PROXY_COUNT`` proxies in front the address the outermost one saw (the same rule as
    the API's throttle, DRF's NUM_PROXIES): a client cannot pick its address by sending X-Forwarded-For itself."""
    if settings.PROXY_COUNT:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-min(settings.PROXY_COUNT, len(forwarded))]
    return request.META.get("REMOTE_ADDR", "")


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """429 and a page that says why and for how long (django-axes' own answer is a bare line of text)."""
    minutes = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    return render(request, "registration/locked_out.html",
                  {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes}, status=429)  # fmt: skip
