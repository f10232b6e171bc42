"""URL configuration: the pages (collections_app.views), the API (api/urls.py), Twilio's webhooks, the admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from collections_app import views
from notifications import webhooks

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
    path("webhooks/twilio/message-status/", webhooks.message_status, name="twilio-message-status"),
    path("webhooks/twilio/call-status/", webhooks.call_status, name="twilio-call-status"),
    path("webhooks/twilio/inbound-sms/", webhooks.inbound_sms, name="twilio-inbound-sms"),
    path("api/", include("api.urls")),
    # Swagger UI is a page: to the login page without a session (DRF views are exempt from the login middleware);
    # its script is served by the same view as a file (?script), not inline, for the CSP.
    path("api/docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
    path("admin/", admin.site.urls),
]
