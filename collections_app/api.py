"""REST API v1 (Django REST framework). Thin views: parse → access helper → service → serialize."""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from collections_app.roles import user_role
from collections_app.selectors import borrower_get_for_user
from compliance.services import ComplianceError, contact_check


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
    at = serializers.DateTimeField(required=False)
    automated = serializers.BooleanField(required=False, default=False)


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
            }
        )
