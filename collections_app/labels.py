"""The words a person reads for the system's identifiers — transitions, states, channels, the gate's outcomes,
timeline entries — in both languages. Pages and messages show these, never the identifiers themselves."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from collections_app.models import CaseState, Frequency

TRANSITIONS: dict[str, Promise] = {
    "open": _("Case opened"),
    "escalate_formal_notice": _("Escalate to formal notice"),
    "request_legal": _("Request legal review"),
    "approve_legal": _("Approve legal action"),
    "reject_legal": _("Reject legal action"),
    "take_promise": _("Promise to pay"),
    "promise_kept": _("Promise kept"),
    "promise_broken": _("Promise broken"),
    "start_plan": _("Installment plan started"),
    "plan_broken": _("Installment plan broken"),
    "plan_completed": _("Installment plan completed"),
    "place_hold": _("Put on hold"),
    "lift_hold": _("Hold lifted"),
    "resolve": _("Resolved"),
    "close": _("Close the case"),
    "extend_grace": _("Hardship grace granted"),
    "breathing_space_treatment": _("Crisis treatment end recorded"),
    "reassign": _("Reassigned"),
    "evidence_pack": _("Evidence pack built"),
    "reject_plan": _("Installment plan rejected"),
    # What the borrower did on their own page that moves no state (services.borrower_actions).
    "propose_plan": _("Installment plan asked for, waiting for a manager"),
    "dispute": _("Debt disputed"),
    "set_preferences": _("Contact preferences changed"),
    "request_callback": _("Call back asked for"),
    # The dispute workflow (services.disputes).
    "verification_prepared": _("Verification of the dispute prepared"),
    "resend_formal_notice": _("Formal notice sent again"),
    "verification_mailed": _("Verification mailed: dispute hold lifted"),
}
CHANNELS: dict[str, Promise] = {
    "call": _("Call"),
    "sms": _("SMS"),
    "email": _("E-mail"),
    "letter": _("Letter"),
    "visit": _("Field visit"),
}
OUTCOMES: dict[str, Promise] = {
    "allow": _("allowed"),
    "warn": _("allowed, with a warning"),
    "defer": _("not yet"),
    "review": _("needs a person"),
    "deny": _("not allowed"),
}
# The gate's rules (docs/compliance-rules.md) in a few words, short enough for a chart's label column: pages show
# these, the rule id only in a tooltip and the CSV downloads (an unknown id — a rule added later — is shown as is).
RULES: dict[str, Promise] = {
    "USF-01": _("Outside hours (US)"),
    "USF-02": _("Inconvenient time"),
    "USF-03": _("No contact at work"),
    "USF-04": _("Has an attorney"),
    "USF-05": _("Asked to stop contact"),
    "USF-06": _("Opted out"),
    "USF-07": _("No opt-out wording"),
    "USF-08": _("7 calls in 7 days"),
    "USF-09": _("Quiet week after a talk"),
    "USF-20": _("Disputed, not verified"),
    "USF-21": _("Time-barred debt"),
    "USF-25": _("Borrower deceased"),
    "BK-01": _("Bankruptcy stay"),
    "TCPA-01": _("No autodial consent"),
    "TCPA-02": _("Autodial revoked (STOP)"),
    "MA-01": _("Massachusetts cap"),
    "MA-02": _("Outside hours (MA)"),
    "CN-01": _("Outside hours (China)"),
    "CN-02": _("3 connected calls a day"),
    "CN-03": _("6 unanswered a day"),
    "CN-05": _("Contacts: locate only"),
    "CN-08": _("Visit needs 2 collectors"),
    "UK-04": _("Outside hours (UK)"),
    "NYC-01": _("New York City cap"),
    "WA-01": _("Washington cap"),
    "CN-11": _("Contacts: 3 failed attempts"),
    "BS-01": _("Breathing space"),
    "FB-01": _("Forbearance first"),
    "VAL-01": _("Validation notice due"),
    "DSP-01": _("Disputed in the validation period"),
    "DN-01": _("Default notice remedy period"),
    "FN-01": _("Formal notice response period"),
    "CCA-86B": _("Notice of sums in arrears"),
    "NO-PROFILE": _("No profile for address"),
    "NO-ADDRESS": _("No number or address"),
    "HOLD-HARDSHIP": _("Hardship review"),
    "CMP-01": _("Complaint under review"),
    "VUL-01": _("Vulnerable customer"),
    "CERT-01": _("Collector not certified"),
    "HOLD-CEASE": _("Asked to stop (policy)"),
    "HOLD-ATTORNEY": _("Has a lawyer (policy)"),
    "HOLD-BANKRUPTCY": _("Bankruptcy (policy)"),
    "HOLD-DISPUTE": _("Disputed (policy)"),
    "HOLD-DECEASED": _("Deceased (policy)"),
}
TIMELINE_KINDS: dict[str, Promise] = {
    "transition": _("stage"),
    "contact": _("contact"),
    "note": _("note"),
    "promise": _("promise"),
    "plan": _("plan"),
    "hold": _("hold"),
    "visit": _("visit"),
    "keypress": _("reminder call"),
    "portal": _("borrower page"),
    "complaint": _("complaint"),
    "forbearance": _("forbearance"),
}
# The audit's actor when the borrower acted on their own (a reminder call's keypad): no user, this label.
BORROWER = "borrower"
# Who did it, when no user did (the audit's ``actor_label``): words for the label; usernames as they are.
ACTORS: dict[str, Promise] = {BORROWER: _("the borrower (self-service)")}


def actor_words(label: str) -> str:
    return str(ACTORS.get(label, label))


def transition_label(name: str) -> str:
    return str(TRANSITIONS.get(name, name.replace("_", " ")))


def state_label(state: str) -> str:
    return str(CaseState(state).label) if state in CaseState.values else state


def bucket_label(bucket: str) -> str:
    """A days-past-due bucket ("current", "1-30", … "181+") in words."""
    if bucket == "current":
        return gettext("current (not overdue)")
    return gettext("%(bucket)s days past due") % {"bucket": bucket}


def bucket_short(bucket: str) -> str:
    """A bucket for a chart's narrow label column: the day counts as they are, "current" in words."""
    return gettext("not overdue") if bucket == "current" else bucket


def channel_label(channel: str) -> str:
    return str(CHANNELS.get(channel, channel))


def outcome_label(outcome: str) -> str:
    return str(OUTCOMES.get(outcome, outcome))


def rule_label(rule: str) -> str:
    """A gate rule's id (USF-20, CN-01 …) in the reader's words."""
    return str(RULES.get(rule, rule))


# A plan's breaches of the installment policy are stored as the service wrote them (services.arrangements
# ``plan_policy_breaches``, in English): each pattern below reads one back into the reader's words.
PLAN_BREACHES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"^(\d+) installments \(policy: at most (\d+)\)$"),
        lambda m: gettext("%(n)s installments, policy at most %(max)s") % {"n": m[1], "max": m[2]},
    ),
    (
        re.compile(r"^term of (\d+) days \(policy: at most (\d+)\)$"),
        lambda m: gettext("a term of %(n)s days, policy at most %(max)s") % {"n": m[1], "max": m[2]},
    ),
    (
        re.compile(r"^down payment below ([\d.]+)%$"),
        lambda m: gettext("down payment below %(pct)s %%, the policy's minimum") % {"pct": m[1]},
    ),
    (
        re.compile(r"^waiver above ([\d.]+)% of overdue fees$"),
        lambda m: gettext("fees waived above %(pct)s %% of the overdue fees") % {"pct": m[1]},
    ),
    (
        re.compile(r"^amount above ([\d.]+) needs a manager$"),
        lambda m: gettext("a total above %(amount)s needs a manager") % {"amount": m[1]},
    ),
    (
        re.compile(r"^(\w+) payments are not allowed$"),
        lambda m: (
            gettext("%(frequency)s payments are not allowed by the policy")
            % {"frequency": Frequency(m[1]).label if m[1] in Frequency.values else m[1]}
        ),
    ),
]


def plan_breach_label(breach: str) -> str:
    """One stored breach of a plan (e.g. "12 installments (policy: at most 6)") in the reader's words."""
    for pattern, words in PLAN_BREACHES:
        match = pattern.match(breach)
        if match:
            return words(match)
    return breach


def plan_breaches_label(breaches: list[str]) -> str:
    """A plan's breaches as one line: "12 installments, policy at most 6; down payment below 10 %, …"."""
    return "; ".join(plan_breach_label(b) for b in breaches)
