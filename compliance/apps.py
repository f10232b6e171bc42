from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    """The compliance gate every contact passes first (see docs/compliance-rules.md)."""

    name = "compliance"
    verbose_name = _("Compliance")
