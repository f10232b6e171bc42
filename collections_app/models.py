"""Collection cases and everything around them: policies, teams, promises, plans, holds, notes, visits, the sweep.

The case state machine (docs/architecture.md) lives on ``CollectionCase``: its transition methods describe the graph
and pure guards only. ``collections_app.services`` does the rest (lock → check → transition → save → audit → side
effects) and the daily sweep moves cases in bulk with set-based SQL, writing the same ``CaseTransition`` audit rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition
from phonenumber_field.modelfields import PhoneNumberField

from core.models import validate_zone
from loans.fields import MoneyField
from loans.models import ZERO, Borrower, Language, Loan, LoanProduct

if TYPE_CHECKING:
    from django_fsm import Transition, UserWithPermissions

User = settings.AUTH_USER_MODEL


# ---------------------------------------------------------------------------------------------------------------
# Teams
# ---------------------------------------------------------------------------------------------------------------
class Team(models.Model):
    """A group of collectors working one language, led by a manager."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    manager = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="managed_teams")
    collectors_see_team_cases = models.BooleanField(
        _("collectors see the team's cases"), default=False, help_text=_("Otherwise only their own.")
    )
    timezone = models.CharField(
        _("time zone"),
        max_length=64,
        default="UTC",
        validators=[validate_zone],
        help_text=_("Where the team works: times on its members' pages are shown in this zone unless they chose one."),
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    """A collector's team; cases are assigned within the team whose language matches the borrower's."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="team_membership")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    accepts_new_cases = models.BooleanField(_("accepts new cases"), default=True)

    class Meta:
        verbose_name = _("team membership")
        verbose_name_plural = _("team memberships")

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


# ---------------------------------------------------------------------------------------------------------------
# Policies: every edit is a new version; a case transition records the version that moved it.
# ---------------------------------------------------------------------------------------------------------------
class VersionedPolicy(models.Model):
    """Common columns of versioned policies: one current version per product (or the default, product empty)."""

    product = models.ForeignKey(
        LoanProduct,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty: the default for products without a policy of their own."),
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    is_current = models.BooleanField(default=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )

    class Meta:
        abstract = True

    def __str__(self) -> str:
        scope = self.product.code if self.product is not None else _("default")
        return f"{scope} v{self.version}"


CADENCE_STAGES = ("reminder", "formal_notice", "legal")
CADENCE_CHANNELS = ("sms", "voice", "email", "letter")


def validate_cadence(value: object) -> None:
    """``{"reminder": {"sms": 3, "voice": 2}, "formal_notice": {"letter": 0, "voice": 2}}``: days between contacts
    per stage and channel; 0 means once per stage."""
    if not isinstance(value, dict):
        raise ValidationError(_("Cadence must be an object of stages."))
    for stage, channels in value.items():
        if stage not in CADENCE_STAGES:
            raise ValidationError(_("Unknown stage %(stage)s.") % {"stage": stage})
        if not isinstance(channels, dict):
            raise ValidationError(_("Each stage maps channels to days."))
        for channel, days in channels.items():
            if channel not in CADENCE_CHANNELS:
                raise ValidationError(_("Unknown channel %(channel)s.") % {"channel": channel})
            if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 90:
                raise ValidationError(_("Days must be a whole number from 0 to 90."))


def validate_offsets(value: object) -> None:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 30 for v in value
    ):
        raise ValidationError(_("Give a list of whole days from 1 to 30, e.g. [3, 1]."))


class CollectionPolicy(VersionedPolicy):
    """Grace period, stage thresholds, reminder cadence and pre-due reminders of a product (or the default)."""

    grace_days = models.PositiveSmallIntegerField(
        _("grace period (days)"),
        default=3,
        validators=[MaxValueValidator(90)],
        help_text=_("A case opens when days past due exceeds this."),
    )
    formal_notice_dpd = models.PositiveSmallIntegerField(_("formal notice at DPD"), default=30)
    legal_dpd = models.PositiveSmallIntegerField(_("legal review at DPD"), default=90)
    legal_requires_approval = models.BooleanField(_("legal escalation needs a manager's approval"), default=True)
    # FN-01 (the lender's policy): a case goes from formal notice to legal review only once its formal notice was sent
    # in writing (a letter, or an e-mail carrying it) and the borrower has had this many days to respond.
    formal_notice_response_days = models.PositiveSmallIntegerField(
        _("formal notice: days to respond"),
        default=14,
        validators=[MaxValueValidator(90)],
        help_text=_(
            "Legal review waits until the formal notice was sent as a letter or an e-mail and this many days have "
            "passed since."
        ),
    )
    pre_due_offsets = models.JSONField(
        _("pre-due reminders (days before)"), default=list, blank=True, validators=[validate_offsets]
    )
    cadence = models.JSONField(_("reminder cadence"), default=dict, blank=True, validators=[validate_cadence])
    promise_max_days = models.PositiveSmallIntegerField(_("latest promise date (days ahead)"), default=14)
    max_grace_extension_days = models.PositiveSmallIntegerField(
        _("hardship grace extension, at most (days)"), default=14, validators=[MaxValueValidator(90)]
    )
    min_payment = MoneyField(
        _("smallest online payment"),
        default=Decimal("10.00"),
        validators=[MinValueValidator(Decimal("0.00"))],
        help_text=_(
            "The least a borrower may pay online as an amount of their choice, in the product's currency "
            "(a smaller balance may always be paid in full)."
        ),
    )

    class Meta:
        verbose_name = _("collection policy")
        verbose_name_plural = _("collection policies")
        constraints = [
            models.UniqueConstraint(fields=["product", "version"], name="collection_policy_version_unique"),
            models.UniqueConstraint(
                fields=["product"], condition=Q(is_current=True), name="collection_policy_one_current"
            ),
            models.UniqueConstraint(
                fields=["version"],
                condition=Q(is_current=True, product__isnull=True),
                name="collection_policy_one_current_default",
            ),
        ]

    def clean(self) -> None:
        if not self.grace_days < self.formal_notice_dpd <= self.legal_dpd:
            raise ValidationError(_("Thresholds must rise: grace period < formal notice DPD ≤ legal review DPD."))
        stage = self.cadence.get("formal_notice") if isinstance(self.cadence, dict) else None
        if isinstance(self.cadence, dict) and not set(stage if isinstance(stage, dict) else {}) & {"letter", "email"}:
            # FN-01: legal review waits for the formal notice sent in writing; without one no case would ever go.
            raise ValidationError(
                {
                    "cadence": _(
                        "The formal notice stage must send a letter or an e-mail: a case goes to legal review only "
                        "once its formal notice was sent in writing."
                    )
                }
            )


class Frequency(models.TextChoices):
    WEEKLY = "weekly", _("weekly")
    BIWEEKLY = "biweekly", _("every two weeks")
    MONTHLY = "monthly", _("monthly")


class InstallmentPolicy(VersionedPolicy):
    """Limits within which a collector may agree an installment plan without a manager."""

    max_installments = models.PositiveSmallIntegerField(
        _("installments, at most"), default=6, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    max_term_days = models.PositiveSmallIntegerField(_("term, at most (days)"), default=180)
    min_down_payment_percent = models.DecimalField(
        _("down payment, at least (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("10.00"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    max_waiver_percent = models.DecimalField(
        # xgettext:no-python-format
        _("fee/penalty waiver, at most (% of fees)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("50.00"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    approval_above = MoneyField(_("manager approval above (amount)"), default=Decimal("5000.00"))
    allowed_frequencies = models.JSONField(_("allowed frequencies"), default=list)
    plan_grace_days = models.PositiveSmallIntegerField(_("grace for a plan installment (days)"), default=3)

    class Meta:
        verbose_name = _("installment policy")
        verbose_name_plural = _("installment policies")
        constraints = [
            models.UniqueConstraint(fields=["product", "version"], name="installment_policy_version_unique"),
            models.UniqueConstraint(
                fields=["product"], condition=Q(is_current=True), name="installment_policy_one_current"
            ),
            models.UniqueConstraint(
                fields=["version"],
                condition=Q(is_current=True, product__isnull=True),
                name="installment_policy_one_current_default",
            ),
        ]

    def clean(self) -> None:
        if not self.allowed_frequencies or not set(self.allowed_frequencies) <= set(Frequency.values):
            raise ValidationError({"allowed_frequencies": _("Choose from weekly, biweekly, monthly.")})


# ---------------------------------------------------------------------------------------------------------------
# The case and its state machine
# ---------------------------------------------------------------------------------------------------------------
class CaseState(models.TextChoices):
    REMINDER = "reminder", _("reminder")
    FORMAL_NOTICE = "formal_notice", _("formal notice")
    LEGAL_REVIEW = "legal_review", _("legal review")
    LEGAL = "legal", _("legal")
    PROMISE_TO_PAY = "promise_to_pay", _("promise to pay")
    PAYMENT_PLAN = "payment_plan", _("payment plan")
    ON_HOLD = "on_hold", _("on hold")
    RESOLVED = "resolved", _("resolved")
    CLOSED = "closed", _("closed")


S = CaseState
STAGES = [S.REMINDER, S.FORMAL_NOTICE, S.LEGAL_REVIEW, S.LEGAL]  # the escalation ladder, in order
SIDE_STATES = [S.PROMISE_TO_PAY, S.PAYMENT_PLAN, S.ON_HOLD]
OPEN_STATES = [*STAGES, *SIDE_STATES]
FINAL_STATES = [S.RESOLVED, S.CLOSED]
# A promise or a plan can be agreed while the case is in these stages (not once it is with the lawyers).
NEGOTIABLE = [S.REMINDER, S.FORMAL_NOTICE, S.LEGAL_REVIEW]


class CloseReason(models.TextChoices):
    SETTLED = "settled", _("settled")
    WRITTEN_OFF = "written_off", _("written off")
    SOLD = "sold", _("sold")


class CollectionCaseQuerySet(models.QuerySet["CollectionCase"]):
    def open(self) -> CollectionCaseQuerySet:
        return self.filter(state__in=OPEN_STATES)


class CollectionCase(ConcurrentTransitionMixin, models.Model):
    """One loan's journey through collections, from opening past grace to resolution or closure."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="cases")
    borrower = models.ForeignKey(Borrower, on_delete=models.PROTECT, related_name="cases")
    state = FSMField(_("state"), max_length=16, choices=CaseState.choices, default=S.REMINDER, protected=True)
    # In a side state: the stage to return to. On the ladder: the state the case came from (the sweep's bulk
    # UPDATE sets ``return_state = state, state = <new>`` and its audit INSERT reads the old state from here).
    return_state = models.CharField(
        _("returns to"),
        max_length=16,
        choices=CaseState.choices,
        blank=True,
        help_text=_("The stage a promise, plan or hold returns to."),
    )
    # No database-level constraint on the policy references below: policy versions are never deleted (the admin
    # forbids it, PROTECT guards the ORM), and a real FK makes every inserted case and audit row take a KEY SHARE
    # lock on the one current policy row. Parallel sweep chunks then pile MultiXact locks on that single row and
    # the first sweep of a large book slowed down several times over (measured: see the issue note).
    policy = models.ForeignKey(CollectionPolicy, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="cases")
    assigned_to = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="cases")
    opened_on = models.DateField(_("opened on"))
    opened_at = models.DateTimeField(_("opened at"), auto_now_add=True)
    stage_entered_on = models.DateField(_("in this state since"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    close_reason = models.CharField(_("close reason"), max_length=12, choices=CloseReason.choices, blank=True)
    days_past_due = models.PositiveIntegerField(_("days past due"), default=0)
    amount_overdue = MoneyField(_("amount overdue"), default=ZERO)
    # What the loan owed when the case opened (the sweep copies the loan's figures then; never updated): the
    # denominators of the cure rate by entry bucket and of the liquidation rate (docs/kpis.md).
    entry_days_past_due = models.PositiveIntegerField(_("days past due at opening"), default=0)
    entry_amount_overdue = MoneyField(_("amount overdue at opening"), default=ZERO)
    grace_until = models.DateField(_("hardship grace until"), null=True, blank=True)
    last_contact_at = models.DateTimeField(_("last contact"), null=True, blank=True)
    callback_at = models.DateTimeField(
        _("call back at"), null=True, blank=True, help_text=_("When the borrower asked to be called back.")
    )
    # Priority: the score and its parts (each 0..weight), recomputed by the sweep; the case page explains it.
    priority = models.PositiveSmallIntegerField(_("priority"), default=0, db_index=True)
    priority_dpd = models.PositiveSmallIntegerField(default=0)
    priority_amount = models.PositiveSmallIntegerField(default=0)
    priority_promises = models.PositiveSmallIntegerField(default=0)
    priority_contact = models.PositiveSmallIntegerField(default=0)
    priority_reach = models.PositiveSmallIntegerField(default=0)
    priority_history = models.PositiveSmallIntegerField(default=0)
    # Which sweep step last moved the case ("<run>:<step>"): lets one INSERT … SELECT audit a bulk UPDATE.
    sweep_mark = models.CharField(max_length=64, blank=True, editable=False)

    objects = CollectionCaseQuerySet.as_manager()

    if TYPE_CHECKING:  # django-fsm adds this method for the ``state`` field

        def get_available_user_state_transitions(self, user: UserWithPermissions) -> Iterator[Transition]: ...

    class Meta:
        verbose_name = _("collection case")
        verbose_name_plural = _("collection cases")
        permissions = [
            ("approve_legal", _("Can approve or reject legal escalation")),
            ("close_case", _("Can close cases (settled, written off, sold)")),
            ("reassign_case", _("Can reassign cases")),
            ("approve_plan", _("Can approve installment plans outside policy")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["loan"], condition=Q(state__in=OPEN_STATES), name="one_open_case_per_loan"),
        ]
        indexes = [
            # The queue's order, per collector and for everyone (managers, admins): a page is an index range scan.
            models.Index(
                fields=["assigned_to", "-priority", "-days_past_due", "id"],
                condition=Q(state__in=OPEN_STATES),
                name="case_queue",
            ),
            models.Index(
                fields=["-priority", "-days_past_due", "id"], condition=Q(state__in=OPEN_STATES), name="case_queue_all"
            ),
            models.Index(fields=["state"]),
            # The managers' pages (issue 14): the open cases of their teams (the queue's count, an index-only scan),
            # the legal-review list's order (a page is the index's first rows; its count an index-only scan, the team
            # filter read from the index) and the KPIs' cases opened in a window.
            models.Index(fields=["team"], condition=Q(state__in=OPEN_STATES), name="case_open_team"),
            # A manager's cases (their teams' and the unassigned) as an index-only scan of a few hundred pages
            # instead of the whole case table: what the messages' and the KPIs' joins to the cases (their ids, their
            # borrowers) hash on (issue 14).
            models.Index(fields=["team", "id"], include=["borrower"], name="case_team_cover"),
            models.Index(
                fields=["-amount_overdue", "id"],
                include=["team"],
                condition=Q(state="legal_review"),
                name="case_legal_review",
            ),
            models.Index(fields=["opened_on"], name="case_opened_on"),
        ]

    def __str__(self) -> str:
        return f"Case {self.pk} ({self.loan_id}, {self.state})"

    # -- guards (pure) ------------------------------------------------------------------------------------------
    def _is_cured(self) -> bool:
        return self.days_past_due == 0 and self.amount_overdue == 0

    def _returns_to_stage(self) -> str:
        return self.return_state or S.REMINDER

    # -- the escalation ladder ----------------------------------------------------------------------------------
    @transition(field=state, source=S.REMINDER, target=S.FORMAL_NOTICE)
    def escalate_formal_notice(self) -> None:
        """Reminder → formal notice: DPD reached the policy threshold, or a collector decided."""

    @transition(field=state, source=S.FORMAL_NOTICE, target=S.LEGAL_REVIEW)
    def request_legal(self) -> None:
        """Formal notice → legal review: waits in the managers' escalation queue."""

    @transition(field=state, source=S.LEGAL_REVIEW, target=S.LEGAL, permission="collections_app.approve_legal")
    def approve_legal(self) -> None:
        """A manager approves the hand-over to legal."""

    @transition(field=state, source=S.LEGAL_REVIEW, target=S.FORMAL_NOTICE, permission="collections_app.approve_legal")
    def reject_legal(self) -> None:
        """A manager sends the case back to formal notice (with a reason)."""

    # -- side roads ---------------------------------------------------------------------------------------------
    @transition(field=state, source=NEGOTIABLE, target=S.PROMISE_TO_PAY)
    def take_promise(self) -> None:
        self.return_state = self.state

    @transition(field=state, source=S.PROMISE_TO_PAY, target=RETURN_VALUE(*NEGOTIABLE))
    def promise_kept(self) -> str:
        """Kept, but the loan is not cured yet (a cured loan resolves instead): back to the stage."""
        return self._returns_to_stage()

    @transition(field=state, source=S.PROMISE_TO_PAY, target=RETURN_VALUE(*NEGOTIABLE))
    def promise_broken(self) -> str:
        return self._returns_to_stage()

    @transition(field=state, source=NEGOTIABLE, target=S.PAYMENT_PLAN)
    def start_plan(self) -> None:
        self.return_state = self.state

    @transition(field=state, source=S.PAYMENT_PLAN, target=RETURN_VALUE(*NEGOTIABLE))
    def plan_broken(self) -> str:
        return self._returns_to_stage()

    @transition(field=state, source=S.PAYMENT_PLAN, target=RETURN_VALUE(*NEGOTIABLE))
    def plan_completed(self) -> str:
        """Every plan payment made but the loan is not cured (installments fell due meanwhile): back to the stage."""
        return self._returns_to_stage()

    @transition(field=state, source=[*STAGES, S.PROMISE_TO_PAY, S.PAYMENT_PLAN], target=S.ON_HOLD)
    def place_hold(self) -> None:
        # A hold from a promise or a plan returns to the underlying stage (the promise/plan is cancelled).
        if self.state in STAGES:
            self.return_state = self.state

    @transition(field=state, source=S.ON_HOLD, target=RETURN_VALUE(*STAGES))
    def lift_hold(self) -> str:
        return self._returns_to_stage()

    # -- exits --------------------------------------------------------------------------------------------------
    # django-fsm types a condition as Callable[[Model], bool]: a method of this model (its own fields) cannot match.
    @transition(field=state, source=OPEN_STATES, target=S.RESOLVED, conditions=[_is_cured])  # type: ignore[list-item]
    def resolve(self) -> None:
        """The loan is cured (nothing overdue)."""

    @transition(field=state, source=OPEN_STATES, target=S.CLOSED, permission="collections_app.close_case")
    def close(self) -> None:
        """Settled, written off or sold: a manager's decision. A closed case never reopens."""


class CaseTransition(models.Model):
    """Audit row of one state change: written in the same transaction as the change, never edited."""

    case = models.ForeignKey(CollectionCase, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16)
    transition = models.CharField(max_length=40)
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor_label = models.CharField(max_length=150, help_text=_('The username, or "system" for the sweep.'))
    reason = models.TextField(blank=True)
    policy = models.ForeignKey(
        CollectionPolicy, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False
    )  # see CollectionCase.policy
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("case transition")
        verbose_name_plural = _("case transitions")
        ordering = ["case", "at", "id"]
        indexes = [
            models.Index(fields=["case", "at"]),
            # What borrowers did on their own in a period (the portal conversion on /performance/): a small slice
            # of the audit, read by time without scanning the rest.
            models.Index(fields=["at", "case"], condition=Q(actor_label="borrower"), name="transition_by_borrower"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.from_state} → {self.to_state} ({self.transition})"


# ---------------------------------------------------------------------------------------------------------------
# Promises, plans, holds, notes, visits
# ---------------------------------------------------------------------------------------------------------------
class PromiseStatus(models.TextChoices):
    OPEN = "open", _("open")
    KEPT = "kept", _("kept")
    PARTIAL = "partial", _("partly kept")
    BROKEN = "broken", _("broken")
    CANCELLED = "cancelled", _("cancelled")


class PromiseToPay(models.Model):
    """The borrower's promise to pay an amount by a date (at most one open per case)."""

    case = models.ForeignKey(CollectionCase, on_delete=models.CASCADE, related_name="promises")
    amount = MoneyField(_("amount"))
    promised_on = models.DateField(_("pay by"))
    # Payments received from ``counts_from`` until the end of ``promised_on`` in the product's zone count.
    counts_from = models.DateTimeField()
    window_end = models.DateTimeField()
    status = models.CharField(_("status"), max_length=10, choices=PromiseStatus.choices, default=PromiseStatus.OPEN)
    paid_amount = MoneyField(_("paid towards it"), default=ZERO)
    checked_on = models.DateField(null=True, blank=True)
    # Empty when the borrower made it on their own (a reminder call's keypad): the audit row says "borrower".
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True)

    class Meta:
        verbose_name = _("promise to pay")
        verbose_name_plural = _("promises to pay")
        constraints = [
            models.UniqueConstraint(fields=["case"], condition=Q(status="open"), name="one_open_promise_per_case"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="promise_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} by {self.promised_on} ({self.status})"


class PlanStatus(models.TextChoices):
    PENDING_APPROVAL = "pending_approval", _("waiting for approval")
    ACTIVE = "active", _("active")
    COMPLETED = "completed", _("completed")
    BROKEN = "broken", _("broken")
    REJECTED = "rejected", _("rejected")
    CANCELLED = "cancelled", _("cancelled")


class PaymentPlan(models.Model):
    """An installment plan (分期还款) for the overdue amount, within policy or approved by a manager."""

    case = models.ForeignKey(CollectionCase, on_delete=models.CASCADE, related_name="plans")
    policy = models.ForeignKey(InstallmentPolicy, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=16, choices=PlanStatus.choices)
    total_amount = MoneyField(_("plan total"))
    down_payment = MoneyField(_("down payment"), default=ZERO)
    waived_amount = MoneyField(_("fees waived"), default=ZERO)
    frequency = models.CharField(_("frequency"), max_length=10, choices=Frequency.choices)
    starts_on = models.DateField(_("first payment on"))
    counts_from = models.DateTimeField(help_text=_("Payments from this instant count towards the plan."))
    paid_amount = MoneyField(_("paid towards the plan"), default=ZERO)
    outside_policy = models.JSONField(_("outside policy because"), default=list, blank=True)
    # Empty when the borrower chose the plan on their own page: the audit row says "borrower".
    proposed_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    decision_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_on = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = _("payment plan")
        verbose_name_plural = _("payment plans")
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(status__in=["pending_approval", "active"]), name="one_live_plan_per_case"
            ),
        ]

    def __str__(self) -> str:
        return f"Plan {self.pk} ({self.status})"


class PlanInstallment(models.Model):
    """One payment of a plan; paid amounts come from payments since the plan started, oldest first."""

    plan = models.ForeignKey(PaymentPlan, on_delete=models.CASCADE, related_name="installments")
    number = models.PositiveSmallIntegerField()
    due_date = models.DateField()
    amount = MoneyField()
    paid_amount = MoneyField(default=ZERO)
    breaks_after = models.DateField(
        help_text=_("Unpaid after this date (due date + the policy's grace), the plan is broken.")
    )

    class Meta:
        ordering = ["plan", "number"]
        constraints = [models.UniqueConstraint(fields=["plan", "number"], name="plan_installment_unique")]

    def __str__(self) -> str:
        return f"{self.plan_id} #{self.number} {self.amount} due {self.due_date}"


class HoldKind(models.TextChoices):
    DISPUTE = "dispute", _("dispute")
    BANKRUPTCY = "bankruptcy", _("bankruptcy")
    DECEASED = "deceased", _("deceased")
    CEASE_AND_DESIST = "cease_and_desist", _("cease and desist")
    HARDSHIP_REVIEW = "hardship_review", _("hardship review")
    # BS-01: the UK Debt Respite Scheme (standard 60 days; mental-health crisis: the treatment plus 30 days).
    BREATHING_SPACE = "breathing_space", _("breathing space")


class BreathingSpaceType(models.TextChoices):
    STANDARD = "standard", _("standard (60 days)")
    MENTAL_HEALTH_CRISIS = "mental_health_crisis", _("mental health crisis (treatment plus 30 days)")


class Hold(models.Model):
    """A pause on a case for a legal or humane reason; each hold is also a compliance restriction."""

    case = models.ForeignKey(CollectionCase, on_delete=models.CASCADE, related_name="holds")
    kind = models.CharField(_("kind"), max_length=20, choices=HoldKind.choices)
    reason = models.TextField(_("reason"))
    document_ref = models.CharField(_("document reference"), max_length=200, blank=True)
    restriction = models.OneToOneField("compliance.Restriction", on_delete=models.PROTECT, related_name="hold")
    # Empty when the borrower disputed on their own page: the audit row says "borrower".
    placed_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    placed_at = models.DateTimeField(auto_now_add=True)
    lifted_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.TextField(blank=True)

    class Meta:
        verbose_name = _("hold")
        verbose_name_plural = _("holds")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on case {self.case_id}"


class DisputeChannel(models.TextChoices):
    """How a dispute reached the lender."""

    CALL = "call", _("on a call")
    STAFF = "staff", _("recorded by staff")
    LETTER = "letter", _("by letter")
    PORTAL = "portal", _("on the borrower's page")
    API = "api", _("through the API")


class DisputeStage(models.TextChoices):
    RECEIVED = "received", _("received")
    PREPARED = "prepared", _("verification prepared")
    MAILED = "mailed", _("verification mailed")


class Dispute(models.Model):
    """A dispute of a debt (its hold stops collection), with the workflow Reg F 1006.38 asks for: received (when, how,
    in writing or not, whether it asks for the original creditor), whether it fell in the validation period (DSP-01:
    written and in the period, every contact but the verification is refused and escalation is blocked), the
    verification prepared (a ``dispute_verification`` document on a planned letter) and mailed — the hold then lifts
    by itself."""

    hold = models.OneToOneField(Hold, on_delete=models.PROTECT, related_name="dispute")
    case = models.ForeignKey(CollectionCase, on_delete=models.CASCADE, related_name="disputes", db_index=False)
    received_at = models.DateTimeField(_("received at"))
    channel = models.CharField(_("how it came"), max_length=8, choices=DisputeChannel.choices)
    written = models.BooleanField(_("in writing"), default=False)
    original_creditor = models.BooleanField(_("asks for the original creditor"), default=False)
    # DSP-01 facts as known when it was received (None: no validation period applies to this debt, e.g. not US).
    in_validation_period = models.BooleanField(_("within the validation period"), null=True, blank=True)
    validation_period_ends_on = models.DateField(_("validation period ends on"), null=True, blank=True)
    verification_document = models.ForeignKey(
        "notifications.Document", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verification_message = models.OneToOneField(
        "notifications.OutboundMessage", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    prepared_at = models.DateTimeField(_("verification prepared at"), null=True, blank=True)
    prepared_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    mailed_at = models.DateTimeField(_("verification mailed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        indexes = [models.Index(fields=["case", "received_at"], name="dispute_case_received")]

    def __str__(self) -> str:
        return f"dispute {self.pk} on case {self.case_id}"

    @property
    def stage(self) -> str:
        if self.mailed_at is not None:
            return DisputeStage.MAILED
        return DisputeStage.PREPARED if self.prepared_at is not None else DisputeStage.RECEIVED

    @property
    def dsp01(self) -> bool:
        """Written and within the validation period: DSP-01 applies."""
        return bool(self.written and self.in_validation_period)

    def get_stage_display(self) -> str:
        return str(DisputeStage(self.stage).label)

    @property
    def age_days(self) -> int:
        """Whole days since it was received."""
        return max((timezone.now() - self.received_at).days, 0)


class ForbearanceKind(models.TextChoices):
    PAYMENT_HOLIDAY = "payment_holiday", _("payment holiday")
    REDUCED_PAYMENTS = "reduced_payments", _("reduced payments")
    INTEREST_FROZEN = "interest_frozen", _("interest frozen")
    FEES_WAIVED = "fees_waived", _("fees waived")
    TERM_EXTENDED = "term_extended", _("term extended")
    DEBT_ADVICE_REFERRAL = "debt_advice_referral", _("referral to free debt advice")


class Forbearance(models.Model):
    """Forbearance offered or agreed on a case, or a referral to free debt advice (FB-01: under the profiles that
    ask for it, legal escalation waits until one is recorded)."""

    case = models.ForeignKey(CollectionCase, on_delete=models.CASCADE, related_name="forbearances")
    kind = models.CharField(_("kind"), max_length=24, choices=ForbearanceKind.choices)
    details = models.TextField(_("details"), blank=True)
    starts_on = models.DateField(_("from"), null=True, blank=True)
    ends_on = models.DateField(_("until"), null=True, blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("forbearance")
        verbose_name_plural = _("forbearance records")
        indexes = [models.Index(fields=["case", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on case {self.case_id}"


class CaseNote(models.Model):
    """A collector's or manager's note on a case."""

    case = models.ForeignKey(CollectionCase, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("note"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.text[:60]


class VisitStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    VISITED = "visited", _("visited")
    NOT_HOME = "not_home", _("not at home")
    CANCELLED = "cancelled", _("cancelled")


class FieldVisit(models.Model):
    """An offline collection visit: scheduled with a window, then recorded with its outcome."""

    case = models.ForeignKey(CollectionCase, on_delete=models.CASCADE, related_name="visits")
    address = models.TextField(_("address"))
    collectors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="field_visits")
    window_start = models.DateTimeField(_("from"))
    window_end = models.DateTimeField(_("until"))
    status = models.CharField(_("status"), max_length=10, choices=VisitStatus.choices, default=VisitStatus.SCHEDULED)
    outcome = models.TextField(_("outcome"), blank=True)
    visited_at = models.DateTimeField(null=True, blank=True)
    scheduled_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    decision = models.ForeignKey(
        "compliance.Decision",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The compliance check made when it was scheduled."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("field visit")
        verbose_name_plural = _("field visits")
        constraints = [
            models.CheckConstraint(condition=Q(window_end__gt=models.F("window_start")), name="visit_window_positive")
        ]

    def __str__(self) -> str:
        return f"Visit {self.pk} ({self.status})"


class SweepRun(models.Model):
    """One run of the daily sweep for a date, in chunks; counts of what each step did."""

    as_of = models.DateField()
    chunks = models.PositiveSmallIntegerField(default=1)
    chunks_done = models.PositiveSmallIntegerField(default=0)
    finished_chunks = models.JSONField(default=list, help_text="Chunk numbers already done (a redelivery counts once).")
    loan_id_max = models.BigIntegerField(default=0, help_text="Highest loan id at the start: the chunks split 1..max.")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict)
    product_dates = models.JSONField(
        default=dict,
        blank=True,
        help_text="Each product's local date when the run was started without one: chunks run later sweep the same.",
    )
    progress_at = models.DateTimeField(
        null=True, blank=True, help_text="Last time a chunk finished or the unfinished ones were queued (the watchdog)."
    )
    requeues = models.PositiveSmallIntegerField(default=0, help_text="Times the watchdog queued stalled chunks again.")
    alerted_at = models.DateTimeField(null=True, blank=True, help_text="When the run was reported as overdue.")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Sweep {self.as_of} ({self.chunks_done}/{self.chunks})"


class PortfolioSnapshot(models.Model):
    """Active loans per currency and days-past-due bucket as the sweep left them on a date: the history behind the
    managers' trends and flow (roll) rates."""

    as_of = models.DateField(_("as of"))
    # The team working the loan's open case; empty for loans no team works (current, or within grace). Managers see
    # their teams' rows only (issue 11).
    team = models.ForeignKey(Team, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    currency = models.CharField(_("currency"), max_length=3)
    bucket = models.CharField(_("DPD bucket"), max_length=8)
    loans = models.PositiveIntegerField(_("loans"))
    overdue = models.DecimalField(_("amount overdue"), max_digits=18, decimal_places=2)
    outstanding = models.DecimalField(_("outstanding"), max_digits=18, decimal_places=2)

    class Meta:
        verbose_name = _("portfolio snapshot")
        verbose_name_plural = _("portfolio snapshots")
        # Once a day per team, currency and bucket — and once for the loans no team works (two partial indexes:
        # NULLS NOT DISTINCT is PostgreSQL-only and the embedded default runs on SQLite).
        constraints = [
            models.UniqueConstraint(
                fields=["as_of", "team", "currency", "bucket"],
                condition=models.Q(team__isnull=False),
                name="snapshot_once_a_day",
            ),
            models.UniqueConstraint(
                fields=["as_of", "currency", "bucket"],
                condition=models.Q(team__isnull=True),
                name="snapshot_once_a_day_no_team",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.as_of} {self.currency} {self.bucket}: {self.loans}"


class LoanPosition(models.Model):
    """One overdue loan as the sweep left it on a date: its DPD bucket, the team working its open case, its balance.
    Kept only a few weeks (``collections_app.sweep.flows.POSITIONS_KEPT_DAYS``): long enough to follow each loan
    from one month to the next for the roll rates (``PortfolioFlow``, kept for good). Current loans — most of a
    portfolio — are not recorded one by one: the day's snapshot counts them."""

    as_of = models.DateField(_("as of"))
    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    currency = models.CharField(_("currency"), max_length=3)
    bucket = models.CharField(_("DPD bucket"), max_length=8)
    outstanding = models.DecimalField(_("outstanding"), max_digits=18, decimal_places=2)

    class Meta:
        verbose_name = _("loan position")
        verbose_name_plural = _("loan positions")
        # Once a loan a day; the index is also how a day's positions are joined to those of a month before.
        constraints = [models.UniqueConstraint(fields=["as_of", "loan"], name="position_once_a_day")]

    def __str__(self) -> str:
        return f"{self.as_of} loan {self.loan_id}: {self.bucket}"


class PortfolioFlow(models.Model):
    """The loans that were in one DPD bucket on ``from_date`` (about a month before ``as_of``), per team working
    them then, currency and where they were on ``as_of``: another bucket, the same, current, or no longer active
    (``to_bucket`` empty: repaid, settled or written off). Loans are followed one by one, so a roll rate can never
    pass 100 %."""

    as_of = models.DateField(_("as of"))
    from_date = models.DateField(_("compared with"))
    team = models.ForeignKey(Team, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    currency = models.CharField(_("currency"), max_length=3)
    from_bucket = models.CharField(_("DPD bucket then"), max_length=8)
    to_bucket = models.CharField(_("DPD bucket now"), max_length=8, blank=True)
    loans = models.PositiveIntegerField(_("loans"))
    outstanding = models.DecimalField(
        _("outstanding then"),
        max_digits=18,
        decimal_places=2,
        help_text=_("On the earlier day; for loans current then (not recorded one by one), their balance now."),
    )

    class Meta:
        verbose_name = _("portfolio flow")
        verbose_name_plural = _("portfolio flows")
        indexes = [models.Index(fields=["as_of", "team"], name="flow_by_day_team")]

    def __str__(self) -> str:
        return f"{self.from_date}→{self.as_of} {self.currency} {self.from_bucket}→{self.to_bucket or '-'}: {self.loans}"


# ---------------------------------------------------------------------------------------------------------------
# Collectors' calls: the collector's own phone, and what each call came to (the disposition)
# ---------------------------------------------------------------------------------------------------------------
class CollectorProfile(models.Model):
    """A collector's working phone: the number the provider rings for a click-to-call (without one the collector
    dials by hand and logs the call). Their language and time zone are ``core.UserSettings``."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="collector_profile")
    phone = PhoneNumberField(
        _("phone"), blank=True, help_text=_("E.164, e.g. +16175550123: rung first, then bridged to the borrower.")
    )

    class Meta:
        verbose_name = _("collector profile")
        verbose_name_plural = _("collector profiles")

    def __str__(self) -> str:
        return f"profile of {self.user_id}"


class CallParty(models.TextChoices):
    """Who answered (the first half of a disposition): what the ledger counts the call as."""

    RIGHT_PARTY = "right_party", _("right party (the borrower)")
    WRONG_PARTY = "wrong_party", _("wrong party (not the borrower's number)")
    THIRD_PARTY = "third_party", _("third party (someone who knows the borrower)")
    NO_ANSWER = "no_answer", _("no answer")
    VOICEMAIL = "voicemail", _("voicemail")
    BUSY = "busy", _("busy")


class CallResult(models.TextChoices):
    """What was agreed with the borrower (the second half, right party only): the case action it starts."""

    REFUSED = "refused", _("refused to pay")
    PROMISE = "promise", _("promise to pay")
    DISPUTE = "dispute", _("dispute")
    CALLBACK = "callback", _("call back")


class CallDisposition(models.Model):
    """What a collector's call came to, recorded by the collector once per call (the gate's decision that allowed
    it): who answered and what was agreed. The ledger outcome and the case action follow from it."""

    case = models.ForeignKey(CollectionCase, on_delete=models.CASCADE, related_name="dispositions")
    decision = models.OneToOneField("compliance.Decision", on_delete=models.PROTECT, related_name="+")
    call = models.ForeignKey(
        "notifications.CollectorCall", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    party = models.CharField(_("who answered"), max_length=12, choices=CallParty.choices)
    result = models.CharField(_("result"), max_length=10, choices=CallResult.choices, blank=True)
    callback_at = models.DateTimeField(_("call back at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    actor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("call disposition")
        verbose_name_plural = _("call dispositions")
        indexes = [models.Index(fields=["case", "created_at"])]

    def __str__(self) -> str:
        return f"{self.party} {self.result}".strip()


class ComplaintChannel(models.TextChoices):
    SMS = "sms", _("text message")
    CALL = "call", _("phone call")
    PORTAL = "portal", _("borrower page")
    LETTER = "letter", _("letter")
    STAFF = "staff", _("staff")
    API = "api", _("lender's system")
    EMAIL = "email", _("e-mail")
    IN_PERSON = "person", _("in person")


class ComplaintCategory(models.TextChoices):
    CONDUCT = "conduct", _("collection conduct")
    AMOUNT = "amount", _("amount owed")
    IDENTITY = "identity", _("identity or fraud")
    DATA = "data", _("personal data")
    OTHER = "other", _("other")


class ComplaintStatus(models.TextChoices):
    POSSIBLE = "possible", _("possible complaint, to confirm")
    OPEN = "open", _("open, not acknowledged")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    RESOLVED = "resolved", _("resolved")
    DISMISSED = "dismissed", _("not a complaint")


class ComplaintOutcome(models.TextChoices):
    UPHELD = "upheld", _("upheld")
    PARTLY_UPHELD = "partly", _("partly upheld")
    NOT_UPHELD = "not_upheld", _("not upheld")
    WITHDRAWN = "withdrawn", _("withdrawn by the borrower")


class ComplaintQuerySet(models.QuerySet["Complaint"]):
    def pending(self) -> ComplaintQuerySet:
        """Still owed an answer (or a decision whether it is a complaint at all)."""
        return self.filter(status__in=[ComplaintStatus.POSSIBLE, ComplaintStatus.OPEN, ComplaintStatus.ACKNOWLEDGED])


class Complaint(models.Model):
    """A borrower's complaint (CMP-01), from any channel, with the clocks of the strictest applicable profile. One
    about collection conduct holds the gate's ``complaint_review`` restriction until a manager acknowledges it."""

    case = models.ForeignKey(CollectionCase, on_delete=models.PROTECT, related_name="complaints")
    collector = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    channel = models.CharField(_("channel"), max_length=8, choices=ComplaintChannel.choices)
    category = models.CharField(_("category"), max_length=10, choices=ComplaintCategory.choices)
    status = models.CharField(_("status"), max_length=12, choices=ComplaintStatus.choices)
    summary = models.TextField(_("what the borrower says"))
    received_at = models.DateTimeField(_("received at"))
    received_on = models.DateField(_("received on (borrower's date)"))
    acknowledge_by = models.DateField(_("acknowledge by"))
    final_by = models.DateField(_("final response by"))
    regimes = models.CharField(_("clocks"), max_length=40, help_text=_("e.g. CFPB,FCA"))
    # The inbound text the classifier flagged (notifications.InboundMessage), for a person to confirm.
    inbound_message_id = models.BigIntegerField(null=True, blank=True, unique=True)
    restriction = models.OneToOneField(
        "compliance.Restriction", on_delete=models.PROTECT, null=True, blank=True, related_name="complaint"
    )
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=12, choices=ComplaintOutcome.choices, blank=True)
    response_text = models.TextField(_("response"), blank=True)
    response_ref = models.CharField(_("response document"), max_length=200, blank=True)

    objects = ComplaintQuerySet.as_manager()

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        indexes = [
            models.Index(
                fields=["final_by"],
                condition=Q(status__in=["possible", "open", "acknowledged"]),
                name="complaint_pending_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()} complaint on case {self.case_id}"


class ReviewReminder(models.Model):
    """A to-do for one person (VUL-01): the vulnerability record of a case's borrower has passed its review date.
    Written by the daily reminder task for the case's collector and the team's manager, once per record, case, person
    and review date; shown on their home page while the record is in force with that review date (a review that
    sets the next date, or ending the record, clears it)."""

    record = models.ForeignKey("compliance.VulnerabilityRecord", on_delete=models.CASCADE, related_name="+")
    case = models.ForeignKey(CollectionCase, on_delete=models.CASCADE, related_name="review_reminders")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="review_reminders")
    review_on = models.DateField(_("review due on"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("vulnerability review reminder")
        verbose_name_plural = _("vulnerability review reminders")
        constraints = [
            models.UniqueConstraint(fields=["record", "case", "user", "review_on"], name="review_reminder_once")
        ]
        indexes = [models.Index(fields=["user", "review_on"])]

    def __str__(self) -> str:
        return f"review of record {self.record_id} due {self.review_on} for user {self.user_id}"


# ---------------------------------------------------------------------------------------------------------------
# QA of collectors' calls: a weekly random sample scored by managers against the profile's checklist
# ---------------------------------------------------------------------------------------------------------------
class QaItem(models.TextChoices):
    """What a manager checks on a sampled call; each profile lists its own (``qa_checklist``)."""

    IDENTIFICATION = "identification", _("The collector said who they are and whom they work for")
    MINI_MIRANDA = "mini_miranda", _("Said it is an attempt to collect a debt (mini-Miranda)")
    NO_FALSE_THREATS = "no_false_threats", _("No false or misleading threats")
    WITHIN_HOURS = "within_hours", _("Called within the permitted hours")
    NO_ABUSIVE_LANGUAGE = "no_abusive_language", _("No abusive language or forbidden phrases")
    NO_THIRD_PARTY_DISCLOSURE = "no_third_party_disclosure", _("Nothing about the debt told to anyone else")
    FAIR_TREATMENT = "fair_treatment", _("Treated fairly; forbearance mentioned where the customer is in difficulty")


class CallReview(models.Model):
    """One collector's call (its disposition: every call a collector made and logged, dialled by hand or placed
    through the provider with a recording) drawn into a week's QA sample, and, once a manager has listened, the
    checklist's answers (item → passed), the notes and the score (the share of items passed)."""

    disposition = models.OneToOneField(CallDisposition, on_delete=models.PROTECT, related_name="review")
    case = models.ForeignKey(CollectionCase, on_delete=models.PROTECT, related_name="+")
    collector = models.ForeignKey(User, on_delete=models.PROTECT, related_name="call_reviews")
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="call_reviews")
    week_start = models.DateField(_("week of"), help_text=_("The Monday (UTC) of the week the call was made in."))
    checklist = models.JSONField(_("checklist"), default=list, help_text=_("QaItem values, from the profiles."))
    sampled_at = models.DateTimeField(_("sampled at"))
    results = models.JSONField(_("results"), default=dict, blank=True, help_text=_("QaItem value → passed."))
    notes = models.TextField(_("notes"), blank=True)
    score = models.PositiveSmallIntegerField(_("score (%)"), null=True, blank=True, validators=[MaxValueValidator(100)])
    reviewed_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("call review")
        verbose_name_plural = _("call reviews")
        indexes = [
            models.Index(fields=["collector", "week_start"]),
            models.Index(fields=["team", "week_start"]),
        ]

    def __str__(self) -> str:
        return f"review of call {self.disposition_id} ({self.week_start})"

    @property
    def reviewed(self) -> bool:
        return self.reviewed_at is not None

    def items(self) -> list[tuple[str, str, bool | None]]:
        """(code, words, passed or None when not scored yet) for each item of the checklist."""
        return [
            (code, str(QaItem(code).label) if code in QaItem.values else code, self.results.get(code))
            for code in self.checklist
        ]


# ---------------------------------------------------------------------------------------------------------------
# The legal evidence pack
# ---------------------------------------------------------------------------------------------------------------
class EvidencePackIntegrityError(Exception):
    """A pack's file is missing or no longer has the SHA-256 recorded when it was built."""


class EvidencePack(models.Model):
    """One ZIP of a case's evidence for a lawyer or a court (issue 16.5): a cover index, the loan, its schedule and
    disbursement, every payment with its allocation, every notice sent (the stored PDFs as they are), the contact
    record with the gate's decisions, promises and plans, disputes and holds, and ``manifest.csv`` with the SHA-256
    of every file. Built by ``collections_app.services.evidence`` only; like a document it is written once under
    ``DOCUMENTS_DIR`` and never changed (PostgreSQL refuses an UPDATE of the row). Each build with different
    contents is a new ``version``; building again with nothing new returns the latest."""

    case = models.ForeignKey(CollectionCase, on_delete=models.PROTECT, related_name="evidence_packs")
    version = models.PositiveSmallIntegerField(_("version"))
    languages = models.JSONField(_("languages"), default=list, help_text=_("The borrower's, then the court's."))
    path = models.CharField(_("file"), max_length=200, unique=True, help_text=_("Relative to DOCUMENTS_DIR."))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size = models.PositiveIntegerField(_("size (bytes)"))
    manifest_sha256 = models.CharField(_("SHA-256 of the manifest"), max_length=64)
    # The SHA-256 of the evidence files' names and hashes (every file but the cover index and the manifest): the
    # same evidence gives the same digest, so building again with nothing new makes no new version.
    content_digest = models.CharField(max_length=64)
    files = models.PositiveSmallIntegerField(_("files"))
    reason = models.CharField(_("why it was built"), max_length=200)
    created_at = models.DateTimeField(_("built at"), auto_now_add=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor_label = models.CharField(_("built by"), max_length=150, help_text=_('The username, or "system".'))

    class Meta:
        verbose_name = _("evidence pack")
        verbose_name_plural = _("evidence packs")
        constraints = [models.UniqueConstraint(fields=["case", "version"], name="evidence_pack_version_unique")]

    def __str__(self) -> str:
        return f"Evidence pack {self.version} of case {self.case_id}"

    @property
    def filename(self) -> str:
        """The name a download carries (no personal data in it)."""
        return f"evidence-pack-case-{self.case_id}-v{self.version}.zip"

    def zip_bytes(self) -> bytes:
        """The ZIP, checked against its recorded SHA-256 (``EvidencePackIntegrityError`` if it changed or is gone)."""
        import hashlib
        from pathlib import Path

        try:
            content = (Path(settings.DOCUMENTS_DIR) / self.path).read_bytes()
        except OSError as exc:
            raise EvidencePackIntegrityError(f"evidence pack {self.pk}: its file cannot be read ({exc})") from exc
        if hashlib.sha256(content).hexdigest() != self.sha256:
            raise EvidencePackIntegrityError(f"evidence pack {self.pk}: its file no longer has the recorded SHA-256")
        return content
