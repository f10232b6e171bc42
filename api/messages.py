"""The outbox through the API, read-only: the messages of the cases the caller may see."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from rest_framework import serializers, viewsets

from collections_app.selectors import cases_visible_to
from core.api import HasRole
from core.roles import ADMIN, user_role
from notifications.models import Channel, MessageStatus, OutboundMessage


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

    def get_queryset(self) -> QuerySet[OutboundMessage]:
        messages = OutboundMessage.objects.all()
        if user_role(self.request.user) != ADMIN:
            messages = messages.filter(case__in=cases_visible_to(self.request.user))
        return messages
