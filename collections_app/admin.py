"""Django admin: policies (every save is a new version), teams, and read-only views of cases and their history."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from collections_app.labels import outcome_label, state_label
from collections_app.models import (
    CallDisposition,
    CallReview,
    CaseNote,
    CaseTransition,
    CollectionCase,
    CollectionPolicy,
    CollectorProfile,
    Dispute,
    DisputeStage,
    FieldVisit,
    Forbearance,
    Hold,
    InstallmentPolicy,
    PaymentPlan,
    PlanInstallment,
    PromiseToPay,
    SweepRun,
    Team,
    TeamMembership,
)
from collections_app.sweep.preview import Group, Preview, PreviewError, loan_refs, policy_preview
from compliance.admin import JurisdictionProfileAdmin
from compliance.models import JurisdictionProfile
from core.roles import ADMIN, user_role
from loans.admin import ReadOnlyAdmin, ReadOnlyInline, VersionedAdmin
from notifications.models import Channel, MessagePurpose

PREVIEW = "_preview"


class PreviewImpactMixin(admin.ModelAdmin):
    """The "Preview impact" button of a versioned policy's change form (issue 14): the form is submitted with the
    button's name, validated as a save would be, and instead of saving, the next sweep is run with the draft and
    rolled back (``collections_app.sweep.preview``); the form comes back as typed, the difference above it.
    Admins only: anyone else who posts it gets 403."""

    change_form_template = "admin/policy_preview_change_form.html"

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if request.method == "POST" and PREVIEW in request.POST and user_role(request.user) != ADMIN:
            raise PermissionDenied
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if request.method != "POST" or PREVIEW not in request.POST:
            return form_class

        class PreviewForm(form_class):  # type: ignore[misc, valid-type]
            """Valid as a save would need, then previewed and never saved: ``is_valid`` answers False (with no
            error) so that the admin shows the form again, as typed, instead of saving it."""

            def is_valid(self) -> bool:
                if not super().is_valid():
                    return False
                try:
                    request._policy_preview = policy_preview(draft=self.save(commit=False))  # type: ignore[attr-defined]
                except PreviewError as exc:
                    self.add_error(None, str(exc))
                return False

        return PreviewForm

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        preview = getattr(request, "_policy_preview", None)
        context["policy_preview"] = preview_display(preview) if preview is not None else None
        context["preview_button"] = PREVIEW
        return super().render_change_form(request, context, *args, **kwargs)


def _message_words(detail: str) -> str:
    channel, _sep, purpose = detail.partition(":")
    if not purpose:
        return ""
    channel_words = Channel(channel).label if channel in Channel.values else channel
    purpose_words = MessagePurpose(purpose).label if purpose in MessagePurpose.values else purpose
    return f"{channel_words} · {purpose_words}"


def preview_display(preview: Preview) -> dict[str, Any]:
    """The preview in the reader's words: each group with its count and samples linked to their pages."""
    refs = loan_refs(preview)
    chinese = (get_language() or "").startswith("zh")
    words = {
        "planned": _t("planned"),
        "kept": _t("no longer cancelled"),
        "unplanned": _t("no longer planned"),
        "cancel": _t("cancelled"),
    }

    def rows(group: Group, kind: str) -> list[dict[str, Any]]:
        out = []
        for s in group.samples:
            ref, borrower, dpd = refs.get(s.loan_id, ("", 0, 0))
            if s.case_id is not None:
                url = reverse("case-detail", args=[s.case_id])
            else:
                url = reverse("borrower-detail", args=[borrower]) if borrower else ""
            if kind == "cases":
                before, after = state_label(s.before) if s.before else "—", state_label(s.after) if s.after else "—"
                detail = ""
            elif kind == "messages":
                before = after = str(words.get(s.before, s.before))
                detail = _message_words(s.detail)
            else:
                before = outcome_label(s.before) if s.before else _t("not planned")
                after, detail = outcome_label(s.after), ""
            out.append({"url": url, "ref": ref, "dpd": dpd, "before": before, "after": after, "detail": detail})
        return out

    sections = [
        {"label": g.label, "count": g.count, "rows": rows(g, kind), "kind": kind}
        for key, g in preview.groups.items()
        for kind in ["cases" if key in {"opened", "not_opened", "escalated", "deescalated"} else
                     "messages" if key in {"planned", "unplanned"} else "gate"]
    ]  # fmt: skip
    for rule, g in preview.refused_by_rule.items():
        en, zh = preview.rule_words.get(rule, ("", ""))
        reason = (zh or en) if chinese else en
        label = _t("Contacts the gate would now refuse — rule %(rule)s: %(reason)s") % {"rule": rule, "reason": reason}
        sections.append({"label": label, "count": g.count, "rows": rows(g, "gate"), "kind": "gate"})
    return {"as_of": preview.as_of, "at": preview.at, "sections": sections, "seconds": preview.seconds,
            "empty": preview.empty}  # fmt: skip


class VersionedPolicyAdmin(PreviewImpactMixin, VersionedAdmin):
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
        (
            _("Stages"),
            {
                "fields": [
                    "grace_days",
                    "formal_notice_dpd",
                    "formal_notice_response_days",
                    "legal_dpd",
                    "legal_requires_approval",
                ]
            },
        ),
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
        (_("Online payments"), {"fields": ["min_payment"]}),
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


class DisputeStageFilter(admin.SimpleListFilter):
    """The workflow's stage (a property of the dates, not a column): received, verification prepared or mailed."""

    title = _("stage")
    parameter_name = "stage"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(value), str(label)) for value, label in DisputeStage.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        stage = self.value()
        if stage == DisputeStage.MAILED:
            return queryset.filter(mailed_at__isnull=False)
        if stage == DisputeStage.PREPARED:
            return queryset.filter(mailed_at__isnull=True, prepared_at__isnull=False)
        if stage == DisputeStage.RECEIVED:
            return queryset.filter(prepared_at__isnull=True)
        return queryset


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    """Disputes move only through their workflow (received, verification prepared, mailed: the case page, the API,
    the dispatch); here they are read, found by case number or loan reference."""

    list_display = ["pk", "case", "received_at", "channel", "written", "in_validation_period", "dsp01", "stage",
                    "prepared_at", "prepared_by", "mailed_at"]  # fmt: skip
    list_filter = [DisputeStageFilter, "channel", "written", "in_validation_period", "original_creditor"]
    list_select_related = ["case", "prepared_by"]
    search_fields = ["=case__id", "^case__loan__external_id"]  # a number is a case, not part of a reference
    date_hierarchy = "received_at"

    @admin.display(description=_("DSP-01 applies"), boolean=True)
    def dsp01(self, obj: Dispute) -> bool:
        return obj.dsp01

    @admin.display(description=_("stage"))
    def stage(self, obj: Dispute) -> str:
        return obj.get_stage_display()


@admin.register(Forbearance)
class ForbearanceAdmin(ReadOnlyAdmin):
    """Recorded from the case page or the API (FB-01 reads them before legal escalation)."""

    list_display = ["case", "kind", "starts_on", "ends_on", "recorded_by", "recorded_at"]
    list_filter = ["kind"]
    search_fields = ["case__loan__external_id", "details"]


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


@admin.register(CallReview)
class CallReviewAdmin(ReadOnlyAdmin):
    """The weekly QA sample and the managers' scores (scored on the managers' page, never here)."""

    list_display = ["week_start", "collector", "team", "score", "reviewed_by", "reviewed_at"]
    list_filter = ["week_start", "team"]
    search_fields = ["collector__username", "case__loan__external_id"]


# The jurisdiction profile's admin lives in the compliance app, which cannot import the sweep (a lower layer): the
# preview is added here, on top of it.
admin.site.unregister(JurisdictionProfile)


@admin.register(JurisdictionProfile)
class JurisdictionProfilePreviewAdmin(PreviewImpactMixin, JurisdictionProfileAdmin):
    pass
