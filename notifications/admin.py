from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django_stubs_ext import StrOrPromise

from loans.admin import ReadOnlyAdmin
from notifications.models import (
    CallRecording,
    CollectorCall,
    Document,
    InboundMessage,
    MessageTemplate,
    OutboundMessage,
    PortalEvent,
    PortalLink,
    ProviderPause,
)
from notifications.services import (
    message_review_resolve,
    portal_link_revoke,
    provider_resume,
    recording_legal_hold_set,
)
from notifications.templating import (
    SAMPLE,
    TemplateError,
    opt_out_text_required,
    render,
    sms_segments,
    template_check,
)


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["purpose", "channel", "language", "subject", "body", "attachment", "is_active"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if {"purpose", "channel", "language", "body"} <= set(data):
            try:
                template_check(
                    purpose=data["purpose"],
                    channel=data["channel"],
                    language=data["language"],
                    body=data["body"],
                    opt_out_required=opt_out_text_required(),
                    subject=data.get("subject", ""),
                    attachment=data.get("attachment", ""),
                )
            except TemplateError as exc:
                for field, problems in exc.problems.items():
                    for problem in problems:
                        self.add_error(field, problem)
        return data


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ["purpose", "channel", "language", "is_active", "updated_at"]
    list_filter = ["purpose", "channel", "language", "is_active"]
    search_fields = ["body"]
    readonly_fields = ["preview", "updated_at", "updated_by"]
    fields = ["purpose", "channel", "language", "subject", "body", "attachment", "preview", "is_active", "updated_at",
              "updated_by"]  # fmt: skip

    class Media:
        css = {"all": ["css/admin.css"]}  # the preview's layout: no inline style under the Content-Security-Policy

    @admin.display(description=_("preview (sample borrower)"))
    def preview(self, obj: MessageTemplate) -> StrOrPromise:
        if not obj.pk:
            return _("Save to see a preview.")
        text = render(obj.body, SAMPLE.get(obj.language, SAMPLE["en"]))
        segments = ""
        if obj.channel == "sms":
            s = sms_segments(text)
            segments = f"{s.encoding}, {s.characters} characters, {s.segments} SMS part(s)"
        return format_html('<div class="message-preview">{}</div><small>{}</small>', text, segments)

    def save_model(self, request: HttpRequest, obj: MessageTemplate, form: forms.ModelForm, change: bool) -> None:
        obj.updated_by = cast("User", request.user)  # the admin site serves only signed-in staff
        super().save_model(request, obj, form, change)


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["idempotency_key", "channel", "purpose", "status", "planned_for", "provider_status", "updated_at"]
    list_filter = ["status", "channel", "purpose", "provider"]
    search_fields = ["idempotency_key", "loan__external_id", "provider_id"]
    date_hierarchy = "planned_for"
    actions = ["review_was_sent", "review_was_not_sent"]

    def _settle(self, request: HttpRequest, queryset: QuerySet, was_sent: bool) -> None:
        settled = 0
        for message in queryset.filter(status="review"):
            message_review_resolve(message_id=message.pk, was_sent=was_sent, actor=request.user)
            settled += 1
        self.message_user(request, _("%(n)d message(s) settled; others were not in review.") % {"n": settled})

    @admin.action(description=_("Review: the provider confirms it was sent"))
    def review_was_sent(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._settle(request, queryset, True)

    @admin.action(description=_("Review: it was not sent — plan it again"))
    def review_was_not_sent(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._settle(request, queryset, False)


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "action", "borrower", "body"]
    list_filter = ["action"]


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    """Documents are made by the service and never changed: the admin only lists them."""

    list_display = ["created_at", "kind", "language", "case", "borrower", "pages", "sha256"]
    list_filter = ["kind", "language"]
    raw_id_fields = ["case", "borrower", "loan", "message"]


@admin.register(ProviderPause)
class ProviderPauseAdmin(ReadOnlyAdmin):
    list_display = ["provider", "since", "until", "reason"]
    actions = ["resume"]

    @admin.action(description=_("Resume sending now (the provider answers again)"))
    def resume(self, request: HttpRequest, queryset: QuerySet) -> None:
        for pause in queryset:
            provider_resume(provider=pause.provider)
        self.message_user(request, _("Sending resumed."))


@admin.register(CollectorCall)
class CollectorCallAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "case", "collector", "status", "outcome", "duration_seconds", "record", "disclosure"]
    list_filter = ["status", "outcome", "record", "disclosure"]
    search_fields = ["provider_id", "case__loan__external_id"]
    date_hierarchy = "created_at"


@admin.register(CallRecording)
class CallRecordingAdmin(admin.ModelAdmin):
    """Recordings are written by the provider's callbacks; the one thing a person changes is the legal hold (REC-01:
    kept past its retention while held), and only with the permission ``set_legal_hold``. The audio itself is
    played on the case page, through the app's own permission checks."""

    list_display = ["provider_id", "call", "recorded_at", "retain_until", "legal_hold", "deleted_at"]
    list_filter = ["legal_hold", "provider"]
    search_fields = ["provider_id"]
    readonly_fields = ["call", "provider", "provider_id", "duration_seconds", "recorded_at", "retain_until",
                       "legal_hold_by", "legal_hold_at", "deleted_at"]  # fmt: skip
    fields = [*readonly_fields[:6], "legal_hold", *readonly_fields[6:]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: CallRecording | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CallRecording | None = None) -> bool:
        return request.user.has_perm("notifications.set_legal_hold") and (obj is None or obj.deleted_at is None)

    def save_model(self, request: HttpRequest, obj: CallRecording, form: forms.ModelForm, change: bool) -> None:
        recording_legal_hold_set(recording_id=obj.pk, hold=obj.legal_hold, actor=request.user)


@admin.register(PortalLink)
class PortalLinkAdmin(ReadOnlyAdmin):
    """Links to borrowers' pages: issued with messages, never edited; revoked here (e.g. a text to a wrong number)."""

    list_display = ["public_id", "borrower", "issued_at", "expires_at", "revoked_at", "locked_until"]
    list_filter = ["revoked_at"]
    search_fields = ["public_id", "borrower__external_id"]
    date_hierarchy = "issued_at"
    actions = ["revoke"]

    @admin.action(description=_("Revoke: the link stops opening the borrower's page"))
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = sum(portal_link_revoke(link_id=link.pk) for link in queryset)
        self.message_user(request, _("%(n)d link(s) revoked.") % {"n": revoked})


@admin.register(PortalEvent)
class PortalEventAdmin(ReadOnlyAdmin):
    """What borrowers did on their pages (the audit), by link and address."""

    list_display = ["at", "kind", "borrower", "link", "ip"]
    list_filter = ["kind"]
    search_fields = ["borrower__external_id", "link__public_id"]
    date_hierarchy = "at"
