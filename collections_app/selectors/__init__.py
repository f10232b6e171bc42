"""Reads of cases for pages and the API, one module per reader's task:

- ``access``: who may see what (the one access rule) and the lookups that apply it;
- ``queue``: the collector's queue;
- ``desk``: the cases the user can act on now and the next one to open;
- ``borrower``: one borrower and all their loans and cases (the borrower page);
- ``case_page``: one case and its "can I contact now?" panel;
- ``calls``: a case's calls (the disposition owed, recent calls, recordings and who may hear them);
- ``escalations``: the managers' escalation review (legal review, plans waiting, exceptions, denials);
- ``reports``: performance and message statistics;
- ``portfolio``: the landing page's portfolio at a glance (the latest sweep's snapshot; live for collectors);
- ``alerts``: what managers must see on every page;
- ``notices``: a case's notice clocks (validation notice, default notice, formal notice);
- ``payments``: the policy's least online payment.

The names below are the package's public reads, for callers that want one import.
"""

from collections_app.selectors.access import (
    borrower_get_for_user,
    case_get_for_user,
    cases_visible_to,
    collectors_for,
    teams_for,
)
from collections_app.selectors.alerts import providers_paused, sweep_overdue
from collections_app.selectors.borrower import BorrowerPage, LoanLine, borrower_page, promise_partners
from collections_app.selectors.calls import (
    CallPanel,
    call_panel,
    call_pending,
    recording_for_user,
    recording_may_hear,
)
from collections_app.selectors.case_page import (
    PANEL_CHANNELS,
    ChannelAnswer,
    borrower_zone,
    case_page,
    contact_panel,
)
from collections_app.selectors.desk import actionable_cases, next_case_for
from collections_app.selectors.escalations import (
    ESCALATION_LISTS,
    ESCALATION_PAGE_SIZE,
    EscalationFilters,
    escalation_page,
    evidence_pack_of_case,
    possible_complaints,
)
from collections_app.selectors.notices import NoticeClock, notice_clocks
from collections_app.selectors.payments import payment_minimum, payment_minimums
from collections_app.selectors.queue import DPD_BUCKETS, QUEUE_PAGE_SIZE, calls_allowed_now, case_queue_for
from collections_app.selectors.readers import reader_language_and_zone, reader_zone
from collections_app.selectors.reports import BucketTotal, message_stats, performance, performance_figures

__all__ = [
    "DPD_BUCKETS",
    "ESCALATION_LISTS",
    "ESCALATION_PAGE_SIZE",
    "PANEL_CHANNELS",
    "QUEUE_PAGE_SIZE",
    "BorrowerPage",
    "BucketTotal",
    "CallPanel",
    "ChannelAnswer",
    "EscalationFilters",
    "LoanLine",
    "NoticeClock",
    "actionable_cases",
    "borrower_get_for_user",
    "borrower_page",
    "borrower_zone",
    "call_panel",
    "call_pending",
    "calls_allowed_now",
    "case_get_for_user",
    "case_page",
    "case_queue_for",
    "cases_visible_to",
    "collectors_for",
    "contact_panel",
    "escalation_page",
    "evidence_pack_of_case",
    "message_stats",
    "next_case_for",
    "notice_clocks",
    "payment_minimum",
    "payment_minimums",
    "performance",
    "performance_figures",
    "possible_complaints",
    "promise_partners",
    "providers_paused",
    "reader_language_and_zone",
    "reader_zone",
    "recording_for_user",
    "recording_may_hear",
    "sweep_overdue",
    "teams_for",
]
