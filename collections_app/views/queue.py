"""The collector's queue, and managers moving cases to another collector."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from collections_app.models import CaseState
from collections_app.selectors import (
    DPD_BUCKETS,
    QUEUE_PAGE_SIZE,
    calls_allowed_now,
    case_queue_for,
    collectors_for,
)
from collections_app.services import (
    NotPermitted,
    cases_reassign,
)
from collections_app.views.common import BadParameter, bad_parameters_are_400, id_param, require_role, selected_cases
from core.roles import ADMIN, MANAGER
from core.web import SignedInRequest


@require_GET
@bad_parameters_are_400
def case_queue(request: SignedInRequest) -> HttpResponse:
    """The collector's queue: open cases they may see, most urgent first, with filters and search; whether a call
    is allowed right now for each case on the page. htmx requests get the table alone (no full reload)."""
    role = require_role(request)
    stage = request.GET.get("stage", "")
    stage = stage if stage in CaseState.values else ""
    bucket = request.GET.get("dpd", "")
    language = request.GET.get("language", "")
    language = language if language in ("en", "zh-hans") else ""
    promises_today = request.GET.get("promises") == "today"
    callbacks_due = request.GET.get("callbacks") == "due"
    search = request.GET.get("q", "").strip()[:100]
    if "\x00" in search:  # PostgreSQL refuses NUL in text
        raise BadParameter("q", str(_("the search cannot contain a NUL character.")))
    now = timezone.now()
    cases = case_queue_for(
        user=request.user,
        stage=stage,
        search=search,
        bucket=bucket,
        language=language,
        promises_due=now.date() if promises_today else None,
        callbacks_due=now if callbacks_due else None,
    )
    page = Paginator(cases, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    chinese = (get_language() or "").startswith("zh")
    calls = calls_allowed_now(cases=list(page), now=now, chinese=chinese)
    context = {
        "page": page,
        "rows": [(case, calls.get(case.pk)) for case in page],
        "filters": {
            "stage": stage,
            "dpd": bucket,
            "language": language,
            "promises": "today" if promises_today else "",
            "callbacks": "due" if callbacks_due else "",
            "q": search,
        },
        "stages": CaseState.choices,
        "buckets": list(DPD_BUCKETS),
        "collectors": collectors_for(user=request.user) if role in (MANAGER, ADMIN) else None,
    }
    template = "collections_app/_queue_table.html" if request.htmx else "collections_app/case_queue.html"
    return render(request, template, context)


@require_POST
@bad_parameters_are_400
def cases_reassign_view(request: SignedInRequest) -> HttpResponse:
    require_role(request, MANAGER, ADMIN)
    case_ids = selected_cases(request)
    to_user_id = id_param("to_user", request.POST.get("to_user", ""))
    to_user = collectors_for(user=request.user).filter(pk=to_user_id).first() if to_user_id else None
    if to_user is None:
        messages.error(request, _("Choose a collector of your teams."))
        back = request.POST.get("next", "")
        safe = url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        return redirect(back if back and safe else "case-queue")
    try:
        moved = cases_reassign(case_ids=case_ids, to_user=to_user, actor=request.user)
    except NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    messages.success(
        request,
        _("%(n)d case(s) moved to %(who)s: every open case of the same borrower moves with the one you chose.")
        % {"n": moved, "who": to_user.get_username()},
    )
    return redirect("case-queue")
