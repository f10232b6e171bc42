"""Opening the borrower's page, for the page itself, its payment steps and its actions (a promise, a plan, a
dispute, preferences, a call back): the page's own refusals, in order and with their answers — too many requests
from the address or for the link (429), a link that does not open (the same neutral 403 for all), a locked link
(429) — then its identity check. What passes is the link, the page's reading and the language; every answer is
rendered in the borrower's language and kept out of caches and search indexes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers

from core.security import client_ip
from loans.models import PortalFactor
from notifications.models import PortalEventKind, PortalLink
from notifications.services import portal_event_record, portal_link_get
from notifications.services.portal_links import ID_CHARS
from portal.ratelimit import rate_allow
from portal.selectors import UNAVAILABLE, PortalPage, portal_page_load

LANGUAGES = {code for code, _name in settings.LANGUAGES}
CHECKED_COOKIE = "portal_checked"
CHECKED_SALT = "portal.checked"


def reader_language(request: HttpRequest, default: str) -> str:
    chosen = request.GET.get("lang") or request.POST.get("lang") or ""
    return chosen if chosen in LANGUAGES else default


def answer(request: HttpRequest, template: str, context: dict[str, Any], *, language: str, status: int = 200
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


def refused(request: HttpRequest) -> HttpResponse:
    """The one answer for every link that does not open: it names no one and shows nothing."""
    language = reader_language(request, translation.get_language_from_request(request))
    context = {"lender": settings.LENDER_NAME, "help_phone": settings.LENDER_HELP_PHONE}
    return answer(request, "portal/refused.html", context, language=language if language in LANGUAGES else "en",
                   status=403)  # fmt: skip


def too_many(request: HttpRequest) -> HttpResponse:
    language = reader_language(request, translation.get_language_from_request(request))
    context = {"lender": settings.LENDER_NAME, "help_phone": settings.LENDER_HELP_PHONE}
    response = answer(request, "portal/busy.html", context, language=language if language in LANGUAGES else "en",
                       status=429)  # fmt: skip
    response["Retry-After"] = "60"
    return response


def within_rates(request: HttpRequest, token: str) -> bool:
    """Per address first (a guesser of tokens), then per link (one link shared around)."""
    return rate_allow(scope="ip", key=client_ip(request), limit=settings.PORTAL_RATE_PER_ADDRESS) and rate_allow(
        scope="link", key=token[:ID_CHARS], limit=settings.PORTAL_RATE_PER_LINK
    )


def locked_answer(request: HttpRequest, link: PortalLink, page: PortalPage, language: str) -> HttpResponse | None:
    now = timezone.now()
    if link.locked_until is None or link.locked_until <= now:
        return None
    minutes = max(1, math.ceil((link.locked_until - now).total_seconds() / 60))
    context = {"lender": page.lender, "help_phone": page.help_phone, "minutes": minutes}
    return answer(request, "portal/locked.html", context, language=language, status=429)


def checked(request: HttpRequest, link: PortalLink) -> bool:
    """Has this browser answered the check for this link lately (a signed cookie naming the link)?"""
    try:
        value = request.get_signed_cookie(CHECKED_COOKIE, salt=CHECKED_SALT,
                                           max_age=settings.PORTAL_CHECKED_MINUTES * 60)  # fmt: skip
    except (KeyError, signing.BadSignature):
        return False
    return value == link.public_id


def page_url(token: str, language: str) -> str:
    return f"{reverse('portal-page', args=[token])}?lang={language}"


@dataclass
class Opened:
    """A link that opened, past the rate limits, the lock and the identity check."""

    token: str
    link: PortalLink
    page: PortalPage
    language: str
    ip: str

    def context(self, **more: Any) -> dict[str, Any]:
        return {"token": self.token, "lender": self.page.lender, "help_phone": self.page.help_phone, **more}


def link_open(request: HttpRequest, token: str, *, visit: bool = False) -> Opened | HttpResponse:
    """Every refusal in order (rates, the link, the lock), then the identity check: the link opened, or the answer
    to give instead. ``visit``: audit the opening as a visit (the page itself, not its payment steps)."""
    if not within_rates(request, token):
        return too_many(request)
    link = portal_link_get(token=token)
    if link is None:
        return refused(request)
    language = reader_language(request, link.borrower.language)
    page = portal_page_load(borrower=link.borrower)
    if visit:
        portal_event_record(link=link, kind=PortalEventKind.VISIT, ip=client_ip(request))
    locked = locked_answer(request, link, page, language)
    if locked is not None:
        return locked
    context: dict[str, Any] = {"token": token, "lender": page.lender, "help_phone": page.help_phone}
    if page.question == UNAVAILABLE:
        return answer(request, "portal/unavailable.html", context, language=language)
    if page.question != PortalFactor.NONE and not checked(request, link):
        if request.method != "GET":  # a form sent after the check ran out: the check again, then the page
            return HttpResponseRedirect(page_url(token, language), status=303)
        return answer(request, "portal/check.html", {**context, "question": page.question}, language=language)
    return Opened(token=token, link=link, page=page, language=language, ip=client_ip(request))
