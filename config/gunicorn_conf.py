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

# A worker silent for this long is killed. The admin's "Preview impact" runs the sweep twice inside its request
# (about 25 s at 100,000 open cases; bench/dry_run_bench.py): gunicorn's default of 30 s would cut it off (its
# transaction rolls back with the connection, so nothing would stay, but the admin would get no answer).
timeout = 90
