"""The borrower's page, opened by the link in a message: no sign-in (the signed link is the key), the borrower's
language (switchable with ``?lang=``), no JavaScript, and every visit audited as the borrower's.

Order of refusals, each before anything is shown: too many requests from the address or for the link (429), a
link that is forged, unknown, expired or revoked (403, the same neutral page for all), a link locked after wrong
answers (429). Then the identity check when the borrower's products ask for one, then the page."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.security import client_ip
from core.web import public
from loans.models import PortalFactor
from notifications.models import PortalEventKind, PortalLink
from notifications.services import (
    email_unsubscribe,
    portal_answer_record,
    portal_event_record,
    portal_link_get,
    unsubscribe_target,
)
from notifications.services.portal_links import ID_CHARS
from portal.ratelimit import rate_allow
from portal.selectors import UNAVAILABLE, PortalPage, answer_is_right, portal_page_load

LANGUAGES = {code for code, _name in settings.LANGUAGES}
CHECKED_COOKIE = "portal_checked"
CHECKED_SALT = "portal.checked"
# The places the next parts of the page fill (issue 15): each shows once its action exists.
ACTIONS = {"pay": False, "promise": True, "plan": True, "dispute": True, "preferences": True, "callback": True}


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


@public
@require_GET
def portal_page(request: HttpRequest, token: str) -> HttpResponse:
    """The borrower's page (or the identity check first, when their products ask for one)."""
    if not _within_rates(request, token):
        return _too_many(request)
    link = portal_link_get(token=token)
    if link is None:
        return _refused(request)
    language = _language(request, link.borrower.language)
    page = portal_page_load(borrower=link.borrower)
    portal_event_record(link=link, kind=PortalEventKind.VISIT, ip=client_ip(request))
    locked = _locked(request, link, page, language)
    if locked is not None:
        return locked
    context: dict[str, Any] = {"token": token, "lender": page.lender, "help_phone": page.help_phone}
    if page.question == UNAVAILABLE:
        return _answer(request, "portal/unavailable.html", context, language=language)
    if page.question != PortalFactor.NONE and not _checked(request, link):
        return _answer(request, "portal/check.html", {**context, "question": page.question}, language=language)
    return _answer(request, "portal/page.html", {**context, "page": page, "actions": ACTIONS}, language=language)


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
