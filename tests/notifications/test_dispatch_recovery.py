"""Dispatch under faults: a batch bounded by its deadline, a provider in trouble paused after the first answer that
may have been lost, claims kept alive by their batch and taken back by the watchdog when it is gone, and a database
that drops its connections mid-batch."""

import datetime as dt
import time

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from compliance.models import ContactEvent
from notifications.models import OutboundMessage, ProviderPause
from notifications.providers import LOCMEM, Sent
from notifications.services import (
    outbox_claim,
    outbox_reap,
    outbox_send,
    provider_gate,
    provider_pause,
    provider_pools_close,
    provider_resume,
)
from tests.notifications.conftest import due_message
from tests.workers import drop_connection_of


def send_due(provider=None):
    token, ids = outbox_claim()
    return outbox_send(message_ids=ids, claim_token=token, provider=provider)


class SlowProvider:
    """Takes ``seconds`` per message (a provider having a slow day), then sends through locmem."""

    name = "locmem"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def send_sms(self, **kwargs) -> Sent:
        time.sleep(self.seconds)
        return LOCMEM.send_sms(**kwargs)


@pytest.mark.django_db
def test_a_batch_starts_no_send_after_its_deadline_and_plans_the_rest_again_unstarted(locmem, settings):
    settings.OUTBOX_BATCH_DEADLINE_SECONDS = 0.5
    messages = [due_message()[0] for _ in range(10)]
    started = time.monotonic()
    counts = send_due(provider=SlowProvider(0.2))
    took = time.monotonic() - started
    assert counts["sent"] >= 1 and counts["released"] >= 1 and counts["sent"] + counts["released"] == 10
    assert took < 0.5 + 0.2 + 0.5, "the batch ran past its deadline by more than the send in flight"
    assert len(locmem.sent) == counts["sent"]
    released = OutboundMessage.objects.filter(pk__in=[m.pk for m in messages], status="planned")
    assert released.count() == counts["released"]
    for row in released:
        assert row.send_started_at is None and row.claim_token == "" and row.attempts == 0
        assert row.planned_for <= timezone.now()  # due again at once: the next batch takes it
        assert ContactEvent.objects.get(decision_id=row.decision_id).outcome == "cancelled"
    # The next batch sends the rest, each once.
    settings.OUTBOX_BATCH_DEADLINE_SECONDS = 120
    assert send_due() == {"sent": counts["released"]}
    assert sorted(m["to"] for m in locmem.sent) == sorted({m["to"] for m in locmem.sent})


@pytest.mark.django_db
def test_a_paused_provider_is_probed_by_one_batch_when_the_pause_ends(settings):
    settings.PROVIDER_PAUSE_SECONDS = 60
    settings.TWILIO_TIMEOUT_SECONDS = 10
    now = timezone.now()
    assert provider_gate(provider="twilio", now=now) == ("open", None)
    until = provider_pause(provider="twilio", reason="message 1: read timeout", now=now)
    assert until == now + dt.timedelta(seconds=60)
    assert provider_gate(provider="twilio", now=now + dt.timedelta(seconds=30)) == ("paused", until)
    assert provider_gate(provider="locmem", now=now) == ("open", None)  # one provider's trouble is its own
    assert provider_gate(provider="twilio", now=until) == ("probe", None)
    state, later = provider_gate(provider="twilio", now=until)  # a second batch at the same instant
    assert state == "paused" and later == until + dt.timedelta(seconds=15)  # as long as the probe's call may take
    provider_resume(provider="twilio")
    assert provider_gate(provider="twilio", now=later) == ("open", None)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_hanging_provider_puts_at_most_the_sends_in_flight_in_review(twilio_settings, fake_twilio):
    """Issue 11: five minutes of a hanging provider put 240 messages in review. Now the first batch's sends in flight
    go to review, the provider is paused and every other message waits, unstarted, for the pause to end; then one
    message probes and, the provider answering again, the rest go out once."""
    twilio_settings.TWILIO_API_BASE_URL = fake_twilio.url
    twilio_settings.TWILIO_TIMEOUT_SECONDS = 0.3
    twilio_settings.PROVIDER_CONCURRENCY = 4
    twilio_settings.OUTBOX_BATCH_SIZE = 10
    twilio_settings.PROVIDER_PAUSE_SECONDS = 60
    fake_twilio.delay = 1.0  # answers come after the client gave up
    numbers = [due_message()[1] for _ in range(40)]
    try:
        brownout = [send_due() for _ in range(4)]  # four batches, one after the other, as the provider queue runs them
        assert brownout[0]["review"] <= 4 and brownout[0]["review"] + brownout[0]["released"] == 10, brownout
        assert all(counts == {"released": 10} for counts in brownout[1:]), brownout
        assert OutboundMessage.objects.filter(status="review").count() == brownout[0]["review"]
        assert len(fake_twilio.requests) == brownout[0]["review"]
        pause = ProviderPause.objects.get(provider="twilio")
        assert set(OutboundMessage.objects.filter(status="planned").values_list("planned_for", flat=True)) == {
            pause.until
        }
        # The brownout is over; once the pause ends, one message probes and the rest follow.
        fake_twilio.delay = 0
        with time_machine.travel(pause.until + dt.timedelta(seconds=1)):
            rounds = 0
            while OutboundMessage.objects.filter(status="planned").exists() and rounds < 10:
                send_due()
                rounds += 1
    finally:
        provider_pools_close()
    assert not ProviderPause.objects.exists()
    statuses = dict(OutboundMessage.objects.values_list("to", "status"))
    assert list(statuses.values()).count("sent") == 40 - brownout[0]["review"]
    for number in numbers:
        assert fake_twilio.count(To=number) == 1, number  # sent once, or tried once and in review


@pytest.mark.django_db
def test_a_running_batch_keeps_its_claims_from_the_watchdog_and_a_lost_one_is_taken_back(locmem, settings):
    settings.OUTBOX_CLAIM_TIMEOUT_SECONDS = 60
    for _ in range(3):
        due_message()
    token, ids = outbox_claim()
    # The batch waited in the broker for ten minutes, then a worker picked it up.
    OutboundMessage.objects.filter(pk__in=ids).update(claimed_at=timezone.now() - dt.timedelta(minutes=10))
    seen = []

    class Watched:
        name = "locmem"

        def send_sms(self, **kwargs):
            seen.append(outbox_reap())  # the watchdog runs while the batch sends
            return LOCMEM.send_sms(**kwargs)

    assert outbox_send(message_ids=ids, claim_token=token, provider=Watched()) == {"sent": 3}
    assert seen == [{"returned": 0, "review": 0}] * 3

    # A batch lost with the broker: nobody touches its claims, and the watchdog takes them back.
    lost = [due_message()[0] for _ in range(2)]
    token, ids = outbox_claim()
    assert sorted(ids) == sorted(m.pk for m in lost)
    assert outbox_reap() == {"returned": 0, "review": 0}
    OutboundMessage.objects.filter(pk__in=ids).update(claimed_at=timezone.now() - dt.timedelta(seconds=61))
    assert outbox_reap() == {"returned": 2, "review": 0}
    assert outbox_send(message_ids=ids, claim_token=token) == {}  # the lost message, if it ever comes back
    assert send_due() == {"sent": 2}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_batch_carries_on_when_the_database_drops_its_connection_mid_send(locmem, settings):
    settings.DB_RETRY_DELAYS = [0.05, 0.1, 0.2]
    messages = [due_message()[0] for _ in range(3)]

    class Dropping:
        """The provider takes each message while the database drops the worker's connection."""

        name = "locmem"

        def send_sms(self, **kwargs):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                drop_connection_of(cursor.fetchone()[0])
            return LOCMEM.send_sms(**kwargs)

    try:
        assert send_due(provider=Dropping()) == {"sent": 3}
    finally:
        connection.close()
    assert len(locmem.sent) == 3
    for row in OutboundMessage.objects.filter(pk__in=[m.pk for m in messages]):
        assert row.status == "sent" and row.provider_id and row.claim_token == ""
