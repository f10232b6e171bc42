"""Marking what needs no sign-in. Every page needs a login (``LoginRequiredMiddleware``) unless its view is marked
``public`` here — the one way, so that ``grep -rn "@public"`` lists every door without a login: the health check,
the icon, Twilio's webhooks (they prove themselves by signature) and the API (it checks tokens and sessions itself)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.contrib.auth.decorators import login_not_required

View = TypeVar("View", bound=Callable[..., object])


def public(view: View) -> View:
    """Let the request through without a signed-in user; the view checks whatever it needs itself."""
    return login_not_required(view)
