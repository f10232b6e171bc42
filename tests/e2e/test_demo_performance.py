"""Issue 14's "the performance page on a fresh `make run` shows non-empty charts for every KPI", in Chromium: the demo
is built by the real ``seed_demo`` command (a smaller portfolio than `make run`'s, over 95 days of history, so the
test stays under a minute), then manager.us, manager.cn (Chinese pages) and admin sign in with the demo password and
open /performance/: every KPI box shows a figure, every chart has a bar with a value above zero and a CSV link that
downloads the numbers behind it, and the page does not scroll sideways at 1,366 or 390 px. Full-page screenshots
demo-performance-*.png land in test-artifacts/e2e/."""

import csv
import io
import re

import pytest
from django.core.management import call_command

from collections_app.demo import DEMO_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

WIDTHS = (1366, 390)
NUMBER = re.compile(r"\d")
NUMERIC = re.compile(r"-?\d+(\.\d+)?")
RULE_ID = re.compile(r"\b(?:USF|BK|TCPA|MA|CN|UK|NO|HOLD)-[A-Z0-9]+\b")


def build_the_demo() -> str:
    """`make run`'s seed_demo, smaller: up to today (the page reads the live clock), 300 loans, 95 days, the default
    seed. (At 100 loans a 30-day window can hold a handful of promises, all of one team's broken: a 0 % bar; at 200
    the Chinese team's cases 1-30 days late a month ago were six, and whether any of them rolled depended on the
    order the desk happened to call in — the notice clocks of issue 16 changed that order, and the bar went to 0 %.
    `make run`'s 500 loans over 120 days roll 8 of 20.)"""
    out = io.StringIO()
    call_command("seed_demo", loans=300, days=95, no_progress=True, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def sign_in(page, live_server, username: str) -> None:
    page.context.clear_cookies()
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})  # the navigation bar shows who is signed in
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")


def numbers_in(row: str) -> list[float]:
    """The numbers among a CSV row's cells."""
    return [float(cell) for cell in next(csv.reader([row]), []) if NUMERIC.fullmatch(cell)]


def check_the_page(page, live_server, name: str, shot) -> None:
    page.goto(f"{live_server.url}/performance/")
    boxes = page.locator("[data-testid^=kpi-]")
    assert boxes.count() == 10, f"{name}: {boxes.count()} KPI boxes"
    for i in range(boxes.count()):
        box = boxes.nth(i)
        text = box.inner_text().strip()
        assert text not in ("", "—") and NUMBER.search(text), f"{name}: {box.get_attribute('data-testid')} is {text!r}"

    figures = page.locator("figure[data-testid^=chart-]")
    assert figures.count() >= 12, f"{name}: {figures.count()} charts"
    empty = []
    for i in range(figures.count()):
        figure = figures.nth(i)
        chart = figure.get_attribute("data-testid")
        # The wide layout (shown at this width); a bar's width is its value on an axis from 0.
        widths = [float(w) for w in figure.locator("svg.chart.d-sm-block rect.chart-bar").evaluate_all(
            "bars => bars.map(b => b.getAttribute('width'))")]  # fmt: skip
        if not any(w > 0 for w in widths):
            empty.append(f"{chart}: {figure.inner_text().strip()!r}")
            continue
        link = figure.locator("a[data-testid^=csv-]")
        assert link.count() == 1, f"{name}: {chart} has no CSV link"
        response = page.request.get(live_server.url + "/performance/" + link.get_attribute("href"))
        assert response.ok and response.headers["content-type"].startswith("text/csv"), f"{name}: {chart} CSV"
        assert "attachment" in response.headers["content-disposition"]
        rows = response.text().splitlines()
        assert len(rows) >= 2, f"{name}: {chart} CSV has no rows: {rows}"
        assert any(v > 0 for row in rows[1:] for v in numbers_in(row)), f"{name}: {chart} CSV is all zeros: {rows}"
    assert not empty, f"{name}: charts without a bar above zero: {empty}"

    # A download through the browser, as a manager clicks it: the chart of cure rates.
    with page.expect_download() as download:
        page.locator("[data-testid=csv-cure]").click()
    lines = download.value.path().read_text(encoding="utf-8").splitlines()
    assert lines[0] == "entry_bucket,window_days,cases,cured,rate" and len(lines) > 1, lines

    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        scroll = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert scroll[0] <= scroll[1], f"{name} at {width} px scrolls sideways: {scroll}"
        shot(f"demo-performance-{name}" + ("" if width == WIDTHS[0] else f"-{width}"))


def test_the_demo_fills_every_kpi_and_chart_of_the_performance_page(page, live_server, shot):
    output = build_the_demo()
    assert "Demo logins" in output, output

    sign_in(page, live_server, "manager.us")
    check_the_page(page, live_server, "manager-us", shot)
    assert "Cure rate" in page.content()

    sign_in(page, live_server, "manager.cn")
    check_the_page(page, live_server, "manager-cn", shot)
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "治愈率" in page.content()
    # The Chinese team's refusals (a reminder text to a borrower who replied 退订, an evening call after 22:00) are
    # named in Chinese words, not by rule ids.
    for chart in ("denials", "deferrals"):
        words = page.locator(f"figure[data-testid=chart-{chart}]").inner_text()
        assert re.search("[\u4e00-\u9fff]", words) and not RULE_ID.search(words), words

    sign_in(page, live_server, "admin")
    check_the_page(page, live_server, "admin", shot)
    # The admin sees both lenders.
    assert "CNY" in page.locator("[data-testid=kpi-liquidation]").inner_text()
    assert "USD" in page.locator("[data-testid=kpi-liquidation]").inner_text()
