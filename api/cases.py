"""Cases through the API: list and read the cases the caller may see, run transitions, the hardship grace, and
what happens under a case — promises, payment plans, notes, field visits and their outcomes — each through its
service."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import django_filters
from django.contrib.auth import get_user_model
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import CONFLICT
from collections_app.models import (
    CaseNote,
    CaseState,
    CollectionCase,
    CollectionCaseQuerySet,
    Dispute,
    DisputeChannel,
    EvidencePack,
    EvidencePackIntegrityError,
    FieldVisit,
    Forbearance,
    ForbearanceKind,
    Frequency,
    PaymentPlan,
    PromiseToPay,
    VisitStatus,
)
from collections_app.selectors import cases_visible_to, evidence_pack_of_case
from collections_app.services import (
    USER_TRANSITIONS,
    DisputeTerms,
    InvalidRequest,
    available_transitions,
    case_transition,
    dispute_record,
    dispute_verification_prepare,
    forbearance_record,
    grace_extend,
    note_add,
    plan_propose,
    plan_propose_several,
    promise_record,
    promise_record_several,
    visit_record,
    visit_schedule,
)
from collections_app.services.cases import NotPermitted
from collections_app.services.evidence import evidence_pack_build
from core.api import HasRole, SignedInRequest, StrictInput
from core.roles import ADMIN, MANAGER, user_role
from loans.serializers import AwareDateTimeField, BoundedDateField

if TYPE_CHECKING:
    from django.contrib.auth.models import User


# ---------------------------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------------------------
class CaseOut(serializers.ModelSerializer):
    assigned_to: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
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
    collectors: serializers.ManyRelatedField | serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", many=True, read_only=True
    )

    class Meta:
        model = FieldVisit
        fields = ["id", "address", "collectors", "window_start", "window_end", "status", "outcome", "visited_at",
                  "decision"]  # fmt: skip


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


# What happens under a case: promises, payment plans, notes, visits (list and create, through the services).
class PromiseOut(serializers.ModelSerializer):
    class Meta:
        model = PromiseToPay
        fields = ["id", "amount", "promised_on", "status", "paid_amount", "note", "created_at"]


class CoveredLoanIn(StrictInput):
    case = serializers.IntegerField(min_value=1, help_text="Another open case of the same borrower.")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))


class PromiseIn(StrictInput):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    promised_on = BoundedDateField()
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    also_cover = CoveredLoanIn(
        many=True,
        required=False,
        default=list,
        help_text="One promise covering other loans of the same borrower too: each case with the amount promised "
        "on its loan. All are recorded or none (one promise per loan, each judged on its own loan's payments).",
    )


class PlanOut(serializers.ModelSerializer):
    class Meta:
        model = PaymentPlan
        fields = ["id", "status", "total_amount", "down_payment", "waived_amount", "frequency", "starts_on",
                  "paid_amount", "created_at"]  # fmt: skip


class CoveredPlanLoanIn(StrictInput):
    case = serializers.IntegerField(min_value=1, help_text="Another open case of the same borrower.")
    down_payment = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"))


class PlanIn(StrictInput):
    down_payment = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"))
    count = serializers.IntegerField(min_value=1, max_value=60)
    frequency = serializers.ChoiceField(choices=Frequency.choices)
    starts_on = BoundedDateField()
    waive = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"), required=False)
    also_cover = CoveredPlanLoanIn(
        many=True,
        required=False,
        default=list,
        help_text="One plan covering other loans of the same borrower too (same payments, frequency and start): "
        "each case with the down payment on its loan. One plan per loan, all or none, judged by the policy "
        "together; the answer is this case's plan.",
    )


class NoteOut(serializers.ModelSerializer):
    author: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = CaseNote
        fields = ["id", "text", "author", "created_at"]


class NoteIn(StrictInput):
    text = serializers.CharField(max_length=5000)


class ForbearanceOut(serializers.ModelSerializer):
    recorded_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = Forbearance
        fields = ["id", "kind", "details", "starts_on", "ends_on", "recorded_by", "recorded_at"]


class ForbearanceIn(StrictInput):
    kind = serializers.ChoiceField(choices=ForbearanceKind.choices)
    details = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    starts_on = BoundedDateField(required=False, allow_null=True, default=None)
    ends_on = BoundedDateField(required=False, allow_null=True, default=None)


class DisputeOut(serializers.ModelSerializer):
    """A dispute and where its workflow stands (``stage``: received, prepared, mailed); ``dsp01``: written and within
    the validation period, so every contact about the debt but the verification, and every escalation, is refused
    until the verification is mailed."""

    stage = serializers.CharField(read_only=True)
    dsp01 = serializers.BooleanField(read_only=True)
    # None until the verification is prepared.
    verification_document: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )
    verification_message: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )

    class Meta:
        model = Dispute
        fields = ["id", "hold", "received_at", "channel", "written", "original_creditor", "in_validation_period",
                  "validation_period_ends_on", "dsp01", "stage", "verification_document", "verification_message",
                  "prepared_at", "mailed_at"]  # fmt: skip


class DisputeIn(StrictInput):
    reason = serializers.CharField(max_length=2000)
    # A letter the lender received (staff record it) or the lender's own systems (``api``, written).
    channel = serializers.ChoiceField(
        choices=[(c, label) for c, label in DisputeChannel.choices if c in ("api", "letter", "call", "staff")],
        default="api",
    )
    received_at = AwareDateTimeField(required=False, allow_null=True, default=None)
    written = serializers.BooleanField(default=True)
    original_creditor = serializers.BooleanField(default=False)


class VisitIn(StrictInput):
    address = serializers.CharField(max_length=500)
    collectors = serializers.ListField(child=serializers.CharField(max_length=150), min_length=1, max_length=5)
    window_start = AwareDateTimeField()
    window_end = AwareDateTimeField()


class EvidencePackIn(StrictInput):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


class EvidencePackOut(serializers.ModelSerializer):
    created = serializers.SerializerMethodField(help_text="False: nothing changed, this is the latest pack again.")
    download = serializers.SerializerMethodField()

    class Meta:
        model = EvidencePack
        fields = ["id", "case", "version", "languages", "sha256", "size", "manifest_sha256", "files", "reason",
                  "actor_label", "created_at", "created", "download"]  # fmt: skip

    def get_created(self, pack: EvidencePack) -> bool:
        return bool(self.context.get("created"))

    def get_download(self, pack: EvidencePack) -> str:
        return f"/api/v1/cases/{pack.case_id}/evidence-pack/?version={pack.version}"


class ZipRenderer(renderers.BaseRenderer):
    """Lets a client that asks for ``application/zip`` have the evidence pack (the view answers with the bytes);
    errors still go out as JSON."""

    media_type = "application/zip"
    format = "zip"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if isinstance(data, bytes):
            return data
        response = (renderer_context or {}).get("response")
        if response is not None:  # an error (404, 403, 409): JSON, and said so
            response["Content-Type"] = "application/json"
        return json.dumps(data).encode()


class CaseViewSet(viewsets.ReadOnlyModelViewSet):
    """Collection cases the caller may see; ``available_transitions`` are those the caller may run now."""

    permission_classes = [HasRole]
    serializer_class = CaseOut
    filterset_class = CaseFilter
    ordering_fields = ["priority", "days_past_due", "amount_overdue", "opened_on", "id"]
    ordering = ["-priority", "-days_past_due", "id"]

    def get_queryset(self) -> CollectionCaseQuerySet:
        return cases_visible_to(self.request.user).select_related("assigned_to")

    @extend_schema(
        request=TransitionIn,
        responses={200: CaseOut, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"], url_path=r"transitions/(?P<name>[a-z_]+)")
    def transition(self, request: SignedInRequest, pk: str | None = None, name: str = "") -> Response:
        case = self.get_object()
        if name not in USER_TRANSITIONS:
            raise InvalidRequest(f"unknown transition {name!r}", field="name")
        data = TransitionIn(data=request.data)
        data.is_valid(raise_exception=True)
        case = case_transition(case_id=case.pk, name=name, actor=request.user, **data.validated_data)
        return Response(CaseOut(case, context={"request": request}).data)

    @extend_schema(request=GraceIn, responses={200: CaseOut, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def grace(self, request: SignedInRequest, pk: str | None = None) -> Response:
        """The case's one hardship grace extension: for ``days`` (up to the policy's maximum) no escalation and no
        automated reminders."""
        case = self.get_object()
        data = GraceIn(data=request.data)
        data.is_valid(raise_exception=True)
        case = grace_extend(case_id=case.pk, actor=request.user, **data.validated_data)
        return Response(CaseOut(case, context={"request": request}).data)

    @extend_schema(request=VisitRecordIn, responses={200: VisitOut})
    @action(detail=True, methods=["post"], url_path=r"visits/(?P<visit_id>[0-9]+)/outcome", url_name="visit-outcome")
    def visit_outcome(self, request: SignedInRequest, pk: str | None = None, visit_id: str = "") -> Response:
        """What happened at a scheduled visit: visited, not at home, or cancelled (a contact in the ledger, an
        exception when outside the window the gate allowed)."""
        case = self.get_object()
        visit = get_object_or_404(FieldVisit, pk=int(visit_id), case=case)
        data = VisitRecordIn(data=request.data)
        data.is_valid(raise_exception=True)
        visit = visit_record(visit_id=visit.pk, actor=request.user, **data.validated_data)
        return Response(VisitOut(visit).data)

    @extend_schema(
        methods=["GET"],
        parameters=[
            OpenApiParameter("version", int, description="A version (default: the latest)."),
            OpenApiParameter("format", exclude=True),  # the ZIP is asked for with Accept, or given by default
        ],
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            **{(code, "application/json"): CONFLICT for code in (403, 409)},
        },
        description="The case's legal evidence pack (a ZIP: cover index, loan, payments, notices, contact record, "
        "promises and plans, disputes and holds, manifest.csv of SHA-256): managers and admins who may see the case.",
    )
    @extend_schema(
        methods=["POST"],
        request=EvidencePackIn,
        parameters=[OpenApiParameter("format", exclude=True)],
        responses={
            **{(code, "application/json"): EvidencePackOut for code in (201, 200)},
            **{(code, "application/json"): CONFLICT for code in (403, 409)},
        },
        description="Build the case's evidence pack: 201 with a new version, or 200 with the latest when nothing "
        "changed since it was built.",
    )
    @action(detail=True, methods=["get", "post"], url_path="evidence-pack", url_name="evidence-pack",
            pagination_class=None, filter_backends=[],
            renderer_classes=[renderers.JSONRenderer, ZipRenderer])  # fmt: skip
    def evidence_pack(self, request: SignedInRequest, pk: str | None = None) -> Any:
        case = self.get_object()
        if user_role(request.user) not in (MANAGER, ADMIN):
            raise NotPermitted("only managers and admins may build or download an evidence pack")
        if request.method == "POST":
            data = EvidencePackIn(data=request.data)
            data.is_valid(raise_exception=True)
            reason = data.validated_data.get("reason", "") or "asked for through the API"
            result = evidence_pack_build(case_id=case.pk, actor=request.user, reason=reason)
            body = EvidencePackOut(result.pack, context={"created": result.created}).data
            return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
        version = request.query_params.get("version", "")
        if version and not version.isdigit():
            raise InvalidRequest("a version is a whole number", field="version")
        pack = evidence_pack_of_case(case_id=case.pk, version=int(version) if version else None)
        if pack is None:
            raise Http404("No evidence pack")
        try:
            content = pack.zip_bytes()
        except EvidencePackIntegrityError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        response = HttpResponse(content, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{pack.filename}"'
        response["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(pack.sha256)).decode()}:"
        response["Cache-Control"] = "private, no-store"
        return response

    # Under a case: few records each, so plain lists rather than pages.
    @extend_schema(methods=["GET"], responses=PromiseOut(many=True))
    @extend_schema(methods=["POST"], request=PromiseIn, responses={201: PromiseOut})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def promises(self, request: SignedInRequest, pk: str | None = None) -> Response:
        """The case's promises to pay; POST records one (the case moves to promise_to_pay)."""
        case = self.get_object()
        return _list_or_create(
            request,
            case.promises,
            PromiseOut,
            PromiseIn,
            lambda **fields: _promise(case, request.user, **fields),
        )

    @extend_schema(methods=["GET"], responses=PlanOut(many=True))
    @extend_schema(methods=["POST"], request=PlanIn, responses={201: PlanOut})
    @action(detail=True, methods=["get", "post"], url_path="payment-plans", url_name="payment-plans",
            pagination_class=None, filter_backends=[])  # fmt: skip
    def payment_plans(self, request: SignedInRequest, pk: str | None = None) -> Response:
        """The case's installment plans; POST proposes one (inside the policy it starts, outside it waits for a
        manager)."""
        case = self.get_object()
        return _list_or_create(
            request,
            case.plans,
            PlanOut,
            PlanIn,
            lambda **fields: _plan(case, request.user, **fields),
        )

    @extend_schema(methods=["GET"], responses=NoteOut(many=True))
    @extend_schema(methods=["POST"], request=NoteIn, responses={201: NoteOut})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def notes(self, request: SignedInRequest, pk: str | None = None) -> Response:
        """The case's notes; POST adds one."""
        case = self.get_object()
        return _list_or_create(
            request,
            case.notes,
            NoteOut,
            NoteIn,
            lambda **fields: note_add(case_id=case.pk, actor=request.user, **fields),
        )

    @extend_schema(methods=["GET"], responses=ForbearanceOut(many=True))
    @extend_schema(methods=["POST"], request=ForbearanceIn, responses={201: ForbearanceOut})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def forbearance(self, request: SignedInRequest, pk: str | None = None) -> Response:
        """The case's forbearance records (payment holiday, reduced payments, interest frozen, fees waived, term
        extended, referral to free debt advice); POST records one. Under UK_CONC and EU_CCD2 ``request_legal`` is
        refused (409, rule FB-01) until one is recorded — for EU_CCD2 a debt-advice referral too."""
        case = self.get_object()
        return _list_or_create(
            request,
            case.forbearances,
            ForbearanceOut,
            ForbearanceIn,
            lambda **fields: forbearance_record(case_id=case.pk, actor=request.user, **fields),
        )

    @extend_schema(methods=["GET"], responses=DisputeOut(many=True))
    @extend_schema(methods=["POST"], request=DisputeIn, responses={201: DisputeOut, 409: CONFLICT})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def disputes(self, request: SignedInRequest, pk: str | None = None) -> Response:
        """The case's disputes; POST records one received (a dispute hold: the gate stops collection — for a written
        dispute within the validation period of a US debt, DSP-01: every contact but the verification, and every
        escalation, 409 — until the verification is mailed)."""
        case = self.get_object()
        return _list_or_create(request, case.disputes, DisputeOut, DisputeIn,
                               lambda **fields: _dispute(case, request.user, **fields))  # fmt: skip

    @extend_schema(request=None, responses={200: DisputeOut, 409: CONFLICT})
    @action(
        detail=True,
        methods=["post"],
        url_path=r"disputes/(?P<dispute_id>[0-9]+)/verification",
        url_name="dispute-verification",
    )
    def dispute_verification(self, request: SignedInRequest, pk: str | None = None, dispute_id: str = "") -> Response:
        """Prepare the dispute's verification: its document, on a letter planned at once (``purpose=verification``);
        when the letter is mailed the dispute's hold lifts by itself."""
        case = self.get_object()
        dispute = get_object_or_404(Dispute, pk=int(dispute_id), case=case)
        return Response(DisputeOut(dispute_verification_prepare(dispute_id=dispute.pk, actor=request.user)).data)

    @extend_schema(methods=["GET"], responses=VisitOut(many=True))
    @extend_schema(methods=["POST"], request=VisitIn, responses={201: VisitOut})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def visits(self, request: SignedInRequest, pk: str | None = None) -> Response:
        """The case's field visits; POST schedules one through the gate (collectors of the case's team only)."""
        case = self.get_object()
        return _list_or_create(
            request, case.visits, VisitOut, VisitIn, lambda **fields: _visit_schedule(case, request.user, **fields)
        )


def _list_or_create(request: Request, records: Any, out: Any, given: Any, write: Any) -> Response:
    """GET: the records, newest first. POST: validate ``given`` and write through the service."""
    if request.method == "GET":
        return Response(out(records.order_by("-id"), many=True).data)
    data = given(data=request.data)
    data.is_valid(raise_exception=True)
    return Response(out(write(**data.validated_data)).data, status=status.HTTP_201_CREATED)


def _dispute(case: CollectionCase, actor: Any, *, reason: str, **terms: Any) -> Dispute:
    return dispute_record(case_id=case.pk, actor=actor, reason=reason, terms=DisputeTerms(**terms))


def _promise(case: CollectionCase, actor: Any, *, also_cover: list[dict[str, Any]], **fields: Any) -> PromiseToPay:
    """A promise on this case, or one covering other loans of the borrower too (cases the caller may see)."""
    if not also_cover:
        return promise_record(case_id=case.pk, actor=actor, **fields)
    amounts = {case.pk: fields["amount"], **{c["case"]: c["amount"] for c in also_cover}}
    visible = cases_visible_to(actor).filter(pk__in=list(amounts), borrower_id=case.borrower_id)
    if visible.count() != len(amounts) or len(also_cover) != len(amounts) - 1:
        raise InvalidRequest("each case must be another open case of the same borrower", field="also_cover")
    promises = promise_record_several(
        borrower_id=case.borrower_id,
        actor=actor,
        amounts=amounts,
        promised_on=fields["promised_on"],
        note=fields.get("note", ""),
    )
    return next(p for p in promises if p.case_id == case.pk)


def _plan(case: CollectionCase, actor: Any, *, also_cover: list[dict[str, Any]], **fields: Any) -> PaymentPlan:
    """A plan for this case, or one covering other loans of the borrower too (cases the caller may see)."""
    if not also_cover:
        return plan_propose(case_id=case.pk, actor=actor, **fields)
    also = {c["case"]: c["down_payment"] for c in also_cover}
    visible = cases_visible_to(actor).filter(pk__in=list(also), borrower_id=case.borrower_id).exclude(pk=case.pk)
    if visible.count() != len(also_cover):
        raise InvalidRequest("each case must be another open case of the same borrower", field="also_cover")
    plans = plan_propose_several(case_id=case.pk, actor=actor, also=also, **fields)
    return next(p for p in plans if p.case_id == case.pk)


def _visit_schedule(case: CollectionCase, actor: Any, *, collectors: list[str], **fields: Any) -> FieldVisit:
    people = list(get_user_model().objects.filter(username__in=collectors, is_active=True))
    if len(people) != len(set(collectors)):
        raise InvalidRequest("unknown or inactive collector", field="collectors")
    return visit_schedule(case_id=case.pk, actor=actor, collectors=people, **fields)
