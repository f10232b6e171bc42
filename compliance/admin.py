from django.contrib import admin

from compliance.models import Restriction


@admin.register(Restriction)
class RestrictionAdmin(admin.ModelAdmin):
    list_display = ["borrower", "kind", "loan", "starts_at", "ends_at", "lifted_at", "source"]
    list_filter = ["kind"]
    search_fields = ["borrower__full_name", "borrower__external_id", "document_ref"]
    raw_id_fields = ["borrower", "loan"]
    readonly_fields = ["created_by", "created_at", "lifted_by", "source"]
