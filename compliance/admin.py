"""Admin: jurisdiction profiles (validated, every save a new version); the ledger, consents and decisions read-only."""

from __future__ import annotations

from django.contrib import admin

from compliance.models import ConsentEvent, ContactEvent, Decision, JurisdictionProfile, Restriction
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
