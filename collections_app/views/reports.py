"""Managers: performance over a period (charts and CSV) and the messages overview."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from collections_app.labels import bucket_label, bucket_short, rule_label
from collections_app.selectors import (
    message_stats,
    performance_figures,
    teams_for,
)
from collections_app.selectors.kpis import CURE_WINDOWS
from collections_app.views.charts import Bar, Chart, percent_text, rate_bars
from collections_app.views.common import bad_parameters_are_400, id_param, period_days, require_role
from core.roles import ADMIN, MANAGER
from loans.money import format_money
from notifications.models import Channel


@require_GET
def messages_overview(request: HttpRequest) -> HttpResponse:
    """Managers: messages of their teams' cases by channel and status, with delivery and failure rates."""
    require_role(request, MANAGER, ADMIN)
    days = period_days(request)
    since = timezone.now() - dt.timedelta(days=days)
    return render(
        request,
        "collections_app/messages_overview.html",
        {
            "stats": [{**m, "label": _channel(m["channel"])} for m in message_stats(user=request.user, since=since)],
            "days": days,
        },
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
    figures = performance_figures(user=request.user, days=days, team_id=team.pk if team else None)
    numbers = figures.numbers
    charts = _charts(numbers)
    if request.GET.get("format") == "csv":
        wanted = request.GET.get("chart")
        if not wanted:
            return _performance_csv(numbers, days, team)
        chart = next((c for c in charts if c.name == wanted), None)
        if chart is None:
            raise Http404
        return _chart_csv(chart, days)
    context = {"kpis": _kpis(numbers), "charts": {c.name: c for c in charts}, "days": days, "teams": teams,
               "team": team, "flows": numbers["flows"], "as_of": figures.as_of,
               "fresh_minutes": settings.PERFORMANCE_FIGURES_SECONDS // 60}  # fmt: skip
    context["per_hour_charts"] = [c for c in charts if c.name.startswith("per_hour")]
    context["overdue_charts"] = [c for c in charts if c.name.startswith("overdue_") and c.name != "overdue_trend"]
    # not "messages": that name is Django's, for the alerts
    context["message_rows"] = [{**m, "label": _channel(m["channel"])} for m in numbers["messages"]]
    return render(request, "collections_app/performance.html", context)


def _money_total(rows: list[dict], amount: str) -> dict[str, Any]:
    totals: dict[str, Any] = {}
    for row in rows:
        totals[row["currency"]] = totals.get(row["currency"], 0) + (row[amount] or 0)
    return totals


def _kpis(numbers: dict) -> list[dict[str, Any]]:
    """The boxes at the top: one figure per KPI of docs/kpis.md, with what it is out of."""
    cured = sum(w["cured"] for row in numbers["cure"] for w in row["windows"] if w["days"] == 30)
    cohort = sum(w["cases"] for row in numbers["cure"] for w in row["windows"] if w["days"] == 30)
    kept = sum(r["kept"] for r in numbers["promises"])
    due = sum(r["due"] for r in numbers["promises"])
    rpc, selfc, delivery = numbers["rpc"], numbers["self_cured"], numbers["delivery"]
    contacts = sum(r["contacts"] for r in numbers["per_collector"])
    collector_days = sum(r["days"] for r in numbers["per_collector"])
    hours = _money_total(numbers["per_hour"], "hours")
    collected = _money_total(numbers["per_hour"], "collected")
    per_hour = [format_money(Decimal(collected[c]) / Decimal(str(hours[c])), c) for c in sorted(collected) if hours[c]]
    return [
        {
            "name": "cure",
            "label": _("Cure rate within 30 days"),
            "value": percent_text(_ratio(cured, cohort)),
            "detail": _("%(c)d of %(o)d cases cured within 30 days of opening") % {"c": cured, "o": cohort},
        },
        {
            "name": "promises",
            "label": _("Promise-kept rate"),
            "value": percent_text(_ratio(kept, due)),
            "detail": _("%(k)d of %(s)d promises due") % {"k": kept, "s": due},
        },
        {
            "name": "rpc",
            "label": _("Right-party contact"),
            "value": percent_text(rpc["rate"]),
            "detail": _("%(c)d right-party contacts in %(n)d call attempts")
            % {"c": rpc["right_party"], "n": rpc["calls"]},
        },
        {
            "name": "liquidation",
            "label": _("Liquidation rate"),
            "value": " · ".join(f"{r['currency']} {percent_text(r['rate'])}" for r in numbers["liquidation"]) or "—",
            "detail": _("collected since opening / overdue at opening, cases opened in the period"),
        },
        {
            "name": "per_hour",
            "label": _("Collected per collector-hour"),
            "value": " · ".join(per_hour) or "—",
            "detail": _("hours: first to last contact of each working day"),
        },
        {
            "name": "self_cured",
            "label": _("Self-cured share"),
            "value": percent_text(selfc["rate"]),
            "detail": _("%(s)d of %(c)d cures with no contact by a collector")
            % {"s": selfc["self_cured"], "c": selfc["cured"]},
        },
        {
            "name": "portal",
            "label": _("Borrower page conversion"),
            "value": percent_text(numbers["portal"]["any_rate"]),
            "detail": _("%(c)d of %(v)d borrowers who opened their page paid, promised or chose a plan")
            % {"c": numbers["portal"]["any"], "v": numbers["portal"]["visitors"]},
        },
        {
            "name": "contacts",
            "label": _("Contacts per collector per day"),
            "value": f"{contacts / collector_days:.1f}" if collector_days else "—",
            "detail": _("%(n)d contacts in %(d)d collector-days") % {"n": contacts, "d": collector_days},
        },
        {
            "name": "delivery",
            "label": _("Messages delivered"),
            "value": percent_text(delivery["rate"]),
            "detail": _("%(d)d of %(h)d handed to a provider") % {"d": delivery["delivered"], "h": delivery["handed"]},
        },
    ]


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _charts(numbers: dict) -> list[Chart]:
    """Every chart of the page, with the numbers behind it (its CSV)."""
    none_yet = _("Nothing to show in this period.")
    charts: list[Chart] = []
    windows = {n: i for i, n in enumerate(CURE_WINDOWS)}
    cure_rows = [
        {"bucket": row["bucket"], **w}
        for row in numbers["cure"]
        for w in row["windows"]
        if any(x["cases"] for x in row["windows"])
    ]
    charts.append(
        Chart(
            "cure",
            _("Cure rate by DPD bucket at opening"),
            rate_bars(
                cure_rows,
                lambda r: bucket_label(r["bucket"]),
                lambda r: (
                    _("%(c)d of %(n)d cured within %(d)d days") % {"c": r["cured"], "n": r["cases"], "d": r["days"]}
                ),
                group=lambda r: windows[r["days"]],
            ),
            ["entry_bucket", "window_days", "cases", "cured", "rate"],
            [[r["bucket"], r["days"], r["cases"], r["cured"], _csv_rate(r["rate"])] for r in cure_rows],
            percent=True,
            empty=none_yet,
            legend=[(i, _("within %(d)d days") % {"d": n}) for n, i in windows.items()],
            value_suffix=[_("%(d)d d") % {"d": r["days"]} for r in cure_rows],
        )
    )
    flows = numbers["flows"]
    flow_label = lambda f: f"{f['currency']} {bucket_short(f['from'])} → {bucket_short(f['to'])}"  # noqa: E731
    flow_words = lambda f: f"{bucket_label(f['from'])} → {bucket_label(f['to'])}"  # noqa: E731
    no_flow = _(
        "Roll rates follow each loan from one day to the same day a month later: they appear once the daily sweep "
        "has run for about a month."
    )
    note = (
        _("Loans followed from %(a)s to %(b)s: the share of each bucket's loans that moved to a later bucket.")
        % {"a": flows[0]["from_date"], "b": flows[0]["to_date"]}
        if flows
        else ""
    )
    flow_columns = ["currency", "from", "to", "from_date", "to_date"]
    charts.append(
        Chart(
            "roll_count",
            _("Roll rates between buckets, by number of loans"),
            [
                Bar(
                    flow_label(f),
                    f["count_rate"] or 0,
                    percent_text(f["count_rate"]),
                    f"{f['currency']} {flow_words(f)}: {percent_text(f['count_rate'])} "
                    + _("(%(rolled)d of %(loans)d loans)") % {"rolled": f["loans_to"], "loans": f["loans_from"]},
                )
                for f in flows
            ],
            [*flow_columns, "loans_from", "loans_rolled", "rate"],
            [
                [*(f[c] for c in flow_columns), f["loans_from"], f["loans_to"], _csv_rate(f["count_rate"])]
                for f in flows
            ],
            percent=True,
            empty=no_flow,
            note=note,
        )
    )
    charts.append(
        Chart(
            "roll_balance",
            _("Roll rates between buckets, by outstanding balance"),
            [
                Bar(
                    flow_label(f),
                    f["balance_rate"] or 0,
                    percent_text(f["balance_rate"]),
                    f"{f['currency']} {flow_words(f)}: {percent_text(f['balance_rate'])} "
                    + _("(%(rolled)s of %(balance)s)")
                    % {
                        "rolled": format_money(f["balance_to"], f["currency"]),
                        "balance": format_money(f["balance_from"], f["currency"]),
                    },
                    1,
                )
                for f in flows
            ],
            [*flow_columns, "balance_from", "balance_rolled", "rate"],
            [
                [*(f[c] for c in flow_columns), f["balance_from"], f["balance_to"], _csv_rate(f["balance_rate"])]
                for f in flows
            ],
            percent=True,
            empty=no_flow,
            note=note,
        )
    )
    promises = [r for r in numbers["promises"] if r["due"]]
    charts.append(
        Chart(
            "promises",
            _("Promise-kept rate by amount"),
            rate_bars(
                promises,
                lambda r: f"{r['currency']} {r['band']}",
                lambda r: _("%(k)d of %(s)d promises due") % {"k": r["kept"], "s": r["due"]},
            ),
            ["currency", "amount_band", "due", "kept", "rate"],
            [[r["currency"], r["band"], r["due"], r["kept"], _csv_rate(r["rate"])] for r in promises],
            percent=True,
            empty=none_yet,
        )
    )
    liquidation = numbers["liquidation"]
    charts.append(
        Chart(
            "liquidation",
            _("Liquidation rate"),
            rate_bars(
                liquidation,
                lambda r: r["currency"],
                lambda r: (
                    f"{format_money(r['collected'] or Decimal(0), r['currency'])} / "
                    f"{format_money(r['overdue'] or Decimal(0), r['currency'])}"
                ),
            ),
            ["currency", "cases", "overdue_at_opening", "collected", "rate"],
            [[r["currency"], r["cases"], r["overdue"], r["collected"], _csv_rate(r["rate"])] for r in liquidation],
            percent=True,
            empty=none_yet,
        )
    )
    for currency in sorted({r["currency"] for r in numbers["per_hour"]}) or [""]:
        rows = [r for r in numbers["per_hour"] if r["currency"] == currency]
        charts.append(
            Chart(
                f"per_hour_{currency}" if currency else "per_hour",
                _("Collected per collector-hour") + (f" ({currency})" if currency else ""),
                [
                    Bar(
                        r["collector"],
                        float(r["per_hour"] or 0),
                        format_money(Decimal(str(r["per_hour"] or 0)), currency),
                        _("%(who)s: %(amount)s in %(hours).1f h")
                        % {
                            "who": r["collector"],
                            "amount": format_money(r["collected"], currency),
                            "hours": r["hours"],
                        },
                    )
                    for r in rows
                ],
                ["collector", "currency", "collected", "hours", "per_hour"],
                [
                    [
                        r["collector"],
                        currency,
                        r["collected"],
                        f"{r['hours']:.2f}",
                        "" if r["per_hour"] is None else f"{r['per_hour']:.2f}",
                    ]
                    for r in rows
                ],
                empty=none_yet,
            )
        )
    portal = numbers["portal"]
    outcomes = [
        ("payment", _("Paid online")),
        ("promise", _("Promised to pay")),
        ("plan", _("Chose a plan")),
        ("any", _("Any of these")),
    ]
    portal_rows = [{"outcome": o, "words": str(w), "n": portal[o], "rate": portal[f"{o}_rate"]} for o, w in outcomes]
    charts.append(
        Chart(
            "portal",
            _("Borrower page: from a visit to a payment, promise or plan"),
            rate_bars(
                portal_rows if portal["visitors"] else [],
                lambda r: r["words"],
                lambda r: _("%(n)d of %(v)d visitors") % {"n": r["n"], "v": portal["visitors"]},
                group=lambda r: 1 if r["outcome"] == "any" else 0,
            ),
            ["outcome", "outcome_words", "visitors", "converted", "rate"],
            [[r["outcome"], r["words"], portal["visitors"], r["n"], _csv_rate(r["rate"])] for r in portal_rows],
            percent=True,
            empty=none_yet,
        )
    )
    per_collector = sorted(numbers["per_collector"], key=lambda r: -r["per_day"])[:20]
    charts.append(
        Chart(
            "contacts",
            _("Contacts per collector per day"),
            [
                Bar(
                    r["collector"],
                    r["per_day"],
                    f"{r['per_day']:.1f}",
                    _("%(who)s: %(n)d contacts in %(d)d days")
                    % {"who": r["collector"], "n": r["contacts"], "d": r["days"]},
                )
                for r in per_collector
            ],
            ["collector", "contacts", "days_with_contacts", "hours", "per_day"],
            [
                [r["collector"], r["contacts"], r["days"], f"{r['hours']:.2f}", f"{r['per_day']:.2f}"]
                for r in per_collector
            ],
            empty=none_yet,
        )
    )
    for name, title, rows, group in (
        ("denials", _("Compliance denials by rule"), numbers["denials"], 3),
        ("deferrals", _("Deferrals by rule (not yet: allowed later)"), numbers["deferrals"], 2),
    ):
        charts.append(
            Chart(
                name,
                title,
                [Bar(rule_label(rule), n, str(n), f"{rule_label(rule)} ({rule}): {n}", group) for rule, n in rows[:15]],
                ["rule", "rule_words", "count"],
                [[rule, rule_label(rule), n] for rule, n in rows],
                empty=none_yet,
            )
        )
    messages = [m for m in numbers["messages"] if m["reached"]]
    charts.append(
        Chart(
            "delivery",
            _("Delivery rate by channel (of messages handed to a provider)"),
            [
                Bar(
                    _channel(m["channel"]),
                    m["delivery_rate"] or 0,
                    percent_text(m["delivery_rate"]),
                    f"{_channel(m['channel'])}: {percent_text(m['delivery_rate'])} ("
                    + _("%(d)d of %(h)d delivered") % {"d": m["delivered"], "h": m["reached"]}
                    + ")",
                )
                for m in messages
            ],
            ["channel", "handed_to_provider", "delivered", "failed", "never_sent", "delivery_rate"],
            [
                [
                    m["channel"],
                    m["reached"],
                    m["delivered"],
                    m["failed"],
                    m["never_sent"],
                    _csv_rate(m["delivery_rate"]),
                ]
                for m in numbers["messages"]
            ],
            percent=True,
            empty=_("No message reached a provider in this period."),
        )
    )
    series = numbers["series"][-20:]
    no_snapshot = _("No snapshot yet: the daily sweep writes one.")
    if numbers["whole_portfolio"]:
        trend_chart = Chart(
            "overdue_trend",
            _("Share of loans overdue, day by day"),
            [
                Bar(
                    f"{r['as_of']:%m-%d} {r['currency']}",
                    r["rate"] or 0,
                    percent_text(r["rate"]),
                    f"{r['as_of']} {r['currency']}: {percent_text(r['rate'])} · "
                    f"{format_money(r['overdue'], r['currency'])}",
                )
                for r in series
            ],
            ["as_of", "currency", "share_overdue", "overdue"],
            [[r["as_of"], r["currency"], _csv_rate(r["rate"]), r["overdue"]] for r in numbers["series"]],
            percent=True,
            empty=no_snapshot,
        )
    else:  # a team's rows are its cases' loans, all overdue: their amount tells, a share of them would not
        trend_chart = Chart(
            "overdue_trend",
            _("Amount overdue in your teams' cases, day by day"),
            [
                Bar(
                    f"{r['as_of']:%m-%d} {r['currency']}",
                    float(r["overdue"]),
                    format_money(r["overdue"], r["currency"]),
                    f"{r['as_of']} {r['currency']}: {format_money(r['overdue'], r['currency'])}",
                )
                for r in series
            ],
            ["as_of", "currency", "overdue"],
            [[r["as_of"], r["currency"], r["overdue"]] for r in numbers["series"]],
            empty=no_snapshot,
        )
    charts.append(trend_chart)
    charts.extend(_vulnerability_charts(numbers["vulnerable"]))
    latest = max((row["as_of"] for row in numbers["trend"]), default=None)
    for row in numbers["trend"]:
        if row["as_of"] == latest:
            currency, buckets = row["currency"], [(b, s) for b, s in row["buckets"] if s]
            charts.append(
                Chart(
                    f"overdue_{currency}",
                    _("Overdue by DPD bucket, %(currency)s, %(date)s") % {"currency": currency, "date": latest},
                    [
                        Bar(
                            bucket_label(b),
                            float(s.overdue),
                            format_money(s.overdue, currency),
                            bucket_label(b)
                            + ": "
                            + _("%(amount)s overdue on %(n)d loans")
                            % {"amount": format_money(s.overdue, currency), "n": s.loans},
                        )
                        for b, s in buckets
                    ],
                    ["as_of", "currency", "bucket", "loans", "overdue", "outstanding"],
                    [[latest, currency, b, s.loans, s.overdue, s.outstanding] for b, s in buckets],
                )
            )
    return charts


def _vulnerability_charts(rows: list[dict[str, Any]]) -> list[Chart]:
    """The Consumer Duty outcome test: the same outcomes for vulnerable customers and the others, side by side."""
    words = {"vulnerable": _("Vulnerable customers"), "other": _("Other customers")}
    columns = ["group", "cases", "cured", "cure_rate", "contacts", "contacts_per_case", "complaints",
               "complaints_per_case"]  # fmt: skip
    per = lambda value: "" if value is None else f"{value:.2f}"  # noqa: E731
    records = [
        [r["group"], r["cases"], r["cured"], _csv_rate(r["cure_rate"]), r["contacts"], per(r["contacts_per_case"]),
         r["complaints"], per(r["complaints_per_case"])]
        for r in rows
    ]  # fmt: skip
    empty = _("No case worked in this period.") if not any(r["cases"] for r in rows) else ""
    cure = Chart(
        "vulnerable_cure",
        _("Cure rate: vulnerable and other customers"),
        [
            Bar(
                str(words[r["group"]]),
                r["cure_rate"] or 0.0,
                percent_text(r["cure_rate"]),
                f"{words[r['group']]}: {percent_text(r['cure_rate'])} ("
                + _("%(c)d of %(n)d cases worked cured") % {"c": r["cured"], "n": r["cases"]}
                + ")",
                0 if r["group"] == "vulnerable" else 1,
            )
            for r in rows
        ]
        if not empty
        else [],
        columns,
        records,
        percent=True,
        empty=empty,
        legend=[(0, str(words["vulnerable"])), (1, str(words["other"]))],
    )
    # Contacts and complaints per case side by side, each measure for both groups (a complaint is rarer than a
    # contact: the bars share an axis, the values say each exactly).
    per_case = [
        (r, measure, r[f"{measure}_per_case"], r[measure]) for measure in ("contacts", "complaints") for r in rows
    ]
    # Short enough for the chart's label column (24 characters): "Complaints, vulnerable".
    measure_words = {"contacts": _("Contacts"), "complaints": _("Complaints")}
    short = {"vulnerable": _("vulnerable"), "other": _("others")}
    contacts = Chart(
        "vulnerable_contacts",
        _("Contacts and complaints per case: vulnerable and other customers"),
        [
            Bar(
                _("%(measure)s, %(group)s") % {"measure": measure_words[measure], "group": short[r["group"]]},
                value or 0.0,
                "—" if value is None else f"{value:.2f}",
                f"{words[r['group']]}: "
                + (
                    _("%(k)d contacts for %(n)d cases worked")
                    if measure == "contacts"
                    else _("%(k)d complaints for %(n)d cases worked")
                )
                % {"k": count, "n": r["cases"]},
                0 if r["group"] == "vulnerable" else 1,
            )
            for r, measure, value, count in per_case
        ]
        if not empty
        else [],
        columns,
        records,
        empty=empty,
        legend=[(0, str(words["vulnerable"])), (1, str(words["other"]))],
    )
    return [cure, contacts]


def _channel(channel: str) -> str:
    return str(Channel(channel).label) if channel in Channel.values else channel


def _csv_rate(rate: float | None) -> str:
    return "" if rate is None else f"{rate:.4f}"


def _chart_csv(chart: Chart, days: int) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="performance-{chart.name}-{days}d.csv"'
    out = csv.writer(response)
    out.writerow(chart.columns)
    out.writerows(chart.records)
    return response


def _performance_csv(numbers: dict, days: int, team: object) -> HttpResponse:
    """Every KPI in one file: (metric, key, value) rows."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="performance-{days}d.csv"'
    out = csv.writer(response)
    out.writerow(["metric", "key", "value"])
    out.writerow(["period_days", "", days])
    out.writerow(["team", "", str(team or "all")])
    for row in numbers["cure"]:
        for w in row["windows"]:
            out.writerow(["cure_rate", f"{row['bucket']} {w['days']}d", _csv_rate(w["rate"])])
    for name in ("rpc", "self_cured", "delivery", "portal"):
        for key, value in numbers[name].items():
            out.writerow([name, key, "" if value is None else value])
    for row in numbers["promises"]:
        out.writerow([f"promise_kept_rate_{row['currency']}", row["band"], _csv_rate(row["rate"])])
    for row in numbers["liquidation"]:
        out.writerow(["liquidation_rate", row["currency"], _csv_rate(row["rate"])])
    for row in numbers["per_hour"]:
        out.writerow(
            [
                f"collected_per_hour_{row['currency']}",
                row["collector"],
                "" if row["per_hour"] is None else f"{row['per_hour']:.2f}",
            ]
        )
    for row in numbers["trend"]:
        for bucket, snap in row["buckets"]:
            if snap is not None:
                out.writerow([f"overdue_{row['currency']}", f"{row['as_of']} {bucket}", snap.overdue])
    for row in numbers["series"]:
        if row["rate"] is not None:
            out.writerow([f"overdue_rate_{row['currency']}", row["as_of"], _csv_rate(row["rate"])])
    for flow in numbers["flows"]:
        key = f"{flow['from']}->{flow['to']}"
        out.writerow([f"flow_rate_{flow['currency']}", key, _csv_rate(flow["count_rate"])])
        out.writerow([f"flow_rate_balance_{flow['currency']}", key, _csv_rate(flow["balance_rate"])])
    for row in numbers["per_collector"]:
        out.writerow(["contacts_per_day", row["collector"], f"{row['per_day']:.2f}"])
    for row in numbers["messages"]:
        for status, n in row["counts"].items():
            out.writerow([f"messages_{row['channel']}", status, n])
        out.writerow([f"messages_{row['channel']}", "handed_to_provider", row["reached"]])
        out.writerow([f"messages_{row['channel']}", "never_sent", row["never_sent"]])
    for row in numbers["vulnerable"]:
        out.writerow(["outcome_cure_rate", row["group"], _csv_rate(row["cure_rate"])])
        per_case = row["contacts_per_case"]
        out.writerow(["outcome_contacts_per_case", row["group"], "" if per_case is None else f"{per_case:.2f}"])
        per_case = row["complaints_per_case"]
        out.writerow(["outcome_complaints_per_case", row["group"], "" if per_case is None else f"{per_case:.2f}"])
    for rule, n in numbers["denials"]:
        out.writerow(["compliance_denials", rule, n])
    for rule, n in numbers["deferrals"]:
        out.writerow(["compliance_deferrals", rule, n])
    return response
