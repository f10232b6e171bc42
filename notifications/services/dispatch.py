"""Dispatch of the outbox, at most once.

The life of a row: ``planned`` (or ``deferred`` to an instant) → ``claimed`` by a dispatcher tick (``outbox_claim``,
``SKIP LOCKED`` so that several ticks never take the same row) → judged by the compliance gate at send time
(``outbox_send``: denied, deferred, cancelled or left claimed with a reservation in the ledger) → handed to the
provider outside any transaction, after ``send_started_at`` is committed → ``sent`` with the provider's id, then
``delivered`` or ``failed`` by the provider's callbacks (``callbacks``, forward only).

Why ``send_started_at`` is written before the provider is called: a worker can die anywhere. A claimed row without
it never reached the provider, so the reaper (``recovery``) may plan it again; a row with it and no provider id may
have been sent, so the reaper puts it in ``review`` for a person to decide. Nothing is ever resent blindly.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, connections, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.engine import Attempt
from compliance.models import ConsentKind, ContactEvent
from compliance.services import (
    PlannedContact,
    consent_record,
    contact_record,
    contacts_check_batch,
    contacts_reserve_batch,
    reservation_settle_with,
    reservations_release,
    staff_facts,
)
from loans.db import db_retry
from loans.models import Loan
from loans.sql import bulk_set
from notifications.mail import EMAIL, EmailContent, EmailProvider, attachments_for, email_build
from notifications.models import (
    DISPATCHED_CHANNELS,
    GATE_CHANNEL,
    MAILED_PURPOSES,
    Channel,
    MessagePurpose,
    MessageStatus,
    OutboundMessage,
)
from notifications.planning import BORROWER_WIDE, case_cancel_reason, covered_debts
from notifications.providers import OPTED_OUT, PRINT_QUEUE, Provider, ProviderError, Sent, provider_get
from notifications.services.documents import document_for_message
from notifications.services.mailed import messages_mailed
from notifications.services.pause import ProviderGate
from notifications.services.recovery import outbox_release
from notifications.services.rendering import address_and_render
from notifications.voice import menu_url

logger = logging.getLogger(__name__)

RETRY_MINUTES = [1, 5, 15, 60]  # backoff after transient provider errors (attempt 1, 2, 3, 4+)


# ---------------------------------------------------------------------------------------------------------------
# Claim
# ---------------------------------------------------------------------------------------------------------------
def outbox_claim(*, now: dt.datetime | None = None, limit: int | None = None) -> tuple[str, list[int]]:
    """Claim up to ``limit`` due rows (texts, calls, e-mails, letters) for one batch; returns the claim token and the
    row ids."""
    now = now or timezone.now()
    limit = limit or settings.OUTBOX_BATCH_SIZE
    token = uuid.uuid4().hex
    due = Q(status__in=[MessageStatus.PLANNED, MessageStatus.DEFERRED], planned_for__lte=now)
    with transaction.atomic():
        ids = list(
            OutboundMessage.objects.select_for_update(skip_locked=True)
            .filter(due, channel__in=DISPATCHED_CHANNELS)
            .order_by("planned_for", "id")
            .values_list("id", flat=True)[:limit]
        )
        # The status filter again: SQLite has no SKIP LOCKED, and only rows still due may change hands.
        OutboundMessage.objects.filter(due, pk__in=ids).update(
            status=MessageStatus.CLAIMED, claimed_at=now, claim_token=token, updated_at=now
        )
    claimed = OutboundMessage.objects.filter(pk__in=ids, claim_token=token)  # by primary key: no scan of the outbox
    return token, list(claimed.order_by("id").values_list("id", flat=True))


# ---------------------------------------------------------------------------------------------------------------
# Send
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class _Ready:
    message: OutboundMessage
    say_language: str
    email: EmailContent | None = None  # an e-mail's subject and bodies


def outbox_send(
    *, message_ids: Sequence[int], claim_token: str, provider: Provider | None = None, now: dt.datetime | None = None
) -> dict[str, int]:
    """Judge a claimed batch at send time and send what the gate allows; returns counts per resulting status.

    The work in flight is bounded, so that a batch ends on time and a provider in trouble costs little: at most
    ``PROVIDER_CONCURRENCY`` sends at once; none started after ``OUTBOX_BATCH_DEADLINE_SECONDS`` (below the task's
    soft time limit); none through a provider that is paused (``ProviderPause``: an answer may have been lost, so
    every further send risks a duplicate). Rows not started by then go back to planned, never started ("released"),
    for a later batch to judge again. While it runs, the batch touches its claims so that the watchdog
    (``outbox_reap``) can tell it from a batch whose worker or broker message was lost.
    """
    if not claim_token:
        raise ValueError("a claim token is required: only rows claimed with it are sent")
    provider = provider or provider_get()
    label = f"batch {claim_token[:8]}"
    db_retry(lambda: _claims_touch(message_ids, claim_token), what=label)  # picked up: the watchdog lets it be
    ready, counts = db_retry(lambda: _prepare(message_ids, claim_token, now or timezone.now()), what=label)
    if ready:
        _Batch(message_ids, claim_token, provider, counts).send(ready)
    return counts


def _claims_touch(message_ids: Sequence[int], token: str) -> int:
    """The batch is alive: its claims (started or not) are fresh again for the watchdog."""
    return OutboundMessage.objects.filter(pk__in=message_ids, claim_token=token).update(claimed_at=timezone.now())


class _Batch:
    """One batch's sends: a bounded number in flight, new ones held by the deadline or a provider pause, the claims
    kept fresh while it runs."""

    def __init__(self, message_ids: Sequence[int], token: str, provider: Provider, counts: dict[str, int]) -> None:
        self.ids, self.token, self.provider, self.counts = list(message_ids), token, provider, counts
        self.label = f"batch {token[:8]}"
        self.deadline = time.monotonic() + settings.OUTBOX_BATCH_DEADLINE_SECONDS
        self.touch_every = max(settings.OUTBOX_CLAIM_TIMEOUT_SECONDS / 3, 0.5)
        self.touched = time.monotonic()
        self.gate = ProviderGate(provider.name, self.label)
        self.failed = False  # an unexpected error (the database gone for good): start nothing more

    def send(self, ready: list[_Ready]) -> None:
        threads = max(settings.PROVIDER_CONCURRENCY, 1)
        # Provider calls wait on the network most of the time: a few in flight at once (each pool thread with its own
        # database connection, kept for the process's life) instead of one after another.
        pool = _pool(threads) if threads > 1 and len(ready) > 1 else None
        pending: deque[_Ready] = deque(ready)
        running: dict[Future[str], _Ready] = {}
        late: list[_Ready] = []  # not started before the deadline: due again at once
        held: list[_Ready] = []  # not started because the provider is paused: due when the pause ends
        try:
            while True:
                while pending and len(running) < self.gate.limit(threads):
                    item = pending.popleft()
                    why = self._hold(item)
                    if why == "late":
                        late.extend([item, *pending])
                        pending.clear()
                    elif why == "paused":
                        held.append(item)  # letters behind it still go to the print queue
                    elif pool is None:
                        self._done(item, lambda item=item: _send_one(item, self.token, self.provider))
                    else:
                        running[pool.submit(_send_in_thread, item, self.token, self.provider)] = item
                if not running:
                    break
                done, _ = wait(running, timeout=self._until_touch(), return_when=FIRST_COMPLETED)
                for future in done:
                    self._done(running.pop(future), future.result)
                self._touch()
        finally:
            # Whatever ended the batch (the deadline, a pause, the task's soft time limit), sends still queued in the
            # shared pool are withdrawn: nothing of this batch starts after it returns.
            late.extend(item for future, item in running.items() if future.cancel())
            late.extend(pending)
            self._release(late, until=None, why="The batch ran out of time before sending it; planned again.")
            self._release(held, until=self.gate.paused_until, why=self.gate.why)

    def _hold(self, item: _Ready) -> str:
        """Why ``item`` may not start now: "late" (the deadline passed, or the batch failed), "paused", or ""."""
        self._touch()
        if self.failed or time.monotonic() >= self.deadline:
            return "late"
        if item.message.channel in (Channel.LETTER, Channel.EMAIL):  # the pause is the text and call provider's
            return ""
        return "paused" if self.gate.paused() else ""

    def _done(self, item: _Ready, result: Any) -> None:
        try:
            status = result()
        except Exception:  # the row stays claimed: the watchdog plans it again or, if it was started, reviews it
            logger.exception("%s: message %s could not be sent", self.label, item.message.pk)
            self.failed, status = True, "error"
        self.counts[status] = self.counts.get(status, 0) + 1
        if item.message.channel not in (Channel.LETTER, Channel.EMAIL):
            self.gate.answered(status, item.message.pk)

    def _touch(self) -> None:
        if time.monotonic() - self.touched >= self.touch_every:
            self.touched = time.monotonic()
            db_retry(lambda: _claims_touch(self.ids, self.token), what=self.label)

    def _until_touch(self) -> float:
        return max(self.touch_every - (time.monotonic() - self.touched), 0.05)

    def _release(self, items: list[_Ready], *, until: dt.datetime | None, why: str) -> None:
        if not items:
            return
        try:
            ids = [i.message.pk for i in items]
            release = partial(outbox_release, message_ids=ids, claim_token=self.token, until=until, reason=why)
            released = db_retry(release, what=self.label)
        except Exception:  # the database is gone: the watchdog takes the claims back when it returns
            logger.exception("%s: could not release %s unsent messages", self.label, len(items))
            return
        if released:
            self.counts["released"] = self.counts.get("released", 0) + released
            logger.warning("%s: %s messages not started, planned again: %s", self.label, released, why)


def _send_in_thread(item: _Ready, token: str, provider: Provider) -> str:
    close_old_connections()  # a pool thread keeps its connection between batches: drop it if it went bad
    return _send_one(item, token, provider)


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    if threads not in _POOLS:
        _POOLS[threads] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="provider")
    return _POOLS[threads]


def provider_pools_close() -> None:
    """Close the database connections the pool threads hold (each thread must close its own): every thread
    takes one task, held at a barrier until all have one, and closes its connections."""
    for threads, pool in list(_POOLS.items()):
        barrier = threading.Barrier(threads)

        def close(_: int, barrier: threading.Barrier = barrier) -> None:
            barrier.wait(timeout=10)
            connections.close_all()

        list(pool.map(close, range(threads)))


def _prepare(message_ids: Sequence[int], token: str, now: dt.datetime) -> tuple[list[_Ready], dict[str, int]]:
    """One transaction: cancel what no longer applies, render, ask the gate for the batch with reservations."""
    counts: dict[str, int] = {}
    with transaction.atomic():
        rows = list(
            OutboundMessage.objects.select_for_update(of=("self",))
            # The claim token is set only while a row is claimed, so it stands for the status here; naming the status
            # too would let the planner pick the partial index of claimed rows and scan all of them.
            .filter(pk__in=message_ids, claim_token=token, send_started_at__isnull=True)
            .select_related("case", "loan__product", "borrower")
            .order_by("id")
        )
        if not rows:
            return [], counts
        # A batch run again after a crash: slots reserved by the first run are released and judged anew.
        reservations_release(decision_ids=[r.decision_id for r in rows])
        live = []
        for row in rows:
            reason = _cancel_reason(row)
            if reason:
                _finish(row, MessageStatus.CANCELLED, reason)
                counts["cancelled"] = counts.get("cancelled", 0) + 1
            else:
                live.append(row)
        debts = _debts_the_gate_allows(live, now)
        emails = address_and_render(live, debts=debts)
        unsendable = {r.pk for r in live if not r.body or (r.channel == Channel.LETTER and not r.to)}
        for row in [r for r in live if r.pk in unsendable]:
            reason = (
                f"No active {row.channel} template for {row.get_purpose_display()}."
                if not row.body
                else "The borrower has no postal address."
            )
            _finish(row, MessageStatus.FAILED, reason)
            counts["failed"] = counts.get("failed", 0) + 1
        live = [r for r in live if r.pk not in unsendable]
        # CERT-01: a text a collector sent from the case page is their manual contact (one query, only then).
        people = {r.created_by_id for r in live if r.created_by_id}
        staff = {s.user_id: (s,) for s in staff_facts(sorted(people))} if people else {}
        planned = [
            PlannedContact(
                row.borrower_id,
                Attempt(
                    channel=GATE_CHANNEL[row.channel],
                    at=now,
                    to=row.to,
                    automated=row.channel != Channel.LETTER,
                    debts=tuple(debts.get(row.pk, [row.loan_id])),
                    content="" if row.channel == Channel.VOICE else row.body,
                    purpose=row.purpose,
                    staff=staff.get(row.created_by_id or 0, ()),
                ),
                loan_id=row.loan_id,
            )
            for row in live
        ]
        ready = []
        for row, (decision, result) in zip(live, contacts_reserve_batch(planned), strict=True):
            # A text or call goes where the gate looked: without a number of the message's own, the gate chooses
            # the one the case page and the API name too (compliance.engine.contact_point) and judges it.
            row.decision, row.to = decision, decision.to
            why = "; ".join(r.message for r in result.reasons)
            if not row.to:  # nobody to send it to (the gate's NO-ADDRESS): a failure, not a decision to wait
                _finish(row, MessageStatus.FAILED, why, extra=["decision", "body", "template"])
                counts["failed"] = counts.get("failed", 0) + 1
                continue
            if result.allowed:
                ready.append(_Ready(row, row.borrower.language, emails.get(row.pk)))
                continue
            if result.outcome == "defer" and result.next_allowed_at:
                row.planned_for = result.next_allowed_at
                _finish(row, MessageStatus.DEFERRED, why, extra=["planned_for", "decision", "to", "body", "template"])
            elif result.outcome == "deny":
                _finish(row, MessageStatus.DENIED, why, extra=["decision", "to", "body", "template"])
            else:  # review, or a deferral with no instant when every candidate zone allows it
                _finish(row, MessageStatus.REVIEW, why or result.outcome, extra=["decision", "to", "body", "template"])
            counts[row.status] = counts.get(row.status, 0) + 1
        # The rows the gate allowed, in one statement: their decision, number, text and template.
        bulk_set(
            OutboundMessage,
            ["decision", "to", "body", "template", "updated_at"],
            [
                (r.message.pk, r.message.decision_id, r.message.to, r.message.body, r.message.template_id, now)
                for r in ready
            ],
        )
    return ready, counts


def _debts_the_gate_allows(rows: list[OutboundMessage], now: dt.datetime) -> dict[int, list[int]]:
    """The loans each message is about (``covered_debts``: a borrower-wide reminder covers every overdue loan of the
    borrower), less those the gate would not allow a contact about on their own.

    The gate is asked once per covered debt first, because the law counts and restricts per debt: Reg F's call
    frequency (12 CFR 1006.14(b), USF-08/09) and the Massachusetts cap on initiated texts and calls (MA-01) count
    per debt, and a dispute, an attorney or a cease-and-desist restriction may name one loan. A debt the gate does
    not allow now (denied, or deferred by its own count) while it allows another is left out of the message, and the
    message goes out about the debts it allows: a contact about debt B is not a contact about a disputed debt A, and
    the reserved ledger entry names only the debts the text lists (so each of them counts it once). When the gate
    allows none of them on its own, the message keeps them all and the decision below judges it as a whole: a
    borrower-wide reason (contact hours, a hold, consent) defers or denies the whole message. The per-debt answers
    are not stored; the decision that sends the message is."""
    covered = covered_debts(rows)
    several = [(row, loan) for row in rows if len(covered[row.pk]) > 1 for loan in covered[row.pk]]
    if not several:
        return covered
    results = contacts_check_batch(
        [
            PlannedContact(
                row.borrower_id,
                Attempt(
                    channel=GATE_CHANNEL[row.channel],
                    at=now,
                    to=row.to,
                    automated=row.channel != Channel.LETTER,
                    debts=(loan,),
                    purpose=row.purpose,
                ),
                loan_id=loan,
            )
            for row, loan in several
        ],
        store=False,
    )
    allowed: dict[int, set[int]] = {}
    for (row, loan), result in zip(several, results, strict=True):
        if result.allowed:
            allowed.setdefault(row.pk, set()).add(loan)
    for row in rows:
        kept = [loan for loan in covered[row.pk] if loan in allowed.get(row.pk, set())]
        if kept and len(kept) < len(covered[row.pk]):
            if row.loan_id not in kept:  # the message is about, and links to, a loan it still covers
                row.loan_id = kept[0]
                row.loan = Loan.objects.select_related("product").get(pk=row.loan_id)
            covered[row.pk] = kept
    return covered


def _cancel_reason(row: OutboundMessage) -> str:
    if row.case is not None:
        return case_cancel_reason(row.case, row.purpose)
    if row.loan.status != "active":
        return "The loan is no longer active."
    return ""


def _finish(row: OutboundMessage, status: str, reason: str, extra: Sequence[str] = ()) -> None:
    row.status, row.status_reason = status, reason[:2000]
    row.claim_token = ""
    row.save(update_fields=["status", "status_reason", "claim_token", "updated_at", *extra])


def _send_one(item: _Ready, token: str, provider: Provider) -> str:
    row = item.message
    now = timezone.now()
    label = f"message {row.pk}"
    email, letter = None, b""
    if row.channel == Channel.LETTER:
        try:  # the PDF first, as an e-mail's documents: a letter that cannot be made is not sent (nothing started)
            letter = document_for_message(message=row).pdf_bytes()
        except Exception as exc:
            logger.exception("message %s: its letter could not be made", row.pk)
            failure = ProviderError("permanent", "document", str(exc))
            if not db_retry(lambda: _mark_started(row, token, provider, now), what=label):
                return "skipped"
            return db_retry(partial(_record_failure, row, failure, attempts=row.attempts + 1), what=label)
    if row.channel == Channel.EMAIL:
        try:  # the documents first: an e-mail that cannot carry its notice is not sent, and nothing was started
            assert item.email is not None  # rendered with the batch (address_and_render)
            attachments = attachments_for(item.email.attachment, row)
            email = email_build(row=row, content=item.email, attachments=attachments, language=item.say_language)
        except Exception as exc:
            logger.exception("message %s: its document could not be made", row.pk)
            failure = exc if isinstance(exc, ProviderError) else ProviderError("permanent", "attachment", str(exc))
            if not db_retry(lambda: _mark_started(row, token, EMAIL, now), what=label):
                return "skipped"
            return db_retry(partial(_record_failure, row, failure, attempts=row.attempts + 1), what=label)
    # Committed before the provider is called (see the module docstring); proceeds only if this worker set it. A
    # retry after a commit whose answer was lost finds it set and skips the row: the watchdog then reviews it.
    if not db_retry(lambda: _mark_started(row, token, EMAIL if email else provider, now), what=label):
        return "skipped"
    callback = _callback_url("message" if row.channel == Channel.SMS else "call")
    try:
        if email is not None:
            sent = EMAIL.send_email(email)
        elif row.channel == Channel.LETTER:
            sent = PRINT_QUEUE.send_letter(message_id=row.pk, pdf=letter, date=now.date().isoformat())
        elif row.channel == Channel.SMS:
            sent = provider.send_sms(to=row.to, body=row.body, status_callback=callback)
        else:
            # The reminder's keypad menu answers to the signed webhook with this row's id (issue 15).
            menu = menu_url(message_id=row.pk)
            sent = provider.place_call(
                to=row.to, say=row.body, language=item.say_language, status_callback=callback, menu_url=menu
            )
    except ProviderError as exc:
        return db_retry(partial(_record_failure, row, exc, attempts=row.attempts + 1), what=label)
    # The provider took it: recording that must outlive a database restart, or the row ends in review.
    db_retry(lambda: _record_sent(row, sent), what=label)
    if row.purpose in MAILED_PURPOSES:  # VAL-01's and DN-01's clocks, DSP-01's hold
        db_retry(lambda: messages_mailed(message_ids=[row.pk]), what=label)
    if provider.name == "console" and row.channel != Channel.EMAIL:
        # The console backend's delivery report — a text's, a call's and, as the mail house would, a letter's —
        # through Twilio's status path; e-mail reports through its own webhook (imported here: callbacks imports us).
        from notifications.services.callbacks import console_status_report

        db_retry(lambda: console_status_report(message_id=row.pk), what=label)
    return MessageStatus.SENT


def _mark_started(row: OutboundMessage, token: str, provider: Provider | EmailProvider, now: dt.datetime) -> int:
    with connection.cursor() as cursor:  # plain SQL: once per message, and the ORM's compile cost adds up
        cursor.execute(
            f"UPDATE {OutboundMessage._meta.db_table} SET send_started_at = %s, attempts = attempts + 1, provider = %s,"
            " updated_at = %s WHERE id = %s AND claim_token = %s AND send_started_at IS NULL",
            [now, PRINT_QUEUE.name if row.channel == Channel.LETTER else provider.name, now, row.pk, token],
        )
        return cursor.rowcount


def _callback_url(kind: str) -> str:
    base = settings.TWILIO_WEBHOOK_BASE_URL.rstrip("/")
    return f"{base}{reverse(f'twilio-{kind}-status')}" if base else ""


def _record_sent(row: OutboundMessage, sent: Sent) -> None:
    """The provider took it: the row becomes ``sent`` with the provider's id and, for a text, its ledger entry
    ``sent`` too (a call's outcome arrives with its status callback; until then its reservation keeps counting,
    conservatively, as an attempt). One atomic statement on PostgreSQL: this runs once per message."""
    now = timezone.now()
    values: list[Any] = [sent.provider_id, sent.status[:32], now, now, row.pk]
    if connection.vendor == "postgresql" and row.channel != Channel.VOICE:
        reservation_settle_with(_SENT_UPDATE, values, outcome="sent", at=now, collection=collecting(row))  # at once
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_SENT_UPDATE, values)
        if row.channel != Channel.VOICE:
            ledger_outcome(row, "sent", at=now)


# A message sent on a retry drops the error of the attempt before (the case page showed "(20500)" on a sent text).
_SENT_UPDATE = f"""
    UPDATE {OutboundMessage._meta.db_table} SET status = 'sent', provider_id = %s, provider_status = %s, sent_at = %s,
           claim_token = '', status_reason = '', error_code = '', updated_at = %s
    WHERE id = %s"""


def ledger_outcome(row: OutboundMessage, outcome: str, *, at: dt.datetime) -> None:
    """The message's contact in the ledger takes its real outcome (the entry its decision reserved; without one, a
    new entry — the ledger must be complete)."""
    contact_record(
        borrower_id=row.borrower_id,
        channel=GATE_CHANNEL[row.channel],
        direction="outbound",
        outcome=outcome,
        at=at,
        debts=message_debts(row),
        to=row.to,
        automated=True,
        decision_id=row.decision_id,
        collection=collecting(row),
    )


# A reminder before anything fell due, an opt-out's confirmation: not communications in connection with collecting a
# debt, so never a debt's first communication (VAL-01's clock).
NOT_COLLECTION = {MessagePurpose.PRE_DUE, MessagePurpose.OPT_OUT_CONFIRMATION}


def collecting(row: OutboundMessage) -> bool:
    return row.purpose not in NOT_COLLECTION


def message_debts(row: OutboundMessage) -> list[int]:
    """The loans a message was about: a borrower-wide reminder's are those its reservation in the ledger names."""
    if row.idempotency_key.startswith(BORROWER_WIDE) and row.decision_id:
        reserved = ContactEvent.objects.filter(decision_id=row.decision_id).values_list("debts", flat=True).first()
        if reserved:
            return [int(d) for d in reserved]
    return [row.loan_id]


def _record_failure(row: OutboundMessage, exc: ProviderError, *, attempts: int) -> str:
    now = timezone.now()
    fields: dict[str, Any] = {"error_code": exc.code, "updated_at": now, "claim_token": ""}
    with transaction.atomic():
        if exc.uncertain:
            # Keep the reservation: the message may have gone out, so it counts until a person decides.
            status = MessageStatus.REVIEW
            fields["status_reason"] = (
                _("The provider did not answer in time; it may have sent this. Check first.")
                if exc.code == "timeout"
                else f"The provider's answer was lost ({exc.code}: {exc.message}); it may have sent this. Check first."
            )
        elif exc.transient and attempts < settings.OUTBOX_MAX_ATTEMPTS:
            status = MessageStatus.PLANNED
            wait = RETRY_MINUTES[min(attempts, len(RETRY_MINUTES)) - 1]
            fields.update(planned_for=now + dt.timedelta(minutes=wait), send_started_at=None, claimed_at=None)
            fields["status_reason"] = f"Provider error {exc.code}; retry {attempts + 1} in {wait} min: {exc.message}"
            reservations_release(decision_ids=[row.decision_id])
        else:
            status = MessageStatus.FAILED
            fields["status_reason"] = f"Provider error {exc.code}: {exc.message}"
            ledger_outcome(row, "failed", at=now)
            if exc.code == OPTED_OUT:
                provider_opt_out(row, exc.message)
        OutboundMessage.objects.filter(pk=row.pk).update(status=status, **fields)
    logger.warning("message %s: provider error %s (%s) -> %s", row.pk, exc.code, exc.kind, status)
    return status


def provider_opt_out(row: OutboundMessage, text: str) -> None:
    """Twilio or the carrier holds an opt-out (21610) we did not know: record it, our consent state being the
    source of truth."""
    consent_record(
        borrower_id=row.borrower_id, medium="sms", address=row.to, kind=ConsentKind.OPT_OUT, source="provider_error",
        text=text,
    )  # fmt: skip
