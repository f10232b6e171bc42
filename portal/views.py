"""The borrower's page, opened by the link in a message: no sign-in (the signed link is the key), the borrower's
language (switchable with ``?lang=``), no JavaScript, and every visit audited as the borrower's.

Order of refusals, each before anything is shown: too many requests from the address or for the link (429), a
link that is forged, unknown, expired or revoked (403, the same neutral page for all), a link locked after wrong
answers (429). Then the identity check when the borrower's products ask for one, then the page.

Paying (the same refusals first, and the check): the page's form (no JavaScript) chooses what to pay and starts the
payment; the console provider pays at once and the borrower lands on the receipt; with Stripe they land on the card
step, the one page that loads Stripe's script (``STRIPE_JS_URL``, allowed by that page's CSP alone), which collects
the card, has it confirmed and, when the bank asks, confirms the PaymentIntent with its client secret. Stripe's
signed webhook records the payment; the receipt page waits for it. Every step is audited as the borrower's."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.security import client_ip
from core.web import public
from loans.models import CheckoutProvider, CheckoutStatus, PaymentCheckout, PaymentKind, PortalFactor
from loans.money import format_money
from loans.payments import (
    PaymentAmountError,
    PaymentUnavailable,
    checkout_card_confirm,
    checkout_resume,
    payment_start,
)
from notifications.models import PortalEventKind, PortalLink
from notifications.services import (
    email_unsubscribe,
    portal_answer_record,
    portal_event_record,
    portal_link_get,
    portal_payment_started,
    unsubscribe_target,
)
from notifications.services.portal_links import ID_CHARS
from portal.forms import KEY, PayForm
from portal.ratelimit import rate_allow
from portal.selectors import UNAVAILABLE, PortalPage, answer_is_right, portal_checkout_get, portal_page_load

LANGUAGES = {code for code, _name in settings.LANGUAGES}
CHECKED_COOKIE = "portal_checked"
CHECKED_SALT = "portal.checked"
# The places the next parts of the page fill (issue 15): each shows once its action exists.
ACTIONS = {"pay": True, "promise": True, "plan": True, "dispute": True, "preferences": True, "callback": True}


def _language(request: HttpRequest, default: str) -> str:
    chosen = request.GET.get("lang") or request.POST.get("lang") or ""
    return chosen if chosen in LANGUAGES else default


def _answer(request: HttpRequest, template: str, context: dict[str, Any], *, language: str, status: int = 200
            ) -> HttpResponse:  # fmt: skip
    """Render in the borrower's language, without the staff pages' context processors (no user, no alerts), and
    keep it out of every cache and search index: the page shows a person's debts."""
    with translation.override(language):
        body = render_to_string(template, {**context, "language": language, "csrf_token": get_token(request)})
    response = HttpResponse(body, status=status)
    add_never_cache_headers(response)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Content-Language"] = language
    return response


def _refused(request: HttpRequest) -> HttpResponse:
    """The one answer for every link that does not open: it names no one and shows nothing."""
    language = _language(request, translation.get_language_from_request(request))
    context = {"lender": settings.LENDER_NAME, "help_phone": settings.LENDER_HELP_PHONE}
    return _answer(request, "portal/refused.html", context, language=language if language in LANGUAGES else "en",
                   status=403)  # fmt: skip


def _too_many(request: HttpRequest) -> HttpResponse:
    language = _language(request, translation.get_language_from_request(request))
    context = {"lender": settings.LENDER_NAME, "help_phone": settings.LENDER_HELP_PHONE}
    response = _answer(request, "portal/busy.html", context, language=language if language in LANGUAGES else "en",
                       status=429)  # fmt: skip
    response["Retry-After"] = "60"
    return response


def _within_rates(request: HttpRequest, token: str) -> bool:
    """Per address first (a guesser of tokens), then per link (one link shared around)."""
    return rate_allow(scope="ip", key=client_ip(request), limit=settings.PORTAL_RATE_PER_ADDRESS) and rate_allow(
        scope="link", key=token[:ID_CHARS], limit=settings.PORTAL_RATE_PER_LINK
    )


def _locked(request: HttpRequest, link: PortalLink, page: PortalPage, language: str) -> HttpResponse | None:
    now = timezone.now()
    if link.locked_until is None or link.locked_until <= now:
        return None
    minutes = max(1, math.ceil((link.locked_until - now).total_seconds() / 60))
    context = {"lender": page.lender, "help_phone": page.help_phone, "minutes": minutes}
    return _answer(request, "portal/locked.html", context, language=language, status=429)


def _checked(request: HttpRequest, link: PortalLink) -> bool:
    """Has this browser answered the check for this link lately (a signed cookie naming the link)?"""
    try:
        value = request.get_signed_cookie(CHECKED_COOKIE, salt=CHECKED_SALT,
                                           max_age=settings.PORTAL_CHECKED_MINUTES * 60)  # fmt: skip
    except (KeyError, signing.BadSignature):
        return False
    return value == link.public_id


def _page_url(token: str, language: str) -> str:
    return f"{reverse('portal-page', args=[token])}?lang={language}"


@dataclass
class Opened:
    """A link that opened, past the rate limits, the lock and the identity check."""

    token: str
    link: PortalLink
    page: PortalPage
    language: str

    def context(self, **more: Any) -> dict[str, Any]:
        return {"token": self.token, "lender": self.page.lender, "help_phone": self.page.help_phone, **more}


def _open(request: HttpRequest, token: str, *, visit: bool = False) -> Opened | HttpResponse:
    """Every refusal in order (rates, the link, the lock), then the identity check: the link opened, or the answer
    to give instead. ``visit``: audit the opening as a visit (the page itself, not its payment steps)."""
    if not _within_rates(request, token):
        return _too_many(request)
    link = portal_link_get(token=token)
    if link is None:
        return _refused(request)
    language = _language(request, link.borrower.language)
    page = portal_page_load(borrower=link.borrower)
    if visit:
        portal_event_record(link=link, kind=PortalEventKind.VISIT, ip=client_ip(request))
    locked = _locked(request, link, page, language)
    if locked is not None:
        return locked
    context: dict[str, Any] = {"token": token, "lender": page.lender, "help_phone": page.help_phone}
    if page.question == UNAVAILABLE:
        return _answer(request, "portal/unavailable.html", context, language=language)
    if page.question != PortalFactor.NONE and not _checked(request, link):
        if request.method != "GET":  # a form sent after the check ran out: the check again, then the page
            return HttpResponseRedirect(_page_url(token, language), status=303)
        return _answer(request, "portal/check.html", {**context, "question": page.question}, language=language)
    return Opened(token=token, link=link, page=page, language=language)


def _page(request: HttpRequest, opened: Opened, *, bound: PayForm | None = None, unavailable: bool = False,
          status: int = 200) -> HttpResponse:  # fmt: skip
    """The borrower's page, with a payment form per loan (the one sent back with its errors, if any)."""
    forms = [bound if bound is not None and bound.line is line else PayForm(line=line) for line in opened.page.loans]
    context = opened.context(page=opened.page, actions=ACTIONS, pay_forms=forms, pay_unavailable=unavailable)
    return _answer(request, "portal/page.html", context, language=opened.language, status=status)


@public
@require_GET
def portal_page(request: HttpRequest, token: str) -> HttpResponse:
    """The borrower's page (or the identity check first, when their products ask for one)."""
    opened = _open(request, token, visit=True)
    if isinstance(opened, HttpResponse):
        return opened
    return _page(request, opened)


def _payment_url(token: str, key: str, language: str, **query: str) -> str:
    extra = "".join(f"&{name}={value}" for name, value in query.items())
    return f"{reverse('portal-payment', args=[token, key])}?lang={language}{extra}"


@public
@require_POST
def portal_pay(request: HttpRequest, token: str) -> HttpResponse:
    """The page's payment form: what to pay on which loan. Refused amounts come back beside their field, as typed;
    an accepted one starts the payment (audited as the borrower's) and goes to its receipt or its card step."""
    opened = _open(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    line = opened.page.line_for(request.POST.get("loan", ""))
    if line is None:  # a loan paid off or not theirs since the page was shown: the page as it is now
        return HttpResponseRedirect(_page_url(token, opened.language), status=303)
    form = PayForm(request.POST, line=line)
    with translation.override(opened.language):  # the amount rules' messages, in the borrower's words
        valid = form.is_valid()
    if not valid:
        return _page(request, opened, bound=form)
    key = form.cleaned_data["key"]
    ip = client_ip(request)
    with translation.override(opened.language):
        try:
            portal_payment_started(link=opened.link, payment_key=key, ip=ip)
            payment_start(loan=line.loan, kind=form.cleaned_data["kind"], amount=form.paid,
                          minimum=line.minimum, idempotency_key=key,
                          return_url=_payment_url(token, key, opened.language))  # fmt: skip
        except PaymentAmountError as exc:
            form.add_error("amount" if form.cleaned_data["kind"] == PaymentKind.CHOSEN else "kind", str(exc))
            return _page(request, opened, bound=form)
        except PaymentUnavailable:
            return _page(request, opened, bound=form, unavailable=True, status=503)
    return HttpResponseRedirect(_payment_url(token, key, opened.language), status=303)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _card_step_csp(response: HttpResponse) -> HttpResponse:
    """The card step alone may load Stripe.js, talk to Stripe and show its card frames (django-csp's per-response
    update, as its ``csp_update`` decorator sets it, with the sites read from the settings)."""
    script = _origin(settings.STRIPE_JS_URL)
    frames = [script, "https://hooks.stripe.com"] if script == "https://js.stripe.com" else [script]
    response._csp_update = {  # type: ignore[attr-defined]
        "script-src": [script],
        "connect-src": sorted({script, _origin(settings.STRIPE_API_BASE)}),
        "frame-src": frames,
    }
    return response


def _checkout(opened: Opened, key: str) -> PaymentCheckout | None:
    return portal_checkout_get(borrower=opened.link.borrower, key=key) if KEY.match(key) else None


def _payment_context(opened: Opened, checkout: PaymentCheckout) -> dict[str, Any]:
    """What every page about one payment shows: the payment (times in its loan's zone), the loans as they are
    now, and the loan's bank-transfer details."""
    line = next((line for line in opened.page.loans if line.loan.pk == checkout.loan_id), None)
    return opened.context(page=opened.page, checkout=checkout, key=checkout.idempotency_key,
                          zone=checkout.loan.product.timezone, amount_text=format_money(checkout.amount,
                          checkout.currency), transfer=line.transfer if line else None)  # fmt: skip


@public
@require_GET
def portal_payment(request: HttpRequest, token: str, key: str) -> HttpResponse:
    """One payment the borrower started: its receipt and the loans as they are now once it is paid; while Stripe
    has not confirmed it, the card step (or, after the card, a page that waits for Stripe); failed: why, and the
    way back."""
    opened = _open(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    checkout = _checkout(opened, key)
    if checkout is None:
        return _refused(request)
    context = _payment_context(opened, checkout)
    if checkout.status == CheckoutStatus.SUCCEEDED:
        return _answer(request, "portal/receipt.html", context, language=opened.language)
    if checkout.status == CheckoutStatus.FAILED:
        return _answer(request, "portal/payment_failed.html", context, language=opened.language)
    if checkout.provider != CheckoutProvider.STRIPE or request.GET.get("confirming"):
        return _answer(request, "portal/confirming.html", context, language=opened.language)
    return _card_step(request, opened, checkout, context)


def _card_step(request: HttpRequest, opened: Opened, checkout: PaymentCheckout, context: dict[str, Any],
               *, error: str = "", status: int = 200) -> HttpResponse:  # fmt: skip
    try:
        started = checkout_resume(checkout=checkout, return_url="")
    except PaymentUnavailable:
        checkout.refresh_from_db()
        return _answer(request, "portal/payment_failed.html", {**context, "checkout": checkout},
                       language=opened.language, status=503)  # fmt: skip
    context = {**context, "client_secret": started.client_secret, "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
               "stripe_js": settings.STRIPE_JS_URL, "authenticate": request.GET.get("authenticate") == "1",
               "card_error": error,
               "done_url": _payment_url(opened.token, checkout.idempotency_key, opened.language,
                                        confirming="1")}  # fmt: skip
    return _card_step_csp(_answer(request, "portal/card.html", context, language=opened.language, status=status))


@public
@require_POST
def portal_card(request: HttpRequest, token: str, key: str) -> HttpResponse:
    """The card Stripe.js collected (its id, never its number) for a started payment: confirmed with Stripe; on to
    the waiting page, to the bank's own check (3-D Secure, done in the browser with the client secret), or back to
    the card step with the bank's reason."""
    opened = _open(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    checkout = _checkout(opened, key)
    if checkout is None:
        return _refused(request)
    method = request.POST.get("payment_method", "")[:255]
    context = _payment_context(opened, checkout)
    with translation.override(opened.language):
        if not method.startswith(("card_", "pm_", "src_")):
            return _card_step(request, opened, checkout, context, error=gettext("Please enter your card again."),
                              status=400)  # fmt: skip
        try:
            answer = checkout_card_confirm(checkout=checkout, payment_method=method)
        except PaymentUnavailable:
            unavailable = gettext("Card payments are not available just now. Please try again later.")
            return _card_step(request, opened, checkout, context, status=503, error=unavailable)
        if answer.outcome == "declined":
            return _card_step(request, opened, checkout, context, status=402, error=gettext(
                "Your card was declined. Please try another card, or pay by bank transfer."))  # fmt: skip
    if answer.outcome == "authenticate":
        return HttpResponseRedirect(_payment_url(token, key, opened.language, authenticate="1"), status=303)
    return HttpResponseRedirect(_payment_url(token, key, opened.language, confirming="1"), status=303)


@public
@require_POST
def portal_check(request: HttpRequest, token: str) -> HttpResponse:
    """The borrower's answer to the identity check: on to the page, or the form again with what was typed and the
    answers left, or the lock."""
    if not _within_rates(request, token):
        return _too_many(request)
    link = portal_link_get(token=token)
    if link is None:
        return _refused(request)
    language = _language(request, link.borrower.language)
    page = portal_page_load(borrower=link.borrower)
    locked = _locked(request, link, page, language)
    if locked is not None:
        return locked
    if page.question in (PortalFactor.NONE, UNAVAILABLE):
        return HttpResponseRedirect(_page_url(token, language))
    typed = request.POST.get("answer", "")[:32]
    result = portal_answer_record(link=link, correct=answer_is_right(link.borrower, page.question, typed),
                                  ip=client_ip(request))  # fmt: skip
    if result.passed:
        response = HttpResponseRedirect(_page_url(token, language), status=303)
        response.set_signed_cookie(
            CHECKED_COOKIE,
            link.public_id,
            salt=CHECKED_SALT,
            max_age=settings.PORTAL_CHECKED_MINUTES * 60,
            path=reverse("portal-page", args=[token])[: -len(token)],  # every page of the portal, nothing else
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
        return response
    link.locked_until = result.locked_until
    locked = _locked(request, link, page, language)
    if locked is not None:
        return locked
    context = {"token": token, "lender": page.lender, "help_phone": page.help_phone, "question": page.question,
               "typed": typed, "wrong": True, "attempts_left": result.attempts_left}  # fmt: skip
    return _answer(request, "portal/check.html", context, language=language, status=200)


# ---------------------------------------------------------------------------------------------------------------
# An e-mail's unsubscribe link
# ---------------------------------------------------------------------------------------------------------------
@public
@csrf_exempt  # RFC 8058: the mail program POSTs without cookies; the signed token is the proof
@require_http_methods(["GET", "POST"])
def email_unsubscribe_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the question and a button (a link scanner that opens it changes nothing). POST: the opt-out recorded,
    and the confirmation — the button's form, or the borrower's mail program's one-click POST
    (``List-Unsubscribe=One-Click``, RFC 8058), which needs no page but gets the same answer."""
    if not rate_allow(scope="ip", key=client_ip(request), limit=settings.PORTAL_RATE_PER_ADDRESS):
        return _too_many(request)
    target = unsubscribe_target(token=token)
    if target is None:
        return _refused(request)
    language = _language(request, target.language)
    done = target.opted_out
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        email_unsubscribe(target=target, one_click=one_click)
        done = True
    context = {"token": token, "lender": target.lender, "help_phone": settings.LENDER_HELP_PHONE, "done": done,
               "address": masked_address(target.address)}  # fmt: skip
    return _answer(request, "portal/unsubscribe.html", context, language=language)


def masked_address(address: str) -> str:
    """The address as the page shows it to whoever holds the link: enough to recognise, not to harvest
    (``m•••a@example.com``)."""
    local, at, domain = address.partition("@")
    if not at:
        return "•••"
    shown = local[0] + "•••" + local[-1] if len(local) > 2 else local[:1] + "•••"
    return f"{shown}@{domain}"
