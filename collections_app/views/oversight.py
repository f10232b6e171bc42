"""Collector oversight: the QA of collectors' calls (results per collector, the sampled calls waiting for a score,
one call's review with its recording) and collectors' training records (CERT-01). Managers see their teams',
admins everyone's; a collector sees only their own results and reviewed calls."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from collections_app.oversight_forms import CallReviewForm, CertificationForm
from collections_app.selectors.access import collectors_for
from collections_app.selectors.qa import (
    certification_get_for_user,
    collectors_training,
    qa_results,
    qa_results_page,
    review_get_for_user,
    reviews_list,
    training_rows,
)
from collections_app.services import InvalidRequest
from collections_app.services.qa import call_review_score, may_review
from collections_app.views.common import bad_parameters_are_400, require_role
from compliance.services import (
    CertificationInvalid,
    certification_record,
    certification_validity_months,
    certification_withdraw,
    profiles_current,
)
from core.roles import ADMIN, COLLECTOR, MANAGER
from core.web import SignedInRequest

PAGE_SIZE = 25
QA_WEEKS = 12  # the results cover the last twelve sample weeks
TABS = [("results", "qa-results", gettext_lazy("Results per collector")),
        ("pending", "qa-reviews", gettext_lazy("Calls to review")),
        ("training", "certifications", gettext_lazy("Training records"))]  # fmt: skip


def _tabs(role: str) -> list[tuple[str, str, str]]:
    return [(k, url, str(title)) for k, url, title in TABS if role != COLLECTOR or k == "results"]


@require_GET
@bad_parameters_are_400
def qa_results_view(request: SignedInRequest) -> HttpResponse:
    """Results per collector over the last twelve weeks, a page at a time (a fixed number of queries)."""
    role = require_role(request, COLLECTOR, MANAGER, ADMIN)
    today = timezone.now().astimezone(dt.UTC).date()
    since = today - dt.timedelta(days=today.weekday() + 7 * (QA_WEEKS - 1))
    page = Paginator(qa_results(user=request.user, since=since), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = qa_results_page(user=request.user, rows=list(page.object_list), since=since)
    # A collector's own scored calls, the latest first, to read each review (managers have the "Calls to review" tab).
    mine = list(reviews_list(user=request.user, pending=False)[:10]) if role == COLLECTOR else []
    return render(
        request,
        "collections_app/oversight/results.html",
        {"tabs": _tabs(role), "kind": "results", "page": page, "rows": rows, "since": since, "role": role,
         "mine": mine},
    )  # fmt: skip


@require_GET
@bad_parameters_are_400
def qa_reviews_view(request: SignedInRequest) -> HttpResponse:
    """The sampled calls waiting for a score (``?scored=1``: those scored, latest first)."""
    role = require_role(request, MANAGER, ADMIN)
    scored = request.GET.get("scored") == "1"
    page = Paginator(reviews_list(user=request.user, pending=not scored), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "collections_app/oversight/reviews.html",
        {"tabs": _tabs(role), "kind": "pending", "page": page, "scored": scored},
    )


@require_http_methods(["GET", "POST"])
@bad_parameters_are_400
def qa_review_view(request: SignedInRequest, review_id: int) -> HttpResponse:
    """One sampled call: who, when, the case, the recording where one exists, and the checklist. The team's manager
    and admins score it (POST); the collector reads their own once it is scored."""
    role = require_role(request, COLLECTOR, MANAGER, ADMIN)
    review = review_get_for_user(user=request.user, review_id=review_id)
    if role == COLLECTOR and not review.reviewed:
        raise PermissionDenied("Not scored yet.")
    can_score = may_review(request.user, review)
    initial = {code: ("pass" if passed else "fail") for code, passed in (review.results or {}).items()}
    form = CallReviewForm(
        request.POST if request.method == "POST" else None,
        checklist=review.checklist,
        initial={**initial, "notes": review.notes},
    )
    status = 200
    if request.method == "POST":
        if not can_score:
            raise PermissionDenied("Only the team's manager or an admin scores this call.")
        if form.is_valid():
            try:
                call_review_score(
                    review_id=review.pk, actor=request.user, results=form.results(), notes=form.cleaned_data["notes"]
                )
            except InvalidRequest as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                messages.success(request, _("Call scored."))
                return redirect("qa-review", review_id=review.pk)
        status = 400
    call = review.disposition.call
    recordings = list(call.recordings.all()) if call is not None else []
    return render(
        request,
        "collections_app/oversight/review.html",
        {"review": review, "form": form, "can_score": can_score, "recordings": recordings, "call": call},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@bad_parameters_are_400
def certifications_view(request: SignedInRequest) -> HttpResponse:
    """The collectors a manager leads (admins: every collector), each with their training records and whether one is
    in force, expiring within 30 days, or missing; the form to record a new one."""
    role = require_role(request, MANAGER, ADMIN)
    today = timezone.localdate()
    months = certification_validity_months(profiles_current())
    choices = [(u.pk, u.get_full_name() or u.get_username()) for u in collectors_for(user=request.user)]
    form = CertificationForm(request.POST if request.method == "POST" else None, collectors=choices)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            collector = collectors_for(user=request.user).filter(pk=data["collector"]).first()
            try:
                certification_record(
                    collector=collector,
                    course=data["course"],
                    passed_on=data["passed_on"],
                    expires_on=data["expires_on"],
                    evidence_reference=data["evidence_reference"],
                    actor=request.user,
                    validity_months=months,
                )
            except CertificationInvalid as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                messages.success(request, _("Training record saved."))
                return redirect("certifications")
        status = 400
    page = Paginator(collectors_training(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = training_rows(list(page.object_list), today=today, validity_months=months)
    return render(
        request,
        "collections_app/oversight/training.html",
        {
            "tabs": _tabs(role),
            "kind": "training",
            "page": page,
            "rows": [(row, row.status(today)) for row in rows],
            "form": form,
            "months": months,
            "today": today,
        },
        status=status,
    )


@require_POST
def certification_withdraw_view(request: SignedInRequest, certification_id: int) -> HttpResponse:
    """Withdraw a training record (recorded in error, or revoked): the gate stops counting it."""
    require_role(request, MANAGER, ADMIN)
    record = certification_get_for_user(user=request.user, certification_id=certification_id)
    certification_withdraw(certification_id=record.pk, actor=request.user)
    messages.success(request, _("Training record withdrawn."))
    return redirect("certifications")
