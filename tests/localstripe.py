"""localstripe (PyPI: a fake but stateful Stripe server) on 127.0.0.1, started for the tests that pay through the
official ``stripe`` SDK: the SDK is pointed at it with ``STRIPE_API_BASE`` — no network, nothing of the SDK replaced.
localstripe keeps PaymentIntents, charges them with its test cards, and sends ``payment_intent.succeeded`` events,
signed as Stripe signs them, to the webhook URLs registered with it (``localstripe_webhook``). Shared by any test
(import the ``localstripe`` fixture, as conftest.py does)."""

import sys

import pytest
import requests
import stripe

from tests.servers import local_server

WEBHOOK_SECRET = "whsec_test_localstripe"
SECRET_KEY = "sk_test_collections"
PUBLISHABLE_KEY = "pk_test_collections"


@pytest.fixture(scope="session")
def localstripe_server(tmp_path_factory):
    """The server process for the session (``--from-scratch``: it never loads a store left by another run)."""
    folder = tmp_path_factory.mktemp("localstripe")
    command = lambda port: [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"]  # noqa: E731
    with local_server(command, folder=folder, name="localstripe", seconds=60) as url:
        yield url


@pytest.fixture
def localstripe(localstripe_server, settings):
    """Settings that send the app's Stripe calls to localstripe; yields an SDK client for the test's own calls
    (paying as the borrower's browser would, reading events)."""
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = localstripe_server
    # The card step's Stripe.js: localstripe serves a stand-in (its card field posts to localstripe with the key).
    settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    settings.STRIPE_JS_URL = f"{localstripe_server}/js.stripe.com/v3/"
    yield stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe_server}, max_network_retries=0)


def card_token(client: stripe.StripeClient, card: str = "4242424242424242") -> str:
    """What Stripe.js does in the borrower's browser on the card step (``stripe.createToken``): the card's id."""
    token = client.v1.tokens.create(
        params={"card": {"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}  # type: ignore[typeddict-unknown-key]
    )
    return token.card.id if token.card else ""


def localstripe_webhook(server_url: str, url: str, name: str = "collections") -> None:
    """Have localstripe deliver its events to ``url``, signed with the tests' webhook secret."""
    answer = requests.post(
        f"{server_url}/_config/webhooks/{name}",
        json={"url": url, "secret": WEBHOOK_SECRET, "events": ["payment_intent.succeeded"]},
        timeout=10,
    )
    answer.raise_for_status()


def pay_with_test_card(client: stripe.StripeClient, intent_id: str, card: str = "4242424242424242") -> str:
    """What the borrower's browser does with the client secret: a card attached to the intent, confirmed. Returns
    the intent's status (localstripe charges ``4242…`` successfully, ``4000000000000341`` is declined when charged)."""
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    )
    client.v1.payment_intents.update(intent_id, params={"payment_method": method.id})
    try:
        return client.v1.payment_intents.confirm(intent_id).status
    except stripe.CardError:
        return "declined"
