"""seed_demo builds a believable, deterministic portfolio through the intake services."""

import datetime as dt
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from collections_app.models import CollectionCase, CollectorProfile
from collections_app.selectors import reader_language_and_zone
from loans.models import Borrower, Loan, Payment
from notifications.models import OutboundMessage

pytestmark = pytest.mark.django_db


def seed(loans=120, seed=7):
    out = io.StringIO()
    call_command("seed_demo", loans=loans, seed=seed, as_of=dt.date(2026, 6, 15), no_progress=True, stdout=out)
    return out.getvalue()


def fingerprint():
    return (
        list(Loan.objects.order_by("external_id").values_list("external_id", "principal", "days_past_due", "status")),
        list(Payment.objects.order_by("reference").values_list("reference", "amount", "received_at")),
    )


def test_the_demo_has_both_lenders_every_overdue_depth_and_working_logins():
    output = seed()
    assert "Demo logins" in output and "collector.cn1" in output
    assert CollectionCase.objects.filter(assigned_to__username="collector.cn1").exists()
    # Every demo collector has a phone: a call goes through the (console) provider, simulated and recorded.
    phones = dict(CollectorProfile.objects.values_list("user__username", "phone"))
    assert phones.keys() == {"collector.us1", "collector.us2", "collector.cn1", "collector.cn2"}
    cn1 = get_user_model().objects.get(username="collector.cn1")
    assert reader_language_and_zone(cn1) == ("zh-hans", "Asia/Shanghai")  # Chinese pages, the team's zone
    currencies = set(Loan.objects.values_list("currency", flat=True))
    assert currencies == {"CNY", "USD"}
    dpd = list(Loan.objects.filter(status="active").values_list("days_past_due", flat=True))
    assert any(d == 0 for d in dpd) and any(1 <= d <= 5 for d in dpd) and any(d > 90 for d in dpd)
    assert Loan.objects.filter(status="paid_off").exists()
    assert Borrower.objects.filter(language="zh-hans", time_zones=["Asia/Shanghai"]).exists()
    assert Borrower.objects.filter(region="MA").exists() and Borrower.objects.filter(region="AZ").exists()
    # Through the sign-in page (django-axes refuses authenticate() without a request).
    signed_in = Client().post(reverse("login"), {"username": "collector.cn1", "password": "demo-pass-2026"})
    assert signed_in.status_code == 302 and signed_in["Location"] == reverse("home")


def test_the_same_seed_builds_the_same_portfolio():
    seed()
    first = fingerprint()
    OutboundMessage.objects.all().delete()
    CollectionCase.objects.all().delete()
    Payment.objects.all().delete()
    Loan.objects.all().delete()
    Borrower.objects.all().delete()
    seed()
    assert fingerprint() == first


def test_if_empty_leaves_an_existing_portfolio_alone():
    seed(loans=10)
    out = io.StringIO()
    call_command("seed_demo", if_empty=True, no_progress=True, stdout=out)
    assert Loan.objects.count() == 10
    assert "left as it is" in out.getvalue()
