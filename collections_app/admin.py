"""Django admin: policies (every save is a new version), teams, and read-only views of cases and their history."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from collections_app.models import (
    CallDisposition,
    CaseNote,
    CaseTransition,
    CollectionCase,
    CollectionPolicy,
    CollectorProfile,
    FieldVisit,
    Hold,
    InstallmentPolicy,
    PaymentPlan,
    PlanInstallment,
    PromiseToPay,
    SweepRun,
    Team,
    TeamMembership,
)
from loans.admin import ReadOnlyAdmin, ReadOnlyInline, VersionedAdmin


class VersionedPolicyAdmin(VersionedAdmin):
    """Saving never overwrites: it publishes a new current version (cases keep the version that moved them)."""

    version_scope = ("product_id",)
    list_display = ["__str__", "product", "version", "is_current", "created_at", "created_by"]
    list_filter = ["is_current", "product"]
    readonly_fields = ["version", "is_current", "created_at", "created_by"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("product", "created_by")


@admin.register(CollectionPolicy)
class CollectionPolicyAdmin(VersionedPolicyAdmin):
    fieldsets = [
        (None, {"fields": ["product", "version", "is_current"]}),
        (_("Stages"), {"fields": ["grace_days", "formal_notice_dpd", "legal_dpd", "legal_requires_approval"]}),
        (
            _("Reminders"),
            {
                "fields": ["pre_due_offsets", "cadence"],
                "description": _(
                    "Cadence: days between contacts per stage and channel, 0 = once, e.g. "
                    '{"reminder": {"sms": 3, "voice": 2}, "formal_notice": {"letter": 0}}'
                ),
            },
        ),
        (_("Promises and hardship"), {"fields": ["promise_max_days", "max_grace_extension_days"]}),
        (_("Record"), {"fields": ["created_at", "created_by"]}),
    ]


@admin.register(InstallmentPolicy)
class InstallmentPolicyAdmin(VersionedPolicyAdmin):
    fieldsets = [
        (None, {"fields": ["product", "version", "is_current"]}),
        (
            _("Limits"),
            {
                "fields": [
                    "max_installments",
                    "max_term_days",
                    "min_down_payment_percent",
                    "max_waiver_percent",
                    "approval_above",
                    "allowed_frequencies",
                    "plan_grace_days",
                ],
                "description": _('Allowed frequencies: a list such as ["weekly", "biweekly", "monthly"].'),
            },
        ),
        (_("Record"), {"fields": ["created_at", "created_by"]}),
    ]


class MembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "language", "manager", "collectors_see_team_cases"]
    list_filter = ["language"]
    search_fields = ["name"]
    inlines = [MembershipInline]


class TransitionInline(ReadOnlyInline):
    model = CaseTransition
    fields = ["at", "from_state", "to_state", "transition", "actor_label", "reason", "policy"]


class PromiseInline(ReadOnlyInline):
    model = PromiseToPay
    fields = ["amount", "promised_on", "status", "paid_amount", "created_by", "created_at"]


class PlanInline(ReadOnlyInline):
    model = PaymentPlan
    fields = ["status", "total_amount", "down_payment", "waived_amount", "frequency", "starts_on", "paid_amount"]


class HoldInline(ReadOnlyInline):
    model = Hold
    fields = ["kind", "reason", "document_ref", "placed_by", "placed_at", "lifted_at"]


@admin.register(CollectionCase)
class CollectionCaseAdmin(ReadOnlyAdmin):
    """Cases change only through their transitions (the case page, the API, the sweep)."""

    list_display = [
        "pk",
        "loan",
        "borrower",
        "state",
        "days_past_due",
        "amount_overdue",
        "priority",
        "assigned_to",
        "opened_on",
    ]
    list_filter = ["state", "team", "loan__product"]
    list_select_related = ["loan", "borrower", "assigned_to"]
    search_fields = ["loan__external_id", "borrower__full_name", "borrower__external_id"]
    date_hierarchy = "opened_on"
    inlines = [TransitionInline, PromiseInline, PlanInline, HoldInline]


@admin.register(CaseTransition)
class CaseTransitionAdmin(ReadOnlyAdmin):
    list_display = ["case", "at", "from_state", "to_state", "transition", "actor_label"]
    list_filter = ["transition", "to_state"]
    search_fields = ["case__loan__external_id", "actor_label", "reason"]
    date_hierarchy = "at"


class PlanInstallmentInline(ReadOnlyInline):
    model = PlanInstallment
    fields = ["number", "due_date", "amount", "paid_amount", "breaks_after"]


@admin.register(PaymentPlan)
class PaymentPlanAdmin(ReadOnlyAdmin):
    list_display = ["pk", "case", "status", "total_amount", "frequency", "starts_on", "proposed_by", "decided_by"]
    list_filter = ["status", "frequency"]
    search_fields = ["case__loan__external_id"]
    inlines = [PlanInstallmentInline]


@admin.register(PromiseToPay)
class PromiseAdmin(ReadOnlyAdmin):
    list_display = ["case", "amount", "promised_on", "status", "paid_amount", "created_by"]
    list_filter = ["status"]
    search_fields = ["case__loan__external_id"]


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ["case", "kind", "placed_by", "placed_at", "lifted_at"]
    list_filter = ["kind"]
    search_fields = ["case__loan__external_id", "document_ref"]


@admin.register(FieldVisit)
class FieldVisitAdmin(ReadOnlyAdmin):
    list_display = ["case", "status", "window_start", "window_end", "scheduled_by"]
    list_filter = ["status"]


@admin.register(CaseNote)
class CaseNoteAdmin(ReadOnlyAdmin):
    list_display = ["case", "author", "created_at"]
    search_fields = ["text", "case__loan__external_id"]


@admin.register(SweepRun)
class SweepRunAdmin(ReadOnlyAdmin):
    list_display = ["as_of", "chunks", "chunks_done", "started_at", "finished_at"]
    readonly_fields = ["as_of", "chunks", "chunks_done", "started_at", "finished_at", "counts"]


@admin.register(CollectorProfile)
class CollectorProfileAdmin(admin.ModelAdmin):
    """A user's phone (rung first for a call through the provider; without one they dial by hand) and zone."""

    list_display = ["user", "phone"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    autocomplete_fields = ["user"]


@admin.register(CallDisposition)
class CallDispositionAdmin(ReadOnlyAdmin):
    list_display = ["case", "party", "result", "callback_at", "actor", "created_at"]
    list_filter = ["party", "result"]
    search_fields = ["case__loan__external_id"]
    date_hierarchy = "created_at"
