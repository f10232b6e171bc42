"""A collector's call: the gate first, at the moment of dialling; through the provider when the collector has a phone
on their profile (it rings them, then the borrower, recorded as the profiles say: REC-01); then the disposition —
who answered and what was agreed — which the ledger and the case act on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from collections_app.models import (
    OPEN_STATES,
    CallDisposition,
    CallParty,
    CallResult,
    CollectionCase,
    CollectorProfile,
    DisputeChannel,
    HoldKind,
)
from collections_app.services.cases import InvalidRequest, NotPermitted, TransitionConflict
from collections_app.services.holds import DisputeTerms, hold_place
from compliance.models import Decision
from compliance.selectors import recording_policy_for
from compliance.services import contact_check, contact_record
from notifications.models import CallRecording, CollectorCall, CollectorCallStatus
from notifications.services import collector_call_classify, collector_call_create, recording_legal_hold_set


@dataclass(frozen=True)
class CallStarted:
    decision: Decision
    result: Any  # the gate's answer: allowed, reasons, next allowed time
    call: CollectorCall | None  # placed through the provider; None: the collector dials by hand


def collector_phone(user: User) -> str:
    """The phone the provider rings for this user's calls ("" when none: they dial by hand)."""
    phone = CollectorProfile.objects.filter(user=user).values_list("phone", flat=True).first()
    return str(phone or "")


# ---------------------------------------------------------------------------------------------------------------
# Starting a call: the gate first, at the moment of dialling
# ---------------------------------------------------------------------------------------------------------------
def call_start(*, case_id: int, actor: User, to: str) -> CallStarted:
    """Ask the gate for a manual call now and, if allowed, hold the slot (a reservation in the ledger). A collector
    with a phone on their profile gets a call through the provider, recorded as the borrower's profiles say
    (REC-01); the caller hands it to the provider once this is committed (``collector_call_place``). Without one,
    the collector dials and the disposition gives the outcome."""

    case = CollectionCase.objects.only("borrower_id", "loan_id", "state").get(pk=case_id)
    if case.state not in OPEN_STATES:
        raise TransitionConflict("the case is not open")
    if not case.borrower.phones.filter(number=to).exists():
        raise InvalidRequest("not one of the borrower's numbers", field="to")
    with transaction.atomic():
        decision, result = contact_check(
            borrower_id=case.borrower_id, channel="call", to=to, loan_id=case.loan_id, actor=actor, reserve=True
        )
        call = None
        agent = collector_phone(actor)
        if result.allowed and agent:
            call = collector_call_create(
                case_id=case.pk,
                borrower_id=case.borrower_id,
                collector=actor,
                decision_id=decision.pk,
                to=decision.to,
                agent_number=agent,
                language=case.borrower.language,
                policy=recording_policy_for(decision=decision),
            )
    return CallStarted(decision, result, call)


# ---------------------------------------------------------------------------------------------------------------
# The disposition: who answered (the ledger's outcome) and what was agreed (the case action it starts)
# ---------------------------------------------------------------------------------------------------------------
# Who answered → (the ledger outcome, who was reached). A wrong number and someone else answering are not the debtor:
# they do not start Reg F's quiet period (USF-09) nor count as the debtor's connected calls (CN-02).
PARTY_LEDGER = {
    CallParty.RIGHT_PARTY: ("conversation", "debtor"),
    CallParty.WRONG_PARTY: ("conversation", "third_party"),
    CallParty.THIRD_PARTY: ("conversation", "third_party"),
    CallParty.NO_ANSWER: ("no_answer", "debtor"),
    CallParty.VOICEMAIL: ("voicemail", "debtor"),
    CallParty.BUSY: ("busy", "debtor"),
}
# What a person may say of a call the provider reports unanswered (busy, no answer, failed): nobody answered.
UNANSWERED_PARTIES = {CallParty.NO_ANSWER, CallParty.BUSY}


def call_log(
    *,
    case_id: int,
    actor: User,
    decision_id: int,
    party: str,
    result: str = "",
    note: str = "",
    callback_at: dt.datetime | None = None,
) -> CallDisposition:
    """The disposition of a call the gate allowed, once per call, and what it starts.

    The ledger: a call through the provider already has (or will get) the outcome the provider's status callback
    reports — connected or not; the disposition adds who answered (the borrower, someone else, a machine). A call
    dialled by hand takes its outcome from the disposition. A conversation with the borrower starts Reg F's quiet
    period for the debt (USF-09).

    The case: a promise is recorded next (the page shows the promise form, filled in); a dispute places a dispute
    hold (USF-20: contact about the debt stops until verification is sent); a callback sets the case's
    ``callback_at``. Any new call settles a callback asked for earlier."""

    if party not in CallParty.values:
        raise InvalidRequest("say who answered", field="party")
    if result and result not in CallResult.values:
        raise InvalidRequest("unknown result", field="result")
    if result and party != CallParty.RIGHT_PARTY:
        raise InvalidRequest("a result needs the borrower on the line (right party)", field="result")
    if result == CallResult.CALLBACK and callback_at is None:
        raise InvalidRequest("give the time to call back", field="callback_at")
    if callback_at is not None and result != CallResult.CALLBACK:
        raise InvalidRequest("a time to call back goes with the result 'call back'", field="callback_at")
    case = CollectionCase.objects.only("borrower_id", "loan_id").get(pk=case_id)
    decision = Decision.objects.filter(pk=decision_id, borrower_id=case.borrower_id, channel="call").first()
    if decision is None or not decision.allowed or decision.dry_run:
        raise InvalidRequest("this call was not allowed by the gate", field="decision")
    outcome, target_role = PARTY_LEDGER[CallParty(party)]
    with transaction.atomic():
        if CallDisposition.objects.filter(decision=decision).exists():
            raise InvalidRequest("this call's disposition is recorded already", field="decision")
        call = CollectorCall.objects.filter(decision=decision).first()
        # Dialled by hand, or placed but the provider's answer was lost (no callback can find such a call): the
        # disposition is the outcome.
        if call is None or call.status == CollectorCallStatus.REVIEW:
            at = contact_record(
                borrower_id=case.borrower_id,
                channel="call",
                direction="outbound",
                outcome=outcome,
                at=timezone.now(),
                debts=[case.loan_id],
                to=decision.to,
                target_role=target_role,
                actor=actor,
                decision_id=decision.pk,
                note=note,
            ).at
        else:
            if call.answered is False and party not in UNANSWERED_PARTIES:
                raise InvalidRequest("the provider reports the call was not answered: no answer or busy", field="party")
            collector_call_classify(call_id=call.pk, outcome=outcome, target_role=target_role, note=note)
            at = call.dialled_at or call.created_at
        disposition = CallDisposition.objects.create(
            case_id=case_id,
            decision=decision,
            call=call,
            party=party,
            result=result,
            callback_at=callback_at,
            note=note,
            actor=actor,
        )
        # A new call settles any callback the borrower asked for; a new request replaces it.
        CollectionCase.objects.filter(pk=case_id).update(last_contact_at=at, callback_at=callback_at)
        if result == CallResult.DISPUTE:
            hold_place(case_id=case_id, actor=actor, kind=HoldKind.DISPUTE,
                       reason=f"Disputed on the call of {at:%Y-%m-%d %H:%M} UTC. {note}".strip(),
                       dispute=DisputeTerms(channel=DisputeChannel.CALL, received_at=at))  # fmt: skip
    return disposition


def recording_hold(*, case_id: int, actor: User, recording_id: int, hold: bool) -> CallRecording:
    """A manager puts a recording of this case's calls under legal hold (kept past its retention) or releases it."""
    if not actor.has_perm("notifications.set_legal_hold"):
        raise NotPermitted("only a manager or an admin can put a recording under legal hold")
    if not CallRecording.objects.filter(pk=recording_id, call__case_id=case_id, deleted_at__isnull=True).exists():
        raise InvalidRequest("no such recording on this case", field="recording")
    return recording_legal_hold_set(recording_id=recording_id, hold=hold, actor=actor)
