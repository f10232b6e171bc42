"""URL configuration: the pages (collections_app.views), the API (api/urls.py), the borrower's page (portal/urls.py),
Twilio's, Stripe's and the mail provider's webhooks, the admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from collections_app.views import (
    borrower,
    calls,
    case_actions,
    case_page,
    documents,
    escalations,
    evidence,
    home,
    oversight,
    queue,
    reports,
    voice_menu,
)
from loans import webhooks as payment_webhooks
from notifications import mail_webhooks, webhooks

urlpatterns = [
    path("", home.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/setlang/", home.language_set, name="set_language"),
    path("healthz", home.healthz, name="healthz"),
    path("favicon.ico", home.favicon, name="favicon"),
    path("cases/", queue.case_queue, name="case-queue"),
    path("cases/next/", queue.case_next, name="case-next"),
    path("cases/<int:case_id>/", case_page.case_detail, name="case-detail"),
    path("cases/<int:case_id>/actions/<slug:action>/", case_actions.case_action, name="case-action"),
    path("cases/<int:case_id>/sms-preview/", case_page.sms_preview, name="sms-preview"),
    path("cases/<int:case_id>/call-card/", calls.case_call_card, name="case-call-card"),
    path(
        "cases/<int:case_id>/recordings/<int:recording_id>/",
        calls.recording_stream,
        name="case-recording",
    ),
    path("cases/<int:case_id>/documents/<int:document_id>/", documents.case_document, name="case-document"),
    path("cases/<int:case_id>/evidence-pack/", evidence.case_evidence_pack, name="case-evidence-pack"),
    path(
        "cases/<int:case_id>/evidence-pack/build/",
        evidence.case_evidence_pack_build,
        name="case-evidence-pack-build",
    ),
    path("borrowers/<int:borrower_id>/", borrower.borrower_detail, name="borrower-detail"),
    path("borrowers/<int:borrower_id>/promise/", borrower.borrower_promise, name="borrower-promise"),
    path("messages/", reports.messages_overview, name="messages-overview"),
    path("escalations/", escalations.legal_review, name="escalations"),
    path("escalations/legal/", escalations.in_legal, name="escalations-legal"),
    path("escalations/plans/", escalations.plans_waiting, name="escalations-plans"),
    path("escalations/disputes/", escalations.disputes, name="escalations-disputes"),
    path("escalations/disputes/<int:hold_id>/document", escalations.dispute_document, name="dispute-document"),
    path("escalations/exceptions/", escalations.compliance_exceptions, name="escalations-exceptions"),
    path("escalations/denials/", escalations.recent_denials, name="escalations-denials"),
    path("escalations/complaints/", escalations.complaints, name="escalations-complaints"),
    path(
        "complaints/<int:complaint_id>/acknowledge/", escalations.complaint_acknowledged, name="complaint-acknowledge"
    ),
    path("complaints/<int:complaint_id>/resolve/", escalations.complaint_resolved, name="complaint-resolve"),
    path("complaints/<int:complaint_id>/document", escalations.complaint_document, name="complaint-document"),
    path("complaints/possible/<int:message_id>/", escalations.possible_complaint_decided, name="possible-complaint"),
    path("performance/", reports.performance_view, name="performance"),
    # Collector oversight: the QA of calls and the training records (CERT-01).
    path("oversight/qa/", oversight.qa_results_view, name="qa-results"),
    path("oversight/qa/reviews/", oversight.qa_reviews_view, name="qa-reviews"),
    path("oversight/qa/reviews/<int:review_id>/", oversight.qa_review_view, name="qa-review"),
    path("oversight/training/", oversight.certifications_view, name="certifications"),
    path(
        "oversight/training/<int:certification_id>/withdraw/",
        oversight.certification_withdraw_view,
        name="certification-withdraw",
    ),
    path("escalations/decide/", escalations.escalations_decide, name="escalations-decide"),
    path("plans/<int:plan_id>/decide/", escalations.plan_decision, name="plan-decide"),
    path("cases/reassign/", queue.cases_reassign_view, name="cases-reassign"),
    path("webhooks/twilio/message-status/", webhooks.message_status, name="twilio-message-status"),
    path("webhooks/twilio/call-status/", webhooks.call_status, name="twilio-call-status"),
    path("webhooks/twilio/inbound-sms/", webhooks.inbound_sms, name="twilio-inbound-sms"),
    path(
        "webhooks/twilio/collector-call/status/",
        webhooks.collector_call_status,
        name="twilio-collector-call-status",
    ),
    path(
        "webhooks/twilio/collector-call/recording/",
        webhooks.collector_call_recording,
        name="twilio-collector-call-recording",
    ),
    path(
        "webhooks/twilio/collector-call/disclosure/",
        webhooks.collector_call_disclosure,
        name="twilio-collector-call-disclosure",
    ),
    path("webhooks/stripe/", payment_webhooks.stripe_webhook, name="stripe-webhook"),
    # The mail provider's bounces, complaints and deliveries, signed with EMAIL_WEBHOOK_SECRET.
    path("webhooks/email/events/", mail_webhooks.email_events, name="email-events"),
    path("webhooks/twilio/voice-menu/", voice_menu.voice_menu, name="twilio-voice-menu"),
    path("api/", include("api.urls")),
    # The borrower's page: short, because its links travel in text messages.
    path("p/", include("portal.urls")),
    # Swagger UI is a page: to the login page without a session (DRF views are exempt from the login middleware);
    # its script is served by the same view as a file (?script), not inline, for the CSP.
    path("api/docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
    path("admin/", admin.site.urls),
]
