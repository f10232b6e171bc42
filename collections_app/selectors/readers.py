"""The person reading a page: the language they chose and the time zone their pages use (their own, else their
team's)."""

from __future__ import annotations

from django.contrib.auth.models import User

from collections_app.models import Team, TeamMembership
from core.models import UserSettings


def reader_language_and_zone(user: User) -> tuple[str, str]:
    """The language a user chose ('' : the browser's, as for anyone) and the zone their pages use — their own, else
    their team's ('' where neither is set: the site's default applies)."""
    language, zone = UserSettings.objects.filter(user=user).values_list("language", "timezone").first() or ("", "")
    if not zone:
        zone = (
            TeamMembership.objects.filter(user=user).values_list("team__timezone", flat=True).first()
            or Team.objects.filter(manager=user).values_list("timezone", flat=True).first()
            or ""
        )
    return language, zone


def reader_zone(user: User) -> str:
    """The zone the times a user reads and types are in (UTC when neither they nor their team chose one)."""
    return reader_language_and_zone(user)[1] or "UTC"
