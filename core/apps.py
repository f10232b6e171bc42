from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """Roles, access rules and shared web pieces (no models of its own)."""

    name = "core"
    verbose_name = _("Core")
