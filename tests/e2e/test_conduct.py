"""Issue 17 in Chromium: a collector on a UK case is refused legal escalation (FB-01) with the reason as a message,
records forbearance on the case page and then requests legal review; a manager places a breathing space and the
borrower's other case cannot be escalated (BS-01). No sideways scrolling at 1,366 or 390 px; screenshots land in
test-artifacts/e2e/."""

import pytest
from playwright.sync_api import expect

from collections_app.models import CollectionCase, Forbearance
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_escalations import no_sideways_scroll
from tests.factories import BorrowerFactory, make_case, notices_served, overdue_loan, team_with, user_with_role

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
UK = {"country": "GB", "region": "", "city": "Leeds", "time_zones": ["Europe/London"]}


def test_forbearance_before_legal_and_a_breathing_space_on_the_case_page(page, live_server, login, shot):
    collector = user_with_role("collector", "casey", password=PASSWORD)
    manager = user_with_role("manager", "morgan", password=PASSWORD)
    team_with(collector, manager=manager, timezone="Europe/London")
    borrower = BorrowerFactory(full_name="Alex Morgan", **UK)
    case = make_case(state="formal_notice", loan=overdue_loan(borrower=borrower), worked_by=collector)
    notices_served(case)  # the formal and default notices and their periods (FN-01, DN-01) are behind us
    other = make_case(loan=overdue_loan(borrower=borrower), worked_by=collector)

    login("casey")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    form = page.locator("[data-testid=transition-request_legal]").locator("xpath=..")
    form.locator("input[name=reason]").fill("no payment after the notice")
    form.locator("[data-testid=transition-request_legal]").click()
    expect(
        page.get_by_text("Record the forbearance offered or considered before asking for legal action.")
    ).to_be_visible()
    shot("conduct-fb01-refused")

    forbearance = page.locator("[data-testid=forbearance-form]")
    forbearance.locator("select[name=kind]").select_option("payment_holiday")
    forbearance.locator("textarea[name=details]").fill("Two months while the borrower is between jobs")
    forbearance.locator("button[type=submit]").click()
    expect(page.locator("[data-testid=forbearances]")).to_contain_text("payment holiday")
    no_sideways_scroll(page, "conduct-forbearance", shot)
    assert Forbearance.objects.filter(case=case, recorded_by=collector).count() == 1

    form = page.locator("[data-testid=transition-request_legal]").locator("xpath=..")
    form.locator("input[name=reason]").fill("no payment after the holiday")
    form.locator("[data-testid=transition-request_legal]").click()
    expect(page.get_by_text("Record the forbearance")).to_have_count(0)
    assert CollectionCase.objects.get(pk=case.pk).state == "legal_review"

    # A breathing space on the other case covers both; escalating the first case's sibling is refused.
    page.goto(f"{live_server.url}/cases/{other.pk}/")
    hold = page.locator("form[action$='/hold/']")
    hold.locator("select[name=kind]").select_option("breathing_space")
    hold.locator("select[name=breathing_space_type]").select_option("standard")
    hold.locator("input[name=reason]").fill("Debt adviser's notice of a standard breathing space")
    hold.locator("button[type=submit]").click()
    expect(page.get_by_text("Hold placed")).to_be_visible()
    shot("conduct-breathing-space")
    third = make_case(loan=overdue_loan(borrower=borrower), worked_by=collector)
    page.goto(f"{live_server.url}/cases/{third.pk}/")
    form = page.locator("[data-testid=transition-escalate_formal_notice]").locator("xpath=..")
    form.locator("input[name=reason]").fill("no answer")
    form.locator("[data-testid=transition-escalate_formal_notice]").click()
    expect(page.get_by_text("Breathing space: no escalation or enforcement until it ends.")).to_be_visible()
    assert CollectionCase.objects.get(pk=third.pk).state == "reminder"
    no_sideways_scroll(page, "conduct-bs01-refused", shot)
