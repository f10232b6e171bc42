"""Who may see what: the one access rule for cases (and through them borrowers and loans), the lookups that apply it,
and the teams and collectors a manager works with. Tested exhaustively once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict, cast

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from collections_app.models import CollectionCase, CollectionCaseQuerySet, Team, TeamMembership
from core.roles import ADMIN, COLLECTOR, MANAGER, user_role
from loans.models import Borrower, Loan

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class OwnsLoan(TypedDict):
        owns_loan: bool


def cases_visible_to(user: Any, *, lookup: bool = False) -> CollectionCaseQuerySet:
    """Admins: every case. Managers: their teams' cases and unassigned ones. Collectors: their own, and their
    team's when the team allows it. Anyone else: none.

    ``lookup``: the rule for fetching one case or borrower by id, as one query (the teams as a subquery); lists use
    the teams read beforehand, which keeps their filters index-friendly."""
    role = user_role(user)
    cases = CollectionCase.objects.all()
    if role == ADMIN:
        return cases
    # Team ids as values, read once per request: "x = … OR team_id IN (1, 2)" lets PostgreSQL combine two index
    # scans, where a subquery in the OR would make it read every case.
    if role == MANAGER:
        led = Team.objects.filter(manager=user).values("pk") if lookup else team_ids(user, managed=True)
        return cases.filter(Q(team_id__in=led) | Q(team__isnull=True))
    if role == COLLECTOR:
        if lookup:
            shared = TeamMembership.objects.filter(user=user, team__collectors_see_team_cases=True).values("team_id")
            return cases.filter(Q(assigned_to=user) | Q(team_id__in=shared))
        teams = team_ids(user, managed=False)
        return cases.filter(Q(assigned_to=user) | Q(team_id__in=teams)) if teams else cases.filter(assigned_to=user)
    return cases.none()


def team_ids(user: Any, *, managed: bool) -> list[int]:
    """The teams a manager leads, or the teams whose cases a collector may see (cached on the user object)."""
    cached = getattr(user, "_team_ids_cache", None)
    if cached is None:
        if managed:
            cached = list(Team.objects.filter(manager=user).values_list("pk", flat=True))
        else:
            cached = list(
                TeamMembership.objects.filter(user=user, team__collectors_see_team_cases=True).values_list(
                    "team_id", flat=True
                )
            )
        user._team_ids_cache = cached
    return cached


def borrower_get_for_user(
    *, user: Any, borrower_id: int, loan_id: int | None = None
) -> WithAnnotations[Borrower, OwnsLoan]:
    """The borrower if one of their cases is visible to the user (admins: any borrower); 404 otherwise.

    With ``loan_id`` the same query tells whether that loan is the borrower's: ``borrower.owns_loan``."""
    borrowers = Borrower.objects.filter(pk=borrower_id)
    if user_role(user) != ADMIN:
        borrowers = borrowers.filter(Exists(cases_visible_to(user, lookup=True).filter(borrower_id=OuterRef("pk"))))
    if loan_id is not None:
        borrowers = borrowers.annotate(owns_loan=Exists(Loan.objects.filter(pk=loan_id, borrower_id=OuterRef("pk"))))
    borrower = borrowers.first()
    if borrower is None:
        raise Http404("No such borrower")
    # Typed as annotated whether or not it is: read ``owns_loan`` only when ``loan_id`` was given.
    return cast("WithAnnotations[Borrower, OwnsLoan]", borrower)


def case_get_for_user(*, user: Any, case_id: int) -> CollectionCase:
    """The case if the user may see it (one access rule: ``cases_visible_to``); 404 otherwise."""
    case = (
        cases_visible_to(user, lookup=True)
        .select_related("loan__product", "borrower", "assigned_to", "team", "policy")
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise Http404("No such case")
    return case


def collectors_for(*, user: Any) -> QuerySet[Any]:
    """Collectors a manager may hand cases to: their teams' members (admins: every active collector)."""

    people = get_user_model().objects.filter(is_active=True, groups__name=COLLECTOR)
    if user_role(user) != ADMIN:
        people = people.filter(team_membership__team__manager=user)
    return people.order_by("username").distinct()


def teams_for(*, user: Any) -> QuerySet[Any]:

    teams = Team.objects.all()
    return teams if user_role(user) == ADMIN else teams.filter(manager=user)
