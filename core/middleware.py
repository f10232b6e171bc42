"""Project middleware."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

API_PREFIX = "/api/"


class NoStoreMiddleware:
    """``Cache-Control: no-store`` (with Django's never-cache headers) on everything a signed-in user gets and on
    every API answer: borrowers' names, numbers and debts must not stay in a browser's cache or a proxy's after the
    session ends. Static files (whitenoise, earlier in the chain) keep their long caching."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # The API authenticates in the view (a token): request.user here is still anonymous, hence the path.
        if request.path.startswith(API_PREFIX) or request.user.is_authenticated:
            add_never_cache_headers(response)
        return response
