"""Each signed-in user's pages in their language and time zone: their own settings, else their team's."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from collections_app.selectors.readers import reader_language_and_zone


class UserLocaleMiddleware:
    """After authentication: activate the user's language (the navigation's switcher saves it as theirs) and time
    zone, so every time on a page is shown in the reader's zone — and says which (the ``when`` filter)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith("/api/"):
            language, zone = reader_language_and_zone(user)
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
            if zone:
                timezone.activate(ZoneInfo(zone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
