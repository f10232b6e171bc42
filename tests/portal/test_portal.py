"""The borrower's page (issue 15, first part): links safe to text (signed, expiring, revocable, nothing personal in
them), the identity check with its lock, the rate limits, the page in both languages in a fixed number of queries,
every visit audited as the borrower's, and a reminder sent by the dispatch that carries a link that opens it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from collections_app.models import CollectionCase
from loans.models import LoanProduct
from notifications.models import PortalEvent, PortalLink
from notifications.services import (
    outbox_claim,
    outbox_send,
    portal_link_issue,
    portal_link_revoke,
    portal_links_revoke_for,
)
from notifications.services.portal_links import TOKEN_CHARS, portal_token_make, portal_token_read
from tests.factories import (
    BorrowerFactory,
    ProductFactory,
    loan_with_schedule,
    make_case,
    team_with,
    user_with_role,
)
from tests.notifications.conftest import due_message

pytestmark = pytest.mark.django_db

NAME = "Maria Garcia"


def borrower_with_debt(*, language="en", name=NAME, product=None, loans=1, **fields):
    """A borrower with ``loans`` loans, each 100.00 overdue since 2024-02-01 and 150.00 due on 2099-03-01, each in
    the reminder stage."""
    borrower = BorrowerFactory(full_name=name, language=language, **fields)
    cases = []
    for _ in range(loans):
        loan = loan_with_schedule(("2024-02-01", "100.00"), ("2099-03-01", "150.00"), borrower=borrower,
                                  **({"product": product} if product else {}))  # fmt: skip
        cases.append(make_case(loan=loan))
    return borrower, cases


def page_url(token, **query):
    url = reverse("portal-page", args=[token])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def open_page(token, client=None, **query):
    return (client or Client()).get(page_url(token, **query))


def text(response) -> str:
    return response.content.decode()


def assert_nothing_personal(response, borrower, *, lender_shown=True):
    """Neither the borrower's name nor any amount; nor, on a page for a link that does not open, whose it is."""
    body = text(response)
    secrets = [borrower.full_name, borrower.full_name.split()[0], "USD", "100.00", "200.00"]
    for secret in [*secrets, *([] if lender_shown else ["Test Lender"])]:
        assert secret not in body, f"{secret!r} shown"


# ---------------------------------------------------------------------------------------------------------------
# Links
# ---------------------------------------------------------------------------------------------------------------
def test_a_token_is_short_carries_nothing_personal_and_reads_back_to_its_link():
    borrower, _ = borrower_with_debt()
    token = portal_link_issue(borrower_id=borrower.pk)
    link = PortalLink.objects.get(borrower=borrower)
    assert len(token) == TOKEN_CHARS == 28 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert portal_token_read(token) == link.public_id and token.startswith(link.public_id)
    for personal in (borrower.external_id, NAME.split()[0]):
        assert personal not in token
    assert link.expires_at - link.issued_at == dt.timedelta(days=30)


def test_the_links_lifetime_comes_from_the_settings(settings):
    settings.PORTAL_LINK_DAYS = 7
    borrower, _ = borrower_with_debt()
    portal_link_issue(borrower_id=borrower.pk)
    link = PortalLink.objects.get(borrower=borrower)
    assert link.expires_at - link.issued_at == dt.timedelta(days=7)


def test_a_token_signed_with_a_retired_key_still_reads_and_one_with_another_salt_does_not(settings):
    token = portal_token_make("abcdefghijkl")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-key-" * 6, [settings.SECRET_KEY]
    assert portal_token_read(token) == "abcdefghijkl"
    settings.SECRET_KEY_FALLBACKS = []
    assert portal_token_read(token) is None


@pytest.mark.parametrize("how", ["tampered", "expired", "revoked", "revoked_for_borrower", "unknown", "truncated"])
def test_a_link_that_does_not_open_gets_the_same_neutral_403_with_the_help_number_and_no_data(how, settings):
    settings.LENDER_HELP_PHONE = "+1 800 555 0142"
    borrower, _ = borrower_with_debt()
    token = portal_link_issue(borrower_id=borrower.pk)
    link = PortalLink.objects.get(borrower=borrower)
    if how == "tampered":
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    elif how == "expired":
        PortalLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    elif how == "revoked":
        assert portal_link_revoke(link_id=link.pk) and not portal_link_revoke(link_id=link.pk)
    elif how == "revoked_for_borrower":
        assert portal_links_revoke_for(borrower_id=borrower.pk) == 1
    elif how == "unknown":
        token = portal_token_make("zzzzzzzzzzzz")  # signed by us, but no such link
    else:
        token = token[:20]
    response = open_page(token)
    assert response.status_code == 403
    assert "This link does not open" in text(response) and "+1 800 555 0142" in text(response)
    assert_nothing_personal(response, borrower, lender_shown=False)
    assert "no-store" in response["Cache-Control"] and not PortalEvent.objects.exists()


def test_a_forged_token_is_refused_without_asking_the_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert open_page("A" * TOKEN_CHARS).status_code == 403


def test_a_link_expires_after_its_lifetime():
    borrower, _ = borrower_with_debt()
    token = portal_link_issue(borrower_id=borrower.pk)
    with time_machine.travel(timezone.now() + dt.timedelta(days=29, hours=23)):
        assert open_page(token).status_code == 200
    with time_machine.travel(timezone.now() + dt.timedelta(days=30, minutes=1)):
        assert open_page(token).status_code == 403


# ---------------------------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------------------------
def test_the_page_shows_the_lender_masked_name_each_overdue_loan_its_next_installment_and_what_happens_next():
    borrower, (case,) = borrower_with_debt()
    CollectionCase.objects.filter(pk=case.pk).update(state="formal_notice")
    response = open_page(portal_link_issue(borrower_id=borrower.pk))
    body = text(response)
    assert response.status_code == 200 and 'lang="en"' in body
    assert "Test Lender" in body and "Hello, M*** G***" in body and NAME not in body
    assert f"Loan {case.loan.external_id}" in body
    assert "USD 100.00" in body and "USD 250.00" in body  # overdue now; still to repay in total
    assert "Next installment: USD 150.00 due on March 1, 2099." in body
    assert "We have sent you a formal notice." in body  # the stage in plain words, never its code
    assert "formal_notice" not in body
    assert "no-store" in response["Cache-Control"] and response["X-Robots-Tag"] == "noindex, nofollow"
    assert "<script" not in body and "http" not in re.sub(r'(href|src)="/', "", body).replace("http-equiv", "")


def test_the_page_is_in_the_borrowers_language_and_switches_to_the_other():
    borrower, _ = borrower_with_debt(language="zh-hans", name="王芳")
    token = portal_link_issue(borrower_id=borrower.pk)
    chinese = text(open_page(token))
    assert 'lang="zh-hans"' in chinese and "您好，王*" in chinese and "王芳" not in chinese
    assert "逾期金额" in chinese and "接下来会怎样" in chinese and "USD 100.00" in chinese
    assert "2099年3月1日" in chinese and "我们会继续提醒您" in chinese
    assert 'href="?lang=en"' in chinese
    english = text(open_page(token, lang="en"))
    assert 'lang="en"' in english and "Overdue now" in english and "逾期金额" not in english
    assert 'href="?lang=zh-hans"' in english
    assert text(open_page(token, lang="fr")).count('lang="zh-hans"') >= 1  # an unknown language: theirs


def test_a_borrower_with_nothing_overdue_is_told_so():
    borrower = BorrowerFactory(full_name=NAME)
    loan_with_schedule(("2099-02-01", "100.00"), borrower=borrower)
    body = text(open_page(portal_link_issue(borrower_id=borrower.pk)))
    assert "Nothing is overdue" in body and 'data-testid="loan"' not in body


def test_the_places_for_the_next_actions_are_there_and_hidden_until_they_exist():
    borrower, _ = borrower_with_debt()
    body = text(open_page(portal_link_issue(borrower_id=borrower.pk)))
    assert 'data-testid="actions"' in body
    # Paying (portal/views.py) and the other actions (portal/actions.py).
    for action in ("pay", "promise", "plan", "dispute", "preferences", "callback"):
        assert f'data-action="{action}"' in body
    assert "call us on" in body


def test_the_page_costs_the_same_queries_however_many_loans():
    def queries_for(loans):
        borrower, _ = borrower_with_debt(loans=loans)
        token = portal_link_issue(borrower_id=borrower.pk)
        with CaptureQueriesContext(connection) as ctx:
            assert open_page(token).status_code == 200
        return len(ctx)

    one, four = queries_for(1), queries_for(4)
    assert one == four
    assert one <= 6  # the link, loans, cases, installments, the visit's INSERT (and a savepoint at most)


def test_every_visit_is_audited_as_the_borrowers_and_shows_on_the_case_timeline():
    collector = user_with_role("collector", "c1")
    team_with(collector)
    borrower, (case,) = borrower_with_debt()
    CollectionCase.objects.filter(pk=case.pk).update(assigned_to=collector)
    token = portal_link_issue(borrower_id=borrower.pk)
    open_page(token, client=Client(REMOTE_ADDR="203.0.113.7"))
    open_page(token, client=Client(REMOTE_ADDR="203.0.113.8"), lang="zh-hans")
    link = PortalLink.objects.get(borrower=borrower)
    events = list(PortalEvent.objects.order_by("at", "id").values_list("kind", "ip", "link_id", "borrower_id"))
    assert events == [("visit", "203.0.113.7", link.pk, borrower.pk), ("visit", "203.0.113.8", link.pk, borrower.pk)]
    staff = Client()
    staff.force_login(collector)
    page = text(staff.get(reverse("case-detail", args=[case.pk])))
    assert "borrower page" in page and "opened their page" in page
    assert f"link {link.public_id}, from 203.0.113.8" in page and "the borrower" in page


# ---------------------------------------------------------------------------------------------------------------
# The identity check
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture
def id_product():
    return ProductFactory(code="us-checked", portal_factor="national_id_last4")


def answer(client, token, value, **extra):
    return client.post(reverse("portal-check", args=[token]), {"answer": value, **extra})


def test_a_product_that_asks_for_the_id_shows_nothing_before_the_right_answer(id_product):
    borrower, _ = borrower_with_debt(product=id_product, national_id_masked="*****123X")
    token = portal_link_issue(borrower_id=borrower.pk)
    client = Client()
    before = open_page(token, client=client)
    assert before.status_code == 200 and "The last 4 characters of your ID number" in text(before)
    assert_nothing_personal(before, borrower)
    wrong = answer(client, token, "9999")
    assert wrong.status_code == 200 and "You have 4 more tries." in text(wrong) and 'value="9999"' in text(wrong)
    assert_nothing_personal(wrong, borrower)
    right = answer(client, token, " 123x ")
    assert right.status_code == 303 and right["Location"] == page_url(token, lang="en")
    after = open_page(token, client=client)
    assert "USD 100.00" in text(after) and "Hello, M*** G***" in text(after)
    assert list(PortalEvent.objects.order_by("id").values_list("kind", flat=True)) == [
        "visit", "check_failed", "check_passed", "visit",
    ]  # fmt: skip
    assert "The last 4 characters" in text(open_page(token))  # another browser: asked again


def test_the_birth_date_check(id_product):
    LoanProduct.objects.filter(pk=id_product.pk).update(portal_factor="birth_date")
    borrower, _ = borrower_with_debt(product=id_product, birth_date=dt.date(1990, 4, 21))
    token = portal_link_issue(borrower_id=borrower.pk)
    client = Client()
    assert "Your date of birth" in text(open_page(token, client=client))
    assert answer(client, token, "1990-04-22").status_code == 200
    assert answer(client, token, "1990-04-21").status_code == 303
    assert "USD 100.00" in text(open_page(token, client=client))


def test_a_check_with_nothing_on_record_to_check_against_shows_nothing_and_gives_the_number(id_product):
    borrower, _ = borrower_with_debt(product=id_product, national_id_masked="")
    response = open_page(portal_link_issue(borrower_id=borrower.pk))
    assert "Please call us" in text(response)
    assert_nothing_personal(response, borrower)


def test_five_wrong_answers_lock_the_link_for_30_minutes_even_against_the_right_one(id_product):
    borrower, _ = borrower_with_debt(product=id_product, national_id_masked="*****1234")
    token = portal_link_issue(borrower_id=borrower.pk)
    client = Client()
    for left in (4, 3, 2, 1):
        assert f"You have {left} more tr" in text(answer(client, token, "0000"))
    locked = answer(client, token, "0000")
    assert locked.status_code == 429 and "please try again in 30 minutes" in text(locked)
    assert_nothing_personal(locked, borrower)
    assert answer(client, token, "1234").status_code == 429  # the right answer, refused unchecked
    assert open_page(token, client=client).status_code == 429
    link = PortalLink.objects.get(borrower=borrower)
    assert link.locked_until is not None
    assert PortalEvent.objects.filter(kind="check_failed").count() == 5
    assert PortalEvent.objects.filter(kind="locked").count() == 1
    with time_machine.travel(link.locked_until - dt.timedelta(seconds=30)):
        assert "1 minute" in text(open_page(token, client=Client()))
    with time_machine.travel(link.locked_until + dt.timedelta(seconds=1)):
        unlocked = Client()
        assert answer(unlocked, token, "1234").status_code == 303
        assert "USD 100.00" in text(open_page(token, client=unlocked))


def test_a_right_answer_clears_the_count_of_wrong_ones(id_product):
    borrower, _ = borrower_with_debt(product=id_product, national_id_masked="*****1234")
    token = portal_link_issue(borrower_id=borrower.pk)
    client = Client()
    for _ in range(4):
        answer(client, token, "0000")
    assert answer(client, token, "1234").status_code == 303
    assert "You have 4 more tries." in text(answer(Client(), token, "0000"))


def test_the_check_cookie_is_for_one_link_only(id_product):
    borrower, _ = borrower_with_debt(product=id_product, national_id_masked="*****1234")
    first, second = portal_link_issue(borrower_id=borrower.pk), portal_link_issue(borrower_id=borrower.pk)
    client = Client()
    assert answer(client, first, "1234").status_code == 303
    assert "USD 100.00" in text(open_page(first, client=client))
    assert "The last 4 characters" in text(open_page(second, client=client))


# ---------------------------------------------------------------------------------------------------------------
# Rate limits
# ---------------------------------------------------------------------------------------------------------------
REDIS_CACHE = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}


@pytest.fixture(params=["locmem", "redis"])
def cache_backend(request, settings):
    if request.param == "redis":
        url = settings.CELERY_BROKER_URL if settings.CELERY_BROKER_URL.startswith("redis://") else ""
        if not url:
            pytest.skip("needs Redis (CELERY_BROKER_URL=redis://…)")
        settings.CACHES = {"default": {**REDIS_CACHE["default"], "LOCATION": url, "KEY_PREFIX": "portal-test"}}
    from django.core.cache import cache

    cache.clear()
    yield request.param
    cache.clear()


def test_requests_per_address_are_limited(settings, cache_backend):
    settings.PORTAL_RATE_PER_ADDRESS = 3
    borrower, _ = borrower_with_debt()
    tokens = [portal_link_issue(borrower_id=borrower.pk) for _ in range(2)]
    client = Client(REMOTE_ADDR="198.51.100.1")
    assert [open_page(t, client=client).status_code for t in [*tokens, "A" * TOKEN_CHARS]] == [200, 200, 403]
    busy = open_page(tokens[0], client=client)
    assert busy.status_code == 429 and busy["Retry-After"] == "60"
    assert_nothing_personal(busy, borrower, lender_shown=False)
    assert open_page(tokens[0], client=Client(REMOTE_ADDR="198.51.100.2")).status_code == 200  # another address
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61)):
        assert open_page(tokens[0], client=client).status_code == 200  # the next minute


def test_requests_per_link_are_limited_from_any_address(settings, cache_backend):
    settings.PORTAL_RATE_PER_LINK = 2
    borrower, _ = borrower_with_debt()
    token, other = portal_link_issue(borrower_id=borrower.pk), portal_link_issue(borrower_id=borrower.pk)
    answers = [open_page(token, client=Client(REMOTE_ADDR=f"198.51.100.{n}")).status_code for n in range(1, 4)]
    assert answers == [200, 200, 429]
    assert open_page(other).status_code == 200
    assert answer(Client(REMOTE_ADDR="198.51.100.9"), token, "1234").status_code == 429  # the check counts too


# ---------------------------------------------------------------------------------------------------------------
# From a reminder to the page
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture
def locmem(settings):
    from notifications.providers import LOCMEM

    settings.NOTIFICATIONS_BACKEND = "locmem"
    settings.PROVIDER_CONCURRENCY = 1
    LOCMEM.sent.clear()
    yield LOCMEM
    LOCMEM.sent.clear()


def test_a_reminder_sent_by_the_dispatch_carries_a_new_link_that_opens_the_borrowers_page(locmem, settings):
    settings.PORTAL_BASE_URL = "https://pay.example.com"
    message, _number = due_message(full_name=NAME)
    token, ids = outbox_claim()
    outbox_send(message_ids=ids, claim_token=token)
    message.refresh_from_db()
    assert message.status == "sent"
    sent = locmem.sent[0]["body"]
    found = re.search(r"https://pay\.example\.com(/p/([A-Za-z0-9_-]{28}))(?![A-Za-z0-9_-])", sent)
    assert found, sent
    assert message.loan.external_id not in found.group(0)
    link = PortalLink.objects.get()
    assert link.borrower_id == message.borrower_id and portal_token_read(found.group(2)) == link.public_id
    response = Client().get(found.group(1))
    assert response.status_code == 200 and "Hello, M*** G***" in text(response)
    assert format(message.loan.amount_overdue, ",.2f") in text(response)
    assert PortalEvent.objects.get().link_id == link.pk


def test_the_collectors_preview_shows_a_stand_in_link_and_issues_none():
    from notifications.services import message_preview

    case = make_case()
    preview = message_preview(case=case, channel="sms", purpose="reminder")
    assert "/p/xxxxxxxxxxxxxxxxxxxxxxxxxxxx" in preview and not PortalLink.objects.exists()


def test_a_message_without_a_link_issues_none(locmem):
    message, _number = due_message(channel="voice")  # the spoken reminder says "online", not a link
    token, ids = outbox_claim()
    outbox_send(message_ids=ids, claim_token=token)
    message.refresh_from_db()
    assert message.status == "sent" and "/p/" not in message.body and not PortalLink.objects.exists()


def test_names_are_masked_for_each_script():
    from portal.selectors import name_mask

    assert name_mask("Maria Garcia") == "M*** G***"
    assert name_mask("王芳") == "王*" and name_mask("欧阳娜娜") == "欧***"
    assert name_mask("Cher") == "C***"
