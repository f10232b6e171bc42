"""The compliance gate through the API: may this contact happen (a dry run), the restrictions per borrower and the
contacts that happened (the ledger).

Thin views: parse (strict input serializers) → access helper → service → output serializer."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import get_language
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from collections_app.selectors import borrower_get_for_user, cases_visible_to
from compliance.models import (
    ConsentEvent,
    ConsentKind,
    ContactEvent,
    ContactOutcome,
    Decision,
    Direction,
    Restriction,
    RestrictionKind,
)
from compliance.services import (
    ComplianceError,
    consent_record,
    contact_check,
    contact_record,
    restriction_add,
    restriction_lift,
)
from core.api import HasRole, StrictInput
from core.roles import ADMIN, user_role
from loans.inputs import contains_nul, parse_id
from loans.models import Loan
from loans.serializers import AwareDateTimeField

CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


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


class RestrictionOut(serializers.ModelSerializer):
    active = serializers.SerializerMethodField()

    class Meta:
        model = Restriction
        fields = ["id", "borrower", "loan", "kind", "starts_at", "ends_at", "details", "reason", "document_ref",
                  "source", "created_at", "lifted_at", "lift_reason", "active"]  # fmt: skip

    def get_active(self, obj: Restriction) -> bool:
        return obj.lifted_at is None and (obj.ends_at is None or obj.ends_at > self.context["now"])


class RestrictionIn(StrictInput):
    kind = serializers.ChoiceField(choices=RestrictionKind.choices)
    loan = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    starts_at = AwareDateTimeField(required=False)
    ends_at = AwareDateTimeField(required=False, allow_null=True)
    details = serializers.DictField(required=False, default=dict)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    document_ref = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)

    def validate_details(self, value: dict[str, Any]) -> dict[str, Any]:
        if contains_nul(value):
            raise serializers.ValidationError("Null characters are not allowed.")
        return value

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("ends_at") and data.get("starts_at") and data["ends_at"] <= data["starts_at"]:
            raise serializers.ValidationError({"ends_at": ["Must be after starts_at."]})
        if data["kind"] == RestrictionKind.INCONVENIENT_TIME:
            details = data.get("details") or {}
            bad = [k for k in ("from", "to") if not CLOCK.match(str(details.get(k, "")))]
            if bad:
                raise serializers.ValidationError(
                    {"details": [f"An inconvenient time needs {' and '.join(bad)} as HH:MM, e.g. 22:00."]}
                )
        loan = data.get("loan")
        if loan is not None and not Loan.objects.filter(pk=loan, borrower_id=self.context["borrower"].pk).exists():
            raise serializers.ValidationError({"loan": ["This loan is not the borrower's."]})
        return data


class LiftIn(StrictInput):
    reason = serializers.CharField(max_length=2000)


@extend_schema_view(
    get=extend_schema(responses=RestrictionOut(many=True)),
    post=extend_schema(request=RestrictionIn, responses={201: RestrictionOut}),
)
class BorrowerRestrictions(APIView):
    """GET: the borrower's restrictions (``?active=true`` for those in force). POST: record one."""

    permission_classes = [HasRole]

    def get(self, request: Request, borrower_id: int) -> Response:

        borrower = borrower_get_for_user(user=request.user, borrower_id=borrower_id)
        now = timezone.now()
        rows = Restriction.objects.filter(borrower=borrower).order_by("-starts_at", "-id")
        if request.query_params.get("active") in ("true", "1"):
            rows = rows.filter(pk__in=Restriction.objects.active(now).filter(borrower=borrower).values("pk"))
        return Response(RestrictionOut(rows, many=True, context={"now": now}).data)

    def post(self, request: Request, borrower_id: int) -> Response:

        borrower = borrower_get_for_user(user=request.user, borrower_id=borrower_id)
        data = RestrictionIn(data=request.data, context={"borrower": borrower})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        restriction = restriction_add(
            borrower_id=borrower.pk,
            kind=values["kind"],
            loan_id=values.get("loan"),
            starts_at=values.get("starts_at"),
            ends_at=values.get("ends_at"),
            details=values["details"],
            reason=values["reason"],
            document_ref=values["document_ref"],
            actor=request.user,
        )
        return Response(
            RestrictionOut(restriction, context={"now": timezone.now()}).data, status=status.HTTP_201_CREATED
        )


class ConsentOut(serializers.ModelSerializer):
    class Meta:
        model = ConsentEvent
        fields = ["id", "medium", "address", "kind", "source", "text", "at"]


class ConsentIn(StrictInput):
    medium = serializers.ChoiceField(choices=["sms", "email"])
    address = serializers.CharField(max_length=254, help_text="One of the borrower's numbers or e-mail addresses.")
    kind = serializers.ChoiceField(
        choices=[ConsentKind.WRITTEN_CONSENT, ConsentKind.OPT_OUT, ConsentKind.OPT_IN],
        help_text="written_consent: NYC-01's written consent to e-mail or texts at this address (an opt-out revokes "
        "it).",
    )
    text = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        borrower = self.context["borrower"]
        if data["medium"] == "sms":
            known = {str(n) for n in borrower.phones.values_list("number", flat=True)}
        else:
            known = set(borrower.emails.values_list("address", flat=True))
        if data["address"] not in known:
            raise serializers.ValidationError({"address": ["Not one of the borrower's numbers or addresses."]})
        return data


@extend_schema_view(
    get=extend_schema(responses=ConsentOut(many=True)),
    post=extend_schema(request=ConsentIn, responses={201: ConsentOut}),
)
class BorrowerConsents(APIView):
    """GET: the borrower's consent and opt-out history, newest first. POST: record a written consent to e-mail or
    texts (NYC-01: required before any e-mail or text to a New York City borrower), an opt-out or an opt-in."""

    permission_classes = [HasRole]

    def get(self, request: Request, borrower_id: int) -> Response:
        borrower = borrower_get_for_user(user=request.user, borrower_id=borrower_id)
        rows = ConsentEvent.objects.filter(borrower=borrower).order_by("-at", "-id")
        return Response(ConsentOut(rows, many=True).data)

    def post(self, request: Request, borrower_id: int) -> Response:
        borrower = borrower_get_for_user(user=request.user, borrower_id=borrower_id)
        data = ConsentIn(data=request.data, context={"borrower": borrower})
        data.is_valid(raise_exception=True)
        event = consent_record(borrower_id=borrower.pk, source="api", actor=request.user, **data.validated_data)
        return Response(ConsentOut(event).data, status=status.HTTP_201_CREATED)


@extend_schema(request=LiftIn, responses=RestrictionOut)
class RestrictionLift(APIView):
    """POST with a ``reason``: lift the restriction. A dispute or a preference the borrower set (inconvenient time or
    place, no contact at work, hardship review) may be lifted by anyone working the case; every other kind by
    managers and admins only (403)."""

    permission_classes = [HasRole]

    def post(self, request: Request, borrower_id: int, restriction_id: int) -> Response:

        borrower = borrower_get_for_user(user=request.user, borrower_id=borrower_id)
        get_object_or_404(Restriction, pk=restriction_id, borrower=borrower)
        data = LiftIn(data=request.data)
        data.is_valid(raise_exception=True)
        restriction = restriction_lift(
            restriction_id=restriction_id, actor=request.user, reason=data.validated_data["reason"]
        )
        return Response(RestrictionOut(restriction, context={"now": timezone.now()}).data)


class ContactOut(serializers.ModelSerializer):
    occurred_at = serializers.DateTimeField(source="at")
    debts_discussed = serializers.ListField(source="debts", child=serializers.IntegerField())

    class Meta:
        model = ContactEvent
        fields = ["id", "borrower", "channel", "direction", "occurred_at", "outcome", "to", "debts_discussed",
                  "automated", "decision", "is_exception", "note", "created_at"]  # fmt: skip


class ContactIn(StrictInput):
    borrower = serializers.IntegerField(min_value=1)
    loan = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    channel = serializers.ChoiceField(choices=["call", "sms", "email", "letter", "visit"])
    direction = serializers.ChoiceField(choices=Direction.choices)
    occurred_at = AwareDateTimeField()
    outcome = serializers.ChoiceField(choices=[c for c in ContactOutcome.values if c not in ("reserved", "cancelled")])
    to = serializers.CharField(required=False, allow_blank=True, default="", max_length=254)
    debts_discussed = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)
    automated = serializers.BooleanField(required=False, default=False)
    decision = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class Contacts(generics.ListAPIView):
    """GET: the ledger of the borrowers the user may see (``?borrower=``). POST: record a contact that happened.
    An outbound contact no allowing decision covers is recorded all the same and marked as an exception."""

    permission_classes = [HasRole]
    serializer_class = ContactOut

    def get_queryset(self) -> QuerySet[ContactEvent]:
        rows = ContactEvent.objects.exclude(outcome="cancelled").order_by("-at", "-id")
        if user_role(self.request.user) != ADMIN:
            rows = rows.filter(borrower_id__in=cases_visible_to(self.request.user).values("borrower_id"))
        borrower = self.request.query_params.get("borrower")
        if borrower:
            borrower_id = parse_id(borrower)
            if borrower_id is None:
                raise serializers.ValidationError({"borrower": ["A borrower id (digits 0-9)."]})
            rows = rows.filter(borrower_id=borrower_id)
        return rows

    @extend_schema(request=ContactIn, responses={201: ContactOut})
    def post(self, request: Request) -> Response:
        data = ContactIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        borrower = borrower_get_for_user(user=request.user, borrower_id=values["borrower"])
        loans = set(Loan.objects.filter(borrower=borrower).values_list("pk", flat=True))
        debts = list(values["debts_discussed"]) or ([values["loan"]] if values.get("loan") else [])
        foreign = sorted(set(debts) - loans)
        if foreign:
            raise serializers.ValidationError({"debts_discussed": [f"Not the borrower's loans: {foreign}."]})
        if values.get("decision") and not Decision.objects.filter(pk=values["decision"], borrower=borrower).exists():
            raise serializers.ValidationError({"decision": ["No such decision for this borrower."]})
        event = contact_record(
            borrower_id=borrower.pk,
            channel=values["channel"],
            direction=values["direction"],
            outcome=values["outcome"],
            at=values["occurred_at"],
            debts=debts,
            to=values["to"],
            automated=values["automated"],
            actor=request.user,
            decision_id=values.get("decision"),
            note=values["note"],
        )
        return Response(ContactOut(event).data, status=status.HTTP_201_CREATED)
