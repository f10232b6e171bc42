"""Shared fixtures. The suite runs against PostgreSQL (make test); SQLite hides locking bugs, so it is refused."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.localstripe import localstripe, localstripe_server  # noqa: F401  (localstripe and the SDK pointed at it)
from tests.prism import prism  # noqa: F401  (the fixture: Prism serving Twilio's description, for any test)
from tests.smtpd import smtp, smtp_server  # noqa: F401  (a real SMTP server, Django's SMTP backend pointed at it)


@pytest.fixture(scope="session", autouse=True)
def _require_postgresql(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.exit("The tests need PostgreSQL: run `make test` or set DATABASE_URL=postgres://…", returncode=2)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():  # type: ignore[no-untyped-def]
    """The API's throttle counts live in the cache: each test starts with none (anonymous requests of all tests
    would otherwise share one address's budget)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="session")
def _recordings_dir(tmp_path_factory):  # type: ignore[no-untyped-def]
    return tmp_path_factory.mktemp("recordings")


@pytest.fixture(autouse=True)
def _recordings_in_a_temporary_folder(settings, _recordings_dir):  # type: ignore[no-untyped-def]
    """Recordings of simulated calls (the console and locmem providers) go to a folder of the run, not var/."""
    settings.RECORDINGS_DIR = str(_recordings_dir)


@pytest.fixture(autouse=True)
def _dispute_uploads_in_a_temporary_folder(settings, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Documents borrowers send with a dispute go to a folder of the run, not var/."""
    settings.DISPUTE_UPLOADS_DIR = str(tmp_path_factory.getbasetemp() / "disputes")


@pytest.fixture(autouse=True)
def _documents_in_a_temporary_folder(settings, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Letters and notices as PDFs (and the print queue) go to folders of the run, not var/."""
    settings.DOCUMENTS_DIR = str(tmp_path_factory.getbasetemp() / "documents")
    settings.LETTERS_DIR = str(tmp_path_factory.getbasetemp() / "letters")


WORKER_QUEUES = ["celery", "provider"]


@pytest.fixture
def celery_worker():  # type: ignore[no-untyped-def]
    """A real Celery worker (threads in this process) consuming both queues from Redis."""
    import redis
    from celery.contrib.testing.worker import start_worker
    from django.conf import settings

    from config.celery import app

    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.fail("this test needs the Redis broker (make test sets CELERY_BROKER_URL)")
    redis.Redis.from_url(settings.CELERY_BROKER_URL).ping()
    # Messages left by an interrupted earlier run must not be consumed by this one.
    with app.connection_for_write() as conn:
        for queue in WORKER_QUEUES:
            conn.default_channel.queue_purge(queue)
    with start_worker(
        app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30, queues=WORKER_QUEUES
    ):
        yield


@pytest.fixture(autouse=True)
def _default_language():  # type: ignore[no-untyped-def]
    """Each test starts in the site's default language. A request served in Chinese leaves Chinese active in the
    thread (as Django's own LocaleMiddleware does), and a later test's service errors would come back translated."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()
