"""REST API v1 (Django REST framework). Thin views: parse → access helper → service → serialize."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import django_filters
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.shortcuts import get_object_or_404
from django.utils.translation import get_language
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ParseError, PermissionDenied
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from collections_app.models import (
    CaseNote,
    CaseState,
    CollectionCase,
    FieldVisit,
    Frequency,
    PaymentPlan,
    PromiseToPay,
    SweepRun,
    VisitStatus,
)
from collections_app.parsers import json_decode
from collections_app.selectors import borrower_get_for_user, cases_visible_to
from collections_app.services import (
    USER_TRANSITIONS,
    CaseError,
    InvalidRequest,
    NotPermitted,
    TransitionConflict,
    available_transitions,
    case_transition,
    grace_extend,
    note_add,
    plan_propose,
    promise_record,
    visit_record,
    visit_schedule,
)
from collections_app.tasks import sweep_launch
from compliance.services import ComplianceError, LiftRefused, contact_check
from core.roles import ADMIN, user_role
from loans.serializers import AwareDateTimeField, BoundedDateField
from notifications.models import Channel, MessageStatus, OutboundMessage


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than the limit of {limit:,} bytes ({limit / 2**20:.1f} MiB).")
        self.limit = limit


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Domain refusals as JSON: a transition that cannot proceed now is 409 with the reason, a role that may not is
    403, a wrong value 400 with the field, a body over the upload limit 413 with the limit (DESIGN.md §8: one
    handler for the API)."""
    if isinstance(exc, RequestDataTooBig):  # Django's own check (DATA_UPLOAD_MAX_MEMORY_SIZE), raised reading it
        exc = PayloadTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, PayloadTooLarge):
        return Response({"detail": str(exc.detail), "limit_bytes": exc.limit}, status=exc.status_code)
    if isinstance(exc, TransitionConflict):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, NotPermitted | LiftRefused):
        return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, InvalidRequest):
        field = getattr(exc, "field", "") or "non_field_errors"
        return Response({field: [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, CaseError | ComplianceError):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


class LargeJSONParser(BaseParser):
    """JSON bodies up to the view's ``max_body_bytes`` instead of DATA_UPLOAD_MAX_MEMORY_SIZE (the bulk intake
    endpoints). DRF's JSONParser is handed ``request.body``, which Django refuses past its global limit; this one reads
    the stream itself, and never more than the limit."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        context = parser_context or {}
        limit = context["view"].max_body_bytes()
        request = context["request"]
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > limit:  # refused before reading a byte of it
            raise PayloadTooLarge(limit)
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge(limit)
        try:
            text = body.decode(context.get("encoding") or "utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        return json_decode(text)  # the same decoding as every other body: strict, nesting bounded


class HasRole(permissions.BasePermission):
    """Signed in (session or token) and holding one of the roles."""

    message = "Your account has no role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and user_role(request.user))


class StrictInput(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        unknown = set(data) - set(self.fields) if hasattr(data, "keys") else set()
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
        return super().to_internal_value(data)


class ComplianceCheckInput(StrictInput):
    borrower = serializers.IntegerField(min_value=1)
    loan = serializers.IntegerField(min_value=1, required=False)
    channel = serializers.ChoiceField(choices=["call", "sms", "email", "letter", "visit"])
    to = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    at = AwareDateTimeField(required=False)
    automated = serializers.BooleanField(required=False, default=False)


class ComplianceCheckOutput(serializers.Serializer):
    allowed = serializers.BooleanField()
    outcome = serializers.ChoiceField(choices=["allow", "warn", "defer", "review", "deny"])
    reasons = inline_serializer(
        "CheckReason", {"rule": serializers.CharField(), "message": serializers.CharField()}, many=True
    )
    next_allowed_at = serializers.DateTimeField(allow_null=True)
    decision_id = serializers.IntegerField()
    to = serializers.CharField(
        help_text="The number or address evaluated: the one given, or without ``to`` the one the system would use "
        "(empty when the borrower has none eligible, and the answer is a denial)."
    )


@extend_schema(request=ComplianceCheckInput, responses=ComplianceCheckOutput)
class ComplianceCheckView(APIView):
    """POST /api/v1/compliance/check/ — may this contact happen (now, or at ``at``)? A dry run: nothing is
    reserved, but the decision is stored and its id returned."""

    permission_classes = [HasRole]

    def post(self, request: Request) -> Response:
        data = ComplianceCheckInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        loan_id = values.get("loan")
        borrower = borrower_get_for_user(user=request.user, borrower_id=values["borrower"], loan_id=loan_id)
        if loan_id is not None and not borrower.owns_loan:
            raise serializers.ValidationError({"loan": ["This loan is not the borrower's."]})
        try:
            decision, result = contact_check(
                borrower_id=borrower.pk,
                loan_id=loan_id,
                channel=values["channel"],
                to=values["to"],
                at=values.get("at"),
                automated=values["automated"],
                actor=request.user,
                dry_run=True,
            )
        except ComplianceError as exc:
            raise serializers.ValidationError({"non_field_errors": [str(exc)]}) from exc
        chinese = (get_language() or "").startswith("zh")
        return Response(
            {
                "allowed": result.allowed,
                "outcome": result.outcome,
                "reasons": [
                    {"rule": r.rule, "message": r.message_zh if chinese else r.message} for r in result.reasons
                ],
                "next_allowed_at": result.next_allowed_at.isoformat() if result.next_allowed_at else None,
                "decision_id": decision.pk,
                "to": decision.to,
            }
        )


# ---------------------------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------------------------
class CaseOut(serializers.ModelSerializer):
    assigned_to = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    available_transitions = serializers.SerializerMethodField()

    class Meta:
        model = CollectionCase
        fields = ["id", "loan", "borrower", "state", "days_past_due", "amount_overdue", "assigned_to", "priority",
                  "opened_at", "opened_on", "stage_entered_on", "last_contact_at", "callback_at",
                  "available_transitions"]  # fmt: skip

    def get_available_transitions(self, case: CollectionCase) -> list[str]:
        return available_transitions(case, self.context["request"].user)


class CaseFilter(django_filters.FilterSet):
    # distinct=False: no join can repeat a row here, and DISTINCT over every column would cost a sort per page.
    state = django_filters.MultipleChoiceFilter(choices=CaseState.choices, distinct=False)
    min_dpd = django_filters.NumberFilter(field_name="days_past_due", lookup_expr="gte")
    max_dpd = django_filters.NumberFilter(field_name="days_past_due", lookup_expr="lte")
    assigned_to = django_filters.CharFilter(field_name="assigned_to__username")

    class Meta:
        model = CollectionCase
        fields = ["state", "borrower", "loan", "assigned_to"]


class VisitOut(serializers.ModelSerializer):
    collectors = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)

    class Meta:
        model = FieldVisit
        fields = ["id", "address", "collectors", "window_start", "window_end", "status", "outcome", "visited_at",
                  "decision"]  # fmt: skip


CONFLICT = inline_serializer("Conflict", {"detail": serializers.CharField()})


class GraceIn(StrictInput):
    days = serializers.IntegerField(min_value=1, max_value=365)
    reason = serializers.CharField(max_length=2000)


class VisitRecordIn(StrictInput):
    status = serializers.ChoiceField(choices=[s for s in VisitStatus.values if s != VisitStatus.SCHEDULED])
    outcome = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    visited_at = AwareDateTimeField(required=False, allow_null=True, default=None)


class TransitionIn(StrictInput):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    close_reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=20)


class CaseViewSet(viewsets.ReadOnlyModelViewSet):
    """Collection cases the caller may see; ``available_transitions`` are those the caller may run now."""

    permission_classes = [HasRole]
    serializer_class = CaseOut
    filterset_class = CaseFilter
    ordering_fields = ["priority", "days_past_due", "amount_overdue", "opened_on", "id"]
    ordering = ["-priority", "-days_past_due", "id"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return cases_visible_to(self.request.user).select_related("assigned_to")

    @extend_schema(
        request=TransitionIn,
        responses={200: CaseOut, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"], url_path=r"transitions/(?P<name>[a-z_]+)")
    def transition(self, request: Request, pk: str | None = None, name: str = "") -> Response:
        case = self.get_object()
        if name not in USER_TRANSITIONS:
            raise InvalidRequest(f"unknown transition {name!r}", field="name")
        data = TransitionIn(data=request.data)
        data.is_valid(raise_exception=True)
        case = case_transition(case_id=case.pk, name=name, actor=request.user, **data.validated_data)
        return Response(CaseOut(case, context={"request": request}).data)

    @extend_schema(request=GraceIn, responses={200: CaseOut, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def grace(self, request: Request, pk: str | None = None) -> Response:
        """The case's one hardship grace extension: for ``days`` (up to the policy's maximum) no escalation and no
        automated reminders."""
        case = self.get_object()
        data = GraceIn(data=request.data)
        data.is_valid(raise_exception=True)
        case = grace_extend(case_id=case.pk, actor=request.user, **data.validated_data)
        return Response(CaseOut(case, context={"request": request}).data)

    @extend_schema(request=VisitRecordIn, responses={200: VisitOut})
    @action(detail=True, methods=["post"], url_path=r"visits/(?P<visit_id>[0-9]+)/outcome", url_name="visit-outcome")
    def visit_outcome(self, request: Request, pk: str | None = None, visit_id: str = "") -> Response:
        """What happened at a scheduled visit: visited, not at home, or cancelled (a contact in the ledger, an
        exception when outside the window the gate allowed)."""
        case = self.get_object()
        visit = get_object_or_404(FieldVisit, pk=int(visit_id), case=case)
        data = VisitRecordIn(data=request.data)
        data.is_valid(raise_exception=True)
        visit = visit_record(visit_id=visit.pk, actor=request.user, **data.validated_data)
        return Response(VisitOut(visit).data)


# Nested under a case: promises, payment plans, notes, visits (list and create, through the services).
class PromiseOut(serializers.ModelSerializer):
    class Meta:
        model = PromiseToPay
        fields = ["id", "amount", "promised_on", "status", "paid_amount", "note", "created_at"]


class PromiseIn(StrictInput):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    promised_on = BoundedDateField()
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class PlanOut(serializers.ModelSerializer):
    class Meta:
        model = PaymentPlan
        fields = ["id", "status", "total_amount", "down_payment", "waived_amount", "frequency", "starts_on",
                  "paid_amount", "created_at"]  # fmt: skip


class PlanIn(StrictInput):
    down_payment = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"))
    count = serializers.IntegerField(min_value=1, max_value=60)
    frequency = serializers.ChoiceField(choices=Frequency.choices)
    starts_on = BoundedDateField()
    waive = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"), required=False)


class NoteOut(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = CaseNote
        fields = ["id", "text", "author", "created_at"]


class NoteIn(StrictInput):
    text = serializers.CharField(max_length=5000)


class VisitIn(StrictInput):
    address = serializers.CharField(max_length=500)
    collectors = serializers.ListField(child=serializers.CharField(max_length=150), min_length=1, max_length=5)
    window_start = AwareDateTimeField()
    window_end = AwareDateTimeField()


def _nested(name: str, out: type[serializers.Serializer], given: type[serializers.Serializer], write: Any) -> Any:
    """A list-and-create action for records under a case (``cases/{id}/<name>/``)."""

    def handler(self: CaseViewSet, request: Request, pk: str | None = None) -> Response:
        case = self.get_object()
        if request.method == "GET":
            return Response(out(getattr(case, RELATED[name]).order_by("-id"), many=True).data)
        data = given(data=request.data)
        data.is_valid(raise_exception=True)
        record = write(case=case, actor=request.user, **data.validated_data)
        return Response(out(record).data, status=status.HTTP_201_CREATED)

    # The router dispatches by the function's name, so it is set before the decorators read it.
    handler.__name__ = handler.__qualname__ = name.replace("-", "_")
    # The records of one case are few: a plain list, not a page.
    handler = action(detail=True, methods=["get", "post"], url_path=name, url_name=name, pagination_class=None)(handler)
    handler = extend_schema(methods=["POST"], request=given, responses={201: out})(handler)
    return extend_schema(methods=["GET"], responses=out(many=True))(handler)


def _visit(*, case: CollectionCase, actor: Any, collectors: list[str], **fields: Any) -> FieldVisit:
    from django.contrib.auth import get_user_model

    people = list(get_user_model().objects.filter(username__in=collectors, is_active=True))
    if len(people) != len(set(collectors)):
        raise InvalidRequest("unknown or inactive collector", field="collectors")
    return visit_schedule(case_id=case.pk, actor=actor, collectors=people, **fields)


RELATED = {"promises": "promises", "payment-plans": "plans", "notes": "notes", "visits": "visits"}
CaseViewSet.promises = _nested(
    "promises", PromiseOut, PromiseIn, lambda case, actor, **f: promise_record(case_id=case.pk, actor=actor, **f)
)
CaseViewSet.payment_plans = _nested(
    "payment-plans", PlanOut, PlanIn, lambda case, actor, **f: plan_propose(case_id=case.pk, actor=actor, **f)
)
CaseViewSet.notes = _nested(
    "notes", NoteOut, NoteIn, lambda case, actor, **f: note_add(case_id=case.pk, actor=actor, **f)
)
CaseViewSet.visits = _nested("visits", VisitOut, VisitIn, _visit)


# ---------------------------------------------------------------------------------------------------------------
# Messages (the outbox, read-only) and sweeps
# ---------------------------------------------------------------------------------------------------------------
class MessageOut(serializers.ModelSerializer):
    class Meta:
        model = OutboundMessage
        fields = ["id", "case", "borrower", "loan", "channel", "purpose", "to", "planned_for", "status",
                  "status_reason", "decision", "body", "provider", "provider_id", "provider_status", "error_code",
                  "sent_at", "delivered_at", "created_at"]  # fmt: skip


class MessageFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=MessageStatus.choices, distinct=False)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)

    class Meta:
        model = OutboundMessage
        fields = ["case", "status", "channel", "borrower"]


class MessageViewSet(viewsets.ReadOnlyModelViewSet):
    """The outbox for the cases the caller may see."""

    permission_classes = [HasRole]
    serializer_class = MessageOut
    filterset_class = MessageFilter
    ordering_fields = ["planned_for", "id"]
    ordering = ["-planned_for", "-id"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        messages = OutboundMessage.objects.all()
        if user_role(self.request.user) != ADMIN:
            messages = messages.filter(case__in=cases_visible_to(self.request.user))
        return messages


class SweepIn(StrictInput):
    as_of = BoundedDateField()
    chunks = serializers.IntegerField(min_value=1, max_value=64, required=False)


class SweepOut(serializers.ModelSerializer):
    class Meta:
        model = SweepRun
        fields = ["id", "as_of", "chunks", "chunks_done", "counts", "started_at", "finished_at"]


class SweepViewSet(mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Admins: run the daily sweep for a date (202: the workers run it) and follow its runs."""

    permission_classes = [HasRole]
    serializer_class = SweepOut
    queryset = SweepRun.objects.order_by("-id")

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)
        if user_role(request.user) != ADMIN:
            raise PermissionDenied("Only admins run the sweep.")

    @extend_schema(request=SweepIn, responses={202: SweepOut})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = SweepIn(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["as_of"] > dt.date.today() + dt.timedelta(days=1):
            raise InvalidRequest("the sweep cannot run for a date in the future", field="as_of")
        run = sweep_launch(as_of=data.validated_data["as_of"], chunks=data.validated_data.get("chunks"))
        return Response(SweepOut(run).data, status=status.HTTP_202_ACCEPTED)


class ApiRouter(DefaultRouter):
    """The API authenticates itself (token or session, DRF): its routes are exempt from the login-redirect
    middleware that guards the pages."""

    def get_urls(self):  # type: ignore[no-untyped-def]
        urls = super().get_urls()
        for pattern in urls:
            pattern.callback = login_not_required(pattern.callback)
        return urls
