"""The collector's desk: which open cases the user can act on now, most urgent first, and the next one to open.

"Can act now" is decided in three steps, each set-based so the cost does not grow with the book:

1. SQL leaves out the waiting states — legal review (awaiting a manager), on hold or with a hold in force, a promise
   or a plan running (unless the promise falls due today), a callback asked for later than now.
2. The gate's contact hours, per place rather than per case: the distinct (zones, country, region) of the remaining
   cases — a few dozen at most — are each asked once with the most permissive facts a borrower there could have (a
   mobile, no restriction, no contact yet). A place where even that is denied (night there, a Sunday, a holiday) is
   left out in SQL; the gate never allows more with more facts.
3. The real gate, in batches of ``BATCH`` cases in urgency order (the facts of a batch's borrowers in one query),
   over at most ``MAX_BATCHES`` batches: caps, restrictions and consents, exactly as a call would be judged.

Urgency: a callback due first (the earliest first), then a promise due today, then the queue's priority order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import Case, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When

from collections_app.models import CaseState, CollectionCase, Hold, PromiseStatus, PromiseToPay
from collections_app.selectors.access import cases_visible_to
from compliance.engine import Attempt, BorrowerFacts, Profile, contact_point, evaluate
from compliance.services import facts_load, profiles_current, to_kind_for

BATCH = 25
MAX_BATCHES = 4
# States in which the case waits on someone else: a manager (legal review), a hold, the borrower's promise or plan.
WAITING_STATES = (CaseState.LEGAL_REVIEW, CaseState.ON_HOLD, CaseState.PROMISE_TO_PAY, CaseState.PAYMENT_PLAN)
# A place nobody has a number in: the synthetic facts' phone (a mobile, the most permissive kind).
_ANY_MOBILE = "+10000000000"


def _promise_due(today: dt.date) -> Exists:
    return Exists(
        PromiseToPay.objects.filter(case_id=OuterRef("pk"), status=PromiseStatus.OPEN, promised_on__lte=today)
    )


def _waiting_filtered(cases: QuerySet[CollectionCase], now: dt.datetime) -> QuerySet[CollectionCase]:
    """Step 1: no waiting state, no hold in force, no callback asked for later."""
    promise_due = _promise_due(now.date())
    hold = Exists(Hold.objects.filter(case_id=OuterRef("pk"), lifted_at__isnull=True))
    return (
        cases.filter(~Q(state__in=WAITING_STATES) | Q(state=CaseState.PROMISE_TO_PAY) & promise_due)
        .filter(~hold)
        .filter(Q(callback_at__isnull=True) | Q(callback_at__lte=now))
    )


def places_callable_now(places: Iterable[tuple[Any, str, str]], profiles: list[Profile], now: dt.datetime) -> set:
    """Step 2: of these (zones, country, region), the places where a call by hand may be allowed now — the gate
    asked once per place with the most permissive facts a borrower there could have."""
    allowed = set()
    for zones, country, region in places:
        facts = BorrowerFacts(
            borrower_id=0, zones=tuple(zones or ()), country=country, region=region, phone_kinds={_ANY_MOBILE: "mobile"}
        )
        attempt = Attempt(channel="call", at=now, to=_ANY_MOBILE, to_kind="mobile", automated=False, debts=(0,))
        if evaluate(attempt, facts, profiles).allowed:
            allowed.add((tuple(zones or ()), country, region))
    return allowed


def actionable_cases(*, user: Any, now: dt.datetime, profiles: list[Profile] | None = None) -> QuerySet[CollectionCase]:
    """Open cases the user may see and could act on now (steps 1 and 2), most urgent first. The real gate (step 3)
    is for the caller: a page of the queue asks it per row, ``next_case_for`` per batch."""
    cases = _waiting_filtered(cases_visible_to(user).open(), now)
    places = cases.values_list("borrower__time_zones", "borrower__country", "borrower__region").distinct()
    callable_now = places_callable_now(places, profiles_current() if profiles is None else profiles, now)
    where = Q(pk__in=[])
    for zones, country, region in callable_now:
        where |= Q(borrower__time_zones=list(zones), borrower__country=country, borrower__region=region)
    urgency = Case(
        When(callback_at__lte=now, then=Value(0)),
        When(_promise_due(now.date()), then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return (
        cases.filter(where)
        .annotate(urgency=urgency)
        .select_related("borrower", "loan", "assigned_to")
        .order_by("urgency", "callback_at", "-priority", "-days_past_due", "id")
    )


def call_allowed(facts: BorrowerFacts, profiles: list[Profile], case: CollectionCase, now: dt.datetime) -> bool:
    """The gate's answer (a dry run, not stored) for a call by hand to the borrower's first phone now."""
    to = contact_point(facts, "call")
    attempt = Attempt(
        channel="call", at=now, to=to, to_kind=to_kind_for(facts, "call", to), automated=False, debts=(case.loan_id,)
    )
    return evaluate(attempt, facts, profiles).allowed


def next_case_for(*, user: Any, now: dt.datetime, skip: Iterable[int] = ()) -> CollectionCase | None:
    """The most urgent case the user can act on now — the gate allows a call to the borrower now — or None.
    ``skip``: cases to pass over (the one just worked).

    The same order as ``actionable_cases``, read as three ranges so that none needs a sort of the whole book: the
    callbacks due and the promises due today (few, one query each), then the rest in the queue's index order, a
    batch at a time. A fixed number of queries: at most 5 + 2 * MAX_BATCHES."""
    profiles = profiles_current()
    cases = actionable_cases(user=user, now=now, profiles=profiles).exclude(pk__in=list(skip))
    due = list(cases.filter(callback_at__lte=now)[:BATCH])
    due += [c for c in cases.filter(_promise_due(now.date()), callback_at__isnull=True)[:BATCH]]
    rest = cases.filter(~_promise_due(now.date()), callback_at__isnull=True).order_by(
        "-priority", "-days_past_due", "id"
    )
    for batch in _batches(due, rest):
        facts, _ = facts_load({c.borrower_id for c in batch}, at=now)
        for case in batch:
            if call_allowed(facts[case.borrower_id], profiles, case, now):
                return case
    return None


def _batches(due: list[CollectionCase], rest: QuerySet[CollectionCase]) -> Iterator[list[CollectionCase]]:
    if due:
        yield due
    for start in range(0, BATCH * MAX_BATCHES, BATCH):
        batch = list(rest[start : start + BATCH])
        if batch:
            yield batch
        if len(batch) < BATCH:
            return
