"""Reads of cases for pages and the API, with who may see what (one access rule, tested once)."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from collections_app.models import CollectionCase, TeamMembership
from collections_app.roles import ADMIN, COLLECTOR, MANAGER, user_role
from loans.models import Borrower, Loan


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
        # A subquery rather than reading the membership first: the rule stays one query.
        team_allows = TeamMembership.objects.filter(
            user=user, team_id=OuterRef("team_id"), team__collectors_see_team_cases=True
        )
        return cases.filter(Q(assigned_to=user) | Q(Exists(team_allows)))
    return cases.none()


def borrower_get_for_user(*, user: Any, borrower_id: int, loan_id: int | None = None) -> Borrower:
    """The borrower if one of their cases is visible to the user (admins: any borrower); 404 otherwise.

    With ``loan_id`` the same query tells whether that loan is the borrower's: ``borrower.owns_loan``."""
    borrowers = Borrower.objects.filter(pk=borrower_id)
    if user_role(user) != ADMIN:
        borrowers = borrowers.filter(Exists(cases_visible_to(user).filter(borrower_id=OuterRef("pk"))))
    if loan_id is not None:
        borrowers = borrowers.annotate(owns_loan=Exists(Loan.objects.filter(pk=loan_id, borrower_id=OuterRef("pk"))))
    borrower = borrowers.first()
    if borrower is None:
        raise Http404("No such borrower")
    return borrower
