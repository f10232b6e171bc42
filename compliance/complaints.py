"""Complaints (rule CMP-01), the pure part: which inbound texts look like a complaint, and the clocks a complaint
starts — business days by jurisdiction from the ``holidays`` package. No ORM: collections_app records complaints and
calls these.

Clocks per regime (docs/compliance-rules.md, CMP-01):

- ``CFPB`` (US profiles): respond within 15 calendar days, close within 60. The clock does not stop for weekends or
  federal holidays, so a due date that falls on one is brought *forward* to the last business day before it (policy:
  nobody is expected to answer on a holiday, and the legal day is never missed).
- ``FCA`` (UK_CONC, DISP 1.6): a summary resolution communication by the end of the 3rd business day after receipt
  (England and Wales bank holidays); the final response by the end of 8 weeks after receipt, brought forward like
  the CFPB clock when it ends on a weekend or bank holiday.
- ``CN`` (Chinese profiles, GB/T 45251-2025 §5.6, policy value): a reply within 15 calendar days; a period whose last
  day is a rest day ends on the next working day (Civil Code art. 203), counting the State Council's adjusted
  working weekends as working days.

When several regimes apply, the strictest (earliest) date of each kind wins.

Limitation: ``holidays`` (0.109) has no "workday" category for China: it lists each substituted day off with the
name "Day off (substituted from MM/DD/YYYY)". ``cn_adjusted_workdays`` reads the weekend working days from those
names (in the package's en_US labels); a year the package does not cover yet has no adjusted working days.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

import holidays

DAY = dt.timedelta(days=1)

# ---------------------------------------------------------------------------------------------------------------
# The classifier: a possible complaint, for a person to confirm (never acted on by itself)
# ---------------------------------------------------------------------------------------------------------------
COMPLAINT_TEXT = re.compile(
    r"\b(complain\w*|grievance|CFPB|consumer financial protection|FCA|financial conduct authority|ombudsman|FOS"
    r"|attorney general|BBB|better business bureau|regulator|harass\w*|abusive|threaten\w*)\b"
    r"|report (you|this|your company)|投诉|举报|12378|银保监|金融监管|消保|骚扰|暴力催收|威胁",
    re.IGNORECASE,
)


def looks_like_complaint(text: str) -> bool:
    """True when an inbound text names a complaint, a regulator or an ombudsman, or threatens to report the lender
    (English and Chinese keywords): a person then confirms or dismisses it in the managers' complaints list."""
    return bool(COMPLAINT_TEXT.search(text or ""))


# ---------------------------------------------------------------------------------------------------------------
# Calendars
# ---------------------------------------------------------------------------------------------------------------
CALENDAR_OF = {"US": ("US", None), "GB": ("GB", "ENG"), "CN": ("CN", None)}
_SUBSTITUTED = re.compile(r"substituted from (\d{2})/(\d{2})/(\d{4})")


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> frozenset[dt.date]:
    code, subdiv = CALENDAR_OF[country]
    return frozenset(holidays.country_holidays(code, subdiv=subdiv, years=year))


@lru_cache(maxsize=64)
def cn_adjusted_workdays(year: int) -> frozenset[dt.date]:
    """The weekend days China works in ``year`` (调休上班日), read from the substituted days off (module docstring)."""
    days = set()
    for years in (year - 1, year, year + 1):  # a day off in early January may be worked back the December before
        for name in holidays.country_holidays("CN", years=years, language="en_US").values():
            for month, day, in_year in _SUBSTITUTED.findall(name):
                worked = dt.date(int(in_year), int(month), int(day))
                if worked.year == year:
                    days.add(worked)
    return frozenset(days)


def is_business_day(day: dt.date, country: str) -> bool:
    """A working day in the country: not a public holiday and not a weekend (except China's adjusted working
    weekends)."""
    if country == "CN" and day in cn_adjusted_workdays(day.year):
        return True
    return day.weekday() < 5 and day not in _holidays(country, day.year)


def add_business_days(start: dt.date, count: int, country: str) -> dt.date:
    """The ``count``-th business day after ``start`` (``start`` itself not counted)."""
    day = start
    while count > 0:
        day += DAY
        if is_business_day(day, country):
            count -= 1
    return day


def on_or_before_business_day(day: dt.date, country: str) -> dt.date:
    while not is_business_day(day, country):
        day -= DAY
    return day


def on_or_after_business_day(day: dt.date, country: str) -> dt.date:
    while not is_business_day(day, country):
        day += DAY
    return day


# ---------------------------------------------------------------------------------------------------------------
# Clocks
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Deadlines:
    """A complaint's due dates: acknowledge (or summary resolution) and final response, with the regime of each."""

    acknowledge_by: dt.date
    final_by: dt.date
    acknowledge_regime: str
    final_regime: str
    regimes: tuple[str, ...]


def regime_of(profile_code: str) -> str:
    """The complaint regime of a jurisdiction profile, by its code's country prefix ('' for none)."""
    if profile_code.startswith("US"):
        return "CFPB"
    if profile_code.startswith(("UK", "GB")):
        return "FCA"
    if profile_code.startswith("CN"):
        return "CN"
    return ""


def regime_deadlines(regime: str, received: dt.date) -> tuple[dt.date, dt.date]:
    """(acknowledge_by, final_by) of one regime for a complaint received on ``received`` (the local date)."""
    if regime == "CFPB":
        return (
            on_or_before_business_day(received + dt.timedelta(days=15), "US"),
            on_or_before_business_day(received + dt.timedelta(days=60), "US"),
        )
    if regime == "FCA":
        return (
            add_business_days(received, 3, "GB"),
            on_or_before_business_day(received + dt.timedelta(weeks=8), "GB"),
        )
    if regime == "CN":
        final = on_or_after_business_day(received + dt.timedelta(days=15), "CN")
        return final, final
    raise ValueError(f"unknown complaint regime {regime!r}")


# The policy when no profile names a regime: the strictest of all (never a complaint without a clock).
FALLBACK_REGIMES = ("CFPB", "FCA", "CN")


def complaint_deadlines(received: dt.date, profile_codes: list[str] | tuple[str, ...]) -> Deadlines:
    """The strictest due dates over the regimes of the borrower's applicable profiles (CMP-01)."""
    regimes = tuple(sorted({r for r in map(regime_of, profile_codes) if r})) or FALLBACK_REGIMES
    dates = {regime: regime_deadlines(regime, received) for regime in regimes}
    ack_regime = min(regimes, key=lambda r: (dates[r][0], r))
    final_regime = min(regimes, key=lambda r: (dates[r][1], r))
    return Deadlines(dates[ack_regime][0], dates[final_regime][1], ack_regime, final_regime, regimes)
