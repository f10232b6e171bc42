from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    """The borrower's own page, opened by the signed link in a message (no sign-in; the link is the key)."""

    name = "portal"
    verbose_name = _("Borrower page")
