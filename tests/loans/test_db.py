"""db_retry: a unit of work the database failed runs again after a pause, a bounded number of times, never inside an
outer transaction."""

import pytest
from django.db import InterfaceError, OperationalError, transaction

from loans.db import db_retry


def flaky(failures, error=OperationalError):
    calls = []

    def work():
        calls.append(1)
        if len(calls) <= failures:
            raise error("server closed the connection unexpectedly")
        return "done"

    return work, calls


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_work_the_database_failed_runs_again_after_each_pause(settings, error):
    settings.DB_RETRY_DELAYS = [0, 0, 0]
    work, calls = flaky(2, error)
    assert db_retry(work, what="test") == "done" and len(calls) == 3


def test_after_the_last_pause_the_error_propagates(settings):
    settings.DB_RETRY_DELAYS = [0, 0]
    work, calls = flaky(5)
    with pytest.raises(OperationalError):
        db_retry(work, what="test")
    assert len(calls) == 3


@pytest.mark.django_db
def test_inside_an_outer_transaction_nothing_is_retried(settings):
    settings.DB_RETRY_DELAYS = [0, 0]
    work, calls = flaky(1)
    with pytest.raises(OperationalError), transaction.atomic():
        db_retry(work, what="test")
    assert len(calls) == 1
