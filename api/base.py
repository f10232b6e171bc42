"""What every endpoint of the API shares: the error answers (one exception handler), the parser for the bulk
bodies, and the conflict schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from api.parsers import json_decode
from collections_app.services import CaseError, InvalidRequest, NotPermitted, TransitionConflict
from compliance.services import ComplianceError, LiftRefused

CONFLICT = inline_serializer("Conflict", {"detail": serializers.CharField()})


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than the limit of {limit:,} bytes ({limit / 2**20:.1f} MiB).")
        self.limit = limit


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Domain refusals as JSON: a transition that cannot proceed now is 409 with the reason, a role that may not is
    403, a wrong value 400 with the field, a body over the upload limit 413 with the limit (one handler for the
    whole API)."""
    if isinstance(exc, RequestDataTooBig):  # Django's own check (DATA_UPLOAD_MAX_MEMORY_SIZE), raised reading it
        exc = PayloadTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, PayloadTooLarge):
        return Response({"detail": str(exc.detail), "limit_bytes": exc.limit}, status=exc.status_code)
    if isinstance(exc, TransitionConflict):
        body = {"detail": str(exc)}
        if getattr(exc, "rule", ""):  # a conduct rule's refusal (BS-01, FB-01) names the rule
            body["rule"] = exc.rule  # type: ignore[attr-defined]
        return Response(body, status=status.HTTP_409_CONFLICT)
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

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
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
