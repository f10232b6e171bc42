"""Times on pages say their zone: ``{{ instant|when }}`` is the reader's local time with the zone named, and
``{{ instant|borrower_time:zone }}`` the same instant in the borrower's zone, for where it matters."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def when(value: dt.datetime | None, style: str = "") -> str:
    """``2026-11-30 21:01 Asia/Shanghai`` in the active (the reader's) zone; ``|when:"short"`` drops the year."""
    if not value:
        return "—"
    local = timezone.localtime(value)
    shape = "%m-%d %H:%M" if style == "short" else "%Y-%m-%d %H:%M"
    return f"{local.strftime(shape)} {timezone.get_current_timezone_name()}"


@register.filter
def borrower_time(value: dt.datetime | None, zone: str) -> str:
    """``08:00 in America/Chicago``: the instant in the borrower's zone ('' when it is the reader's own)."""
    if not value or not zone or zone == timezone.get_current_timezone_name():
        return ""
    return f"{value.astimezone(ZoneInfo(zone)):%H:%M} in {zone}"
