"""The notice clocks of one case, as its page shows them beside its documents (issue 16, point 2): the US validation
notice and its validation period (VAL-01), the UK default notice and its remedy date (DN-01), and the formal notice
sent in writing with its response period (FN-01) — what each clock holds back and from which day. One query
(the debt's clock); at the formal stages two more (the notice sent, the current policy's days)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from collections_app.models import CaseState, CollectionCase
from collections_app.services.cases import (
    formal_notice_response_ends,
    formal_notice_returned,
    formal_notice_served_at,
)
from compliance.engine import Profile, applicable
from compliance.models import DebtClock
from compliance.services import profiles_current

# Where the formal notice's clock matters: at the stage and on the way to legal.
FORMAL_STAGES = (CaseState.FORMAL_NOTICE, CaseState.LEGAL_REVIEW, CaseState.LEGAL)


@dataclass(frozen=True)
class NoticeClock:
    """One clock: what it is, what it says now, and whether it still holds something back."""

    name: str
    status: str
    running: bool
    # The formal notice came back undelivered: the page offers to send it again.
    resend: bool = False


def notice_clocks(case: CollectionCase, today: dt.date, profiles: list[Profile] | None = None) -> list[NoticeClock]:
    """The clocks that apply to this case (by the borrower's profiles and the case's stage), judged on ``today`` (the
    product's calendar day). Dates are days, in the product's calendar as the clocks count them. ``profiles``: those
    that apply to the borrower's address, when the caller has them."""
    borrower = case.borrower
    if profiles is None:
        profiles = applicable(profiles_current(), borrower.country, borrower.region, borrower.city)
    params = [p.params for p in profiles]
    clock = DebtClock.objects.filter(loan_id=case.loan_id).first()
    clocks = []
    if any("validation_notice" in p for p in params):
        if clock is not None and clock.validation_period_ends_on is not None:
            ends = clock.validation_period_ends_on
            status = _("Mailed on %(mailed)s; the validation period ends on %(ends)s.") % {
                "mailed": _day(clock.notice_mailed_on),
                "ends": _day(ends),
            }
            clocks.append(NoticeClock(_("Validation notice"), status, today <= ends))
        else:
            clocks.append(NoticeClock(_("Validation notice"), _("Not mailed yet."), True))
    if any("default_notice" in p for p in params):
        remedy_by = clock.default_notice_remedy_by_since(case.opened_at) if clock is not None else None
        if remedy_by is not None:
            status = _("Posted; the borrower may remedy the breach until %(date)s. Legal action from %(next)s.") % {
                "date": _day(remedy_by),
                "next": _day(remedy_by + dt.timedelta(days=1)),
            }
            clocks.append(NoticeClock(_("Default notice"), status, today <= remedy_by))
        else:
            status = _(
                "Not posted yet: it goes as a letter when the case reaches formal notice; legal action waits for it."
            )
            clocks.append(NoticeClock(_("Default notice"), status, True))
    if case.state in FORMAL_STAGES:
        served_at = formal_notice_served_at(case)
        if served_at is None and case.state == CaseState.FORMAL_NOTICE and formal_notice_returned(case):
            status = _("Came back undelivered: check the address and send it again; legal review waits for it.")
            clocks.append(NoticeClock(_("Formal notice"), status, True, resend=True))
        elif served_at is None:
            status = _("Not sent as a letter or an e-mail yet: legal review waits for it.")
            clocks.append(NoticeClock(_("Formal notice"), status, True))
        else:
            ends = formal_notice_response_ends(case, served_at)
            status = _("Sent; the borrower has until %(date)s to respond. Legal review from %(next)s.") % {
                "date": _day(ends),
                "next": _day(ends + dt.timedelta(days=1)),
            }
            clocks.append(NoticeClock(_("Formal notice"), status, today <= ends))
    return clocks


def _day(value: dt.date | None) -> str:
    return date_format(value, "DATE_FORMAT") if value else ""
