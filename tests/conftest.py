"""Shared fixtures. The suite runs against PostgreSQL (make test); SQLite hides locking bugs, so it is refused."""

from __future__ import annotations

import pytest
from django.db import connection


@pytest.fixture(scope="session", autouse=True)
def _require_postgresql(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.exit("The tests need PostgreSQL: run `make test` or set DATABASE_URL=postgres://…", returncode=2)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
