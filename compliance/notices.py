"""Dates a written notice states, as pure functions (no database): when it is presumed received, when the US
validation period ends (VAL-01), and when a UK default notice's remedy period ends.

Business days skip Saturdays, Sundays and the public holidays of the country (the ``holidays`` package): Reg F
1006.34(b)(5) lets a collector presume receipt "five days (excluding legal public holidays, Saturdays, and Sundays)"
after mailing.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays

VALIDATION_PERIOD_DAYS = 30  # 12 CFR 1006.34(b)(5): 30 days after the consumer receives the notice
PRESUMED_RECEIPT_BUSINESS_DAYS = 5  # 1006.34(b)(5): receipt may be presumed 5 business days after mailing
# UK: a default notice gives "not less than 14 days" after service to remedy (Consumer Credit Act 1974 s.88(2));
# first-class post is taken as served on the second business day after posting (CPR 6.26).
DEFAULT_NOTICE_REMEDY_DAYS = 14
UK_SERVICE_BUSINESS_DAYS = 2
# A letter handed to the print queue today goes to the mail house in the next day's batch and is posted then.
MAIL_HOUSE_BUSINESS_DAYS = 1


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> frozenset[dt.date]:
    try:
        return frozenset(holidays.country_holidays(country, years=year))
    except NotImplementedError:  # a country the package does not know: weekends only
        return frozenset()


def is_business_day(day: dt.date, country: str) -> bool:
    """Not a Saturday, a Sunday or a public holiday of ``country`` (ISO code)."""
    return day.weekday() < 5 and day not in _holidays(country.upper(), day.year)


def business_days_after(start: dt.date, days: int, country: str) -> dt.date:
    """The ``days``-th business day after ``start`` (``start`` itself not counted)."""
    day, counted = start, 0
    while counted < days:
        day += dt.timedelta(days=1)
        if is_business_day(day, country):
            counted += 1
    return day


def presumed_receipt(mailed_on: dt.date, country: str = "US") -> dt.date:
    """When a notice mailed on ``mailed_on`` is presumed received (1006.34(b)(5))."""
    return business_days_after(mailed_on, PRESUMED_RECEIPT_BUSINESS_DAYS, country)


def validation_period_end(mailed_on: dt.date, country: str = "US") -> dt.date:
    """The last day of the validation period of a notice mailed on ``mailed_on``: 30 days after presumed receipt."""
    return presumed_receipt(mailed_on, country) + dt.timedelta(days=VALIDATION_PERIOD_DAYS)


def default_notice_remedy_by(posted_on: dt.date, country: str = "GB") -> dt.date:
    """The date a UK default notice names to remedy the breach by: 14 days after presumed service."""
    return business_days_after(posted_on, UK_SERVICE_BUSINESS_DAYS, country) + dt.timedelta(
        days=DEFAULT_NOTICE_REMEDY_DAYS
    )
