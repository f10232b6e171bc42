"""The case's own writes: its errors, policies, the state machine's transitions (lock, check, move, save, audit) and
reassignment. Every state change of a case goes through ``run_transition`` here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm

from collections_app.labels import transition_label
from collections_app.models import (
    OPEN_STATES,
    STAGES,
    CaseState,
    CaseTransition,
    CloseReason,
    CollectionCase,
    CollectionPolicy,
    Forbearance,
    InstallmentPolicy,
)
from compliance.engine import DENY, Reason
from compliance.services import escalation_check
from loans.services import product_today
from loans.versioning import version_publish
from notifications.models import (
    LEFT_STATUSES,
    NOT_LEFT_STATUSES,
    Document,
    MessagePurpose,
    MessageStatus,
    OutboundMessage,
)
from notifications.planning import message_plan_once, messages_cancel

SYSTEM = "system"


ZERO = Decimal("0.00")


class CaseError(Exception):
    """A request about a case that cannot be carried out; the message says why, for the person who asked."""


class TransitionConflict(CaseError):
    """The case is not in a state where this can happen now (HTTP 409)."""


class RuleRefusal(TransitionConflict):
    """A conduct rule refuses this now (HTTP 409 with the rule: BS-01 breathing space, FB-01 forbearance first)."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class NotPermitted(CaseError):
    """The user's role does not allow this (HTTP 403)."""


class InvalidRequest(CaseError):
    """The request itself is wrong: an amount, a date, a limit (HTTP 400)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


# Transitions a person may ask for by name (the others have their own services with their own inputs).
# The escalation ladder's moves: a conduct rule (BS-01, FB-01) may refuse them.
ESCALATIONS = {"escalate_formal_notice", "request_legal", "approve_legal"}
USER_TRANSITIONS = {"escalate_formal_notice", "request_legal", "approve_legal", "reject_legal", "close"}


REASON_REQUIRED = {"approve_legal", "reject_legal", "close", "escalate_formal_notice", "request_legal"}


# Automated stage messages stop when a case leaves the ladder (promise, plan, hold) or ends.
STAGE_PURPOSES = [MessagePurpose.REMINDER, MessagePurpose.FORMAL_NOTICE, MessagePurpose.LEGAL]


# ---------------------------------------------------------------------------------------------------------------
# Policies
# ---------------------------------------------------------------------------------------------------------------
Policy = TypeVar("Policy", CollectionPolicy, InstallmentPolicy)


def policy_current(model: type[Policy], product_id: int | None) -> Policy:
    """The current version for a product, falling back to the default (product empty). One query: both
    candidates, the product's own first."""
    mine = Q(product_id=product_id) if product_id is not None else Q(pk__in=[])
    found = model.objects.filter(mine | Q(product__isnull=True), is_current=True).order_by(
        F("product_id").asc(nulls_last=True)
    )
    default = found.first()
    if default is None:
        raise InvalidRequest(f"no current {model._meta.verbose_name} for this product and no default")
    return default


def policy_revise(*, policy: CollectionPolicy | InstallmentPolicy, actor: User | None) -> Any:
    """Save an edited policy as a new version; the old version stays, no longer current (cases keep pointing at it)."""
    return version_publish(instance=policy, scope={"product_id": policy.product_id}, actor=actor)


# ---------------------------------------------------------------------------------------------------------------
# Transitions
# ---------------------------------------------------------------------------------------------------------------
def actor_label(actor: User | None) -> str:
    return actor.get_username() if actor is not None else SYSTEM


def audit(
    case: CollectionCase,
    *,
    from_state: str,
    name: str,
    actor: User | None,
    reason: str,
    at: dt.datetime | None = None,
    label: str = "",
) -> CaseTransition:
    """The audit row of a change; ``label`` names an actor who is no user (``BORROWER``)."""
    return CaseTransition.objects.create(
        case=case,
        from_state=from_state,
        to_state=case.state,
        transition=name,
        actor=actor,
        actor_label=label or actor_label(actor),
        reason=reason,
        policy_id=case.policy_id,
        at=at or timezone.now(),
    )


def cancel_planned_messages(case: CollectionCase, purposes: Iterable[str] | None, reason: str) -> int:
    """Planned or deferred messages of the case that must not go out any more (the outbox's owner cancels them)."""
    return messages_cancel(cases=[case.pk], purposes=purposes, reason=reason)


CLOSED_FOR_MESSAGES = (CaseState.RESOLVED, CaseState.CLOSED, CaseState.ON_HOLD)
# Where a default notice still fits: the case is at formal notice or on its way to legal.
ENFORCEMENT_STATES = (CaseState.FORMAL_NOTICE, CaseState.LEGAL_REVIEW, CaseState.LEGAL)


def message_cancel_reason(case: CollectionCase, purpose: str) -> str:
    """Does a message still fit its case at send time? Not once the case is resolved, closed or on hold, nor a stage
    reminder once the case has left that stage (registered with dispatch in ``CollectionsAppConfig.ready``)."""
    if purpose == MessagePurpose.VERIFICATION and case.state == CaseState.ON_HOLD:
        return ""  # DSP-01: the verification is the one letter a dispute hold lets through (the gate says so too)
    if purpose == MessagePurpose.CEASE_ACKNOWLEDGEMENT and case.state != CaseState.CLOSED:
        return ""  # sent because of the cease-and-desist hold itself (the gate lets it through that hold)
    if case.state in CLOSED_FOR_MESSAGES:
        return f"The case is {case.get_state_display()}."
    if purpose in STAGE_PURPOSES and case.state != purpose:
        return "The case is no longer in this stage."
    if purpose == MessagePurpose.DEFAULT_NOTICE and case.state not in ENFORCEMENT_STATES:
        return "The case is no longer at formal notice or beyond (a promise, a plan)."
    return ""


def message_covered_debts(messages: Sequence[Any]) -> dict[int, list[int]]:
    """The loans a borrower-wide reminder covers at send time (registered with dispatch in
    ``CollectionsAppConfig.ready``): every loan of the borrower whose case is on the ladder (not in a promise, a
    plan or on hold, nor in a hardship grace extension) with something overdue, oldest case first. One query."""
    today = timezone.localdate()
    rows = (
        CollectionCase.objects.filter(
            borrower_id__in={m.borrower_id for m in messages}, state__in=STAGES, amount_overdue__gt=0
        )
        .filter(Q(grace_until__isnull=True) | Q(grace_until__lt=today))
        .order_by("borrower_id", "pk")
        .values_list("borrower_id", "loan_id")
    )
    by_borrower: dict[int, list[int]] = {}
    for borrower_id, loan_id in rows:
        by_borrower.setdefault(borrower_id, []).append(loan_id)
    return {m.pk: by_borrower.get(m.borrower_id, []) for m in messages}


def _after_state_change(case: CollectionCase, reason: str) -> None:
    """Database side effects of entering a state, inside the transition's transaction."""
    if case.state in CLOSED_FOR_MESSAGES:
        cancel_planned_messages(case, None, f"case {case.state}: {reason}"[:500])
    elif case.state in (CaseState.PROMISE_TO_PAY, CaseState.PAYMENT_PLAN):
        cancel_planned_messages(case, STAGE_PURPOSES, f"automated reminders paused: {case.state}")
    if case.state in (CaseState.RESOLVED, CaseState.CLOSED):
        case.closed_at = timezone.now()


def locked_case(case_id: int) -> CollectionCase:
    try:
        return CollectionCase.objects.select_for_update().select_related("loan__product").get(pk=case_id)
    except CollectionCase.DoesNotExist as exc:
        raise InvalidRequest(_("case %(id)s does not exist") % {"id": case_id}) from exc


def run_transition(
    case: CollectionCase, name: str, actor: User | None, reason: str, *, label: str = ""
) -> CaseTransition:
    """Check permission and guards, change the state, save and audit. The caller holds the row lock. ``label``: an
    actor who is no user (``BORROWER``: no role to check, the borrower's own request)."""
    method = getattr(case, name)
    action = transition_label(name)
    # Order matters for the message: the wrong state is a conflict (409) whoever asks; then the role (403).
    if not can_proceed(method, check_conditions=False):
        raise TransitionConflict(
            _("a case in %(state)s cannot do this: %(action)s") % {"state": case.get_state_display(), "action": action}
        )
    if actor is not None and not has_transition_perm(method, actor):
        raise NotPermitted(_("your role may not do this: %(action)s") % {"action": action})
    if not can_proceed(method):
        raise TransitionConflict(_("the case cannot do this now: %(action)s") % {"action": action})
    from_state = case.state
    method()
    case.stage_entered_on = product_today(case.loan.product)
    _after_state_change(case, reason)
    case.save()  # ConcurrentTransitionMixin: refuses if the state changed under us since the row was read
    if case.state == CaseState.LEGAL:
        _evidence_pack_after_commit(case.pk)
    return audit(case, from_state=from_state, name=name, actor=actor, reason=reason, label=label)


def _evidence_pack_after_commit(case_id: int) -> None:
    """A case entering legal gets its evidence pack, built by a worker once the move is committed (issue 16.5)."""
    from collections_app.tasks import evidence_pack_build_task  # the tasks import the sweep, which imports these

    transaction.on_commit(lambda: evidence_pack_build_task.delay(case_id, "the case entered legal"))


def case_transition(
    *, case_id: int, name: str, actor: User | None, reason: str = "", close_reason: str = ""
) -> CollectionCase:
    """Run a named transition for a person (or the system when ``actor`` is None)."""
    if name not in USER_TRANSITIONS:
        raise InvalidRequest(_("unknown transition %(name)r") % {"name": name}, field="transition")
    reason = reason.strip()
    if name in REASON_REQUIRED and actor is not None and not reason:
        raise InvalidRequest(_("give a reason"), field="reason")
    if name == "close" and close_reason not in CloseReason.values:
        raise InvalidRequest(_("choose settled, written off or sold"), field="close_reason")
    with transaction.atomic():
        case = locked_case(case_id)
        if name == "close":
            case.close_reason = close_reason
        escalation_guard(case, name)
        run_transition(case, name, actor, reason)
        if name == "request_legal" and not case.policy.legal_requires_approval:
            run_transition(case, "approve_legal", None, "policy: legal escalation needs no approval")
    return case


def escalation_guard(case: CollectionCase, name: str) -> None:
    """BS-01, DSP-01, FB-01 and DN-01 (compliance.conduct), and FN-01 (the policy's formal notice response period):
    raise RuleRefusal, with the rule and the reason in the reader's language, when one refuses this escalation
    now."""
    if name not in ESCALATIONS:
        return
    today = product_today(case.loan.product)
    kinds = Forbearance.objects.filter(case_id=case.pk).values_list("kind", flat=True).distinct()
    refusals = escalation_check(
        borrower_id=case.borrower_id,
        loan_id=case.loan_id,
        transition=name,
        forbearance_kinds=list(kinds),
        case_opened_at=case.opened_at,
        today=today,
    )
    if name == "request_legal":
        refusals += formal_notice_refusals(case, today)
    if refusals:
        chinese = (get_language() or "").startswith("zh")
        # Each reason is a whole sentence: one after the other, as a reader writes them.
        words = "".join(r.message_zh for r in refusals) if chinese else " ".join(r.message for r in refusals)
        raise RuleRefusal(words, refusals[0].rule)  # the rule id for the API; people read the words


# The outbox rows that count as the formal notice sent in writing (FN-01).
WRITTEN_CHANNELS = ("letter", "email")


def _written_formal_notices(case: CollectionCase) -> QuerySet[OutboundMessage]:
    return OutboundMessage.objects.filter(
        case_id=case.pk, purpose=MessagePurpose.FORMAL_NOTICE, channel__in=WRITTEN_CHANNELS
    )


def formal_notice_served_at(case: CollectionCase) -> dt.datetime | None:
    """When the case's formal notice was first sent in writing (a letter handed to the mail house, or an e-mail that
    carried the notice's PDF), None while it was not."""
    return (
        _written_formal_notices(case)
        .filter(status__in=LEFT_STATUSES, sent_at__isnull=False)
        .filter(Q(channel="letter") | Exists(Document.objects.filter(message_id=OuterRef("pk"))))
        .order_by("sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )


def formal_notice_returned(case: CollectionCase) -> bool:
    """The case's written formal notice came back (the mail house could not deliver it, the provider failed it) and
    no other is on its way or was served: FN-01 holds the case at formal notice until a person sends it again."""
    written = _written_formal_notices(case)
    if written.filter(status__in=[*NOT_LEFT_STATUSES, *LEFT_STATUSES]).exists():
        return False
    return written.filter(status=MessageStatus.FAILED).exists()


def formal_notice_resend(*, case_id: int, actor: User) -> OutboundMessage:
    """Send the formal notice again as a letter, once the one sent came back (a person corrected the address): the
    letter is planned at once and goes through the gate with the next dispatch; its PDF is made when it is sent.
    Audited on the case. Refused while the case is not at formal notice or a notice is on its way or was served."""
    with transaction.atomic():
        case = locked_case(case_id)
        if case.state != CaseState.FORMAL_NOTICE:
            raise TransitionConflict(_("the case is not at formal notice"))
        if not formal_notice_returned(case):
            raise TransitionConflict(_("the formal notice is on its way or was delivered: nothing to send again"))
        returned = _written_formal_notices(case).filter(status=MessageStatus.FAILED).count()
        message, _new = message_plan_once(
            key=f"case:{case.pk}:formal_notice:letter:again:{returned}",
            borrower_id=case.borrower_id,
            loan_id=case.loan_id,
            case_id=case.pk,
            channel="letter",
            purpose=MessagePurpose.FORMAL_NOTICE,
        )
        audit(case, from_state=case.state, name="resend_formal_notice", actor=actor,
              reason=f"the formal notice came back undelivered: sent again (letter {message.pk})")  # fmt: skip
    return message


def formal_notice_response_ends(case: CollectionCase, served_at: dt.datetime) -> dt.date:
    """The last day of the response period the formal notice gives (the policy's days, in the product's calendar):
    legal review may be asked for from the day after."""
    zone = ZoneInfo(case.loan.product.timezone)
    # The current policy's days, as the sweep reads them (not the version the case last moved under).
    policy = policy_current(CollectionPolicy, case.loan.product_id)
    return served_at.astimezone(zone).date() + dt.timedelta(days=policy.formal_notice_response_days)


def formal_notice_refusals(case: CollectionCase, today: dt.date) -> list[Reason]:
    """FN-01 (the lender's policy): formal notice → legal review only after the formal notice was actually sent in
    writing and its response period has passed — a state name alone is no notice."""
    served_at = formal_notice_served_at(case)
    if served_at is None:
        return [
            Reason(
                "FN-01",
                DENY,
                "The formal notice has not been sent as a letter or an e-mail yet: legal review waits for it and for "
                "the days it gives the borrower to respond.",
                "正式催收通知函尚未以信函或电子邮件寄出：须寄出并待借款人答复期届满后，方可申请法律审查。",
            )
        ]
    ends = formal_notice_response_ends(case, served_at)
    if today <= ends:
        return [
            Reason(
                "FN-01",
                DENY,
                f"The formal notice gives the borrower until {ends.isoformat()} to respond: legal review may be asked "
                f"for from the day after.",
                f"正式催收通知函给予借款人的答复期至 {ends.isoformat()}：次日起方可申请法律审查。",
            )
        ]
    return []


def available_transitions(case: CollectionCase, user: User) -> list[str]:
    """Named transitions this user may run on this case now (the buttons a page shows)."""
    return sorted(t.name for t in case.get_available_user_state_transitions(user) if t.name in USER_TRANSITIONS)


def cases_reassign(*, case_ids: list[int], to_user: Any, actor: User) -> int:
    """A manager moves cases to another collector (in bulk); each move is audited. One owner per borrower: every
    open case of the borrowers of these cases moves with them (returns how many cases moved in all)."""
    if not actor.has_perm("collections_app.reassign_case"):
        raise NotPermitted(_("only managers may reassign cases"))
    with transaction.atomic():
        borrowers = CollectionCase.objects.filter(pk__in=case_ids, state__in=OPEN_STATES).values("borrower_id")
        cases = list(
            CollectionCase.objects.select_for_update(of=("self",))
            .filter(borrower_id__in=borrowers, state__in=OPEN_STATES)
            .select_related("assigned_to")
            .order_by("pk")
        )
        now = timezone.now()
        team = getattr(getattr(to_user, "team_membership", None), "team", None)
        CaseTransition.objects.bulk_create(
            CaseTransition(
                case=c,
                from_state=c.state,
                to_state=c.state,
                transition="reassign",
                actor=actor,
                actor_label=actor_label(actor),
                policy_id=c.policy_id,
                at=now,
                reason=f"{c.assigned_to.get_username() if c.assigned_to else 'unassigned'} → {to_user.get_username()}",
            )
            for c in cases
        )
        CollectionCase.objects.filter(pk__in=[c.pk for c in cases]).update(assigned_to=to_user, team=team)
    return len(cases)
