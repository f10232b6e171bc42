"""A collector's call through the provider (click-to-call): placed once the gate's reservation is committed, then
told by the provider's callbacks how each leg went.

The provider rings the collector's own phone first (the collector's leg); when the collector answers, its <Dial>
calls the borrower with the lender's caller id (the borrower's leg), announcing the recording to the borrower
before bridging where a profile asks for it and recording the call where one requires or allows it (REC-01). The
borrower's leg is the contact: its final status settles the gate's reservation into the ledger's real outcome
(``contact_record``, i.e. ``reservation_settle``) with the call's duration. A collector's leg that ends before the
borrower was dialled released the reservation: nobody was called. What only a person knows — who answered — comes
with the collector's disposition (``collector_call_classify``), before or after the callbacks, and refines the same
ledger entry. Callbacks move a call forward only: repeats and late ones change nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from twilio.twiml.voice_response import VoiceResponse

from compliance.models import Decision
from compliance.recording import RecordingPolicy, years_after
from compliance.selectors import borrower_last_contact_at
from compliance.services import contact_reclassify, contact_record, reservations_release
from notifications.models import CallRecording, CollectorCall
from notifications.models import CollectorCallStatus as S
from notifications.providers import (
    BRIDGE_RING_SECONDS,
    RECORDING_ID,
    FileRecordings,
    ProviderError,
    Recorded,
    provider_get,
)
from notifications.voice import VOICES

logger = logging.getLogger(__name__)

# Twilio's final statuses of a leg → the ledger's outcomes (as for the outbox's calls, docs/compliance-rules.md).
LEG_OUTCOMES = {
    "completed": "conversation",
    "no-answer": "no_answer",
    "busy": "busy",
    "failed": "failed",
    "canceled": "failed",
}
LEG_STARTED = {"queued", "initiated", "ringing", "answered", "in-progress"}
SIMULATED_SECONDS = 5  # the console backend's answered call, and its recording


def collector_call_create(
    *,
    case_id: int,
    borrower_id: int,
    collector: Any,
    decision_id: int,
    to: str,
    agent_number: str,
    language: str,
    policy: RecordingPolicy,
) -> CollectorCall:
    """The call a collector was just allowed to place (``decision_id`` holds its reservation), with how it is to be
    recorded; ``collector_call_place`` hands it to the provider once this is committed."""
    return CollectorCall.objects.create(
        case_id=case_id,
        borrower_id=borrower_id,
        collector=collector,
        decision_id=decision_id,
        to=to,
        agent_number=agent_number,
        language=language,
        record=policy.record,
        disclosure=policy.disclosure,
        retention_years=policy.retention_years,
    )


def _webhook(name: str, query: str = "") -> str:
    return f"{settings.TWILIO_WEBHOOK_BASE_URL.rstrip('/')}{reverse(name)}{query}"


def bridge_twiml(call: CollectorCall) -> str:
    """What the provider runs once the collector answers: dial the borrower with the lender's caller id; where the
    profile says so, announce the recording to the borrower before the two are bridged (``<Number url>``: TwiML run
    on the called party's side after they answer), and record from the answer, each party on its own channel."""
    response = VoiceResponse()
    dial: dict[str, Any] = {"caller_id": settings.TWILIO_FROM_NUMBER, "timeout": BRIDGE_RING_SECONDS}
    if call.record:
        dial.update(
            record="record-from-answer-dual",
            recording_status_callback=_webhook("twilio-collector-call-recording"),
            recording_status_callback_event="completed absent",
            recording_status_callback_method="POST",
        )
    number: dict[str, Any] = {
        "status_callback": _webhook("twilio-collector-call-status"),
        "status_callback_event": "initiated ringing answered completed",
        "status_callback_method": "POST",
    }
    if call.disclosure:
        number.update(url=_webhook("twilio-collector-call-disclosure", f"?call={call.pk}"), method="POST")
    response.dial(**dial).number(call.to, **number)
    return str(response)


def disclosure_twiml(*, call_id: int | None) -> str:
    """The announcement the borrower hears before being bridged, in their language. A call this app does not know
    is hung up rather than connected: a recorded call must not reach the borrower unannounced."""
    response = VoiceResponse()
    call = CollectorCall.objects.filter(pk=call_id).first() if call_id else None
    if call is None or not call.disclosure:
        response.hangup()
        return str(response)
    code, voice = VOICES.get(call.language, VOICES["en"])
    with translation.override(call.language):
        response.say(_("This call is recorded."), language=code, voice=voice)
    return str(response)


def collector_call_place(*, call_id: int) -> CollectorCall:
    """Hand the call to the provider, at most once: ``send_started_at`` is committed before the provider is asked
    and a call that has it is never asked again (Twilio has no idempotency key for creating a call). Run after the
    reservation is committed. The console backend's calls are simulated at once (``collector_call_simulate``)."""
    if not CollectorCall.objects.filter(pk=call_id, status=S.PLACING, send_started_at__isnull=True).update(
        send_started_at=timezone.now()
    ):
        return CollectorCall.objects.get(pk=call_id)
    call = CollectorCall.objects.get(pk=call_id)
    provider = provider_get()
    try:
        sent = provider.place_bridged_call(
            agent=call.agent_number, twiml=bridge_twiml(call), status_callback=_webhook("twilio-collector-call-status")
        )
    except ProviderError as exc:
        _place_failed(call, exc)
        return CollectorCall.objects.get(pk=call_id)
    CollectorCall.objects.filter(pk=call.pk).update(
        provider=provider.name, provider_id=sent.provider_id, provider_status=sent.status
    )
    CollectorCall.objects.filter(pk=call.pk, status=S.PLACING).update(status=S.RINGING)
    if provider.name == "console":
        collector_call_simulate(call_id=call.pk)
    return CollectorCall.objects.get(pk=call_id)


def _place_failed(call: CollectorCall, exc: ProviderError) -> None:
    with transaction.atomic():
        if exc.uncertain:
            # The provider may have placed it: the slot stays reserved and a person checks the provider's log.
            CollectorCall.objects.filter(pk=call.pk).update(status=S.REVIEW, error=str(exc))
        else:
            reservations_release(decision_ids=[call.decision_id])
            CollectorCall.objects.filter(pk=call.pk).update(
                status=S.NOT_CONNECTED, error=str(exc), ended_at=timezone.now()
            )


# ---------------------------------------------------------------------------------------------------------------
# The provider's callbacks
# ---------------------------------------------------------------------------------------------------------------
def collector_call_status_apply(
    *, call_sid: str, status: str, parent_call_sid: str = "", duration: str = ""
) -> CollectorCall | None:
    """A status callback of either leg: the borrower's leg names its parent (the collector's leg, our call)."""
    with transaction.atomic():
        if parent_call_sid:
            call = CollectorCall.objects.select_for_update().filter(provider_id=parent_call_sid).first()
            if call is not None:
                _borrower_leg(call, call_sid, status, duration)
        else:
            call = CollectorCall.objects.select_for_update().filter(provider_id=call_sid).first()
            if call is not None:
                _collector_leg(call, status)
        return call


def _borrower_leg(call: CollectorCall, leg_id: str, status: str, duration: str) -> None:
    if call.outcome:  # settled once: repeats and late statuses change nothing
        return
    now = timezone.now()
    call.provider_status = status
    call.borrower_leg_id = call.borrower_leg_id or leg_id
    if status in LEG_STARTED:
        call.dialled_at = call.dialled_at or now
        if call.status in (S.PLACING, S.RINGING):
            call.status = S.CONNECTING
    elif status in LEG_OUTCOMES:
        reported = LEG_OUTCOMES[status]
        # The provider says whether the call connected; only a connected call can be refined by what the collector
        # said (who answered): a disposition never turns an unanswered call into a conversation.
        connected = reported == "conversation"
        outcome = call.classified_outcome if connected and call.classified_outcome else reported
        loan_id = Decision.objects.filter(pk=call.decision_id).values_list("loan_id", flat=True).first()
        contact_record(
            borrower_id=call.borrower_id,
            channel="call",
            direction="outbound",
            outcome=outcome,
            at=call.dialled_at or call.created_at,
            debts=[loan_id] if loan_id else [],
            to=call.to,
            target_role=(call.classified_role or None) if connected else None,
            actor=call.collector,
            decision_id=call.decision_id,
        )
        call.outcome, call.answered, call.status, call.ended_at = outcome, connected, S.ENDED, now
        call.duration_seconds = int(duration) if duration.isdigit() else 0
        call.dialled_at = call.dialled_at or call.created_at
    call.save()


# Why nobody was called, by the final status of the collector's own leg (kept in English, shown translated).
NOT_DIALLED = {
    "completed": gettext_noop("You hung up before the borrower was dialled."),
    "no-answer": gettext_noop("Your phone did not answer."),
    "busy": gettext_noop("Your phone was busy."),
    "failed": gettext_noop("Your phone could not be reached."),
    "canceled": gettext_noop("The call was cancelled."),
}


def _collector_leg(call: CollectorCall, status: str) -> None:
    if call.status in (S.ENDED, S.NOT_CONNECTED):
        return
    if status in LEG_STARTED:
        CollectorCall.objects.filter(pk=call.pk).update(provider_status=status)
        return
    if status in LEG_OUTCOMES and call.dialled_at is None and not call.borrower_leg_id:
        # The borrower's phone never rang: no contact happened, so the slot the gate reserved is free again.
        reservations_release(decision_ids=[call.decision_id])
        call.status, call.ended_at, call.provider_status = S.NOT_CONNECTED, timezone.now(), status
        call.error = NOT_DIALLED[status]
        call.save(update_fields=["status", "ended_at", "provider_status", "error"])
    # Otherwise the borrower's leg was dialled and its own final callback settles the call.


def collector_call_recording_apply(
    *, call_sid: str, recording_id: str, status: str, duration: str = "", channels: str = ""
) -> CallRecording | None:
    """A recording status callback: a completed recording is kept (at the provider) until its retention ends."""
    if not call_sid or not RECORDING_ID.match(recording_id):
        return None
    with transaction.atomic():
        call = (
            CollectorCall.objects.select_for_update()
            .filter(Q(provider_id=call_sid) | Q(borrower_leg_id=call_sid))
            .first()
        )
        if call is None:
            return None
        if status != "completed":
            logger.warning("recording %s of call %s: %s", recording_id, call.pk, status)
            call.error = f"{call.error}\nRecording {status}.".strip()
            call.save(update_fields=["error"])
            return None
        recorded_at = call.dialled_at or call.created_at
        recording, _ = CallRecording.objects.get_or_create(
            provider_id=recording_id,
            defaults={
                "call": call,
                "provider": call.provider or settings.NOTIFICATIONS_BACKEND,
                "duration_seconds": int(duration) if duration.isdigit() else 0,
                "channels": int(channels) if channels.isdigit() else 1,
                "recorded_at": recorded_at,
                "retain_until": years_after(recorded_at, max(call.retention_years, 1)),
            },
        )
        return recording


def collector_call_classify(*, call_id: int, outcome: str, target_role: str, note: str = "") -> CollectorCall:
    """The collector's word on who answered (from the disposition). Kept on the call, so that a borrower's leg that
    ends later settles with it; applied to the ledger entry now when the provider already reported a connected
    call. An unanswered call stays what the provider said."""
    with transaction.atomic():
        call = CollectorCall.objects.select_for_update().get(pk=call_id)
        call.classified_outcome, call.classified_role = outcome, target_role
        fields = ["classified_outcome", "classified_role"]
        if call.answered:
            contact_reclassify(decision_id=call.decision_id, outcome=outcome, target_role=target_role, note=note)
            call.outcome = outcome
            fields.append("outcome")
        elif call.outcome and note:
            contact_reclassify(decision_id=call.decision_id, note=note)
        call.save(update_fields=fields)
        return call


def collector_call_simulate(*, call_id: int) -> None:
    """The console backend: what Twilio would call back for a call the borrower answers — both legs' statuses and,
    where the call is recorded, a recording (a WAV file in ``RECORDINGS_DIR``) — applied at once through the same
    services as the webhooks. ``make run`` shows the whole flow without a phone."""
    call = CollectorCall.objects.get(pk=call_id)
    parent = call.provider_id or ""
    leg = f"CA{uuid.uuid4().hex}"
    collector_call_status_apply(call_sid=parent, status="in-progress")
    for status in ("initiated", "ringing", "in-progress"):
        collector_call_status_apply(call_sid=leg, parent_call_sid=parent, status=status)
    collector_call_status_apply(
        call_sid=leg, parent_call_sid=parent, status="completed", duration=str(SIMULATED_SECONDS)
    )
    provider = provider_get(call.provider)
    if call.record and isinstance(provider, FileRecordings):
        recording_id = f"RE{uuid.uuid4().hex}"
        seconds = provider.recording_make(recording_id=recording_id, seconds=SIMULATED_SECONDS)
        collector_call_recording_apply(
            call_sid=parent, recording_id=recording_id, status="completed", duration=str(seconds), channels="1"
        )
    collector_call_status_apply(call_sid=parent, status="completed")
    logger.info("console call %s simulated: answered, %s s%s", call.pk, SIMULATED_SECONDS,
                ", announced and recorded" if call.disclosure else ", recorded" if call.record else "")  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# Recordings: streamed from the provider, held, purged
# ---------------------------------------------------------------------------------------------------------------
def recording_open(*, recording: CallRecording) -> Recorded:
    """The recording's media from the provider that made it (its credentials; never a public URL). The caller has
    checked who may hear it."""
    if recording.deleted_at is not None:
        raise ProviderError("permanent", "deleted", "the recording was deleted after its retention")
    return provider_get(recording.provider).recording_open(recording_id=recording.provider_id)


def recording_legal_hold_set(*, recording_id: int, hold: bool, actor: Any) -> CallRecording:
    """Put a recording under legal hold (kept past its retention) or release it. The caller has checked the
    permission (``notifications.set_legal_hold``: managers and admins)."""
    with transaction.atomic():
        recording = CallRecording.objects.select_for_update().get(pk=recording_id)
        if recording.legal_hold != hold:
            recording.legal_hold, recording.legal_hold_by, recording.legal_hold_at = hold, actor, timezone.now()
            recording.save(update_fields=["legal_hold", "legal_hold_by", "legal_hold_at"])
        return recording


def recordings_purge(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete, at the provider, the recordings whose retention has passed (REC-01), unless under legal hold. The
    retention counts from the borrower's latest contact when that is later than the call (Reg F 1006.100 keeps
    records for 3 years after the last collection activity): such a recording's date moves on instead. Each
    recording is locked while it is deleted, so a hold set meanwhile wins; a provider error leaves it for the next
    run."""
    now = now or timezone.now()
    counts = {"deleted": 0, "extended": 0, "failed": 0}
    due = CallRecording.objects.filter(deleted_at__isnull=True, legal_hold=False, retain_until__lte=now)
    for recording_id in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            recording = due.select_for_update(of=("self",)).select_related("call").filter(pk=recording_id).first()
            if recording is None:
                continue
            years = max(recording.call.retention_years, 1)
            last = borrower_last_contact_at(borrower_id=recording.call.borrower_id)
            if last is not None and years_after(last, years) > now:
                recording.retain_until = years_after(last, years)
                recording.save(update_fields=["retain_until"])
                counts["extended"] += 1
                continue
            try:
                provider_get(recording.provider).recording_delete(recording_id=recording.provider_id)
            except ProviderError as exc:
                if exc.code != "20404":  # already gone at the provider: deleted all the same
                    logger.warning("recording %s not deleted: %s", recording.provider_id, exc)
                    counts["failed"] += 1
                    continue
            recording.deleted_at = now
            recording.save(update_fields=["deleted_at"])
            counts["deleted"] += 1
    return counts
