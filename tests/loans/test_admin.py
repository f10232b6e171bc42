"""The Django admin lists every loans model with search and filters, for an admin."""

import pytest
from django.urls import reverse

from loans.models import Payment
from tests.factories import PhoneFactory, loan_with_schedule, user_with_role

pytestmark = pytest.mark.django_db
MODELS = ["borrower", "phonenumber", "emailaddress", "loanproduct", "loan", "installment", "payment"]


@pytest.fixture
def admin_client(client):
    user = user_with_role("admin", "ada")
    user.is_staff = True
    user.save()
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", MODELS)
def test_each_loans_model_has_a_searchable_admin_list(admin_client, model):
    loan = loan_with_schedule(("2024-02-01", "100.00"))
    PhoneFactory(borrower=loan.borrower)
    response = admin_client.get(reverse(f"admin:loans_{model}_changelist"), {"q": "L"})
    assert response.status_code == 200


def test_the_loan_page_shows_the_schedule_read_only(admin_client):
    loan = loan_with_schedule(("2024-02-01", "100.00"))
    response = admin_client.get(reverse("admin:loans_loan_change", args=[loan.pk]))
    assert response.status_code == 200
    assert "2024-02-01" in response.content.decode() or "Feb. 1, 2024" in response.content.decode()


def test_payments_cannot_be_added_or_edited_by_hand(admin_client):
    assert admin_client.get(reverse("admin:loans_payment_add")).status_code == 403
    assert Payment.objects.count() == 0


def test_a_collector_cannot_open_the_admin(client):
    client.force_login(user_with_role("collector", "casey"))
    response = client.get(reverse("admin:loans_loan_changelist"))
    assert response.status_code == 302  # staff-only: sent to the admin login
