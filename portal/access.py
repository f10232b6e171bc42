"""Opening the borrower's page for one of its actions (a promise, a plan, a dispute, preferences, a call back): the
page's own refusals, in its order and with its answers (``portal.views``: too many requests, a link that does not
open, a locked link), then its identity check. What passes is the link, the page's reading and the language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from core.security import client_ip
from loans.models import PortalFactor
from notifications.models import PortalLink
from notifications.services import portal_link_get
from portal import views
from portal.selectors import UNAVAILABLE, PortalPage, portal_page_load


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


def link_open(request: HttpRequest, token: str) -> Opened | HttpResponse:
    """The link opened, or the answer to give instead: 429, the neutral 403, the lock, the help number when no check
    is possible, the identity check (a form sent once the check ran out goes back to the page, which asks it)."""
    if not views._within_rates(request, token):
        return views._too_many(request)
    link = portal_link_get(token=token)
    if link is None:
        return views._refused(request)
    language = views._language(request, link.borrower.language)
    page = portal_page_load(borrower=link.borrower)
    locked = views._locked(request, link, page, language)
    if locked is not None:
        return locked
    context = {"token": token, "lender": page.lender, "help_phone": page.help_phone}
    if page.question == UNAVAILABLE:
        return views._answer(request, "portal/unavailable.html", context, language=language)
    if page.question != PortalFactor.NONE and not views._checked(request, link):
        if request.method != "GET":
            return HttpResponseRedirect(views._page_url(token, language), status=303)
        return views._answer(request, "portal/check.html", {**context, "question": page.question}, language=language)
    return Opened(token=token, link=link, page=page, language=language, ip=client_ip(request))
