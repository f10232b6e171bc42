"""Collector oversight through the API, read-only, for the lender's systems: collectors' training records (CERT-01)
and the QA reviews of their calls. Admins read everyone's, managers their teams', collectors their own."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import generics, serializers

from collections_app.models import CallReview
from collections_app.selectors.qa import certifications_visible_to, reviews_visible_to
from compliance.models import CollectorCertification
from core.api import HasRole


class CertificationOut(serializers.ModelSerializer):
    collector_username = serializers.CharField(source="collector.username", read_only=True)
    in_force = serializers.SerializerMethodField(help_text="Not withdrawn, passed and not expired today.")

    class Meta:
        model = CollectorCertification
        fields = ["id", "collector", "collector_username", "course", "passed_on", "expires_on", "evidence_reference",
                  "recorded_by", "recorded_at", "revoked_at", "in_force"]  # fmt: skip

    def get_in_force(self, record: CollectorCertification) -> bool:
        today = self.context["today"]
        return record.revoked_at is None and record.passed_on <= today <= record.expires_on


class CertificationFilter(django_filters.FilterSet):
    class Meta:
        model = CollectorCertification
        fields = ["collector"]


class Certifications(generics.ListAPIView):
    """GET: collectors' training records (``?collector=``), newest first."""

    permission_classes = [HasRole]
    serializer_class = CertificationOut
    filterset_class = CertificationFilter

    def get_queryset(self) -> QuerySet[CollectorCertification]:
        return certifications_visible_to(self.request.user).select_related("collector").order_by("-passed_on", "-id")

    def get_serializer_context(self) -> dict[str, object]:
        return {**super().get_serializer_context(), "today": timezone.localdate()}


class CallReviewOut(serializers.ModelSerializer):
    collector_username = serializers.CharField(source="collector.username", read_only=True)
    call_made_at = serializers.DateTimeField(source="disposition.created_at", read_only=True)
    results = serializers.DictField(child=serializers.BooleanField(), help_text="Checklist item → passed.")

    class Meta:
        model = CallReview
        fields = ["id", "collector", "collector_username", "team", "case", "disposition", "call_made_at",
                  "week_start", "checklist", "results", "score", "notes", "reviewed_by", "reviewed_at",
                  "sampled_at"]  # fmt: skip


class CallReviewFilter(django_filters.FilterSet):
    reviewed = django_filters.BooleanFilter(field_name="reviewed_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = CallReview
        fields = ["collector", "week_start", "reviewed"]


class CallReviews(generics.ListAPIView):
    """GET: the calls drawn into the weekly QA samples and their scores (``?collector=``, ``?week_start=``,
    ``?reviewed=true``), latest week first."""

    permission_classes = [HasRole]
    serializer_class = CallReviewOut
    filterset_class = CallReviewFilter

    def get_queryset(self) -> QuerySet[CallReview]:
        return (
            reviews_visible_to(self.request.user)
            .select_related("collector", "disposition")
            .order_by("-week_start", "collector_id", "id")
        )
