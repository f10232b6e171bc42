"""The worker of ``make run`` on the embedded filesystem transport stops cleanly: honcho sends SIGTERM to its
process group on Ctrl-C and SIGKILLs whatever still runs 5 s later (honcho/manager.py KILL_WAIT)."""

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.workers import wait_for

ROOT = Path(__file__).resolve().parents[2]
HONCHO_KILL_WAIT = 5.0


def procfile_command(name: str) -> list[str]:
    """The command Procfile.dev runs for ``name``, with this interpreter's celery."""
    for line in (ROOT / "Procfile.dev").read_text().splitlines():
        if line.startswith(f"{name}:"):
            command = shlex.split(line.split(":", 1)[1])
            assert command[0] == "celery"
            return [sys.executable, "-m", "celery", *command[1:]]
    raise AssertionError(f"no {name} in Procfile.dev")


@pytest.mark.slow
def test_the_make_run_worker_finishes_its_warm_shutdown_on_sigterm_well_before_honcho_kills_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"CELERY_BROKER_URL", "DATABASE_URL", "DJANGO_ENV"}}
    env.update(
        DJANGO_ENV="development",  # the embedded default: filesystem transport
        CELERY_QUEUE_DIR=str(tmp_path / "celery"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        procfile_command("worker"),
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as honcho starts it
    )
    try:
        assert wait_for(lambda: "ready." in log.read_text(), seconds=60), log.read_text()[-3000:]
        started = time.monotonic()
        os.killpg(worker.pid, signal.SIGTERM)  # what honcho does on Ctrl-C: the whole group
        returncode = worker.wait(timeout=30)
        took = time.monotonic() - started
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
    output = log.read_text()
    assert returncode == 0, output[-3000:]
    assert took < HONCHO_KILL_WAIT, f"the worker took {took:.1f} s to stop"
    assert "Warm shutdown" in output and "exited with 'signal" not in output, output[-3000:]
    # kombu's exchange tables live with the queue folders, not in ./control of wherever the worker was started.
    assert (tmp_path / "celery" / "control" / "celery.exchange").exists()
    assert not (ROOT / "control").exists()
