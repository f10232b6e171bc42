"""The borrower's payment form: what to pay on one loan (the amount overdue, the full balance or an amount of their
choice, at least the policy's minimum). It works without JavaScript: radio buttons and a text field; an error is
shown beside its field, in the borrower's language, and what was typed stays."""

from __future__ import annotations

import re
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from loans.models import PaymentKind
from loans.payments import PaymentAmountError, payment_amount
from portal.selectors import LoanLine

KEY = re.compile(r"^[0-9a-f]{32}$")


def new_key() -> str:
    """One press of "pay": the payment's key (a form sent twice starts one payment), never guessable."""
    return secrets.token_hex(16)


class PayForm(forms.Form):
    """What to pay on one loan of the page (``line``)."""

    kind = forms.ChoiceField(choices=PaymentKind.choices, error_messages={"required": _("Choose what to pay.")})
    amount = forms.CharField(required=False, max_length=20)
    key = forms.CharField(max_length=32)

    def __init__(self, *args: Any, line: LoanLine, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = line
        self.paid: Decimal | None = None
        if not self.is_bound:
            self.initial = {"kind": PaymentKind.OVERDUE if line.overdue > 0 else PaymentKind.BALANCE, "key": new_key()}

    @property
    def prefix_id(self) -> str:
        """The ids of this loan's fields (a page may hold a form per loan)."""
        return f"pay-{self.line.reference}"

    @property
    def kind_value(self) -> str:
        return str(self["kind"].value() or "")

    @property
    def amount_value(self) -> str:
        return str(self["amount"].value() or "")

    @property
    def key_value(self) -> str:
        return str(self["key"].value() or "")

    def clean_key(self) -> str:
        key = self.cleaned_data["key"]
        if not KEY.match(key):
            raise forms.ValidationError(_("This form is out of date. Please try again."))
        return key

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if not kind:
            return data
        chosen: Decimal | None = None
        if kind == PaymentKind.CHOSEN:
            typed = re.sub(r"[\s,，]", "", data.get("amount") or "")
            if not typed:
                self.add_error("amount", _("Enter an amount."))
                return data
            try:
                chosen = Decimal(typed)
            except InvalidOperation:
                self.add_error("amount", _("Enter an amount in figures, for example 25.00."))
                return data
            if not chosen.is_finite():
                self.add_error("amount", _("Enter an amount in figures, for example 25.00."))
                return data
        try:
            self.paid = payment_amount(loan=self.line.loan, kind=kind, chosen=chosen, minimum=self.line.minimum)
        except PaymentAmountError as exc:
            self.add_error("amount" if kind == PaymentKind.CHOSEN else "kind", str(exc))
        return data
