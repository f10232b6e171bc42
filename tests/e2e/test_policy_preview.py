"""Issue 14, item 4 in Chromium: an admin changes a collection policy's fields, presses "Preview impact", reads the
counts and sample cases of what the next sweep would do differently, finds nothing changed in the database, then
saves the draft as a new version. No sideways scroll at 1,366 px. Screenshot in test-artifacts/e2e/."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from collections_app.models import CaseTransition, CollectionCase, CollectionPolicy
from collections_app.sweep import sweep_run
from notifications.models import OutboundMessage
from tests.e2e.conftest import PASSWORD
from tests.factories import PhoneFactory, loan_with_schedule, team_with, user_with_role

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def rows():
    return (CollectionCase.objects.count(), CaseTransition.objects.count(), OutboundMessage.objects.count(),
            CollectionPolicy.objects.count(), sorted(CollectionCase.objects.values_list("id", "state")))  # fmt: skip


def test_an_admin_previews_the_impact_of_a_policy_change_then_saves_it(page, live_server, login, shot):
    today = dt.datetime.now(dt.UTC).date()
    team_with(user_with_role("collector", "casey", password=PASSWORD), name="US")
    for dpd in range(1, 41):  # loans 1 to 40 days past due, swept today with the policy in force
        loan = loan_with_schedule(((today - dt.timedelta(days=dpd)).isoformat(), "100.00"),
                                  ((today + dt.timedelta(days=60)).isoformat(), "100.00"))  # fmt: skip
        PhoneFactory(borrower=loan.borrower, kind="mobile", sms_consent=True)
    sweep_run(as_of=today)
    admin = user_with_role("admin", "ada", password=PASSWORD, is_staff=True)
    assert admin.is_staff
    policy = CollectionPolicy.objects.get(product__isnull=True, is_current=True)
    before = rows()

    login("ada")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/admin/collections_app/collectionpolicy/{policy.pk}/change/")
    page.fill("input[name=grace_days]", "1")
    page.fill("input[name=formal_notice_dpd]", "20")
    page.click("input[name=_preview]")
    section = page.locator(".policy-preview")
    expect(section).to_be_visible()
    expect(section.get_by_role("heading", name="Impact of this draft on the next sweep")).to_be_visible()
    counts = dict(
        zip(section.locator(".policy-preview-counts tbody td:first-child").all_inner_texts(),
            section.locator(".policy-preview-counts tbody td:last-child").all_inner_texts(), strict=True)
    )  # fmt: skip
    assert counts["Cases that would open"] == "2"
    assert counts["Cases that would escalate further"] == "10"
    escalated = section.locator("details", has_text="Cases that would escalate further")
    expect(escalated.locator("tbody tr")).to_have_count(10)
    expect(escalated.locator("tbody tr").first).to_contain_text("formal notice")
    # The form keeps what was typed; nothing changed in the database.
    expect(page.locator("input[name=grace_days]")).to_have_value("1")
    assert rows() == before
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths
    shot("policy-preview-1366")

    # A sample links to its case page.
    href = escalated.locator("tbody a").first.get_attribute("href")
    assert href and href.startswith("/cases/")

    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("Saved as version 2")
    current = CollectionPolicy.objects.get(product__isnull=True, is_current=True)
    assert (current.version, current.grace_days, current.formal_notice_dpd) == (2, 1, 20)


def test_the_preview_reads_in_chinese(page, live_server, login, shot):
    today = dt.datetime.now(dt.UTC).date()
    for dpd in (2, 25):
        loan_with_schedule(((today - dt.timedelta(days=dpd)).isoformat(), "100.00"))
    sweep_run(as_of=today)
    user_with_role("admin", "ada", password=PASSWORD, is_staff=True)
    policy = CollectionPolicy.objects.get(product__isnull=True, is_current=True)
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_server.url}])
    login("ada")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/admin/collections_app/collectionpolicy/{policy.pk}/change/")
    page.fill("input[name=grace_days]", "1")
    page.fill("input[name=formal_notice_dpd]", "20")
    page.click("input[name=_preview]")
    section = page.locator(".policy-preview")
    expect(section.get_by_role("heading", name="此草稿对下一次每日批处理的影响")).to_be_visible()
    expect(section).to_contain_text("将开立的案件")
    expect(section).to_contain_text("将进一步升级的案件")
    expect(section.locator("details", has_text="将进一步升级的案件")).to_contain_text("正式通知")
    assert "formal_notice" not in section.inner_text()
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths
    shot("policy-preview-zh-1366")
