"""Marking what needs no sign-in. Every page needs a login (``LoginRequiredMiddleware``) unless its view is marked
``public`` here — the one way, so that ``grep -rn "@public"`` lists every door without a login: the health check,
the icon, Twilio's webhooks (they prove themselves by signature) and the API (it checks tokens and sessions itself)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponseBase

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django_htmx.middleware import HtmxDetails

View = TypeVar("View", bound=Callable[..., HttpResponseBase | Awaitable[HttpResponseBase]])


def public(view: View) -> View:
    """Let the request through without a signed-in user; the view checks whatever it needs itself."""
    return login_not_required(view)


class SignedInRequest(HttpRequest):
    """What a page's view is handed (for annotations; never instantiated): past ``LoginRequiredMiddleware`` its user
    is signed in, and ``HtmxMiddleware`` has told whether htmx sent it."""

    user: User
    htmx: HtmxDetails
