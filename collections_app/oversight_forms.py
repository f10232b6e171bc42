"""The managers' forms for collector oversight: a collector's training record (CERT-01) and a sampled call's score."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from collections_app.models import QaItem

PASS_FAIL = [("pass", _("Passed")), ("fail", _("Not passed"))]


class CertificationForm(forms.Form):
    collector = forms.TypedChoiceField(label=_("Collector"), coerce=int)
    course = forms.CharField(label=_("Course or certificate"), max_length=200)
    passed_on = forms.DateField(label=_("Exam passed on"), widget=forms.DateInput(attrs={"type": "date"}))
    expires_on = forms.DateField(
        label=_("Expires on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Leave empty: the validity the profiles set (a year)."),
    )
    evidence_reference = forms.CharField(
        label=_("Evidence reference"),
        required=False,
        max_length=200,
        help_text=_("Certificate number or where it is kept."),
    )

    def __init__(self, *args: Any, collectors: Sequence[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["collector"]).choices = [("", "—"), *collectors]
        for name, field in self.fields.items():
            css = "form-select form-select-sm" if name == "collector" else "form-control form-control-sm"
            invalid = " is-invalid" if self.is_bound and name in self.errors else ""
            field.widget.attrs["class"] = css + invalid


class CallReviewForm(forms.Form):
    """One pass/fail choice per item of the call's checklist, and notes."""

    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when an item failed: what was said or missing."),
    )

    def __init__(self, *args: Any, checklist: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(QaItem.choices)
        items = {
            code: forms.ChoiceField(
                label=labels.get(code, code),
                choices=PASS_FAIL,
                widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
            )
            for code in checklist
        }
        self.fields = {**items, "notes": self.fields["notes"]}
        self.checklist = list(checklist)

    def item_fields(self) -> list[forms.BoundField]:
        return [self[code] for code in self.checklist]

    def results(self) -> dict[str, str]:
        return {code: self.cleaned_data[code] for code in self.checklist}
