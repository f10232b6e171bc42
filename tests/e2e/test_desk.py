"""Issue 13, the collector's desk, in Chromium: a right-party call with a promise from the queue in two clicks and one
page load; "next case" landing on the one case that can be worked now, and opening the next after a disposition;
no page that scrolls sideways at 1,366 and 390 px for any role; the keyboard shortcuts and their "?" list; the case
page's key facts and actions above the fold at 1,366 x 768. Screenshots land in test-artifacts/e2e/."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from collections_app.models import CallDisposition, CollectionCase, PromiseToPay
from tests.e2e.conftest import PASSWORD
from tests.factories import (
    BorrowerFactory,
    CollectorProfileFactory,
    DecisionFactory,
    HoldFactory,
    NoteFactory,
    OutboundMessageFactory,
    PhoneFactory,
    loan_with_schedule,
    make_case,
    team_with,
    user_with_role,
)
from tests.zones import zone_where_it_is

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

LONG_NAME = "Maximiliana Alexandrina Featherstonehaugh-Worthington-Montgomery de la Cruz y Villanueva"
LONG_REASON = (
    "The borrower wrote on 12 November disputing the amount of the third installment and asking for the original "
    "contract, the payment history and the name of the original creditor before any further contact about the debt"
)


def person(role, username, **fields):
    return user_with_role(role, username, password=PASSWORD, **fields)


def case_for(collector, *, name, zone=None, priority=50, state="reminder", team=None, **fields):
    borrower = BorrowerFactory(full_name=name, region="NY", time_zones=[zone or zone_where_it_is(12)])
    loan = loan_with_schedule(("2024-02-01", "100.00"), ("2024-03-01", "100.00"), borrower=borrower)
    case = make_case(loan=loan, assigned_to=collector, priority=priority, state=state, team=team, **fields)
    PhoneFactory(borrower=borrower, sms_consent=True, autodial_consent=False)
    return case


class Counter:
    """The clicks a test makes and the pages the browser loads: documents requested in the main frame, a redirect
    counted with the request it follows (a form's POST and the page it leads to are one page load); htmx swaps are
    not page loads."""

    def __init__(self, page):
        self.page, self.clicks, self.loads = page, 0, 0
        page.on("request", self._request)

    def _request(self, request):
        main = request.frame == self.page.main_frame
        if request.resource_type == "document" and main and not request.redirected_from:
            self.loads += 1

    def click(self, locator):
        self.clicks += 1
        locator.click()

    def reset(self):
        self.clicks = self.loads = 0


def test_from_the_queue_a_right_party_call_with_a_promise_takes_two_clicks_and_one_page_load(
    page, live_server, login, shot, settings
):
    settings.NOTIFICATIONS_BACKEND = "console"  # the call and its status callback are simulated
    collector = person("collector", "casey")
    CollectorProfileFactory(user=collector, phone="+12125550199")
    case = case_for(collector, name="Midday Borrower", priority=80)
    login("casey")
    page.goto(f"{live_server.url}/cases/")
    counter = Counter(page)
    row = page.locator("[data-testid=queue] tbody tr", has_text="Midday Borrower")
    counter.click(row.locator("[data-testid=queue-call]"))  # 1: call from the queue (the case page opens)
    card = page.locator("[data-testid=call-log]")
    expect(card).to_be_visible()
    expect(card.locator("input[name=promise_amount]")).to_have_value(str(case.amount_overdue))  # filled in
    card.locator("input[name=promise_amount]").fill("60.00")  # typing
    card.locator("input[name=note]").fill("Pays on payday")
    counter.click(card.locator("[data-testid=preset-promise]"))  # 2: right party, promise
    expect(page.locator(".alert").first).to_contain_text("Call and promise recorded")
    shot("desk-promise-from-the-queue")
    assert counter.clicks <= 3 and counter.loads == 1, (counter.clicks, counter.loads)
    disposition = CallDisposition.objects.get()
    assert (disposition.party, disposition.result, disposition.note) == ("right_party", "promise", "Pays on payday")
    promise = PromiseToPay.objects.get(case=case)
    assert str(promise.amount) == "60.00" and promise.promised_on > dt.date.today()
    assert CollectionCase.objects.get(pk=case.pk).state == "promise_to_pay"
    expect(page.locator("[data-testid=case-state]")).to_have_text("promise to pay")  # the page is up to date


def test_next_case_lands_on_the_case_that_can_be_worked_now_and_follows_a_disposition(page, live_server, login, shot):
    collector = person("collector", "casey")
    case_for(collector, name="Awaiting Manager", priority=99, state="legal_review")
    held = case_for(collector, name="On Hold", priority=98, state="on_hold", return_state="reminder")
    HoldFactory(case=held, reason="dispute")
    case_for(collector, name="Asleep Now", priority=97, zone=zone_where_it_is(2))  # 02:00 in the borrower's zone
    first = case_for(collector, name="Workable First", priority=40)
    second = case_for(collector, name="Workable Second", priority=20)
    login("casey")
    page.goto(f"{live_server.url}/cases/")
    expect(page.locator("[data-testid=queue]")).not_to_contain_text("Awaiting Manager")  # "can act now" view
    shot("desk-queue-can-act-now")
    page.locator("[data-testid=next-case]").first.click()
    expect(page).to_have_url(re.compile(f"/cases/{first.pk}/$"))
    page.locator("[data-testid=call-start]").first.click()  # no phone on the profile: dialled by hand
    card = page.locator("[data-testid=call-log]")
    card.locator("select[name=party]").select_option("no_answer")
    shot("desk-disposition")
    card.locator("[data-testid=call-log-next]").click()  # record, then the next case
    expect(page).to_have_url(re.compile(f"/cases/{second.pk}/$"))
    expect(page.locator(".alert").first).to_contain_text("Call recorded")
    assert CallDisposition.objects.get().party == "no_answer"
    shot("desk-next-case-after-disposition")


def realistic_book(collector, manager, team):
    """Long names, long reasons, many messages: what makes tables wide."""
    case = case_for(collector, name=LONG_NAME, priority=90, team=team, days_past_due=283)
    HoldFactory(case=case_for(collector, name=LONG_NAME + " II", state="on_hold", return_state="reminder", team=team),
                reason=LONG_REASON)  # fmt: skip
    case_for(collector, name=LONG_NAME + " III", state="legal_review", team=team, priority=70)
    for _ in range(30):
        decision = DecisionFactory(
            borrower=case.borrower,
            channel="sms",
            outcome="deny",
            reasons=[{"rule": "USF-01", "outcome": "deny", "message": LONG_REASON, "message_zh": LONG_REASON}],
        )
        OutboundMessageFactory(case=case, status="denied", decision=decision, status_reason=LONG_REASON,
                               provider_status="undelivered-undelivered-undeliv", error_code="30003")  # fmt: skip
    for _ in range(10):
        NoteFactory(case=case, author=collector, text=LONG_REASON + " " + "x" * 80)
    return case


def no_sideways_scroll(page, shot, name):
    """The page is as wide as the window (the screenshot names it)."""
    page.wait_for_load_state("networkidle")
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    shot(name)
    page.screenshot(path=f"test-artifacts/e2e/{name}-top.png")  # what the window shows first
    return widths[0] <= widths[1], widths


def test_no_page_scrolls_sideways_at_1366_or_390_px(page, live_server, login, shot):
    manager, collector = person("manager", "morgan"), person("collector", "casey")
    person("admin", "ada", is_staff=True, is_superuser=True)
    team = team_with(collector, name="US East collections team with a long name", manager=manager)
    case = realistic_book(collector, manager, team)
    pages = {
        "anonymous": ["/accounts/login/"],
        "casey": ["/", "/cases/", "/cases/?view=all", f"/cases/{case.pk}/"],
        "morgan": ["/", "/cases/", f"/cases/{case.pk}/", "/escalations/", "/performance/", "/messages/"],
        "ada": [
            "/",
            "/cases/",
            f"/cases/{case.pk}/",
            "/admin/",
            "/admin/collections_app/collectionpolicy/",
            "/admin/compliance/jurisdictionprofile/",
            "/admin/notifications/messagetemplate/",
        ],
    }
    wide = []
    for who, paths in pages.items():
        page.context.clear_cookies()
        if who != "anonymous":
            page.set_viewport_size({"width": 1366, "height": 768})
            login(who)
        for width in (1366, 390):
            page.set_viewport_size({"width": width, "height": 768 if width == 1366 else 844})
            for path in paths:
                assert page.goto(live_server.url + path).status == 200, path
                slug = re.sub(r"[^a-z0-9]+", "-", path).strip("-") or "home"
                fits, widths = no_sideways_scroll(page, shot, f"fit-{who}-{width}-{slug}")
                if not fits:
                    wide.append((who, width, path, widths))
    assert not wide, wide


def test_the_case_page_s_key_facts_and_actions_are_above_the_fold(page, live_server, login, shot):
    collector = person("collector", "casey")
    team = team_with(collector)
    case = realistic_book(collector, None, team)
    page.set_viewport_size({"width": 1366, "height": 768})
    login("casey")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    for testid in ("case-borrower", "case-overdue", "case-dpd", "case-state", "case-next-contact", "call-start"):
        box = page.locator(f"[data-testid={testid}]").first.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 768, (testid, box)
    page.screenshot(path="test-artifacts/e2e/desk-case-above-the-fold.png")  # the viewport only


def test_keyboard_shortcuts_skip_link_and_focus_order(page, live_server, login, shot):
    collector = person("collector", "casey")
    case = case_for(collector, name="Keyboard Borrower", priority=60)
    login("casey")
    page.goto(f"{live_server.url}/cases/")
    page.keyboard.press("Tab")  # the first stop is the skip link
    skip = page.locator("[data-testid=skip-link]")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    page.keyboard.press("?")
    overlay = page.locator("[data-testid=shortcuts]")
    expect(overlay).to_be_visible()
    shot("desk-shortcuts")
    page.keyboard.press("Escape")
    expect(overlay).to_be_hidden()
    page.keyboard.press("n")  # next case
    expect(page).to_have_url(re.compile(f"/cases/{case.pk}/$"))
    page.keyboard.press("o")
    expect(page.locator("#id_text")).to_be_focused()
    page.keyboard.type("typing n here is a note, not a shortcut")
    expect(page).to_have_url(re.compile(f"/cases/{case.pk}/$"))
    page.keyboard.press("Escape")  # leaves the field
    page.keyboard.press("p")
    expect(page.locator("[data-testid=promise-form] input[name=amount]")).to_be_focused()
    page.locator("[data-testid=promise-form] input[name=amount]").blur()
    page.keyboard.press("c")  # call: the disposition follows
    card = page.locator("[data-testid=call-log]")
    expect(card).to_be_visible()
    page.keyboard.press("d")
    expect(card.locator("input[name=promise_amount]")).to_be_focused()
    # Focus order follows the work: from the disposition's amount, Tab reaches the date (Chromium stops on its day,
    # month and year), then "right party - promise".
    page.keyboard.press("Tab")
    expect(card.locator("input[name=promise_on]")).to_be_focused()
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") != "promise_on":
            break
    expect(card.locator("[data-testid=preset-promise]")).to_be_focused()
    shot("desk-keyboard-disposition")
