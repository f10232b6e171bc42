"""Parsing of untrusted input shared by the API, the pages and the importers: ids and the range of dates the system
accepts. Everything here refuses rather than crashes (no 500 for a value a user typed)."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy as _

# The largest id a bigint primary key holds.
MAX_ID = 2**63 - 1
# Dates the system accepts anywhere (payments, contacts, checks, visits, plans, schedules). Far inside what Python
# and PostgreSQL can hold, so a day added, a month added or a time zone applied never overflows: 9999-12-31 plus a
# day, or at +14:00 converted, is past datetime.max.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2199, 12, 31)
DATE_RANGE_MESSAGE = _("Give a date between 1900-01-01 and 2199-12-31.")


def parse_id(raw: object) -> int | None:
    """A positive id from text, or None. ASCII digits only: ``"²".isdigit()`` is True but ``int("²")`` raises, and
    ``int("١٢")`` accepts Arabic-Indic digits no one means as an id."""
    text = str(raw).strip()
    if not text or not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def contains_nul(value: object) -> bool:
    """Whether a NUL character is anywhere in a JSON value, keys included (PostgreSQL refuses it in text and jsonb).
    Iterative: the value may be as deep as the parser allows."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def date_in_range(value: dt.date | dt.datetime) -> bool:
    """Whether a date (or an aware instant, judged by its UTC date) is one the system accepts."""
    if isinstance(value, dt.datetime):
        try:
            value = value.astimezone(dt.UTC).date() if value.tzinfo else value.date()
        except OverflowError:
            return False
    return EARLIEST_DATE <= value <= LATEST_DATE
