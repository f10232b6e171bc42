"""What the borrower does on their own page (issue 15), as services the page's thin views call: a promise, a plan, a
dispute, contact preferences, a call back. Each reuses the collectors' service for the same thing (the same limits,
the same checks) with the borrower as the actor: no user, the audit row's actor ``borrower`` (``labels.BORROWER``),
and the link and address the request came through (``BorrowerActor``) in its reason, on the case's timeline.

Errors are ``CaseError``s as everywhere (the forms of ``collections_app.borrower_forms`` show them beside the field);
the messages of the errors raised here are in the borrower's words and language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app.labels import BORROWER
from collections_app.models import (
    OPEN_STATES,
    CollectionCase,
    DisputeChannel,
    Hold,
    HoldKind,
    PaymentPlan,
    PlanStatus,
    PromiseToPay,
)
from collections_app.selectors.borrower_actions import (
    BORROWER_PAGE,
    SLOT_DAYS,
    SLOT_MINUTES,
    borrower_time_windows,
    plan_options,
    slots_allowed,
)
from collections_app.selectors.case_page import borrower_zone
from collections_app.services.arrangements import plan_propose, promise_record
from collections_app.services.cases import CaseError, InvalidRequest, TransitionConflict, audit, locked_case
from collections_app.services.holds import DisputeTerms, hold_place
from collections_app.uploads import max_bytes, remove, store, upload_kind
from compliance.models import ConsentKind, RestrictionKind
from compliance.services import consent_record, facts_load, restriction_add, restriction_lift
from loans.models import Borrower, Language, PreferredChannel
from loans.services import borrower_preferences_save


@dataclass(frozen=True)
class BorrowerActor:
    """Who acted when the borrower did, for the audit: the public id of the page's link (never the token) and the
    address the request came from."""

    link_id: str
    ip: str

    @property
    def via(self) -> str:
        """The audit reason's tail: how the borrower did it."""
        return f" (the borrower's page, link {self.link_id[:32]}, from {self.ip[:45] or '?'})"


def _audit_borrower(case: CollectionCase, name: str, reason: str, actor: BorrowerActor) -> None:
    """An audit row for something the borrower did that moves no state (the timeline shows it as theirs)."""
    audit(case, from_state=case.state, name=name, actor=None, reason=f"{reason}{actor.via}", label=BORROWER)


# ---------------------------------------------------------------------------------------------------------------
# Promise
# ---------------------------------------------------------------------------------------------------------------
def borrower_promise(*, case_id: int, actor: BorrowerActor, amount: Decimal, promised_on: dt.date) -> PromiseToPay:
    """The borrower promises to pay ``amount`` by ``promised_on``, within the collection policy's limits: the
    collectors' ``promise_record``, which checks them, as the borrower's own action (its refusals, worded for a
    collector, are told to the borrower in their words and language)."""
    try:
        return promise_record(case_id=case_id, actor=None, by_borrower=True, amount=amount, promised_on=promised_on,
                              note="made on the borrower's page", via=actor.via)  # fmt: skip
    except InvalidRequest as exc:
        words = {
            "promised_on": _("Please choose a date from the ones offered."),
            "amount": _("Please give an amount no larger than what you owe."),
        }
        told = words.get(exc.field) or _("We cannot record this promise. Please call us.")
        raise InvalidRequest(str(told), field=exc.field) from exc
    except TransitionConflict as exc:
        raise TransitionConflict(_("We cannot record a promise on this loan now. Please call us.")) from exc


# ---------------------------------------------------------------------------------------------------------------
# Installment plan
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlanChosen:
    """The plan the borrower chose and what became of it: ``started`` inside the policy, otherwise it waits for a
    manager's approval (the escalations' plans list)."""

    plan: PaymentPlan

    @property
    def started(self) -> bool:
        return self.plan.status == PlanStatus.ACTIVE


def borrower_plan_choose(*, case_id: int, actor: BorrowerActor, option: str) -> PlanChosen:
    """The borrower chooses one of the plans offered (``plan_options``, by its key such as ``monthly-3``): the
    collectors' ``plan_propose`` records it, judges it against the installment policy again and starts it, or
    leaves it waiting for a manager."""
    offered = {o.key: o for o in plan_options(case_id=case_id).options}
    chosen = offered.get(option)
    if chosen is None:
        raise InvalidRequest(_("Choose one of the plans offered."), field="option")
    try:
        plan = plan_propose(case_id=case_id, actor=None, by_borrower=True, down_payment=chosen.down_payment,
                            count=chosen.count, frequency=chosen.frequency, starts_on=chosen.starts_on,
                            via=actor.via)  # fmt: skip
    except CaseError as exc:  # the case moved on since the options were read: in the borrower's words
        raise TransitionConflict(_("We cannot set up a plan on this loan now. Please call us.")) from exc
    return PlanChosen(plan)


# ---------------------------------------------------------------------------------------------------------------
# Dispute
# ---------------------------------------------------------------------------------------------------------------
# Why the borrower disputes the debt: the choices of their page, and the words the audit and the managers read.
DISPUTE_REASONS = {
    "not_mine": "This is not my debt",
    "paid": "I have already paid",
    "wrong_amount": "The amount is wrong",
    "fraud": "Someone used my identity",
    "other": "Another reason",
}


def borrower_dispute(
    *, case_id: int, actor: BorrowerActor, reason: str, details: str = "", document: File | None = None
) -> Hold:
    """The borrower disputes the debt: a dispute hold on the case and its restriction, which the gate honours at its
    next check (USF-20: no collection until verification is sent), and the managers' disputes list. The optional
    document (PDF, JPEG or PNG by content, at most ``DISPUTE_UPLOAD_MAX_BYTES``) is kept privately and named on the
    hold; nothing is kept when the dispute is refused."""
    if reason not in DISPUTE_REASONS:
        raise InvalidRequest(_("Choose why you dispute this debt."), field="reason")
    details = details.strip()
    if reason == "other" and not details:
        raise InvalidRequest(_("Tell us why you dispute this debt."), field="details")
    kind = ""
    if document is not None:
        size = getattr(document, "size", None)
        if size is None:
            document.seek(0, 2)
            size = document.tell()
        if size > max_bytes():
            raise InvalidRequest(_("The document is too large."), field="document")
        kind = upload_kind(document)
        if not kind:
            raise InvalidRequest(_("Send a PDF, JPEG or PNG document."), field="document")
    words = f"{DISPUTE_REASONS[reason]}: {details}" if details else DISPUTE_REASONS[reason]
    with transaction.atomic():
        case = locked_case(case_id)  # the check and the hold as one step: two clicks make one dispute
        if case.state not in OPEN_STATES:
            raise TransitionConflict(_("This loan is no longer being collected."))
        if Hold.objects.filter(case=case, kind=HoldKind.DISPUTE, lifted_at__isnull=True).exists():
            raise TransitionConflict(_("You have already disputed this debt: we are looking into it."))
        document_ref = store(case_id=case_id, upload=document, kind=kind) if document is not None else ""
        try:
            was = case.state
            hold = hold_place(case_id=case_id, actor=None, by_borrower=True, kind=HoldKind.DISPUTE,
                              reason=words[:2000], document_ref=document_ref, via=actor.via,
                              dispute=DisputeTerms(channel=DisputeChannel.PORTAL, written=True))  # fmt: skip
            if was == hold.case.state:  # already on hold for another reason: no transition, so audit it here
                _audit_borrower(hold.case, "dispute", f"disputed: {words[:500]}", actor)
        except BaseException:
            if document_ref:
                remove(document_ref)
            raise
    return hold


# ---------------------------------------------------------------------------------------------------------------
# Contact preferences
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PreferencesSaved:
    """What saving changed, in the order done (for the page's confirmation and the tests)."""

    changes: list[str]


def _quiet_window(quiet_before: str, quiet_after: str) -> dict[str, str] | None:
    """The designated inconvenient time (USF-02) as the gate reads it: from ``from`` to ``to`` local time. "Not
    before 10:00" is 00:00 to 10:00, "not after 20:00" 20:00 to 00:00, both 20:00 to 10:00 (across midnight)."""
    if not quiet_before and not quiet_after:
        return None
    for value in (quiet_before, quiet_after):
        if value:
            try:
                dt.time.fromisoformat(value)
            except ValueError as exc:
                raise InvalidRequest(_("Choose a time from the list."), field="quiet_before") from exc
    if quiet_before and quiet_after and quiet_after <= quiet_before:
        raise InvalidRequest(_("The evening time must be later than the morning time."), field="quiet_after")
    return {"from": quiet_after or "00:00", "to": quiet_before or "00:00"}


def _said(quiet_before: str, quiet_after: str) -> str:
    if quiet_before and quiet_after:
        return f"Please do not contact me before {quiet_before} or after {quiet_after}"
    if quiet_before:
        return f"Please do not contact me before {quiet_before}"
    return f"Please do not contact me after {quiet_after}"


def borrower_preferences_set(
    *,
    borrower_id: int,
    actor: BorrowerActor,
    quiet_before: str = "",
    quiet_after: str = "",
    language: str,
    preferred_channel: str = "",
    stop_sms: bool = False,
    stop_email: bool = False,
    stop_automated_calls: bool = False,
    words: str = "",
) -> PreferencesSaved:
    """The borrower's contact preferences, written where the gate reads them so that its very next check obeys:

    - quiet hours (times not to be contacted, their local time) as an ``inconvenient_time`` restriction (USF-02,
      12 CFR 1006.6(b)(1)): the one they set before is lifted; their own words (or the sentence they chose) are its
      reason and travel in its details to the gate's reason;
    - opt-outs of texts, e-mail and automated calls as consent events for every number or address of that medium
      (USF-06, TCPA-02: revoked "by any reasonable means"), with their words; unticking a medium opts it back in;
    - language and preferred channel on the borrower (``loans``).

    Only what changed is written; each open case's timeline gets one audit row naming every change."""
    if language not in Language.values:
        raise InvalidRequest(_("Choose a language from the list."), field="language")
    if preferred_channel and preferred_channel not in PreferredChannel.values:
        raise InvalidRequest(_("Choose a channel from the list."), field="preferred_channel")
    window = _quiet_window(quiet_before, quiet_after)
    typed = words.strip()[:500]
    changes: list[str] = []
    with transaction.atomic():
        borrower = Borrower.objects.select_for_update().get(pk=borrower_id)  # one change of preferences at a time
        now = timezone.now()
        # The quiet hours: replaced when they differ from those in force (or when new words were given).
        said = typed or (_said(quiet_before, quiet_after) if window else "")
        current = borrower_time_windows(borrower_id)
        details = {**window, "words": said} if window else None
        if [r.details for r in current] != ([details] if details else []):
            for old in current:
                restriction_lift(restriction_id=old.pk, actor=None, reason=f"changed on the borrower's page{actor.via}")
            if details:
                restriction_add(borrower_id=borrower_id, kind=RestrictionKind.INCONVENIENT_TIME, actor=None,
                                details=details, reason=said, source=BORROWER_PAGE)  # fmt: skip
                changes.append(f"no contact {details['from']}–{details['to']} local time: “{said}”")
            else:
                changes.append("quiet hours removed")
        # Opt-outs, per number or address, as the gate counts them now.
        facts = facts_load([borrower_id], at=now)[0][borrower_id]
        media = [
            ("sms", stop_sms, list(facts.phone_kinds), facts.sms_opted_out, "texts"),
            ("voice", stop_automated_calls, list(facts.phone_kinds), facts.call_opted_out, "automated calls"),
            ("email", stop_email, list(facts.email_kinds), facts.email_opted_out, "e-mail"),
        ]
        for medium, stop, addresses, opted_out, name in media:
            to_change = [a for a in addresses if (a in opted_out) != stop]
            for address in to_change:
                consent_record(borrower_id=borrower_id, medium=medium, address=address,
                               kind=ConsentKind.OPT_OUT if stop else ConsentKind.OPT_IN, source=BORROWER_PAGE,
                               text=(typed or f"{'stopped' if stop else 'restarted'} {name} on the borrower's page"),
                               at=now)  # fmt: skip
            if to_change:
                changes.append(f"{name} {'stopped' if stop else 'restarted'} ({', '.join(to_change)})")
        if (borrower.language, borrower.preferred_channel) != (language, preferred_channel):
            borrower_preferences_save(borrower_id=borrower_id, language=language, preferred_channel=preferred_channel)
            changes.append(f"language {language}, preferred channel {preferred_channel or 'none'}")
        if changes:
            for case in CollectionCase.objects.filter(borrower_id=borrower_id, state__in=OPEN_STATES).order_by("pk"):
                _audit_borrower(case, "set_preferences", "; ".join(changes)[:2000], actor)
    return PreferencesSaved(changes)


# ---------------------------------------------------------------------------------------------------------------
# Call back
# ---------------------------------------------------------------------------------------------------------------
def borrower_callback_request(
    *, case_id: int, actor: BorrowerActor, start: dt.datetime, now: dt.datetime | None = None
) -> CollectionCase:
    """The borrower asks to be called back in the half-hour from ``start``: one of the slots the gate allows now
    (checked again here), recorded on the case as its ``callback_at``, which the collector's desk and queue put
    first when it comes."""
    if start.tzinfo is None:
        raise InvalidRequest(_("Choose one of the times offered."), field="slot")
    now = now or timezone.now()
    with transaction.atomic():
        case = locked_case(case_id)
        if case.state not in OPEN_STATES:
            raise TransitionConflict(_("This loan is no longer being collected."))
        in_range = now + dt.timedelta(minutes=15) <= start <= now + dt.timedelta(days=SLOT_DAYS)
        local = start.astimezone(ZoneInfo(borrower_zone(case.borrower)))  # the half-hours of the borrower's clock
        on_the_half_hour = local.second == 0 and local.microsecond == 0 and local.minute % SLOT_MINUTES == 0
        if not (in_range and on_the_half_hour and slots_allowed(case, [start])):
            raise InvalidRequest(_("We cannot call you at that time any more. Please choose another."), field="slot")
        case.callback_at = start
        case.save(update_fields=["callback_at"])
        _audit_borrower(case, "request_callback", f"call back at {start.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC", actor)
    return case
