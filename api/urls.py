"""Every route of the API, in one place. The API authenticates each request itself (token or session, DRF), so all
of its routes are exempt from the login-redirect middleware that guards the pages — here, once."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from api import cases, complaints, compliance, loans, messages, oversight, sweeps, vulnerability
from core.web import public

router = DefaultRouter()
router.register("cases", cases.CaseViewSet, basename="api-case")
router.register("messages", messages.MessageViewSet, basename="api-message")
router.register("sweeps", sweeps.SweepViewSet, basename="api-sweep")
router.register("borrowers", loans.BorrowerViewSet, basename="api-borrower")
router.register("loans", loans.LoanViewSet, basename="api-loan")
router.register("complaints", complaints.ComplaintViewSet, basename="api-complaint")

v1: list[URLPattern | URLResolver] = [
    path("compliance/check/", compliance.ComplianceCheckView.as_view(), name="api-compliance-check"),
    path("borrowers/<int:borrower_id>/restrictions/", compliance.BorrowerRestrictions.as_view(),
         name="api-borrower-restrictions"),
    path("borrowers/<int:borrower_id>/consents/", compliance.BorrowerConsents.as_view(), name="api-borrower-consents"),
    path("borrowers/<int:borrower_id>/restrictions/<int:restriction_id>/lift/", compliance.RestrictionLift.as_view(),
         name="api-restriction-lift"),
    path("borrowers/<int:borrower_id>/vulnerability/", vulnerability.BorrowerVulnerability.as_view(),
         name="api-borrower-vulnerability"),
    path("borrowers/<int:borrower_id>/vulnerability/end/", vulnerability.VulnerabilityEnd.as_view(),
         name="api-vulnerability-end"),
    path("contacts/", compliance.Contacts.as_view(), name="api-contacts"),
    path("oversight/certifications/", oversight.Certifications.as_view(), name="api-certifications"),
    path("oversight/call-reviews/", oversight.CallReviews.as_view(), name="api-call-reviews"),
    path("payments/", loans.Payments.as_view(), name="api-payments"),
    path("payments/bulk/", loans.PaymentsBulk.as_view(), name="api-payments-bulk"),
    path("loans/bulk/", loans.LoansBulk.as_view(), name="api-loans-bulk"),
    path("", include(router.urls)),
]  # fmt: skip


def _exempt(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    """Mark every view under these patterns as not needing the page login (DRF checks the credentials)."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _exempt(pattern.url_patterns)
        else:
            pattern.callback = public(pattern.callback)
    return patterns


urlpatterns = _exempt(
    [
        path("v1/", include(v1)),
        # The description answers a token too (DRF; 401 without credentials, SERVE_PERMISSIONS).
        path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    ]
)
