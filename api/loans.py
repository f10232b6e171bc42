"""REST API of the loans domain: payments (one, idempotent per loan and reference) and bulk intake of loans and
payments (all-or-nothing with row errors, the same validation as the file importers)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.base import LargeJSONParser
from collections_app.selectors import cases_visible_to
from compliance.engine import applicable
from compliance.services import profiles_current
from core.api import HasRole, StrictInput
from core.roles import ADMIN, MANAGER, user_role
from loans.intake import ImportSummary, IntakeRejected, IntakeScope, loans_import, loans_write, payments_import
from loans.models import (
    Borrower,
    EmailAddress,
    Installment,
    Loan,
    LoanProduct,
    Payment,
    PaymentSource,
    PhoneNumber,
)
from loans.querysets import LoanQuerySet
from loans.serializers import (
    AwareDateTimeField,
    BorrowerInputSerializer,
    LoanInputSerializer,
    MoneyField,
    check_currency_decimals,
)
from loans.services import PaymentConflict, PaymentRefused, borrower_save, payment_record

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


def loans_visible_to(user: Any) -> LoanQuerySet:
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

    def get_queryset(self) -> QuerySet[Payment]:
        return Payment.objects.filter(loan__in=loans_visible_to(self.request.user))

    @extend_schema(request=PaymentIn, responses={201: PaymentOut, 200: PaymentOut})
    def post(self, request: Request) -> Response:
        # Money is posted by the lender's payment systems and by managers (``loans.add_payment``), never by the
        # collector working the case: a collector who could post payments could cure their own cases.
        if not request.user.has_perm("loans.add_payment"):
            raise PermissionDenied("Payments are posted by managers, admins and the lender's systems.")
        data = PaymentIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        currency = loans_visible_to(request.user).filter(pk=values["loan"]).values_list("currency", flat=True).first()
        if currency is None:
            raise serializers.ValidationError({"loan": ["No such loan."]})
        try:
            # The loan's own currency, as the bulk path checks it: no fractional yen.
            check_currency_decimals(values["amount"], currency)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"amount": exc.detail}) from exc
        try:
            payment, created = payment_record(loan_id=values["loan"], amount=values["amount"],
                                              received_at=values["received_at"], reference=values["reference"],
                                              source=PaymentSource.API)  # fmt: skip
        except PaymentConflict as exc:
            return Response({"reference": [str(exc)]}, status=status.HTTP_409_CONFLICT)
        except PaymentRefused as exc:
            raise serializers.ValidationError({"amount": [str(exc)]}) from exc
        return Response(PaymentOut(payment).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _summary(summary: ImportSummary) -> dict[str, Any]:
    return {"rows": summary.rows, "created": summary.created, "updated": summary.updated,
            "unchanged": summary.unchanged}  # fmt: skip


BULK_RESPONSES = {
    201: inline_serializer("BulkSummary", {"rows": serializers.IntegerField(), "created": serializers.DictField(),
                                           "updated": serializers.DictField(), "unchanged": serializers.DictField()}),
    400: OpenApiResponse(description="Row errors: nothing was written."),
    413: OpenApiResponse(inline_serializer("PayloadTooLarge", {"detail": serializers.CharField(),
                                                              "limit_bytes": serializers.IntegerField()}),
                         description="The body is larger than the bulk limit (BULK_UPLOAD_MAX_BYTES)."),
    429: OpenApiResponse(description="Over the bulk rate (API_THROTTLE_BULK); Retry-After says when to try again."),
}  # fmt: skip


class _Bulk(APIView):
    """A JSON list of rows (at most 10,000, in a body of at most BULK_UPLOAD_MAX_BYTES), all written or none: row
    errors come back as ``{"errors": [{"row": n, "field": "...", "message": "..."}]}``."""

    permission_classes = [HasRole]
    parser_classes = [LargeJSONParser]
    throttle_scope = "bulk"

    def max_body_bytes(self) -> int:
        return settings.BULK_UPLOAD_MAX_BYTES

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
        if user_role(request.user) != ADMIN:  # the same visibility as the single-record endpoints
            options["scope"] = IntakeScope(borrowers_visible_to(request.user), loans_visible_to(request.user))
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


# ---------------------------------------------------------------------------------------------------------------
# Borrowers and loans
# ---------------------------------------------------------------------------------------------------------------
class AddressOut(serializers.Serializer):
    line1 = serializers.CharField(source="address_line1")
    line2 = serializers.CharField(source="address_line2")
    city = serializers.CharField()
    region = serializers.CharField()
    postal_code = serializers.CharField()
    country = serializers.CharField()


class PhoneOut(serializers.ModelSerializer):
    number = serializers.CharField()

    class Meta:
        model = PhoneNumber
        fields = ["number", "kind", "sms_consent", "autodial_consent"]


class EmailOut(serializers.ModelSerializer):
    class Meta:
        model = EmailAddress
        fields = ["address", "kind"]


class BorrowerOut(serializers.ModelSerializer):
    address = AddressOut(source="*")
    phones = PhoneOut(many=True)
    emails = EmailOut(many=True)
    national_id = serializers.CharField(source="national_id_masked", help_text="Masked.")
    jurisdictions = serializers.SerializerMethodField(help_text="Codes of the jurisdiction profiles that apply.")

    class Meta:
        model = Borrower
        fields = ["id", "external_id", "full_name", "language", "national_id", "address", "phones", "emails",
                  "timezone", "time_zones", "jurisdictions"]  # fmt: skip
        read_only_fields = ["time_zones"]

    def get_jurisdictions(self, borrower: Borrower) -> list[str]:
        return [p.code for p in applicable(self.context["profiles"], borrower.country, borrower.region, borrower.city)]


class BorrowerIn(BorrowerInputSerializer):
    external_id = serializers.CharField(max_length=64, required=False, allow_null=True, default=None)


def borrowers_visible_to(user: Any) -> QuerySet[Borrower]:
    borrowers = Borrower.objects.all()
    if user_role(user) != ADMIN:
        borrowers = borrowers.filter(pk__in=cases_visible_to(user).values("borrower_id"))
    return borrowers


class BorrowerViewSet(viewsets.ModelViewSet):
    """Borrowers the caller may see. Admins and managers create them (``external_id`` unique when given) and
    update them; phones and e-mail addresses sent are added or updated, none is removed by omission."""

    permission_classes = [HasRole]
    serializer_class = BorrowerOut
    filterset_fields = ["external_id", "country", "language"]
    ordering_fields = ["id", "full_name"]
    ordering = ["id"]
    http_method_names = ["get", "post", "put", "head", "options"]

    def get_queryset(self) -> QuerySet[Borrower]:
        return borrowers_visible_to(self.request.user).prefetch_related("phones", "emails")

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "profiles": profiles_current()}

    def _write(self, request: Request, borrower: Borrower | None) -> Response:
        if user_role(request.user) not in (ADMIN, MANAGER):
            raise PermissionDenied("Admins and managers change borrowers.")
        data = BorrowerIn(data=request.data)
        data.is_valid(raise_exception=True)
        external_id = data.validated_data["external_id"]
        taken = Borrower.objects.filter(external_id=external_id)
        if borrower is not None:
            taken = taken.exclude(pk=borrower.pk)
        if external_id and taken.exists():
            raise serializers.ValidationError({"external_id": ["Another borrower has this external id."]})
        saved = borrower_save(borrower=borrower, data=data.validated_data)
        fresh = self.get_queryset().filter(pk=saved.pk).first() or Borrower.objects.get(pk=saved.pk)
        return Response(
            BorrowerOut(fresh, context=self.get_serializer_context()).data,
            status=status.HTTP_200_OK if borrower else status.HTTP_201_CREATED,
        )

    @extend_schema(request=BorrowerIn, responses={201: BorrowerOut})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._write(request, None)

    @extend_schema(request=BorrowerIn, responses=BorrowerOut)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._write(request, self.get_object())


class InstallmentOut(serializers.ModelSerializer):
    amount_due = serializers.SerializerMethodField()
    amount_paid = serializers.SerializerMethodField()

    class Meta:
        model = Installment
        fields = ["number", "due_date", "amount_due", "amount_paid", "paid_on"]

    def get_amount_due(self, i: Installment) -> str:
        return str(i.principal_due + i.interest_due + i.fee_due)

    def get_amount_paid(self, i: Installment) -> str:
        # The component amounts include what was paid before intake (the waterfall allocates it too).
        return str(i.principal_paid + i.interest_paid + i.fee_paid)


class LoanOut(serializers.ModelSerializer):
    product: serializers.SlugRelatedField[LoanProduct] = serializers.SlugRelatedField(slug_field="code", read_only=True)
    installments = InstallmentOut(many=True)

    class Meta:
        model = Loan
        fields = ["id", "external_id", "borrower", "product", "principal", "currency", "disbursed_on", "annual_rate",
                  "term_months", "installments", "days_past_due", "amount_overdue", "outstanding_balance",
                  "status"]  # fmt: skip


class LoanIn(LoanInputSerializer):
    borrower = serializers.IntegerField(min_value=1)


class LoanViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Loans the caller may see, with their schedules and the balances the sweep keeps current. Admins and managers
    create one for an existing borrower (``POST``: installments given, or generated from ``annual_rate``,
    ``term_months`` and ``first_due_date``); ``loans/bulk/`` takes many, with their borrowers."""

    permission_classes = [HasRole]
    serializer_class = LoanOut
    filterset_fields = ["borrower", "external_id", "status", "currency"]
    ordering_fields = ["id", "days_past_due", "amount_overdue", "disbursed_on"]
    ordering = ["id"]

    def get_queryset(self) -> LoanQuerySet:
        return self._loans(loans_visible_to(self.request.user))

    @staticmethod
    def _loans(loans: LoanQuerySet | None = None) -> LoanQuerySet:
        installments = Prefetch("installments", queryset=Installment.objects.order_by("number"))
        return (Loan.objects.all() if loans is None else loans).select_related("product").prefetch_related(installments)

    @extend_schema(request=LoanIn, responses={201: LoanOut})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if user_role(request.user) not in (ADMIN, MANAGER):
            raise PermissionDenied("Admins and managers create loans.")
        data = LoanIn(data=request.data)
        data.is_valid(raise_exception=True)
        loan = data.validated_data
        borrower = borrowers_visible_to(request.user).filter(pk=loan["borrower"]).first()
        products = {p.code: p for p in LoanProduct.objects.filter(code=loan["product"])}
        errors = {}
        if borrower is None:
            errors["borrower"] = ["No such borrower."]
        if not products:
            errors["product"] = ["No such product."]
        elif products[loan["product"]].currency != loan["currency"]:
            errors["currency"] = [f"The product lends in {products[loan['product']].currency}."]
        if Loan.objects.filter(external_id=loan["external_id"]).exists():
            errors["external_id"] = ["A loan with this external id exists."]
        if errors or borrower is None:
            raise serializers.ValidationError(errors)
        try:
            with transaction.atomic():
                (created,) = loans_write([(borrower, loan)], products)
                # The answer is read in the same transaction, by id: the caller may not "see" the new loan yet (a
                # manager sees loans through their cases, and it has none), and if the answer cannot be built
                # nothing is written, so a retry is not refused as a duplicate of a loan the caller never got.
                answer = LoanOut(self._loans().get(pk=created.pk)).data
        except IntegrityError as exc:
            if not Loan.objects.filter(external_id=loan["external_id"]).exists():
                raise
            # The same external id, created concurrently since the check above.
            raise serializers.ValidationError({"external_id": ["A loan with this external id exists."]}) from exc
        return Response(answer, status=status.HTTP_201_CREATED)
