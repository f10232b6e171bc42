"""Dispatch of the outbox, at most once, and what providers tell us back.

The life of a row: ``planned`` (or ``deferred`` to an instant) → ``claimed`` by a dispatcher tick (``outbox_claim``,
``SKIP LOCKED`` so that several ticks never take the same row) → judged by the compliance gate at send time
(``outbox_send``: denied, deferred, cancelled or left claimed with a reservation in the ledger) → handed to the
provider outside any transaction, after ``send_started_at`` is committed → ``sent`` with the provider's id, then
``delivered`` or ``failed`` by the provider's callbacks (forward only).

Why ``send_started_at`` is written before the provider is called: a worker can die anywhere. A claimed row without
it never reached the provider, so the reaper may plan it again; a row with it and no provider id may have been sent,
so the reaper puts it in ``review`` for a person to decide. Nothing is ever resent blindly.
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
from django.db import IntegrityError, close_old_connections, connection, connections, transaction
from django.db.models import Case, Q, When
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from compliance.engine import Attempt
from compliance.models import ConsentKind
from compliance.services import (
    PlannedContact,
    consent_record,
    contact_record,
    contacts_reserve_batch,
    reservation_settle_with,
    reservations_release,
)
from loans.db import db_retry
from loans.models import Installment, Loan, LoanProduct, PhoneNumber
from loans.money import format_money
from loans.sql import bulk_set
from notifications.models import (
    Channel,
    InboundAction,
    InboundMessage,
    MessagePurpose,
    MessageStatus,
    MessageTemplate,
    OutboundMessage,
    ProviderPause,
)
from notifications.planning import case_cancel_reason
from notifications.providers import OPTED_OUT, PRINT_QUEUE, Provider, ProviderError, Sent, provider_get
from notifications.templating import render

logger = logging.getLogger(__name__)
security = logging.getLogger("collections.security")

# Texts and calls go to the provider, letters to the print queue; e-mail waits until a mail provider is configured.
DISPATCHED_CHANNELS = [Channel.SMS, Channel.VOICE, Channel.LETTER]
GATE_CHANNEL = {Channel.SMS: "sms", Channel.VOICE: "call", Channel.LETTER: "letter", Channel.EMAIL: "email"}
RETRY_MINUTES = [1, 5, 15, 60]  # backoff after transient provider errors (attempt 1, 2, 3, 4+)


# ---------------------------------------------------------------------------------------------------------------
# Claim
# ---------------------------------------------------------------------------------------------------------------
def outbox_claim(*, now: dt.datetime | None = None, limit: int | None = None) -> tuple[str, list[int]]:
    """Claim up to ``limit`` due SMS and voice rows for one batch; returns the claim token and the row ids."""
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
        self.gate = _ProviderGate(provider.name, self.label)
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
        if item.message.channel == Channel.LETTER:
            return ""
        return "paused" if self.gate.paused() else ""

    def _done(self, item: _Ready, result: Any) -> None:
        try:
            status = result()
        except Exception:  # the row stays claimed: the watchdog plans it again or, if it was started, reviews it
            logger.exception("%s: message %s could not be sent", self.label, item.message.pk)
            self.failed, status = True, "error"
        self.counts[status] = self.counts.get(status, 0) + 1
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


class _ProviderGate:
    """Whether a batch may start sends through its provider, read from ``ProviderPause`` (at most once a second)
    and changed by the answers: one that may have been lost (the row went to review) pauses the provider; a
    definite one after the pause ended (the probe) lifts it."""

    def __init__(self, provider: str, label: str) -> None:
        self.provider, self.label = provider, label
        self.paused_until: dt.datetime | None = None
        self.why = ""
        self.probing = False
        self.checked = -1.0

    def limit(self, threads: int) -> int:
        return 1 if self.probing else threads  # the probe goes alone

    def paused(self) -> bool:
        if self.paused_until is not None:
            return True
        if self.probing or time.monotonic() - self.checked < 1.0:
            return False
        self.checked = time.monotonic()
        state, until = db_retry(lambda: provider_gate(provider=self.provider), what=self.label)
        if state == "paused":
            self.paused_until, self.why = until, _PAUSED_REASON
            return True
        self.probing = state == "probe"
        return False

    def answered(self, status: str, message_id: int) -> None:
        if status == MessageStatus.REVIEW and self.paused_until is None:
            self.paused_until = db_retry(
                lambda: provider_pause(provider=self.provider, reason=f"message {message_id}: the answer may be lost"),
                what=self.label,
            )
            self.why, self.probing = _PAUSED_REASON, False
        elif self.probing and status in (MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.PLANNED):
            db_retry(lambda: provider_resume(provider=self.provider), what=self.label)
            self.probing = False


_PAUSED_REASON = "Sending is paused: the provider's answer to an earlier message may have been lost. Planned again."


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
        _address_and_render(live)
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
        planned = [
            PlannedContact(
                row.borrower_id,
                Attempt(
                    channel=GATE_CHANNEL[row.channel],
                    at=now,
                    to=row.to,
                    automated=row.channel != Channel.LETTER,
                    debts=(row.loan_id,),
                    content="" if row.channel == Channel.VOICE else row.body,
                    purpose=row.purpose,
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
                ready.append(_Ready(row, row.borrower.language))
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


def _cancel_reason(row: OutboundMessage) -> str:
    if row.case is not None:
        return case_cancel_reason(row.case, row.purpose)
    if row.loan.status != "active":
        return "The loan is no longer active."
    return ""


def _address_and_render(rows: list[OutboundMessage]) -> None:
    """Address letters (the postal address) and render the borrower-language template, for the whole batch in two
    queries. Texts and calls get their number from the gate, which loads the borrower's phones anyway."""
    oldest_unpaid: dict[int, Installment] = {}
    for inst in Installment.objects.filter(loan_id__in={r.loan_id for r in rows}, paid_on__isnull=True).order_by(
        "loan_id", "due_date"
    ):
        oldest_unpaid.setdefault(inst.loan_id, inst)
    templates = {
        (t.purpose, t.channel, t.language): t
        for t in MessageTemplate.objects.filter(is_active=True, channel__in=DISPATCHED_CHANNELS)
    }
    for row in rows:
        if not row.to and row.channel == Channel.LETTER:
            row.to = _postal_address(row.borrower)
        language = row.borrower.language
        template = templates.get((row.purpose, row.channel, language)) or templates.get(
            (row.purpose, row.channel, "en")
        )
        if template is None:
            row.body = ""  # nothing to say: failed below rather than an empty message sent
            continue
        row.template = template
        row.body = render(template.body, _values(row, oldest_unpaid.get(row.loan_id)))


def _postal_address(borrower: Any) -> str:
    lines = [borrower.full_name, borrower.address_line1, f"{borrower.postal_code} {borrower.city}".strip(),
             f"{borrower.region} {borrower.country}".strip()]  # fmt: skip
    return "\n".join(line for line in lines if line) if borrower.address_line1 else ""


def lender_name(product: LoanProduct | None) -> str:
    """The name a message to a borrower signs with: their product's lender, else the ``LENDER_NAME`` setting."""
    return (product.lender_name.strip() if product is not None else "") or settings.LENDER_NAME


def _values(row: OutboundMessage, oldest: Installment | None) -> dict[str, Any]:
    loan = row.loan
    if row.purpose == MessagePurpose.PRE_DUE and oldest is not None:
        amount = oldest.principal_due + oldest.interest_due + oldest.fee_due - oldest.opening_paid
    else:
        amount = loan.amount_overdue
    return {
        "name": row.borrower.full_name,
        "amount_due": format_money(amount, loan.currency),
        "due_date": oldest.due_date.isoformat() if oldest else "",
        "lender": lender_name(loan.product),
        "pay_link": settings.LENDER_PAY_URL.rstrip("/") + "/" + loan.external_id,
        "reference": loan.external_id,
        "help_phone": settings.LENDER_HELP_PHONE,
    }


def _finish(row: OutboundMessage, status: str, reason: str, extra: Sequence[str] = ()) -> None:
    row.status, row.status_reason = status, reason[:2000]
    row.claim_token = ""
    row.save(update_fields=["status", "status_reason", "claim_token", "updated_at", *extra])


def _send_one(item: _Ready, token: str, provider: Provider) -> str:
    row = item.message
    now = timezone.now()
    label = f"message {row.pk}"
    # Committed before the provider is called (see the module docstring); proceeds only if this worker set it. A
    # retry after a commit whose answer was lost finds it set and skips the row: the watchdog then reviews it.
    if not db_retry(lambda: _mark_started(row, token, provider, now), what=label):
        return "skipped"
    callback = _callback_url("message" if row.channel == Channel.SMS else "call")
    try:
        if row.channel == Channel.LETTER:
            subject = render(row.template.subject, _values(row, None)) if row.template else ""
            sent = PRINT_QUEUE.send_letter(
                message_id=row.pk, address=row.to, subject=subject, body=row.body, date=now.date().isoformat()
            )
        elif row.channel == Channel.SMS:
            sent = provider.send_sms(to=row.to, body=row.body, status_callback=callback)
        else:
            sent = provider.place_call(to=row.to, say=row.body, language=item.say_language, status_callback=callback)
    except ProviderError as exc:
        return db_retry(partial(_record_failure, row, exc, attempts=row.attempts + 1), what=label)
    # The provider took it: recording that must outlive a database restart, or the row ends in review.
    db_retry(lambda: _record_sent(row, sent), what=label)
    return MessageStatus.SENT


def _mark_started(row: OutboundMessage, token: str, provider: Provider, now: dt.datetime) -> int:
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
    values = [sent.provider_id, sent.status[:32], now, now, row.pk]
    if connection.vendor == "postgresql" and row.channel != Channel.VOICE:
        reservation_settle_with(_SENT_UPDATE, values, outcome="sent", at=now)  # the row and its ledger entry at once
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_SENT_UPDATE, values)
        if row.channel != Channel.VOICE:
            _ledger_outcome(row, "sent", at=now)


# A message sent on a retry drops the error of the attempt before (the case page showed "(20500)" on a sent text).
_SENT_UPDATE = f"""
    UPDATE {OutboundMessage._meta.db_table} SET status = 'sent', provider_id = %s, provider_status = %s, sent_at = %s,
           claim_token = '', status_reason = '', error_code = '', updated_at = %s
    WHERE id = %s"""


def _ledger_outcome(row: OutboundMessage, outcome: str, *, at: dt.datetime) -> None:
    """The message's contact in the ledger takes its real outcome (the entry its decision reserved; without one, a
    new entry — the ledger must be complete)."""
    contact_record(
        borrower_id=row.borrower_id,
        channel=GATE_CHANNEL[row.channel],
        direction="outbound",
        outcome=outcome,
        at=at,
        debts=[row.loan_id],
        to=row.to,
        automated=True,
        decision_id=row.decision_id,
    )


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
            _ledger_outcome(row, "failed", at=now)
            if exc.code == OPTED_OUT:
                _provider_opt_out(row, exc.message)
        OutboundMessage.objects.filter(pk=row.pk).update(status=status, **fields)
    logger.warning("message %s: provider error %s (%s) -> %s", row.pk, exc.code, exc.kind, status)
    return status


def _provider_opt_out(row: OutboundMessage, text: str) -> None:
    """Twilio or the carrier holds an opt-out (21610) we did not know: record it, our consent state being the
    source of truth (RULES.md TW-01)."""
    consent_record(
        borrower_id=row.borrower_id, medium="sms", address=row.to, kind=ConsentKind.OPT_OUT, source="provider_error",
        text=text,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# Releasing unsent rows, and pausing a provider in trouble
# ---------------------------------------------------------------------------------------------------------------
def outbox_release(
    *, message_ids: Sequence[int], claim_token: str, reason: str, until: dt.datetime | None = None
) -> int:
    """Rows of a claimed batch that never reached the provider go back to planned (due at ``until``, or as they
    were), their reserved slots released: a later batch judges them again. Rows already started are left alone."""
    now = timezone.now()
    with transaction.atomic():
        rows = OutboundMessage.objects.filter(pk__in=message_ids, claim_token=claim_token, send_started_at__isnull=True)
        reservations_release(decision_ids=list(rows.values_list("decision_id", flat=True)))
        fields: dict[str, Any] = {"status": MessageStatus.PLANNED, "claim_token": "", "claimed_at": None}
        if until is not None:
            fields["planned_for"] = until
        return rows.update(**fields, status_reason=reason[:2000], updated_at=now)


def provider_pause(*, provider: str, reason: str, now: dt.datetime | None = None) -> dt.datetime:
    """Pause sends through ``provider`` for ``PROVIDER_PAUSE_SECONDS`` (again, if it already was); returns the end.

    Called when an answer may have been lost (a timeout, a dropped connection): with a provider hanging, each send
    ends in review, so batches stop starting them instead of putting hundreds of messages in review."""
    now = now or timezone.now()
    until = now + dt.timedelta(seconds=settings.PROVIDER_PAUSE_SECONDS)
    ProviderPause.objects.update_or_create(
        provider=provider,
        defaults={"until": until, "reason": reason[:2000]},
        create_defaults={"until": until, "reason": reason[:2000], "since": now},
    )
    logger.error("provider %s paused until %s: %s", provider, until.isoformat(timespec="seconds"), reason)
    return until


def provider_resume(*, provider: str) -> None:
    """The provider answered again: sends through it start as usual."""
    if ProviderPause.objects.filter(provider=provider).delete()[0]:
        logger.warning("provider %s answers again: sending resumed", provider)


def provider_gate(*, provider: str, now: dt.datetime | None = None) -> tuple[str, dt.datetime | None]:
    """Whether a batch may send through ``provider`` now: "open"; ("paused", until); or "probe" — the pause has ended
    and this caller sends one message to find out whether the provider answers again. Taking the probe moves the
    pause on (one conditional UPDATE) by as long as one provider call may take, so that one batch probes at a time,
    the others hold their messages only that long, and a probe whose worker died is taken over by the next batch."""
    now = now or timezone.now()
    until = ProviderPause.objects.filter(provider=provider).values_list("until", flat=True).first()
    if until is None:
        return "open", None
    if until > now:
        return "paused", until
    probe = min(settings.TWILIO_TIMEOUT_SECONDS + 5, settings.PROVIDER_PAUSE_SECONDS)
    later = now + dt.timedelta(seconds=probe)
    if ProviderPause.objects.filter(provider=provider, until=until).update(until=later):
        return "probe", None
    return "paused", later


# ---------------------------------------------------------------------------------------------------------------
# Reaper
# ---------------------------------------------------------------------------------------------------------------
def outbox_reap(*, now: dt.datetime | None = None, older_than: dt.timedelta | None = None) -> dict[str, int]:
    """The outbox's watchdog: claims whose batch stopped moving — its worker died, its broker message was lost (a
    Redis restart), the database failed it — are taken back. A running batch touches its claims every third of
    ``OUTBOX_CLAIM_TIMEOUT_SECONDS``, so a claim untouched for longer has no batch: what never reached the provider
    is planned again, what may have reached it (``send_started_at`` set) goes to review, never resent blindly."""
    now = now or timezone.now()
    cutoff = now - (
        older_than if older_than is not None else dt.timedelta(seconds=settings.OUTBOX_CLAIM_TIMEOUT_SECONDS)
    )
    stale = OutboundMessage.objects.filter(status=MessageStatus.CLAIMED, claimed_at__lte=cutoff)
    with transaction.atomic():
        never_started = stale.filter(send_started_at__isnull=True)
        reservations_release(decision_ids=never_started.values_list("decision_id", flat=True))
        returned = never_started.update(
            status=MessageStatus.PLANNED,
            claim_token="",
            claimed_at=None,
            status_reason="Returned by the reaper: the claim was never sent.",
            updated_at=now,
        )
        uncertain = stale.filter(send_started_at__isnull=False, provider_id__isnull=True).update(
            status=MessageStatus.REVIEW,
            claim_token="",
            status_reason="A worker stopped while handing this to the provider: it may have been sent. Check first.",
            updated_at=now,
        )
    if returned or uncertain:
        logger.warning("reaper: %s claims returned, %s to review", returned, uncertain)
    return {"returned": returned, "review": uncertain}


# ---------------------------------------------------------------------------------------------------------------
# Provider callbacks
# ---------------------------------------------------------------------------------------------------------------
SMS_DELIVERED = {"delivered", "read"}
SMS_FAILED = {"undelivered", "failed"}
# Call statuses (Twilio) → ledger outcomes (RULES.md §1.3). A completed call answered by a person counts as a
# conversation about the debt (the prerecorded reminder names it): conservative, it starts Reg F's quiet period.
CALL_OUTCOMES = {"no-answer": "no_answer", "busy": "busy", "failed": "failed", "canceled": "failed"}


def message_status_apply(*, provider_id: str, status: str, error_code: str = "") -> OutboundMessage | None:
    """A message status callback: forward only (sent → delivered | failed); repeats and late ones change nothing."""
    with transaction.atomic():
        row = OutboundMessage.objects.select_for_update().filter(provider_id=provider_id).first()
        if row is None:
            return None
        if row.status != MessageStatus.SENT or status not in SMS_DELIVERED | SMS_FAILED:
            if status and row.status == MessageStatus.SENT:
                OutboundMessage.objects.filter(pk=row.pk).update(provider_status=status)
            return row
        now = timezone.now()
        if status in SMS_DELIVERED:
            row.status, row.delivered_at = MessageStatus.DELIVERED, now
            _ledger_outcome(row, "delivered", at=row.sent_at or now)
        else:
            row.status, row.error_code = MessageStatus.FAILED, error_code
            row.status_reason = f"The carrier did not deliver it ({status} {error_code})."
            _ledger_outcome(row, "failed", at=row.sent_at or now)
            if error_code == OPTED_OUT:
                _provider_opt_out(row, "")
        row.provider_status = status
        row.save(
            update_fields=["status", "delivered_at", "error_code", "status_reason", "provider_status", "updated_at"]
        )
        return row


def call_status_apply(*, provider_id: str, status: str, answered_by: str = "") -> OutboundMessage | None:
    """A call status callback: the final status becomes the call's outcome in the contact ledger, once."""
    with transaction.atomic():
        row = OutboundMessage.objects.select_for_update().filter(provider_id=provider_id).first()
        if row is None:
            return None
        final = status == "completed" or status in CALL_OUTCOMES
        if row.status != MessageStatus.SENT or not final:
            if row.status == MessageStatus.SENT and status:
                OutboundMessage.objects.filter(pk=row.pk).update(provider_status=status)
            return row
        if status == "completed":
            outcome = (
                "voicemail"
                if answered_by.startswith("machine")
                else "failed"
                if answered_by == "fax"
                else "conversation"
            )
        else:
            outcome = CALL_OUTCOMES[status]
        now = timezone.now()
        _ledger_outcome(row, outcome, at=row.sent_at or now)
        row.provider_status = f"{status} {answered_by}".strip()
        if outcome in ("conversation", "voicemail"):
            row.status, row.delivered_at = MessageStatus.DELIVERED, now
        else:
            row.status, row.status_reason = MessageStatus.FAILED, f"The call was not answered ({status})."
        row.save(update_fields=["status", "delivered_at", "status_reason", "provider_status", "updated_at"])
        return row


# ---------------------------------------------------------------------------------------------------------------
# Inbound SMS (TW-01): our own keyword handling is the system of record
# ---------------------------------------------------------------------------------------------------------------
OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT", "TD", "退订"}
OPT_IN_WORDS = {"START", "UNSTOP", "YES"}
HELP_WORDS = {"HELP", "INFO"}
MAYBE_OPT_OUT = (
    "STOP",
    "UNSUBSCRIBE",
    "OPT OUT",
    "DON'T TEXT",
    "DO NOT TEXT",
    "REMOVE ME",
    "退订",
    "别再发",
    "不要再发",
)


def inbound_classify(body: str) -> str:
    """Exact keywords (trimmed, upper-cased, spaces collapsed) act; anything that merely sounds like an opt-out
    goes to review (RULES.md §6.1)."""
    text = " ".join(body.strip().upper().split()).strip(".!")
    if text in OPT_OUT_WORDS:
        return InboundAction.OPT_OUT
    if text in OPT_IN_WORDS:
        return InboundAction.OPT_IN
    if text in HELP_WORDS:
        return InboundAction.HELP
    if any(word in text for word in MAYBE_OPT_OUT):
        return InboundAction.REVIEW
    return InboundAction.NONE


def inbound_sms_handle(*, provider_id: str, from_number: str, to_number: str, body: str) -> tuple[InboundMessage, str]:
    """Record an inbound SMS and act on it: the opt-out (or opt-in) is committed with the message, for every
    borrower with that number, before any reply. Returns the message and the one reply to send ('' for none). A
    repeated delivery of the same message, even at the same instant, changes nothing and replies nothing."""
    with transaction.atomic():
        existing = InboundMessage.objects.filter(provider_id=provider_id).first()
        if existing is not None:
            return existing, ""
        action = inbound_classify(body)
        phones = list(PhoneNumber.objects.filter(number=from_number).select_related("borrower"))
        try:
            # The message is the claim: Twilio retries overlap, and of two deliveries at once the second waits on
            # the unique provider id until the first commits, then does nothing (no second opt-out, no second
            # reply). Its opt-out is written in the same transaction, so it is never recorded without it.
            with transaction.atomic():
                message = InboundMessage.objects.create(
                    provider_id=provider_id,
                    from_number=from_number,
                    to_number=to_number,
                    body=body,
                    borrower=phones[0].borrower if phones else None,
                    action=action,
                )
        except IntegrityError:
            return InboundMessage.objects.get(provider_id=provider_id), ""
        kind = {InboundAction.OPT_OUT: ConsentKind.OPT_OUT, InboundAction.OPT_IN: ConsentKind.OPT_IN}.get(action)
        for phone in phones if kind else []:
            consent_record(
                borrower_id=phone.borrower_id,
                medium="sms",
                address=from_number,
                kind=kind,
                source="inbound_sms",
                text=body,
            )
    borrower = phones[0].borrower if phones else None
    # The reply signs with the lender of the borrower's latest loan (one reply, whatever their number of loans).
    latest = (
        Loan.objects.filter(borrower=borrower).select_related("product").order_by("-id").first() if borrower else None
    )
    return message, _reply(action, borrower.language if borrower else "en", lender_name(latest and latest.product))


def template_for(*, purpose: str, channel: str, language: str) -> MessageTemplate | None:
    """The active template for a message in the borrower's language, or the English one when there is none."""
    return (
        MessageTemplate.objects.filter(purpose=purpose, channel=channel, is_active=True, language__in=[language, "en"])
        .order_by(Case(When(language=language, then=0), default=1))
        .first()
    )


def _reply(action: str, language: str, lender: str) -> str:
    values = {"lender": lender, "help_phone": settings.LENDER_HELP_PHONE}
    if action == InboundAction.OPT_OUT:
        # The one confirmation 1006.14(h)(2)(i) allows, from the admin-edited template in the borrower's language.
        template = template_for(purpose=MessagePurpose.OPT_OUT_CONFIRMATION, channel=Channel.SMS, language=language)
        if template is not None:
            return render(template.body, values)
    with translation.override(language):
        if action == InboundAction.OPT_OUT:
            return _("%(lender)s: you will get no more text messages from us. Reply START to opt back in.") % values
        if action == InboundAction.OPT_IN:
            return _("%(lender)s: text messages are on again. Reply STOP to opt out.") % values
        if action == InboundAction.HELP:
            return _("%(lender)s: call us on %(help_phone)s. Reply STOP to opt out.") % values
    return ""


# ---------------------------------------------------------------------------------------------------------------
# Planning by people
# ---------------------------------------------------------------------------------------------------------------
def message_review_resolve(*, message_id: int, was_sent: bool, actor: Any) -> OutboundMessage:
    """A person settles a message in review after checking with the provider (or the borrower): it went out (it
    becomes ``sent`` and counts as sent), or it did not (planned again, its reserved slot released, and it will be
    judged by the gate afresh)."""
    now = timezone.now()
    who = getattr(actor, "username", "") or "someone"
    with transaction.atomic():
        row = OutboundMessage.objects.select_for_update().get(pk=message_id)
        if row.status != MessageStatus.REVIEW:
            raise ValueError("only a message in review can be settled")
        if was_sent:
            row.status, row.sent_at = MessageStatus.SENT, row.send_started_at or now
            row.status_reason, row.error_code = f"Reviewed by {who}: it was sent.", ""
            if row.channel != Channel.VOICE and row.decision_id:
                _ledger_outcome(row, "sent", at=row.sent_at)
        else:
            reservations_release(decision_ids=[row.decision_id])
            row.status, row.planned_for, row.send_started_at = MessageStatus.PLANNED, now, None
            row.claimed_at, row.claim_token = None, ""
            row.status_reason = f"Reviewed by {who}: it was not sent; planned again."
        row.save(update_fields=["status", "sent_at", "status_reason", "error_code", "planned_for", "send_started_at",
                                "claimed_at", "claim_token", "updated_at"])  # fmt: skip
    logger.info("message %s review settled by %s: %s", row.pk, who, "sent" if was_sent else "planned again")
    return row


def message_preview(*, case: Any, channel: str, purpose: str) -> str:
    """The text a message would have for this case's borrower now (the collector's "send an SMS" preview)."""
    template = template_for(purpose=purpose, channel=channel, language=case.borrower.language)
    if template is None:
        return ""
    oldest = Installment.objects.filter(loan_id=case.loan_id, paid_on__isnull=True).order_by("due_date").first()
    row = OutboundMessage(borrower=case.borrower, loan=case.loan, case=case, channel=channel, purpose=purpose)
    return render(template.body, _values(row, oldest))
