"""Writes to collection cases, one module per task:

- ``cases``: errors, policies, the state machine's transitions (lock, check, move, save, audit), reassignment;
- ``arrangements``: promises to pay, installment plans, the hardship grace extension;
- ``holds``: holds (each a compliance restriction) and notes;
- ``visits``: field visits;
- ``calls``: a collector's call, checked and reserved at dial time (placed through the provider when the collector
  has a phone on their profile), then its disposition; legal holds on its recordings.

Every function follows one shape: open a transaction, lock the case row, check, transition, save, write the
``CaseTransition`` audit row, and do database side effects in the same transaction (other apps' tables through their
own services). Domain errors are ``CaseError`` subclasses that the views and the API map to 403/409/400. The names
below are the public services, for callers that want one import.
"""

from collections_app.services.arrangements import (
    grace_extend,
    plan_decide,
    plan_propose,
    plan_propose_several,
    promise_record,
    promise_record_several,
)
from collections_app.services.calls import (
    PARTY_LEDGER,
    CallStarted,
    call_log,
    call_start,
    collector_phone,
    recording_hold,
)
from collections_app.services.cases import (
    STAGE_PURPOSES,
    USER_TRANSITIONS,
    CaseError,
    InvalidRequest,
    NotPermitted,
    RuleRefusal,
    TransitionConflict,
    available_transitions,
    case_transition,
    cases_reassign,
    formal_notice_resend,
    message_cancel_reason,
    message_covered_debts,
    policy_current,
    policy_revise,
)
from collections_app.services.disputes import (
    dispute_record,
    dispute_verification_mailed,
    dispute_verification_prepare,
)
from collections_app.services.holds import (
    DisputeTerms,
    breathing_space_treatment_end,
    forbearance_record,
    hold_lift,
    hold_place,
    note_add,
)
from collections_app.services.visits import case_address, team_collectors, visit_record, visit_schedule

__all__ = [
    "PARTY_LEDGER",
    "STAGE_PURPOSES",
    "USER_TRANSITIONS",
    "CallStarted",
    "CaseError",
    "DisputeTerms",
    "InvalidRequest",
    "NotPermitted",
    "RuleRefusal",
    "TransitionConflict",
    "available_transitions",
    "breathing_space_treatment_end",
    "call_log",
    "call_start",
    "case_address",
    "case_transition",
    "cases_reassign",
    "collector_phone",
    "dispute_record",
    "dispute_verification_mailed",
    "dispute_verification_prepare",
    "forbearance_record",
    "formal_notice_resend",
    "grace_extend",
    "hold_lift",
    "hold_place",
    "message_cancel_reason",
    "message_covered_debts",
    "note_add",
    "plan_decide",
    "plan_propose",
    "plan_propose_several",
    "policy_current",
    "policy_revise",
    "promise_record",
    "promise_record_several",
    "recording_hold",
    "team_collectors",
    "visit_record",
    "visit_schedule",
]
