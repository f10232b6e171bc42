"""Complaints through the API (CMP-01), for the lender's systems: list the complaints of the cases the caller may see
(by status, overdue), record one, and — managers and admins, as on the complaints queue — acknowledge and resolve.
Each write goes through the complaints service (its clocks, the conduct review restriction)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Case, DateField, F, Q, QuerySet, When
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from api.base import CONFLICT
from collections_app.models import (
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintOutcome,
    ComplaintStatus,
)
from collections_app.selectors import cases_visible_to
from collections_app.services.complaints import complaint_acknowledge, complaint_record, complaint_resolve
from core.api import HasRole, SignedInRequest, StrictInput
from core.roles import ADMIN, MANAGER, user_role
from loans.serializers import AwareDateTimeField

PENDING = [ComplaintStatus.POSSIBLE, ComplaintStatus.OPEN, ComplaintStatus.ACKNOWLEDGED]
# What the lender's systems record: a complaint they received themselves (``api``) or by one of these channels.
API_CHANNELS = [c for c in ComplaintChannel if c != ComplaintChannel.PORTAL]


def _due() -> Case:
    """The date the complaint is owed its next answer: the acknowledgement until acknowledged, then the final one."""
    return Case(
        When(status=ComplaintStatus.ACKNOWLEDGED, then=F("final_by")),
        default=F("acknowledge_by"),
        output_field=DateField(),
    )


class ComplaintOut(serializers.ModelSerializer):
    collector: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    due = serializers.DateField(read_only=True, allow_null=True, help_text="The next answer's date while pending.")
    overdue = serializers.SerializerMethodField(help_text="Pending and its next answer's date has passed.")

    class Meta:
        model = Complaint
        fields = ["id", "case", "collector", "channel", "category", "status", "summary", "received_at",
                  "received_on", "acknowledge_by", "final_by", "regimes", "due", "overdue", "acknowledged_at",
                  "resolved_at", "outcome", "response_text"]  # fmt: skip

    def get_overdue(self, obj: Complaint) -> bool:
        due = getattr(obj, "due", None)
        return obj.status in PENDING and due is not None and due < timezone.localdate()


class ComplaintFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ComplaintStatus.choices, distinct=False)
    overdue = django_filters.BooleanFilter(
        method="filter_overdue", label="Pending with its next answer's date passed (true), or not (false)."
    )
    case = django_filters.NumberFilter(field_name="case_id")

    class Meta:
        model = Complaint
        fields = ["status", "overdue", "case"]

    def filter_overdue(self, rows: QuerySet[Complaint], name: str, value: bool) -> QuerySet[Complaint]:
        late = Q(status__in=PENDING, due__lt=timezone.localdate())
        return rows.filter(late) if value else rows.exclude(late)


class ComplaintIn(StrictInput):
    case = serializers.IntegerField(min_value=1, help_text="A case the caller may see.")
    category = serializers.ChoiceField(choices=ComplaintCategory.choices)
    channel = serializers.ChoiceField(
        choices=[(c.value, c.label) for c in API_CHANNELS], default=ComplaintChannel.API, required=False
    )
    summary = serializers.CharField(max_length=4000)
    received_at = AwareDateTimeField(required=False, help_text="When it was received (default now).")


class ResolveIn(StrictInput):
    outcome = serializers.ChoiceField(choices=ComplaintOutcome.choices)
    response_text = serializers.CharField(max_length=20000, help_text="The final response sent to the borrower.")


class ComplaintViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Complaints on the cases the caller may see, the soonest due first. POST records one (any role that may see
    the case); acknowledging and resolving are for managers and admins."""

    permission_classes = [HasRole]
    serializer_class = ComplaintOut
    filterset_class = ComplaintFilter
    ordering_fields = ["due", "received_at", "id"]
    ordering = ["due", "id"]

    def get_queryset(self) -> QuerySet[Complaint]:
        return (
            Complaint.objects.filter(case__in=cases_visible_to(self.request.user))
            .annotate(due=Case(When(status__in=PENDING, then=_due()), default=None, output_field=DateField()))
            .select_related("collector")
        )

    @extend_schema(request=ComplaintIn, responses={201: ComplaintOut})
    def create(self, request: SignedInRequest) -> Response:
        data = ComplaintIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if not cases_visible_to(request.user).filter(pk=values["case"]).exists():
            raise serializers.ValidationError({"case": ["No such case."]})
        complaint = complaint_record(
            case_id=values["case"],
            actor=request.user,
            channel=values["channel"],
            category=values["category"],
            summary=values["summary"],
            received_at=values.get("received_at"),
        )
        return Response(ComplaintOut(self.get_queryset().get(pk=complaint.pk)).data, status=status.HTTP_201_CREATED)

    def _managed(self, request: SignedInRequest) -> Complaint:
        complaint = self.get_object()  # 404 outside the caller's cases
        if user_role(request.user) not in (MANAGER, ADMIN):
            raise PermissionDenied("Managers and admins answer complaints.")
        return complaint

    @extend_schema(request=None, responses={200: ComplaintOut, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: SignedInRequest, pk: str | None = None) -> Response:
        """Acknowledge the complaint: automated contact about a conduct complaint's debt resumes (409 when it is not
        waiting for acknowledgement)."""
        complaint = complaint_acknowledge(complaint_id=self._managed(request).pk, actor=request.user)
        return Response(ComplaintOut(self.get_queryset().get(pk=complaint.pk)).data)

    @extend_schema(request=ResolveIn, responses={200: ComplaintOut, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def resolve(self, request: SignedInRequest, pk: str | None = None) -> Response:
        """Close the complaint with its outcome and the final response sent (acknowledged on the way if nobody had;
        409 when it is closed already)."""
        complaint = self._managed(request)
        data = ResolveIn(data=request.data)
        data.is_valid(raise_exception=True)
        complaint = complaint_resolve(complaint_id=complaint.pk, actor=request.user, **data.validated_data)
        return Response(ComplaintOut(self.get_queryset().get(pk=complaint.pk)).data)
