"""Candidate time zones of a borrower: where might they be right now?

Contact-hour rules are judged in the consumer's local time, and when the address and the phone numbers point to
different zones a contact must be convenient in every one of them (Reg F's ambiguous-location safe harbour,
docs/compliance-rules.md, "Candidate time zones"). So we derive a *set* of IANA zones, in priority order:

1. an explicit override (a location the consumer stated) — when present it alone governs;
2. the address: the US state (all zones of a state split between zones), China (Beijing time everywhere, §1.2),
   otherwise the zones the tz database lists for the country;
3. each phone number's zones by country and area code (libphonenumber's geocoding).

Pure functions: no ORM.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources

import phonenumbers
from phonenumbers import timezone as phone_timezone

# USPS code -> IANA zones, the zone most of the state uses first; split states list every zone they span.
US_STATE_ZONES: dict[str, tuple[str, ...]] = {
    "AL": ("America/Chicago",),
    "AK": ("America/Anchorage", "America/Adak"),
    "AZ": ("America/Phoenix",),
    "AR": ("America/Chicago",),
    "CA": ("America/Los_Angeles",),
    "CO": ("America/Denver",),
    "CT": ("America/New_York",),
    "DE": ("America/New_York",),
    "DC": ("America/New_York",),
    "FL": ("America/New_York", "America/Chicago"),
    "GA": ("America/New_York",),
    "HI": ("Pacific/Honolulu",),
    "ID": ("America/Boise", "America/Los_Angeles"),
    "IL": ("America/Chicago",),
    "IN": ("America/Indiana/Indianapolis", "America/Chicago"),
    "IA": ("America/Chicago",),
    "KS": ("America/Chicago", "America/Denver"),
    "KY": ("America/New_York", "America/Chicago"),
    "LA": ("America/Chicago",),
    "ME": ("America/New_York",),
    "MD": ("America/New_York",),
    "MA": ("America/New_York",),
    "MI": ("America/Detroit", "America/Menominee"),
    "MN": ("America/Chicago",),
    "MS": ("America/Chicago",),
    "MO": ("America/Chicago",),
    "MT": ("America/Denver",),
    "NE": ("America/Chicago", "America/Denver"),
    "NV": ("America/Los_Angeles",),
    "NH": ("America/New_York",),
    "NJ": ("America/New_York",),
    "NM": ("America/Denver",),
    "NY": ("America/New_York",),
    "NC": ("America/New_York",),
    "ND": ("America/Chicago", "America/Denver"),
    "OH": ("America/New_York",),
    "OK": ("America/Chicago",),
    "OR": ("America/Los_Angeles", "America/Boise"),
    "PA": ("America/New_York",),
    "RI": ("America/New_York",),
    "SC": ("America/New_York",),
    "SD": ("America/Chicago", "America/Denver"),
    "TN": ("America/Chicago", "America/New_York"),
    "TX": ("America/Chicago", "America/Denver"),
    "UT": ("America/Denver",),
    "VT": ("America/New_York",),
    "VA": ("America/New_York",),
    "WA": ("America/Los_Angeles",),
    "WV": ("America/New_York",),
    "WI": ("America/Chicago",),
    "WY": ("America/Denver",),
    "PR": ("America/Puerto_Rico",),
    "GU": ("Pacific/Guam",),
    "VI": ("America/St_Thomas",),
    "AS": ("Pacific/Pago_Pago",),
    "MP": ("Pacific/Saipan",),
}

# Countries with one legal time everywhere, whatever the tz database lists for historical reasons.
SINGLE_ZONE_COUNTRIES = {"CN": "Asia/Shanghai"}


@cache
def _country_zones() -> dict[str, tuple[str, ...]]:
    """Country code -> zones, from the tz database's own zone.tab (shipped with the tzdata package)."""
    table: dict[str, list[str]] = {}
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        code, _coords, zone = line.split("\t")[:3]
        table.setdefault(code, []).append(zone)
    return {code: tuple(zones) for code, zones in table.items()}


def zones_for_address(country: str, region: str = "") -> tuple[str, ...]:
    """Zones an address may be in: the state's for the US, Beijing time for China, else the country's zones."""
    country = (country or "").upper()
    if country == "US":
        return US_STATE_ZONES.get((region or "").upper(), ())
    if country in SINGLE_ZONE_COUNTRIES:
        return (SINGLE_ZONE_COUNTRIES[country],)
    return _country_zones().get(country, ())


def zones_for_phone(number: str) -> tuple[str, ...]:
    """Zones of a phone number's country and area code (a weak signal: mobile numbers are portable)."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return ()
    region = phonenumbers.region_code_for_number(parsed)
    if region in SINGLE_ZONE_COUNTRIES:
        return (SINGLE_ZONE_COUNTRIES[region],)
    return tuple(z for z in phone_timezone.time_zones_for_number(parsed) if z != phone_timezone.UNKNOWN_TIMEZONE)


def candidate_time_zones(
    *, override: str = "", country: str = "", region: str = "", phone_numbers: Iterable[str] = ()
) -> list[str]:
    """All zones the borrower may be in, override alone when given (see module docstring)."""
    if override:
        return [override]
    zones: list[str] = []
    for zone in zones_for_address(country, region):
        if zone not in zones:
            zones.append(zone)
    for number in phone_numbers:
        for zone in zones_for_phone(str(number)):
            if zone not in zones:
                zones.append(zone)
    return zones
