from django.contrib import admin

from core.models import UserSettings


@admin.register(UserSettings)
class UserSettingsAdmin(admin.ModelAdmin):
    """A user's language and time zone (empty: their team's)."""

    list_display = ["user", "language", "timezone"]
    search_fields = ["user__username"]
