"""Complaints (CMP-01): recorded from any channel with the clocks of the borrower's strictest profile; a complaint
about collection conduct puts the debt's automated contacts on REVIEW (the gate's ``complaint_review`` restriction)
until a manager acknowledges it; a manager resolves it with an outcome and a response (text or a stored document)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app.models import (
    CollectionCase,
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintOutcome,
    ComplaintStatus,
)
from collections_app.services.cases import InvalidRequest, TransitionConflict
from compliance.complaints import complaint_deadlines
from compliance.engine import applicable
from compliance.models import RestrictionKind
from compliance.services import profiles_current, restriction_add, restriction_lift
from notifications.models import InboundMessage


def _zone(case: CollectionCase) -> ZoneInfo:
    return ZoneInfo((case.borrower.time_zones or ["UTC"])[0])


def complaint_clocks(*, case: CollectionCase, received_at: dt.datetime) -> tuple[dt.date, dt.date, dt.date, str]:
    """(received on, acknowledge by, final response by, regimes) for a complaint about ``case``: the borrower's local
    date and the strictest clocks of the profiles that apply to their address."""
    received_on = received_at.astimezone(_zone(case)).date()
    codes = [p.code for p in applicable(profiles_current(), case.borrower.country, case.borrower.region)]
    deadlines = complaint_deadlines(received_on, codes)
    return received_on, deadlines.acknowledge_by, deadlines.final_by, ",".join(deadlines.regimes)


def complaint_record(
    *,
    case_id: int,
    actor: User | None,
    channel: str,
    category: str,
    summary: str,
    received_at: dt.datetime | None = None,
    collector_id: int | None = None,
    inbound_message_id: int | None = None,
) -> Complaint:
    """Record a complaint (staff, a letter, a call, the lender's system, the borrower's page with ``actor`` None).
    The collector involved defaults to the case's; one about conduct places the gate's review restriction."""
    if channel not in ComplaintChannel.values:
        raise InvalidRequest(_("unknown channel"), field="channel")
    if category not in ComplaintCategory.values:
        raise InvalidRequest(_("choose a category"), field="category")
    if not summary.strip():
        raise InvalidRequest(_("say what the borrower complains about"), field="summary")
    now = timezone.now()
    received_at = received_at or now
    if received_at > now + dt.timedelta(minutes=5):
        raise InvalidRequest(_("the complaint cannot be received in the future"), field="received_at")
    with transaction.atomic():
        case = CollectionCase.objects.select_related("borrower").get(pk=case_id)
        received_on, acknowledge_by, final_by, regimes = complaint_clocks(case=case, received_at=received_at)
        complaint = Complaint.objects.create(
            case=case,
            collector_id=collector_id if collector_id is not None else case.assigned_to_id,
            channel=channel,
            category=category,
            status=ComplaintStatus.OPEN,
            summary=summary.strip(),
            received_at=received_at,
            received_on=received_on,
            acknowledge_by=acknowledge_by,
            final_by=final_by,
            regimes=regimes,
            inbound_message_id=inbound_message_id,
            recorded_by=actor,
        )
        if category == ComplaintCategory.CONDUCT:
            complaint.restriction = restriction_add(
                borrower_id=case.borrower_id,
                loan_id=case.loan_id,
                kind=RestrictionKind.COMPLAINT_REVIEW,
                reason=summary.strip()[:500],
                source=f"complaint:{complaint.pk}",
                actor=actor,
            )
            complaint.save(update_fields=["restriction"])
    return complaint


def complaint_record_by_borrower(*, case_id: int, category: str, summary: str) -> Complaint:
    """A complaint the borrower made on their own page (no user: the timeline says the borrower)."""
    return complaint_record(
        case_id=case_id, actor=None, channel=ComplaintChannel.PORTAL, category=category, summary=summary
    )


def _case_for_message(message: InboundMessage) -> CollectionCase:
    case = (
        CollectionCase.objects.filter(borrower_id=message.borrower_id, closed_at__isnull=True).order_by("-id").first()
        or CollectionCase.objects.filter(borrower_id=message.borrower_id).order_by("-id").first()
    )
    if case is None:
        raise InvalidRequest(_("the sender has no case"))
    return case


def complaint_confirm(*, inbound_message_id: int, actor: User, category: str) -> Complaint:
    """A person confirms that a flagged text is a complaint: recorded as received when the text came in."""
    with transaction.atomic():
        message = InboundMessage.objects.select_for_update().get(pk=inbound_message_id, possible_complaint=True)
        if Complaint.objects.filter(inbound_message_id=message.pk).exists():
            raise TransitionConflict(_("this message was decided already"))
        return complaint_record(
            case_id=_case_for_message(message).pk,
            actor=actor,
            channel=ComplaintChannel.SMS,
            category=category,
            summary=message.body or "—",
            received_at=message.received_at,
            inbound_message_id=message.pk,
        )


def complaint_dismiss(*, inbound_message_id: int, actor: User) -> Complaint:
    """A person decides that a flagged text is not a complaint: kept (who and when), no clock, no review."""
    with transaction.atomic():
        message = InboundMessage.objects.select_for_update().get(pk=inbound_message_id, possible_complaint=True)
        if Complaint.objects.filter(inbound_message_id=message.pk).exists():
            raise TransitionConflict(_("this message was decided already"))
        case = CollectionCase.objects.select_related("borrower").get(pk=_case_for_message(message).pk)
        received_on, acknowledge_by, final_by, regimes = complaint_clocks(case=case, received_at=message.received_at)
        now = timezone.now()
        return Complaint.objects.create(
            case=case,
            collector_id=case.assigned_to_id,
            channel=ComplaintChannel.SMS,
            category=ComplaintCategory.OTHER,
            status=ComplaintStatus.DISMISSED,
            summary=message.body or "—",
            received_at=message.received_at,
            received_on=received_on,
            acknowledge_by=acknowledge_by,
            final_by=final_by,
            regimes=regimes,
            inbound_message_id=message.pk,
            recorded_by=actor,
            resolved_by=actor,
            resolved_at=now,
        )


def _lift_review(complaint: Complaint, actor: User) -> None:
    if complaint.restriction_id:
        restriction_lift(
            restriction_id=complaint.restriction_id, actor=actor, reason=_("complaint acknowledged by a manager")
        )


def complaint_acknowledge(*, complaint_id: int, actor: User) -> Complaint:
    """A manager acknowledges the complaint: automated contact resumes (the review restriction is lifted)."""
    with transaction.atomic():
        complaint = Complaint.objects.select_for_update().get(pk=complaint_id)
        if complaint.status != ComplaintStatus.OPEN:
            raise TransitionConflict(_("the complaint is not waiting for acknowledgement"))
        _lift_review(complaint, actor)
        complaint.status, complaint.acknowledged_by, complaint.acknowledged_at = (
            ComplaintStatus.ACKNOWLEDGED,
            actor,
            timezone.now(),
        )
        complaint.save(update_fields=["status", "acknowledged_by", "acknowledged_at"])
    return complaint


def complaint_resolve(
    *, complaint_id: int, actor: User, outcome: str, response_text: str = "", response_ref: str = ""
) -> Complaint:
    """A manager closes the complaint with its outcome and the response sent (its text, or a stored document);
    acknowledging it on the way if nobody had."""
    if outcome not in ComplaintOutcome.values:
        raise InvalidRequest(_("choose an outcome"), field="outcome")
    if not response_text.strip() and not response_ref:
        raise InvalidRequest(_("give the response: its text or the document"), field="response_text")
    with transaction.atomic():
        complaint = Complaint.objects.select_for_update().get(pk=complaint_id)
        if complaint.status not in (ComplaintStatus.OPEN, ComplaintStatus.ACKNOWLEDGED):
            raise TransitionConflict(_("the complaint is closed already"))
        now = timezone.now()
        fields = ["status", "resolved_by", "resolved_at", "outcome", "response_text", "response_ref"]
        if complaint.status == ComplaintStatus.OPEN:
            _lift_review(complaint, actor)
            complaint.acknowledged_by, complaint.acknowledged_at = actor, now
            fields += ["acknowledged_by", "acknowledged_at"]
        complaint.status, complaint.resolved_by, complaint.resolved_at = ComplaintStatus.RESOLVED, actor, now
        complaint.outcome, complaint.response_text, complaint.response_ref = (
            outcome,
            response_text.strip(),
            response_ref,
        )
        complaint.save(update_fields=fields)
    return complaint
