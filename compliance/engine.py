"""The compliance gate's evaluation core: pure functions over plain data, no ORM (docs/architecture.md).

``evaluate(attempt, facts, profiles)`` answers one question — may this contact happen at this instant? — with an
outcome (allow, warn, defer, review, deny), the reasons (rule id from docs/compliance-rules.md and a sentence for the
collector, in English and Chinese), the next instant the contact would be allowed when it can simply wait, and the
inputs it used (zones and local times, counted events). Every profile that applies is evaluated; the most restrictive
outcome wins (deny > review > defer > warn > allow).

Times are evaluated with IANA rules at the instant (``zoneinfo``), never a cached offset, in every candidate zone.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

ALLOW, WARN, DEFER, REVIEW, DENY = "allow", "warn", "defer", "review", "deny"
SEVERITY = {ALLOW: 0, WARN: 1, DEFER: 2, REVIEW: 3, DENY: 4}
CHANNELS = ("call", "sms", "email", "letter", "visit")
MINUTE = dt.timedelta(minutes=1)
# When no location is known for a US consumer: the contiguous US (docs/compliance-rules.md, candidate time zones).
CONUS = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")

# Ledger outcomes (docs/compliance-rules.md, the contact ledger).
REG_F_COUNTED = {"conversation", "no_answer", "voicemail"}  # busy / failed = "not connected": excluded
REG_F_COUNTED_OR_RESERVED = REG_F_COUNTED | {"reserved"}  # a reserved slot counts until its outcome is known
UNANSWERED = {"no_answer", "busy", "voicemail", "failed"}
OPT_OUT_TEXT = re.compile(r"\bSTOP\b|unsubscribe|opt[ -]?out|退订|回复\s*TD|回T退", re.IGNORECASE)
LITIGATION_THREAT = re.compile(
    r"\b(sue|sued|lawsuit|legal action|court|judg(e)?ment|garnish\w*|attorney will)\b|起诉|法院|诉讼|律师函",
    re.IGNORECASE,
)


# ---------------------------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CertificationFact:
    """One training record of a collector (CERT-01): passed on, valid through ``expires_on`` (inclusive)."""

    id: int
    passed_on: dt.date
    expires_on: dt.date


@dataclass(frozen=True)
class StaffFact:
    """A person making a manual contact, with their training records (CERT-01)."""

    user_id: int
    certifications: tuple[CertificationFact, ...] = ()


@dataclass(frozen=True)
class Attempt:
    """One planned contact, evaluated at ``at`` (the instant it would reach the person)."""

    channel: str
    at: dt.datetime
    to: str = ""
    to_kind: str = "mobile"  # mobile | home | work | email | work_email | address | work_address
    automated: bool = False  # autodialer, prerecorded voice or automated text (TCPA)
    target_role: str = "debtor"  # debtor | attorney | emergency_contact | third_party
    debts: tuple[int, ...] = ()  # every loan the contact may discuss (Reg F counts per debt)
    content: str = ""  # the rendered message, when there is one
    purpose: str = ""  # e.g. opt_out_confirmation, cease_exception, verification, locate
    collectors: int = 1  # people on a field visit
    actor_id: int | None = None  # the person making a manual contact, when known (VUL-01: a named collector)
    # CERT-01: the people making a manual contact (the caller; the collectors on a field visit; the collector who
    # sent a text from the case page) and their training records. Empty: no person made or asked for this contact
    # (the sweep's reminders, an automated call), so the rule has nothing to ask.
    staff: tuple[StaffFact, ...] = ()


@dataclass(frozen=True)
class LedgerEvent:
    """One past attempt or communication from the contact ledger."""

    id: int
    channel: str
    direction: str  # outbound | inbound
    at: dt.datetime
    outcome: (
        str  # conversation | no_answer | voicemail | busy | failed | sent | delivered | visited | not_home | reserved
    )
    to: str = ""
    debts: tuple[int, ...] = ()  # empty: not known, so it counts for every debt (conservative)
    target_role: str = "debtor"
    automated: bool = False


@dataclass(frozen=True)
class RestrictionFact:
    id: int
    kind: str
    loan_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VulnerabilityFact:
    """An active vulnerability record: what the gate needs of it (VUL-01), never its details."""

    id: int
    drivers: tuple[str, ...] = ()
    adjustments: tuple[str, ...] = ()
    named_collector_id: int | None = None


@dataclass(frozen=True)
class DebtClockFact:
    """VAL-01: what the system knows of one debt's first communication and validation notice."""

    loan_id: int
    first_communication_at: dt.datetime | None = None
    # The first communication happened before the system tracked the debt (a portfolio taken over, contacts before
    # this clock existed): its date is not known, so a person checks that a notice went out (REVIEW).
    before_system: bool = False
    notice_sent_at: dt.datetime | None = None
    validation_period_ends_on: dt.date | None = None


@dataclass(frozen=True)
class BorrowerFacts:
    """Everything the gate knows about one borrower, loaded in a fixed number of queries."""

    borrower_id: int
    zones: tuple[str, ...] = ()
    country: str = ""
    region: str = ""
    city: str = ""  # NYC-01: a profile may apply to a city (``applies_to.cities``)
    restrictions: tuple[RestrictionFact, ...] = ()
    sms_opted_out: frozenset[str] = frozenset()
    email_opted_out: frozenset[str] = frozenset()
    # Numbers whose owner asked for no more automated calls (a reminder call's keypad, the API): voice opt-outs.
    call_opted_out: frozenset[str] = frozenset()
    sms_consent: frozenset[str] = frozenset()
    autodial_consent: frozenset[str] = frozenset()
    # NYC-01: numbers and addresses with a recorded written consent to e-communications (revoked by an opt-out).
    written_consent: frozenset[str] = frozenset()
    ledger: tuple[LedgerEvent, ...] = ()
    phone_kinds: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    email_kinds: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    vulnerability: VulnerabilityFact | None = None
    debt_clocks: tuple[DebtClockFact, ...] = ()


@dataclass(frozen=True)
class Profile:
    code: str
    version: int
    params: dict[str, Any] = field(hash=False, compare=False)

    def __hash__(self) -> int:  # profiles are identified by code and version (params are a dict)
        return hash((self.code, self.version))


@dataclass(frozen=True)
class Reason:
    rule: str
    outcome: str
    message: str
    message_zh: str
    next_allowed_at: dt.datetime | None = None
    profile: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "outcome": self.outcome,
            "message": self.message,
            "message_zh": self.message_zh,
            "profile": self.profile,
            "next_allowed_at": self.next_allowed_at.isoformat() if self.next_allowed_at else None,
        }


@dataclass
class Result:
    outcome: str
    reasons: list[Reason]
    next_allowed_at: dt.datetime | None
    evaluated: list[str]
    inputs: dict[str, Any]

    @property
    def allowed(self) -> bool:
        return self.outcome in (ALLOW, WARN)


# ---------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------
@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=256)
def _hm(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def _local(at: dt.datetime, zone: str) -> dt.datetime:
    return at.astimezone(_zone(zone))


def _start_of_local_day(day: dt.date, zone: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=_zone(zone)).astimezone(dt.UTC)


def _concerns(event_debts: tuple[int, ...], debts: tuple[int, ...]) -> bool:
    """Does a past event count for these debts? An event with unknown debts counts for all (conservative)."""
    return not event_debts or not debts or bool(set(event_debts) & set(debts))


def _zones_for(facts: BorrowerFacts, window: dict[str, Any]) -> tuple[str, ...]:
    if window.get("zone"):
        return (window["zone"],)
    if facts.zones:
        return facts.zones
    return CONUS if facts.country == "US" else ("UTC",)


def _inside(local: dt.datetime, start: dt.time, end: dt.time) -> bool:
    """Strictly after ``start`` and strictly before ``end`` (both ends excluded)."""
    clock = local.time()
    if start < end:
        return start < clock < end
    return clock > start or clock < end  # a window across midnight


def _next_inside(at: dt.datetime, zone: str, start: dt.time, end: dt.time) -> dt.datetime:
    """The first whole minute after ``at`` inside the window in ``zone``."""
    local = _local(at, zone)
    if _inside(local, start, end):
        return at
    # Outside the window: it opens again today when the clock has not passed the start yet, otherwise tomorrow
    # (the check below catches the rare opening that falls into a DST gap; the loop then finds the next one).
    day = local.date() if local.time() <= start else local.date() + dt.timedelta(days=1)
    opening = dt.datetime.combine(day, start, tzinfo=_zone(zone)) + MINUTE
    if opening > at and _inside(_local(opening, zone), start, end):
        return opening.astimezone(dt.UTC)
    for days in range(3):
        day = local.date() + dt.timedelta(days=days)
        opening = dt.datetime.combine(day, start, tzinfo=_zone(zone)) + MINUTE
        if opening > at and _inside(_local(opening, zone), start, end):
            return opening.astimezone(dt.UTC)
    raise ValueError("no opening within three days")  # pragma: no cover - windows always open daily


def _bilingual(rule: str, outcome: str, en: str, zh: str, next_at: dt.datetime | None = None) -> Reason:
    return Reason(rule=rule, outcome=outcome, message=en, message_zh=zh, next_allowed_at=next_at)


# ---------------------------------------------------------------------------------------------------------------
# Rules: each returns the reasons it finds (none = no objection) and may note what it counted in ``inputs``
# ---------------------------------------------------------------------------------------------------------------
Rule = Callable[[Attempt, BorrowerFacts, dict[str, Any], dict[str, Any]], list[Reason]]


def rule_time_window(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """USF-01 / MA-02 / CN-01 / UK-04: only inside the window, in every candidate zone."""
    window = params.get("time_window")
    if not window or attempt.channel in window.get("exempt_channels", []):
        return []
    start, end = _hm(window["start"]), _hm(window["end"])
    zones = _zones_for(facts, window)
    local = {z: _local(attempt.at, z) for z in zones}
    if _explaining(inputs) and "local_times" not in inputs:  # the same for every profile's window
        inputs["local_times"] = {z: t.isoformat() for z, t in local.items()}
    outside = [z for z in zones if not _inside(local[z], start, end)]
    if not outside:
        return []
    next_at = next_in_all_zones(attempt.at, zones, start, end)
    where = ", ".join(f"{local[z].hour:02d}:{local[z].minute:02d} in {z}" for z in outside)
    return [
        _bilingual(
            window.get("rule", "USF-01"),
            DEFER,
            f"Outside contact hours: only after {window['start']} and before {window['end']} local time ({where}).",
            f"不在允许的联系时间：当地时间 {window['start']} 之后、{window['end']} 之前（{where}）。",
            next_at,
        )
    ]


def next_in_all_zones(at: dt.datetime, zones: Iterable[str], start: dt.time, end: dt.time) -> dt.datetime | None:
    """The first minute from ``at`` inside the window in every zone at once (None if the zones never overlap)."""
    zones = tuple(zones)
    if len(zones) == 1:
        return _next_inside(at, zones[0], start, end)
    candidate = at
    for _ in range(50):
        moved = max(_next_inside(candidate, z, start, end) for z in zones)
        if moved == candidate:
            return candidate
        candidate = moved
    return None


def rule_inconvenient_time(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """USF-02: a time the consumer designated as inconvenient (e.g. from 22:00 to 12:00), in every zone."""
    reasons = []
    for r in facts.restrictions:
        if r.kind != "inconvenient_time" or attempt.channel == "letter":
            continue
        blocked_from, blocked_to = _hm(r.details.get("from", "00:00")), _hm(r.details.get("to", "00:00"))
        # The allowed window is the complement of the designated one.
        zones = _zones_for(facts, {})
        if all(_inside(_local(attempt.at, z), blocked_to, blocked_from) for z in zones):
            continue
        next_at = next_in_all_zones(attempt.at, zones, blocked_to, blocked_from)
        # The borrower's own words when they gave them (their page's preferences): the collector reads what was
        # asked, not only a window (USF-02: "or indicates in other words that they should not be disturbed").
        words = str(r.details.get("words") or "").strip()
        reasons.append(
            _bilingual(
                "USF-02",
                DEFER,
                f"The borrower said {r.details.get('from')}–{r.details.get('to')} is inconvenient"
                + (f": “{words}”." if words else "."),
                f"借款人表示 {r.details.get('from')}–{r.details.get('to')} 不方便联系"
                + (f"：“{words}”。" if words else "。"),
                next_at,
            )
        )
    return reasons


# The rule a hold cites unless the profile names its own (``hold_rules``): the US law each hold comes from.
HOLD_RULES = {
    "cease_and_desist": "USF-05",
    "attorney_represented": "USF-04",
    "bankruptcy": "BK-01",
    "dispute": "USF-20",
    "deceased": "USF-25",
}


def rule_holds(attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]) -> list[Reason]:
    """USF-04, USF-05, USF-20, USF-25, BK-01 and hardship review: restrictions that stop collection contact. Each
    cites the profile's own rule for the hold (``hold_rules``; e.g. the Chinese profile's HOLD-DISPUTE, the lender's
    policy) where it names one, else the US rule."""
    if not facts.restrictions:
        return []
    reasons = []
    holds = params.get("holds", {})
    cites = {**HOLD_RULES, **(params.get("hold_rules") or {})}
    for r in facts.restrictions:
        applies_to_debt = r.loan_id is None or not attempt.debts or r.loan_id in attempt.debts
        if not applies_to_debt:
            continue
        if r.kind == "cease_and_desist" and "cease_and_desist" in holds:
            if attempt.channel == "letter" and attempt.purpose in ("cease_exception", "cease_acknowledgement"):
                continue  # 1006.6(c)(2): a letter saying efforts are terminated or a remedy will be invoked
            reasons.append(
                _bilingual(
                    cites["cease_and_desist"],
                    DENY,
                    "The borrower asked in writing to stop all contact.",
                    "借款人已书面要求停止一切联系。",
                )
            )
        elif r.kind == "attorney_represented" and "attorney_represented" in holds:
            if attempt.target_role != "attorney":
                reasons.append(
                    _bilingual(
                        cites["attorney_represented"],
                        DENY,
                        "The borrower has an attorney for this debt: contact the attorney instead.",
                        "借款人已就该笔债务委托律师，请联系律师。",
                    )
                )
        elif r.kind == "bankruptcy" and "bankruptcy" in holds:
            reasons.append(
                _bilingual(
                    cites["bankruptcy"],
                    DENY,
                    "Bankruptcy filed: the automatic stay stops all collection.",
                    "借款人已申请破产：自动中止令禁止一切催收。",
                )
            )
        elif r.kind == "dispute" and "dispute" in holds and not r.details.get("verification_sent_at"):
            if attempt.purpose == "verification":
                continue
            if r.details.get("dsp01"):  # written, within the validation period (1006.38(d)(2)): DSP-01
                reasons.append(
                    _bilingual(
                        "DSP-01",
                        DENY,
                        "Disputed in writing within the validation period: no contact about this debt except the "
                        "verification, until the verification is mailed.",
                        "借款人在核实期内书面提出争议：寄出核实材料之前，除核实材料外不得就该笔债务进行任何联系。",
                    )
                )
            else:
                reasons.append(
                    _bilingual(
                        cites["dispute"],
                        DENY,
                        "The debt is disputed: no collection until the verification is sent.",
                        "该笔债务有争议：寄出核实材料之前不得催收。",
                    )
                )
        elif r.kind == "deceased" and "deceased" in holds:
            if attempt.target_role == "debtor":
                reasons.append(
                    _bilingual(
                        cites["deceased"],
                        DENY,
                        "The borrower is deceased: deal with the estate's representative.",
                        "借款人已故：请与遗产代理人联系。",
                    )
                )
        elif r.kind == "hardship_review" and attempt.automated:
            reasons.append(
                _bilingual(
                    "HOLD-HARDSHIP", DENY, "Hardship review: no automated contact.", "困难审查中：暂停自动联系。"
                )
            )
    return reasons


def rule_complaints(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """CMP-01: a complaint about collection conduct (a ``complaint_review`` restriction, placed when it is recorded
    and lifted when a manager acknowledges it) puts the debt's automated contacts on REVIEW, in every jurisdiction."""
    if not attempt.automated or not facts.restrictions:
        return []
    for r in facts.restrictions:
        if r.kind == "complaint_review" and (r.loan_id is None or not attempt.debts or r.loan_id in attempt.debts):
            return [
                _bilingual(
                    "CMP-01",
                    REVIEW,
                    "A complaint about collection conduct is waiting for a manager: automated contact needs review.",
                    "有一项关于催收行为的投诉等待经理确认：自动联系需人工审核。",
                )
            ]
    return []


def rule_workplace(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """USF-03 / MA-03: no contact at work once the employer prohibits it or the borrower asked."""
    if attempt.to_kind not in ("work", "work_email", "work_address"):
        return []
    kinds = {r.kind for r in facts.restrictions}
    if kinds & {"no_work_contact", "employer_prohibits", "inconvenient_place"}:
        return [_bilingual("USF-03", DENY, "No contact at the borrower's workplace.", "不得在借款人工作场所联系。")]
    return []


def sms_opted_out(facts: BorrowerFacts, number: str) -> bool:
    """USF-06: the borrower texted STOP to this number, or a restriction records the opt-out."""
    return number in facts.sms_opted_out or any(
        r.kind == "sms_opt_out" and r.details.get("number", number) == number for r in facts.restrictions
    )


def contact_point(facts: BorrowerFacts, channel: str) -> str:
    """The number or e-mail address a contact on ``channel`` would use, when the caller names none — the one choice
    the case page, the queue, dispatch and the check API share. Texts: a mobile with SMS consent, one that has not
    opted out first; calls: a mobile first; e-mail: a personal address, one that has not opted out first. Phones in
    the borrower's order. '' when nothing is eligible (the gate then denies: ``rule_contact_point``); an opted-out
    address is returned when it is the only one, so that the answer names it and says why (USF-06)."""
    if channel == "sms":
        mobiles = [n for n, kind in facts.phone_kinds.items() if kind == "mobile" and n in facts.sms_consent]
        return next((n for n in mobiles if not sms_opted_out(facts, n)), mobiles[0] if mobiles else "")
    if channel == "call":
        phones = sorted(facts.phone_kinds, key=lambda n: facts.phone_kinds[n] != "mobile")  # stable: order kept
        return phones[0] if phones else ""
    if channel == "email":
        addresses = sorted(facts.email_kinds, key=lambda a: facts.email_kinds[a] != "personal")
        return next((a for a in addresses if a not in facts.email_opted_out), addresses[0] if addresses else "")
    return ""


NO_CONTACT_POINT = {
    "sms": ("The borrower has no mobile number with SMS consent.", "借款人没有同意接收短信的手机号码。"),
    "call": ("The borrower has no phone number.", "借款人没有登记电话号码。"),
    "email": ("The borrower has no e-mail address.", "借款人没有登记电子邮箱。"),
}


def rule_contact_point(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """A call, text or e-mail needs somewhere to go: without a number or address there is nothing to allow."""
    if attempt.to or attempt.channel not in NO_CONTACT_POINT:
        return []
    english, chinese = NO_CONTACT_POINT[attempt.channel]
    return [_bilingual("NO-ADDRESS", DENY, english, chinese)]


def rule_opt_outs(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """USF-06 and TCPA-02: an SMS STOP stops texts and automated calls to that number, not a manual call; a voice
    opt-out (the reminder call's "press 9") stops automated calls to that number, not texts nor a manual call."""
    if attempt.purpose == "opt_out_confirmation":
        return []  # 1006.14(h)(2)(i), 64.1200(a)(12): one confirmation is allowed
    opted_out = sms_opted_out(facts, attempt.to)
    if attempt.channel == "sms" and opted_out:
        return [
            _bilingual(
                "USF-06", DENY, "The borrower opted out of text messages to this number.", "借款人已退订该号码的短信。"
            )
        ]
    if attempt.channel == "call" and attempt.automated and opted_out:
        return [
            _bilingual(
                "TCPA-02",
                DENY,
                "Consent to automated calls to this number was revoked (STOP).",
                "借款人已撤回对该号码自动呼叫的同意。",
            )
        ]
    if attempt.channel == "call" and attempt.automated and attempt.to in facts.call_opted_out:
        # A revocation "by any reasonable means" (47 CFR 64.1200(a)(10)): a key pressed on the call itself is one.
        return [
            _bilingual(
                "TCPA-02",
                DENY,
                "The borrower asked for no more automated calls to this number.",
                "借款人已要求不再向该号码拨打自动呼叫。",
            )
        ]
    if attempt.channel == "email" and attempt.to in facts.email_opted_out:
        return [
            _bilingual("USF-06", DENY, "The borrower opted out of email to this address.", "借款人已退订该邮箱的邮件。")
        ]
    return []


def rule_tcpa_consent(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """TCPA-01: automated calls and texts to a mobile number need prior express consent."""
    tcpa = params.get("tcpa") or {}
    if not tcpa.get("consent_required_for_automated") or not attempt.automated:
        return []
    if attempt.channel in ("call", "sms") and attempt.to_kind == "mobile" and attempt.to not in facts.autodial_consent:
        return [
            _bilingual(
                "TCPA-01",
                DENY,
                "No consent on record for automated calls or texts to this mobile.",
                "没有该手机号接受自动呼叫或短信的同意记录。",
            )
        ]
    return []


def rule_electronic_content(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """USF-07: every text and email says how to opt out."""
    electronic = params.get("electronic") or {}
    if attempt.channel not in ("sms", "email") or not attempt.content or attempt.purpose == "opt_out_confirmation":
        return []
    if electronic.get("require_opt_out_text") and not OPT_OUT_TEXT.search(attempt.content):
        return [
            _bilingual(
                "USF-07",
                DENY,
                "The message does not tell the borrower how to opt out.",
                "消息中没有告知借款人如何退订。",
            )
        ]
    return []


def rule_time_barred(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """USF-21: never threaten legal action on a time-barred debt."""
    if not (params.get("time_barred") or {}).get("forbid_litigation_threats") or not attempt.content:
        return []
    barred = {r.loan_id for r in facts.restrictions if r.kind == "time_barred"}
    if (None in barred or barred & set(attempt.debts)) and LITIGATION_THREAT.search(attempt.content):
        return [
            _bilingual(
                "USF-21",
                DENY,
                "The debt is time-barred: the message must not threaten legal action.",
                "该债务已过诉讼时效：消息不得以法律行动相威胁。",
            )
        ]
    return []


def _debtor_events(facts: BorrowerFacts) -> list[LedgerEvent]:
    return [e for e in facts.ledger if e.target_role == "debtor" and e.outcome != "cancelled"]


def rule_reg_f_frequency(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """USF-08 (7 calls in 7 days) and USF-09 (7 days after a conversation), per person and debt, local dates.

    Days are the consumer's local days: a window of 7 days ending today starts at local midnight six days ago,
    and counting compares instants against that one boundary (no need to localise every past event)."""
    freq = params.get("call_frequency")
    if not freq or attempt.channel != "call" or attempt.target_role != "debtor":
        return []
    zone = _zones_for(facts, {})[0]
    today = _local(attempt.at, zone).date()
    window_days, limit, quiet = freq["window_days"], freq["max_calls"], freq.get("post_conversation_days")
    span = dt.timedelta(days=window_days - 1)
    first_day = today - span
    since = _start_of_local_day(first_day, zone)
    past = [e for e in facts.ledger if e.target_role == "debtor" and e.at <= attempt.at]
    reasons = []
    for debt in attempt.debts or (0,):
        key = (debt,) if debt else ()
        calls = sorted(
            (
                e
                for e in past
                if e.channel == "call"
                and e.direction == "outbound"
                and e.outcome in REG_F_COUNTED_OR_RESERVED
                and _concerns(e.debts, key)
            ),
            key=lambda e: e.at,
        )
        instants = [e.at for e in calls]

        def count_on(day: dt.date, instants: list[dt.datetime] = instants) -> int:
            # Every counted call is at or before the attempt, so the window ending on ``day`` (today or later)
            # holds the calls from local midnight of its first day on.
            return len(instants) - bisect_left(instants, _start_of_local_day(day - span, zone))

        counted = len(instants) - bisect_left(instants, since)
        if _explaining(inputs):
            inputs.setdefault("reg_f_calls", {})[str(debt or "any")] = {
                "count": counted,
                "window": [str(first_day), str(today)],
                "events": [e.id for e in calls if e.at >= since],
            }
        if counted >= limit:
            day = today + dt.timedelta(days=1)
            while count_on(day) >= limit:
                day += dt.timedelta(days=1)
            reasons.append(
                _bilingual(
                    "USF-08",
                    DEFER,
                    f"{counted} calls about this debt in the last {window_days} days: no more than {limit}.",
                    f"近 {window_days} 天内已就该笔债务致电 {counted} 次，不得超过 {limit} 次。",
                    _start_of_local_day(day, zone),
                )
            )
        if not quiet:
            continue
        talked = [
            e.at
            for e in past
            if e.outcome == "conversation" and e.channel in ("call", "visit") and _concerns(e.debts, key)
        ]
        if talked:
            last = _local(max(talked), zone).date()
            if today <= last + dt.timedelta(days=quiet - 1):
                reopen = last + dt.timedelta(days=quiet)
                reasons.append(
                    _bilingual(
                        "USF-09",
                        DEFER,
                        f"A conversation about this debt on {last}: no call about it until {reopen}.",
                        f"{last} 已就该笔债务与借款人通话：{reopen} 之前不得再就此致电。",
                        _start_of_local_day(reopen, zone),
                    )
                )
    return reasons


def rule_initiated_cap(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """MA-01: at most N initiated calls and texts per debt per rolling window (unanswered calls count, Armata)."""
    cap = params.get("initiated_cap")
    if not cap or attempt.channel not in cap["channels"] or attempt.target_role != "debtor":
        return []
    bucket = "other" if attempt.to_kind == "work" else "personal"
    limit, days = cap[bucket]["max"], cap[bucket]["window_days"]
    since = attempt.at - dt.timedelta(days=days)
    reasons = []
    for debt in attempt.debts or (0,):
        key = (debt,) if debt else ()
        events = sorted(
            (
                e
                for e in _debtor_events(facts)
                if e.direction == "outbound"
                and e.channel in cap["channels"]
                and e.outcome != "failed"
                and since < e.at <= attempt.at
                and _concerns(e.debts, key)
            ),
            key=lambda e: e.at,
        )
        inputs.setdefault("initiated", {})[str(debt or "any")] = {
            "count": len(events),
            "days": days,
            "events": [e.id for e in events],
        }
        if len(events) >= limit:
            next_at = events[len(events) - limit].at + dt.timedelta(days=days) + dt.timedelta(seconds=1)
            reasons.append(
                _bilingual(
                    cap.get("rule", "MA-01"),
                    DEFER,
                    f"{len(events)} calls or texts about this debt in {days} days: the limit is {limit}.",
                    f"{days} 天内已就该笔债务联系 {len(events)} 次，上限为 {limit} 次。",
                    next_at,
                )
            )
    return reasons


def rule_daily_caps(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """CN-02 (3 connected calls per debtor per day, all collectors) and CN-03 (6 unanswered attempts per number)."""
    caps = params.get("daily_caps")
    if not caps or attempt.channel != "call" or attempt.target_role != "debtor":
        return []
    zone = (params.get("time_window") or {}).get("zone") or _zones_for(facts, {})[0]
    today = _local(attempt.at, zone).date()
    tomorrow = _start_of_local_day(today + dt.timedelta(days=1), zone)
    midnight = _start_of_local_day(today, zone)  # today's calls: from local midnight up to the attempt
    calls = [
        e
        for e in _debtor_events(facts)
        if e.channel == "call" and e.direction == "outbound" and midnight <= e.at <= attempt.at
    ]
    connected = [e for e in calls if e.outcome == "conversation" or e.outcome == "reserved"]
    unanswered = [e for e in calls if (e.outcome in UNANSWERED or e.outcome == "reserved") and e.to == attempt.to]
    inputs["daily"] = {"connected": [e.id for e in connected], "unanswered_to_number": [e.id for e in unanswered]}
    reasons = []
    if len(connected) >= caps["connected_calls_per_debtor"]:
        reasons.append(
            _bilingual(
                "CN-02",
                DEFER,
                f"{len(connected)} connected calls today: at most "
                f"{caps['connected_calls_per_debtor']} a day, all collectors together.",
                f"今日已接通 {len(connected)} 次：所有催收人员合计每日不超过 {caps['connected_calls_per_debtor']} 次。",
                tomorrow,
            )
        )
    if len(unanswered) >= caps["unanswered_attempts_per_number"]:
        reasons.append(
            _bilingual(
                "CN-03",
                DEFER,
                f"{len(unanswered)} unanswered attempts to this number today: at "
                f"most {caps['unanswered_attempts_per_number']}.",
                f"今日已对该号码拨打未接通 {len(unanswered)} 次：每日不超过 "
                f"{caps['unanswered_attempts_per_number']} 次。",
                tomorrow,
            )
        )
    return reasons


def rule_third_parties(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """CN-05 / USF-13: contacts and third parties only when the debtor cannot be reached, never about the debt.
    With ``unreachable_after_consecutive_failures`` (CN-11) "unreachable" is counted in attempts, not days."""
    rules = params.get("third_parties")
    if not rules or attempt.target_role in ("debtor", "attorney"):
        return []
    if "unreachable_after_consecutive_failures" in rules:
        refusal = third_party_unreachable_by_attempts(attempt, facts, rules, inputs)
        if refusal:
            return [refusal]
    else:
        days = rules.get("unreachable_after_days", 3)
        recent = [
            e
            for e in facts.ledger
            if e.target_role == "debtor"
            and e.outcome == "conversation"
            and attempt.at - dt.timedelta(days=days) <= e.at <= attempt.at
        ]
        if recent:
            return [
                _bilingual(
                    rules.get("rule", "CN-05"),
                    DENY,
                    "The borrower was reached recently: do not contact their contacts.",
                    "近期已联系上借款人：不得联系其联系人。",
                )
            ]
    if attempt.purpose not in LOCATE_PURPOSES:
        return [
            _bilingual(
                rules.get("rule", "CN-05"),
                DENY,
                "Contacts may only be asked how to reach the borrower, never about the debt.",
                "只能向联系人询问借款人的联系方式，不得提及债务。",
            )
        ]
    return []


# What a contact may be asked (CN-05, CBA 2026): how to reach the debtor, or to pass a message on.
LOCATE_PURPOSES = {"locate", "locate_or_relay", "relay"}
# CN-11: an attempt that failed to reach the debtor; a conversation or anything inbound resets the count.
FAILED_ATTEMPTS = {"no_answer", "busy", "failed", "voicemail", "not_home"}


def third_party_unreachable_by_attempts(
    attempt: Attempt, facts: BorrowerFacts, rules: dict[str, Any], inputs: dict[str, Any]
) -> Reason | None:
    """CN-11: a third party may be contacted only when the debtor's own numbers are invalid (none left) or the last
    N attempts to the debtor all failed, with no conversation or inbound contact since. The inputs list the failed
    attempts counted (or the missing numbers)."""
    needed = int(rules["unreachable_after_consecutive_failures"])
    failures: list[LedgerEvent] = []
    reset: LedgerEvent | None = None
    for e in sorted(_debtor_events(facts), key=lambda e: (e.at, e.id), reverse=True):
        if e.at > attempt.at or e.outcome == "reserved":
            continue
        if e.direction == "inbound" or e.outcome == "conversation":
            reset = e
            break
        if e.outcome in FAILED_ATTEMPTS and e.channel in ("call", "visit"):
            failures.append(e)
            if len(failures) >= needed:
                break
    no_numbers = not facts.phone_kinds and not facts.ledger
    inputs["unreachable"] = {
        "consecutive_failures": [e.id for e in reversed(failures)],
        "needed": needed,
        "reset_by": reset.id if reset else None,
        "own_numbers_invalid": no_numbers,
    }
    if no_numbers or len(failures) >= needed:
        return None
    if reset is not None and not failures:
        return _bilingual(
            rules.get("rule", "CN-05"),
            DENY,
            "The borrower was reached recently: do not contact their contacts.",
            "近期已联系上借款人：不得联系其联系人。",
        )
    return _bilingual(
        "CN-11",
        DENY,
        f"Only {len(failures)} consecutive failed attempts to reach the borrower: contacts only after {needed}.",
        f"联系借款人连续失败仅 {len(failures)} 次：连续失败 {needed} 次后方可联系其联系人。",
    )


def rule_visits(attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]) -> list[Reason]:
    """CN-08: field visits by at least two collectors."""
    visits = params.get("visits") or {}
    if attempt.channel != "visit" or attempt.collectors >= visits.get("min_collectors", 1):
        return []
    return [
        _bilingual(
            "CN-08",
            DENY,
            f"A field visit needs at least {visits['min_collectors']} collectors.",
            f"外访至少需要 {visits['min_collectors']} 名催收人员。",
        )
    ]


def rule_contact_cap(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """NYC-01 (3 contacts or attempts per 7 days per account, every channel) and WA-01 (3 per week in any form, 1 per
    week at work): outbound attempts in a rolling window, answered or not ("failed": never placed, not counted).
    Statutory notices and the verification are not collection attempts and are neither capped nor refused."""
    cap = params.get("contact_cap")
    if not cap or attempt.target_role != "debtor" or attempt.channel not in cap["channels"]:
        return []
    if attempt.purpose in STATUTORY_PURPOSES:
        return []
    buckets = [("all", cap["max"], cap["window_days"], False)]
    work = cap.get("work")
    if work and attempt.to_kind in ("work", "work_email", "work_address"):
        buckets.append(("work", work["max"], work["window_days"], True))
    per_account = cap.get("per") == "account"
    reasons = []
    for debt in (attempt.debts or (0,)) if per_account else (0,):
        key = (debt,) if debt else ()
        for bucket, limit, days, at_work in buckets:
            since = attempt.at - dt.timedelta(days=days)
            events = sorted(
                (
                    e
                    for e in _debtor_events(facts)
                    if e.direction == "outbound"
                    and e.channel in cap["channels"]
                    and e.outcome != "failed"
                    and since < e.at <= attempt.at
                    and (not per_account or _concerns(e.debts, key))
                    and (not at_work or facts.phone_kinds.get(e.to) == "work" or facts.email_kinds.get(e.to) == "work")
                ),
                key=lambda e: e.at,
            )
            if _explaining(inputs):
                inputs.setdefault("contact_cap", {})[f"{debt or 'any'}:{bucket}"] = {
                    "count": len(events),
                    "days": days,
                    "events": [e.id for e in events],
                }
            if len(events) >= limit:
                next_at = events[len(events) - limit].at + dt.timedelta(days=days) + dt.timedelta(seconds=1)
                where = " at work" if at_work else ""
                where_zh = "在工作场所" if at_work else ""
                reasons.append(
                    _bilingual(
                        cap.get("rule", "NYC-01"),
                        DEFER,
                        f"{len(events)} contacts or attempts{where} in {days} days, all channels together: "
                        f"the limit is {limit}.",
                        f"{days} 天内{where_zh}已联系或尝试联系 {len(events)} 次（所有渠道合计），上限为 {limit} 次。",
                        next_at,
                    )
                )
    return reasons


# Purposes the law requires or allows whatever else stops collection: a statutory notice, the verification, the
# validation notice (VAL-01), the UK notice of sums in arrears and default notice (CCA s.86B, s.87): never capped,
# never counted against a cap.
STATUTORY_PURPOSES = {"statutory_notice", "verification", "validation_notice", "arrears_notice", "default_notice"}
# What a breathing space lets through (BS-01: "letters required by law excepted"): a statutory notice and the notice
# of sums in arrears, which the Act requires and which asks for nothing — not a default notice, the first step of
# enforcement the scheme stops — and the acknowledgement of a request to stop contact, which is no collection.
BREATHING_SPACE_LETTERS = {"statutory_notice", "arrears_notice", "cease_acknowledgement"}


def rule_written_consent(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """NYC-01: e-mail and text messages to the debtor only with a recorded written consent for that address."""
    electronic = params.get("electronic") or {}
    if not electronic.get("require_written_consent") or attempt.channel not in ("sms", "email"):
        return []
    if attempt.target_role != "debtor" or attempt.purpose == "opt_out_confirmation" or not attempt.to:
        return []
    if attempt.to in facts.written_consent:
        return []
    return [
        _bilingual(
            electronic.get("rule", "NYC-01"),
            DENY,
            "No written consent on record for electronic messages to this address.",
            "没有该地址接收电子消息的书面同意记录。",
        )
    ]


def rule_breathing_space(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """BS-01: during a breathing space (standard 60 days; mental-health crisis: treatment plus 30 days) no collection
    contact at all, automated or not; a letter the law requires (``purpose=statutory_notice``) still goes."""
    spaces = [
        r
        for r in facts.restrictions
        if r.kind == "breathing_space" and (r.loan_id is None or not attempt.debts or r.loan_id in attempt.debts)
    ]
    if not spaces or (attempt.purpose in BREATHING_SPACE_LETTERS and attempt.channel in ("letter", "email")):
        return []
    if attempt.target_role == "attorney":
        return []
    inputs["breathing_space"] = [r.id for r in spaces]
    return [
        _bilingual(
            "BS-01",
            DENY,
            "Breathing space: no collection contact until it ends (statutory notices excepted).",
            "债务喘息期：结束之前不得进行任何催收联系（法定通知除外）。",
        )
    ]


def rule_vulnerability(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """VUL-01 (FG21/1, CONC 7.2.1R, UK-01): a borrower with an active vulnerability record gets no automated
    contact without a person looking first (REVIEW), and the adjustments agreed with them hold for every contact:
    written contact only (no calls, texts or visits), only the named collector. A promise made to the borrower, so
    it holds whatever the jurisdiction."""
    record = facts.vulnerability
    if record is None or attempt.target_role != "debtor":
        return []
    reasons = []
    adjustments = set(record.adjustments)
    if "written_only" in adjustments and attempt.channel in ("call", "sms", "visit"):
        reasons.append(
            _bilingual(
                "VUL-01",
                DENY,
                "Written contact only (letters and e-mail) was agreed with this vulnerable customer.",
                "已与该弱势客户约定仅以书面方式（信函和电子邮件）联系。",
            )
        )
    if attempt.automated:
        no_automated = "no_automated" in adjustments
        reasons.append(
            _bilingual(
                "VUL-01",
                DENY if no_automated else REVIEW,
                "No automated contact was agreed with this vulnerable customer."
                if no_automated
                else "A person must review every automated contact with this vulnerable customer first.",
                "已与该弱势客户约定不进行自动联系。" if no_automated else "对该弱势客户的所有自动联系须先经人工审核。",
            )
        )
    elif (
        "named_collector" in adjustments
        and record.named_collector_id is not None
        and attempt.actor_id is not None
        and attempt.actor_id != record.named_collector_id
    ):
        reasons.append(
            _bilingual(
                "VUL-01",
                DENY,
                "Only the named collector may contact this vulnerable customer.",
                "只有指定的催收员可以联系该弱势客户。",
            )
        )
    if reasons and _explaining(inputs):
        inputs["vulnerability"] = {"record": record.id, "adjustments": sorted(adjustments)}
    return reasons


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (the month's last day when it has no such day: Jan 31 + 1 → Feb 28/29)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - every month has a 28th


def certification_valid_through(cert: CertificationFact, validity_months: int | None) -> dt.date:
    """The last day a training record counts: its expiry, and never past ``validity_months`` after it was passed
    (a record typed with a longer expiry than the profile allows does not stretch the yearly renewal)."""
    if not validity_months:
        return cert.expires_on
    return min(cert.expires_on, add_months(cert.passed_on, validity_months) - dt.timedelta(days=1))


def rule_certification(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """CERT-01: under a profile with ``collector_certification.required`` (CN_ONLINE_LENDING: training and an exam
    before collecting, renewed yearly), a manual contact — a collector's call, a text a collector sends from the case
    page, a field visit — is DENIED when anyone making it has no training record in force on the day (in the
    profile's zone). Contacts no person made or asked for (``staff`` empty: the sweep's reminders, automated calls)
    are not concerned."""
    setting = params.get("collector_certification") or {}
    if not setting.get("required") or not attempt.staff:
        return []
    zone = setting.get("zone") or (params.get("time_window") or {}).get("zone") or "UTC"
    today = _local(attempt.at, zone).date()
    months = setting.get("validity_months")
    uncertified = [
        person.user_id
        for person in attempt.staff
        if not any(c.passed_on <= today <= certification_valid_through(c, months) for c in person.certifications)
    ]
    if _explaining(inputs):
        inputs["certification"] = {
            "day": today.isoformat(),
            "staff": [p.user_id for p in attempt.staff],
            "uncertified": uncertified,
        }
    if not uncertified:
        return []
    return [
        _bilingual(
            setting.get("rule", "CERT-01"),
            DENY,
            "No collection training and exam in force for this collector (required before collecting and renewed "
            "every year): a manager must record a valid certificate first.",
            "该催收员没有有效的催收培训及考试合格记录（上岗前须通过，每年复训）：须由经理先登记有效证书。",
        )
    ]


# The notice itself, the verification and what the law requires or allows whatever else applies: never refused by
# VAL-01 (a statutory notice, an opt-out's confirmation are not collection contacts either).
VALIDATION_EXEMPT = {
    "validation_notice",
    "verification",
    "statutory_notice",
    "opt_out_confirmation",
    "cease_acknowledgement",
}


def _end_of_day(day: dt.date, zone: str) -> dt.datetime:
    return _start_of_local_day(day + dt.timedelta(days=1), zone)


def rule_validation_notice(
    attempt: Attempt, facts: BorrowerFacts, params: dict[str, Any], inputs: dict[str, Any]
) -> list[Reason]:
    """VAL-01 (Reg F 12 CFR 1006.34(a)(1)(i)(B)): a validation notice within ``days`` (5) after the initial
    communication about a debt. Until one is recorded (mailed), every collection contact about the debt after the
    first communication (the contact ledger records it: ``DebtClock``) is allowed with a WARN up to the end of day 5
    after it (the borrower's calendar day; with several candidate zones, the earliest end) and DENIED after; REVIEW
    when the first communication predates the system (its date is unknown: a person checks that a notice went out).
    Before any communication nothing is said: that contact is the first and starts the 5 days. The notice itself and
    the verification are never refused (``VALIDATION_EXEMPT``), nor contacts with anyone but the debtor."""
    rule = params["validation_notice"]
    if attempt.target_role != "debtor" or not attempt.debts or attempt.purpose in VALIDATION_EXEMPT:
        return []
    days = int(rule.get("days", 5))
    cite = rule.get("rule", "VAL-01")
    clocks = {c.loan_id: c for c in facts.debt_clocks}
    zones = _zones_for(facts, {})
    reasons: list[Reason] = []
    for debt in attempt.debts:
        clock = clocks.get(debt)
        if clock is not None and clock.notice_sent_at is not None:
            continue
        first = clock.first_communication_at if clock is not None else None
        if first is None and clock is not None and clock.before_system:
            reasons.append(
                _bilingual(
                    cite,
                    REVIEW,
                    "The first communication about this debt predates the system and no validation notice is "
                    "recorded: check that one was sent (or send it) first.",
                    "该笔债务的首次联系早于本系统，且没有债务确认通知记录：请先确认已寄出（或寄出）。",
                )
            )
            continue
        if first is None:
            continue  # no communication yet: this contact will be the first, and starts the 5 days
        due = min(_end_of_day(_local(first, z).date() + dt.timedelta(days=days), z) for z in zones)
        if _explaining(inputs):
            inputs.setdefault("validation_notice", {})[str(debt)] = {
                "first_communication_at": first.isoformat(),
                "due_before": due.isoformat(),
            }
        if attempt.at < due:
            day_due = (due - dt.timedelta(seconds=1)).astimezone(_zone(zones[0])).date().isoformat()
            reasons.append(
                _bilingual(
                    cite,
                    WARN,
                    f"No validation notice is recorded for this debt yet: it is due by {day_due} "
                    f"({days} days after the first communication).",
                    f"该笔债务尚无债务确认通知记录：须在 {day_due} 之前寄出（首次联系后 {days} 天内）。",
                )
            )
        else:
            reasons.append(
                _bilingual(
                    cite,
                    DENY,
                    f"More than {days} days since the first communication about this debt and no validation notice "
                    "is recorded: send the validation notice first.",
                    f"距首次就该笔债务联系已超过 {days} 天且没有债务确认通知记录：请先寄出债务确认通知。",
                )
            )
    return reasons


RULES: list[Rule] = [
    rule_certification,
    rule_holds,
    rule_opt_outs,
    rule_tcpa_consent,
    rule_electronic_content,
    rule_time_barred,
    rule_workplace,
    rule_third_parties,
    rule_visits,
    rule_time_window,
    rule_inconvenient_time,
    rule_reg_f_frequency,
    rule_initiated_cap,
    rule_daily_caps,
    rule_contact_cap,
    rule_written_consent,
    rule_validation_notice,
]


# ---------------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------------
def applicable(profiles: Iterable[Profile], country: str, region: str, city: str = "") -> list[Profile]:
    """The profiles whose ``applies_to`` matches the borrower's address (country, and region and city if listed)."""
    profiles = tuple(profiles)
    key = (tuple((p.code, p.version) for p in profiles), country.upper(), region.upper(), city.strip().upper())
    chosen = _APPLICABLE.get(key)
    if chosen is None or chosen[0] != profiles:
        if len(_APPLICABLE) > 4096:
            _APPLICABLE.clear()
        chosen = (profiles, [p for p in profiles if _applies(p, key[1], key[2], key[3])])
        _APPLICABLE[key] = chosen
    return chosen[1]


def _applies(profile: Profile, country: str, region: str, city: str = "") -> bool:
    scope = profile.params.get("applies_to", {})
    regions, cities = scope.get("regions"), scope.get("cities")
    return (
        country in scope.get("countries", [])
        and (not regions or region in [r.upper() for r in regions])
        and (not cities or city in [c.upper() for c in cities])
    )


# Which profiles apply to an address, per set of profile versions: the same few answers for every borrower.
_APPLICABLE: dict[tuple[Any, str, str, str], tuple[tuple[Profile, ...], list[Profile]]] = {}


# Rules that hold in every jurisdiction (a person's own requests: opt-outs, workplace, inconvenient times) run once
# per decision; the others run for each applicable profile that sets their parameters.
GENERIC_RULES = [
    rule_contact_point,
    rule_breathing_space,
    rule_opt_outs,
    rule_workplace,
    rule_inconvenient_time,
    rule_complaints,
    rule_vulnerability,
]
PARAMETER_OF: dict[Rule, str] = {
    rule_holds: "holds",
    rule_tcpa_consent: "tcpa",
    rule_electronic_content: "electronic",
    rule_time_barred: "time_barred",
    rule_third_parties: "third_parties",
    rule_visits: "visits",
    rule_time_window: "time_window",
    rule_reg_f_frequency: "call_frequency",
    rule_initiated_cap: "initiated_cap",
    rule_daily_caps: "daily_caps",
    rule_contact_cap: "contact_cap",
    rule_written_consent: "electronic",
    rule_certification: "collector_certification",
    rule_validation_notice: "validation_notice",
}
# Rules whose answer depends on the instant. The others judge facts that do not change while a contact waits
# (holds, opt-outs, consent, content), so when a contact is only deferred, finding the next allowed instant needs
# to re-check these alone.
TIME_RULES = {
    rule_certification,  # a training record expires at the end of a day
    rule_time_window,
    rule_inconvenient_time,
    rule_reg_f_frequency,
    rule_initiated_cap,
    rule_daily_caps,
    rule_contact_cap,
    rule_validation_notice,  # past day 5 a waiting contact would be refused
}
GENERIC = "*"
# Channels a rule can object to (the rule checks again itself; this only spares calls that cannot find anything).
CHANNELS_OF: dict[Rule, set[str]] = {
    rule_electronic_content: {"sms", "email"},
    rule_written_consent: {"sms", "email"},
    rule_certification: {"call", "sms", "visit"},
    rule_visits: {"visit"},
    rule_reg_f_frequency: {"call"},
    rule_daily_caps: {"call"},
}


@dataclass(frozen=True)
class _Plan:
    """What to run for a set of applicable profiles, prepared once per set."""

    steps: dict[str, tuple[tuple[Rule, str, dict[str, Any]], ...]]  # per channel: rule, profile code (or *), params
    time_steps: dict[str, tuple[tuple[Rule, str, dict[str, Any]], ...]]
    evaluated: tuple[str, ...]
    profile_labels: tuple[str, ...]


_PLANS: dict[tuple[tuple[str, int], ...], _Plan] = {}


def _plan(profiles: list[Profile]) -> _Plan:
    key = tuple((p.code, p.version) for p in profiles)
    plan = _PLANS.get(key)
    if plan is None:
        steps: list[tuple[Rule, str, dict[str, Any]]] = [(rule, GENERIC, profiles[0].params) for rule in GENERIC_RULES]
        steps += [
            (rule, p.code, p.params)
            for p in profiles
            for rule in RULES
            if rule in PARAMETER_OF and PARAMETER_OF[rule] in p.params
        ]
        by_channel = {c: tuple(s for s in steps if c in CHANNELS_OF.get(s[0], CHANNELS)) for c in CHANNELS}
        plan = _Plan(
            steps=by_channel,
            time_steps={c: tuple(s for s in by_channel[c] if s[0] in TIME_RULES) for c in CHANNELS},
            evaluated=tuple(f"{code}:{rule.__name__.removeprefix('rule_')}" for rule, code, _ in steps),
            profile_labels=tuple(f"{p.code}@{p.version}" for p in profiles),
        )
        if len(_PLANS) > 256:
            _PLANS.clear()
        _PLANS[key] = plan
    return plan


class _Discard(dict):
    """Inputs of a re-check that nobody will read (finding the next allowed instant): rules skip explaining."""


def _explaining(inputs: dict[str, Any]) -> bool:
    return not isinstance(inputs, _Discard)


def _evaluate_once(attempt: Attempt, facts: BorrowerFacts, plan: _Plan, explain: bool = True) -> Result:
    reasons: list[Reason] = []
    inputs: dict[str, Any] = (
        {"zones": list(facts.zones), "profiles": list(plan.profile_labels)} if explain else _Discard()
    )
    for rule, code, params in (plan.steps if explain else plan.time_steps)[attempt.channel]:
        for reason in rule(attempt, facts, params, inputs):
            reasons.append(
                Reason(reason.rule, reason.outcome, reason.message, reason.message_zh, reason.next_allowed_at, code)
            )
    outcome = max((r.outcome for r in reasons), key=SEVERITY.__getitem__, default=ALLOW)
    return Result(
        outcome=outcome,
        reasons=reasons,
        next_allowed_at=None,
        evaluated=list(plan.evaluated) if explain else [],
        inputs=inputs,
    )


def evaluate(attempt: Attempt, facts: BorrowerFacts, profiles: Iterable[Profile]) -> Result:
    """The decision for one attempt (see module docstring). Deterministic: same inputs, same result."""
    if attempt.channel not in CHANNELS:
        raise ValueError(f"unknown channel {attempt.channel!r}")
    if attempt.at.tzinfo is None:
        raise ValueError("the instant must be timezone-aware")
    chosen = applicable(profiles, facts.country, facts.region, facts.city)
    if not chosen:
        reason = _bilingual(
            "NO-PROFILE",
            REVIEW,
            "No jurisdiction profile covers this borrower's address.",
            "借款人地址不在任何司法辖区配置范围内。",
        )
        return Result(REVIEW, [reason], None, [], {"zones": list(facts.zones), "profiles": []})
    plan = _plan(chosen)
    result = _evaluate_once(attempt, facts, plan)
    if result.outcome == DEFER:
        result.next_allowed_at = _next_allowed(attempt, facts, plan, result)
    return result


def _next_allowed(attempt: Attempt, facts: BorrowerFacts, plan: _Plan, first: Result) -> dt.datetime | None:
    """Move to the latest instant any rule asked to wait for, re-check everything there, repeat until allowed."""
    candidate, current = attempt.at, first
    for _ in range(60):
        waits = [r.next_allowed_at for r in current.reasons if r.outcome == DEFER]
        known = [w for w in waits if w is not None]
        if not waits or len(known) < len(waits):
            return None
        candidate = max(max(known), candidate + dt.timedelta(seconds=1))
        current = _evaluate_once(Attempt(**{**attempt.__dict__, "at": candidate}), facts, plan, explain=False)
        if current.allowed:
            return candidate
        if current.outcome != DEFER:
            return None
    return None
