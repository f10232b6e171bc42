"""Celery's filesystem transport (the embedded default of ``make run``), made to stop as soon as it is asked to.

Celery drives transports that have no event loop of their own with a blocking loop (``synloop`` in
celery/worker/loops.py): it drains the queue folder for 2 s at a time and looks at the shutdown flag only between
two drains — and then drains once more from a ``finally`` before it stops. On Ctrl-C the worker therefore polled
for up to 4 s before its warm shutdown even began, and honcho (``make run``), which waits 5 s, killed it. This
transport ends a drain as soon as the worker is stopping; everything else is kombu's.
"""

from __future__ import annotations

import time
from typing import Any, cast

from kombu.transport import filesystem


def _worker_stopping() -> bool:
    from celery.worker import state

    # The flags hold the exit code once set (0 for a warm shutdown), so "set" means "not None".
    return any(flag is not None and flag is not False for flag in (state.should_stop, state.should_terminate))


class Transport(filesystem.Transport):
    """kombu's filesystem transport whose drain gives way to a worker shutdown within one polling interval."""

    # kombu's virtual transports narrow the base Transport's drain_events(connection, **kwargs) to this signature
    # (its own stubs ignore the override the same way).
    def drain_events(self, connection: Any, timeout: float | None = None) -> Any:  # type: ignore[override]
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if _worker_stopping():
                raise TimeoutError()  # socket.timeout: what celery's loop expects from an idle drain
            # kombu only ever sets a number here (1.0 unless transport_options say otherwise); the stubs allow None.
            step = cast(float, self.polling_interval)
            if deadline is not None:
                step = min(step, max(deadline - time.monotonic(), 0.0))
            try:
                return super().drain_events(connection, timeout=step)
            except TimeoutError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
