"""Conduct rules that gate a case's escalation rather than a single contact (RULES.md §2.8): pure functions over
plain data, like the engine.

- BS-01: during a breathing space no escalation at all (nor enforcement).
- DSP-01: a written dispute (or a request for the original creditor) received within the validation period blocks
  every escalation until the verification is mailed (Reg F 1006.38(d)(2)).
- FB-01: under a profile with ``forbearance_before_enforcement``, ``request_legal`` waits until forbearance was
  recorded on the case — and, where the profile says so (EU_CCD2), a referral to free debt advice.
- DN-01: under a profile with ``default_notice`` (UK_CONC), no legal action is asked for (nor approved) until a
  default notice was posted during the case and the date it names to remedy the breach by has passed (Consumer
  Credit Act 1974 s.87(1): no enforcement "until the end of the period specified in the notice").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from compliance.engine import DENY, Profile, Reason

# The case machine's escalation transitions (collections_app.models.CollectionCase).
ESCALATIONS = frozenset({"escalate_formal_notice", "request_legal", "approve_legal"})
# FB-01 guards the request for legal action (and its approval, which would otherwise bypass it).
ENFORCEMENT = frozenset({"request_legal", "approve_legal"})
DEBT_ADVICE = "debt_advice_referral"


def escalation_refusals(
    transition: str,
    *,
    breathing_space: bool,
    forbearance_kinds: Iterable[str],
    profiles: Iterable[Profile],
    disputed_in_validation_period: bool = False,
    default_notice_remedy_by: dt.date | None = None,
    today: dt.date | None = None,
) -> list[Reason]:
    """Why this escalation may not happen now (empty: no conduct rule objects). ``profiles``: those that apply to the
    borrower's address; ``forbearance_kinds``: the kinds recorded on the case; ``default_notice_remedy_by``: the
    remedy date of the default notice posted during the case (None: none was), judged on ``today``."""
    if transition not in ESCALATIONS:
        return []
    reasons = []
    if breathing_space:
        reasons.append(
            Reason(
                "BS-01",
                DENY,
                "Breathing space: no escalation or enforcement until it ends.",
                "债务喘息期：结束之前不得升级催收或采取强制措施。",
            )
        )
    if disputed_in_validation_period:
        reasons.append(
            Reason(
                "DSP-01",
                DENY,
                "Disputed in writing within the validation period: no escalation until the verification is mailed.",
                "借款人在核实期内书面提出争议：寄出核实材料之前不得升级催收。",
            )
        )
    if transition in ENFORCEMENT:
        kinds = set(forbearance_kinds)
        for profile in profiles:
            rule = profile.params.get("forbearance_before_enforcement") or {}
            if not rule.get("required"):
                continue
            if not kinds - {DEBT_ADVICE}:
                reasons.append(
                    Reason(
                        rule.get("rule", "FB-01"),
                        DENY,
                        "Record the forbearance offered or considered before asking for legal action.",
                        "申请法律程序之前，须先记录已提供或考虑过的宽限措施。",
                        profile=profile.code,
                    )
                )
            elif rule.get("debt_advice_referral") and DEBT_ADVICE not in kinds:
                reasons.append(
                    Reason(
                        rule.get("rule", "FB-01"),
                        DENY,
                        "Refer the borrower to free debt advice before asking for legal action.",
                        "申请法律程序之前，须先转介借款人至免费债务咨询。",
                        profile=profile.code,
                    )
                )
    if transition in ENFORCEMENT:
        reasons += _default_notice_refusals(profiles, default_notice_remedy_by, today)
    return reasons


def _default_notice_refusals(
    profiles: Iterable[Profile], remedy_by: dt.date | None, today: dt.date | None
) -> list[Reason]:
    """DN-01: a profile that asks for a default notice refuses enforcement without one, or within its remedy period
    (the breach may still be remedied up to and including the date the notice names)."""
    for profile in profiles:
        rule = profile.params.get("default_notice")
        if rule is None:
            continue
        code = rule.get("rule", "DN-01")
        if remedy_by is None:
            return [
                Reason(
                    code,
                    DENY,
                    "No default notice has been posted during this case: legal action waits for it and for the end "
                    "of the period it gives to remedy the breach.",
                    "本案尚未寄出违约通知：须寄出违约通知并待其补救期届满后，方可申请法律程序。",
                    profile=profile.code,
                )
            ]
        if today is None or today <= remedy_by:
            return [
                Reason(
                    code,
                    DENY,
                    f"The default notice gives the borrower until {remedy_by.isoformat()} to remedy the breach: legal "
                    f"action may be asked for from the day after.",
                    f"违约通知给予借款人补救违约的期限至 {remedy_by.isoformat()}：次日起方可申请法律程序。",
                    profile=profile.code,
                )
            ]
    return []
