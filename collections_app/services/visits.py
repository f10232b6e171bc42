"""Field visits: scheduled through the gate with collectors of the case's team, and what happened."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app.models import (
    OPEN_STATES,
    CaseState,
    CollectionCase,
    FieldVisit,
    VisitStatus,
)
from collections_app.services.cases import InvalidRequest, TransitionConflict, locked_case
from compliance.services import (
    contact_check,
    contact_record,
)
from core.roles import COLLECTOR


def visit_schedule(
    *,
    case_id: int,
    actor: User,
    address: str,
    collectors: list[Any],
    window_start: dt.datetime,
    window_end: dt.datetime,
) -> FieldVisit:
    """Schedule a field visit. The compliance gate checks it like any contact (hours at the window's start, holds,
    two collectors in China); a refused visit is not scheduled, and the reasons say why."""
    if window_end <= window_start:
        raise InvalidRequest(_("the visit window must end after it starts"), field="window_end")
    if window_start < timezone.now():
        raise InvalidRequest(_("the visit window is in the past"), field="window_start")
    if not collectors:
        raise InvalidRequest(_("name at least one collector"), field="collectors")
    with transaction.atomic():
        case = locked_case(case_id)
        if case.state not in OPEN_STATES or case.state == CaseState.ON_HOLD:
            raise TransitionConflict(_("no visits to a case in %(state)s") % {"state": case.get_state_display()})
        check_visitors(case, collectors)
        decision, result = contact_check(
            borrower_id=case.borrower_id,
            loan_id=case.loan_id,
            channel="visit",
            at=window_start,
            collectors=len(collectors),
            actor=actor,
            staff=collectors,  # CERT-01: the collectors going, not the person scheduling
        )
        if not result.allowed:
            reasons = "; ".join(f"{r.rule}: {r.message}" for r in result.reasons)
            raise InvalidRequest(
                _("the compliance gate refuses this visit: %(reasons)s") % {"reasons": reasons}, field="window_start"
            )
        visit = FieldVisit.objects.create(
            case=case,
            address=address.strip() or case_address(case),
            window_start=window_start,
            window_end=window_end,
            scheduled_by=actor,
            decision=decision,
        )
        visit.collectors.set(collectors)
    return visit


def team_collectors(team_id: int | None) -> QuerySet[User]:
    """The active collectors of a team: the only people who may go on its cases' field visits."""

    # For a case without a team, the collectors without one (what ``team_membership__team_id=None`` matches).
    team = Q(team_membership__team_id=team_id) if team_id is not None else Q(team_membership__team_id__isnull=True)
    return get_user_model().objects.filter(team, is_active=True, groups__name=COLLECTOR).order_by("username")


def check_visitors(case: CollectionCase, collectors: list[Any]) -> None:
    """Only collectors of the case's team count for a visit — also for the two collectors China requires (CN-08):
    another team's collector or a manager riding along is not a second collector (issue 11)."""
    if case.team_id is None:
        raise InvalidRequest(_("the case has no team yet: assign it before scheduling a visit"), field="collectors")
    eligible = set(team_collectors(case.team_id).filter(pk__in=[c.pk for c in collectors]).values_list("pk", flat=True))
    outsiders = [c.get_username() for c in collectors if c.pk not in eligible]
    if outsiders:
        raise InvalidRequest(
            _("only collectors of team %(team)s go on its visits, not %(people)s")
            % {"team": case.team, "people": ", ".join(outsiders)},
            field="collectors",
        )


def visit_record(
    *, visit_id: int, actor: User, status: str, outcome: str, visited_at: dt.datetime | None = None
) -> FieldVisit:
    """Record what happened at a field visit; a visit or a knock on the door is a contact in the ledger, an
    exception when it happened outside the window the gate allowed."""
    if status not in (VisitStatus.VISITED, VisitStatus.NOT_HOME, VisitStatus.CANCELLED):
        raise InvalidRequest(_("choose visited, not at home or cancelled"), field="status")
    if status != VisitStatus.CANCELLED and not outcome.strip():
        raise InvalidRequest(_("describe the outcome"), field="outcome")
    with transaction.atomic():
        visit = FieldVisit.objects.select_for_update().select_related("case").get(pk=visit_id)
        if visit.status != VisitStatus.SCHEDULED:
            raise TransitionConflict(_("the visit is already %(status)s") % {"status": visit.get_status_display()})
        visit.status, visit.outcome = status, outcome.strip()
        if status != VisitStatus.CANCELLED:
            visit.visited_at = visited_at or timezone.now()
            # Covered by the gate's decision for the visit's window; outside it, an exception for the managers.
            contact_record(
                borrower_id=visit.case.borrower_id,
                channel="visit",
                direction="outbound",
                outcome="visited" if status == VisitStatus.VISITED else "not_home",
                at=visit.visited_at,
                debts=[visit.case.loan_id],
                actor=actor,
                note=visit.outcome,
                decision_id=visit.decision_id,
                covered_until=visit.window_end,
            )
            CollectionCase.objects.filter(pk=visit.case_id).update(last_contact_at=visit.visited_at)
        visit.save(update_fields=["status", "outcome", "visited_at"])
    return visit


def case_address(case: CollectionCase) -> str:
    b = case.borrower
    return ", ".join(
        part for part in (b.address_line1, b.address_line2, b.city, b.region, b.postal_code, b.country) if part
    )
