"""How one person sees the system: the language of their pages and the time zone times are shown in."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.zones import is_valid_zone


def validate_zone(value: str) -> None:
    if value and not is_valid_zone(value):
        raise ValidationError(_("Not an IANA time zone name such as Asia/Shanghai."))


class UserSettings(models.Model):
    """A user's own language and time zone; empty means their team's default (then the site's)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ui_settings")
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, blank=True)
    timezone = models.CharField(
        _("time zone"), max_length=64, blank=True, validators=[validate_zone], help_text=_("e.g. Asia/Shanghai")
    )

    class Meta:
        verbose_name = _("user settings")
        verbose_name_plural = _("user settings")

    def __str__(self) -> str:
        return f"{self.user} ({self.language or '-'}, {self.timezone or '-'})"
