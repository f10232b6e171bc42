"""Conduct rules that gate a case's escalation rather than a single contact (RULES.md §2.8): pure functions over
plain data, like the engine.

- BS-01: during a breathing space no escalation at all (nor enforcement).
- DSP-01: a written dispute (or a request for the original creditor) received within the validation period blocks
  every escalation until the verification is mailed (Reg F 1006.38(d)(2)).
- FB-01: under a profile with ``forbearance_before_enforcement``, ``request_legal`` waits until forbearance was
  recorded on the case — and, where the profile says so (EU_CCD2), a referral to free debt advice.
"""

from __future__ import annotations

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
) -> list[Reason]:
    """Why this escalation may not happen now (empty: no conduct rule objects). ``profiles``: those that apply to the
    borrower's address; ``forbearance_kinds``: the kinds recorded on the case."""
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
    return reasons
