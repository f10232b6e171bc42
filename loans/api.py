"""REST API of the loans domain: payments (one, idempotent per loan and reference) and bulk intake of loans and
payments (all-or-nothing with row errors, the same validation as the file importers)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from collections_app.api import HasRole, StrictInput
from collections_app.roles import ADMIN, MANAGER, user_role
from collections_app.selectors import cases_visible_to
from loans.intake import ImportSummary, IntakeRejected, loans_import, payments_import
from loans.models import Loan, Payment, PaymentSource
from loans.serializers import AwareDateTimeField, MoneyField
from loans.services import PaymentConflict, payment_record

BULK_LIMIT = 10_000


class PaymentOut(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = ["id", "loan", "amount", "currency", "received_at", "reference", "source", "unapplied_amount",
                  "created_at"]  # fmt: skip


class PaymentIn(StrictInput):
    loan = serializers.IntegerField(min_value=1)
    amount = MoneyField()
    received_at = AwareDateTimeField()
    reference = serializers.CharField(max_length=100)


def loans_visible_to(user: Any) -> Any:
    """Admins: every loan; others: the loans of the cases they may see."""
    loans = Loan.objects.all()
    return loans if user_role(user) == ADMIN else loans.filter(pk__in=cases_visible_to(user).values("loan_id"))


class Payments(generics.ListAPIView):
    """GET: payments of the loans the caller may see (``?loan=``). POST: record one; posting the same loan and
    reference again returns the stored payment with 200, not a second one (a different amount is a 409)."""

    permission_classes = [HasRole]
    serializer_class = PaymentOut
    filterset_fields = ["loan"]
    ordering = ["-received_at", "-id"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return Payment.objects.filter(loan__in=loans_visible_to(self.request.user))

    @extend_schema(request=PaymentIn, responses={201: PaymentOut, 200: PaymentOut})
    def post(self, request: Request) -> Response:
        data = PaymentIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if not loans_visible_to(request.user).filter(pk=values["loan"]).exists():
            raise serializers.ValidationError({"loan": ["No such loan."]})
        try:
            payment, created = payment_record(loan_id=values["loan"], amount=values["amount"],
                                              received_at=values["received_at"], reference=values["reference"],
                                              source=PaymentSource.API)  # fmt: skip
        except PaymentConflict as exc:
            return Response({"reference": [str(exc)]}, status=status.HTTP_409_CONFLICT)
        return Response(PaymentOut(payment).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _summary(summary: ImportSummary) -> dict[str, Any]:
    return {"rows": summary.rows, "created": summary.created, "updated": summary.updated,
            "unchanged": summary.unchanged}  # fmt: skip


BULK_RESPONSES = {
    201: inline_serializer("BulkSummary", {"rows": serializers.IntegerField(), "created": serializers.DictField(),
                                           "updated": serializers.DictField(), "unchanged": serializers.DictField()}),
    400: OpenApiResponse(description="Row errors: nothing was written."),
}  # fmt: skip


class _Bulk(APIView):
    """A JSON list of rows (at most 10,000), all written or none: row errors come back as
    ``{"errors": [{"row": n, "field": "...", "message": "..."}]}``."""

    permission_classes = [HasRole]

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)
        if user_role(request.user) not in (ADMIN, MANAGER):
            raise PermissionDenied("Bulk intake is for the lender's systems (admin or manager tokens).")

    def run(self, request: Request, importer: Any, **options: Any) -> Response:
        rows = request.data
        if not isinstance(rows, list) or not rows:
            raise serializers.ValidationError({"non_field_errors": ["Send a JSON list of rows."]})
        if len(rows) > BULK_LIMIT:
            raise serializers.ValidationError({"non_field_errors": [f"At most {BULK_LIMIT:,} rows per request."]})
        try:
            summary = importer(list(enumerate(rows, start=1)), **options)
        except IntakeRejected as exc:
            errors = [{"row": e.line, "field": e.field, "message": e.message} for e in exc.errors]
            return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response(_summary(summary), status=status.HTTP_201_CREATED)


class LoansBulk(_Bulk):
    """``POST loans/bulk/``: rows of ``{"borrower": {...}, "loan": {...}}`` as in the loans file format."""

    @extend_schema(request=inline_serializer("LoanRow", {"borrower": serializers.DictField(),
                                                         "loan": serializers.DictField()}, many=True),
                   responses=BULK_RESPONSES)  # fmt: skip
    def post(self, request: Request) -> Response:
        return self.run(request, loans_import)


class PaymentsBulk(_Bulk):
    """``POST payments/bulk/``: rows of ``{"loan": external id, "amount", "received_at", "reference"}``."""

    @extend_schema(request=inline_serializer("PaymentRow", {"loan": serializers.CharField(),
                                                            "amount": serializers.CharField(),
                                                            "received_at": serializers.DateTimeField(),
                                                            "reference": serializers.CharField()}, many=True),
                   responses=BULK_RESPONSES)  # fmt: skip
    def post(self, request: Request) -> Response:
        return self.run(request, payments_import, source=PaymentSource.API)
