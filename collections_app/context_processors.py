"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from collections_app.selectors import providers_paused, sweep_overdue
from core.roles import ADMIN, MANAGER, user_role


def roles(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's role, for the navigation."""
    return {"role": user_role(request.user) if hasattr(request, "user") else None}


def alerts(request: HttpRequest) -> dict[str, Any]:
    """What managers and admins must see on every page (templates/_system_alerts.html): a daily sweep unfinished
    past its deadline, a provider paused. Two small queries, for them only."""
    if not hasattr(request, "user") or user_role(request.user) not in (MANAGER, ADMIN):
        return {}
    return {"sweep_overdue": sweep_overdue(), "providers_paused": providers_paused()}
