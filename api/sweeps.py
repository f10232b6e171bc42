"""The daily sweep through the API: admins run it for a date (the workers do the work) and follow its runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from collections_app.models import SweepRun
from collections_app.services import InvalidRequest
from collections_app.tasks import sweep_launch
from core.api import HasRole, StrictInput
from core.roles import ADMIN, user_role
from loans.serializers import BoundedDateField


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
