"""Issue 17 in Chromium: a collector records a complaint on the case page (a mistake first: the form comes back as
typed with the error beside the field), it appears on the case's timeline, and the team's manager finds it in the
complaints queue. In English and Chinese; no sideways scrolling at 1,366 or 390 px; screenshots
complaint-form-*.png land in test-artifacts/e2e/."""

import pytest
from playwright.sync_api import expect

from collections_app.models import Complaint
from core.models import UserSettings
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_escalations import no_sideways_scroll
from tests.factories import BorrowerFactory, make_case, overdue_loan, team_with, user_with_role

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
UK = {"country": "GB", "region": "", "city": "Leeds", "time_zones": ["Europe/London"]}
WORDS = {
    "en": {"received": "Complaint received", "category": "personal data", "queue": "collection conduct"},
    "zh-hans": {"received": "收到投诉", "category": "个人信息", "queue": "催收行为"},
}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_collector_records_a_complaint_it_shows_on_the_timeline_and_in_the_managers_queue(
    page, live_server, login, shot, language
):
    collector = user_with_role("collector", "casey", password=PASSWORD)
    manager = user_with_role("manager", "morgan", password=PASSWORD)
    team_with(collector, manager=manager, timezone="Europe/London")
    for user in (collector, manager):
        UserSettings.objects.update_or_create(user=user, defaults={"language": language})
    borrower = BorrowerFactory(full_name="Alex Morgan", **UK)
    case = make_case(state="formal_notice", loan=overdue_loan(borrower=borrower), worked_by=collector)
    words = WORDS[language]

    login("casey")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    form = page.locator("[data-testid=complaint-form]")
    expect(form).to_contain_text("Europe/London")  # the zone the time is typed in, named beside the field
    form.locator("select[name=complaint-channel]").select_option("call")
    form.locator("textarea[name=complaint-summary]").fill("The collector called my employer twice.")
    form.locator("[data-testid=complaint-record]").click()  # no category chosen: refused, kept as typed
    form = page.locator("[data-testid=complaint-form]")
    expect(form.locator("textarea[name=complaint-summary]")).to_have_value("The collector called my employer twice.")
    expect(form.locator(".errorlist")).to_have_count(1)
    assert not Complaint.objects.exists()
    shot(f"complaint-form-error-{language}")

    form.locator("select[name=complaint-category]").select_option("conduct")
    form.locator("input[name=complaint-received_at]").fill("2026-01-05T10:30")
    form.locator("[data-testid=complaint-record]").click()
    timeline = page.locator("[data-testid=timeline]")
    expect(timeline).to_contain_text(words["received"])
    expect(timeline).to_contain_text("The collector called my employer twice.")
    complaint = Complaint.objects.get()
    assert (complaint.category, complaint.channel, complaint.recorded_by) == ("conduct", "call", collector)
    assert complaint.received_at.isoformat() == "2026-01-05T10:30:00+00:00"  # London in January is UTC
    no_sideways_scroll(page, f"complaint-form-timeline-{language}", shot)

    # Another complaint, about personal data, to see the category in the reader's words on the timeline.
    form = page.locator("[data-testid=complaint-form]")
    form.locator("select[name=complaint-category]").select_option("data")
    form.locator("select[name=complaint-channel]").select_option("email")
    form.locator("textarea[name=complaint-summary]").fill("You wrote to my old address.")
    form.locator("[data-testid=complaint-record]").click()
    expect(page.locator("[data-testid=timeline]")).to_contain_text(words["category"])

    page.context.clear_cookies()
    login("morgan")
    page.goto(f"{live_server.url}/escalations/complaints/")
    rows = page.locator("[data-testid=complaint-row]")
    expect(rows).to_have_count(2)
    expect(page.locator("[data-testid=complaints]")).to_contain_text("Alex Morgan")
    expect(page.locator("[data-testid=complaints]")).to_contain_text(words["queue"])
    no_sideways_scroll(page, f"complaint-form-queue-{language}", shot)
