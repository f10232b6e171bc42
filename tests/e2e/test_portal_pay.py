"""Issue 15 in Chromium: a borrower opens the link of a reminder text the dispatch really sent, chooses to pay the
amount overdue, pays by card on the card step through the stand-in Stripe.js that localstripe serves (the phone run
with a card that asks for 3-D Secure: the browser confirms the PaymentIntent with its client secret), and
localstripe delivers its signed ``payment_intent.succeeded`` webhook to the live server: the case resolves, its
planned messages are cancelled, and the page shows the receipt. The same event replayed posts no second payment.
At 390 x 844 and 1,366 x 768, without sideways scrolling; screenshots in test-artifacts/e2e/ (portal-pay-*.png)."""

import datetime as dt
import json
import re
import time

import pytest
import requests
import stripe
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from collections_app.models import CaseState, CollectionCase
from loans.models import Payment, PaymentCheckout
from notifications.models import OutboundMessage, PortalEvent
from notifications.providers import LOCMEM
from notifications.services import outbox_claim, outbox_send
from tests.factories import OutboundMessageFactory
from tests.localstripe import WEBHOOK_SECRET, localstripe_webhook
from tests.notifications.conftest import due_message

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

SIZES = {"phone": ((390, 844), "4000002500003155"), "laptop": ((1366, 768), "4242424242424242")}


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def reminder_link(live_server, settings, name: str) -> tuple[str, CollectionCase, OutboundMessage]:
    """A reminder text sent by the dispatch (the locmem provider keeps what it sent): the link it carries, the case,
    and the case's next reminder, still planned."""
    settings.NOTIFICATIONS_BACKEND, settings.PROVIDER_CONCURRENCY = "locmem", 1
    settings.PORTAL_BASE_URL = live_server.url
    LOCMEM.sent.clear()
    message, _number = due_message(full_name=name)
    token, ids = outbox_claim()
    outbox_send(message_ids=ids, claim_token=token)
    message.refresh_from_db()
    assert message.status == "sent", message.status_reason
    body = LOCMEM.sent[-1]["body"]
    found = re.search(re.escape(live_server.url) + r"/p/[A-Za-z0-9_-]{28}\b", body)
    assert found, body
    later = OutboundMessageFactory(case=message.case, planned_for=timezone.now() + dt.timedelta(days=2))
    return found.group(0), message.case, later


def wait_for(condition, what: str, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.2)


def test_a_borrower_pays_a_reminders_link_by_card_and_the_case_resolves(
    page, live_server, shot, settings, localstripe, localstripe_server
):
    localstripe_webhook(localstripe_server, f"{live_server.url}{reverse('stripe-webhook')}")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    for size, ((width, height), card) in SIZES.items():
        link, case, later = reminder_link(live_server, settings, f"Maria Garcia {size}")
        page.set_viewport_size({"width": width, "height": height})
        asked.clear()
        page.goto(link)
        expect(page.get_by_test_id("greeting")).to_contain_text("Hello, M*** G***")
        overdue = page.get_by_test_id("amount-overdue").first.inner_text()
        expect(page.get_by_test_id("pay-form")).to_be_visible()
        assert page.get_by_label(re.compile("The amount overdue")).is_checked()
        page.get_by_test_id("transfer").locator("summary").click()
        expect(page.get_by_test_id("transfer-reference")).to_contain_text("RF")
        assert fits(page), f"the page scrolls sideways at {width} px"
        assert all(url.startswith(live_server.url) for url in asked), asked  # nothing from another site
        assert not any(url.endswith(".js") for url in asked)
        shot(f"portal-pay-page-{size}")

        # An amount under the policy's minimum comes back beside its field, as typed.
        page.get_by_label("An amount of your choice").check()
        page.get_by_test_id("pay-amount").fill("3")
        page.get_by_test_id("pay-button").click()
        expect(page.get_by_test_id("pay-amount-error")).to_have_text("The smallest payment is USD 10.00.")
        expect(page.get_by_test_id("pay-amount")).to_have_value("3")
        assert fits(page)
        shot(f"portal-pay-error-{size}")

        page.get_by_label(re.compile("The amount overdue")).check()
        page.get_by_test_id("pay-button").click()
        expect(page.get_by_test_id("card-step")).to_be_visible()
        expect(page.get_by_test_id("paid-amount")).to_have_text(overdue)
        # The card step alone loads Stripe.js (here localstripe's stand-in), from STRIPE_JS_URL.
        assert any(url == settings.STRIPE_JS_URL for url in asked), asked
        element = page.get_by_test_id("card-element")
        element.get_by_placeholder("number").fill(card)
        element.get_by_placeholder("exp_month").fill("12")
        element.get_by_placeholder("exp_year").fill("34")
        element.get_by_placeholder("cvc").fill("123")
        element.get_by_placeholder("postal_code").fill("10001")
        assert fits(page), f"the card step scrolls sideways at {width} px"
        shot(f"portal-pay-card-{size}")
        page.get_by_test_id("card-pay").click()
        if card == "4000002500003155":  # the bank asks: confirmed in the browser with the client secret
            expect(page.get_by_test_id("authenticate")).to_be_visible()
            shot(f"portal-pay-3ds-{size}")
            page.get_by_test_id("card-pay").click()
            page.get_by_role("button", name="Complete authentication").click()

        # localstripe delivers the signed webhook to the live server; the waiting page refreshes itself to the receipt.
        wait_for(lambda case=case: Payment.objects.filter(loan_id=case.loan_id).exists(), "the webhook")
        expect(page.get_by_test_id("receipt")).to_be_visible(timeout=20_000)
        expect(page.get_by_test_id("paid-amount")).to_have_text(overdue)
        expect(page.get_by_test_id("nothing-overdue")).to_be_visible()  # the case's new state
        assert fits(page), f"the receipt scrolls sideways at {width} px"
        shot(f"portal-pay-receipt-{size}")
        wait_for(lambda case=case: CollectionCase.objects.get(pk=case.pk).state == CaseState.RESOLVED, "resolved")
        later.refresh_from_db()
        assert later.status == "cancelled" and not OutboundMessage.objects.filter(case=case, status="planned").exists()
        kinds = list(PortalEvent.objects.filter(borrower_id=case.borrower_id).values_list("kind", flat=True))
        assert kinds.count("pay_started") == 1 and kinds.count("pay_completed") == 1

        # The same event replayed (freshly signed, as Stripe's retries are): acknowledged, no second payment.
        intent = PaymentCheckout.objects.get(loan_id=case.loan_id).provider_id
        event = next(
            e for e in localstripe.v1.events.list(params={"type": "payment_intent.succeeded"}).data
            if e.data.object.id == intent
        )  # fmt: skip
        payload = json.dumps(event.to_dict())
        header = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
        replay = requests.post(f"{live_server.url}{reverse('stripe-webhook')}", data=payload, timeout=10,
                               headers={"Stripe-Signature": header, "Content-Type": "application/json"})  # fmt: skip
        assert replay.status_code == 200
        assert Payment.objects.filter(loan_id=case.loan_id).count() == 1
        assert CollectionCase.objects.get(pk=case.pk).transitions.filter(transition="resolve").count() == 1
