"""The factories build valid rows of every model the tests use, and the short forms keep their meaning."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
import pytest
from django.apps import apps
from django.db import models
from django_fsm import FSMField

from notifications.models import MessageTemplate
from tests import factories as f

pytestmark = pytest.mark.django_db

# Models no test builds directly: written only by services (audit rows, allocations, pauses, online payment
# attempts) or seeded by migrations (jurisdiction profiles).
BUILT_BY_SERVICES = {
    "collections_app.CaseTransition",
    "collections_app.ReviewReminder",  # collections_app.services.reviews, the daily task (VUL-01)
    "loans.PaymentAllocation",
    "loans.PaymentCheckout",  # loans.payments.payment_start
    "collections_app.LoanPosition",  # the sweep (sweep.flows)
    "collections_app.PortfolioFlow",  # the sweep (sweep.flows)
    "notifications.VoiceKeypress",  # the voice menu's webhook (services.voice_menu)
    "notifications.PortalLink",  # issued by the dispatch (services.portal_links)
    "notifications.PortalEvent",  # the borrower page (portal.views)
    "notifications.Document",  # rendered by services.documents (immutable: never built by hand)
    "collections_app.EvidencePack",  # built by services.evidence (immutable: never built by hand)
    "collections_app.Complaint",  # services.complaints (its clocks are worked out when it is recorded)
    "collections_app.Forbearance",  # services.holds.forbearance_record
    "notifications.ProviderPause",
    "compliance.JurisdictionProfile",
    "compliance.VulnerabilityAudit",  # every view and change of a record (services.vulnerability)
    "compliance.DebtClock",  # the contact ledger and a mailed validation notice (services.ledger, services.notices)
    "collections_app.Dispute",  # with its hold (services.holds.hold_place, services.disputes)
}
PROJECT_APPS = ("loans", "compliance", "notifications", "collections_app")


def factory_models() -> dict[str, type[factory.django.DjangoModelFactory]]:
    found = {}
    for value in vars(f).values():
        if isinstance(value, type) and issubclass(value, factory.django.DjangoModelFactory) and value._meta.model:
            model = value._meta.get_model_class()
            found[model._meta.label] = value
    return found


def test_every_model_of_the_project_has_a_factory_or_is_written_only_by_services():
    models_ = {m._meta.label for app in PROJECT_APPS for m in apps.get_app_config(app).get_models()}
    missing = models_ - set(factory_models()) - BUILT_BY_SERVICES
    assert not missing, f"add a factory to tests/factories.py for {sorted(missing)}"


@pytest.mark.parametrize("label", sorted(set(factory_models())))
def test_each_factory_builds_a_row_that_passes_model_validation(label):
    row = factory_models()[label]()
    row.refresh_from_db()
    # Related rows are checked by the database; a protected state field cannot be re-assigned by cleaning; the
    # services store empty JSON lists and objects too (reasons, debts, counts).
    exclude = [
        field.name
        for field in row._meta.fields
        if isinstance(field, models.ForeignKey | FSMField)
        or (isinstance(field, models.JSONField) and getattr(row, field.name) in ([], {}))
    ]
    row.full_clean(exclude=exclude, validate_constraints=True)


def test_make_case_is_ten_days_past_due_on_an_overdue_loan_with_its_snapshot():
    case = f.make_case()
    assert (case.state, case.days_past_due, case.amount_overdue) == ("reminder", 10, Decimal("100.00"))
    assert case.borrower == case.loan.borrower and case.policy.product is None
    assert (case.loan.days_past_due, case.loan.amount_overdue) == (10, Decimal("100.00"))
    assert case.team is None and case.assigned_to is None


def test_a_case_worked_by_a_collector_is_theirs_and_their_teams():
    collector = f.user_with_role("collector", "casey")
    team = f.team_with(collector, name="US")
    case = f.CaseFactory(worked_by=collector)
    assert (case.assigned_to, case.team) == (collector, team)


def test_a_case_can_leave_its_loans_snapshot_alone():
    loan = f.overdue_loan()
    f.CaseFactory(loan=loan, balances_as_of=False)
    loan.refresh_from_db()
    assert loan.days_past_due == 0 and loan.balances_as_of is None


def test_users_get_their_role_and_the_test_password():
    user = f.user_with_role("manager", "morgan")
    assert list(user.groups.values_list("name", flat=True)) == ["manager"]
    assert user.check_password(f.PASSWORD) and not user.is_staff
    assert not f.UserFactory().groups.exists()


def test_a_template_replaces_the_seeded_one_for_its_key():
    seeded = MessageTemplate.objects.get(purpose="reminder", channel="sms", language="en", is_active=True)
    mine = f.MessageTemplateFactory(channel="sms", body="Pay {amount_due}. Reply STOP to opt out.")
    seeded.refresh_from_db()
    assert not seeded.is_active
    assert MessageTemplate.objects.get(purpose="reminder", channel="sms", language="en", is_active=True) == mine


def test_a_hold_records_the_matching_restriction_on_the_cases_borrower_and_loan():
    hold = f.HoldFactory(kind="bankruptcy")
    assert (hold.restriction.kind, hold.restriction.borrower, hold.restriction.loan) == (
        "bankruptcy",
        hold.case.borrower,
        hold.case.loan,
    )
    assert hold.case.state == "on_hold" and hold.restriction.source == f"case:{hold.case.pk}"


def test_a_plans_installments_add_up_to_its_total():
    plan = f.PaymentPlanFactory(total_amount=Decimal("100.00"), installments=3)
    amounts = list(plan.installments.values_list("amount", flat=True))
    assert amounts == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    assert plan.installments.first().due_date == dt.date(2024, 3, 1)


def test_a_visit_takes_its_collectors_or_whoever_scheduled_it():
    visit = f.VisitFactory()
    assert list(visit.collectors.all()) == [visit.scheduled_by]
    pair = [f.user_with_role("collector", "a"), f.user_with_role("collector", "b")]
    assert set(f.VisitFactory(collectors=pair).collectors.all()) == set(pair)
