"""The three roles — collector, manager, admin — as Django groups with their permissions.

Groups are created by a data migration (collections_app/migrations) through :func:`sync_role_groups`, and each later
migration that adds models calls it again so the roles keep up. A user's role is their group; superusers are admins.
"""

from __future__ import annotations

from typing import Any

COLLECTOR = "collector"
MANAGER = "manager"
ADMIN = "admin"
ROLES = (COLLECTOR, MANAGER, ADMIN)

# "app_label.codename", or "app_label.*" for every permission of an app. Permissions that do not exist (yet) are
# skipped, so one table serves every migration that syncs it.
_LOANS_READ = [
    "loans.view_borrower",
    "loans.view_phonenumber",
    "loans.view_emailaddress",
    "loans.view_loanproduct",
    "loans.view_loan",
    "loans.view_installment",
    "loans.view_payment",
    "loans.view_paymentcheckout",
]
_CASE_WORK = [
    "collections_app.view_collectioncase",
    "collections_app.view_casetransition",
    "collections_app.view_promisetopay",
    "collections_app.add_promisetopay",
    "collections_app.view_paymentplan",
    "collections_app.add_paymentplan",
    "collections_app.view_planinstallment",
    "collections_app.view_hold",
    "collections_app.add_hold",
    "collections_app.view_casenote",
    "collections_app.add_casenote",
    "collections_app.view_fieldvisit",
    "collections_app.add_fieldvisit",
    "collections_app.change_fieldvisit",
    "collections_app.view_collectionpolicy",
    "collections_app.view_installmentpolicy",
    "compliance.view_restriction",
    "compliance.add_restriction",
    "compliance.view_contactevent",
    "compliance.add_contactevent",
    "compliance.view_decision",
    "compliance.view_consentevent",
    "compliance.view_jurisdictionprofile",
    "compliance.view_vulnerabilityrecord",
    "compliance.add_vulnerabilityrecord",
    "compliance.change_vulnerabilityrecord",
    "notifications.view_outboundmessage",
    "notifications.view_collectorcall",
    "notifications.view_callrecording",
    "notifications.view_document",
    "collections_app.view_calldisposition",
    "collections_app.add_calldisposition",
    "compliance.view_collectorcertification",  # their own (selectors narrow it)
    "collections_app.view_callreview",  # their own QA results (selectors narrow it)
]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    COLLECTOR: [*_LOANS_READ, *_CASE_WORK],
    MANAGER: [
        *_LOANS_READ,
        "loans.add_payment",
        "loans.change_borrower",
        "loans.add_phonenumber",
        "loans.change_phonenumber",
        "loans.add_emailaddress",
        "loans.change_emailaddress",
        *_CASE_WORK,
        "collections_app.approve_legal",
        "collections_app.close_case",
        "collections_app.reassign_case",
        "collections_app.approve_plan",
        "collections_app.view_evidencepack",
        "collections_app.add_evidencepack",
        "compliance.lift_restriction",
        "compliance.view_vulnerability_details",
        "compliance.add_collectorcertification",
        "compliance.change_collectorcertification",
        "collections_app.change_callreview",
        "notifications.set_legal_hold",
        "collections_app.view_team",
        "collections_app.view_sweeprun",
        "auth.view_user",
    ],
    ADMIN: [
        "core.*",
        "loans.*",
        "compliance.*",
        "notifications.*",
        "collections_app.*",
        "django_celery_beat.*",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
    ],
}


def sync_role_groups(apps: Any) -> None:
    """Create the role groups and set each one's permissions to exactly the table above (idempotent)."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrations finish (post_migrate); a data migration must create them
    # itself to be able to grant them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, wanted in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions = []
        for entry in wanted:
            app_label, codename = entry.split(".", 1)
            query = Permission.objects.filter(content_type__app_label=app_label)
            if codename != "*":
                query = query.filter(codename=codename)
            permissions.extend(query)
        group.permissions.set(permissions)


def user_role(user: Any) -> str | None:
    """The user's role name, the highest one if they hold several; None for users outside every role."""
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser:
        return ADMIN
    if hasattr(user, "_role_cache"):
        return user._role_cache  # one groups query per request, however many checks ask
    names = {group.name for group in user.groups.all()}
    role = next((r for r in (ADMIN, MANAGER, COLLECTOR) if r in names), None)
    user._role_cache = role
    return role
