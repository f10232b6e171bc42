"""DSP-01 in Chromium: a collector records a dispute received by letter on a US case, is refused legal escalation with
the rule's reason, prepares the verification letter; the manager's disputes list shows its age, stage and
validation-period flag, in English and Chinese. No sideways scrolling at 1,366 or 390 px; screenshots land in
test-artifacts/e2e/."""

import pytest
from playwright.sync_api import expect

from collections_app.models import CollectionCase, Dispute
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_escalations import no_sideways_scroll
from tests.factories import BorrowerFactory, make_case, overdue_loan, team_with, user_with_role

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
US = {"country": "US", "region": "NY", "city": "Albany", "address_line1": "1 Main St", "postal_code": "12207",
      "time_zones": ["America/New_York"]}  # fmt: skip


def test_a_dispute_by_letter_blocks_escalation_until_its_verification_is_prepared_and_shows_in_both_languages(
    page, live_server, login, shot
):
    collector = user_with_role("collector", "casey", password=PASSWORD)
    manager = user_with_role("manager", "morgan", password=PASSWORD)
    team_with(collector, manager=manager, timezone="America/New_York")
    borrower = BorrowerFactory(full_name="Dana Disputes-A-Rather-Long-Name", **US)
    case = make_case(state="formal_notice", loan=overdue_loan(borrower=borrower), worked_by=collector)

    login("casey")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    form = page.locator("[data-testid=dispute-form]")
    form.locator("select[name=dispute-channel]").select_option("letter")
    form.locator("input[name=dispute-original_creditor]").check()
    form.locator("input[name=dispute-reason]").fill("The letter says the amount is wrong and asks who the creditor is")
    form.locator("button[type=submit]").click()
    expect(page.get_by_text("Dispute recorded")).to_be_visible()
    block = page.locator("[data-testid=dispute]")
    expect(block).to_contain_text("Within the validation period")
    expect(block.locator("[data-testid=dispute-stage]")).to_contain_text("received")
    no_sideways_scroll(page, "dispute-case-page", shot)

    # request_legal is refused with DSP-01's reason (the case is on hold, and the rule names why).
    CollectionCase.objects.filter(pk=case.pk).update(state="formal_notice")  # as if another hold had lifted
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    transition = page.locator("[data-testid=transition-request_legal]").locator("xpath=..")
    transition.locator("input[name=reason]").fill("no payment")
    transition.locator("[data-testid=transition-request_legal]").click()
    expect(page.get_by_text("Disputed in writing within the validation period: no escalation")).to_be_visible()
    shot("dispute-dsp01-refused")

    page.locator("[data-testid=prepare-verification]").click()
    expect(page.get_by_text("Verification prepared: the letter goes out")).to_be_visible()
    expect(page.locator("[data-testid=dispute-stage]")).to_contain_text("verification prepared")
    assert Dispute.objects.get().stage == "prepared"

    page.context.clear_cookies()  # signed out: the manager signs in
    login("morgan")
    page.goto(f"{live_server.url}/escalations/disputes/")
    row = page.locator("[data-testid=dispute-row]")
    expect(row).to_have_count(1)
    expect(row.locator("[data-testid=dispute-stage]")).to_contain_text("verification prepared")
    expect(row.locator("[data-testid=dispute-period]")).to_contain_text("in the validation period, in writing")
    expect(row.locator("[data-testid=dispute-age]")).to_contain_text("0 days old")
    no_sideways_scroll(page, "dispute-list", shot)
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_server.url}])
    page.goto(f"{live_server.url}/escalations/disputes/")
    expect(row.locator("[data-testid=dispute-stage]")).to_contain_text("核实材料已准备")
    expect(row.locator("[data-testid=dispute-period]")).to_contain_text("核实期内书面提出")
    no_sideways_scroll(page, "dispute-list-zh", shot)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    expect(page.locator("[data-testid=dispute]")).to_contain_text("在核实期内")
    no_sideways_scroll(page, "dispute-case-page-zh", shot)
