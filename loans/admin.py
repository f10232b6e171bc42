"""Django admin for the loans domain: searchable, filterable; snapshot and allocation columns are read-only."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from loans.models import (
    Borrower,
    EmailAddress,
    Installment,
    Loan,
    LoanProduct,
    Payment,
    PaymentAllocation,
    PaymentCheckout,
    PhoneNumber,
)
from loans.services import borrowers_refresh_time_zones
from loans.versioning import version_publish


class PhoneInline(admin.TabularInline):
    model = PhoneNumber
    extra = 0
    fields = ["number", "kind", "sms_consent", "autodial_consent", "position"]


class EmailInline(admin.TabularInline):
    model = EmailAddress
    extra = 0
    fields = ["address", "kind"]


@admin.register(Borrower)
class BorrowerAdmin(admin.ModelAdmin):
    list_display = ["full_name", "external_id", "language", "country", "region", "city", "national_id_masked"]
    list_filter = ["language", "country", "region"]
    search_fields = ["full_name", "external_id", "phones__number", "emails__address"]
    readonly_fields = ["national_id_masked", "time_zones", "created_at", "updated_at"]
    inlines = [PhoneInline, EmailInline]

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Address, override or phones may have changed: the candidate zones follow from them.
        borrowers_refresh_time_zones(borrower_ids=[form.instance.pk])

    fieldsets = [
        (None, {"fields": ["external_id", "full_name", "language", "national_id_masked", "birth_date"]}),
        (_("Address"), {"fields": ["address_line1", "address_line2", "city", "region", "postal_code", "country"]}),
        (_("Time zones"), {"fields": ["timezone", "time_zones"]}),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    ]


@admin.register(PhoneNumber)
class PhoneNumberAdmin(admin.ModelAdmin):
    list_display = ["number", "borrower", "kind", "sms_consent", "autodial_consent"]
    list_filter = ["kind", "sms_consent", "autodial_consent"]
    search_fields = ["number", "borrower__full_name", "borrower__external_id"]
    autocomplete_fields = ["borrower"]


@admin.register(EmailAddress)
class EmailAddressAdmin(admin.ModelAdmin):
    list_display = ["address", "borrower", "kind"]
    list_filter = ["kind"]
    search_fields = ["address", "borrower__full_name"]
    autocomplete_fields = ["borrower"]


@admin.register(LoanProduct)
class LoanProductAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "lender_name", "currency", "timezone", "portal_factor"]
    list_filter = ["currency", "portal_factor"]
    search_fields = ["code", "name", "lender_name"]


class VersionedAdmin(admin.ModelAdmin):
    """Configuration that is versioned (loans.versioning): saving publishes a new version, old ones are history."""

    version_scope: tuple[str, ...] = ()  # the fields that identify one versioned thing, e.g. ("product_id",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and not obj.is_current:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> None:
        scope = {name: getattr(obj, name) for name in self.version_scope}
        new = version_publish(instance=obj, scope=scope, actor=request.user)
        messages.info(
            request, _("Saved as version %(version)s; earlier versions stay for the record.") % {"version": new.version}
        )


class ReadOnlyInline(admin.TabularInline):
    """Rows that only services write (schedules come from intake; payments are re-allocated as a whole)."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: models.Model | None = None) -> list[str]:
        return cast("list[str]", self.fields)  # every such inline lists plain field names

    def has_add_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Facts written only by services: visible, searchable, never edited by hand."""

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


class InstallmentInline(ReadOnlyInline):
    model = Installment
    fields = [
        "number",
        "due_date",
        "principal_due",
        "interest_due",
        "fee_due",
        "opening_paid",
        "principal_paid",
        "interest_paid",
        "fee_paid",
        "paid_on",
    ]


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["reference", "amount", "currency", "received_at", "source", "unapplied_amount"]


@admin.register(Loan)
class LoanAdmin(admin.ModelAdmin):
    list_display = [
        "external_id",
        "borrower",
        "product",
        "principal",
        "currency",
        "status",
        "days_past_due",
        "amount_overdue",
        "outstanding_balance",
    ]
    list_filter = ["status", "product", "currency"]
    list_select_related = ["borrower", "product"]
    search_fields = ["external_id", "borrower__full_name", "borrower__external_id"]
    readonly_fields = [
        "days_past_due",
        "overdue_since",
        "amount_overdue",
        "outstanding_balance",
        "credit_balance",
        "balances_as_of",
        "created_at",
        "updated_at",
    ]
    autocomplete_fields = ["borrower"]
    date_hierarchy = "disbursed_on"
    inlines = [InstallmentInline, PaymentInline]


@admin.register(Installment)
class InstallmentAdmin(ReadOnlyAdmin):
    list_display = ["loan", "number", "due_date", "principal_due", "interest_due", "fee_due", "paid_on"]
    list_filter = [("paid_on", admin.EmptyFieldListFilter), "due_date"]
    list_select_related = ["loan"]
    search_fields = ["loan__external_id"]


class AllocationInline(ReadOnlyInline):
    model = PaymentAllocation
    fields = ["installment", "component", "amount"]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["reference", "loan", "amount", "currency", "received_at", "source", "unapplied_amount"]
    list_filter = ["source", "currency"]
    list_select_related = ["loan"]
    search_fields = ["reference", "loan__external_id"]
    date_hierarchy = "received_at"
    inlines = [AllocationInline]


@admin.register(PaymentCheckout)
class PaymentCheckoutAdmin(ReadOnlyAdmin):
    """Online payment attempts, as the provider left them (written only by ``loans.payments``)."""

    list_display = ["created_at", "loan", "kind", "amount", "currency", "provider", "status", "completed_at"]
    list_filter = ["status", "provider", "kind"]
    list_select_related = ["loan"]
    search_fields = ["provider_id", "loan__external_id"]
    date_hierarchy = "created_at"
