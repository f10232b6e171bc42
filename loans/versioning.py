"""Versioned configuration rows (collection and installment policies, jurisdiction profiles).

An edit never overwrites a row: it becomes a new version, current from now on, and the old one stays as the record
of what earlier decisions were based on.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models, transaction

M = TypeVar("M", bound=models.Model)


def version_publish(*, instance: M, scope: dict[str, Any], actor: Any) -> M:
    """Save ``instance`` (carrying the edited values) as the next current version within ``scope`` (e.g.
    ``{"product_id": 3}`` or ``{"code": "US_FED_REGF"}``); validated, all or nothing."""
    # The versioned models have these fields (version, is_current, created_by) by convention, without a base class.
    row: Any = instance
    model = type(row)
    with transaction.atomic():
        previous = model.objects.select_for_update().filter(**scope, is_current=True).first()
        latest = model.objects.filter(**scope).order_by("-version").first()
        if previous is not None:
            previous.is_current = False
            previous.save(update_fields=["is_current"])
        row.pk = None
        row._state.adding = True
        row.version = latest.version + 1 if latest else 1
        row.is_current = True
        row.created_by = actor if getattr(actor, "pk", None) else None
        row.full_clean()  # a refusal rolls the whole publication back, previous version included
        row.save()
    return instance
