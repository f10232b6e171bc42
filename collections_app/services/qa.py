"""QA of collectors' calls: each week a random sample of every collector's calls is drawn for review
(``qa_sample_week``: deterministic for a seed, once per collector and week), and managers score each sampled call
against the checklist of the borrower's profiles (``call_review_score``).

A "call" is a call the collector made and logged (its disposition): dialled by hand, or placed through the provider
and then usually recorded. Weeks run Monday 00:00 to Monday 00:00 UTC."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app.models import CallDisposition, CallReview, QaItem, TeamMembership
from collections_app.services.cases import InvalidRequest, NotPermitted
from compliance.models import JurisdictionProfile
from core.roles import ADMIN, MANAGER, user_role

# Checked on every call when no profile of the call's decision lists a checklist.
DEFAULT_CHECKLIST = [QaItem.IDENTIFICATION.value]


def week_start(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week."""
    return day - dt.timedelta(days=day.weekday())


def last_complete_week(now: dt.datetime | None = None) -> dt.date:
    """The Monday of the last week that has ended (UTC)."""
    today = (now or timezone.now()).astimezone(dt.UTC).date()
    return week_start(today) - dt.timedelta(days=7)


def sample_size() -> int:
    return int(getattr(settings, "QA_SAMPLE_SIZE", 5))


def _checklists(decision_profiles: Iterable[list[str]]) -> dict[str, list[str]]:
    """The checklist of each profile version named by the decisions ("CODE@version"), from the profiles' data."""
    wanted = {label for labels in decision_profiles for label in labels}
    codes = {label.split("@", 1)[0] for label in wanted}
    rows = JurisdictionProfile.objects.filter(code__in=codes).values_list("code", "version", "params")
    return {
        f"{code}@{version}": list(params.get("qa_checklist") or [])
        for code, version, params in rows
        if f"{code}@{version}" in wanted
    }


def checklist_for(profiles: list[str], checklists: Mapping[str, list[str]]) -> list[str]:
    """Every item any of the call's profiles asks for, in QaItem's order (the default when none asks)."""
    asked = {item for label in profiles for item in checklists.get(label, [])}
    items = [item for item in QaItem.values if item in asked]
    return items or list(DEFAULT_CHECKLIST)


@dataclass(frozen=True)
class SampleRun:
    week_start: dt.date
    collectors: int  # collectors sampled by this run
    sampled: int  # calls drawn
    skipped: int  # collectors already sampled for the week (idempotent re-run)


def qa_sample_week(*, week: dt.date, size: int | None = None, seed: int = 0) -> SampleRun:
    """Draw up to ``size`` (``settings.QA_SAMPLE_SIZE``, 5) of each collector's calls made in the week starting on
    ``week`` (a Monday), for review. The same seed draws the same calls; a collector already sampled for the week is
    left alone, so running it again (the beat task, the command) adds nothing. One transaction."""
    week = week_start(week)
    size = sample_size() if size is None else size
    if size < 1:
        raise InvalidRequest(_("the sample must hold at least one call"), field="size")
    start = dt.datetime.combine(week, dt.time.min, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=7)
    with transaction.atomic():
        done = set(CallReview.objects.filter(week_start=week).values_list("collector_id", flat=True).distinct())
        calls = list(
            CallDisposition.objects.filter(created_at__gte=start, created_at__lt=end, review__isnull=True)
            .exclude(actor_id__in=done)
            .order_by("actor_id", "pk")
            .values_list("pk", "actor_id", "case_id", "decision__profiles")
        )
        by_collector: dict[int, list[tuple[int, int, list[str]]]] = defaultdict(list)
        for pk, actor_id, case_id, profiles in calls:
            by_collector[actor_id].append((pk, case_id, list(profiles or [])))
        checklists = _checklists(p for _, _, _, p in calls)
        teams = dict(TeamMembership.objects.filter(user_id__in=list(by_collector)).values_list("user_id", "team_id"))
        now = timezone.now()
        rows = []
        for collector_id, theirs in sorted(by_collector.items()):
            rng = random.Random(f"{seed}:{week.isoformat()}:{collector_id}")  # noqa: S311 - a sample, not a secret
            for pk, case_id, profiles in sorted(rng.sample(theirs, min(size, len(theirs)))):
                rows.append(
                    CallReview(
                        disposition_id=pk,
                        case_id=case_id,
                        collector_id=collector_id,
                        team_id=teams.get(collector_id),
                        week_start=week,
                        checklist=checklist_for(profiles, checklists),
                        sampled_at=now,
                    )
                )
        CallReview.objects.bulk_create(rows)
    return SampleRun(week, len(by_collector), len(rows), len(done))


def may_review(user: Any, review: CallReview) -> bool:
    """Admins score any sampled call; a manager those of the teams they lead; nobody their own call."""
    role = user_role(user)
    if review.collector_id == user.pk:
        return False
    if role == ADMIN:
        return True
    return role == MANAGER and review.team is not None and review.team.manager_id == user.pk


def call_review_score(*, review_id: int, actor: Any, results: Mapping[str, Any], notes: str = "") -> CallReview:
    """A manager's answers for a sampled call: every item of its checklist passed or failed (nothing else), notes
    required when an item failed. The score is the share of items passed, in whole percent. Scoring again replaces
    the answers (the reviewer and time are the last ones)."""
    with transaction.atomic():
        review = CallReview.objects.select_for_update(of=("self",)).select_related("team").get(pk=review_id)
        if not may_review(actor, review):
            raise NotPermitted(_("only the team's manager or an admin scores this call"))
        unknown = sorted(set(results) - set(review.checklist))
        if unknown:
            raise InvalidRequest(
                _("not on this call's checklist: %(items)s") % {"items": ", ".join(unknown)}, field="results"
            )
        answers: dict[str, bool] = {}
        for item in review.checklist:
            value = results.get(item)
            if value in (True, "pass", "true", "1", 1):
                answers[item] = True
            elif value in (False, "fail", "false", "0", 0):
                answers[item] = False
            else:
                raise InvalidRequest(_("say whether the call passed or failed this item"), field=item)
        notes = (notes or "").strip()
        if not all(answers.values()) and not notes:
            raise InvalidRequest(_("say what went wrong on the items that failed"), field="notes")
        review.results = answers
        review.notes = notes
        review.score = round(100 * sum(answers.values()) / len(answers))
        review.reviewed_by = actor
        review.reviewed_at = timezone.now()
        review.save(update_fields=["results", "notes", "score", "reviewed_by", "reviewed_at"])
    return review
