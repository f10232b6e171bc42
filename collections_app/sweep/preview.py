"""Policy dry-run: what the next sweep would do differently with a draft policy or jurisdiction profile.

The real sweep runs for the date twice, each time inside a transaction (or savepoint) that is rolled back: once with
the versions in force, once with the draft published as the current version (``version_publish``, as saving it in
the admin does). After each run we read what it left — the open case of every loan and its state, the outbox rows it
planned or cancelled, and the gate's answer for every message waiting to go out by the end of the day — then roll
back, and compare the two. Nothing of either run stays: the sweep itself queues no Celery task, registers no
``on_commit`` callback and writes no file (letters are written at dispatch, which the preview does not run; the gate
is asked with ``store=False``), and any ``on_commit`` callback would be discarded with the rollback.

A jurisdiction profile is not read by the sweep, only by the gate: for a profile draft the sweep runs once and the
gate is asked with the profiles in force and then, in a nested savepoint, with the draft.

While it runs, the preview's statements hold row locks on the cases the sweep updates (as a sweep chunk does), so
case actions wait for it; at 100,000 open cases that is some seconds (``bench/dry_run_bench.py``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from collections_app.models import OPEN_STATES, CaseState, CollectionCase, CollectionPolicy, InstallmentPolicy
from collections_app.sweep.runs import sweep_chunk, sweep_start
from compliance.engine import Attempt, Profile, applicable, contact_point, evaluate
from compliance.models import JurisdictionProfile
from compliance.services import facts_load, profiles_current, to_kind_for
from loans.models import Loan
from loans.versioning import version_publish
from notifications.models import Channel, MessageStatus, OutboundMessage
from notifications.planning import WAITING

SAMPLES = 20
GATE_BATCH = 5_000
# The stages in the order the sweep climbs them; a case elsewhere (promise, plan, hold) is not on the ladder.
LADDER = {CaseState.REMINDER: 1, CaseState.FORMAL_NOTICE: 2, CaseState.LEGAL_REVIEW: 3, CaseState.LEGAL: 4}
GATE_CHANNEL = {"sms": "sms", "voice": "call", "email": "email", "letter": "letter"}

# What the page names each group of cases or messages (the keys are what tests and the command print).
GROUPS: dict[str, Any] = {
    "opened": _("Cases that would open"),
    "not_opened": _("Cases that would no longer open"),
    "escalated": _("Cases that would escalate further"),
    "deescalated": _("Cases that would escalate less (stay at an earlier stage)"),
    "planned": _("Messages that would be planned"),
    "unplanned": _("Messages that would no longer be planned"),
    "allowed_again": _("Contacts the gate would no longer refuse"),
}

Draft = CollectionPolicy | InstallmentPolicy | JurisdictionProfile
T = TypeVar("T")


class PreviewError(Exception):
    """A draft that cannot be previewed (it does not validate)."""


@dataclass(frozen=True)
class Sample:
    """One case (or loan, for a case not opened yet) of a group, as the page lists it."""

    loan_id: int
    case_id: int | None
    before: str  # state or outcome identifiers; the page shows their labels
    after: str
    detail: str = ""  # a message's channel and purpose, a refusal's rule


@dataclass
class Group:
    key: str
    label: str
    ids: set[Any] = field(default_factory=set)  # loan ids (opened), case ids, or message keys
    samples: list[Sample] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.ids)


@dataclass
class Preview:
    as_of: dt.date
    at: dt.datetime
    draft: str
    groups: dict[str, Group]
    refused_by_rule: dict[str, Group]  # contacts the gate would now refuse (deny, defer or review), by rule
    seconds: float = 0.0
    rule_words: dict[str, tuple[str, str]] = field(default_factory=dict)  # rule -> a reason it gave (en, zh)

    def counts(self) -> dict[str, int]:
        return {
            **{k: g.count for k, g in self.groups.items()},
            **{f"refused:{rule}": g.count for rule, g in self.refused_by_rule.items()},
        }

    @property
    def empty(self) -> bool:
        return not any(self.counts().values())


@dataclass
class _Run:
    """What one rolled-back run left."""

    cases: dict[int, tuple[int, str]]  # loan id -> (open case id, state)
    planned: dict[tuple[Any, ...], tuple[int | None, int, str, str]]  # signature -> case, loan, channel, purpose
    cancelled: dict[tuple[Any, ...], tuple[int | None, int, str, str]]
    gate: dict[tuple[Any, ...], tuple[bool, str, tuple[str, ...], int | None, int]]  # -> allowed, outcome, rules…


def draft_copy(instance: Draft) -> Draft:
    """An unsaved copy carrying the edited values (the admin's form instance is the current version's row)."""
    model = type(instance)
    values = {f.attname: getattr(instance, f.attname) for f in model._meta.concrete_fields if not f.primary_key}
    return model(**values)


def _publish(draft: Draft) -> None:
    scope = {"code": draft.code} if isinstance(draft, JurisdictionProfile) else {"product_id": draft.product_id}
    try:
        version_publish(instance=draft_copy(draft), scope=scope, actor=None)
    except ValidationError as exc:
        raise PreviewError("; ".join(exc.messages)) from exc


def _rolled_back(work: Callable[[], T]) -> T:
    """Run ``work`` in a transaction (a savepoint inside one) that is always rolled back."""
    with transaction.atomic():
        try:
            return work()
        finally:
            transaction.set_rollback(True)


def _signature(row: dict[str, Any], since: dt.datetime) -> tuple[Any, ...]:
    """The same message in both runs: a row that existed before by its id; a row planned by the run by what it is
    (ids of rows, and of cases opened by the run, differ between two runs: sequences are not rolled back)."""
    if row["created_at"] < since:
        return ("id", row["id"])
    return ("new", row["borrower_id"], row["loan_id"], row["channel"], row["purpose"], row["planned_for"])


_ROW = ("id", "borrower_id", "loan_id", "case_id", "channel", "purpose", "planned_for", "created_at")


def _sweep(as_of: dt.date) -> None:
    """The sweep's steps for the date, in one chunk, leaving out what the preview does not compare and what costs
    most at scale: priorities (a score on every open case), assignment to collectors and the portfolio snapshot.
    None of them changes which cases open or move, or which messages are planned or cancelled (the test holds the
    preview to what the whole sweep then does)."""
    run = sweep_start(as_of=as_of, chunks=1)
    sweep_chunk(run_id=run.pk, as_of=as_of, chunk=0, chunks=1, skip=frozenset({"priority"}))


def _capture_sweep(since: dt.datetime) -> tuple[dict[int, tuple[int, str]], dict[Any, Any], dict[Any, Any]]:
    cases = {
        loan: (case, state)
        for case, loan, state in CollectionCase.objects.filter(state__in=OPEN_STATES).values_list(
            "id", "loan_id", "state"
        )
    }
    planned = {
        _signature(r, since): (r["case_id"], r["loan_id"], r["channel"], r["purpose"])
        for r in OutboundMessage.objects.filter(created_at__gte=since).values(*_ROW)
    }
    cancelled = {
        _signature(r, since): (r["case_id"], r["loan_id"], r["channel"], r["purpose"])
        for r in OutboundMessage.objects.filter(status=MessageStatus.CANCELLED, updated_at__gte=since).values(*_ROW)
    }
    return cases, planned, cancelled


def _waiting(as_of: dt.date, since: dt.datetime) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The messages waiting to go out by the end of the day, by signature."""
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    rows = OutboundMessage.objects.filter(status__in=WAITING, planned_for__lt=end).values(*_ROW).order_by("id")
    return {_signature(r, since): r for r in rows}


def _judge(
    rows: dict[tuple[Any, ...], dict[str, Any]],
    at: dt.datetime,
    words: dict[str, tuple[str, str]],
    profile_sets: list[list[Profile]],
) -> list[dict[tuple[Any, ...], tuple[bool, str, tuple[str, ...], int | None, int]]]:
    """The gate's answer for each message under each set of profiles, as ``contacts_check_batch`` gives it (the
    facts of a batch's borrowers loaded once, shared by the sets), judged when dispatch would first judge it
    (``at``, or its planned instant if later), storing nothing. ``words``: one reason each refusing rule gave."""
    answers: list[dict[tuple[Any, ...], tuple[bool, str, tuple[str, ...], int | None, int]]] = [
        {} for _ in profile_sets
    ]
    items = list(rows.items())
    batches = [items[start : start + GATE_BATCH] for start in range(0, len(items), GATE_BATCH)]

    def load(batch: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> dict[int, Any]:
        when = max(max(at, r["planned_for"]) for _, r in batch)
        return facts_load({r["borrower_id"] for _, r in batch}, at=when)[0]

    # The facts (phones, consents, restrictions, the ledger) are committed rows the sweep does not write, so another
    # connection reads the same: the next batch's are loaded in a thread while this batch is judged (the database
    # works while Python evaluates). Borrowers that connection cannot see (written by a caller's transaction not
    # committed yet, as in tests) are loaded here instead.
    prefetch = ThreadPoolExecutor(max_workers=1) if len(batches) > 1 else None
    upcoming: Future[dict[int, Any]] | None = None
    try:
        for number, batch in enumerate(batches):
            facts = upcoming.result() if upcoming is not None else load(batch)
            if any(r["borrower_id"] not in facts for _, r in batch):  # rows another connection cannot see yet
                facts = load(batch)
            if prefetch is not None and number + 1 < len(batches):
                upcoming = prefetch.submit(_in_own_connection, load, batches[number + 1])
            else:
                upcoming = None
            when = [max(at, r["planned_for"]) for _, r in batch]
            attempts = []
            for (_, r), instant in zip(batch, when, strict=True):
                borrower = facts[r["borrower_id"]]
                channel = GATE_CHANNEL.get(r["channel"], r["channel"])
                to = contact_point(borrower, channel)
                attempts.append(
                    Attempt(
                        channel=channel,
                        at=instant,
                        to=to,
                        to_kind=to_kind_for(borrower, channel, to),
                        automated=r["channel"] != Channel.LETTER,
                        debts=(r["loan_id"],),
                        purpose=r["purpose"],
                    )
                )
            if len(profile_sets) > 1:  # a profile draft: only borrowers it applies to (either version) can differ
                changed = [_profiles_differ(profile_sets, facts[r["borrower_id"]]) for _, r in batch]
                batch = [item for item, differs in zip(batch, changed, strict=True) if differs]
                attempts = [a for a, differs in zip(attempts, changed, strict=True) if differs]
            for profiles, out in zip(profile_sets, answers, strict=True):
                for (key, r), attempt in zip(batch, attempts, strict=True):
                    result = evaluate(attempt, facts[r["borrower_id"]], profiles)
                    refusing = [x for x in result.reasons if x.outcome != "allow"] if not result.allowed else []
                    for x in refusing:
                        words.setdefault(x.rule, (x.message, x.message_zh))
                    rules = tuple(sorted({x.rule for x in refusing}))
                    out[key] = (result.allowed, result.outcome, rules, r["case_id"], r["loan_id"])
    finally:
        if prefetch is not None:
            prefetch.shutdown(wait=True)
    return answers


def _profiles_differ(profile_sets: list[list[Profile]], facts: Any) -> bool:
    """Whether the profiles that apply to this borrower differ between the sets (else the gate answers alike)."""
    seen = {
        tuple((p.code, p.version) for p in applicable(ps, facts.country, facts.region, facts.city))
        for ps in profile_sets
    }
    return len(seen) > 1


def _in_own_connection(work: Callable[[T], Any], arg: T) -> Any:
    """Run ``work`` in this (worker) thread with its own connection, closed afterwards."""
    try:
        return work(arg)
    finally:
        connection.close()


def policy_preview(*, draft: Draft, as_of: dt.date | None = None, at: dt.datetime | None = None) -> Preview:
    """The difference the draft makes to the sweep for ``as_of`` (default: today, UTC) and to the gate's answers
    at ``at`` (default: now). Nothing is kept: every write happens in a transaction that is rolled back.

    The gate reads no table the sweep writes (the ledger, restrictions, consents, phones): with the same profiles,
    a message waiting after both runs gets the same answer in both. So for a policy draft only the messages the
    draft alone leaves waiting are judged; for a profile draft, every waiting message is judged with each set of
    profiles."""
    started = time.perf_counter()
    at = at or timezone.now()
    as_of = as_of or at.astimezone(dt.UTC).date()
    since = timezone.now()
    words: dict[str, tuple[str, str]] = {}

    if isinstance(draft, JurisdictionProfile):

        def both() -> tuple[_Run, _Run]:
            _sweep(as_of)
            cases, planned, cancelled = _capture_sweep(since)
            waiting = _waiting(as_of, since)

            def drafted() -> list[Profile]:
                _publish(draft)
                return profiles_current()

            in_force, proposed = _judge(waiting, at, words, [profiles_current(), _rolled_back(drafted)])
            return _Run(cases, planned, cancelled, in_force), _Run(cases, planned, cancelled, proposed)

        current, proposed = _rolled_back(both)
    else:
        waiting_now: dict[tuple[Any, ...], dict[str, Any]] = {}

        def run(with_draft: bool) -> _Run:
            if with_draft:
                _publish(draft)
            _sweep(as_of)
            cases, planned, cancelled = _capture_sweep(since)
            waiting = _waiting(as_of, since)
            if not with_draft:
                waiting_now.update(waiting)
                return _Run(cases, planned, cancelled, {})
            only_draft = {k: r for k, r in waiting.items() if k not in waiting_now}
            return _Run(cases, planned, cancelled, _judge(only_draft, at, words, [profiles_current()])[0])

        current = _rolled_back(lambda: run(False))
        proposed = _rolled_back(lambda: run(True))
    preview = _diff(current, proposed, as_of=as_of, at=at, draft=str(draft))
    preview.seconds = time.perf_counter() - started
    preview.rule_words = words
    return preview


def _add(group: Group, key: Any, sample: Sample) -> None:
    group.ids.add(key)
    if len(group.samples) < SAMPLES:
        group.samples.append(sample)


def _diff(current: _Run, proposed: _Run, *, as_of: dt.date, at: dt.datetime, draft: str) -> Preview:
    groups = {key: Group(key, str(label)) for key, label in GROUPS.items()}
    for loan in sorted(set(current.cases) | set(proposed.cases)):
        before, after = current.cases.get(loan), proposed.cases.get(loan)
        if before is None and after is not None:
            _add(groups["opened"], loan, Sample(loan, after[0], "", after[1]))
        elif after is None and before is not None:
            _add(groups["not_opened"], loan, Sample(loan, before[0], before[1], ""))
        elif before is not None and after is not None:
            rank_before, rank_after = LADDER.get(CaseState(before[1]), 0), LADDER.get(CaseState(after[1]), 0)
            if not (rank_before and rank_after) or rank_before == rank_after:
                continue
            # The same id in both runs: a case that existed before them (ids of cases a run opens differ).
            case = after[0] if after[0] == before[0] else None
            key = "escalated" if rank_after > rank_before else "deescalated"
            _add(groups[key], case if case is not None else ("loan", loan), Sample(loan, case, before[1], after[1]))

    def messages(group: Group, keys: Iterable[tuple[Any, ...]], source: dict[Any, Any], how: str) -> None:
        for key in sorted(keys, key=repr):
            case, loan, channel, purpose = source[key]
            _add(group, key, Sample(loan, case, how, how, f"{channel}:{purpose}"))

    messages(groups["planned"], proposed.planned.keys() - current.planned.keys(), proposed.planned, "planned")
    messages(groups["planned"], current.cancelled.keys() - proposed.cancelled.keys(), current.cancelled, "kept")
    messages(groups["unplanned"], current.planned.keys() - proposed.planned.keys(), current.planned, "unplanned")
    messages(groups["unplanned"], proposed.cancelled.keys() - current.cancelled.keys(), proposed.cancelled, "cancel")

    refused: dict[str, Group] = defaultdict(lambda: Group("", ""))
    for gate_key in sorted(proposed.gate, key=repr):
        allowed, outcome, rules, case, loan = proposed.gate[gate_key]
        was = current.gate.get(gate_key)
        if not allowed and (was is None or was[0]):
            for rule in rules or ("",):
                group = refused[rule]
                group.key = group.label = rule
                _add(group, gate_key, Sample(loan, case, was[1] if was else "", outcome, rule))
        elif allowed and was is not None and not was[0]:
            _add(groups["allowed_again"], gate_key, Sample(loan, case, was[1], outcome, ", ".join(was[2])))
    preview = Preview(as_of=as_of, at=at, draft=draft, groups=groups, refused_by_rule=dict(sorted(refused.items())))
    # Samples link to a case page only for cases that exist outside the rolled-back runs.
    every = [g for g in [*groups.values(), *preview.refused_by_rule.values()]]
    existing = _existing_cases(s.case_id for g in every for s in g.samples if s.case_id is not None)
    for g in every:
        g.samples = [s if s.case_id in existing else replace(s, case_id=None) for s in g.samples]
    return preview


def _existing_cases(ids: Iterable[int]) -> set[int]:
    """Of these case ids, those that exist outside the rolled-back runs (a case page to link to)."""
    wanted = set(ids)
    if not wanted:
        return set()
    return set(CollectionCase.objects.filter(pk__in=wanted).values_list("pk", flat=True))


def loan_refs(preview: Preview) -> dict[int, tuple[str, int, int]]:
    """Loan external id, borrower and days past due of every sampled loan (one query), for the page."""
    ids = {s.loan_id for g in [*preview.groups.values(), *preview.refused_by_rule.values()] for s in g.samples}
    return {
        pk: (ref, borrower, dpd)
        for pk, ref, borrower, dpd in Loan.objects.filter(pk__in=ids).values_list(
            "pk", "external_id", "borrower_id", "days_past_due"
        )
    }


def draft_model(name: str) -> type[Draft]:
    kinds: dict[str, type[Draft]] = {
        "collection": CollectionPolicy,
        "installment": InstallmentPolicy,
        "profile": JurisdictionProfile,
    }
    return kinds[name]
