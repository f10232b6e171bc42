"""One borrower: every loan and case on one page, and a promise covering several loans."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from collections_app.forms import BorrowerPromiseForm
from collections_app.selectors import borrower_get_for_user, borrower_page
from collections_app.services import CaseError, InvalidRequest, NotPermitted, promise_record_several
from collections_app.views.common import bad_parameters_are_400, form_errors, require_role
from collections_app.views.vulnerability import vulnerability_context
from core.web import SignedInRequest


@require_GET
@bad_parameters_are_400
def borrower_detail(request: SignedInRequest, borrower_id: int) -> HttpResponse:
    """Every loan of a borrower, the case of each (state, days past due, amount overdue, collector) with a link to
    it; the same access rule as the cases (a borrower is visible with one of their cases, 404 otherwise)."""
    require_role(request)
    borrower = borrower_get_for_user(user=request.user, borrower_id=borrower_id)
    return _page(request, borrower)


def _page(request: SignedInRequest, borrower: Any, form: BorrowerPromiseForm | None = None) -> HttpResponse:
    page = borrower_page(borrower=borrower, user=request.user)
    form = form or BorrowerPromiseForm(cases=page.promisable)
    context = {"page": page, "borrower": borrower, "form": form}
    context.update(vulnerability_context(request, borrower_id=borrower.pk, where=f"borrower:{borrower.pk}"))
    return render(request, "collections_app/borrower_detail.html", context)


@require_POST
@bad_parameters_are_400
def borrower_promise(request: SignedInRequest, borrower_id: int) -> HttpResponse:
    """One promise covering the loans ticked, each with its amount: one promise per loan, all or none."""
    require_role(request)
    borrower = borrower_get_for_user(user=request.user, borrower_id=borrower_id)
    page = borrower_page(borrower=borrower, user=request.user)
    form = BorrowerPromiseForm(request.POST, cases=page.promisable)
    if form.is_valid():
        try:
            with transaction.atomic():
                promises = promise_record_several(
                    borrower_id=borrower.pk,
                    actor=request.user,
                    amounts=form.cleaned_data["amounts"],
                    promised_on=form.cleaned_data["promised_on"],
                    note=form.cleaned_data["note"],
                )
        except NotPermitted as exc:
            raise PermissionDenied(str(exc)) from exc
        except InvalidRequest as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        except CaseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Promise recorded on %(n)d loan(s).") % {"n": len(promises)})
            return redirect("borrower-detail", borrower_id=borrower.pk)
    messages.error(request, form_errors(form))
    return _page(request, borrower, form)
