"""The collector's queue, and managers moving cases to another collector."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
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
    next_case_for,
)
from collections_app.services import (
    NotPermitted,
    cases_reassign,
)
from collections_app.views.common import BadParameter, bad_parameters_are_400, id_param, require_role, selected_cases
from compliance.services import profiles_current
from core.roles import ADMIN, COLLECTOR, MANAGER
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
    # "now": the cases the user can act on now, most urgent first (a collector's default); "all": every open case
    # (the default for managers and admins, who watch the book rather than call).
    view = request.GET.get("view", "")
    view = view if view in ("now", "all") else ("now" if role == COLLECTOR else "all")
    if "\x00" in search:  # PostgreSQL refuses NUL in text
        raise BadParameter("q", str(_("the search cannot contain a NUL character.")))
    now = timezone.now()
    # "now" needs the jurisdiction profiles twice (which places are in contact hours; each row's call): read once.
    profiles = profiles_current() if view == "now" else None
    cases = case_queue_for(
        user=request.user,
        stage=stage,
        search=search,
        bucket=bucket,
        language=language,
        promises_due=now.date() if promises_today else None,
        callbacks_due=now if callbacks_due else None,
        act_now=now if view == "now" else None,
        profiles=profiles,
    )
    page = Paginator(cases, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    chinese = (get_language() or "").startswith("zh")
    calls = calls_allowed_now(cases=list(page), now=now, chinese=chinese, profiles=profiles)
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
            "view": view,
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
    if to_user is None or not case_ids:  # nothing is written: say what is missing, never "0 cases moved"
        if to_user is None:
            messages.error(request, _("Choose a collector of your teams."))
        if not case_ids:
            messages.warning(request, _("Check the cases to move first: none was checked, nothing was moved."))
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


@require_GET
def case_next(request: SignedInRequest) -> HttpResponse:
    """The next case to work: the most urgent one the user can act on now (the gate allows a call now; callbacks
    due and promises due today first), skipping the waiting states. ``?skip=<id>`` passes over a case (the one just
    worked). Nothing to act on now: back to the queue, saying so."""
    require_role(request)
    skip = [int(v) for v in request.GET.getlist("skip") if v.isdigit() and len(v) < 12]
    case = next_case_for(user=request.user, now=timezone.now(), skip=skip)
    if case is None:
        messages.info(
            request, _("Nothing you can act on now: every other case waits (contact hours, holds, a manager).")
        )
        return redirect(reverse("case-queue") + "?view=all")
    return redirect("case-detail", case.pk)
