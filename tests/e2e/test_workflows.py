"""The three workflows of issue 6 in Chromium: a collector's calls and promise, a manager's approval of a legal
escalation, an admin's grace period honoured by the next sweep. Screenshots land in test-artifacts/e2e/."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from collections_app.models import CollectionCase, CollectionPolicy
from collections_app.sweep import sweep_run
from compliance.models import ContactEvent
from tests.e2e.conftest import PASSWORD
from tests.factories import (
    BorrowerFactory,
    InstallmentFactory,
    LoanFactory,
    PhoneFactory,
    loan_with_schedule,
    make_case,
    team_with,
    user_with_role,
)
from tests.zones import zone_where_it_is

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def person(role, username, **fields):
    return user_with_role(role, username, password=PASSWORD, **fields)


def case_for(collector, *, zone, priority, name):
    borrower = BorrowerFactory(full_name=name, region="NY", time_zones=[zone])
    loan = loan_with_schedule(("2024-02-01", "100.00"), ("2024-03-01", "100.00"), borrower=borrower)
    case = make_case(loan=loan, assigned_to=collector, priority=priority)
    PhoneFactory(borrower=borrower, sms_consent=True, autodial_consent=True)
    return case


def test_a_collector_sees_a_blocked_call_then_logs_a_call_and_records_a_promise(page, live_server, login, shot):
    collector = person("collector", "casey")
    late = case_for(collector, zone=zone_where_it_is(23), priority=90, name="Late Evening")
    midday = case_for(collector, zone=zone_where_it_is(12), priority=50, name="Midday Borrower")
    login("casey")
    page.goto(f"{live_server.url}/cases/?view=all")
    shot("collector-queue")
    page.locator("[data-testid=queue] tbody tr").first.get_by_role("link").click()
    assert page.url.endswith(f"/cases/{late.pk}/")
    call = page.locator("[data-testid=contact-panel] [data-channel=call]")
    assert "Outside contact hours" in call.inner_text() and "Next allowed" in call.inner_text()
    # The call button agrees with the panel: disabled, with why and when (issue 13).
    expect(page.locator("[data-testid=call-start]").first).to_be_disabled()
    assert "Call not allowed now" in page.locator("[data-testid=call-denied]").inner_text()
    shot("collector-call-blocked")

    page.goto(f"{live_server.url}/cases/{midday.pk}/")
    page.locator("[data-testid=call-start]").first.click()
    form = page.locator("[data-testid=call-log]")  # no phone on casey's profile: dialled by hand
    form.locator("select[name=party]").select_option("right_party")
    form.locator("input[name=note]").fill("Will pay on Friday")
    form.locator("[data-testid=call-log-save]").click()  # the page is updated in place (htmx)
    expect(page.locator(".alert").first).to_contain_text("Call recorded")
    assert ContactEvent.objects.get(borrower=midday.borrower).outcome == "conversation"

    promise = page.locator("[data-testid=promise-form]")
    promise.locator("input[name=amount]").fill("100.00")
    promise.locator("input[name=promised_on]").fill((dt.date.today() + dt.timedelta(days=3)).isoformat())
    promise.get_by_role("button").click()
    assert "Promise recorded" in page.locator(".alert").first.inner_text()
    assert page.locator("[data-testid=case-state]").inner_text().lower() == "promise to pay"
    shot("collector-case-after-promise")


def test_a_manager_approves_a_legal_escalation_from_the_queue(page, live_server, login, shot):
    manager = person("manager", "morgan")
    collector = person("collector", "casey")
    case = make_case(state="legal_review", team=team_with(collector, name="US", manager=manager), assigned_to=collector)
    login("morgan")
    page.goto(f"{live_server.url}/escalations/")
    shot("manager-escalations")
    page.locator(f"[data-testid=legal-review] input[name=case][value='{case.pk}']").check()
    page.fill("[data-testid=legal-review] input[name=reason]", "three notices unanswered")
    page.locator("[data-testid=approve-legal]").click()
    assert page.locator("[data-testid=confirm-question]").inner_text() == "Approve legal action for 1 case?"
    page.locator("[data-testid=confirm-yes]").click()
    assert "1 case approved for legal action." in page.locator(".alert").first.inner_text()
    case.refresh_from_db()
    assert case.state == "legal"
    page.goto(f"{live_server.url}/performance/")
    assert page.locator("[data-testid^=kpi-]").count() == 10  # the KPIs of docs/kpis.md
    shot("manager-performance")


def test_an_admin_lengthens_the_grace_period_and_the_next_sweep_honours_it(page, live_server, login, shot):
    person("admin", "ada", is_staff=True, is_superuser=True)
    today = dt.date.today()
    loan = LoanFactory(borrower=BorrowerFactory(region="NY"))
    # Five days late; the default grace period is three days, so today's sweep would open a case.
    InstallmentFactory(loan=loan, number=1, due_date=today - dt.timedelta(days=5))
    policy = CollectionPolicy.objects.get(product__isnull=True, is_current=True)
    assert policy.grace_days < 5
    login("ada")
    page.goto(f"{live_server.url}/admin/collections_app/collectionpolicy/{policy.pk}/change/")
    page.fill("input[name=grace_days]", "10")
    shot("admin-policy")
    page.click("input[name=_save]")
    assert "version 2" in page.locator("ul.messagelist").inner_text()
    current = CollectionPolicy.objects.get(product__isnull=True, is_current=True)
    assert (current.version, current.grace_days) == (2, 10)
    sweep_run(as_of=today)
    assert not CollectionCase.objects.filter(loan=loan).exists()  # 5 days late, within the new 10-day grace
    assert get_user_model().objects.filter(username="ada").exists()
