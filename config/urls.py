"""URL configuration."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from collections_app import api, views
from compliance import api as compliance_api
from loans import api as loans_api
from notifications import webhooks

router = api.ApiRouter()
router.register("cases", api.CaseViewSet, basename="api-case")
router.register("messages", api.MessageViewSet, basename="api-message")
router.register("sweeps", api.SweepViewSet, basename="api-sweep")
router.register("borrowers", loans_api.BorrowerViewSet, basename="api-borrower")
router.register("loans", loans_api.LoanViewSet, basename="api-loan")

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("cases/", views.case_queue, name="case-queue"),
    path("cases/<int:case_id>/", views.case_detail, name="case-detail"),
    path("cases/<int:case_id>/actions/<slug:action>/", views.case_action, name="case-action"),
    path("cases/<int:case_id>/sms-preview/", views.sms_preview, name="sms-preview"),
    path("messages/", views.messages_overview, name="messages-overview"),
    path("escalations/", views.escalations, name="escalations"),
    path("performance/", views.performance_view, name="performance"),
    path("escalations/decide/", views.escalations_decide, name="escalations-decide"),
    path("plans/<int:plan_id>/decide/", views.plan_decision, name="plan-decide"),
    path("cases/reassign/", views.cases_reassign_view, name="cases-reassign"),
    # The API authenticates itself (session or token, DRF); the login-redirect middleware must not intercept it.
    path(
        "api/v1/compliance/check/", login_not_required(api.ComplianceCheckView.as_view()), name="api-compliance-check"
    ),
    path(
        "api/v1/borrowers/<int:borrower_id>/restrictions/",
        login_not_required(compliance_api.BorrowerRestrictions.as_view()),
        name="api-borrower-restrictions",
    ),
    path(
        "api/v1/borrowers/<int:borrower_id>/restrictions/<int:restriction_id>/lift/",
        login_not_required(compliance_api.RestrictionLift.as_view()),
        name="api-restriction-lift",
    ),
    path("api/v1/payments/", login_not_required(loans_api.Payments.as_view()), name="api-payments"),
    path("api/v1/payments/bulk/", login_not_required(loans_api.PaymentsBulk.as_view()), name="api-payments-bulk"),
    path("api/v1/loans/bulk/", login_not_required(loans_api.LoansBulk.as_view()), name="api-loans-bulk"),
    path("api/v1/contacts/", login_not_required(compliance_api.Contacts.as_view()), name="api-contacts"),
    path("webhooks/twilio/message-status/", webhooks.message_status, name="twilio-message-status"),
    path("webhooks/twilio/call-status/", webhooks.call_status, name="twilio-call-status"),
    path("webhooks/twilio/inbound-sms/", webhooks.inbound_sms, name="twilio-inbound-sms"),
    path("api/v1/", include(router.urls)),
    # The description answers a token too (DRF; 401 without credentials, SERVE_PERMISSIONS). Swagger UI is a page:
    # to the login page without a session (DRF views are exempt from the login middleware); its script is served by
    # the same view as a file (?script), not inline, for the CSP.
    path("api/schema/", login_not_required(SpectacularAPIView.as_view()), name="api-schema"),
    path("api/docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
    path("admin/", admin.site.urls),
]
