"""The landing page (the portfolio at a glance), the icon and the health check."""

from __future__ import annotations

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.i18n import set_language

from collections_app.selectors.alerts import review_reminders_for
from collections_app.selectors.portfolio import portfolio_for
from core.models import UserSettings
from core.roles import user_role
from core.web import public


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The landing page: the portfolio at a glance, by days-past-due bucket and currency (managers and admins: as the
    latest sweep left it; collectors: live, their cases' loans — ``collections_app.selectors.portfolio``)."""
    if user_role(request.user) is None:
        raise PermissionDenied("Your account has no role yet; ask an administrator.")
    portfolio = portfolio_for(request.user)
    return render(
        request,
        "collections_app/home.html",
        {
            "overview": portfolio.currencies,
            "as_of": portfolio.as_of,
            "whole": portfolio.whole,
            "reviews": review_reminders_for(user=request.user),
        },
    )


@public
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers ask for on pages that name no icon (the API, Swagger UI): the static one."""
    response = redirect(staticfiles_storage.url("favicon.ico"))
    response["Cache-Control"] = "public, max-age=86400"
    return response


@public
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and docker-compose: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@public
@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """The navigation's language switcher: Django's own view (the cookie, the redirect back), and for a signed-in
    user the choice is kept as theirs, so it follows them to another browser. Open on the sign-in page too."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        UserSettings.objects.update_or_create(user=request.user, defaults={"language": language})
    return response
