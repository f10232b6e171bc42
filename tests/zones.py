"""Time zones chosen by the clock, so that tests of contact hours do not depend on when they run."""

from __future__ import annotations

import datetime as dt


def zone_where_it_is(hour: int, now: dt.datetime | None = None) -> str:
    """An IANA zone (Etc/GMT±N) whose local time is ``hour`` o'clock plus the current minutes, now."""
    utc_hour = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).hour
    offset = (hour - utc_hour + 12) % 24 - 12  # -12..11 hours from UTC
    return "Etc/GMT" + (f"-{offset}" if offset > 0 else f"+{-offset}" if offset < 0 else "")
