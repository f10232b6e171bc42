"""Database helpers shared by the apps' tasks: surviving a database restart."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)
T = TypeVar("T")


def db_retry(work: Callable[[], T], *, what: str) -> T:
    """Run ``work`` — one transaction or one statement — and run it again, after a pause, when the database failed
    it (``OperationalError``: the server restarted or dropped the connection, a deadlock, SQLite busy;
    ``InterfaceError``: the connection was already closed). The pauses are ``DB_RETRY_DELAYS``; after the last one
    the error propagates.

    Only a whole unit of work can be retried: inside an outer transaction the error propagates at once, since the
    outer transaction is lost with the connection. ``work`` must be safe to run twice: a commit whose answer was
    lost with the connection looks like a failure.
    """
    delays = list(settings.DB_RETRY_DELAYS)
    attempt = 0
    while True:
        try:
            return work()
        except (OperationalError, InterfaceError) as exc:
            if attempt >= len(delays) or connection.in_atomic_block:
                raise
            wait = delays[attempt]
            attempt += 1
            logger.warning("%s: database error (%s); attempt %s in %.0f s", what, exc, attempt + 1, wait)
            # A broken connection stays broken: drop it, the next query opens a new one.
            with contextlib.suppress(DatabaseError):
                connection.close()
            time.sleep(wait)
