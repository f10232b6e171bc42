"""The pages under the Content-Security-Policy in Chromium (no inline script, style or handler may run, so every
behaviour comes from static files): htmx filtering, the select-all box, the period and language pickers, Swagger
UI, the admin; the sign-in lockout page and the icon. The autouse csp_violations fixture fails on any refusal."""

import pytest
from django_celery_beat.models import CrontabSchedule
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD
from tests.factories import BorrowerFactory, loan_with_schedule, make_case, team_with, user_with_role

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def person(role, username, **fields):
    return user_with_role(role, username, password=PASSWORD, **fields)


def test_a_manager_s_pages_work_under_the_content_security_policy(page, live_server, login, csp_violations):
    manager = person("manager", "morgan")
    collector = person("collector", "casey")
    team = team_with(collector, name="US", manager=manager)
    for name, state in (("Ada Lovelace", "reminder"), ("Grace Hopper", "reminder"), ("Alan Turing", "legal_review"),
                        ("Edsger Dijkstra", "legal_review")):  # fmt: skip
        loan = loan_with_schedule(("2024-02-01", "100.00"), borrower=BorrowerFactory(full_name=name, region="NY"))
        make_case(state=state, loan=loan, team=team, assigned_to=collector)
    login("morgan")
    response = page.goto(f"{live_server.url}/cases/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "no-store" in response.headers["cache-control"]
    assert page.locator("[data-testid=queue] tbody tr").count() == 4

    # htmx: typing in the search box swaps the table in place and pushes the filter into the address.
    with page.expect_request(lambda r: "q=Grace" in r.url and r.headers.get("hx-request") == "true"):
        page.locator("input[name=q]").press_sequentially("Grace")
    expect(page.locator("[data-testid=queue] tbody tr")).to_have_count(1)
    assert "Grace Hopper" in page.locator("[data-testid=queue]").inner_text()
    page.wait_for_url("**/cases/?*q=Grace*")

    # The select-all box (was an inline onclick).
    page.goto(f"{live_server.url}/escalations/")
    page.check("[data-testid=legal-review] input[data-check-all=case]")
    boxes = page.locator("[data-testid=legal-review] input[name=case]")
    assert boxes.count() == 2 and all(boxes.nth(i).is_checked() for i in range(2))

    # The period picker (was an inline onchange) submits its form.
    page.goto(f"{live_server.url}/messages/")
    with page.expect_navigation():
        page.select_option("select[name=days]", "7")
    assert page.url.endswith("?days=7")

    # The language picker (was an inline onchange).
    with page.expect_navigation():
        page.select_option("select[name=language]", "zh-hans")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert not csp_violations


def test_swagger_ui_and_the_admin_work_under_the_content_security_policy(page, live_server, login):
    person("admin", "ada", is_staff=True, is_superuser=True)
    login("ada")
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() > 10
    page.goto(f"{live_server.url}/admin/")
    assert page.locator("#site-name").is_visible()
    CrontabSchedule.objects.create(minute="0", hour="6")
    page.goto(f"{live_server.url}/admin/django_celery_beat/periodictask/add/")
    page.locator("select#id_crontab").select_option(index=1)  # its script, moved to a file, says it in words
    expect(page.locator(".field-crontab .help")).to_contain_text("Translation: At 06:00")
    page.goto(f"{live_server.url}/admin/notifications/messagetemplate/")
    page.locator("#result_list tbody a").first.click()
    expect(page.locator(".message-preview")).to_have_css("white-space", "pre-wrap")


def test_repeated_wrong_passwords_lock_the_sign_in_with_a_clear_page(page, live_server):
    person("collector", "casey")
    page.goto(f"{live_server.url}/accounts/login/")
    for attempt in range(5):
        page.fill("input[name=username]", "casey")
        page.fill("input[name=password]", f"wrong-{attempt}")
        page.click("button[type=submit]")
    assert "Too many failed sign-ins" in page.locator("[data-testid=locked-out]").inner_text()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "casey")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    assert page.locator("[data-testid=locked-out]").is_visible()  # the right password is refused too, for now


def test_pages_show_the_icon(page, live_server):
    icons = []
    page.on("response", lambda r: "favicon" in r.url and icons.append((r.url, r.status)))
    page.goto(f"{live_server.url}/accounts/login/")
    href = page.locator("link[rel=icon][type='image/svg+xml']").get_attribute("href")
    assert page.request.get(f"{live_server.url}{href}").status == 200
    assert page.request.get(f"{live_server.url}/favicon.ico").status == 200  # through the redirect
