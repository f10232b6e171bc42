"""Issue 17 §5 in Chromium: the week's QA sample is drawn (the ``qa_sample`` command, as the Monday beat task does),
a manager opens the calls to review, plays the recorded one, scores it — first without saying what went wrong on the
failed item (the error beside the notes, the answers kept), then with the note — and sees the collector's result
(75 %, the item failed) on the results page; the pages in English and Chinese at 1,366 and 390 px without sideways
scrolling; the collector sees their own result only. Screenshots oversight-*.png land in test-artifacts/e2e/."""

import datetime as dt

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from collections_app.models import CallDisposition, CallReview
from collections_app.services.qa import last_complete_week
from core.models import UserSettings
from tests.e2e.conftest import PASSWORD
from tests.factories import (
    CallDispositionFactory,
    CallRecordingFactory,
    CaseFactory,
    CollectorCallFactory,
    DecisionFactory,
    team_with,
    user_with_role,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
WIDTHS = (1366, 390)


def no_sideways_scroll(page, what: str) -> None:
    scroll = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert scroll[0] <= scroll[1], f"{what} scrolls sideways: {scroll}"


def test_a_manager_scores_a_sampled_call_and_sees_the_collectors_result(page, live_server, login, shot):
    from compliance.models import JurisdictionProfile

    manager = user_with_role("manager", "morgan", password=PASSWORD, first_name="Morgan", last_name="Reyes")
    casey = user_with_role("collector", "casey", password=PASSWORD, first_name="Casey", last_name="Brooks")
    jordan = user_with_role("collector", "jordan", password=PASSWORD, first_name="Jordan", last_name="Lee")
    team_with(casey, jordan, name="US collections", manager=manager)
    us = JurisdictionProfile.objects.get(code="US_FED_REGF", is_current=True)
    week = last_complete_week()
    for collector in (casey, jordan):
        case = CaseFactory(assigned_to=collector, borrower__full_name=f"Pat Example-{collector.username}")
        decision = DecisionFactory(borrower=case.borrower, loan=case.loan, profiles=[f"US_FED_REGF@{us.version}"])
        call = CollectorCallFactory(case=case, collector=collector)
        CallRecordingFactory(call=call)
        made = CallDispositionFactory(case=case, decision=decision, actor=collector, call=call)
        CallDisposition.objects.filter(pk=made.pk).update(
            created_at=dt.datetime.combine(week + dt.timedelta(days=2), dt.time(15, 30), tzinfo=dt.UTC)
        )
    call_command("qa_sample")
    assert CallReview.objects.count() == 2

    login("morgan")
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})
    page.goto(f"{live_server.url}/oversight/qa/reviews/")
    row = page.locator("[data-testid=qa-review-row]", has_text="Casey Brooks")
    expect(row).to_contain_text("not scored yet")
    row.get_by_role("link", name="Score this call").click()
    expect(page.locator("[data-testid=qa-recording]")).to_have_count(1)
    src = page.locator("[data-testid=qa-recording]").get_attribute("src")
    playable = page.evaluate("src => fetch(src).then(r => [r.status, r.headers.get('content-type')])", src)
    assert playable[0] == 200 and playable[1].startswith("audio/"), playable
    form = page.locator("[data-testid=qa-form]")
    for item in ("identification", "no_false_threats", "within_hours"):
        form.locator(f"[data-item={item}] input[value=pass]").check()
    form.locator("[data-item=mini_miranda] input[value=fail]").check()
    form.get_by_role("button", name="Save the score").click()
    # Refused: the failed item needs a note; the answers are kept and the error sits under the notes.
    notes = page.locator("textarea[name=notes]")
    expect(notes).to_have_class("form-control is-invalid")
    expect(page.locator("[data-testid=qa-form]")).to_contain_text("say what went wrong on the items that failed")
    expect(page.locator("[data-item=mini_miranda] input[value=fail]")).to_be_checked()
    shot("oversight-review-refused-en-1366")
    notes.fill("No debt-collector disclosure before the amount was discussed.")
    page.get_by_role("button", name="Save the score").click()
    expect(page.locator("[data-testid=qa-score]")).to_contain_text("75%")

    for language, words in (
        ("en", ("Casey Brooks", "75%", "Said it is an attempt to collect a debt (mini-Miranda) (1)")),
        ("zh-hans", ("Casey Brooks", "75%", "说明了这是债务催收（“迷你米兰达”告知） (1)")),
    ):
        UserSettings.objects.update_or_create(user=manager, defaults={"language": language})
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{live_server.url}/oversight/qa/")
            casey_row = page.locator("[data-testid=qa-row]", has_text="Casey Brooks")
            for word in words:
                expect(casey_row).to_contain_text(word)
            expect(page.locator("[data-testid=qa-row]", has_text="Jordan Lee")).to_contain_text("—")  # not scored
            no_sideways_scroll(page, f"results {language} {width}")
            shot(f"oversight-results-{language}-{width}")
            reviewed = CallReview.objects.get(collector=casey).pk
            for name, path in (
                ("reviews", "/oversight/qa/reviews/?scored=1"),
                ("training", "/oversight/training/"),
                ("review", f"/oversight/qa/reviews/{reviewed}/"),
            ):
                page.goto(f"{live_server.url}{path}")
                no_sideways_scroll(page, f"{name} {language} {width}")
                shot(f"oversight-{name}-{language}-{width}")

    # The collector: their own row only, and their scored call read-only.
    page.context.clear_cookies()
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})  # the navigation bar shows who is signed in
    login("casey")
    page.goto(f"{live_server.url}/oversight/qa/")
    expect(page.locator("[data-testid=qa-row]")).to_have_count(1)
    expect(page.locator("[data-testid=qa-row]")).to_contain_text("75%")
    expect(page.locator("body")).not_to_contain_text("Jordan Lee")


def test_an_uncertified_chinese_desk_collector_sees_why_before_calling(page, live_server, login, shot):
    """CERT-01 on the case page: the "can I contact now?" panel names the rule and says, in the reader's language,
    that a training record is needed — whatever the hour (the hours may add their own reason)."""
    from tests.factories import BorrowerFactory, PhoneFactory, loan_with_schedule, make_case

    wang = user_with_role("collector", "wang", password=PASSWORD, first_name="王小芳")
    team = team_with(wang, name="三门峡催收组", language="zh-hans", timezone="Asia/Shanghai")
    borrower = BorrowerFactory(country="CN", region="河南省", time_zones=["Asia/Shanghai"], language="zh-hans",
                               full_name="张三")  # fmt: skip
    case = make_case(loan=loan_with_schedule(("2025-05-01", "100.00"), borrower=borrower), team=team,
                     assigned_to=wang)  # fmt: skip
    PhoneFactory(borrower=borrower, number="+8613800138000")
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})
    login("wang")
    for language, words in (
        ("zh-hans", "该催收员没有有效的催收培训"),
        ("en", "No collection training and exam in force"),
    ):
        UserSettings.objects.update_or_create(user=wang, defaults={"language": language})
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{live_server.url}/cases/{case.pk}/")
            call = page.locator("[data-testid=contact-panel] [data-channel=call]")
            expect(call.locator("[data-rule=CERT-01]")).to_be_visible()
            expect(call).to_contain_text(words)
            no_sideways_scroll(page, f"case page {language} {width}")
            call.scroll_into_view_if_needed()
            shot(f"oversight-cert-01-case-{language}-{width}")
