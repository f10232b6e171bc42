"""factory_boy factories for the domain models (tests build their data; no fixture files)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from loans.models import Borrower, Installment, Loan, LoanProduct, PhoneNumber


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


def loan_with_schedule(*due: tuple[str, str], **loan_fields) -> Loan:  # type: ignore[no-untyped-def]
    """A loan with installments given as (due date, principal) pairs, numbered in order."""
    loan = LoanFactory(**loan_fields)
    for number, (due_date, amount) in enumerate(due, start=1):
        InstallmentFactory(
            loan=loan, number=number, due_date=dt.date.fromisoformat(due_date), principal_due=Decimal(amount)
        )
    return loan


def user_with_role(role: str, username: str | None = None):  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user(username=username or f"{role}-user", password="pw-for-tests-123")
    user.groups.add(Group.objects.get(name=role))
    return user


def make_case(state: str = "reminder", loan=None, **fields):  # type: ignore[no-untyped-def]
    """An open case on a loan with one overdue installment (100.00, due 2024-02-01), snapshot filled in."""
    from collections_app.models import CollectionCase, CollectionPolicy
    from loans.services import loans_refresh_balances

    loan = loan or loan_with_schedule(("2024-02-01", "100.00"), ("2024-03-01", "100.00"))
    loans_refresh_balances(as_of=dt.date(2024, 2, 11), loan_ids=[loan.pk])
    loan.refresh_from_db()
    values = {
        "loan": loan,
        "borrower": loan.borrower,
        "state": state,
        "policy": CollectionPolicy.objects.get(product__isnull=True, is_current=True),
        "opened_on": dt.date(2024, 2, 5),
        "stage_entered_on": dt.date(2024, 2, 5),
        "days_past_due": 10,
        "amount_overdue": Decimal("100.00"),
    }
    values.update(fields)
    return CollectionCase.objects.create(**values)


def api_for(user):  # type: ignore[no-untyped-def]
    """A DRF test client that authenticates as ``user`` with a token, as the lender's systems do."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def team_with(*collectors, name: str = "Team", language: str = "en", manager=None):  # type: ignore[no-untyped-def]
    """A team led by ``manager`` with these collectors as members."""
    from collections_app.models import Team, TeamMembership

    team = Team.objects.create(name=name, language=language, manager=manager)
    for collector in collectors:
        TeamMembership.objects.create(user=collector, team=team)
    return team
