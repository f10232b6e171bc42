"""Reads for collector oversight: the QA sample and its results per collector, and collectors' training records
(CERT-01). Who sees what: admins everything; a manager the teams they lead; a collector only their own results and
their own reviewed calls (never another collector's scores)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Avg, Count, Max, Prefetch, Q, QuerySet
from django.http import Http404

from collections_app.models import CallReview, QaItem
from compliance.engine import CertificationFact, certification_valid_through
from compliance.models import CollectorCertification
from core.roles import ADMIN, COLLECTOR, MANAGER, user_role


def reviews_visible_to(user: Any) -> QuerySet[CallReview]:
    role = user_role(user)
    reviews = CallReview.objects.all()
    if role == ADMIN:
        return reviews
    if role == MANAGER:
        return reviews.filter(team__manager=user)
    if role == COLLECTOR:
        return reviews.filter(collector=user)
    return reviews.none()


@dataclass
class CollectorResult:
    """One collector's QA over the period: calls sampled and reviewed, the average score, the calls that failed an
    item, and the items failed most (words, count)."""

    collector_id: int
    name: str
    sampled: int
    reviewed: int
    average: float | None
    failed_calls: int
    last_week: dt.date | None
    failed_items: list[tuple[str, int]] = field(default_factory=list)

    @property
    def pass_rate(self) -> float | None:
        return None if not self.reviewed else 100 * (self.reviewed - self.failed_calls) / self.reviewed


def qa_results(*, user: Any, since: dt.date) -> QuerySet[Any]:
    """Per collector (a values queryset, ordered by name, for a paginator): sampled, reviewed, average score,
    failed calls, the latest week; the sample weeks from ``since``."""
    return (
        reviews_visible_to(user)
        .filter(week_start__gte=since)
        .values("collector_id", "collector__first_name", "collector__last_name", "collector__username")
        .annotate(
            sampled=Count("pk"),
            scored=Count("pk", filter=Q(reviewed_at__isnull=False)),
            average=Avg("score"),
            failed_calls=Count("pk", filter=Q(score__lt=100)),
            last_week=Max("week_start"),
        )
        .order_by("collector__first_name", "collector__username", "collector_id")
    )


def qa_results_page(*, user: Any, rows: list[dict[str, Any]], since: dt.date, top: int = 3) -> list[CollectorResult]:
    """The page's rows with the items each collector failed most: one query for the page, whatever its length."""
    ids = [r["collector_id"] for r in rows]
    failed: dict[int, Counter[str]] = {i: Counter() for i in ids}
    answers = (
        reviews_visible_to(user)
        .filter(collector_id__in=ids, week_start__gte=since, reviewed_at__isnull=False, score__lt=100)
        .values_list("collector_id", "results")
    )
    for collector_id, results in answers:
        failed[collector_id].update(item for item, passed in (results or {}).items() if not passed)
    labels = dict(QaItem.choices)
    return [
        CollectorResult(
            collector_id=r["collector_id"],
            name=" ".join(p for p in (r["collector__first_name"], r["collector__last_name"]) if p)
            or r["collector__username"],
            sampled=r["sampled"],
            reviewed=r["scored"],
            average=float(r["average"]) if r["average"] is not None else None,
            failed_calls=r["failed_calls"],
            last_week=r["last_week"],
            failed_items=[
                (str(labels.get(item, item)), count)
                for item, count in sorted(failed[r["collector_id"]].items(), key=lambda kv: (-kv[1], kv[0]))[:top]
            ],
        )
        for r in rows
    ]


def reviews_list(*, user: Any, pending: bool) -> QuerySet[CallReview]:
    """The sampled calls, waiting for a score (oldest week first) or scored (latest first)."""
    reviews = reviews_visible_to(user).select_related("collector", "case__borrower", "disposition", "reviewed_by")
    if pending:
        return reviews.filter(reviewed_at__isnull=True).order_by("week_start", "pk")
    return reviews.filter(reviewed_at__isnull=False).order_by("-reviewed_at", "-pk")


def review_get_for_user(*, user: Any, review_id: int) -> CallReview:
    """One sampled call the user may see (404 for anyone else), with its call and recordings."""
    from notifications.models import CallRecording

    review = (
        reviews_visible_to(user)
        .select_related("collector", "team", "case__borrower", "disposition__call", "disposition__decision")
        .prefetch_related(
            Prefetch(
                "disposition__call__recordings",
                queryset=CallRecording.objects.filter(deleted_at__isnull=True).order_by("recorded_at"),
            )
        )
        .filter(pk=review_id)
        .first()
    )
    if review is None:
        raise Http404("No such review")
    return review


# ---------------------------------------------------------------------------------------------------------------
# Training records (CERT-01)
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class CollectorTraining:
    collector: Any
    records: list[CollectorCertification]
    valid_through: dt.date | None  # the last day the best record counts (None: no record in force)

    def status(self, today: dt.date, soon_days: int = 30) -> str:
        if self.valid_through is None or self.valid_through < today:
            return "missing"
        return "expiring" if (self.valid_through - today).days <= soon_days else "valid"


def collectors_training(*, user: Any) -> QuerySet[Any]:
    """The collectors whose training records the user manages (a manager: their teams' members; admins: every
    collector), with their records, newest first; ordered by name for a paginator."""
    people = get_user_model().objects.filter(groups__name=COLLECTOR)
    if user_role(user) != ADMIN:
        people = people.filter(team_membership__team__manager=user)
    return (
        people.prefetch_related(
            Prefetch(
                "certifications",
                queryset=CollectorCertification.objects.filter(revoked_at__isnull=True)
                .select_related("recorded_by")
                .order_by("-passed_on", "-pk"),
            )
        )
        .select_related("team_membership__team")
        .order_by("first_name", "username", "pk")
        .distinct()
    )


def training_rows(collectors: list[Any], *, today: dt.date, validity_months: int | None) -> list[CollectorTraining]:
    rows = []
    for person in collectors:
        records = list(person.certifications.all())
        current = [r for r in records if r.passed_on <= today]
        through = max(
            (
                certification_valid_through(CertificationFact(r.pk, r.passed_on, r.expires_on), validity_months)
                for r in current
            ),
            default=None,
        )
        rows.append(CollectorTraining(person, records, through))
    return rows


def certification_get_for_user(*, user: Any, certification_id: int) -> CollectorCertification:
    """A training record of a collector the user manages; 404 otherwise."""
    records = CollectorCertification.objects.filter(pk=certification_id)
    if user_role(user) != ADMIN:
        records = records.filter(collector__team_membership__team__manager=user)
    record = records.first()
    if record is None:
        raise Http404("No such certification")
    return record


def certifications_visible_to(user: Any) -> QuerySet[CollectorCertification]:
    """Admins: every training record; managers: their teams' collectors'; collectors: their own."""
    role = user_role(user)
    records = CollectorCertification.objects.all()
    if role == ADMIN:
        return records
    if role == MANAGER:
        return records.filter(collector__team_membership__team__manager=user)
    if role == COLLECTOR:
        return records.filter(collector=user)
    return records.none()
