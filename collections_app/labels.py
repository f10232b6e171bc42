"""The words a person reads for the system's identifiers — transitions, states, channels, the gate's outcomes,
timeline entries — in both languages. Pages and messages show these, never the identifiers themselves."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from collections_app.models import CaseState

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
    "reassign": _("Reassigned"),
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
TIMELINE_KINDS: dict[str, Promise] = {
    "transition": _("stage"),
    "contact": _("contact"),
    "note": _("note"),
    "promise": _("promise"),
    "plan": _("plan"),
    "hold": _("hold"),
    "visit": _("visit"),
}


def transition_label(name: str) -> str:
    return str(TRANSITIONS.get(name, name.replace("_", " ")))


def state_label(state: str) -> str:
    return str(CaseState(state).label) if state in CaseState.values else state


def channel_label(channel: str) -> str:
    return str(CHANNELS.get(channel, channel))


def outcome_label(outcome: str) -> str:
    return str(OUTCOMES.get(outcome, outcome))
