"""Demo users for each role, with known passwords (printed by `make run`)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from collections_app.models import CollectorProfile, Team, TeamMembership
from core.models import UserSettings
from core.roles import ADMIN, COLLECTOR, MANAGER

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - demo data only; printed on purpose

DEMO_USERS: list[tuple[str, str, str, str]] = [
    # username, role, display name, language
    ("admin", ADMIN, "Ada Admin", "en"),
    ("manager.us", MANAGER, "Morgan Reyes", "en"),
    ("manager.cn", MANAGER, "刘经理", "zh-hans"),
    ("collector.us1", COLLECTOR, "Casey Brooks", "en"),
    ("collector.us2", COLLECTOR, "Jordan Lee", "en"),
    ("collector.cn1", COLLECTOR, "王小芳", "zh-hans"),
    ("collector.cn2", COLLECTOR, "陈建国", "zh-hans"),
]


DEMO_TEAMS = [
    # name, language, time zone (the members' pages default to both), manager, collectors
    ("US collections", "en", "America/New_York", "manager.us", ["collector.us1", "collector.us2"]),
    ("三门峡催收组", "zh-hans", "Asia/Shanghai", "manager.cn", ["collector.cn1", "collector.cn2"]),
]


# The collectors' own phones (fictional numbers): with the console backend a call rings nobody and is simulated, so
# `make run` shows a call through the system, its disposition and its recording.
DEMO_PROFILES = {
    # username: the phone a click-to-call rings, the collector's own zone ("": the team's)
    "collector.us1": ("+12025550101", ""),
    "collector.us2": ("+12025550102", "America/Chicago"),
    "collector.cn1": ("+8613800138001", ""),
    "collector.cn2": ("+8613800138002", ""),
}


def demo_users_create() -> list[tuple[str, str, str]]:
    """Create (or reset) the demo users and their teams; returns (username, role, password) for printing."""
    User = get_user_model()
    created = []
    for username, role, name, language in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username)
        user.first_name = name
        user.is_staff = role == ADMIN
        user.is_superuser = role == ADMIN
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        UserSettings.objects.update_or_create(user=user, defaults={"language": language})  # Chinese pages for 刘经理
        created.append((username, role, DEMO_PASSWORD))
    for team_name, language, zone, manager, collectors in DEMO_TEAMS:
        team, _ = Team.objects.update_or_create(
            name=team_name,
            defaults={"language": language, "timezone": zone, "manager": User.objects.get(username=manager)},
        )
        for username in collectors:
            TeamMembership.objects.update_or_create(user=User.objects.get(username=username), defaults={"team": team})
    for username, (phone, zone) in DEMO_PROFILES.items():
        user = User.objects.get(username=username)
        CollectorProfile.objects.update_or_create(user=user, defaults={"phone": phone})
        if zone:  # otherwise the team's
            UserSettings.objects.update_or_create(user=user, defaults={"timezone": zone})
    return created
