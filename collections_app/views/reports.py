"""Managers: performance over a period (charts and CSV) and the messages overview."""

from __future__ import annotations

import csv
import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from collections_app.selectors import (
    message_stats,
    performance,
    teams_for,
)
from collections_app.views.common import bad_parameters_are_400, id_param, period_days, require_role
from core.roles import ADMIN, MANAGER
from loans.money import format_money


@require_GET
def messages_overview(request: HttpRequest) -> HttpResponse:
    """Managers: messages of their teams' cases by channel and status, with delivery and failure rates."""
    require_role(request, MANAGER, ADMIN)
    days = period_days(request)
    since = timezone.now() - dt.timedelta(days=days)
    return render(
        request,
        "collections_app/messages_overview.html",
        {"stats": message_stats(user=request.user, since=since), "days": days},
    )


@require_GET
@bad_parameters_are_400
def performance_view(request: HttpRequest) -> HttpResponse:
    """Managers: trends, flow rates, cure, promise-kept and right-party-contact rates, contacts per collector,
    messages and compliance denials for a period and team; ``?format=csv`` downloads the same numbers."""
    require_role(request, MANAGER, ADMIN)
    days = period_days(request)
    teams = teams_for(user=request.user)
    team_id = id_param("team", request.GET.get("team", ""))
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
                "detail": _("%(c)d right-party contacts in %(n)d call attempts")
                % {"c": rpc["right_party"], "n": rpc["calls"]},
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
