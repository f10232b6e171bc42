"""Disputes and their workflow (Reg F 1006.38; DSP-01): received — from a call, the case page, a letter staff
record, the borrower's page or the API, each a dispute hold (``hold_place``) with its ``Dispute`` —, the verification
prepared (a ``dispute_verification`` document on a planned letter, ``purpose=verification``: the one contact the
hold lets through) and, once that letter is mailed, the hold lifted by itself (audited as the system) so that
collection may resume."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app.models import CaseState, CaseTransition, Dispute, Hold
from collections_app.services.cases import InvalidRequest, TransitionConflict, actor_label, locked_case, run_transition
from collections_app.services.holds import DisputeTerms, hold_place
from compliance.services import restriction_lift
from notifications.models import Channel, MessagePurpose, OutboundMessage
from notifications.planning import message_plan_once
from notifications.services import document_render

logger = logging.getLogger(__name__)


def dispute_record(*, case_id: int, actor: User, reason: str, terms: DisputeTerms, document_ref: str = "") -> Dispute:
    """Staff record a dispute (from the case page, an inbound letter, the API): a dispute hold and its record."""
    hold = hold_place(case_id=case_id, actor=actor, kind="dispute", reason=reason, document_ref=document_ref,
                      dispute=terms)  # fmt: skip
    return hold.dispute


def dispute_verification_prepare(*, dispute_id: int, actor: User) -> Dispute:
    """Prepare the verification of a dispute: the ``dispute_verification`` document (the loan's terms, schedule and
    payments) on a letter planned at once (``purpose=verification``, the one contact the dispute lets through). Once,
    and only while the dispute is in force. Audited on the case."""
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update().select_related("hold").filter(pk=dispute_id).first()
        if dispute is None:
            raise InvalidRequest(_("no such dispute"), field="dispute")
        case = locked_case(dispute.case_id)
        if dispute.hold.lifted_at is not None:
            raise TransitionConflict(_("the dispute's hold was lifted already"))
        if dispute.prepared_at is not None:
            raise TransitionConflict(_("the verification was prepared already"))
        message, _new = message_plan_once(
            key=f"dispute:{dispute.pk}:verification:letter",
            borrower_id=case.borrower_id,
            loan_id=case.loan_id,
            case_id=case.pk,
            channel=Channel.LETTER,
            purpose=MessagePurpose.VERIFICATION,
        )
        disputed_on = timezone.localdate(dispute.received_at)
        document = document_render(kind="dispute_verification", case=case, message=message, actor=actor,
                                   details={"disputed_on": disputed_on.isoformat()})  # fmt: skip
        dispute.verification_document, dispute.verification_message = document, message
        dispute.prepared_at, dispute.prepared_by = timezone.now(), actor
        dispute.save(update_fields=["verification_document", "verification_message", "prepared_at", "prepared_by"])
        _audit(case, "verification_prepared", actor, f"verification of the dispute of {disputed_on} prepared")
    return dispute


def dispute_verification_mailed(message: OutboundMessage) -> Dispute | None:
    """The verification letter of a dispute left (sent to the mail house, or delivered): the dispute is mailed and its
    hold lifts by itself — the restriction too, so the gate lets contact resume (DSP-01, USF-20) — audited as the
    system; the case returns to its stage when no other hold remains. Registered with notifications
    (``mailed_register``); repeats change nothing."""
    if message.purpose != MessagePurpose.VERIFICATION:
        return None
    dispute = Dispute.objects.select_for_update().filter(verification_message_id=message.pk).first()
    if dispute is None or dispute.mailed_at is not None:
        return dispute
    dispute.mailed_at = message.sent_at or timezone.now()
    dispute.save(update_fields=["mailed_at"])
    hold = Hold.objects.select_for_update().get(pk=dispute.hold_id)
    if hold.lifted_at is not None:
        return dispute
    case = locked_case(hold.case_id)
    reason = f"verification mailed ({message.get_channel_display()} {message.pk})"
    restriction = restriction_lift(restriction_id=hold.restriction_id, actor=None, reason=reason)
    hold.lifted_at, hold.lift_reason = restriction.lifted_at, reason
    hold.save(update_fields=["lifted_at", "lift_reason"])
    others = Hold.objects.filter(case=case, lifted_at__isnull=True).exclude(pk=hold.pk).exists()
    if case.state == CaseState.ON_HOLD and not others:
        run_transition(case, "lift_hold", None, f"{hold.get_kind_display()} lifted: {reason}")
    else:
        _audit(case, "verification_mailed", None, f"{hold.get_kind_display()} lifted: {reason}")
    logger.info("dispute %s: verification mailed, hold %s lifted", dispute.pk, hold.pk)
    return dispute


def _audit(case: Any, name: str, actor: User | None, reason: str) -> CaseTransition:
    """A step of the workflow that changes no state, in the case's history."""
    return CaseTransition.objects.create(case=case, from_state=case.state, to_state=case.state, transition=name,
                                         actor=actor, actor_label=actor_label(actor), reason=reason,
                                         policy_id=case.policy_id, at=timezone.now())  # fmt: skip
