"""The managers' escalation queue: legal review with its evidence, plans waiting for approval, denials and
exceptions."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, OuterRef, Subquery

from collections_app.models import CaseTransition, PaymentPlan
from collections_app.selectors.access import cases_visible_to
from compliance.models import ContactEvent, Decision
from notifications.models import OutboundMessage


def escalation_queue(*, user: Any) -> dict[str, Any]:
    """The managers' queue: cases waiting in legal review with their evidence, plans waiting for approval, recent
    compliance denials and uncovered contacts — for the cases the manager may see, in a fixed number of queries."""

    visible = cases_visible_to(user)
    notices = OutboundMessage.objects.filter(
        case_id=OuterRef("pk"), purpose__in=["formal_notice", "legal"], status__in=["sent", "delivered"]
    )
    exceptions = ContactEvent.objects.filter(borrower_id=OuterRef("borrower_id"), is_exception=True)
    request = CaseTransition.objects.filter(case_id=OuterRef("pk"), transition="request_legal").order_by("-at")
    review = (
        visible.filter(state="legal_review")
        .select_related("borrower", "loan", "assigned_to")
        .annotate(
            notices_sent=Subquery(notices.order_by().values("case_id").annotate(n=Count("pk")).values("n")[:1]),
            exception_count=Subquery(
                exceptions.order_by().values("borrower_id").annotate(n=Count("pk")).values("n")[:1]
            ),
            requested_because=Subquery(request.values("reason")[:1]),
            requested_by=Subquery(request.values("actor_label")[:1]),
        )
        .order_by("-amount_overdue", "id")
    )
    plans = (
        PaymentPlan.objects.filter(status="pending_approval", case__in=visible)
        .select_related("case__borrower", "case__loan", "proposed_by")
        .order_by("created_at")
    )
    borrowers = visible.values("borrower_id")
    denials = (
        Decision.objects.filter(allowed=False, dry_run=False, borrower_id__in=borrowers)
        .select_related("borrower")
        .order_by("-created_at")[:50]
    )
    uncovered = (
        ContactEvent.objects.filter(is_exception=True, borrower_id__in=borrowers)
        .select_related("borrower", "actor")
        .order_by("-at")[:50]
    )
    return {"review": list(review[:200]), "plans": list(plans[:100]), "denials": list(denials),
            "exceptions": list(uncovered)}  # fmt: skip
