"""Roles, login, the base layout and language switching."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from core.roles import ROLES, user_role
from notifications.services import provider_pause
from tests.factories import loan_with_schedule, user_with_role

pytestmark = pytest.mark.django_db


def test_the_data_migration_creates_the_three_role_groups_with_permissions():
    groups = {g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()}
    assert set(ROLES) <= set(groups)
    assert {"view_loan", "view_borrower", "view_payment"} <= groups["collector"]
    assert "change_loan" not in groups["collector"] and "add_payment" not in groups["collector"]
    assert "add_payment" in groups["manager"] and "delete_loan" not in groups["manager"]
    assert {p.codename for p in Permission.objects.filter(content_type__app_label="loans")} <= groups["admin"]


def test_a_users_role_is_their_highest_group_and_superusers_are_admins():
    user = user_with_role("collector")
    user.groups.add(Group.objects.get(name="manager"))
    assert user_role(user) == "manager"
    assert user_role(get_user_model().objects.create_superuser("root", password="x-long-pass-1")) == "admin"
    assert user_role(get_user_model().objects.create_user("nobody", password="x-long-pass-1")) is None


def test_every_page_needs_a_login(client):
    for url in (reverse("home"), "/admin/"):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]


def test_the_login_page_renders_with_vendored_bootstrap_and_no_cdn(client):
    response = client.get(reverse("login"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "/static/vendor/bootstrap/css/bootstrap.min.css" in html
    assert "cdn" not in html.lower() and "https://" not in html


def test_a_wrong_password_shows_a_form_error(client):
    user_with_role("collector", "casey")
    response = client.post(reverse("login"), {"username": "casey", "password": "wrong"})
    assert response.status_code == 200
    assert "alert-danger" in response.content.decode()


def test_signing_in_lands_on_the_portfolio_with_navigation_for_the_role(client):
    loan_with_schedule(("2024-02-01", "100.00"))
    user_with_role("collector", "casey")
    response = client.post(reverse("login"), {"username": "casey", "password": "pw-for-tests-123"}, follow=True)
    html = response.content.decode()
    assert response.status_code == 200 and "Portfolio" in html
    assert "casey · collector" in html
    assert "Administration" not in html and "Escalations" not in html


def test_admins_see_the_administration_link_and_managers_the_escalations(client):
    client.force_login(user_with_role("admin", "ada"))
    assert "Administration" in client.get(reverse("home")).content.decode()
    client.force_login(user_with_role("manager", "morgan"))
    html = client.get(reverse("home")).content.decode()
    assert "Escalations" in html and "Administration" not in html


def test_a_signed_in_user_without_a_role_is_refused(client):
    client.force_login(get_user_model().objects.create_user("nobody", password="x-long-pass-1"))
    assert client.get(reverse("home")).status_code == 403


def test_the_interface_switches_to_simplified_chinese(client):
    client.force_login(user_with_role("collector", "wang"))
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("home")}, follow=True)
    html = response.content.decode()
    assert 'lang="zh-hans"' in html
    assert "资产概览" in html and "退出" in html


def test_health_check_needs_no_login(client):
    assert client.get(reverse("healthz")).json() == {"status": "ok"}


def test_managers_see_a_paused_provider_on_every_page_collectors_do_not(client):
    provider_pause(provider="twilio", reason="message 7: the answer may be lost")
    client.force_login(user_with_role("manager", "morgan"))
    assert 'data-testid="provider-paused"' in client.get(reverse("home")).content.decode()
    client.force_login(user_with_role("collector", "casey"))
    assert "provider-paused" not in client.get(reverse("home")).content.decode()
