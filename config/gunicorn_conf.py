"""gunicorn settings (``gunicorn -c python:config.gunicorn_conf``): its access log prints each request line
and referrer with the query string — a search by phone number or name — so its logs mask personal data like the
app's own."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from core.logging import mask_handlers


class MaskingLogger(Logger):
    """gunicorn's logger with the personal-data mask on its error and access handlers."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)  # runs again on a configuration reload (SIGHUP), with new handlers
        mask_handlers(self.error_log, self.access_log)


logger_class = MaskingLogger
