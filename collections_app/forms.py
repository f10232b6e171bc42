"""Forms of the case page and the managers' queues: they parse and validate input; services do the work."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from collections_app.models import (
    BreathingSpaceType,
    CallParty,
    CallResult,
    CloseReason,
    ComplaintCategory,
    ComplaintChannel,
    DisputeChannel,
    ForbearanceKind,
    Frequency,
    HoldKind,
    VisitStatus,
)
from loans.inputs import DATE_RANGE_MESSAGE, MAX_ID, date_in_range
from notifications.models import LETTER_ONLY_PURPOSES, REQUIRED_LETTER_PURPOSES, MessagePurpose


def _in_range(value: dt.date | None) -> None:
    if value is not None and not date_in_range(value):
        raise forms.ValidationError(DATE_RANGE_MESSAGE, code="date_range")


class BoundedDateField(forms.DateField):
    """A date within the range the system accepts (``loans.inputs``): year 9999 plus a day overflows."""

    default_validators = [_in_range]


class BoundedDateTimeField(forms.DateTimeField):
    """An instant within the range the system accepts: local times of 9999-12-31 overflow a datetime."""

    default_validators = [_in_range]


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=2000, required=False, widget=forms.TextInput)
    close_reason = forms.ChoiceField(label=_("Why close"), choices=[("", "—"), *CloseReason.choices], required=False)


class CallStartForm(forms.Form):
    to = forms.CharField(label=_("Number"), max_length=32)


class ZonedForm(forms.Form):
    """A form whose typed date-times are read in a named zone — the borrower's, for visits and callbacks — and say
    which beside the field (a bare 02:00 is not a time until a zone is named)."""

    zoned_fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, zone: str = "UTC", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zone
        for name in self.zoned_fields:
            self.fields[name].help_text = _("The borrower's local time (%(zone)s).") % {"zone": zone}

    def full_clean(self) -> None:
        # Django reads a naive typed date-time in the current time zone: make that the named one while cleaning.
        with timezone.override(ZoneInfo(self.zone)):
            super().full_clean()

    def local(self, instant: Any) -> Any:
        """An instant as the naive local value a datetime-local input shows."""
        return timezone.localtime(instant, ZoneInfo(self.zone)).replace(tzinfo=None, second=0, microsecond=0)


# One-click outcomes of the call card: (who answered, result). "Right party, promise" records the promise too,
# from the amount and date beside the button (filled in: the amount overdue, a few days ahead).
DISPOSITION_PRESETS: dict[str, tuple[str, str]] = {
    "right_party-promise": (CallParty.RIGHT_PARTY, CallResult.PROMISE),
    "no_answer": (CallParty.NO_ANSWER, ""),
    "voicemail": (CallParty.VOICEMAIL, ""),
    "busy": (CallParty.BUSY, ""),
    "wrong_party": (CallParty.WRONG_PARTY, ""),
}


class DispositionForm(ZonedForm):
    """A call's disposition. Who answered has no default: a pre-selected answer would put an outcome in the ledger
    nobody chose — it is chosen in the list or by one of the outcome buttons (``preset``). The time to call back is
    the collector's own local time (their profile's zone), named beside it. With the result "promise to pay", an
    amount and a date record the promise in the same step; without them the promise form follows. ``then=next``:
    the next case opens once it is saved."""

    decision = forms.IntegerField(label=_("Call"), widget=forms.HiddenInput)
    preset = forms.ChoiceField(
        label=_("Outcome"), choices=[("", ""), *((k, k) for k in DISPOSITION_PRESETS)], required=False
    )
    party = forms.ChoiceField(label=_("Who answered"), choices=[("", "—"), *CallParty.choices], required=False)
    result = forms.ChoiceField(
        label=_("Result"), choices=[("", _("nothing agreed")), *CallResult.choices], required=False
    )
    callback_at = BoundedDateTimeField(
        label=_("Call back at"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    note = forms.CharField(label=_("Note"), max_length=2000, required=False, widget=forms.TextInput)
    promise_amount = forms.DecimalField(
        label=_("Promised amount"), min_value=Decimal("0.01"), max_digits=14, decimal_places=2, required=False
    )
    promise_on = BoundedDateField(label=_("Pay by"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    then = forms.ChoiceField(label=_("Then"), choices=[("", ""), ("next", "next")], required=False)
    zoned_fields = ("callback_at",)

    def __init__(self, *args: Any, zone: str = "UTC", **kwargs: Any) -> None:
        super().__init__(*args, zone=zone, **kwargs)
        self.fields["callback_at"].help_text = _("Your local time (%(zone)s).") % {"zone": zone}

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("preset"):
            data["party"], data["result"] = DISPOSITION_PRESETS[data["preset"]]
        if not data.get("party") and "party" not in self.errors:
            self.add_error("party", _("Say who answered."))
        promised = (data.get("promise_amount"), data.get("promise_on"))
        if data.get("result") == CallResult.PROMISE and any(promised) and not all(promised):
            missing = "promise_on" if promised[0] else "promise_amount"
            self.add_error(missing, _("Give both the amount and the date of the promise."))
        return data


class RecordingHoldForm(forms.Form):
    recording = forms.IntegerField(min_value=1, max_value=MAX_ID)
    hold = forms.BooleanField(required=False)


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class PromiseForm(forms.Form):
    """A promise on the case; ``others``: the borrower's other open cases it may cover too, each with its amount."""

    amount = forms.DecimalField(label=_("Amount"), min_value=Decimal("0.01"), max_digits=14, decimal_places=2)
    promised_on = BoundedDateField(label=_("Pay by"), widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("Note"), max_length=2000, required=False)

    def __init__(self, *args: Any, others: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _also_fields(self, others, _("Amount for loan %(reference)s"), Decimal("0.01"))

    def clean(self) -> dict[str, Any]:
        return _also_clean(self, super().clean() or {}, _("Give the amount promised on this loan."))


def _also_fields(form: forms.Form, others: Sequence[Any], amount_label: Any, minimum: Decimal) -> None:
    """For each of the borrower's other open cases: a box "also covers loan X" and the amount for that loan."""
    form.others = list(others)  # type: ignore[attr-defined]
    for case in form.others:  # type: ignore[attr-defined]
        reference = {"reference": case.loan.external_id}
        form.fields[f"also_{case.pk}"] = forms.BooleanField(
            label=_("Also covers loan %(reference)s") % reference, required=False
        )
        form.fields[f"also_amount_{case.pk}"] = forms.DecimalField(
            label=amount_label % reference, min_value=minimum, max_digits=14, decimal_places=2, required=False
        )


def _also_clean(form: forms.Form, data: dict[str, Any], missing: Any) -> dict[str, Any]:
    """``also``: case id → amount, for the boxes ticked (an amount is required beside each); the rest dropped."""
    also: dict[int, Decimal] = {}
    for case in form.others:  # type: ignore[attr-defined]
        ticked = data.pop(f"also_{case.pk}", False)
        amount = data.pop(f"also_amount_{case.pk}", None)
        if not ticked:
            continue
        if amount is None:
            if f"also_amount_{case.pk}" not in form.errors:
                form.add_error(f"also_amount_{case.pk}", missing)
            continue
        also[case.pk] = amount
    data["also"] = also
    return data


class BorrowerPromiseForm(forms.Form):
    """One promise covering several of a borrower's loans (the borrower page): per open case a box to tick and the
    amount promised on that loan; one date for all."""

    promised_on = BoundedDateField(label=_("Pay by"), widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("Note"), max_length=2000, required=False)

    def __init__(self, *args: Any, cases: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cases = list(cases)
        for case in self.cases:
            self.fields[f"cover_{case.pk}"] = forms.BooleanField(
                label=_("Cover loan %(reference)s") % {"reference": case.loan.external_id},
                required=False,
                widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
            )
            self.fields[f"amount_{case.pk}"] = forms.DecimalField(
                label=_("Amount for loan %(reference)s") % {"reference": case.loan.external_id},
                min_value=Decimal("0.01"),
                max_digits=14,
                decimal_places=2,
                required=False,
                widget=forms.NumberInput(attrs={"class": "form-control form-control-sm", "step": "0.01"}),
            )

    def rows(self) -> list[tuple[Any, forms.BoundField, forms.BoundField]]:
        """(case, its box, its amount), in the order of the cases."""
        return [(c, self[f"cover_{c.pk}"], self[f"amount_{c.pk}"]) for c in self.cases]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        amounts: dict[int, Decimal] = {}
        for case in self.cases:
            if not data.get(f"cover_{case.pk}"):
                continue
            amount = data.get(f"amount_{case.pk}")
            if amount is None:
                if f"amount_{case.pk}" not in self.errors:
                    self.add_error(f"amount_{case.pk}", _("Give the amount promised on this loan."))
                continue
            amounts[case.pk] = amount
        if not amounts and not self.errors:
            raise forms.ValidationError(_("Tick at least one loan the promise covers."))
        data["amounts"] = amounts
        return data


class PlanForm(forms.Form):
    down_payment = forms.DecimalField(label=_("Down payment"), min_value=Decimal("0"), max_digits=14, decimal_places=2)
    count = forms.IntegerField(label=_("Installments"), min_value=1, max_value=60)
    frequency = forms.ChoiceField(label=_("Frequency"), choices=Frequency.choices)
    starts_on = BoundedDateField(label=_("First payment on"), widget=forms.DateInput(attrs={"type": "date"}))
    waive = forms.DecimalField(label=_("Fees waived"), min_value=Decimal("0"), max_digits=14, decimal_places=2,
                               required=False, initial=Decimal("0"))  # fmt: skip

    def __init__(self, *args: Any, others: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _also_fields(self, others, _("Down payment for loan %(reference)s"), Decimal("0"))

    def clean_waive(self) -> Decimal:
        # Left empty: nothing waived (the service compares it with the overdue fees).
        return self.cleaned_data.get("waive") or Decimal("0")

    def clean(self) -> dict[str, Any]:
        return _also_clean(self, super().clean() or {}, _("Give the down payment on this loan (0 for none)."))


class HoldForm(forms.Form):
    kind = forms.ChoiceField(label=_("Hold"), choices=HoldKind.choices)
    reason = forms.CharField(label=_("Reason"), max_length=2000)
    document_ref = forms.CharField(label=_("Document"), max_length=200, required=False)
    # BS-01: only for a breathing space (standard: 60 days; mental-health crisis: until the treatment ends + 30 days).
    breathing_space_type = forms.ChoiceField(
        label=_("Breathing space"), choices=[("", "—"), *BreathingSpaceType.choices], required=False
    )
    treatment_ends_on = forms.DateField(
        label=_("Crisis treatment ends on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class DisputeForm(forms.Form):
    """A dispute staff record (DSP-01): how and when it came, in writing or not, and whether it asks for the
    original creditor. A letter is writing; a call is not."""

    channel = forms.ChoiceField(
        label=_("How it came"),
        choices=[(c, DisputeChannel(c).label) for c in ("letter", "staff", "call")],
    )
    received_on = forms.DateField(
        label=_("Dispute received on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Blank: today."),
    )
    written = forms.BooleanField(label=_("In writing (a letter, an e-mail, a form)"), required=False)
    original_creditor = forms.BooleanField(label=_("Asks for the original creditor's name and address"), required=False)
    reason = forms.CharField(label=_("What the borrower disputes"), max_length=2000)


class DisputeVerificationForm(forms.Form):
    dispute = forms.IntegerField(widget=forms.HiddenInput)


class ForbearanceForm(forms.Form):
    """FB-01: forbearance offered or agreed, or a referral to free debt advice."""

    kind = forms.ChoiceField(label=_("Forbearance"), choices=ForbearanceKind.choices)
    details = forms.CharField(
        label=_("Details"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    starts_on = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


# The channels staff record a complaint from on the case page (texts are confirmed from the classifier's list, the
# borrower's page and the lender's system record their own).
STAFF_COMPLAINT_CHANNELS = (
    ComplaintChannel.CALL,
    ComplaintChannel.LETTER,
    ComplaintChannel.EMAIL,
    ComplaintChannel.IN_PERSON,
)


class ComplaintForm(ZonedForm):
    """CMP-01: a complaint staff received (a call, a letter, an e-mail, in person), with when it was received — the
    collector's own local time, named beside the field; empty: now. Its clocks start on the borrower's date."""

    category = forms.ChoiceField(label=_("What about"), choices=[("", "—"), *ComplaintCategory.choices])
    channel = forms.ChoiceField(
        label=_("Received by"),
        choices=[("", "—"), *((c.value, c.label) for c in STAFF_COMPLAINT_CHANNELS)],
    )
    received_at = BoundedDateTimeField(
        label=_("Received at"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    summary = forms.CharField(
        label=_("What the borrower says"), max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )
    zoned_fields = ("received_at",)

    def __init__(self, *args: Any, zone: str = "UTC", **kwargs: Any) -> None:
        super().__init__(*args, zone=zone, **kwargs)
        self.fields["received_at"].help_text = _("Your local time (%(zone)s); empty: now.") % {"zone": zone}


class BreathingSpaceTreatmentForm(forms.Form):
    """BS-01: the end of a mental-health crisis breathing space's treatment, known (or changed) after it was placed."""

    hold = forms.IntegerField(widget=forms.HiddenInput)
    treatment_ends_on = BoundedDateField(
        label=_("Crisis treatment ends on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.TextInput)


class HoldLiftForm(forms.Form):
    hold = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Reason"), max_length=2000)


class VisitForm(ZonedForm):
    address = forms.CharField(label=_("Address"), max_length=500)
    window_start = BoundedDateTimeField(label=_("From"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    window_end = BoundedDateTimeField(label=_("Until"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    second_collector = forms.ChoiceField(label=_("Second collector"), required=False)
    zoned_fields = ("window_start", "window_end")

    def __init__(self, *args: Any, partners: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The other collectors of the case's team (username, display name): nobody else may go (CN-08, issue 11).
        cast(forms.ChoiceField, self.fields["second_collector"]).choices = [("", "—"), *partners]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("window_start") and data.get("window_end") and data["window_end"] <= data["window_start"]:
            self.add_error("window_end", _("The visit window must end after it starts."))
        return data


class VisitRecordForm(ZonedForm):
    visit = forms.IntegerField(widget=forms.HiddenInput)
    status = forms.ChoiceField(
        label=_("What happened"),
        choices=[(s, label) for s, label in VisitStatus.choices if s != VisitStatus.SCHEDULED],
    )
    outcome = forms.CharField(label=_("Outcome"), max_length=2000, required=False)
    visited_at = BoundedDateTimeField(
        label=_("Visited at"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    zoned_fields = ("visited_at",)


class GraceForm(forms.Form):
    days = forms.IntegerField(label=_("Days of hardship grace"), min_value=1, max_value=365)
    reason = forms.CharField(label=_("Reason"), max_length=2000)


class SmsForm(forms.Form):
    purpose = forms.ChoiceField(
        label=_("Message"),
        choices=[
            (p, label)
            for p, label in MessagePurpose.choices
            if p != MessagePurpose.OPT_OUT_CONFIRMATION
            and p not in LETTER_ONLY_PURPOSES
            and p not in REQUIRED_LETTER_PURPOSES
        ],
    )
