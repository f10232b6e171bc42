"""Issue 13 in Chromium: a collector's call through the console backend — the gate, the simulated call and its
status callback in the ledger, the disposition "right party + promise" and the promise it opens, the recording on
the case page for the case's collector and its manager, and 404 for another collector. Screenshots land in
test-artifacts/e2e/."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from collections_app.models import CallDisposition, CollectionCase
from compliance.models import ContactEvent
from notifications.models import CallRecording
from tests.e2e.conftest import PASSWORD
from tests.factories import (
    BorrowerFactory,
    CollectorProfileFactory,
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


def test_a_console_call_is_settled_by_its_status_callback_disposed_of_and_its_recording_heard_by_the_right_people(
    page, live_server, login, shot, settings
):
    settings.NOTIFICATIONS_BACKEND = "console"  # make run's default: the call and its callbacks are simulated
    manager, collector, stranger = person("manager", "morgan"), person("collector", "casey"), person("collector", "jo")
    team = team_with(collector, name="US", manager=manager)
    team_with(stranger, name="West")
    CollectorProfileFactory(user=collector, phone="+12125550199")
    borrower = BorrowerFactory(full_name="Midday Borrower", region="NY", time_zones=[zone_where_it_is(12)])
    loan = loan_with_schedule(("2024-02-01", "100.00"), ("2024-03-01", "100.00"), borrower=borrower)
    case = make_case(loan=loan, team=team, assigned_to=collector)
    PhoneFactory(borrower=borrower, number="+16175550142")

    login("casey")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.locator("[data-testid=call-start]").first.click()
    assert "Calling your phone" in page.locator(".alert").first.inner_text()
    # The simulated status callback settled the gate's reservation into the real outcome.
    expect(page.locator("[data-testid=call-outcome]")).to_have_text("conversation")
    event = ContactEvent.objects.get(borrower=borrower)
    assert (event.outcome, event.target_role) == ("conversation", "debtor")
    shot("call-ended-awaiting-disposition")

    form = page.locator("[data-testid=call-log]")
    form.locator("select[name=party]").select_option("right_party")
    form.locator("select[name=result]").select_option("promise")
    form.locator("input[name=note]").fill("Pays on Friday")
    form.locator("input[name=promise_amount]").fill("")  # no promise beside the result: the promise form follows
    form.locator("input[name=promise_on]").fill("")
    form.locator("[data-testid=call-log-save]").click()  # the page is updated in place (htmx)
    expect(page.locator(".alert").first).to_contain_text("Now record the promise")
    disposition = CallDisposition.objects.get()
    assert (disposition.party, disposition.result, disposition.note) == ("right_party", "promise", "Pays on Friday")
    promise = page.locator("[data-testid=call-promise-form]")
    expect(promise.locator("input[name=amount]")).to_have_value(str(case.amount_overdue))  # filled in
    promise.locator("input[name=promised_on]").fill((dt.date.today() + dt.timedelta(days=3)).isoformat())
    promise.get_by_role("button").click()
    assert "Promise recorded" in page.locator(".alert").first.inner_text()
    assert CollectionCase.objects.get(pk=case.pk).state == "promise_to_pay"

    recording = CallRecording.objects.get()
    audio = page.locator("[data-testid=recording]")
    expect(audio).to_be_visible()
    src = audio.get_attribute("src")
    assert src == f"/cases/{case.pk}/recordings/{recording.pk}/"
    heard = page.request.get(live_server.url + src)
    assert heard.status == 200 and heard.headers["content-type"] == "audio/wav" and heard.body()[:4] == b"RIFF"
    calls = page.locator("[data-testid=calls]").inner_text()
    assert "right party (the borrower) + promise to pay" in calls
    shot("collector-call-recording")

    page.context.clear_cookies()
    login("morgan")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    expect(page.locator("[data-testid=recording]")).to_be_visible()
    assert page.request.get(live_server.url + src).status == 200
    page.locator("[data-testid=legal-hold-place]").click()
    expect(page.locator("[data-testid=legal-hold]")).to_be_visible()
    shot("manager-call-recording-legal-hold")

    page.context.clear_cookies()
    login("jo")
    assert page.request.get(live_server.url + src).status == 404
    assert page.goto(f"{live_server.url}/cases/{case.pk}/").status == 404
