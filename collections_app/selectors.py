"""Reads of cases for pages and the API, with who may see what (one access rule, tested once)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from collections_app.models import CollectionCase
from collections_app.roles import ADMIN, COLLECTOR, MANAGER, user_role
from loans.models import Borrower


def cases_visible_to(user: Any) -> QuerySet[CollectionCase]:
    """Admins: every case. Managers: their teams' cases and unassigned ones. Collectors: their own, and their
    team's when the team allows it. Anyone else: none."""
    role = user_role(user)
    cases = CollectionCase.objects.all()
    if role == ADMIN:
        return cases
    if role == MANAGER:
        return cases.filter(Q(team__manager=user) | Q(team__isnull=True))
    if role == COLLECTOR:
        own = Q(assigned_to=user)
        membership = getattr(user, "team_membership", None)
        if membership is not None and membership.team.collectors_see_team_cases:
            own |= Q(team_id=membership.team_id)
        return cases.filter(own)
    return cases.none()


def borrower_get_for_user(*, user: Any, borrower_id: int) -> Borrower:
    """The borrower if one of their cases is visible to the user (admins: any borrower); 404 otherwise."""
    borrowers = Borrower.objects.all()
    if user_role(user) != ADMIN:
        borrowers = borrowers.filter(cases__in=cases_visible_to(user)).distinct()
    try:
        return borrowers.get(pk=borrower_id)
    except Borrower.DoesNotExist as exc:
        raise Http404("No such borrower") from exc
