"""What the borrower may choose on their own page (issue 15), read for the forms of ``collections_app.borrower_forms``
and checked again by the services of ``collections_app.services.borrower_actions``:

- ``promise_limits``: the dates (the collection policy's ``promise_max_days``) and amounts a promise may take;
- ``plan_options``: the installment plans offered, each with every payment's date and amount and whether it starts
  at once (inside the ``InstallmentPolicy``) or waits for a manager;
- ``contact_preferences``: the borrower's preferences as the gate counts them now;
- ``callback_slots``: the half-hours of the next three days the gate allows a collector's call in, in the borrower's
  local time with the zone named.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed

from collections_app.models import (
    OPEN_STATES,
    CollectionCase,
    InstallmentPolicy,
    PaymentPlan,
    PlanStatus,
    PromiseStatus,
    PromiseToPay,
)
from collections_app.selectors.case_page import borrower_zone
from collections_app.services.arrangements import loan_fees_overdue, plan_policy_breaches, plan_schedule
from collections_app.services.cases import ZERO, policy_current
from compliance.engine import Attempt
from compliance.models import Restriction, RestrictionKind
from compliance.services import PlannedContact, contacts_check_batch, facts_load
from loans.models import PhoneKind
from loans.services import product_today

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Where the borrower's own requests come from (a restriction's and a consent's ``source``).
BORROWER_PAGE = "borrower_page"
CENT = Decimal("0.01")


def _case(case_id: int) -> CollectionCase:
    return CollectionCase.objects.select_related("loan__product", "policy", "borrower").get(pk=case_id)


# ---------------------------------------------------------------------------------------------------------------
# Promise
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PromiseLimits:
    """What a promise on this case may be: a date from ``earliest`` to ``latest`` (the product's days), an amount
    up to ``max_amount``; ``unavailable``: why no promise can be taken now (empty: one can)."""

    earliest: dt.date
    latest: dt.date
    suggested_amount: Decimal
    max_amount: Decimal
    currency: str
    unavailable: StrOrPromise = ""


def promise_limits(*, case_id: int) -> PromiseLimits:
    """The limits of the collection policy the case runs under (``promise_max_days``), as ``promise_record``
    checks them."""
    case = _case(case_id)
    loan = case.loan
    today = product_today(loan.product)
    unavailable: StrOrPromise = ""
    if PromiseToPay.objects.filter(case=case, status=PromiseStatus.OPEN).exists():
        unavailable = _("You have already promised a payment on this loan.")
    elif not can_proceed(case.take_promise):
        unavailable = _("A promise cannot be taken on this loan now. Please call us.")
    elif loan.outstanding_balance <= 0:
        unavailable = _("Nothing is left to pay on this loan.")
    return PromiseLimits(
        earliest=today,
        latest=today + dt.timedelta(days=case.policy.promise_max_days),
        suggested_amount=min(loan.amount_overdue, loan.outstanding_balance),
        max_amount=loan.outstanding_balance,
        currency=loan.currency,
        unavailable=unavailable,
    )


# ---------------------------------------------------------------------------------------------------------------
# Installment plans
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlanOption:
    """One plan the borrower may choose: a down payment (the policy's least, due on the first day) then ``count``
    payments; ``starts_at_once`` inside the policy, otherwise it waits for a manager (``breaches`` say why, as
    ``plan_policy_breaches`` words them)."""

    frequency: str
    count: int
    total: Decimal
    down_payment: Decimal
    starts_on: dt.date
    payments: tuple[tuple[dt.date, Decimal], ...]
    breaches: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.frequency}-{self.count}"

    @property
    def starts_at_once(self) -> bool:
        return not self.breaches


@dataclass(frozen=True)
class PlanOptions:
    """The plans offered on a case, in the loan's currency; ``unavailable``: why none can be chosen now."""

    currency: str
    options: list[PlanOption] = field(default_factory=list)
    unavailable: StrOrPromise = ""


# Numbers of payments offered for each frequency the policy allows, besides the policy's own most.
COUNTS = (2, 3, 4, 6)


def plan_options(*, case_id: int) -> PlanOptions:
    """The plans offered for the case's overdue amount: for each frequency the installment policy allows, 2, 3, 4
    and 6 payments, the policy's most and twice it (capped at 60); the down payment is the policy's least. Each is
    judged by ``plan_policy_breaches`` exactly as ``plan_propose`` will judge it: no breach, it starts at once."""
    case = _case(case_id)
    loan = case.loan
    if not can_proceed(case.start_plan):
        return PlanOptions(loan.currency, unavailable=_("A plan cannot be set up on this loan now. Please call us."))
    if PaymentPlan.objects.filter(case=case, status__in=[PlanStatus.PENDING_APPROVAL, PlanStatus.ACTIVE]).exists():
        return PlanOptions(loan.currency, unavailable=_("You already have a plan on this loan, or one is waiting."))
    overdue = loan.amount_overdue
    if overdue <= 0:
        return PlanOptions(loan.currency, unavailable=_("Nothing is overdue on this loan."))
    today = product_today(loan.product)
    policy = policy_current(InstallmentPolicy, loan.product_id)
    fees = loan_fees_overdue(loan_id=loan.pk, today=today)
    down = (overdue * policy.min_down_payment_percent / 100).quantize(CENT, rounding=ROUND_UP)
    if down >= overdue:
        return PlanOptions(loan.currency, unavailable=_("The overdue amount is too small for a plan."))
    counts = sorted({*COUNTS, policy.max_installments, min(60, policy.max_installments * 2)})
    options = []
    for frequency in [f for f in ("weekly", "biweekly", "monthly") if f in policy.allowed_frequencies]:
        for count in counts:
            schedule = plan_schedule(total=overdue, down_payment=down, count=count, frequency=frequency,
                                     starts_on=today)  # fmt: skip
            breaches = plan_policy_breaches(policy=policy, overdue=overdue, fees_overdue=fees, down_payment=down,
                                            count=count, frequency=frequency, waived=ZERO, schedule=schedule,
                                            starts_on=today)  # fmt: skip
            options.append(PlanOption(frequency, count, overdue, down, today, tuple(schedule), tuple(breaches)))
    return PlanOptions(loan.currency, options)


# ---------------------------------------------------------------------------------------------------------------
# Contact preferences
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContactPreferences:
    """The borrower's preferences as the gate counts them now (the form's starting values)."""

    zone: str
    quiet_before: str  # "HH:MM" or ""
    quiet_after: str
    words: str
    language: str
    preferred_channel: str
    stop_sms: bool
    stop_email: bool
    stop_automated_calls: bool


def borrower_time_windows(borrower_id: int) -> list[Restriction]:
    """The quiet hours the borrower set on their page and that are in force (at most one, normally)."""
    return list(
        Restriction.objects.active()
        .filter(borrower_id=borrower_id, kind=RestrictionKind.INCONVENIENT_TIME, source=BORROWER_PAGE)
        .order_by("-id")
    )


def contact_preferences(*, borrower_id: int) -> ContactPreferences:
    """What the gate counts for the borrower now: their page's quiet hours, and their opt-outs (one opted-out number
    or address is enough to show the medium as stopped: saving stops it for every one)."""
    from loans.models import Borrower

    borrower = Borrower.objects.get(pk=borrower_id)
    facts, _profiles = facts_load([borrower_id], at=timezone.now())
    known = facts[borrower_id]
    windows = borrower_time_windows(borrower_id)
    details = windows[0].details if windows else {}
    quiet_before = details.get("to", "") if details.get("to") not in (None, "00:00") else ""
    quiet_after = details.get("from", "") if details.get("from") not in (None, "00:00") else ""
    return ContactPreferences(
        zone=borrower_zone(borrower),
        quiet_before=quiet_before,
        quiet_after=quiet_after,
        words=str(details.get("words", "")),
        language=borrower.language,
        preferred_channel=borrower.preferred_channel,
        stop_sms=bool(known.sms_opted_out),
        stop_email=bool(known.email_opted_out),
        stop_automated_calls=bool(known.call_opted_out),
    )


# ---------------------------------------------------------------------------------------------------------------
# Call back
# ---------------------------------------------------------------------------------------------------------------
SLOT_MINUTES = 30
SLOT_DAYS = 3


@dataclass(frozen=True)
class Slot:
    """Half an hour a collector may call in, in the borrower's zone (``start``/``end`` carry it)."""

    start: dt.datetime
    end: dt.datetime

    @property
    def key(self) -> str:
        return self.start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


@dataclass(frozen=True)
class CallbackSlots:
    zone: str
    slots: list[Slot] = field(default_factory=list)
    unavailable: StrOrPromise = ""


def slot_starts(now: dt.datetime, zone: str, *, days: int = SLOT_DAYS) -> list[dt.datetime]:
    """Every half-hour from the first one after ``now`` (at least a quarter of an hour ahead, for the collector to
    see it) to ``days`` days on, in ``zone``."""
    tz = ZoneInfo(zone)
    first = (now + dt.timedelta(minutes=15)).astimezone(tz)
    if first.second or first.microsecond:
        first = first.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    # On the local half-hours (a zone may be 45 minutes off UTC): added as elapsed time, then read in the zone.
    first = (first.astimezone(dt.UTC) + dt.timedelta(minutes=-first.minute % SLOT_MINUTES)).astimezone(tz)
    count = days * 24 * 60 // SLOT_MINUTES
    return [(first + dt.timedelta(minutes=SLOT_MINUTES * n)).astimezone(tz) for n in range(count)]


def slots_allowed(case: CollectionCase, starts: list[dt.datetime]) -> list[Slot]:
    """The slots in which the gate allows a collector's call about the case's loan, at both ends (its first and its
    last minute), judged in one batch (facts loaded once, nothing stored: offering a time is not a contact)."""
    if not starts:
        return []
    planned = []
    for start in starts:
        for at in (start + dt.timedelta(minutes=1), start + dt.timedelta(minutes=SLOT_MINUTES - 1)):
            attempt = Attempt(channel="call", at=at, automated=False, debts=(case.loan_id,))
            planned.append(PlannedContact(borrower_id=case.borrower_id, attempt=attempt, loan_id=case.loan_id))
    results = contacts_check_batch(planned, store=False)
    return [
        Slot(start, start + dt.timedelta(minutes=SLOT_MINUTES))
        for n, start in enumerate(starts)
        if results[2 * n].allowed and results[2 * n + 1].allowed
    ]


def callback_slots(*, case_id: int, now: dt.datetime | None = None) -> CallbackSlots:
    """The half-hours of the next three days in which a collector may call the borrower back, in their zone."""
    case = _case(case_id)
    zone = borrower_zone(case.borrower)
    if case.state not in OPEN_STATES:
        return CallbackSlots(zone, unavailable=_("This loan is no longer being collected."))
    if not case.borrower.phones.filter(kind__in=PhoneKind.values).exists():
        return CallbackSlots(zone, unavailable=_("We have no phone number for you. Please call us."))
    slots = slots_allowed(case, slot_starts(now or timezone.now(), zone))
    if not slots:
        return CallbackSlots(zone, unavailable=_("We cannot call you in the next three days. Please call us."))
    return CallbackSlots(zone, slots)
