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

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import translation
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
from notifications.services import (
    email_unsubscribe,
    portal_answer_record,
    portal_link_get,
    portal_payment_started,
    unsubscribe_target,
)
from portal.access import (
    CHECKED_COOKIE,
    CHECKED_SALT,
    Opened,
    answer,
    link_open,
    locked_answer,
    page_url,
    reader_language,
    refused,
    too_many,
    within_rates,
)
from portal.forms import KEY, PayForm
from portal.ratelimit import rate_allow
from portal.selectors import UNAVAILABLE, answer_is_right, portal_checkout_get, portal_page_load

# The places the next parts of the page fill (issue 15): each shows once its action exists.
ACTIONS = {"pay": True, "promise": True, "plan": True, "dispute": True, "preferences": True, "callback": True}


def _page(request: HttpRequest, opened: Opened, *, bound: PayForm | None = None, unavailable: bool = False,
          status: int = 200) -> HttpResponse:  # fmt: skip
    """The borrower's page, with a payment form per loan (the one sent back with its errors, if any)."""
    forms = [bound if bound is not None and bound.line is line else PayForm(line=line) for line in opened.page.loans]
    context = opened.context(page=opened.page, actions=ACTIONS, pay_forms=forms, pay_unavailable=unavailable)
    return answer(request, "portal/page.html", context, language=opened.language, status=status)


@public
@require_GET
def portal_page(request: HttpRequest, token: str) -> HttpResponse:
    """The borrower's page (or the identity check first, when their products ask for one)."""
    opened = link_open(request, token, visit=True)
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
    opened = link_open(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    line = opened.page.line_for(request.POST.get("loan", ""))
    if line is None:  # a loan paid off or not theirs since the page was shown: the page as it is now
        return HttpResponseRedirect(page_url(token, opened.language), status=303)
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
    opened = link_open(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    checkout = _checkout(opened, key)
    if checkout is None:
        return refused(request)
    context = _payment_context(opened, checkout)
    if checkout.status == CheckoutStatus.SUCCEEDED:
        return answer(request, "portal/receipt.html", context, language=opened.language)
    if checkout.status == CheckoutStatus.FAILED:
        return answer(request, "portal/payment_failed.html", context, language=opened.language)
    if checkout.provider != CheckoutProvider.STRIPE or request.GET.get("confirming"):
        return answer(request, "portal/confirming.html", context, language=opened.language)
    return _card_step(request, opened, checkout, context)


def _card_step(request: HttpRequest, opened: Opened, checkout: PaymentCheckout, context: dict[str, Any],
               *, error: str = "", status: int = 200) -> HttpResponse:  # fmt: skip
    try:
        started = checkout_resume(checkout=checkout, return_url="")
    except PaymentUnavailable:
        checkout.refresh_from_db()
        return answer(request, "portal/payment_failed.html", {**context, "checkout": checkout},
                       language=opened.language, status=503)  # fmt: skip
    context = {**context, "client_secret": started.client_secret, "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
               "stripe_js": settings.STRIPE_JS_URL, "authenticate": request.GET.get("authenticate") == "1",
               "card_error": error,
               "done_url": _payment_url(opened.token, checkout.idempotency_key, opened.language,
                                        confirming="1")}  # fmt: skip
    return _card_step_csp(answer(request, "portal/card.html", context, language=opened.language, status=status))


@public
@require_POST
def portal_card(request: HttpRequest, token: str, key: str) -> HttpResponse:
    """The card Stripe.js collected (its id, never its number) for a started payment: confirmed with Stripe; on to
    the waiting page, to the bank's own check (3-D Secure, done in the browser with the client secret), or back to
    the card step with the bank's reason."""
    opened = link_open(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    checkout = _checkout(opened, key)
    if checkout is None:
        return refused(request)
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
    if not within_rates(request, token):
        return too_many(request)
    link = portal_link_get(token=token)
    if link is None:
        return refused(request)
    language = reader_language(request, link.borrower.language)
    page = portal_page_load(borrower=link.borrower)
    locked = locked_answer(request, link, page, language)
    if locked is not None:
        return locked
    if page.question in (PortalFactor.NONE, UNAVAILABLE):
        return HttpResponseRedirect(page_url(token, language))
    typed = request.POST.get("answer", "")[:32]
    result = portal_answer_record(link=link, correct=answer_is_right(link.borrower, page.question, typed),
                                  ip=client_ip(request))  # fmt: skip
    if result.passed:
        response = HttpResponseRedirect(page_url(token, language), status=303)
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
    locked = locked_answer(request, link, page, language)
    if locked is not None:
        return locked
    context = {"token": token, "lender": page.lender, "help_phone": page.help_phone, "question": page.question,
               "typed": typed, "wrong": True, "attempts_left": result.attempts_left}  # fmt: skip
    return answer(request, "portal/check.html", context, language=language, status=200)


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
        return too_many(request)
    target = unsubscribe_target(token=token)
    if target is None:
        return refused(request)
    language = reader_language(request, target.language)
    done = target.opted_out
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        email_unsubscribe(target=target, one_click=one_click)
        done = True
    context = {"token": token, "lender": target.lender, "help_phone": settings.LENDER_HELP_PHONE, "done": done,
               "address": masked_address(target.address)}  # fmt: skip
    return answer(request, "portal/unsubscribe.html", context, language=language)


def masked_address(address: str) -> str:
    """The address as the page shows it to whoever holds the link: enough to recognise, not to harvest
    (``m•••a@example.com``)."""
    local, at, domain = address.partition("@")
    if not at:
        return "•••"
    shown = local[0] + "•••" + local[-1] if len(local) > 2 else local[:1] + "•••"
    return f"{shown}@{domain}"
