"""Jurisdiction presets (docs/compliance-rules.md, "Profiles"), as data, and the JSON schema every profile must meet.

The data migration seeds these; admins edit them afterwards (each save a new version). Values marked "policy" in the
rule catalogue are company choices and may be tuned; the others come from the rule texts cited there.
"""

from __future__ import annotations

from typing import Any

_TIME = {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$"}
_CHANNELS = {"type": "array", "items": {"enum": ["call", "sms", "email", "letter", "visit"]}, "uniqueItems": True}
_POSITIVE = {"type": "integer", "minimum": 1}
# REC-01: required (every call recorded), allowed_with_disclosure (recorded after an announcement), off (not recorded).
RECORDING_MODES = ("required", "allowed_with_disclosure", "off")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["applies_to"],
    "additionalProperties": False,
    "properties": {
        "description": {"type": "string"},
        "applies_to": {
            "type": "object",
            "additionalProperties": False,
            "required": ["countries"],
            "properties": {
                "countries": {"type": "array", "items": {"type": "string", "pattern": "^[A-Z]{2}$"}, "minItems": 1},
                "regions": {"type": "array", "items": {"type": "string"}},
            },
        },
        "time_window": {
            "type": "object",
            "additionalProperties": False,
            "required": ["start", "end"],
            "properties": {
                "start": _TIME,
                "end": _TIME,
                "zone": {"type": "string"},
                "exempt_channels": _CHANNELS,
                "rule": {"type": "string"},
            },
        },
        "call_frequency": {
            "type": "object",
            "additionalProperties": False,
            "required": ["max_calls", "window_days"],
            "properties": {"max_calls": _POSITIVE, "window_days": _POSITIVE, "post_conversation_days": _POSITIVE},
        },
        "initiated_cap": {
            "type": "object",
            "additionalProperties": False,
            "required": ["personal", "other", "channels"],
            "properties": {
                "personal": {
                    "type": "object",
                    "required": ["max", "window_days"],
                    "properties": {"max": _POSITIVE, "window_days": _POSITIVE},
                },
                "other": {
                    "type": "object",
                    "required": ["max", "window_days"],
                    "properties": {"max": _POSITIVE, "window_days": _POSITIVE},
                },
                "channels": _CHANNELS,
                "rule": {"type": "string"},
            },
        },
        "daily_caps": {
            "type": "object",
            "additionalProperties": False,
            "required": ["connected_calls_per_debtor", "unanswered_attempts_per_number"],
            "properties": {"connected_calls_per_debtor": _POSITIVE, "unanswered_attempts_per_number": _POSITIVE},
        },
        "third_parties": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"unreachable_after_days": _POSITIVE, "rule": {"type": "string"}},
        },
        "holds": {
            "type": "array",
            "items": {"enum": ["cease_and_desist", "attorney_represented", "bankruptcy", "dispute", "deceased"]},
            "uniqueItems": True,
        },
        # The rule each hold cites, per kind, where the jurisdiction's own rule is not the US one the engine cites
        # by default (engine.HOLD_RULES): a Chinese borrower's dispute hold is the lender's policy, not Regulation F.
        "hold_rules": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                kind: {"type": "string", "minLength": 1}
                for kind in ["cease_and_desist", "attorney_represented", "bankruptcy", "dispute", "deceased"]
            },
        },
        "electronic": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"require_opt_out_text": {"type": "boolean"}},
        },
        "tcpa": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"consent_required_for_automated": {"type": "boolean"}},
        },
        "time_barred": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"forbid_litigation_threats": {"type": "boolean"}},
        },
        "visits": {"type": "object", "additionalProperties": False, "properties": {"min_collectors": _POSITIVE}},
        # What a written notice must carry in the jurisdiction: the lender's licence number under ``label`` (the
        # product's ``lender_licences`` names the number for this profile's code).
        "letters": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "licence_required": {"type": "boolean"},
                "licence_label": {"type": "string", "minLength": 1},
                "rule": {"type": "string"},
            },
            "if": {"properties": {"licence_required": {"const": True}}},
            "then": {"required": ["licence_label"]},
        },
        # REC-01: whether a call placed through the system is recorded, announced, and how long the recording is kept.
        "recording": {
            "type": "object",
            "additionalProperties": False,
            "required": ["mode"],
            "properties": {
                "mode": {"enum": list(RECORDING_MODES)},
                "retention_years": _POSITIVE,
                "rule": {"type": "string"},
            },
            # A profile that records says how long the recordings are kept.
            "if": {"properties": {"mode": {"enum": ["required", "allowed_with_disclosure"]}}},
            "then": {"required": ["retention_years"]},
        },
    },
}

ALL_HOLDS = ["cease_and_desist", "attorney_represented", "bankruptcy", "dispute", "deceased"]
# Outside the US the catalogue has no law behind these holds (docs/compliance-rules.md, pseudo-rules): they are the
# lender's policy, and a reason says so instead of citing Regulation F, the FDCPA or the US Bankruptcy Code.
POLICY_HOLD_RULES = {
    "cease_and_desist": "HOLD-CEASE",
    "attorney_represented": "HOLD-ATTORNEY",
    "bankruptcy": "HOLD-BANKRUPTCY",
    "dispute": "HOLD-DISPUTE",
    "deceased": "HOLD-DECEASED",
}

US_FED_REGF: dict[str, Any] = {
    "description": "FDCPA + Regulation F + TCPA",
    "applies_to": {"countries": ["US"]},
    "time_window": {"start": "08:00", "end": "21:00", "exempt_channels": ["letter"], "rule": "USF-01"},
    "call_frequency": {"max_calls": 7, "window_days": 7, "post_conversation_days": 7},
    "holds": ALL_HOLDS,
    "electronic": {"require_opt_out_text": True},
    "tcpa": {"consent_required_for_automated": True},
    "time_barred": {"forbid_litigation_threats": True},
    # Reg F 1006.100: records, recordings included, kept 3 years. Announced on every US call: the two-party-consent
    # states (CA, MA, WA, FL, IL, PA …) need it, and a mobile number does not say which state its holder is in.
    "recording": {"mode": "allowed_with_disclosure", "retention_years": 3, "rule": "REC-01"},
}

US_MA_STRICT: dict[str, Any] = {
    "description": "Massachusetts, layered on US_FED_REGF: 2 initiated calls/texts per 7 days",
    "applies_to": {"countries": ["US"], "regions": ["MA"]},
    "time_window": {"start": "08:00", "end": "21:00", "exempt_channels": ["letter"], "rule": "MA-02"},
    "initiated_cap": {
        "personal": {"max": 2, "window_days": 7},
        "other": {"max": 2, "window_days": 30},
        "channels": ["call", "sms"],
        "rule": "MA-01",
    },
    "holds": ALL_HOLDS,
    "recording": {"mode": "allowed_with_disclosure", "retention_years": 3, "rule": "REC-01"},  # two-party consent
}

CN_ONLINE_LENDING: dict[str, Any] = {
    "description": "China online lending: CIFA 2018, GB/T 45251-2025, CBA 2026",
    "applies_to": {"countries": ["CN"]},
    "time_window": {
        "start": "08:00",
        "end": "22:00",
        "zone": "Asia/Shanghai",
        "exempt_channels": ["letter"],
        "rule": "CN-01",
    },
    "daily_caps": {"connected_calls_per_debtor": 3, "unanswered_attempts_per_number": 6},
    "third_parties": {"unreachable_after_days": 3, "rule": "CN-05"},
    "holds": ALL_HOLDS,
    "hold_rules": POLICY_HOLD_RULES,
    "visits": {"min_collectors": 2},
    # CN-09: every collection call recorded; records and recordings kept 5 years.
    "recording": {"mode": "required", "retention_years": 5, "rule": "REC-01"},
}

UK_CONC: dict[str, Any] = {
    "description": "UK CONC 7: 08:00-21:00 UK time",
    "applies_to": {"countries": ["GB"]},
    "time_window": {
        "start": "08:00",
        "end": "21:00",
        "zone": "Europe/London",
        "exempt_channels": ["letter"],
        "rule": "UK-04",
    },
    "holds": ALL_HOLDS,
    "hold_rules": POLICY_HOLD_RULES,
    "recording": {"mode": "off"},  # the catalogue sets nothing for the UK: not recorded until a policy says so
}

US_CA: dict[str, Any] = {
    "description": "California, layered on US_FED_REGF: the Debt Collection Licensing Act's licence number on letters",
    "applies_to": {"countries": ["US"], "regions": ["CA"]},
    # Rosenthal Act, Cal. Civ. Code 1788.11 as amended by SB 908 (the Debt Collection Licensing Act, 2020): a written
    # or digital communication that does not display the collector's licence number in at least 12-point type is a
    # prohibited practice. The gate's other rules come from US_FED_REGF.
    "letters": {"licence_required": True, "licence_label": "California Debt Collection License No.", "rule": "CA-LIC"},
}

PRESETS: dict[str, dict[str, Any]] = {
    "US_FED_REGF": US_FED_REGF,
    "US_MA_STRICT": US_MA_STRICT,
    "CN_ONLINE_LENDING": CN_ONLINE_LENDING,
    "UK_CONC": UK_CONC,
    "US_CA": US_CA,
}
