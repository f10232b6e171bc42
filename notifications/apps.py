from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    """Message templates, the outbox, provider backends (Twilio, console, in-memory) and webhooks."""

    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from loans.payments import payment_completed_register
        from notifications.services import portal_payment_completed

        # A payment started on the borrower's page is audited as completed when the provider confirms it.
        payment_completed_register(portal_payment_completed)
