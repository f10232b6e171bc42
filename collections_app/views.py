"""Pages of the collections workspace (thin: selector → render)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from collections_app.models import CaseState
from collections_app.roles import ADMIN, MANAGER, user_role
from collections_app.selectors import (
    QUEUE_PAGE_SIZE,
    case_get_for_user,
    case_page,
    case_queue_for,
    message_stats,
)
from collections_app.services import available_transitions
from loans.selectors import portfolio_overview


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The landing page: the portfolio at a glance, by days-past-due bucket and currency."""
    if user_role(request.user) is None:
        raise PermissionDenied("Your account has no role yet; ask an administrator.")
    return render(request, "collections_app/home.html", {"overview": portfolio_overview()})


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and docker-compose: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _require_role(request: HttpRequest, *roles: str) -> str:
    role = user_role(request.user)
    if role is None or (roles and role not in roles):
        raise PermissionDenied("Your role does not allow this page.")
    return role


@require_GET
def case_queue(request: HttpRequest) -> HttpResponse:
    """The collector's queue: open cases they may see, most urgent first, with stage filter and search."""
    _require_role(request)
    stage = request.GET.get("stage", "")
    stage = stage if stage in CaseState.values else ""
    search = request.GET.get("q", "").strip()[:100]
    page = Paginator(case_queue_for(user=request.user, stage=stage, search=search), QUEUE_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "collections_app/case_queue.html",
        {"page": page, "stage": stage, "q": search, "stages": CaseState.choices},
    )


@require_GET
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    """One case: borrower, loan, timeline, messages, and per channel whether a contact is allowed now."""
    _require_role(request)
    case = case_get_for_user(user=request.user, case_id=case_id)
    chinese = (get_language() or "").startswith("zh")
    context = case_page(case=case, now=timezone.now(), chinese=chinese)
    context["transitions"] = available_transitions(case, request.user)
    return render(request, "collections_app/case_detail.html", context)


@require_GET
def messages_overview(request: HttpRequest) -> HttpResponse:
    """Managers: messages of their teams' cases by channel and status, with delivery and failure rates."""
    _require_role(request, MANAGER, ADMIN)
    try:
        days = max(1, min(int(request.GET.get("days", 30)), 365))
    except ValueError:
        days = 30
    since = timezone.now() - dt.timedelta(days=days)
    return render(
        request,
        "collections_app/messages_overview.html",
        {"stats": message_stats(user=request.user, since=since), "days": days},
    )
