"""End-to-end tests in a real browser: Playwright driving Debian's Chromium against the live server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make around it are plain
# synchronous ones, so Django's async-safety check does not apply here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
PASSWORD = "e2e-pass-2026"


@pytest.fixture(scope="session", autouse=True)
def _seeded_rows(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """The rows data migrations wrote (groups, profiles, policies, templates), as serialized at database set-up.

    Taken before Playwright starts: its sync API keeps an event loop running in this thread, and Django then hands
    out connection objects of another context, which do not carry the serialized copy pytest-django restores
    from — so the e2e tests restore it themselves."""
    from django.db import connection

    return getattr(connection, "_test_serialized_contents", None)


@pytest.fixture(autouse=True)
def _restore_seeded_rows(_seeded_rows, transactional_db):  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection

    assert _seeded_rows, "the e2e tests need serialized_rollback (see the module mark)"
    if not Group.objects.exists():  # a previous test flushed the database (and post_migrate refilled a little)
        call_command("flush", interactive=False, inhibit_post_migrate=True, reset_sequences=False, verbosity=0)
        connection.creation.deserialize_db_from_string(_seeded_rows)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):  # type: ignore[no-untyped-def]
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: .ci/run installs Debian's chromium"
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox"]}


@pytest.fixture
def shot(page):  # type: ignore[no-untyped-def]
    """Save a full-page screenshot as a test artefact: shot("collector-case")."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def login(page, live_server):  # type: ignore[no-untyped-def]
    def sign_in(username: str) -> None:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("[data-testid=whoami]")

    return sign_in


@pytest.fixture(autouse=True)
def csp_violations(page):  # type: ignore[no-untyped-def]
    """Every browser test fails if Chromium refused anything under the Content-Security-Policy (an inline script,
    style or handler that slipped into a template, or a library injecting one)."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and refused.append(f"{page.url}: {message.text}"),
    )
    yield refused
    assert not refused, refused
