"""A case's calls as its page shows them: the call whose disposition is still owed (with its live status), the
recent calls through the provider with their dispositions and recordings, and who may hear a recording.

Recordings are for the case's own collector and for managers (of the case's team: they reach the case through
``case_get_for_user``) and admins; any other reader — another collector of the team included — is told there is
no such recording (404), as for a case they cannot see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.utils import timezone

from collections_app.models import CallDisposition, CollectionCase, CollectorProfile
from collections_app.selectors.readers import reader_zone
from compliance.models import ContactEvent, Decision
from core.roles import ADMIN, MANAGER, user_role
from notifications.models import CallRecording, CollectorCall, CollectorCallStatus

# A call the collector placed and has not disposed of is offered again on the case page for this long.
PENDING_HOURS = 12
LIVE = (CollectorCallStatus.PLACING, CollectorCallStatus.RINGING, CollectorCallStatus.CONNECTING)


def recording_may_hear(*, user: Any, case: CollectionCase) -> bool:
    """Managers and admins who see the case, and the collector the case is assigned to."""
    return user_role(user) in (MANAGER, ADMIN) or (user.pk is not None and case.assigned_to_id == user.pk)


def recording_for_user(*, user: Any, case: CollectionCase, recording_id: int) -> CallRecording:
    """A recording of one of the case's calls that the user may hear; 404 for anyone else, and once deleted."""
    recording = (
        CallRecording.objects.filter(pk=recording_id, call__case=case, deleted_at__isnull=True)
        .select_related("call")
        .first()
    )
    if recording is None or not recording_may_hear(user=user, case=case):
        raise Http404("No such recording")
    return recording


def call_pending(*, case: CollectionCase, user: Any, decision_id: int | None) -> tuple[Decision | None, Any]:
    """The allowed call whose disposition is still owed, and its call through the provider (None: dialled by hand).
    The one named (``?call=``) when it still holds its slot or went through the provider; otherwise this user's
    latest call on the case through the provider without a disposition, from the last hours."""
    decisions = Decision.objects.filter(
        ~Exists(CallDisposition.objects.filter(decision_id=OuterRef("pk"))),
        borrower_id=case.borrower_id,
        channel="call",
        allowed=True,
        dry_run=False,
    )
    placed = CollectorCall.objects.filter(decision_id=OuterRef("pk")).exclude(status=CollectorCallStatus.NOT_CONNECTED)
    reserved = ContactEvent.objects.filter(decision_id=OuterRef("pk"), outcome="reserved")
    if decision_id is not None:
        decision = decisions.filter(Q(Exists(reserved)) | Q(Exists(placed)), pk=decision_id).first()
    else:
        since = timezone.now() - dt.timedelta(hours=PENDING_HOURS)
        latest = placed.filter(case=case, collector=user, created_at__gte=since)
        decision = decisions.filter(Exists(latest)).order_by("-pk").first()
    if decision is None:
        return None, None
    return decision, CollectorCall.objects.filter(decision=decision).first()


@dataclass
class CallRow:
    call: CollectorCall
    disposition: CallDisposition | None
    recordings: list[CallRecording] = field(default_factory=list)


@dataclass
class CallPanel:
    """What the case page's call card shows (``templates/collections_app/case/_call.html``)."""

    decision: Decision | None  # the call whose disposition is owed
    call: CollectorCall | None  # ... when it went through the provider
    live: bool  # that call is still going: the card refreshes itself
    rows: list[CallRow]
    may_hear: bool
    may_hold: bool
    has_phone: bool
    zone: str  # the reader's own zone: a callback time is typed in it


def call_panel(*, case: CollectionCase, user: Any, decision_id: int | None) -> CallPanel:
    """The call card of a case page, in a fixed number of queries."""
    decision, call = call_pending(case=case, user=user, decision_id=decision_id)
    phone = CollectorProfile.objects.filter(user=user).values_list("phone", flat=True).first() or ""
    zone = reader_zone(user)
    calls = list(
        CollectorCall.objects.filter(case=case).select_related("collector").prefetch_related("recordings")
        .order_by("-created_at")[:10]
    )  # fmt: skip
    decided = CallDisposition.objects.filter(decision_id__in=[c.decision_id for c in calls])
    dispositions = {d.decision_id: d for d in decided}
    rows = [
        CallRow(c, dispositions.get(c.decision_id), [r for r in c.recordings.all() if r.deleted_at is None])
        for c in calls
    ]
    return CallPanel(
        decision=decision,
        call=call,
        live=call is not None and call.status in LIVE,
        rows=rows,
        may_hear=recording_may_hear(user=user, case=case),
        may_hold=user.has_perm("notifications.set_legal_hold"),
        has_phone=bool(phone),
        zone=zone,
    )
