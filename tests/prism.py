"""Prism serving Twilio's official OpenAPI description (tests/contracts/twilio, MIT) as a validating mock on
127.0.0.1: a request the description does not allow is refused. Shared by the contract tests and the browser tests
(import the ``prism`` fixture)."""

import copy
import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "tests" / "contracts" / "twilio" / "twilio_api_v2010.json"
PRISM = ROOT / ".tools" / "node_modules" / ".bin" / "prism"


def form_arrays_exploded(spec: dict) -> dict:
    """Prism rejects the SDK's repeated form fields (StatusCallbackEvent=a&StatusCallbackEvent=b) unless array
    properties of form bodies say ``style: form, explode: true`` (Prism cannot read repeated form fields otherwise)."""
    spec = copy.deepcopy(spec)
    for operations in spec["paths"].values():
        for operation in operations.values():
            if not isinstance(operation, dict):  # path-level "parameters" and the like
                continue
            form = (operation.get("requestBody") or {}).get("content", {}).get("application/x-www-form-urlencoded")
            if not form:
                continue
            properties = form.get("schema", {}).get("properties", {})
            arrays = {name for name, prop in properties.items() if prop.get("type") == "array"}
            if arrays:
                form["encoding"] = {name: {"style": "form", "explode": True} for name in arrays}
    return spec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def prism(tmp_path_factory):
    assert PRISM.exists(), "Prism is missing: `make test` installs it (npm, @stoplight/prism-cli@5.14.2)"
    spec = tmp_path_factory.mktemp("twilio") / "twilio.json"
    spec.write_text(json.dumps(form_arrays_exploded(json.loads(SPEC.read_text()))))
    port = free_port()
    log = (spec.parent / "prism.log").open("w")
    process = subprocess.Popen(
        [str(PRISM), "mock", "--host", "127.0.0.1", "--port", str(port), "--errors", str(spec)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 90
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None, (spec.parent / "prism.log").read_text()
            assert time.monotonic() < deadline, "Prism did not start within 90 s"
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=10)
    log.close()
