"""The notifications app's writes, one module per task:

- ``dispatch``: claiming due rows and sending them through the gate and the provider, at most once;
- ``pause``: holding texts and calls after an answer that may have been lost;
- ``recovery``: claims that lost their batch;
- ``rendering``: what a message says (templates, letters' addresses, previews, replies);
- ``portal_links``: links to the borrower's page (issued with messages, checked, revoked, locked) and its audit;
- ``callbacks``: what providers tell us back (statuses, inbound texts);
- ``email``: the unsubscribe link's opt-out and what the mail provider reports (bounces, complaints, deliveries);
- ``review``: a person settling a message in review;
- ``documents``: letters and notices as stored PDFs (``document_render``), the e-mail attachment of a letter, and
  the print queue's daily batch for the mail house;
- ``voice_menu``: the keys a borrower presses on an automated reminder call;
- ``collector_calls``: a collector's call through the provider (placed, its legs' callbacks, the disposition's
  classification) and its recordings (streamed, held, purged).

Planning and cancelling outbox rows is ``notifications.planning``. The names below are the public services, for
callers that want one import.
"""

from notifications.services.callbacks import (
    call_status_apply,
    console_status_report,
    inbound_sms_handle,
    message_status_apply,
)
from notifications.services.collector_calls import (
    collector_call_classify,
    collector_call_create,
    collector_call_place,
    collector_call_recording_apply,
    collector_call_simulate,
    collector_call_status_apply,
    disclosure_twiml,
    recording_legal_hold_set,
    recording_open,
    recordings_purge,
)
from notifications.services.dispatch import outbox_claim, outbox_send, provider_pools_close
from notifications.services.documents import (
    PrintBatch,
    document_for_message,
    document_prepare,
    document_render,
    document_verify,
    letter_plan,
    print_batch_build,
)
from notifications.services.email import (
    EVENT_TYPES,
    UnsubscribeTarget,
    email_event_apply,
    email_opt_out,
    email_unsubscribe,
    unsubscribe_target,
)
from notifications.services.pause import provider_gate, provider_pause, provider_resume
from notifications.services.portal_links import (
    portal_answer_record,
    portal_event_record,
    portal_link_get,
    portal_link_issue,
    portal_link_revoke,
    portal_links_issue,
    portal_links_revoke_for,
    portal_payment_completed,
    portal_payment_started,
    portal_url,
)
from notifications.services.recovery import outbox_reap, outbox_release
from notifications.services.rendering import lender_name, message_preview, template_for
from notifications.services.review import message_review_resolve
from notifications.services.voice_menu import keypress_record

__all__ = [
    "EVENT_TYPES",
    "PrintBatch",
    "UnsubscribeTarget",
    "call_status_apply",
    "collector_call_classify",
    "collector_call_create",
    "collector_call_place",
    "collector_call_recording_apply",
    "collector_call_simulate",
    "collector_call_status_apply",
    "console_status_report",
    "disclosure_twiml",
    "document_for_message",
    "document_prepare",
    "document_render",
    "document_verify",
    "email_event_apply",
    "email_opt_out",
    "email_unsubscribe",
    "inbound_sms_handle",
    "keypress_record",
    "lender_name",
    "letter_plan",
    "message_preview",
    "message_review_resolve",
    "message_status_apply",
    "outbox_claim",
    "outbox_reap",
    "outbox_release",
    "outbox_send",
    "portal_answer_record",
    "portal_event_record",
    "portal_link_get",
    "portal_link_issue",
    "portal_link_revoke",
    "portal_links_issue",
    "portal_links_revoke_for",
    "portal_payment_completed",
    "portal_payment_started",
    "portal_url",
    "print_batch_build",
    "provider_gate",
    "provider_pause",
    "provider_pools_close",
    "provider_resume",
    "recording_legal_hold_set",
    "recording_open",
    "recordings_purge",
    "template_for",
    "unsubscribe_target",
]
