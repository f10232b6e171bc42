"""REC-01: whether a call placed through the system is recorded, announced first, and for how long the recording is
kept — read from the jurisdiction profiles that apply to the borrower (pure: no ORM, like the engine).

Profiles combine as the gate's rules do, the stricter answer winning: a profile that requires recording (CN-09)
records the call whatever the others say; otherwise one that says ``off`` keeps it unrecorded; otherwise one that
allows recording with a disclosure records it after the announcement. The announcement is played whenever any
applicable profile asks for one, and the recording is kept for the longest retention any of them sets. A borrower
no profile speaks for is not recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from compliance.engine import Profile

REQUIRED, WITH_DISCLOSURE, OFF = "required", "allowed_with_disclosure", "off"


@dataclass(frozen=True)
class RecordingPolicy:
    record: bool
    disclosure: bool
    retention_years: int  # 0 when the call is not recorded
    profiles: tuple[str, ...] = ()  # the profiles that set it, as "CODE@version"

    @property
    def mode(self) -> str:
        if not self.record:
            return OFF
        return WITH_DISCLOSURE if self.disclosure else REQUIRED


NOT_RECORDED = RecordingPolicy(record=False, disclosure=False, retention_years=0)


def recording_policy(profiles: Iterable[Profile]) -> RecordingPolicy:
    """The recording policy for a call under these (applicable) profiles."""
    said = [(p, p.params["recording"]) for p in profiles if p.params.get("recording")]
    modes = {params["mode"] for _, params in said}
    if REQUIRED in modes:
        record = True
    elif OFF in modes:
        record = False
    else:
        record = WITH_DISCLOSURE in modes
    if not record:
        return RecordingPolicy(False, False, 0, tuple(f"{p.code}@{p.version}" for p, _ in said))
    recording = [(p, params) for p, params in said if params["mode"] != OFF]
    return RecordingPolicy(
        record=True,
        disclosure=WITH_DISCLOSURE in modes,
        retention_years=max(params.get("retention_years", 1) for _, params in recording),
        profiles=tuple(f"{p.code}@{p.version}" for p, _ in recording),
    )


def years_after(at: dt.datetime, years: int) -> dt.datetime:
    """The same instant ``years`` calendar years later (29 February becomes 28 February)."""
    try:
        return at.replace(year=at.year + years)
    except ValueError:
        return at.replace(year=at.year + years, day=28)
