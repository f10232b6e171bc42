"""End to end on a real Celery worker and Redis: the beat task claims a batch, the provider queue sends it through
the real Twilio SDK to the fake, and signed callbacks mark every message delivered."""

import pytest
from django.test import Client
from django.urls import reverse
from twilio.request_validator import RequestValidator

from notifications.models import OutboundMessage
from notifications.tasks import dispatch_due
from tests.notifications.conftest import AUTH_TOKEN, PUBLIC_BASE, due_message
from tests.workers import wait_for


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_batch_goes_planned_to_sent_to_delivered(twilio_settings, fake_twilio, celery_worker):
    twilio_settings.TWILIO_API_BASE_URL = fake_twilio.url
    twilio_settings.OUTBOX_BATCH_SIZE = 8  # 20 messages: three batches on the provider queue
    messages = [due_message()[0] for _ in range(20)]
    dispatch_due.delay()
    assert wait_for(lambda: OutboundMessage.objects.filter(status="sent").count() == 20), list(
        OutboundMessage.objects.values_list("status", "status_reason")
    )
    assert len(fake_twilio.requests) == 20 and len({r["To"] for r in fake_twilio.requests}) == 20
    client = Client()
    path = reverse("twilio-message-status")
    for message in OutboundMessage.objects.filter(pk__in=[m.pk for m in messages]):
        params = {"MessageSid": message.provider_id, "MessageStatus": "delivered"}
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE + path, params)
        assert client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 204
    assert OutboundMessage.objects.filter(status="delivered").count() == 20
