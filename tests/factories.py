"""factory_boy factories for the domain models (tests build their data; no fixture files).

Every model a test needs has a factory here; the defaults make a valid, realistic row and the arguments say what the
test is about. ``make_case``, ``user_with_role``, ``team_with``, ``loan_with_schedule`` and ``api_for`` are the short
forms most tests use.

Production modules are imported inside functions and through ``factory.django.DjangoModelFactory`` model paths
("app.Model" strings), so this module keeps working while the apps are reorganised.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from loans.models import Borrower, Installment, Loan, LoanProduct, PhoneNumber

PASSWORD = "pw-for-tests-123"
# make_case's loan: one installment of 100.00 due 2024-02-01, its snapshot read on 2024-02-11 (10 days past due).
CASE_BALANCES_AS_OF = dt.date(2024, 2, 11)


# ---------------------------------------------------------------------------------------------------------------
# People and teams
# ---------------------------------------------------------------------------------------------------------------
class UserFactory(factory.django.DjangoModelFactory):
    """A user who can sign in with ``PASSWORD``; ``role="collector"`` (or manager, admin) puts them in the role's
    group, ``is_staff=True`` lets them into the Django admin."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password(PASSWORD)
    is_active = True

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: Any) -> None:
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "collections_app.Team"

    name = factory.Sequence(lambda n: f"Team {n}")
    language = "en"
    manager = None
    collectors_see_team_cases = False


class TeamMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "collections_app.TeamMembership"

    user = factory.SubFactory(UserFactory, role="collector")
    team = factory.SubFactory(TeamFactory)
    accepts_new_cases = True


def user_with_role(role: str, username: str | None = None, **fields: Any) -> Any:
    """A user in one of the three roles (``collector``, ``manager``, ``admin``) with ``PASSWORD``."""
    return UserFactory(role=role, username=username or f"{role}-user", **fields)


def team_with(*collectors: Any, name: str = "Team", language: str = "en", manager: Any = None, **fields: Any) -> Any:
    """A team led by ``manager`` with these collectors as members."""
    team = TeamFactory(name=name, language=language, manager=manager, **fields)
    for collector in collectors:
        TeamMembershipFactory(user=collector, team=team)
    return team


# ---------------------------------------------------------------------------------------------------------------
# Borrowers, products, loans, payments
# ---------------------------------------------------------------------------------------------------------------
class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LoanProduct
        django_get_or_create = ("code",)

    code = "us-test"
    name = "Test loan"
    lender_name = "Test Lender"
    currency = "USD"
    timezone = "America/New_York"
    allocation_order = ["fee", "interest", "principal"]


class BorrowerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Borrower

    external_id = factory.Sequence(lambda n: f"B{n:06d}")
    full_name = factory.Sequence(lambda n: f"Borrower {n}")
    country = "US"
    region = "MA"
    time_zones = ["America/New_York"]


class PhoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PhoneNumber

    borrower = factory.SubFactory(BorrowerFactory)
    number = factory.Sequence(lambda n: f"+1617555{n % 10000:04d}")


class EmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "loans.EmailAddress"

    borrower = factory.SubFactory(BorrowerFactory)
    address = factory.Sequence(lambda n: f"borrower{n}@example.com")
    kind = "personal"


class LoanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Loan

    external_id = factory.Sequence(lambda n: f"L{n:07d}")
    borrower = factory.SubFactory(BorrowerFactory)
    product = factory.SubFactory(ProductFactory)
    principal = Decimal("300.00")
    currency = "USD"
    disbursed_on = dt.date(2024, 1, 1)


class InstallmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Installment

    loan = factory.SubFactory(LoanFactory)
    number = factory.Sequence(lambda n: n + 1)
    due_date = dt.date(2024, 2, 1)
    principal_due = Decimal("100.00")


class PaymentFactory(factory.django.DjangoModelFactory):
    """A stored payment row (not allocated: ``loans.services.payment_record`` does that)."""

    class Meta:
        model = "loans.Payment"

    loan = factory.SubFactory(LoanFactory)
    amount = Decimal("50.00")
    currency = factory.SelfAttribute("loan.currency")
    received_at = factory.LazyFunction(timezone.now)
    reference = factory.Sequence(lambda n: f"P-{n:06d}")
    source = "api"


def loan_with_schedule(*due: tuple[str, str], **loan_fields: Any) -> Loan:
    """A loan with installments given as (due date, principal) pairs, numbered in order."""
    loan = LoanFactory(**loan_fields)
    for number, (due_date, amount) in enumerate(due, start=1):
        InstallmentFactory(
            loan=loan, number=number, due_date=dt.date.fromisoformat(due_date), principal_due=Decimal(amount)
        )
    return loan


def overdue_loan(**loan_fields: Any) -> Loan:
    """make_case's loan: 100.00 due 2024-02-01 (overdue) and 100.00 due 2024-03-01."""
    return loan_with_schedule(("2024-02-01", "100.00"), ("2024-03-01", "100.00"), **loan_fields)


# ---------------------------------------------------------------------------------------------------------------
# Policies and cases
# ---------------------------------------------------------------------------------------------------------------
def current_policy(model: str = "collections_app.CollectionPolicy", product: Any = None) -> Any:
    """The current policy of a product, or the default one the migrations create."""
    from django.apps import apps

    policies = apps.get_model(model).objects.filter(is_current=True)
    return policies.get(product=product) if product is not None else policies.get(product__isnull=True)


class CollectionPolicyFactory(factory.django.DjangoModelFactory):
    """A product's own policy (the default one exists from the migrations: ``current_policy()``)."""

    class Meta:
        model = "collections_app.CollectionPolicy"

    product = factory.SubFactory(ProductFactory)
    version = 1
    is_current = True
    grace_days = 3
    formal_notice_dpd = 30
    legal_dpd = 90
    legal_requires_approval = True
    pre_due_offsets = factory.LazyFunction(list)
    # FN-01: a policy sends its formal notice in writing (once, as the case reaches the stage).
    cadence = factory.LazyFunction(lambda: {"formal_notice": {"letter": 0}})


class InstallmentPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "collections_app.InstallmentPolicy"

    product = factory.SubFactory(ProductFactory)
    version = 1
    is_current = True
    allowed_frequencies = factory.LazyFunction(lambda: ["weekly", "biweekly", "monthly"])


class CaseFactory(factory.django.DjangoModelFactory):
    """An open case (``reminder``) under the default policy, on make_case's overdue loan. The loan's snapshot (days
    past due, balances) is read on ``balances_as_of`` (default 2024-02-11: 10 days past due; ``False`` leaves a given
    loan's snapshot alone). ``worked_by=collector`` assigns the case to them and to their team."""

    class Meta:
        model = "collections_app.CollectionCase"
        skip_postgeneration_save = True

    class Params:
        worked_by = None

    loan = factory.LazyFunction(overdue_loan)
    borrower = factory.SelfAttribute("loan.borrower")
    state = "reminder"
    policy = factory.LazyFunction(current_policy)
    assigned_to = factory.SelfAttribute("worked_by")
    team = factory.LazyAttribute(
        lambda o: getattr(getattr(o.worked_by, "team_membership", None), "team", None) if o.worked_by else None
    )
    opened_on = dt.date(2024, 2, 5)
    stage_entered_on = dt.date(2024, 2, 5)
    days_past_due = 10
    amount_overdue = Decimal("100.00")
    entry_days_past_due = factory.SelfAttribute("days_past_due")  # what the sweep copies when it opens a case
    entry_amount_overdue = factory.SelfAttribute("amount_overdue")

    @factory.post_generation
    def balances_as_of(self, create: bool, extracted: dt.date | bool | None, **kwargs: Any) -> None:
        from loans.services import loans_refresh_balances

        if create and extracted is not False:
            loans_refresh_balances(as_of=extracted or CASE_BALANCES_AS_OF, loan_ids=[self.loan_id])
            self.loan.refresh_from_db()


def make_case(state: str = "reminder", loan: Loan | None = None, **fields: Any) -> Any:
    """An open case on a loan with one overdue installment (100.00, due 2024-02-01), snapshot filled in."""
    return CaseFactory(state=state, **({"loan": loan} if loan is not None else {}), **fields)


class PromiseFactory(factory.django.DjangoModelFactory):
    """An open promise to pay 50.00 by 2024-02-20 (its case is left as given: put it in ``promise_to_pay`` when the
    test needs the state to match)."""

    class Meta:
        model = "collections_app.PromiseToPay"

    case = factory.SubFactory(CaseFactory, state="promise_to_pay", return_state="reminder")
    amount = Decimal("50.00")
    promised_on = dt.date(2024, 2, 20)
    counts_from = factory.LazyFunction(timezone.now)
    window_end = factory.LazyAttribute(
        lambda o: dt.datetime.combine(o.promised_on + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    )
    status = "open"
    created_by = factory.SubFactory(UserFactory, role="collector")


class PaymentPlanFactory(factory.django.DjangoModelFactory):
    """A plan for 100.00 in ``installments`` monthly payments (default 2), waiting for a manager's approval."""

    class Meta:
        model = "collections_app.PaymentPlan"
        skip_postgeneration_save = True

    case = factory.SubFactory(CaseFactory)
    policy = factory.LazyFunction(lambda: current_policy("collections_app.InstallmentPolicy"))
    status = "pending_approval"
    total_amount = Decimal("100.00")
    down_payment = Decimal("0.00")
    frequency = "monthly"
    starts_on = dt.date(2024, 3, 1)
    counts_from = factory.LazyFunction(timezone.now)
    outside_policy = factory.LazyFunction(lambda: ["more installments than the policy allows"])
    proposed_by = factory.SubFactory(UserFactory, role="collector")

    @factory.post_generation
    def installments(self, create: bool, extracted: int | None, **kwargs: Any) -> None:
        if not create:
            return
        count = 2 if extracted is None else extracted
        amount = (self.total_amount / count).quantize(Decimal("0.01")) if count else Decimal("0")
        for number in range(1, count + 1):
            due = self.starts_on + dt.timedelta(days=30 * (number - 1))
            last = number == count
            PlanInstallmentFactory(
                plan=self,
                number=number,
                due_date=due,
                amount=self.total_amount - amount * (count - 1) if last else amount,
            )


class PlanInstallmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "collections_app.PlanInstallment"

    plan = factory.SubFactory(PaymentPlanFactory, installments=0)
    number = factory.Sequence(lambda n: n + 1)
    due_date = dt.date(2024, 3, 1)
    amount = Decimal("50.00")
    breaks_after = factory.LazyAttribute(lambda o: o.due_date + dt.timedelta(days=3))


# ---------------------------------------------------------------------------------------------------------------
# Compliance: restrictions, consents, the ledger, decisions
# ---------------------------------------------------------------------------------------------------------------
class RestrictionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "compliance.Restriction"

    borrower = factory.SubFactory(BorrowerFactory)
    loan = None
    kind = "dispute"
    starts_at = factory.LazyFunction(timezone.now)


class VulnerabilityRecordFactory(factory.django.DjangoModelFactory):
    """A vulnerability record in force (VUL-01): health, told on a call, review in 90 days, no adjustment."""

    class Meta:
        model = "compliance.VulnerabilityRecord"

    borrower = factory.SubFactory(BorrowerFactory)
    drivers = factory.LazyFunction(lambda: ["health"])
    consent_method = "spoken"
    consent_at = factory.LazyFunction(timezone.now)
    review_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=90))
    adjustments = factory.LazyFunction(list)


class HoldFactory(factory.django.DjangoModelFactory):
    """A dispute hold with its compliance restriction (the case's state is left as given: ``on_hold`` when the test
    needs it to match)."""

    class Meta:
        model = "collections_app.Hold"

    case = factory.SubFactory(CaseFactory, state="on_hold", return_state="reminder")
    kind = "dispute"
    reason = "borrower disputes the debt"
    restriction = factory.SubFactory(
        RestrictionFactory,
        borrower=factory.SelfAttribute("..case.borrower"),
        loan=factory.SelfAttribute("..case.loan"),
        kind=factory.SelfAttribute("..kind"),
        reason=factory.SelfAttribute("..reason"),
        source=factory.LazyAttribute(lambda o: f"case:{o.factory_parent.case.pk}"),
    )
    placed_by = factory.SubFactory(UserFactory, role="collector")


class ConsentEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "compliance.ConsentEvent"

    borrower = factory.SubFactory(BorrowerFactory)
    medium = "sms"
    address = "+16175550100"
    kind = "opt_out"
    source = "inbound_sms"
    at = factory.LazyFunction(timezone.now)


class DecisionFactory(factory.django.DjangoModelFactory):
    """A stored answer of the gate (allowing, unless told otherwise)."""

    class Meta:
        model = "compliance.Decision"

    borrower = factory.SubFactory(BorrowerFactory)
    channel = "call"
    at = factory.LazyFunction(timezone.now)
    outcome = "allow"
    allowed = factory.LazyAttribute(lambda o: o.outcome in ("allow", "warn"))
    reasons = factory.LazyFunction(list)
    evaluator_version = "test"


class ContactEventFactory(factory.django.DjangoModelFactory):
    """One entry of the contact ledger: an outbound call that reached the borrower, now."""

    class Meta:
        model = "compliance.ContactEvent"

    borrower = factory.SubFactory(BorrowerFactory)
    channel = "call"
    direction = "outbound"
    at = factory.LazyFunction(timezone.now)
    outcome = "conversation"
    debts = factory.LazyFunction(list)


# ---------------------------------------------------------------------------------------------------------------
# Case records: notes, visits
# ---------------------------------------------------------------------------------------------------------------
class NoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "collections_app.CaseNote"

    case = factory.SubFactory(CaseFactory)
    author = factory.SubFactory(UserFactory, role="collector")
    text = factory.Sequence(lambda n: f"note {n}")


class VisitFactory(factory.django.DjangoModelFactory):
    """A scheduled field visit tomorrow 10:00-12:00 UTC; ``collectors=[...]`` go on it (default: who scheduled it)."""

    class Meta:
        model = "collections_app.FieldVisit"
        skip_postgeneration_save = True

    case = factory.SubFactory(CaseFactory)
    address = "1 Main St, Boston, MA"
    window_start = factory.LazyFunction(
        lambda: (timezone.now() + dt.timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    )
    window_end = factory.LazyAttribute(lambda o: o.window_start + dt.timedelta(hours=2))
    status = "scheduled"
    scheduled_by = factory.SubFactory(UserFactory, role="collector")

    @factory.post_generation
    def collectors(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            self.collectors.set(extracted if extracted is not None else [self.scheduled_by])


# ---------------------------------------------------------------------------------------------------------------
# Notifications: templates, the outbox, inbound SMS
# ---------------------------------------------------------------------------------------------------------------
class MessageTemplateFactory(factory.django.DjangoModelFactory):
    """An active template (default: an English reminder letter, which the migrations do not seed). An active one
    for a key the migrations seeded replaces the seeded one, which is deactivated."""

    class Meta:
        model = "notifications.MessageTemplate"

    purpose = "reminder"
    channel = "letter"
    language = "en"
    subject = "Your loan {reference}"
    body = "Dear {name}, {amount_due} was due on {due_date}. Pay at {pay_link} or call {help_phone}. {lender}"
    is_active = True

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("is_active", True):
            key = {name: kwargs[name] for name in ("purpose", "channel", "language")}
            model_class.objects.filter(is_active=True, **key).update(is_active=False)
        return super()._create(model_class, *args, **kwargs)


class OutboundMessageFactory(factory.django.DjangoModelFactory):
    """A planned reminder SMS of a case, due now."""

    class Meta:
        model = "notifications.OutboundMessage"

    case = factory.SubFactory(CaseFactory)
    borrower = factory.SelfAttribute("case.borrower")
    loan = factory.SelfAttribute("case.loan")
    idempotency_key = factory.Sequence(lambda n: f"test:{n}")
    channel = "sms"
    purpose = "reminder"
    planned_for = factory.LazyFunction(timezone.now)
    status = "planned"


class InboundMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "notifications.InboundMessage"

    provider_id = factory.Sequence(lambda n: f"SM{n:032d}")
    from_number = "+16175550100"
    to_number = "+15005550006"
    body = "When is my payment due?"
    borrower = None
    action = "none"


# ---------------------------------------------------------------------------------------------------------------
# Collectors' calls: the collector's phone, calls through the provider, their recordings and dispositions
# ---------------------------------------------------------------------------------------------------------------
class CollectorProfileFactory(factory.django.DjangoModelFactory):
    """A collector with a phone on their profile (calls go through the provider) in New York time."""

    class Meta:
        model = "collections_app.CollectorProfile"

    user = factory.SubFactory(UserFactory, role="collector")
    phone = "+16175550142"


class CollectorCallFactory(factory.django.DjangoModelFactory):
    """A collector's call through the console provider that reached the borrower: ended, a 42-second
    conversation, announced and recorded (the gate's decision that allowed it comes along)."""

    class Meta:
        model = "notifications.CollectorCall"

    case = factory.SubFactory(CaseFactory)
    borrower = factory.SelfAttribute("case.borrower")
    collector = factory.SubFactory(UserFactory, role="collector")
    decision = factory.SubFactory(
        DecisionFactory, borrower=factory.SelfAttribute("..borrower"), loan=factory.SelfAttribute("..case.loan")
    )
    to = "+16175550100"
    agent_number = "+16175550142"
    record = True
    disclosure = True
    retention_years = 3
    status = "ended"
    provider = "console"
    provider_id = factory.Sequence(lambda n: f"CA{n:032x}")
    outcome = "conversation"
    answered = True
    duration_seconds = 42
    dialled_at = factory.LazyFunction(timezone.now)


class CallRecordingFactory(factory.django.DjangoModelFactory):
    """A recording of a call kept three years, with its media: a one-second WAV file where the console provider
    keeps its recordings (``media=False``: none)."""

    class Meta:
        model = "notifications.CallRecording"
        skip_postgeneration_save = True

    call = factory.SubFactory(CollectorCallFactory)
    provider = "console"
    provider_id = factory.Sequence(lambda n: f"RE{n:032x}")
    duration_seconds = 1
    recorded_at = factory.LazyFunction(timezone.now)
    retain_until = factory.LazyAttribute(lambda o: o.recorded_at + dt.timedelta(days=3 * 365))

    @factory.post_generation
    def media(self, create: bool, extracted: bool | None, **kwargs: Any) -> None:
        from notifications.providers import FileRecordings

        if create and extracted is not False:
            FileRecordings().recording_make(recording_id=self.provider_id, seconds=1)


class CallDispositionFactory(factory.django.DjangoModelFactory):
    """The borrower answered and nothing was agreed."""

    class Meta:
        model = "collections_app.CallDisposition"

    case = factory.SubFactory(CaseFactory)
    decision = factory.SubFactory(DecisionFactory, borrower=factory.SelfAttribute("..case.borrower"))
    party = "right_party"
    actor = factory.SubFactory(UserFactory, role="collector")


# ---------------------------------------------------------------------------------------------------------------
# The sweep and its history
# ---------------------------------------------------------------------------------------------------------------
class SweepRunFactory(factory.django.DjangoModelFactory):
    """A finished one-chunk run."""

    class Meta:
        model = "collections_app.SweepRun"

    as_of = dt.date(2024, 2, 11)
    chunks = 1
    chunks_done = 1
    finished_chunks = factory.LazyFunction(lambda: [0])
    counts = factory.LazyFunction(dict)
    finished_at = factory.LazyFunction(timezone.now)


class PortfolioSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "collections_app.PortfolioSnapshot"

    as_of = factory.LazyFunction(timezone.localdate)
    team = None
    currency = "USD"
    bucket = "1-30"
    loans = 10
    overdue = Decimal("1000.00")
    outstanding = Decimal("5000.00")


# ---------------------------------------------------------------------------------------------------------------
# API clients
# ---------------------------------------------------------------------------------------------------------------
def api_for(user: Any) -> Any:
    """A DRF test client that authenticates as ``user`` with a token, as the lender's systems do."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


class CertificationFactory(factory.django.DjangoModelFactory):
    """A collector's training record (CERT-01) passed today and valid for a year."""

    class Meta:
        model = "compliance.CollectorCertification"

    collector = factory.SubFactory(UserFactory, role="collector")
    course = "催收业务合规培训及考试 / Collection conduct training and exam"
    passed_on = factory.LazyFunction(timezone.localdate)
    expires_on = factory.LazyAttribute(lambda o: o.passed_on + dt.timedelta(days=364))


def certified(*users: Any, on: dt.date | None = None) -> None:
    """Give each user a training record in force on ``on`` (today by default): a collector on a CN desk needs one
    before any manual contact (CERT-01)."""
    day = on or timezone.localdate()
    for user in users:
        CertificationFactory(collector=user, passed_on=day - dt.timedelta(days=30))


class CallReviewFactory(factory.django.DjangoModelFactory):
    """A collector's call drawn into a week's QA sample, not scored yet (US checklist)."""

    class Meta:
        model = "collections_app.CallReview"

    disposition = factory.SubFactory(CallDispositionFactory)
    case = factory.SelfAttribute("disposition.case")
    collector = factory.SelfAttribute("disposition.actor")
    week_start = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday()))
    checklist = factory.LazyFunction(lambda: ["identification", "mini_miranda", "no_false_threats", "within_hours"])
    sampled_at = factory.LazyFunction(timezone.now)
    results = factory.LazyFunction(dict)


def notices_served(case: Any, *, remedy_by: dt.date | None = None) -> None:
    """The notices legal action waits for, served long ago: the case's formal notice sent as a letter (FN-01) and,
    for a borrower under a profile that asks for one (the UK), a default notice posted during the case whose remedy
    date has passed (DN-01). For tests about what comes after."""
    from compliance.models import DebtClock

    long_ago = dt.datetime(2000, 1, 3, 10, 0, tzinfo=dt.UTC)
    OutboundMessageFactory(case=case, channel="letter", purpose="formal_notice", planned_for=long_ago, status="sent",
                           sent_at=long_ago)  # fmt: skip
    DebtClock.objects.update_or_create(
        loan_id=case.loan_id,
        defaults={
            "borrower_id": case.borrower_id,
            "default_notice_sent_at": case.opened_at,
            "default_notice_remedy_by": remedy_by or dt.date(2000, 1, 20),
            "default_notice_ref": "test",
        },
    )
