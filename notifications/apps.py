from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    """Message templates, the outbox, provider backends (Twilio, console, in-memory) and webhooks."""

    name = "notifications"
    verbose_name = _("Notifications")
