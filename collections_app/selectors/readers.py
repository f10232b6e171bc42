"""The person reading a page: the language they chose and the time zone their pages use (their own, else their
team's)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import OuterRef, Subquery

from collections_app.models import Team, TeamMembership
from core.models import UserSettings


def reader_language_and_zone(user: User) -> tuple[str, str]:
    """The language a user chose ('' : the browser's, as for anyone) and the zone their pages use — their own, else
    their team's ('' where neither is set: the site's default applies).

    One query, read once per request: cached on the user object (a request's ``request.user`` is its own), since
    the locale middleware and a page's call card both ask."""
    cached: tuple[str, str] | None = getattr(user, "_reader_cache", None)
    if cached is not None:
        return cached
    mine = UserSettings.objects.filter(user=OuterRef("pk")).order_by("id")
    row = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .values_list(
            Subquery(mine.values("language")[:1]),
            Subquery(mine.values("timezone")[:1]),
            # The team they work in (their first membership), else the first team they lead (by name).
            Subquery(TeamMembership.objects.filter(user=OuterRef("pk")).order_by("id").values("team__timezone")[:1]),
            Subquery(Team.objects.filter(manager=OuterRef("pk")).order_by("name").values("timezone")[:1]),
        )
        .first()
    )
    language, zone, worked, led = row or (None, None, None, None)
    result = (language or "", zone or worked or led or "")
    user._reader_cache = result  # type: ignore[attr-defined]
    return result


def reader_zone(user: User) -> str:
    """The zone the times a user reads and types are in (UTC when neither they nor their team chose one)."""
    return reader_language_and_zone(user)[1] or "UTC"
