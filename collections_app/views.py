"""Pages of the collections workspace (thin: selector → render)."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from collections_app.forms import (
    CallLogForm,
    CallStartForm,
    GraceForm,
    HoldForm,
    HoldLiftForm,
    NoteForm,
    PlanForm,
    PromiseForm,
    ReasonForm,
    SmsForm,
    VisitForm,
    VisitRecordForm,
)
from collections_app.models import CaseState, CollectionCase, InstallmentPolicy, PaymentPlan, VisitStatus
from collections_app.selectors import (
    DPD_BUCKETS,
    QUEUE_PAGE_SIZE,
    borrower_zone,
    call_pending,
    calls_allowed_now,
    case_get_for_user,
    case_page,
    case_queue_for,
    cases_visible_to,
    collectors_for,
    escalation_queue,
    message_stats,
    performance,
    teams_for,
)
from collections_app.services import (
    USER_TRANSITIONS,
    CaseError,
    InvalidRequest,
    NotPermitted,
    available_transitions,
    call_log,
    call_start,
    case_address,
    case_transition,
    cases_reassign,
    grace_extend,
    hold_lift,
    hold_place,
    note_add,
    plan_decide,
    plan_propose,
    policy_current,
    promise_record,
    team_collectors,
    visit_record,
    visit_schedule,
)
from compliance.services import restriction_may_lift
from core.roles import ADMIN, MANAGER, user_role
from loans.inputs import parse_id
from loans.models import Loan
from loans.money import format_money
from loans.selectors import portfolio_overview
from notifications.models import MessagePurpose
from notifications.planning import message_plan
from notifications.services import message_preview
from notifications.tasks import dispatch_due
from notifications.templating import sms_segments


class BadParameter(ValueError):
    """A query or form parameter that cannot mean anything (answered 400 with the parameter and why)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")


def bad_parameters_are_400(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A malformed parameter is the client's mistake: 400 with a line saying which one, never a 500."""

    @wraps(view)
    def checked(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except BadParameter as exc:
            return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")

    return checked


def _text_param(name: str, raw: str) -> str:
    """Free text given as a form parameter outside a Django form (which would refuse NUL itself)."""
    if "\x00" in raw:  # PostgreSQL refuses NUL in text
        raise BadParameter(name, str(_("cannot contain a NUL character.")))
    return raw


def _id_param(name: str, raw: str) -> int | None:
    """An id given as a parameter: None when absent, 400 when it is not an id (``"²".isdigit()`` is True, yet
    ``int("²")`` raises)."""
    if not raw:
        return None
    value = parse_id(raw)
    if value is None:
        raise BadParameter(name, str(_("expected an id (digits 0-9).")))
    return value


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The landing page: the portfolio at a glance, by days-past-due bucket and currency."""
    role = user_role(request.user)
    if role is None:
        raise PermissionDenied("Your account has no role yet; ask an administrator.")
    # Admins see the whole portfolio; everyone else the loans of the cases they may see (issue 11).
    loans = None if role == ADMIN else Loan.objects.filter(pk__in=cases_visible_to(request.user).values("loan_id"))
    return render(request, "collections_app/home.html", {"overview": portfolio_overview(loans)})


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers ask for on pages that name no icon (the API, Swagger UI): the static one."""
    response = redirect(staticfiles_storage.url("favicon.ico"))
    response["Cache-Control"] = "public, max-age=86400"
    return response


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and docker-compose: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _period_days(request: HttpRequest) -> int:
    """The reporting period asked for (``?days=``): 30 unless a whole number of days from 1 to 365 is given."""
    try:
        return max(1, min(int(request.GET.get("days", 30)), 365))
    except ValueError:
        return 30


def _require_role(request: HttpRequest, *roles: str) -> str:
    role = user_role(request.user)
    if role is None or (roles and role not in roles):
        raise PermissionDenied("Your role does not allow this page.")
    return role


@require_GET
@bad_parameters_are_400
def case_queue(request: HttpRequest) -> HttpResponse:
    """The collector's queue: open cases they may see, most urgent first, with filters and search; whether a call
    is allowed right now for each case on the page. htmx requests get the table alone (no full reload)."""
    role = _require_role(request)
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


@require_GET
@bad_parameters_are_400
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    """One case: borrower, loan, timeline, messages, and per channel whether a contact is allowed now."""
    _require_role(request)
    case = case_get_for_user(user=request.user, case_id=case_id)
    chinese = (get_language() or "").startswith("zh")
    context = case_page(case=case, now=timezone.now(), chinese=chinese)
    context["transitions"] = available_transitions(case, request.user)
    for hold in context["active_holds"]:
        hold.may_lift = restriction_may_lift(kind=hold.kind, actor=request.user)
    context["call_decision"] = call_pending(case=case, decision_id=_id_param("call", request.GET.get("call", "")))
    context["plan_policy"] = policy_current(InstallmentPolicy, case.loan.product_id)
    zone = borrower_zone(case.borrower)
    record = VisitRecordForm(zone=zone)
    context["forms"] = {
        "call_log": CallLogForm(initial={"decision": getattr(context["call_decision"], "pk", None)}, zone=zone),
        "note": NoteForm(),
        "promise": PromiseForm(),
        "plan": PlanForm(),
        "hold": HoldForm(),
        "visit": VisitForm(initial={"address": case_address(case)}, zone=zone, partners=_partners(case, request)),
        "visit_record": record,
        "grace": GraceForm(),
        "sms": SmsForm(),
        "reason": ReasonForm(),
    }
    context["scheduled_visits"] = [
        (visit, VisitRecordForm(initial={"visit": visit.pk, "visited_at": record.local(timezone.now())}, zone=zone))
        for visit in case.visits.filter(status=VisitStatus.SCHEDULED).prefetch_related("collectors").order_by("pk")
    ]
    context["zone"] = zone
    context["grace_used"] = case.transitions.filter(transition="extend_grace").exists()
    return render(request, "collections_app/case_detail.html", context)


def _partners(case: CollectionCase, request: HttpRequest) -> list[tuple[str, str]]:
    """The other collectors of the case's team, who may go on a visit with the user."""
    return [(u.get_username(), u.get_full_name() or u.get_username())
            for u in team_collectors(case.team_id).exclude(pk=request.user.pk)]  # fmt: skip


@require_GET
def messages_overview(request: HttpRequest) -> HttpResponse:
    """Managers: messages of their teams' cases by channel and status, with delivery and failure rates."""
    _require_role(request, MANAGER, ADMIN)
    days = _period_days(request)
    since = timezone.now() - dt.timedelta(days=days)
    return render(
        request,
        "collections_app/messages_overview.html",
        {"stats": message_stats(user=request.user, since=since), "days": days},
    )


# ---------------------------------------------------------------------------------------------------------------
# Case actions: each a POST that goes through a service (and the gate, for contacts), then back to the case page
# ---------------------------------------------------------------------------------------------------------------
def _form_errors(form: forms.Form) -> str:
    return "; ".join(f"{name}: {' '.join(errors)}" if name != "__all__" else " ".join(errors)
                     for name, errors in form.errors.items())  # fmt: skip


def _call_start(request: HttpRequest, case: CollectionCase) -> str:
    form = CallStartForm(request.POST)
    if not form.is_valid():
        raise InvalidRequest(_form_errors(form))
    decision, result = call_start(case_id=case.pk, actor=request.user, to=form.cleaned_data["to"])
    if not result.allowed:
        chinese = (get_language() or "").startswith("zh")
        why = "; ".join(r.message_zh if chinese else r.message for r in result.reasons)
        when = f" {_('Next allowed')}: {result.next_allowed_at:%Y-%m-%d %H:%M} UTC." if result.next_allowed_at else ""
        messages.warning(request, f"{_('Call not allowed now')}: {why}.{when}")
        return ""
    messages.success(request, _("Call allowed: dial %(to)s, then log what happened.") % {"to": decision.to})
    return f"?call={decision.pk}#call"


def _call_log(request: HttpRequest, case: CollectionCase) -> str:
    form = CallLogForm(request.POST, zone=borrower_zone(case.borrower))
    if not form.is_valid():
        raise InvalidRequest(_form_errors(form))
    data = form.cleaned_data
    call_log(case_id=case.pk, actor=request.user, decision_id=data["decision"], outcome=data["outcome"],
             debts_discussed=data["debts_discussed"], note=data["note"], callback_at=data["callback_at"])  # fmt: skip
    messages.success(request, _("Call logged."))
    return ""


def _simple(form_class: type[forms.Form], run: Callable[..., object], done: str) -> Callable[..., str]:
    def action(request: HttpRequest, case: CollectionCase) -> str:
        form = form_class(request.POST)
        if not form.is_valid():
            raise InvalidRequest(_form_errors(form))
        run(case_id=case.pk, actor=request.user, **form.cleaned_data)
        messages.success(request, done)
        return ""

    return action


def _hold_lift(request: HttpRequest, case: CollectionCase) -> str:
    form = HoldLiftForm(request.POST)
    if not form.is_valid() or not case.holds.filter(pk=form.cleaned_data["hold"]).exists():
        raise InvalidRequest(_form_errors(form) or "no such hold on this case")
    hold_lift(hold_id=form.cleaned_data["hold"], actor=request.user, reason=form.cleaned_data["reason"])
    messages.success(request, _("Hold lifted."))
    return ""


def _visit(request: HttpRequest, case: CollectionCase) -> str:
    form = VisitForm(request.POST, zone=borrower_zone(case.borrower), partners=_partners(case, request))
    if not form.is_valid():
        raise InvalidRequest(_form_errors(form))
    data = form.cleaned_data
    collectors = [request.user]
    if data["second_collector"]:
        collectors += list(get_user_model().objects.filter(username=data["second_collector"]))
    visit_schedule(case_id=case.pk, actor=request.user, address=data["address"], collectors=collectors,
                   window_start=data["window_start"], window_end=data["window_end"])  # fmt: skip
    messages.success(request, _("Visit scheduled."))
    return ""


def _visit_record(request: HttpRequest, case: CollectionCase) -> str:
    form = VisitRecordForm(request.POST, zone=borrower_zone(case.borrower))
    if not form.is_valid() or not case.visits.filter(pk=form.cleaned_data["visit"]).exists():
        raise InvalidRequest(_form_errors(form) or "no such visit on this case")
    data = form.cleaned_data
    visit_record(visit_id=data["visit"], actor=request.user, status=data["status"], outcome=data["outcome"],
                 visited_at=data["visited_at"])  # fmt: skip
    messages.success(request, _("Visit recorded."))
    return ""


def _sms(request: HttpRequest, case: CollectionCase) -> str:
    form = SmsForm(request.POST)
    if not form.is_valid():
        raise InvalidRequest(_form_errors(form))
    message_plan(case=case, channel="sms", purpose=form.cleaned_data["purpose"], actor=request.user)
    transaction.on_commit(lambda: dispatch_due.delay())  # out within seconds, through the gate like any message
    messages.success(request, _("SMS queued: the gate checks it when it is sent; see Messages below."))
    return ""


def _transition(name: str) -> Callable[..., str]:
    def action(request: HttpRequest, case: CollectionCase) -> str:
        form = ReasonForm(request.POST)
        form.is_valid()
        case_transition(case_id=case.pk, name=name, actor=request.user, reason=form.cleaned_data.get("reason", ""),
                        close_reason=form.cleaned_data.get("close_reason", ""))  # fmt: skip
        messages.success(request, _("Done: %(name)s.") % {"name": name.replace("_", " ")})
        return ""

    return action


CASE_ACTIONS: dict[str, Callable[..., str]] = {
    "call-start": _call_start,
    "call-log": _call_log,
    "note": _simple(NoteForm, note_add, _("Note added.")),
    "promise": _simple(PromiseForm, promise_record, _("Promise recorded.")),
    "plan": _simple(PlanForm, plan_propose, _("Plan proposed.")),
    "hold": _simple(HoldForm, hold_place, _("Hold placed: automated contact stops.")),
    "hold-lift": _hold_lift,
    "visit": _visit,
    "visit-record": _visit_record,
    "grace": _simple(GraceForm, grace_extend, _("Hardship grace granted: no escalation and no automated reminders.")),
    "sms": _sms,
    **{f"transition-{name}": _transition(name) for name in USER_TRANSITIONS},
}


@require_POST
def case_action(request: HttpRequest, case_id: int, action: str) -> HttpResponse:
    """Run one action on a case the user may see; domain refusals come back as a message on the case page."""
    _require_role(request)
    case = case_get_for_user(user=request.user, case_id=case_id)
    handler = CASE_ACTIONS.get(action)
    if handler is None:
        raise Http404("No such action")
    suffix = ""
    try:
        with transaction.atomic():
            suffix = handler(request, case)
    except NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    except CaseError as exc:
        field = getattr(exc, "field", "")
        messages.error(request, f"{field}: {exc}" if field else str(exc))
    return redirect(reverse("case-detail", args=[case.pk]) + suffix)


# ---------------------------------------------------------------------------------------------------------------
# Managers: the escalation queue, plans to approve, reassignment, compliance denials and exceptions
# ---------------------------------------------------------------------------------------------------------------
@require_GET
def escalations(request: HttpRequest) -> HttpResponse:
    _require_role(request, MANAGER, ADMIN)
    context = escalation_queue(user=request.user)
    context["collectors"] = collectors_for(user=request.user)
    return render(request, "collections_app/escalations.html", context)


def _selected_cases(request: HttpRequest) -> list[int]:
    """The checked cases, limited to those the manager may see."""
    ids = [_id_param("case", v) for v in request.POST.getlist("case")]
    return list(cases_visible_to(request.user).filter(pk__in=ids).values_list("pk", flat=True))


@require_POST
@bad_parameters_are_400
def escalations_decide(request: HttpRequest) -> HttpResponse:
    """Approve or reject legal escalation for the checked cases, one transaction each, with one reason."""
    _require_role(request, MANAGER, ADMIN)
    decision = request.POST.get("decision")
    if decision not in ("approve_legal", "reject_legal"):
        messages.error(request, _("Choose approve or reject."))
        return redirect("escalations")
    reason, done, refused = _text_param("reason", request.POST.get("reason", "")).strip(), 0, []
    for case_id in _selected_cases(request):
        try:
            case_transition(case_id=case_id, name=decision, actor=request.user, reason=reason)
            done += 1
        except NotPermitted as exc:
            raise PermissionDenied(str(exc)) from exc
        except CaseError as exc:
            refused.append(f"#{case_id}: {exc}")
    if done:
        messages.success(request, _("%(n)d case(s) done.") % {"n": done})
    if refused:
        messages.error(request, "; ".join(refused))
    if not done and not refused:
        messages.warning(request, _("No case was selected."))
    return redirect("escalations")


@require_POST
@bad_parameters_are_400
def plan_decision(request: HttpRequest, plan_id: int) -> HttpResponse:
    _require_role(request, MANAGER, ADMIN)
    plan = get_object_or_404(PaymentPlan, pk=plan_id, case__in=cases_visible_to(request.user))
    reason = _text_param("reason", request.POST.get("reason", ""))
    try:
        plan_decide(plan_id=plan.pk, actor=request.user, approve=request.POST.get("approve") == "1",
                    reason=reason)  # fmt: skip
        messages.success(request, _("Plan decided."))
    except NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    except CaseError as exc:
        messages.error(request, str(exc))
    return redirect("escalations")


@require_POST
@bad_parameters_are_400
def cases_reassign_view(request: HttpRequest) -> HttpResponse:
    _require_role(request, MANAGER, ADMIN)
    case_ids = _selected_cases(request)
    to_user_id = _id_param("to_user", request.POST.get("to_user", ""))
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
    messages.success(request, _("%(n)d case(s) moved to %(who)s.") % {"n": moved, "who": to_user.get_username()})
    return redirect("case-queue")


@require_GET
@bad_parameters_are_400
def performance_view(request: HttpRequest) -> HttpResponse:
    """Managers: trends, flow rates, cure, promise-kept and right-party-contact rates, contacts per collector,
    messages and compliance denials for a period and team; ``?format=csv`` downloads the same numbers."""
    _require_role(request, MANAGER, ADMIN)
    days = _period_days(request)
    teams = teams_for(user=request.user)
    team_id = _id_param("team", request.GET.get("team", ""))
    team = teams.filter(pk=team_id).first() if team_id else None
    until = timezone.now()
    numbers = performance(user=request.user, since=until - dt.timedelta(days=days), until=until,
                          team_id=team.pk if team else None)  # fmt: skip
    if request.GET.get("format") == "csv":
        return _performance_csv(numbers, days, team)
    context = {**_charts(numbers), "days": days, "teams": teams, "team": team, "flows": numbers["flows"]}
    context["message_rows"] = numbers["messages"]  # not "messages": that name is Django's, for the alerts
    return render(request, "collections_app/performance.html", context)


def _bars(rows: list[tuple[str, float, str]]) -> tuple[list[tuple[str, float, int, str]], int]:
    """Rows of (label, value, text) scaled for the SVG bar chart, and the chart's height."""
    top = max((value for _, value, _ in rows), default=0) or 1
    return [(label, value, round(100 * value / top), text) for label, value, text in rows], max(22, 22 * len(rows))


def _charts(numbers: dict) -> dict:
    cure, promises, rpc = numbers["cure"], numbers["promises"], numbers["rpc"]
    kpis = [
        (
            _("Cure rate"),
            {
                "rate": cure["rate"],
                "detail": _("%(c)d of %(o)d cases opened") % {"c": cure["cured"], "o": cure["opened"]},
            },
        ),
        (
            _("Promise-kept rate"),
            {
                "rate": promises["rate"],
                "detail": _("%(k)d of %(s)d promises due") % {"k": promises["kept"], "s": promises["settled"]},
            },
        ),
        (
            _("Right-party contact"),
            {
                "rate": rpc["rate"],
                "detail": _("%(c)d conversations in %(n)d calls") % {"c": rpc["conversations"], "n": rpc["calls"]},
            },
        ),
        (
            _("Messages delivered"),
            {"rate": _delivery(numbers["messages"]), "detail": _("of those that reached the provider")},
        ),
    ]
    overdue_charts = []
    latest = max((row["as_of"] for row in numbers["trend"]), default=None)
    for row in numbers["trend"]:
        if row["as_of"] == latest:
            bars, height = _bars(
                [
                    (b, float(s.overdue), f"{format_money(s.overdue, row['currency'])} ({s.loans})")
                    for b, s in row["buckets"]
                    if s
                ]
            )
            overdue_charts.append({"title": f"{row['currency']} · {row['as_of']}", "bars": bars, "height": height})
    series_bars, series_height = _bars(
        [
            (
                f"{r['as_of']:%m-%d} {r['currency']}",
                r["rate"] or 0,
                f"{(r['rate'] or 0):.1%} · {format_money(r['overdue'], r['currency'])}",
            )
            for r in numbers["series"][-20:]
        ]
    )
    collector_bars, collector_height = _bars(
        [(r["collector"], r["per_day"], f"{r['per_day']:.1f}") for r in numbers["per_collector"][:15]]
    )
    denial_bars, denial_height = _bars([(rule, n, str(n)) for rule, n in numbers["denials"][:15]])
    return {
        "kpis": kpis,
        "series_bars": series_bars,
        "series_height": series_height,
        "overdue_charts": overdue_charts,
        "collector_bars": collector_bars,
        "collector_height": collector_height,
        "denial_bars": denial_bars,
        "denial_height": denial_height,
    }


def _delivery(rows: list[dict]) -> float | None:
    reached = sum(r["reached"] for r in rows)
    return sum(r["counts"].get("delivered", 0) for r in rows) / reached if reached else None


def _performance_csv(numbers: dict, days: int, team: object) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="performance-{days}d.csv"'
    out = csv.writer(response)
    out.writerow(["metric", "key", "value"])
    out.writerow(["period_days", "", days])
    out.writerow(["team", "", str(team or "all")])
    for name in ("cure", "promises", "rpc"):
        for key, value in numbers[name].items():
            out.writerow([name, key, "" if value is None else value])
    for row in numbers["trend"]:
        for bucket, snap in row["buckets"]:
            if snap is not None:
                out.writerow([f"overdue_{row['currency']}", f"{row['as_of']} {bucket}", snap.overdue])
    for row in numbers["series"]:
        out.writerow(
            [f"overdue_rate_{row['currency']}", row["as_of"], "" if row["rate"] is None else f"{row['rate']:.4f}"]
        )
    for flow in numbers["flows"]:
        out.writerow([f"flow_rate_{flow['currency']}", f"{flow['from']}->{flow['to']}", f"{flow['rate']:.4f}"])
    for row in numbers["per_collector"]:
        out.writerow(["contacts_per_day", row["collector"], f"{row['per_day']:.2f}"])
    for row in numbers["messages"]:
        for status, n in row["counts"].items():
            out.writerow([f"messages_{row['channel']}", status, n])
    for rule, n in numbers["denials"]:
        out.writerow(["compliance_denials", rule, n])
    return response


@require_GET
def sms_preview(request: HttpRequest, case_id: int) -> HttpResponse:
    """htmx: the SMS the chosen template gives for this borrower, with its length in SMS parts."""
    _require_role(request)
    case = case_get_for_user(user=request.user, case_id=case_id)
    purpose = request.GET.get("purpose", "")
    text = message_preview(case=case, channel="sms", purpose=purpose) if purpose in MessagePurpose.values else ""
    parts = sms_segments(text) if text else None
    return render(request, "collections_app/_sms_preview.html", {"text": text, "parts": parts})
