"""Forms of the borrower's own page (issue 15): a promise, a plan, a dispute, contact preferences, a call back. Each is
built from what the selectors of ``collections_app.selectors.borrower_actions`` offer, validates the input in the
borrower's words and language (a form with an error keeps what was typed), and leaves the work to the services of
``collections_app.services.borrower_actions``; ``service_error`` puts a service's refusal beside its field.

Render them inside ``translation.override(<the borrower's language>)``: labels and choices are built then."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from collections_app.forms import BoundedDateField
from collections_app.models import Frequency
from collections_app.selectors.borrower_actions import (
    CallbackSlots,
    ContactPreferences,
    PlanOption,
    PlanOptions,
    PromiseLimits,
    Slot,
)
from collections_app.services.cases import CaseError, InvalidRequest
from collections_app.uploads import max_bytes, upload_kind
from loans.models import Language, PreferredChannel
from loans.money import format_money


def _day(value: dt.date) -> str:
    return formats.date_format(value, "DATE_FORMAT")


def service_error(form: forms.Form, error: CaseError) -> None:
    """A service's refusal shown on the form: beside its field when the form has one, above it otherwise."""
    field = getattr(error, "field", "") if isinstance(error, InvalidRequest) else ""
    form.add_error(field if field in form.fields else None, str(error))


# ---------------------------------------------------------------------------------------------------------------
# Promise
# ---------------------------------------------------------------------------------------------------------------
class BorrowerPromiseForm(forms.Form):
    """A promise to pay by a date within the collection policy's limits (``PromiseLimits``)."""

    amount = forms.DecimalField(label=_("Amount"), min_value=Decimal("0.01"), max_digits=14, decimal_places=2)
    # ISO whatever the language: a date input reads only that (the Chinese input format would leave it empty).
    promised_on = BoundedDateField(label=_("I will pay by"),
                                   widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))  # fmt: skip

    def __init__(self, *args: Any, limits: PromiseLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.fields["amount"].initial = limits.suggested_amount
        self.fields["amount"].help_text = _("In %(currency)s, at most %(most)s.") % {
            "currency": limits.currency,
            "most": format_money(limits.max_amount, limits.currency),
        }
        self.fields["promised_on"].initial = limits.earliest
        self.fields["promised_on"].widget.attrs.update(min=limits.earliest.isoformat(), max=limits.latest.isoformat())
        self.fields["promised_on"].help_text = self._date_range()

    def _date_range(self) -> str:
        return str(
            _("A date from %(earliest)s to %(latest)s.")
            % {"earliest": _day(self.limits.earliest), "latest": _day(self.limits.latest)}
        )

    def clean_amount(self) -> Decimal:
        amount: Decimal = self.cleaned_data["amount"]
        if amount > self.limits.max_amount:
            raise forms.ValidationError(
                _("That is more than you owe on this loan (%(most)s).")
                % {"most": format_money(self.limits.max_amount, self.limits.currency)}
            )
        return amount

    def clean_promised_on(self) -> dt.date:
        day: dt.date = self.cleaned_data["promised_on"]
        if not self.limits.earliest <= day <= self.limits.latest:
            raise forms.ValidationError(_("Please choose a date from %(earliest)s to %(latest)s.") % {
                "earliest": _day(self.limits.earliest), "latest": _day(self.limits.latest)})  # fmt: skip
        return day

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.limits.unavailable:
            raise forms.ValidationError(str(self.limits.unavailable))
        return data


# ---------------------------------------------------------------------------------------------------------------
# Installment plan
# ---------------------------------------------------------------------------------------------------------------
EVERY = {
    Frequency.WEEKLY: _("%(count)s weekly payments of %(each)s"),
    Frequency.BIWEEKLY: _("%(count)s payments of %(each)s every two weeks"),
    Frequency.MONTHLY: _("%(count)s monthly payments of %(each)s"),
}


def plan_option_label(option: PlanOption, currency: str) -> str:
    """One plan in words: "10.00 today, then 3 monthly payments of 30.00 — starts at once"."""
    down = option.payments[0][1] if option.down_payment > 0 else None
    rest = option.payments[1:] if down is not None else option.payments
    words = str(EVERY[Frequency(option.frequency)]) % {
        "count": option.count,
        "each": format_money(rest[0][1], currency),
    }
    if down is not None:
        words = str(_("%(down)s on %(day)s, then %(rest)s")) % {
            "down": format_money(down, currency),
            "day": _day(option.starts_on),
            "rest": words,
        }
    outcome = _("starts at once") if option.starts_at_once else _("needs our manager's approval")
    return f"{words} ({outcome})"


class PlanChoiceForm(forms.Form):
    """One of the plans offered (``PlanOptions``); ``options`` keeps each one's payments for the page to list."""

    option = forms.ChoiceField(label=_("Choose a plan"), widget=forms.RadioSelect)

    def __init__(self, *args: Any, offered: PlanOptions, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offered = offered
        self.options = {o.key: o for o in offered.options}
        choices = [(o.key, plan_option_label(o, offered.currency)) for o in offered.options]
        cast(forms.ChoiceField, self.fields["option"]).choices = choices
        self.fields["option"].error_messages["invalid_choice"] = _("Choose one of the plans offered.")
        self.fields["option"].error_messages["required"] = _("Choose one of the plans offered.")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.offered.unavailable:
            raise forms.ValidationError(str(self.offered.unavailable))
        return data


# ---------------------------------------------------------------------------------------------------------------
# Dispute
# ---------------------------------------------------------------------------------------------------------------
DISPUTE_CHOICES = [
    ("not_mine", _("This is not my debt")),
    ("paid", _("I have already paid")),
    ("wrong_amount", _("The amount is wrong")),
    ("fraud", _("Someone used my identity")),
    ("other", _("Another reason")),
]


class DisputeForm(forms.Form):
    """Why the borrower disputes the debt, in their words, and a document if they have one (PDF, JPEG or PNG, told by
    its content, at most ``DISPUTE_UPLOAD_MAX_BYTES``). A browser never keeps a chosen file after an error: the
    page says to choose it again."""

    reason = forms.ChoiceField(label=_("Why do you dispute this debt?"), choices=DISPUTE_CHOICES,
                               widget=forms.RadioSelect)  # fmt: skip
    details = forms.CharField(label=_("Tell us more"), max_length=2000, required=False,
                              widget=forms.Textarea(attrs={"rows": 4}))  # fmt: skip
    document = forms.FileField(label=_("A document that shows it (optional)"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        megabytes = max_bytes() // (1024 * 1024)
        self.fields["document"].help_text = _("A PDF, JPEG or PNG file, at most %(mb)s MB.") % {"mb": megabytes}
        self.fields["document"].widget.attrs["accept"] = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"
        self.fields["reason"].error_messages["required"] = _("Choose why you dispute this debt.")

    def clean_document(self) -> Any:
        document = self.cleaned_data.get("document")
        if not document:
            return None
        if document.size > max_bytes():
            raise forms.ValidationError(
                _("The file is too large: at most %(mb)s MB.") % {"mb": max_bytes() // (1024 * 1024)}
            )
        if not upload_kind(document):
            raise forms.ValidationError(_("This file is not a PDF, JPEG or PNG document."))
        return document

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("reason") == "other" and not (data.get("details") or "").strip():
            self.add_error("details", _("Please tell us why you dispute this debt."))
        return data


# ---------------------------------------------------------------------------------------------------------------
# Contact preferences
# ---------------------------------------------------------------------------------------------------------------
def _half_hours(first: str, last: str) -> list[tuple[str, str]]:
    start, end = dt.datetime.strptime(first, "%H:%M"), dt.datetime.strptime(last, "%H:%M")
    times = []
    while start <= end:
        times.append((start.strftime("%H:%M"), start.strftime("%H:%M")))
        start += dt.timedelta(minutes=30)
    return times


class PreferencesForm(forms.Form):
    """Times not to be contacted (the borrower's local time, its zone named), the language and channel they prefer,
    and stopping texts, e-mail or automated calls; their own words go with it."""

    quiet_before = forms.ChoiceField(label=_("Do not contact me before"), required=False,
                                     choices=[("", _("no limit")), *_half_hours("08:30", "12:00")])  # fmt: skip
    quiet_after = forms.ChoiceField(label=_("Do not contact me after"), required=False,
                                    choices=[("", _("no limit")), *_half_hours("17:00", "20:30")])  # fmt: skip
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)
    preferred_channel = forms.ChoiceField(label=_("I prefer to hear from you by"), required=False,
                                          choices=[("", _("no preference")), *PreferredChannel.choices])  # fmt: skip
    stop_sms = forms.BooleanField(label=_("Stop text messages"), required=False)
    stop_email = forms.BooleanField(label=_("Stop e-mails"), required=False)
    stop_automated_calls = forms.BooleanField(label=_("Stop automated calls"), required=False)
    words = forms.CharField(label=_("In your own words (optional)"), max_length=500, required=False,
                            widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip

    def __init__(self, *args: Any, current: ContactPreferences, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "quiet_before": current.quiet_before,
                "quiet_after": current.quiet_after,
                "language": current.language,
                "preferred_channel": current.preferred_channel,
                "stop_sms": current.stop_sms,
                "stop_email": current.stop_email,
                "stop_automated_calls": current.stop_automated_calls,
                "words": current.words,
            },
        )
        super().__init__(*args, **kwargs)
        self.zone = current.zone
        for name in ("quiet_before", "quiet_after"):
            self.fields[name].help_text = _("Your local time (%(zone)s).") % {"zone": current.zone}

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        before, after = data.get("quiet_before"), data.get("quiet_after")
        if before and after and after <= before:
            self.add_error("quiet_after", _("The evening time must be later than the morning time."))
        return data


# ---------------------------------------------------------------------------------------------------------------
# Call back
# ---------------------------------------------------------------------------------------------------------------
def slot_label(slot: Slot, zone: str) -> str:
    """E.g. "1 December 2026, 10:00 to 10:30" with the zone: the borrower's own clock, its zone named."""
    return f"{_day(slot.start.date())}, {slot.start:%H:%M}–{slot.end:%H:%M} ({zone})"


class CallbackForm(forms.Form):
    """One of the half-hours the gate allows a collector to call in (``CallbackSlots``), in the borrower's zone."""

    slot = forms.ChoiceField(label=_("Call me back"))

    def __init__(self, *args: Any, offered: CallbackSlots, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offered = offered
        self.slots = {s.key: s for s in offered.slots}
        choices = [(s.key, slot_label(s, offered.zone)) for s in offered.slots]
        cast(forms.ChoiceField, self.fields["slot"]).choices = choices
        self.fields["slot"].help_text = _("Your local time (%(zone)s).") % {"zone": offered.zone}
        self.fields["slot"].error_messages["invalid_choice"] = _("Please choose one of the times offered.")
        self.fields["slot"].error_messages["required"] = _("Please choose one of the times offered.")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.offered.unavailable:
            raise forms.ValidationError(str(self.offered.unavailable))
        if data.get("slot"):
            data["start"] = self.slots[data["slot"]].start
        return data
