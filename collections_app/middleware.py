"""Each signed-in user's pages in their language and time zone: their own settings, else their team's."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from collections_app.models import Team, TeamMembership
from core.models import UserSettings


def user_language_and_zone(user: User) -> tuple[str, str]:
    """The language and zone a user's pages use ('' where nothing is set: the site's default applies)."""
    own = UserSettings.objects.filter(user=user).values_list("language", "timezone").first() or ("", "")
    team = (
        TeamMembership.objects.filter(user=user).values_list("team__language", "team__timezone").first()
        or Team.objects.filter(manager=user).values_list("language", "timezone").first()
        or ("", "")
    )
    return own[0] or team[0], own[1] or team[1]


class UserLocaleMiddleware:
    """After authentication: activate the user's language (the navigation's switcher saves it as theirs) and time
    zone, so every time on a page is shown in the reader's zone — and says which (the ``when`` filter)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith("/api/"):
            language, zone = user_language_and_zone(user)
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
            if zone:
                timezone.activate(ZoneInfo(zone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
