"""Local servers the tests start as real processes (Prism for Twilio, localstripe for Stripe): a free port, the
process with its log in a file (never an unread pipe), and a wait for its port with a deadline."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_server(command: Callable[[int], list[str]], *, folder: Path, name: str, seconds: float) -> Iterator[str]:
    """Run ``command(port)`` in ``folder`` until the block ends; yields its URL once the port answers. A process that
    dies or a port silent past ``seconds`` fails the test with the server's own log."""
    port = free_port()
    log_path = folder / f"{name}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(command(port), stdout=log, stderr=subprocess.STDOUT, cwd=folder)
        try:
            deadline = time.monotonic() + seconds
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert process.poll() is None, log_path.read_text()
                    assert time.monotonic() < deadline, f"{name} did not start within {seconds:.0f} s"
                    time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)
