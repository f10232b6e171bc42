"""Admin: jurisdiction profiles (validated, every save a new version); the ledger, consents and decisions read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from compliance.models import (
    CollectorCertification,
    ConsentEvent,
    ContactEvent,
    DebtClock,
    Decision,
    JurisdictionProfile,
    Restriction,
)
from compliance.services.certification import certification_withdraw
from loans.admin import ReadOnlyAdmin, VersionedAdmin


@admin.register(Restriction)
class RestrictionAdmin(admin.ModelAdmin):
    list_display = ["borrower", "kind", "loan", "starts_at", "ends_at", "lifted_at", "source"]
    list_filter = ["kind"]
    search_fields = ["borrower__full_name", "borrower__external_id", "document_ref"]
    raw_id_fields = ["borrower", "loan"]
    readonly_fields = ["created_by", "created_at", "lifted_by", "source"]


@admin.register(JurisdictionProfile)
class JurisdictionProfileAdmin(VersionedAdmin):
    """Parameters are JSON checked against compliance.presets.SCHEMA; saving publishes a new version."""

    version_scope = ("code",)
    list_display = ["code", "version", "is_current", "created_at", "created_by"]
    list_filter = ["is_current", "code"]
    readonly_fields = ["version", "is_current", "created_at", "created_by"]


@admin.register(ContactEvent)
class ContactEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "borrower", "channel", "direction", "outcome", "automated", "is_exception", "actor"]
    list_filter = ["is_exception", "channel", "outcome", "direction", "automated"]
    search_fields = ["borrower__full_name", "borrower__external_id"]
    date_hierarchy = "at"


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "borrower", "channel", "outcome", "allowed", "next_allowed_at", "dry_run", "actor"]
    list_filter = ["outcome", "allowed", "channel", "dry_run"]
    search_fields = ["borrower__full_name", "borrower__external_id"]
    date_hierarchy = "created_at"


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "borrower", "medium", "address", "kind", "source"]
    list_filter = ["kind", "medium", "source"]
    search_fields = ["address", "borrower__full_name"]


@admin.register(DebtClock)
class DebtClockAdmin(ReadOnlyAdmin):
    """VAL-01's and DN-01's clock per debt, written by the contact ledger and when the validation notice or the
    default notice leaves; found by case number (a debt's cases), loan reference or borrower."""

    list_display = ["loan", "borrower", "first_communication_at", "before_system", "notice_mailed_on",
                    "validation_period_ends_on", "default_notice_remedy_by"]  # fmt: skip
    list_filter = [
        "before_system",
        ("notice_mailed_on", admin.EmptyFieldListFilter),
        ("default_notice_remedy_by", admin.EmptyFieldListFilter),
    ]
    list_select_related = ["loan", "borrower"]
    search_fields = ["=loan__cases__id", "^loan__external_id", "^borrower__external_id", "borrower__full_name"]
    date_hierarchy = "first_communication_at"


class CertificationAdminForm(forms.ModelForm):
    class Meta:
        model = CollectorCertification
        fields = ["collector", "course", "passed_on", "expires_on", "evidence_reference"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        passed, expires = data.get("passed_on"), data.get("expires_on")
        if passed and passed > timezone.localdate():
            self.add_error("passed_on", _("the exam cannot have been passed in the future"))
        if passed and expires and expires < passed:
            self.add_error("expires_on", _("the certificate cannot expire before it was passed"))
        return data


@admin.register(CollectorCertification)
class CollectorCertificationAdmin(admin.ModelAdmin):
    """Collectors' training records (CERT-01): added here or on the managers' page; never edited afterwards, only
    withdrawn (the gate stops counting a withdrawn record)."""

    form = CertificationAdminForm
    list_display = ["collector", "course", "passed_on", "expires_on", "recorded_by", "revoked_at"]
    list_filter = ["expires_on"]
    search_fields = ["collector__username", "collector__first_name", "course", "evidence_reference"]
    autocomplete_fields = ["collector"]
    actions = ["withdraw"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fixed = ["recorded_by", "recorded_at", "revoked_at", "revoked_by"]
        return fixed if obj is None else [*CertificationAdminForm.Meta.fields, *fixed]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.recorded_by = request.user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Withdraw the selected training records"))
    def withdraw(self, request: HttpRequest, queryset: Any) -> None:
        for record in queryset:
            certification_withdraw(certification_id=record.pk, actor=request.user)
