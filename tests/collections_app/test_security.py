"""Sessions and abuse (issue 11): sign-in lockout, API throttles, the Content-Security-Policy, no-store on pages
with personal data, no open redirect, the API description behind a login, the upload limit's JSON 413, the icon."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.test import Client, RequestFactory
from django.urls import reverse

from core.security import client_ip
from loans.models import Loan
from tests.factories import ProductFactory, api_for, user_with_role

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-for-tests-123"  # tests.factories.user_with_role's


def sign_in(client: Client, username: str, password: str, address: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# ---------------------------------------------------------------------------------------------------------------
# Sign-in lockout (django-axes)
# ---------------------------------------------------------------------------------------------------------------
def test_thirty_wrong_passwords_then_the_right_one_do_not_sign_in():
    user_with_role("collector", "casey")
    client = Client()
    statuses = [sign_in(client, "casey", f"guess-{n}").status_code for n in range(30)]
    assert statuses == [200] * 4 + [429] * 26  # the fifth failure locks
    right = sign_in(client, "casey", PASSWORD)
    assert right.status_code == 429 and not signed_in(client)
    page = right.content.decode()
    assert "Too many failed sign-ins" in page and "15 minutes" in page


def test_the_lockout_is_per_username_and_address():
    user_with_role("collector", "casey")
    user_with_role("collector", "cole")
    for _ in range(5):
        sign_in(Client(), "casey", "wrong")
    assert sign_in(Client(), "casey", PASSWORD).status_code == 429
    other_user = Client()
    assert sign_in(other_user, "cole", PASSWORD).status_code == 302 and signed_in(other_user)
    other_address = Client()
    assert sign_in(other_address, "casey", PASSWORD, address="10.1.2.3").status_code == 302
    assert signed_in(other_address)


def test_the_lockout_ends_after_the_cool_off_and_a_success_clears_the_count():
    user_with_role("collector", "casey")
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        for _ in range(5):
            sign_in(Client(), "casey", "wrong")
        clock.shift(dt.timedelta(minutes=14))
        assert sign_in(Client(), "casey", PASSWORD).status_code == 429  # refused, and it does not extend the lock
        clock.shift(dt.timedelta(minutes=2))  # the fifth failure was at 9:00; the cool-off is 15 minutes
        client = Client()
        assert sign_in(client, "casey", PASSWORD).status_code == 302 and signed_in(client)
        # The success cleared the failures: four more wrong passwords do not lock yet.
        assert [sign_in(Client(), "casey", "wrong").status_code for _ in range(4)] == [200] * 4


def test_the_limits_come_from_settings(settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=30)
    user_with_role("collector", "casey")
    assert [sign_in(Client(), "casey", "wrong").status_code for _ in range(2)] == [200, 429]
    assert "30 minutes" in sign_in(Client(), "casey", PASSWORD).content.decode()


def test_the_client_address_comes_from_x_forwarded_for_only_behind_the_configured_proxies(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    settings.PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.1"  # no proxy: the header is the client's own word
    settings.PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.9"  # what our proxy saw; "6.6.6.6" was sent by the client


# ---------------------------------------------------------------------------------------------------------------
# API throttles
# ---------------------------------------------------------------------------------------------------------------
def rates(settings, **rates: str) -> None:  # type: ignore[no-untyped-def]
    defaults = {"user": "1000/minute", "bulk": "1000/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**defaults, **rates}}


def test_the_api_answers_429_past_a_tokens_rate_and_other_tokens_go_on(settings):
    rates(settings, user="3/minute")
    mia, max_ = api_for(user_with_role("manager", "mia")), api_for(user_with_role("manager", "max"))
    answers = [mia.get(reverse("api-case-list")) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1]["Retry-After"]) > 0 and "throttled" in answers[-1].json()["detail"]
    assert max_.get(reverse("api-case-list")).status_code == 200


def test_bulk_intake_has_its_own_budget(settings):
    rates(settings, bulk="2/hour")
    ada = api_for(user_with_role("admin", "ada"))
    assert [ada.post(reverse("api-payments-bulk"), [], format="json").status_code for _ in range(3)] == [400, 400, 429]
    assert ada.get(reverse("api-case-list")).status_code == 200  # the rest of the API is still open to her


def test_the_default_rates_are_the_documented_ones():
    assert django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == {
        "user": "1200/minute",
        "bulk": "120/hour",
    }


# ---------------------------------------------------------------------------------------------------------------
# Content-Security-Policy, no-store
# ---------------------------------------------------------------------------------------------------------------
def test_every_page_carries_a_content_security_policy_without_inline_script():
    policy = Client().get(reverse("login"))["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["default-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style|\sstyle\s*=", re.IGNORECASE)


@pytest.mark.parametrize("template", sorted((ROOT / "templates").rglob("*.html")), ids=lambda p: p.name)
def test_no_template_has_inline_script_event_handlers_or_styles(template):
    text = template.read_text()
    assert not INLINE_SCRIPT.search(text), "a <script> without src: move it to static/js/"
    assert not INLINE_HANDLER.search(text), "an inline event handler: use a data attribute and static/js/app.js"
    assert not INLINE_STYLE.search(text), "an inline style: the CSP refuses it; use static/css/app.css"


def test_pages_of_a_signed_in_user_and_api_answers_are_not_stored():
    client = Client()
    client.force_login(user_with_role("manager", "mia"))
    for url in (reverse("case-queue"), reverse("home"), reverse("performance") + "?format=csv"):
        assert "no-store" in client.get(url)["Cache-Control"], url
    assert "no-store" in api_for(user_with_role("admin", "ada")).get(reverse("api-case-list"))["Cache-Control"]
    assert "no-store" in Client().get(reverse("api-case-list"))["Cache-Control"]  # a 401 too


# ---------------------------------------------------------------------------------------------------------------
# The open redirect through "next" on reassign
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("next_url", "location"),
    [
        ("https://evil.example/phish", "/cases/"),
        ("//evil.example/phish", "/cases/"),
        ("https:///evil.example", "/cases/"),
        ("javascript:alert(1)", "/cases/"),
        ("/cases/?stage=reminder", "/cases/?stage=reminder"),
        ("", "/cases/"),
    ],
)
def test_reassign_goes_back_only_to_a_page_of_this_site(next_url, location):
    client = Client()
    client.force_login(user_with_role("manager", "mia"))
    response = client.post(reverse("cases-reassign"), {"to_user": "", "next": next_url})
    assert response.status_code == 302 and response["Location"] == location


# ---------------------------------------------------------------------------------------------------------------
# The API description and Swagger UI need a login
# ---------------------------------------------------------------------------------------------------------------
def test_the_api_description_and_swagger_ui_need_a_login():
    assert Client().get(reverse("api-schema")).status_code == 401
    docs = Client().get(reverse("api-docs"))
    assert docs.status_code == 302 and docs["Location"].startswith(reverse("login"))
    assert Client().get(reverse("api-docs") + "?script=").status_code == 302
    assert api_for(user_with_role("admin", "ada")).get(reverse("api-schema")).status_code == 200
    client = Client()
    client.force_login(user_with_role("manager", "mia"))
    page = client.get(reverse("api-docs"))
    assert page.status_code == 200 and not INLINE_SCRIPT.search(page.content.decode())
    script = client.get(reverse("api-docs") + "?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


# ---------------------------------------------------------------------------------------------------------------
# Upload limits: a JSON 413 that says the limit; 10,000 loans in the README's shape fit the bulk limit
# ---------------------------------------------------------------------------------------------------------------
def readme_row(n: int) -> dict:
    """A row shaped like the README's JSON-lines example."""
    return {
        "borrower": {"external_id": f"CN-B{n}", "full_name": "王芳", "language": "zh-hans",
                     "national_id": "41120219900101123X",
                     "address": {"line1": "崤山路1号", "city": "三门峡市湖滨区", "region": "河南省",
                                 "postal_code": "472000", "country": "CN"},
                     "phones": [{"number": f"+86138{n:08d}", "kind": "mobile", "sms_consent": True,
                                 "autodial_consent": False}],
                     "emails": [{"address": f"wang{n}@example.com", "kind": "personal"}], "timezone": ""},
        "loan": {"external_id": f"SMX-{n}", "product": "smx-quickcash", "principal": "3000.00", "currency": "CNY",
                 "disbursed_on": "2026-01-01", "annual_rate": "18", "term_months": 6, "first_due_date": "2026-02-01"},
    }  # fmt: skip


def test_a_bulk_body_over_the_limit_gets_a_json_413_naming_the_limit():
    ada = api_for(user_with_role("admin", "ada"))
    body = b"[" + b" " * django_settings.BULK_UPLOAD_MAX_BYTES + b"]"
    response = ada.post(reverse("api-loans-bulk"), body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is larger than the limit of 16,777,216 bytes (16.0 MiB).",
        "limit_bytes": 16_777_216,
    }


def test_other_api_bodies_over_django_s_limit_get_the_same_json_413():
    ada = api_for(user_with_role("admin", "ada"))
    body = json.dumps({"reference": "x" * django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    response = ada.post(reverse("api-payments"), body, content_type="application/json")
    assert response.status_code == 413 and response.json()["limit_bytes"] == 2_621_440
    assert "2,621,440 bytes" in response.json()["detail"]


def test_the_bulk_limit_comes_from_settings(settings):
    settings.BULK_UPLOAD_MAX_BYTES = 1000
    ada = api_for(user_with_role("admin", "ada"))
    body = json.dumps([{"loan": "L1", "amount": "1.00", "reference": "x" * 50}] * 20)
    response = ada.post(reverse("api-payments-bulk"), body, content_type="application/json")
    assert response.status_code == 413 and "1,000 bytes" in response.json()["detail"]


@pytest.mark.slow
def test_the_documented_10000_row_loan_import_fits_the_bulk_limit():
    ProductFactory(code="smx-quickcash", currency="CNY", timezone="Asia/Shanghai")
    body = json.dumps([readme_row(n) for n in range(10_000)])  # Python's default: Chinese as \\uXXXX escapes
    assert 6.5 * 2**20 < len(body) < django_settings.BULK_UPLOAD_MAX_BYTES / 2  # 6.8 MiB
    started = time.monotonic()
    response = api_for(user_with_role("admin", "ada")).post(
        reverse("api-loans-bulk"), body, content_type="application/json"
    )
    assert response.status_code == 201, response.content[:2000]
    assert response.json()["rows"] == 10_000 and Loan.objects.count() == 10_000
    assert time.monotonic() - started < 300


# ---------------------------------------------------------------------------------------------------------------
# The icon
# ---------------------------------------------------------------------------------------------------------------
def test_pages_name_an_icon_and_favicon_ico_is_served():
    page = Client().get(reverse("login")).content.decode()
    assert 'rel="icon" href="/static/favicon.svg"' in page
    response = Client().get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == "/static/favicon.ico"
    assert (ROOT / "static" / "favicon.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"  # an ICO file
