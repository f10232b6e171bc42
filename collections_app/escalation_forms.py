"""Forms of the managers' escalation review: the filters every list shares, and the bulk legal decision (a reason
is required, and the decision is confirmed on a page that names the count before anything is written)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from collections_app.selectors import EscalationFilters

DAYS = [MinValueValidator(0), MaxValueValidator(100_000)]
AMOUNT = [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal("9999999999"))]


def _small(field: forms.Field, placeholder: Any) -> forms.Field:
    field.widget.attrs.update({"class": "form-control form-control-sm", "placeholder": placeholder})
    return field


class EscalationFilterForm(forms.Form):
    """Team, collector, days past due, amount overdue and days waiting; a value that cannot mean anything is shown
    beside its field (as typed) and that filter alone is left out."""

    team = forms.TypedChoiceField(label=_("Team"), required=False, coerce=int, empty_value=None)
    collector = forms.TypedChoiceField(label=_("Collector"), required=False, coerce=int, empty_value=None)
    dpd_min = _small(forms.IntegerField(label=_("DPD from"), required=False, validators=DAYS), _("DPD from"))
    dpd_max = _small(forms.IntegerField(label=_("DPD to"), required=False, validators=DAYS), _("DPD to"))
    amount_min = _small(
        forms.DecimalField(label=_("Overdue from"), required=False, decimal_places=2, validators=AMOUNT),
        _("Overdue from"),
    )
    amount_max = _small(
        forms.DecimalField(label=_("Overdue to"), required=False, decimal_places=2, validators=AMOUNT),
        _("Overdue to"),
    )
    waiting_min = _small(
        forms.IntegerField(label=_("Waiting at least (days)"), required=False, validators=DAYS),
        _("Waiting ≥ days"),
    )
    waiting_max = _small(
        forms.IntegerField(label=_("Waiting at most (days)"), required=False, validators=DAYS),
        _("Waiting ≤ days"),
    )

    def __init__(self, *args: Any, teams: list[tuple[int, str]], collectors: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        team, collector = self.fields["team"], self.fields["collector"]
        assert isinstance(team, forms.ChoiceField) and isinstance(collector, forms.ChoiceField)
        team.choices = [("", _("All teams")), *teams]
        collector.choices = [("", _("All collectors")), *collectors]
        for field in (team, collector):
            field.widget.attrs.update({"class": "form-select form-select-sm"})

    def filters(self) -> EscalationFilters:
        """The valid filters (a form with errors still filters by the fields that are right)."""
        if self.is_bound:
            self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return EscalationFilters(**{name: data.get(name) for name in self.fields})

    def query(self) -> dict[str, str]:
        """The filters as typed, for the pagination links and the decision form."""
        return {name: str(self.data.get(name, "")) for name in self.fields if self.data.get(name)}


class LegalDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("approve_legal", _("Approve legal action")), ("reject_legal", _("Reject legal action"))],
        error_messages={"required": _("Choose approve or reject."), "invalid_choice": _("Choose approve or reject.")},
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        error_messages={"required": _("Give a reason: it is kept in each case's history.")},
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
    )


class PlanDecisionForm(forms.Form):
    approve = forms.TypedChoiceField(
        label=_("Decision"), choices=[("1", _("Approve")), ("0", _("Reject"))], coerce=lambda v: v == "1"
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        error_messages={"required": _("Give a reason: it is kept in the case's history.")},
    )
