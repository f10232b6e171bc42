"""The pieces every API endpoint and input serializer shares, whichever app's data it carries: one input base that
refuses unknown fields, and the permission "signed in with a role"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _
from rest_framework import permissions, serializers
from rest_framework.request import Request

from core.roles import user_role

if TYPE_CHECKING:
    from django.contrib.auth.models import User


# An input serializer that refuses fields it does not know: a typo in a field name must not lose data silently (the
# API and the file importers alike). No docstring on purpose: the API description would give it to every input.
class StrictInput(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "keys"):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [_("Unknown field.")] for name in unknown})
        return super().to_internal_value(data)


class HasRole(permissions.BasePermission):
    """Signed in (session or token) and holding one of the roles."""

    message = _("Your account has no role.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and user_role(request.user))


class SignedInRequest(Request):
    """What the method of a view guarded by ``HasRole`` is handed (for annotations; never instantiated): its user is
    signed in."""

    user: User
