from django.contrib import admin

from loans.admin import ReadOnlyAdmin
from notifications.models import OutboundMessage


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["idempotency_key", "channel", "purpose", "status", "planned_for", "updated_at"]
    list_filter = ["status", "channel", "purpose"]
    search_fields = ["idempotency_key", "loan__external_id"]
    date_hierarchy = "planned_for"
