"""Issue 16 in Chromium: the case page of a UK case at formal notice shows its notice clocks (the default notice not
posted yet, the formal notice not sent in writing), a collector's request for legal review is refused with both
reasons in words (FN-01, DN-01); once the notices have run their periods the clocks say so and the request goes
through. In English and Chinese; no sideways scrolling at 1,366 or 390 px; screenshots land in test-artifacts/e2e/."""

import pytest
from playwright.sync_api import expect

from collections_app.models import CollectionCase
from collections_app.services import forbearance_record
from core.models import UserSettings
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_escalations import no_sideways_scroll
from tests.factories import (
    BorrowerFactory,
    OutboundMessageFactory,
    make_case,
    notices_served,
    overdue_loan,
    team_with,
    user_with_role,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
UK = {"country": "GB", "region": "", "city": "Leeds", "time_zones": ["Europe/London"], "address_line1": "2 Park Row"}


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", {"clocks": "Notice clocks", "default": "Not posted yet", "formal": "Not sent as a letter or an e-mail",
                "refused": "The formal notice has not been sent as a letter or an e-mail yet", "passed": "passed",
                "returned": "Came back undelivered", "again": "Formal notice planned again"}),
        ("zh-hans", {"clocks": "通知时限", "default": "尚未寄出", "formal": "尚未以信函或电子邮件寄出",
                     "refused": "正式催收通知函尚未以信函或电子邮件寄出", "passed": "已届满",
                     "returned": "信函被退回", "again": "已重新安排正式催收通知函"}),
    ],
)  # fmt: skip
def test_the_notice_clocks_hold_back_legal_review_until_their_periods_have_passed(
    page, live_server, login, shot, language, words
):
    collector = user_with_role("collector", "casey", password=PASSWORD)
    UserSettings.objects.update_or_create(user=collector, defaults={"language": language})
    team_with(collector, manager=user_with_role("manager", "morgan"), timezone="Europe/London")
    borrower = BorrowerFactory(full_name="Alex Morgan", **UK)
    case = make_case(state="formal_notice", loan=overdue_loan(borrower=borrower), worked_by=collector)
    forbearance_record(case_id=case.pk, actor=collector, kind="payment_holiday")  # FB-01 is not this test's

    login("casey")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    clocks = page.locator("[data-testid=notice-clocks]")
    expect(clocks).to_contain_text(words["clocks"])
    expect(clocks).to_contain_text(words["default"])
    expect(clocks).to_contain_text(words["formal"])
    no_sideways_scroll(page, f"notice-clocks-running-{language}", shot)

    form = page.locator("[data-testid=transition-request_legal]").locator("xpath=..")
    form.locator("input[name=reason]").fill("no payment after the notice")
    form.locator("[data-testid=transition-request_legal]").click()
    expect(page.get_by_text(words["refused"])).to_be_visible()
    assert CollectionCase.objects.get(pk=case.pk).state == "formal_notice"
    shot(f"notice-clocks-refused-{language}")

    notices_served(case)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    expect(page.locator("[data-testid=notice-clock]").filter(has_text=words["passed"])).to_have_count(2)
    no_sideways_scroll(page, f"notice-clocks-passed-{language}", shot)
    form = page.locator("[data-testid=transition-request_legal]").locator("xpath=..")
    form.locator("input[name=reason]").fill("no payment after the default notice")
    form.locator("[data-testid=transition-request_legal]").click()
    expect(page.get_by_text(words["refused"])).to_have_count(0)
    assert CollectionCase.objects.get(pk=case.pk).state == "legal_review"

    # Another case whose formal notice came back: the clock says so and offers to send it again.
    returned = make_case(state="formal_notice", loan=overdue_loan(borrower=borrower), worked_by=collector)
    OutboundMessageFactory(case=returned, channel="letter", purpose="formal_notice", status="failed")
    page.goto(f"{live_server.url}/cases/{returned.pk}/")
    expect(page.locator("[data-testid=notice-clocks]")).to_contain_text(words["returned"])
    no_sideways_scroll(page, f"notice-clocks-returned-{language}", shot)
    page.locator("[data-testid=formal-notice-resend]").click()
    expect(page.get_by_text(words["again"])).to_be_visible()
    expect(page.locator("[data-testid=formal-notice-resend]")).to_have_count(0)
    shot(f"notice-clocks-sent-again-{language}")
