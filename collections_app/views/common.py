"""What every page shares: the role check, parameters parsed strictly (a malformed one is a 400, never a 500), form
errors as one line."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.translation import gettext_lazy as _

from collections_app.selectors.access import cases_visible_to
from core.roles import user_role
from loans.inputs import parse_id


class BadParameter(ValueError):
    """A query or form parameter that cannot mean anything (answered 400 with the parameter and why)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")


def bad_parameters_are_400(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A malformed parameter is the client's mistake: 400 with a line saying which one, never a 500."""

    @wraps(view)
    def checked(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except BadParameter as exc:
            return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")

    return checked


def text_param(name: str, raw: str) -> str:
    """Free text given as a form parameter outside a Django form (which would refuse NUL itself)."""
    if "\x00" in raw:  # PostgreSQL refuses NUL in text
        raise BadParameter(name, str(_("cannot contain a NUL character.")))
    return raw


def id_param(name: str, raw: str) -> int | None:
    """An id given as a parameter: None when absent, 400 when it is not an id (``"²".isdigit()`` is True, yet
    ``int("²")`` raises)."""
    if not raw:
        return None
    value = parse_id(raw)
    if value is None:
        raise BadParameter(name, str(_("expected an id (digits 0-9).")))
    return value


def period_days(request: HttpRequest) -> int:
    """The reporting period asked for (``?days=``): 30 unless a whole number of days from 1 to 365 is given."""
    try:
        return max(1, min(int(request.GET.get("days", 30)), 365))
    except ValueError:
        return 30


def require_role(request: HttpRequest, *roles: str) -> str:
    role = user_role(request.user)
    if role is None or (roles and role not in roles):
        raise PermissionDenied("Your role does not allow this page.")
    return role


# ---------------------------------------------------------------------------------------------------------------
# Case actions: each a POST that goes through a service (and the gate, for contacts), then back to the case page
# ---------------------------------------------------------------------------------------------------------------
def form_errors(form: forms.Form) -> str:
    """A form's errors in one line for the message at the top of the page, each under its field's label (the
    reader's words, never the field's name)."""

    def label(name: str) -> str:
        field = form.fields.get(name)
        return str(field.label) if field is not None and field.label else name

    return "; ".join(f"{label(name)}: {' '.join(map(str, errors))}" if name != "__all__" else " ".join(map(str, errors))
                     for name, errors in form.errors.items())  # fmt: skip


def selected_cases(request: HttpRequest) -> list[int]:
    """The checked cases, limited to those the manager may see."""
    ids = [i for v in request.POST.getlist("case") if (i := id_param("case", v)) is not None]
    return list(cases_visible_to(request.user).filter(pk__in=ids).values_list("pk", flat=True))
