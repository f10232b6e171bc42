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
                # NYC-01: a city's own rules (the borrower's address city, any of these names).
                "cities": {"type": "array", "items": {"type": "string"}, "minItems": 1},
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
            "properties": {
                "unreachable_after_days": _POSITIVE,
                # CN-11: unreachable after this many consecutive failed attempts (instead of a number of days).
                "unreachable_after_consecutive_failures": _POSITIVE,
                "rule": {"type": "string"},
            },
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
            "properties": {
                "require_opt_out_text": {"type": "boolean"},
                # NYC-01: e-mail and texts only with a recorded written consent for the address.
                "require_written_consent": {"type": "boolean"},
                "rule": {"type": "string"},
            },
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
        # NYC-01 / WA-01: contacts and attempts per rolling window across channels (per account or per debtor), and
        # optionally a smaller cap at work.
        "contact_cap": {
            "type": "object",
            "additionalProperties": False,
            "required": ["max", "window_days", "channels"],
            "properties": {
                "max": _POSITIVE,
                "window_days": _POSITIVE,
                "channels": _CHANNELS,
                "per": {"enum": ["account", "debtor"]},
                "work": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["max", "window_days"],
                    "properties": {"max": _POSITIVE, "window_days": _POSITIVE},
                },
                "rule": {"type": "string"},
            },
        },
        # FB-01: legal escalation only once forbearance was recorded on the case (and, where set, a referral to free
        # debt advice).
        "forbearance_before_enforcement": {
            "type": "object",
            "additionalProperties": False,
            "required": ["required"],
            "properties": {
                "required": {"type": "boolean"},
                "debt_advice_referral": {"type": "boolean"},
                "rule": {"type": "string"},
            },
        },
        "visits": {"type": "object", "additionalProperties": False, "properties": {"min_collectors": _POSITIVE}},
        # VAL-01 (Reg F 1006.34): a validation notice within ``days`` after the first communication about a debt; the
        # gate warns until then and denies after, and the system plans the notice itself (collections_app sweep).
        "validation_notice": {
            "type": "object",
            "additionalProperties": False,
            "required": ["days"],
            "properties": {"days": _POSITIVE, "rule": {"type": "string"}},
        },
        # UK notices the sweep plans as letters (Consumer Credit Act 1974): the notice of sums in arrears (s.86B) once
        # the borrower has missed ``missed_payments`` payments (or the last one), and the default notice (s.87) as
        # the case reaches formal notice; DN-01: no legal action asked for before its remedy date has passed.
        "arrears_notice": {
            "type": "object",
            "additionalProperties": False,
            "required": ["missed_payments"],
            "properties": {"missed_payments": _POSITIVE, "rule": {"type": "string"}},
        },
        "default_notice": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"rule": {"type": "string"}},
        },
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
        # CERT-01: manual contacts only by collectors with a training record in force (passed on or before the day,
        # not past its expiry nor ``validity_months`` after it was passed).
        "collector_certification": {
            "type": "object",
            "additionalProperties": False,
            "required": ["required"],
            "properties": {
                "required": {"type": "boolean"},
                "validity_months": _POSITIVE,
                "zone": {"type": "string"},
                "rule": {"type": "string"},
                "source": {"type": "string"},
            },
        },
        # QA of collectors' calls: the checklist a manager scores a sampled call against (docs/compliance-rules.md).
        "qa_checklist": {"type": "array", "items": {"type": "string", "pattern": "^[a-z_]+$"}, "uniqueItems": True},
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
    # QA: identification; the mini-Miranda (1006.18(e)); no false threats (1692e, 1006.18); within the hours (USF-01).
    "qa_checklist": ["identification", "mini_miranda", "no_false_threats", "within_hours"],
    # VAL-01: here only, not on the stricter US profiles: they are layered on this one (every US address gets it),
    # and a parameter on two applicable profiles would give every contact two identical reasons.
    "validation_notice": {"days": 5, "rule": "VAL-01"},
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
    # CN-11: "unreachable" is 3 consecutive failed attempts (a conversation or an inbound contact resets the count).
    "third_parties": {"unreachable_after_consecutive_failures": 3, "rule": "CN-05"},
    "holds": ALL_HOLDS,
    "hold_rules": POLICY_HOLD_RULES,
    "visits": {"min_collectors": 2},
    # CN-09: every collection call recorded; records and recordings kept 5 years.
    "recording": {"mode": "required", "retention_years": 5, "rule": "REC-01"},
    # CERT-01: collection staff trained and examined before they start, and again every year.
    "collector_certification": {
        "required": True,
        "validity_months": 12,
        "zone": "Asia/Shanghai",
        "rule": "CERT-01",
        "source": "issue 17 §5: training and an exam before collecting, renewed yearly (legal text to be confirmed)",
    },
    # QA: identification; none of CN-07's forbidden conduct (threats, insults, impersonating authorities, fake
    # blacklists, exaggerated consequences); no debt information to anyone but the debtor (CN-06).
    "qa_checklist": ["identification", "no_abusive_language", "no_third_party_disclosure"],
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
    # FB-01 (CONC 7.3.4R, PS24/2): forbearance offered or considered before enforcement.
    "forbearance_before_enforcement": {"required": True, "rule": "FB-01"},
    # Consumer Credit Act 1974: the notice of sums in arrears once two payments are missed (s.86B(1)), and the
    # default notice before any enforcement (s.87(1)), whose remedy period DN-01 enforces on the escalation.
    "arrears_notice": {"missed_payments": 2, "rule": "CCA-86B"},
    "default_notice": {"rule": "DN-01"},
    # QA: identification; fair treatment, forbearance mentioned to a customer in difficulty (CONC 7.3, FG21/1).
    "qa_checklist": ["identification", "fair_treatment"],
}

# NYC-01 (DCWP rules effective 2026-09-01), layered on US_FED_REGF for addresses in the five boroughs.
NYC_CITIES = [
    "New York",
    "New York City",
    "NYC",
    "Manhattan",
    "Brooklyn",
    "Bronx",
    "The Bronx",
    "Queens",
    "Staten Island",
]
US_NYC_DCWP: dict[str, Any] = {
    "description": "New York City DCWP: 3 contacts or attempts per 7 days per account, all channels; "
    "e-mail and texts only with written consent",
    "applies_to": {"countries": ["US"], "regions": ["NY"], "cities": NYC_CITIES},
    "contact_cap": {
        "max": 3,
        "window_days": 7,
        "channels": ["call", "sms", "email", "letter", "visit"],
        "per": "account",
        "rule": "NYC-01",
    },
    "electronic": {"require_opt_out_text": True, "require_written_consent": True, "rule": "NYC-01"},
    "holds": ALL_HOLDS,
    "recording": {"mode": "allowed_with_disclosure", "retention_years": 3, "rule": "REC-01"},
}

# WA-01 (RCW 19.16.250), layered on US_FED_REGF: USF-01's 08:00 still governs the morning.
US_WA: dict[str, Any] = {
    "description": "Washington: 3 communications per week in any form, 1 per week at work, home 07:30-21:00",
    "applies_to": {"countries": ["US"], "regions": ["WA"]},
    "time_window": {"start": "07:30", "end": "21:00", "exempt_channels": ["letter"], "rule": "WA-01"},
    "contact_cap": {
        "max": 3,
        "window_days": 7,
        "channels": ["call", "sms", "email", "letter", "visit"],
        "per": "debtor",
        "work": {"max": 1, "window_days": 7},
        "rule": "WA-01",
    },
    "holds": ALL_HOLDS,
    "recording": {"mode": "allowed_with_disclosure", "retention_years": 3, "rule": "REC-01"},  # two-party consent
}

# FB-01 for the EU Consumer Credit Directive 2 (Art. 35-36, from 2026-11-20): forbearance and a referral to free
# debt advice before enforcement. The directive sets no contact hours; member states' own rules are not modelled.
EU_COUNTRIES = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
]  # fmt: skip
EU_CCD2: dict[str, Any] = {
    "description": "EU Consumer Credit Directive 2: forbearance and debt advice before enforcement",
    "applies_to": {"countries": EU_COUNTRIES},
    "holds": ALL_HOLDS,
    "hold_rules": POLICY_HOLD_RULES,
    "recording": {"mode": "off"},
    "forbearance_before_enforcement": {"required": True, "debt_advice_referral": True, "rule": "FB-01"},
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
    "US_NYC_DCWP": US_NYC_DCWP,
    "US_WA": US_WA,
    "EU_CCD2": EU_CCD2,
}
