"""Prism serving Twilio's official OpenAPI description (tests/contracts/twilio, MIT) as a validating mock on
127.0.0.1: a request the description does not allow is refused. Shared by the contract tests and the browser tests
(import the ``prism`` fixture)."""

import copy
import json
from pathlib import Path

import pytest

from tests.servers import local_server

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


@pytest.fixture(scope="module")
def prism(tmp_path_factory):
    assert PRISM.exists(), "Prism is missing: `make test` installs it (npm, @stoplight/prism-cli@5.14.2)"
    spec = tmp_path_factory.mktemp("twilio") / "twilio.json"
    spec.write_text(json.dumps(form_arrays_exploded(json.loads(SPEC.read_text()))))
    command = lambda port: [str(PRISM), "mock", "--host", "127.0.0.1", "--port", str(port), "--errors", str(spec)]  # noqa: E731
    with local_server(command, folder=spec.parent, name="prism", seconds=90) as url:
        yield url
