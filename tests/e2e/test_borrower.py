"""The borrower page in Chromium (issue 13, item 4): the collector who owns a borrower's three cases opens the
borrower page from a case, sees the three loans, records one promise covering two of them; another team's collector
gets a 404. Screenshots in test-artifacts/e2e/."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from collections_app.models import CaseTransition, CollectionCase, PromiseToPay
from collections_app.sweep import sweep_run
from tests.e2e.conftest import ARTIFACTS, PASSWORD
from tests.factories import BorrowerFactory, InstallmentFactory, LoanFactory, PhoneFactory, team_with, user_with_role
from tests.zones import zone_where_it_is

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_a_collector_sees_the_borrowers_three_loans_and_records_a_promise_covering_two(page, live_server, login, shot):
    mine = user_with_role("collector", "casey", password=PASSWORD)
    other = user_with_role("collector", "otto", password=PASSWORD)
    team_with(mine, name="Team A")
    team_with(other, name="Team B", language="zh-hans")
    today = timezone.now().date()
    borrower = BorrowerFactory(full_name="Maria Garcia", region="NY", time_zones=[zone_where_it_is(12)])
    PhoneFactory(borrower=borrower, sms_consent=True, autodial_consent=True)
    loans = []
    for reference, amount in (("L-1", "100.00"), ("L-2", "250.00"), ("L-3", "75.50")):
        loan = LoanFactory(borrower=borrower, external_id=reference)
        InstallmentFactory(loan=loan, number=1, due_date=today - dt.timedelta(days=20), principal_due=Decimal(amount))
        loans.append(loan)
    sweep_run(as_of=today)  # opens the three cases and gives them to one collector
    cases = {c.loan.external_id: c for c in CollectionCase.objects.filter(borrower=borrower).select_related("loan")}
    assert {c.assigned_to_id for c in cases.values()} == {mine.pk}

    login("casey")
    page.goto(f"{live_server.url}/cases/{cases['L-1'].pk}/")
    promise_form = page.locator("[data-testid=promise-form]")
    assert "Also covers loan L-2" in promise_form.inner_text() and "Also covers loan L-3" in promise_form.inner_text()
    promise_form.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "case-page-promise-covers.png"))
    page.locator("[data-testid=borrower-link]").click()
    page.wait_for_url(f"**/borrowers/{borrower.pk}/")
    rows = page.locator("[data-testid=borrower-loans] [data-testid=loan-row]")
    assert rows.count() == 3
    table = page.locator("[data-testid=borrower-loans]").inner_text()
    for text in ("L-1", "L-2", "L-3", "USD 100.00", "USD 250.00", "USD 75.50", "Reminder", "casey"):
        assert text.lower() in table.lower(), text
    assert "reminder" not in [w for w in table.split() if "_" in w]  # human labels, no identifiers
    assert page.locator("[data-testid=borrower-collectors]").inner_text() == "casey"

    form = page.locator("[data-testid=borrower-promise-form]")
    form.locator(f"input[name=cover_{cases['L-1'].pk}]").check()
    form.locator(f"input[name=amount_{cases['L-1'].pk}]").fill("100.00")
    form.locator(f"input[name=cover_{cases['L-2'].pk}]").check()
    form.locator(f"input[name=amount_{cases['L-2'].pk}]").fill("200.00")
    form.locator("input[name=promised_on]").fill((today + dt.timedelta(days=3)).isoformat())
    shot("borrower-page-promise-typed")
    form.get_by_role("button").click()
    page.wait_for_selector(".alert-success")
    assert "Promise recorded on 2 loan(s)" in page.locator(".alert-success").inner_text()
    shot("borrower-page")

    promises = {p.case.loan.external_id: p.amount for p in PromiseToPay.objects.select_related("case__loan")}
    assert promises == {"L-1": Decimal("100.00"), "L-2": Decimal("200.00")}
    states = dict(CollectionCase.objects.filter(borrower=borrower).values_list("loan__external_id", "state"))
    assert states == {"L-1": "promise_to_pay", "L-2": "promise_to_pay", "L-3": "reminder"}
    audit = CaseTransition.objects.filter(transition="take_promise", case__borrower=borrower)
    assert audit.count() == 2 and all("L-1" in a.reason and "L-2" in a.reason for a in audit)
    table = page.locator("[data-testid=borrower-loans]").inner_text()
    assert table.lower().count("promise to pay") == 2

    # On a phone the page does not scroll sideways (the loans table scrolls within its card).
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    shot("borrower-page-phone")
    page.set_viewport_size({"width": 1366, "height": 768})

    # Another team's collector: no such borrower.
    page.context.clear_cookies()
    login("otto")
    response = page.goto(f"{live_server.url}/borrowers/{borrower.pk}/")
    assert response is not None and response.status == 404
