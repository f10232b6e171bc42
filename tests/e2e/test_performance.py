"""Issue 14's KPIs in Chromium: on a small portfolio with history (the real sweep run on several past dates, plus
snapshots a month apart and factory-made promises, calls, payments, refusals and messages) every KPI box and every
chart of /performance/ is filled in, no chart text is cut off, each bar says its value on hover, and the page does
not scroll sideways at 1,366 or 390 px — in English and in Chinese. Screenshots land in test-artifacts/e2e/."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from collections_app.models import CaseTransition, CollectionCase, PortfolioSnapshot
from collections_app.sweep import sweep_run
from core.models import UserSettings
from notifications.models import PortalEvent, PortalLink
from notifications.services import portal_link_issue
from tests.e2e.conftest import PASSWORD
from tests.factories import (
    CallDispositionFactory,
    ContactEventFactory,
    DecisionFactory,
    OutboundMessageFactory,
    PaymentFactory,
    PromiseFactory,
    loan_with_schedule,
    make_case,
    team_with,
    user_with_role,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

WIDTHS = (1366, 390)

# Any text of a chart outside its drawing (cut off), as "chart: text".
CUT_TEXT = """Array.from(document.querySelectorAll('svg.chart')).flatMap(svg => {
  const width = svg.viewBox.baseVal.width, height = svg.viewBox.baseVal.height;
  return Array.from(svg.querySelectorAll('text')).filter(t => {
    const b = t.getBBox();
    return b.x < -0.5 || b.y < -0.5 || b.x + b.width > width + 0.5 || b.y + b.height > height + 0.5;
  }).map(t => svg.getAttribute('aria-label') + ': ' + t.textContent);
})"""


def person(role, username, **fields):
    return user_with_role(role, username, password=PASSWORD, **fields)


def portfolio():
    """Loans falling due over the last 100 days, swept on five past dates (cases open, snapshots are written), and
    the records every KPI reads. Returns the manager and an admin who reads Chinese."""
    manager, casey, jordan = person("manager", "morgan"), person("collector", "casey"), person("collector", "jordan")
    admin = person("admin", "ada")
    UserSettings.objects.update_or_create(user=admin, defaults={"language": "zh-hans"})
    team = team_with(casey, jordan, name="US", manager=manager)
    today = timezone.now().date()
    now = timezone.now()
    for days in (20, 50, 60, 70, 80, 90, 100):
        loan_with_schedule(((today - dt.timedelta(days=days)).isoformat(), "200.00"))
    for days in (60, 45, 30, 15, 1):
        sweep_run(as_of=today - dt.timedelta(days=days))
    swept = list(CollectionCase.objects.all())
    assert len(swept) == 7, "the sweep opened a case for each overdue loan"
    CollectionCase.objects.update(team=team, assigned_to=casey)

    # Cases for the cure, liquidation and self-cured figures: opened 40 days ago (their 30-day window ended in the
    # period), half of them cured 20 days after opening; and cases opened this month, partly paid.
    for i in range(6):
        opened = today - dt.timedelta(days=40 + i)
        cured = i % 2 == 1
        c = make_case(team=team, assigned_to=casey if i < 3 else jordan, opened_on=opened,
                      state="resolved" if cured else "reminder",
                      stage_entered_on=opened + dt.timedelta(days=20) if cured else opened,
                      entry_days_past_due=10 if i < 4 else 40, entry_amount_overdue=Decimal("100"))  # fmt: skip
        if cured:
            PaymentFactory(loan=c.loan, amount=Decimal("100"), received_at=now - dt.timedelta(days=22 - i))
    for i in range(3):
        c = make_case(team=team, assigned_to=jordan, opened_on=today - dt.timedelta(days=10 + i),
                      entry_amount_overdue=Decimal("300"))  # fmt: skip
        PaymentFactory(loan=c.loan, amount=Decimal(60 * (i + 1)), received_at=now - dt.timedelta(days=5))

    # Promises of several amounts, calls with their dispositions, refusals of the gate, messages.
    work = swept[:4]
    for i, (amount, status) in enumerate((("50", "kept"), ("80", "broken"), ("250", "kept"), ("900", "partial"),
                                          ("3000", "kept"))):  # fmt: skip
        PromiseFactory(case=work[i % len(work)], amount=Decimal(amount), status=status, created_by=casey,
                       promised_on=today - dt.timedelta(days=3 + i))  # fmt: skip
    for i, c in enumerate(work):
        for hour, collector, party in ((9, casey, "right_party"), (11, casey, "no_answer"), (15, jordan, "voicemail")):
            decision = DecisionFactory(borrower=c.borrower)
            at = now.replace(hour=hour, minute=0) - dt.timedelta(days=1 + i)
            ContactEventFactory(borrower=c.borrower, actor=collector, decision=decision, at=at,
                                outcome="conversation" if party == "right_party" else party)  # fmt: skip
            CallDispositionFactory(case=c, decision=decision, actor=collector, party=party)
        DecisionFactory(borrower=c.borrower, outcome="deny", reasons=[{"rule": "CN-05", "outcome": "deny"}])
        DecisionFactory(borrower=c.borrower, outcome="defer", reasons=[{"rule": "USF-01", "outcome": "defer"}])
        OutboundMessageFactory(case=c, status="delivered", send_started_at=now, planned_for=now)
        OutboundMessageFactory(case=c, status="failed", planned_for=now, status_reason="No consented mobile.")
    OutboundMessageFactory(case=work[0], channel="email", status="sent", send_started_at=now, planned_for=now)

    # The borrower's page: three borrowers opened it yesterday; one then paid there, one promised by themselves.
    for i, c in enumerate(work[:3]):
        portal_link_issue(borrower_id=c.borrower_id)
        link = PortalLink.objects.filter(borrower_id=c.borrower_id).latest("id")
        visited = now - dt.timedelta(days=1)
        PortalEvent.objects.create(link=link, borrower_id=c.borrower_id, kind="visit", at=visited)
        if i == 0:
            PortalEvent.objects.create(link=link, borrower_id=c.borrower_id, kind="pay_completed",
                                       at=visited + dt.timedelta(minutes=3))  # fmt: skip
        if i == 1:
            CaseTransition.objects.create(case=c, from_state=c.state, to_state=c.state, transition="take_promise",
                                          actor_label="borrower", at=visited + dt.timedelta(minutes=5))  # fmt: skip

    # A month of the team's snapshots, for the roll rates.
    for days, rows in ((31, ((1, "1-30", 10, 2000), (2, "31-60", 4, 900))),
                       (1, ((3, "1-30", 6, 1300), (4, "31-60", 3, 700), (5, "61-90", 2, 500)))):  # fmt: skip
        for _, bucket, loans, balance in rows:
            PortfolioSnapshot.objects.update_or_create(
                as_of=today - dt.timedelta(days=days), team=team, currency="USD", bucket=bucket,
                defaults={"loans": loans, "overdue": Decimal(balance) / 2, "outstanding": Decimal(balance)},
            )  # fmt: skip
    return manager, admin


def check_the_page(page, name, shot):
    boxes = page.locator("[data-testid^=kpi-]")
    assert boxes.count() == 10  # issue 17: complaints per 1,000 accounts
    for i in range(boxes.count()):
        box = boxes.nth(i)
        assert box.inner_text().strip() not in ("", "—"), f"{name}: {box.get_attribute('data-testid')} is empty"
    figures = page.locator("figure[data-testid^=chart-]")
    assert figures.count() >= 12
    for i in range(figures.count()):
        figure = figures.nth(i)
        testid = figure.get_attribute("data-testid")
        assert figure.locator("svg.chart g.chart-row").count() > 0, f"{name}: {testid} has no bars"
        assert figure.locator("a[data-testid^=csv-]").count() == 1, f"{name}: {testid} has no CSV"
    hover = page.locator("svg.chart g.chart-row > title").all_text_contents()
    assert hover and all(":" in text or "：" in text for text in hover), hover
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], f"{name} at {width} px: {widths}"
        assert page.evaluate(CUT_TEXT) == [], f"{name} at {width} px: text cut off"
        inner = page.evaluate(
            "Array.from(document.querySelectorAll('.table-responsive')).map(e => [e.scrollWidth, e.clientWidth])"
        )
        assert all(scroll <= client for scroll, client in inner), f"{name} at {width} px, a table: {inner}"
        shot(f"{name}-{width}")
    page.set_viewport_size({"width": 1366, "height": 900})


def test_every_kpi_and_chart_of_the_performance_page_is_filled_in_and_readable(page, live_server, login, shot):
    manager, admin = portfolio()

    login(manager.username)
    page.goto(f"{live_server.url}/performance/?days=30")
    assert "Cure rate" in page.locator("[data-testid=kpi-cure]").locator("xpath=..").inner_text()
    check_the_page(page, "performance", shot)
    # A chart's CSV is the numbers behind its bars.
    with page.expect_download() as download:
        page.locator("[data-testid=csv-roll_count]").click()
    rows = download.value.path().read_text().splitlines()
    assert rows[0].startswith("currency,from,to") and "USD,1-30,31-60" in rows[1]

    page.context.clear_cookies()
    login(admin.username)
    page.goto(f"{live_server.url}/performance/?days=30")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "治愈率" in page.content() and "逾期 1-30 天" in page.content()
    check_the_page(page, "performance-zh", shot)
