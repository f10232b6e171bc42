"""Pages of the collections workspace (thin: selector → render)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from collections_app.roles import user_role
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
