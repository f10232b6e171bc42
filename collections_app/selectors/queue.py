"""The collector's queue: open cases most urgent first, with filters, and whether a call is allowed now per row."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from collections_app.models import CollectionCase, PromiseToPay
from collections_app.selectors.access import cases_visible_to
from collections_app.selectors.case_page import ChannelAnswer, gate_dry_run
from collections_app.selectors.desk import actionable_cases
from compliance.engine import Profile, contact_point
from compliance.services import facts_load
from loans.models import PhoneNumber
from loans.selectors import DPD_BUCKETS as REPORT_BUCKETS

QUEUE_PAGE_SIZE = 25


# The queue filters by the buckets the reports use (one definition: loans.selectors), those of overdue loans.
DPD_BUCKETS = {label: (low, high) for label, low, high in REPORT_BUCKETS if low > 0}


def case_queue_for(
    *,
    user: Any,
    stage: str = "",
    search: str = "",
    bucket: str = "",
    language: str = "",
    promises_due: dt.date | None = None,
    callbacks_due: dt.datetime | None = None,
    act_now: dt.datetime | None = None,
    profiles: list[Profile] | None = None,
) -> QuerySet[CollectionCase]:
    """Open cases the user may see, most urgent first. ``search`` matches a name, a phone number or a loan's
    external id; ``bucket`` is a days-past-due range; ``promises_due`` keeps cases with a promise due that day;
    ``act_now``: only the cases the user can act on at that time (``selectors.desk``), callbacks due first;
    ``profiles``: the current jurisdiction profiles, when the caller has read them already."""

    if act_now is not None:
        cases = actionable_cases(user=user, now=act_now, profiles=profiles)
    else:
        cases = (
            cases_visible_to(user).open().select_related("borrower", "loan", "assigned_to")
            .order_by("-priority", "-days_past_due", "id")
        )  # fmt: skip
    if stage:
        cases = cases.filter(state=stage)
    if bucket in DPD_BUCKETS:
        low, high = DPD_BUCKETS[bucket]
        cases = cases.filter(days_past_due__gte=low, **({"days_past_due__lte": high} if high else {}))
    if language:
        cases = cases.filter(borrower__language=language)
    if promises_due:
        due = PromiseToPay.objects.filter(case_id=OuterRef("pk"), status="open", promised_on=promises_due)
        cases = cases.filter(Exists(due))
    if callbacks_due:
        cases = cases.filter(callback_at__lte=callbacks_due)
    if search:
        digits = "".join(c for c in search if c.isdigit() or c == "+")
        match = Q(borrower__full_name__icontains=search) | Q(loan__external_id__iexact=search)
        if len(digits) >= 6:
            match |= Q(Exists(PhoneNumber.objects.filter(borrower_id=OuterRef("borrower_id"), number__contains=digits)))
        cases = cases.filter(match)
    return cases


def calls_allowed_now(
    *, cases: list[CollectionCase], now: dt.datetime, chinese: bool, profiles: list[Profile] | None = None
) -> dict[int, ChannelAnswer]:
    """For a page of the queue: may the collector call each borrower now (their first mobile, by hand)? One query
    for the whole page: the borrowers' facts, and the current profiles with them unless ``profiles`` are given."""
    if not cases:
        return {}
    facts, loaded = facts_load([c.borrower_id for c in cases], at=now, with_profiles=profiles is None)
    profiles = profiles if profiles is not None else loaded or []
    answers = {}
    for case in cases:
        borrower = facts[case.borrower_id]
        phone = contact_point(borrower, "call")  # no number: the gate denies (NO-ADDRESS)
        answers[case.pk] = gate_dry_run(
            borrower, profiles, channel="call", to=phone, loan_id=case.loan_id, now=now, chinese=chinese
        )
    return answers
