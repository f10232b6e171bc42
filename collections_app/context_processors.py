"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from collections_app.roles import user_role


def roles(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's role, for the navigation."""
    return {"role": user_role(request.user) if hasattr(request, "user") else None}
