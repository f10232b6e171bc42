"""Issue 14's escalation review in Chromium: a manager filters the legal-review list, approves 3 cases with a reason
after a confirmation naming 3, and reads a plan's breaches; a collector learns that the plan waits for a manager and
why; a manager reads a dispute the borrower made on their own page and downloads its document (issue 15). No page of
the review scrolls sideways at 1,366 or 390 px. Screenshots land in test-artifacts/e2e/."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from collections_app.models import CaseTransition, CollectionCase, PaymentPlan
from collections_app.services.borrower_actions import BorrowerActor, borrower_dispute
from tests.e2e.conftest import PASSWORD
from tests.factories import (
    BorrowerFactory,
    ContactEventFactory,
    DecisionFactory,
    OutboundMessageFactory,
    PromiseFactory,
    loan_with_schedule,
    make_case,
    team_with,
    user_with_role,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

WIDTHS = (1366, 390)


def person(role, username, **fields):
    return user_with_role(role, username, password=PASSWORD, **fields)


def in_review(team, collector, name, dpd):
    borrower = BorrowerFactory(full_name=name, region="NY")
    loan = loan_with_schedule(("2024-02-01", "100.00"), borrower=borrower)
    return make_case(state="legal_review", loan=loan, team=team, assigned_to=collector, days_past_due=dpd)


def no_sideways_scroll(page, name, shot):
    """At each width the page is no wider than the window (document.documentElement.scrollWidth <= clientWidth),
    and no list wider than its card."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], f"{name} at {width} px: {widths}"
        # Nor does a list scroll sideways inside its card: rows wrap (and stack on a phone).
        inner = page.evaluate(
            "Array.from(document.querySelectorAll('.table-responsive')).map(e => [e.scrollWidth, e.clientWidth])"
        )
        assert all(scroll <= client for scroll, client in inner), f"{name} at {width} px, a table: {inner}"
        shot(f"{name}-{width}")
    page.set_viewport_size({"width": 1366, "height": 900})


def test_a_manager_filters_legal_review_and_approves_three_cases_with_a_reason_after_a_confirmation(
    page, live_server, login, shot
):
    manager, casey, jordan = person("manager", "morgan"), person("collector", "casey"), person("collector", "jordan")
    team = team_with(casey, jordan, name="US", manager=manager)
    chosen = [in_review(team, casey, f"Casey Borrower {n}", dpd) for n, dpd in enumerate((95, 110, 130), start=1)]
    young = in_review(team, casey, "Recent Request", 35)
    elsewhere = in_review(team, jordan, "Jordan Borrower", 120)
    OutboundMessageFactory(case=chosen[0], purpose="formal_notice", channel="letter", status="sent",
                           sent_at=dt.datetime(2024, 2, 7, 10, tzinfo=dt.UTC))  # fmt: skip
    PromiseFactory(case=chosen[1], status="broken", created_by=casey)

    login("morgan")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/escalations/")
    rows = page.locator("[data-testid=legal-row]")
    expect(rows).to_have_count(5)
    assert "5 cases waiting for legal review" in page.locator("[data-testid=list-count]").inner_text()
    assert "1 notice sent" in rows.filter(has_text="Casey Borrower 1").inner_text()
    assert "1 promise broken" in rows.filter(has_text="Casey Borrower 2").inner_text()
    shot("escalations-legal")

    # Filtering swaps the list in place (htmx) and keeps the filter in the address.
    with page.expect_request(lambda r: f"collector={casey.pk}" in r.url and r.headers.get("hx-request") == "true"):
        page.select_option("select[name=collector]", str(casey.pk))
    expect(rows).to_have_count(4)
    page.fill("input[name=dpd_min]", "90")
    page.locator("input[name=dpd_min]").press("Tab")
    expect(rows).to_have_count(3)
    page.wait_for_url("**/escalations/?*dpd_min=90*")
    assert "Recent Request" not in page.locator("[data-testid=legal-review]").inner_text()
    assert "Jordan Borrower" not in page.locator("[data-testid=legal-review]").inner_text()
    shot("escalations-legal-filtered")

    # No reason: refused beside the field, the boxes still checked; nothing written.
    page.check("[data-testid=legal-review] input[data-check-all=case]")
    page.locator("[data-testid=approve-legal]").click()
    expect(page.locator("[data-testid=reason-error]")).to_be_visible()
    assert page.locator("[data-testid=legal-review] input[name=case]:checked").count() == 3
    assert not CollectionCase.objects.filter(state="legal").exists()
    shot("escalations-legal-no-reason")

    # With a reason: a confirmation naming 3 and the cases, still nothing written; then confirmed.
    page.fill("[data-testid=legal-review] input[name=reason]", "90+ days past due, formal notice unanswered")
    page.locator("[data-testid=approve-legal]").click()
    expect(page.locator("[data-testid=confirm-question]")).to_have_text("Approve legal action for 3 cases?")
    assert page.locator("[data-testid=confirm-cases] li").count() == 3
    assert not CollectionCase.objects.filter(state="legal").exists()
    no_sideways_scroll(page, "escalations-confirm", shot)
    page.locator("[data-testid=confirm-yes]").click()
    assert "3 cases approved for legal action." in page.locator(".alert").first.inner_text()
    assert "dpd_min=90" in page.url  # back to the list as filtered
    expect(rows).to_have_count(0)
    shot("escalations-legal-after-approval")

    states = dict(CollectionCase.objects.values_list("pk", "state"))
    assert [states[c.pk] for c in chosen] == ["legal"] * 3
    assert states[young.pk] == states[elsewhere.pk] == "legal_review"
    audit = CaseTransition.objects.filter(transition="approve_legal")
    assert sorted(audit.values_list("case_id", "reason", "actor_label")) == sorted(
        (c.pk, "90+ days past due, formal notice unanswered", "morgan") for c in chosen
    )
    page.goto(f"{live_server.url}/escalations/")
    no_sideways_scroll(page, "escalations-legal", shot)


def test_a_collector_reads_that_a_plan_waits_and_why_and_the_manager_sees_its_breaches(page, live_server, login, shot):
    manager, casey = person("manager", "morgan"), person("collector", "casey")
    team = team_with(casey, name="US", manager=manager)
    borrower = BorrowerFactory(full_name="Plan Borrower", region="NY")
    loan = loan_with_schedule(("2024-02-01", "100.00"), ("2024-03-01", "100.00"), borrower=borrower)
    case = make_case(loan=loan, team=team, assigned_to=casey, balances_as_of=dt.date.today())

    login("casey")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    plan = page.locator(f"form[action='/cases/{case.pk}/actions/plan/']")
    plan.locator("input[name=down_payment]").fill("0")
    plan.locator("input[name=count]").fill("12")
    plan.locator("select[name=frequency]").select_option("weekly")
    plan.locator("input[name=starts_on]").fill((dt.date.today() + dt.timedelta(days=3)).isoformat())
    plan.get_by_role("button").click()
    told = page.locator(".alert").first.inner_text()
    assert "Plan sent to a manager for approval:" in told and "12 installments, policy at most 6" in told
    expect(page.locator("[data-testid=waiting-plan-breaches]")).to_contain_text("12 installments, policy at most 6")
    shot("collector-plan-waits")
    page.context.clear_cookies()  # signed out

    ContactEventFactory(borrower=borrower, is_exception=True, outcome="no_answer", actor=casey)
    DecisionFactory(borrower=borrower, loan=loan, outcome="deny",
                    reasons=[{"rule": "TCPA-01", "message": "No consent for automated calls or texts to this mobile.",
                              "message_zh": "没有自动呼叫或短信的同意记录。"}])  # fmt: skip

    login("morgan")
    page.goto(f"{live_server.url}/escalations/plans/")
    row = page.locator("[data-testid=plan-row]")
    expect(row).to_have_count(1)
    breaches = row.locator("[data-testid=breaches]").inner_text()
    assert "12 installments, policy at most 6" in breaches and "down payment below" in breaches
    shot("escalations-plans")
    no_sideways_scroll(page, "escalations-plans", shot)
    for tab, testid in (("exceptions", "exception-row"), ("denials", "denial-row")):
        page.goto(f"{live_server.url}/escalations/{tab}/")
        expect(page.locator(f"[data-testid={testid}]")).to_have_count(1)
        no_sideways_scroll(page, f"escalations-{tab}", shot)
    assert "No consent for automated calls" in page.locator("[data-testid=denial-row]").inner_text()

    # In Chinese, the same breaches in Chinese words.
    page.goto(f"{live_server.url}/escalations/plans/")
    with page.expect_navigation():
        page.select_option("select[name=language]", "zh-hans")
    expect(row.locator("[data-testid=breaches]")).to_contain_text("12 期，政策上限为 6 期")
    shot("escalations-plans-zh")
    with page.expect_navigation():
        page.select_option("select[name=language]", "en")

    # The reason is required before the browser even sends the form; then the plan starts.
    page.goto(f"{live_server.url}/escalations/plans/")
    row.get_by_role("button", name="Approve").click()
    assert PaymentPlan.objects.get(case=case).status == "pending_approval"
    row.locator("input[name=reason]").fill("long-standing customer, job found")
    row.get_by_role("button", name="Approve").click()
    assert "plan is approved and has started" in page.locator(".alert").first.inner_text()
    assert PaymentPlan.objects.get(case=case).status == "active"
    assert CaseTransition.objects.get(case=case, transition="start_plan").reason.endswith(
        "approved: long-standing customer, job found"
    )


def test_a_manager_reads_a_borrowers_dispute_and_downloads_its_document_in_both_languages(
    page, live_server, login, shot
):
    manager, casey = person("manager", "morgan"), person("collector", "casey")
    team = team_with(casey, name="US", manager=manager)
    case = in_review(team, casey, "Dana Disputes-A-Rather-Long-Name", 95)
    words = "I paid this in full at the branch on 2 February; the receipt is attached. " * 3
    borrower_dispute(case_id=case.pk, actor=BorrowerActor(link_id="Lk7Qx2", ip="203.0.113.9"), reason="paid",
                     details=words, document=SimpleUploadedFile("receipt.pdf", b"%PDF-1.4 receipt"))  # fmt: skip

    login("morgan")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/escalations/disputes/")
    row = page.locator("[data-testid=dispute-row]")
    expect(row).to_have_count(1)
    assert "I have already paid: I paid this in full" in row.inner_text()
    assert "recorded by the borrower (self-service)" in row.inner_text()
    with page.expect_download() as download:
        page.click("[data-testid=dispute-document]")
    assert download.value.suggested_filename.endswith(".pdf")
    no_sideways_scroll(page, "escalations-disputes", shot)
    page.goto(f"{live_server.url}/escalations/disputes/?lang=zh-hans")
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_server.url}])
    page.goto(f"{live_server.url}/escalations/disputes/")
    assert "由 借款人（自助） 记录" in page.locator("[data-testid=dispute-row]").inner_text()
    no_sideways_scroll(page, "escalations-disputes-zh", shot)


def test_a_managers_complaints_queue_flags_the_overdue_complaint_in_both_languages(page, live_server, login, shot):
    """Issue 17: complaints by due date; the one whose acknowledgement date has passed carries "Overdue" in words,
    the fresh one does not; a text that may be a complaint waits on top for a person to confirm."""
    from collections_app.services.complaints import complaint_record

    manager, casey = person("manager", "morgan"), person("collector", "casey")
    team = team_with(casey, name="US", manager=manager)
    case = make_case(loan=loan_with_schedule(("2024-02-01", "100.00"), borrower=BorrowerFactory(full_name="Late Answer",
                                                                                                    region="NY")),
                     team=team, assigned_to=casey)  # fmt: skip
    fresh = make_case(loan=loan_with_schedule(("2024-02-01", "100.00"), borrower=BorrowerFactory(full_name="New One",
                                                                                                     region="NY")),
                      team=team, assigned_to=casey)  # fmt: skip
    received = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    complaint_record(case_id=case.pk, actor=manager, channel="letter", category="conduct",
                     summary="The collector called my workplace.", received_at=received)  # fmt: skip
    complaint_record(case_id=fresh.pk, actor=manager, channel="staff", category="amount", summary="The fee is wrong.")

    login("morgan")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/escalations/complaints/")
    rows = page.locator("[data-testid=complaint-row]")
    expect(rows).to_have_count(2)
    assert "Late Answer" in rows.nth(0).inner_text() and "Overdue" in rows.nth(0).inner_text()
    assert "Overdue" not in rows.nth(1).inner_text()
    assert "Automated contact in review until acknowledged" in rows.nth(0).inner_text()
    no_sideways_scroll(page, "escalations-complaints", shot)

    with page.expect_navigation():
        page.select_option("select[name=language]", "zh-hans")
    rows = page.locator("[data-testid=complaint-row]")
    assert "已超期" in rows.nth(0).inner_text() and "已超期" not in rows.nth(1).inner_text()
    assert "Overdue" not in page.locator("[data-testid=complaints]").inner_text()
    no_sideways_scroll(page, "escalations-complaints-zh", shot)
    with page.expect_navigation():
        page.select_option("select[name=language]", "en")
