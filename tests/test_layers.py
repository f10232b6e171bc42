"""The layers are enforced by import-linter (pyproject.toml, `make lint`): here it is shown to hold today and to catch
an upward import, so the contract cannot silently stop checking anything."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["config", "api", "portal", "collections_app", "notifications", "compliance", "loans", "core"]


def lint_imports(where: Path) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]
    return subprocess.run(command, cwd=where, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(where), "PATH": "/usr/bin:/bin"})  # fmt: skip


def test_no_package_imports_one_above_it():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / "loans" / "selectors.py").open("a") as selectors:
        selectors.write("\nfrom collections_app.models import CollectionCase  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "loans.selectors -> collections_app.models" in result.stdout
