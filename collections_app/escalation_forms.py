"""Forms of the managers' escalation review: the filters every list shares, and the bulk legal decision (a reason
is required, and the decision is confirmed on a page that names the count before anything is written)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from collections_app import uploads
from collections_app.models import ComplaintCategory, ComplaintOutcome
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


class ComplaintRecordForm(forms.Form):
    """A complaint staff record on the case page (told on a call, by letter, in person)."""

    channel = forms.ChoiceField(
        label=_("Received by"),
        choices=[("call", _("phone call")), ("letter", _("letter")), ("staff", _("in person or other"))],
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    category = forms.ChoiceField(
        label=_("About"),
        choices=ComplaintCategory.choices,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    summary = forms.CharField(
        label=_("What the borrower says"),
        max_length=4000,
        error_messages={"required": _("Say what the borrower complains about.")},
        widget=forms.Textarea(attrs={"class": "form-control form-control-sm", "rows": 2}),
    )


class ComplaintConfirmForm(forms.Form):
    category = forms.ChoiceField(
        label=_("About"),
        choices=ComplaintCategory.choices,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )


class ComplaintResolveForm(forms.Form):
    """The outcome and the response sent: its text, or the document (PDF, JPEG, PNG) — at least one."""

    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=ComplaintOutcome.choices,
        error_messages={"required": _("Choose an outcome.")},
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    response_text = forms.CharField(
        label=_("Response sent"),
        max_length=8000,
        required=False,
        widget=forms.Textarea(attrs={"class": "form-control form-control-sm", "rows": 2}),
    )
    document = forms.FileField(
        label=_("Response document"), required=False, widget=forms.ClearableFileInput(attrs={"class": "form-control"})
    )

    def clean_document(self) -> Any:
        document = self.cleaned_data.get("document")
        if document is None:
            return None
        if document.size > uploads.max_bytes():
            raise forms.ValidationError(_("The document is too large."))
        kind = uploads.upload_kind(document)
        if not kind:
            raise forms.ValidationError(_("Send a PDF, JPEG or PNG document."))
        document.kind = kind
        return document

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("response_text") or "").strip() and not data.get("document") and not self.errors:
            raise forms.ValidationError(_("Give the response sent: its text or the document."))
        return data
