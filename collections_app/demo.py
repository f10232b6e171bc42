"""The demo: users for each role, with known passwords (printed by `make run`), and a portfolio with a history —
months lived through the real sweep, dispatch and case services (``demo_history_build``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import logging
import random
import re
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from collections_app.models import (
    FINAL_STATES,
    BreathingSpaceType,
    CallParty,
    CallResult,
    CallReview,
    CaseState,
    CollectionCase,
    CollectorProfile,
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintOutcome,
    Dispute,
    HoldKind,
    PaymentPlan,
    PlanStatus,
    SweepRun,
    Team,
    TeamMembership,
)
from collections_app.services.arrangements import plan_decide, plan_propose, promise_record
from collections_app.services.calls import call_log, call_start
from collections_app.services.cases import CaseError, case_transition
from collections_app.services.complaints import complaint_acknowledge, complaint_record, complaint_resolve
from collections_app.services.disputes import dispute_verification_prepare
from collections_app.services.holds import hold_place
from collections_app.services.qa import call_review_score, last_complete_week, qa_sample_week, week_start
from collections_app.services.reviews import review_reminders_create
from collections_app.sweep import sweep_run
from compliance.engine import add_months
from compliance.models import Adjustment, CollectorCertification, VulnerabilityDriver, VulnerabilityRecord
from compliance.services import certification_record, vulnerability_record
from core.models import UserSettings
from core.roles import ADMIN, COLLECTOR, MANAGER
from loans.demo import demo_products_create, demo_rows
from loans.intake import loans_import, no_progress, payments_import
from loans.models import CheckoutProvider, PaymentKind, PaymentSource
from loans.payments import payment_start
from notifications.models import Channel, MessagePurpose, MessageStatus, OutboundMessage, PortalEventKind, PortalLink
from notifications.providers import ConsoleProvider
from notifications.services import inbound_sms_handle, portal_event_record, portal_link_get, portal_payment_started
from notifications.services.dispatch import outbox_claim, outbox_send

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - demo data only; printed on purpose

DEMO_USERS: list[tuple[str, str, str, str]] = [
    # username, role, display name, language
    ("admin", ADMIN, "Ada Admin", "en"),
    ("manager.us", MANAGER, "Morgan Reyes", "en"),
    ("manager.cn", MANAGER, "刘经理", "zh-hans"),
    ("collector.us1", COLLECTOR, "Casey Brooks", "en"),
    ("collector.us2", COLLECTOR, "Jordan Lee", "en"),
    ("collector.cn1", COLLECTOR, "王小芳", "zh-hans"),
    ("collector.cn2", COLLECTOR, "陈建国", "zh-hans"),
]


DEMO_TEAMS = [
    # name, language, time zone (the members' pages default to both), manager, collectors
    ("US collections", "en", "America/New_York", "manager.us", ["collector.us1", "collector.us2"]),
    ("三门峡催收组", "zh-hans", "Asia/Shanghai", "manager.cn", ["collector.cn1", "collector.cn2"]),
]


# The collectors' own phones (fictional numbers): with the console backend a call rings nobody and is simulated, so
# `make run` shows a call through the system, its disposition and its recording.
DEMO_PROFILES = {
    # username: the phone a click-to-call rings, the collector's own zone ("": the team's)
    "collector.us1": ("+12025550101", ""),
    "collector.us2": ("+12025550102", "America/Chicago"),
    "collector.cn1": ("+8613800138001", ""),
    "collector.cn2": ("+8613800138002", ""),
}


def demo_users_create() -> list[tuple[str, str, str]]:
    """Create (or reset) the demo users, their teams and the collectors' phones; returns (username, role, password)
    for printing."""
    created = demo_people_create()
    demo_profiles_create()
    return created


def demo_people_create() -> list[tuple[str, str, str]]:
    """The demo users and their teams (without the collectors' phones: ``demo_profiles_create``)."""
    User = get_user_model()
    created = []
    for username, role, name, language in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username)
        user.first_name = name
        user.is_staff = role == ADMIN
        user.is_superuser = role == ADMIN
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        UserSettings.objects.update_or_create(user=user, defaults={"language": language})  # Chinese pages for 刘经理
        created.append((username, role, DEMO_PASSWORD))
    for team_name, language, zone, manager, collectors in DEMO_TEAMS:
        team, _ = Team.objects.update_or_create(
            name=team_name,
            defaults={"language": language, "timezone": zone, "manager": User.objects.get(username=manager)},
        )
        for username in collectors:
            TeamMembership.objects.update_or_create(user=User.objects.get(username=username), defaults={"team": team})
    for username, (_phone, zone) in DEMO_PROFILES.items():
        if zone:  # otherwise the team's
            UserSettings.objects.update_or_create(user=User.objects.get(username=username), defaults={"timezone": zone})
    return created


def demo_profiles_create() -> None:
    """The collectors' own (fictional) phones: a click-to-call rings them, simulated by the console backend."""
    User = get_user_model()
    for username, (phone, _zone) in DEMO_PROFILES.items():
        CollectorProfile.objects.update_or_create(user=User.objects.get(username=username), defaults={"phone": phone})


# ---------------------------------------------------------------------------------------------------------------
# The demo's history: DEMO_DAYS days lived through the real sweep, dispatch and case services
# ---------------------------------------------------------------------------------------------------------------
# The moments of each simulated day (UTC): payments received so far are posted, the sweep runs for the day, then the
# outbox goes out and each team works its cases in its own office hours (Beijing morning, New York late morning).
POST_AT, SWEEP_AT = dt.time(0, 20), dt.time(0, 40)
TEAM_HOURS = {"Asia/Shanghai": dt.time(3, 0), "America/New_York": dt.time(15, 30)}
LATE_DISPATCH_AT = dt.time(20, 30)  # the US west coast and Hawaii are awake
CALLS_PER_COLLECTOR = 3  # a working day's calls per collector (the demo is small; a real desk makes dozens)
# The clock stands still inside a moment (time-machine without ticking) and moves only as the story says: a call
# takes CALL_MINUTES. A ticking clock made the history depend on how fast the machine ran — a call dialled at
# 21:59:59.8 Beijing time, a ledger entry a few milliseconds inside or outside a 7-day window —, so the same seed
# did not always build the same history.
CALL_MINUTES = dt.timedelta(minutes=8)
# The Chinese desk's evening round (twice a week): from 21:50 Beijing time each collector calls the borrowers who
# are hard to reach in the day and tries again those who do not answer, one call every CALL_MINUTES — a call that
# falls after 22:00 is deferred by the gate to the next morning (CN-01).
EVENING_CALLS = {"Asia/Shanghai": dt.time(13, 50)}
EVENING_DAYS = {1, 3}  # Tuesday and Thursday
EVENING_ATTEMPTS = 3  # calls to one borrower in an evening round
UNANSWERED = {CallParty.NO_ANSWER, CallParty.VOICEMAIL, CallParty.BUSY}
# Chinese borrowers answer texts: some pay as soon as they read their case's first reminder text (the lender's app
# pays in a tap: the borrower's page the text links to, through the console provider) — cures nobody called for —,
# and a few reply 退订 (TD) to opt out of texts, so that the next
# reminder texts are refused by the gate (USF-06). Decided per borrower and day by a hash (``_share``), like the
# console's fates.
SELF_CURE_SHARE = 0.4
OPT_OUT_SHARE = 0.03
# Borrowers who open their page from their first reminder but do not pay there (those who pay open it too).
LOOK_ONLY_SHARE = 0.2
# The English team's borrowers pay on their page less often than the Chinese team's (who pay in a tap).
PAGE_PAY_SHARE = 0.1
# Who answers a collector's call, and what the borrower agrees to when it is them.
PARTIES = [
    ("right_party", 45),
    ("no_answer", 22),
    ("voicemail", 15),
    ("wrong_party", 8),
    ("third_party", 5),
    ("busy", 5),
]
RESULTS = [("promise", 50), ("plan", 14), ("refused", 20), ("callback", 13), ("dispute", 3)]
PROMISE_KEPT, PROMISE_PARTIAL = 0.55, 0.1  # the rest are broken
PLAN_KEPT = 0.6
# The managers decide part of what waits for them — legal escalations after two weeks, plans outside policy after ten
# days, on a given working day one of each at most, one time in four, never the last one waiting —, so that some
# always wait.
LEGAL_WAIT_DAYS, PLAN_WAIT_DAYS, DECIDE_SHARE = 14, 10, 0.25
VERIFY_WAIT_DAYS = 5  # a US dispute's verification is prepared after this many days (never the latest dispute)


@dataclass
class DemoHistory:
    loans: int = 0
    payments: int = 0
    days: int = 0
    counts: Counter[str] = field(default_factory=Counter)


@dataclass
class _Payments:
    """Payments waiting for their day: the stories' and those the simulated borrowers decide on (promises, plans)."""

    rows: list[tuple[dt.datetime, int, dict[str, Any]]] = field(default_factory=list)
    seq: int = 0

    def add(self, row: dict[str, Any]) -> None:
        self.seq += 1
        heapq.heappush(self.rows, (dt.datetime.fromisoformat(row["received_at"]), self.seq, row))

    def post_until(self, moment: dt.datetime) -> int:
        due = []
        while self.rows and self.rows[0][0] <= moment:
            due.append(heapq.heappop(self.rows)[2])
        if due:
            payments_import(list(enumerate(due, start=1)), source=PaymentSource.DEMO)
        return len(due)


def demo_history_build(
    *, loans: int, seed: int, today: dt.date, days: int, progress: Callable[[Any, str, int], Any] = no_progress
) -> DemoHistory:
    """Build the demo portfolio as it would have lived the last ``days`` days up to ``today``: the loans are taken in
    before the first day; then, day by day (the clock set to that day with time-machine, so every row carries its
    historical time), the payments received are posted, the real sweep runs for the day (cases open, escalate,
    resolve; promises and plans are judged; the outbox is planned; the day's ``PortfolioSnapshot`` is written), the
    outbox goes out through the gate to the console backend (which reports delivery and some failures through
    Twilio's status path), and the collectors of each team call some of their cases — right and wrong parties,
    voicemails, promises (some kept, some broken), plans (some outside policy, waiting for the manager), disputes —
    while the managers approve some legal escalations and plans. Deterministic per ``seed`` (and ``today``)."""
    rng = random.Random(seed * 7919 + 1)  # noqa: S311 - demo data, not secrets
    history = DemoHistory(days=days)
    demo_products_create()
    demo_certifications_create(today=today, first=today - dt.timedelta(days=days - 1))
    loan_rows, payment_rows = demo_rows(loans=loans, seed=seed, today=today)
    first = today - dt.timedelta(days=days - 1)
    payments = _Payments()
    for row in payment_rows:
        payments.add(row)
    real_now = timezone.now()
    console = ConsoleProvider()
    teams = list(Team.objects.filter(name__in=[t[0] for t in DEMO_TEAMS]).select_related("manager"))
    with _at(dt.datetime.combine(first - dt.timedelta(days=1), POST_AT, tzinfo=dt.UTC)):
        history.loans = loans_import(loan_rows).created.get("loans", 0)
        history.payments += payments.post_until(timezone.now())
    # The sweep's timings and the console's messages, for every day of four months, would drown `make run`'s output.
    loggers = [logging.getLogger(name) for name in ("notifications", "collections_app.sweep", "compliance")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        for day in progress([first + dt.timedelta(days=n) for n in range(days)], "history (days)", days):
            moments: list[tuple[dt.time, str, Team | None]] = [
                (POST_AT, "post", None),
                (SWEEP_AT, "sweep", None),
                *((TEAM_HOURS.get(team.timezone, dt.time(14)), "work", team) for team in teams),
                *((EVENING_CALLS[team.timezone], "evening", team) for team in teams if team.timezone in EVENING_CALLS),
                (LATE_DISPATCH_AT, "dispatch", None),
            ]
            # A day at a time in one transaction: each service still opens its own (savepoints), but the embedded
            # default's SQLite file is synced once a day of history rather than at every statement.
            with transaction.atomic():
                for at, what, team in sorted(moments, key=lambda m: (m[0], m[1])):
                    moment = dt.datetime.combine(day, at, tzinfo=dt.UTC)
                    if moment >= real_now:
                        break  # today: nothing of the future
                    with _at(moment) as clock:
                        if what == "post":
                            history.payments += payments.post_until(timezone.now())
                        elif what == "sweep":
                            history.counts.update(sweep_run(as_of=day).counts)
                        elif what == "work" and team is not None:
                            _work(team, day, rng, payments, history, clock)
                        elif what == "evening" and team is not None:
                            _evening(team, day, rng, payments, history, clock)
                        else:
                            _dispatch(console, history)
        if not SweepRun.objects.filter(as_of=today, finished_at__isnull=False).exists():
            # Built in the first minutes of a day (UTC), before its sweep's moment: the day is swept now.
            history.counts.update(sweep_run(as_of=today).counts)
        with transaction.atomic():
            for team in teams:
                _conduct_stories(team, min(real_now, dt.datetime.combine(today, LATE_DISPATCH_AT, tzinfo=dt.UTC)),
                                 history, breathing_spaces=team is teams[0])  # fmt: skip
            # The daily task's to-dos for the vulnerability records whose review date has passed (VUL-01).
            history.counts["review_reminders"] += review_reminders_create(today=today)
        _qa_reviewed(teams, today=today, first=first, seed=seed, history=history)
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    return history


def _at(moment: dt.datetime) -> Any:
    """The clock at ``moment``, standing still until the story moves it (``CALL_MINUTES``)."""
    return time_machine.travel(moment, tick=False)


def _share(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts`` (whose, which day): the same answer whatever the order of the rows."""
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:8], 16) / 16**8


def _dispatch(provider: ConsoleProvider, history: DemoHistory) -> None:
    """Send what is due now, batch after batch, as beat's ``dispatch_due`` would (in this process, one at a time)."""
    with override_settings(PROVIDER_CONCURRENCY=1):
        for _ in range(50):
            token, ids = outbox_claim(now=timezone.now(), limit=500)
            if not ids:
                return
            history.counts.update(outbox_send(message_ids=ids, claim_token=token, provider=provider))


def _offset(team: Team, day: dt.date) -> str:
    """The team's UTC offset on ``day`` as ISO 8601 writes it (+08:00), for the payments its borrowers make."""
    offset = dt.datetime.combine(day, dt.time(12), tzinfo=ZoneInfo(team.timezone)).strftime("%z")
    return f"{offset[:3]}:{offset[3:]}"


def _collectors(team: Team) -> list[Any]:
    return list(get_user_model().objects.filter(team_membership__team=team, is_active=True).order_by("username"))


def _callable_cases(team: Team, collector: Any, limit: int) -> list[CollectionCase]:
    """The collector's cases to call, highest priority first."""
    return list(
        CollectionCase.objects.filter(
            team=team,
            assigned_to=collector,
            # A case waiting for the legal decision is the manager's: the collectors call the others.
            state__in=[CaseState.REMINDER, CaseState.FORMAL_NOTICE],
            loan__amount_overdue__gt=0,  # paid since the sweep (the case resolves at the next one): nobody calls
        )
        .exclude(plans__status=PlanStatus.PENDING_APPROVAL)
        .select_related("loan", "borrower")
        .order_by("-priority", "id")[:limit]
    )


def _work(team: Team, day: dt.date, rng: random.Random, payments: _Payments, history: DemoHistory, clock: Any) -> None:
    """A team's working day: the outbox goes out, the borrowers answer their texts, the collectors call, the manager
    decides."""
    _dispatch(ConsoleProvider(), history)
    offset = _offset(team, day)
    if team.language == "zh-hans":
        _texts_answered(team, day, payments, history)
    else:
        _pages_opened(team, day, history)
    if day.weekday() >= 5:
        return  # the office is closed at weekends (the outbox is not)
    manager = team.manager
    for collector in _collectors(team):
        cases = _callable_cases(team, collector, CALLS_PER_COLLECTOR * 3)
        rng.shuffle(cases)
        for case in cases[:CALLS_PER_COLLECTOR]:
            if _share("vulnerable", case.borrower.external_id) < VULNERABLE_SHARE:
                _vulnerability_learnt(case, collector, day, history)
            _call_or_count(case, collector, day, rng, payments, offset, history)
            clock.shift(CALL_MINUTES)
    if manager is not None:
        try:
            _decide(team, manager, day, rng, history)
            _verify_disputes(team, manager, day, history)
        except CaseError:
            history.counts["refused_by_the_services"] += 1


# About one borrower in eight tells their collector, on the first call, of something that makes them vulnerable
# (FG21/1): the collector records it with their consent, so the performance page can compare outcomes (VUL-01).
# Chosen by the borrower's external id, not the shared random stream: the rest of the story stays as it was.
VULNERABLE_SHARE = 0.125
DEMO_DRIVERS = list(VulnerabilityDriver.values)


def _vulnerability_learnt(case: CollectionCase, collector: Any, day: dt.date, history: DemoHistory) -> None:
    """The borrower's vulnerability recorded on the collector's first call (once per borrower)."""
    if VulnerabilityRecord.objects.active().filter(borrower_id=case.borrower_id).exists():
        return
    pick = _share("driver", case.borrower.external_id)
    named = pick < 0.4  # some asked to deal with one person only: the collector who took the call
    vulnerability_record(
        borrower_id=case.borrower_id,
        actor=collector,
        drivers=[DEMO_DRIVERS[int(pick * len(DEMO_DRIVERS))]],
        details="Told the collector on the first call.",
        consent_method="spoken",
        review_on=day + dt.timedelta(days=60 if pick < 0.5 else 90),  # some past it by now: a to-do (VUL-01)
        adjustments=[Adjustment.NAMED_COLLECTOR] if named else [],
        named_collector_id=collector.pk if named else None,
        where=f"case:{case.pk}",
    )
    history.counts["vulnerable_recorded"] += 1


# What the demo's complainants say (the overdue one, the one resolved, its answer, the conduct one, the vulnerable
# borrower's), in their language.
COMPLAINT_WORDS = {
    "en": (
        "The balance includes fees I was never told about.",
        "A payment I made last month is not on my statement.",
        "The payment was found and credited; the statement is corrected.",
        "The collector called three times in one evening and was rude.",
        "I told you I was in hospital and the letters kept coming.",
    ),
    "zh": (
        "余额里有我从未被告知的费用。",
        "我上个月的还款没有出现在账单上。",
        "已查到该笔还款并入账，账单已更正。",
        "催收员一个晚上打了三次电话，态度粗鲁。",
        "我说过我在住院，催收信却还是不断寄来。",
    ),
}


def _conduct_stories(team: Team, now: dt.datetime, history: DemoHistory, *, breathing_spaces: bool) -> None:
    """Complaints (CMP-01) and breathing spaces (BS-01) on a few of the team's oldest open cases, so the managers'
    complaints queue and the outcome comparison's complaints bars have something on a fresh demo: one overdue
    (received 20 days ago, never acknowledged: the CFPB and CN clocks give 15 days), one resolved within its clock,
    one about collection conduct received yesterday (its debt's automated contact in review), one from a vulnerable
    borrower, acknowledged; and on the first team a standard breathing space and a mental-health crisis one whose
    treatment end is not known yet."""
    open_cases = CollectionCase.objects.filter(team=team, assigned_to__isnull=False).exclude(
        state__in=[*FINAL_STATES, CaseState.ON_HOLD]
    )
    said = COMPLAINT_WORDS["zh" if team.language.startswith("zh") else "en"]
    vulnerable = VulnerabilityRecord.objects.active().values("borrower_id")
    # The oldest open cases: open before their complaints were received.
    others = list(
        open_cases.exclude(borrower_id__in=vulnerable).select_related("assigned_to").order_by("opened_on", "id")[:5]
    )
    frail = (
        open_cases.filter(borrower_id__in=vulnerable, opened_on__lte=(now - dt.timedelta(days=10)).date())
        .select_related("assigned_to")
        .order_by("id")
        .first()
    )
    manager = team.manager
    days = lambda n: now - dt.timedelta(days=n)  # noqa: E731

    def complaint(case: CollectionCase, received: int, channel: str, category: str, summary: str) -> Complaint:
        with _at(days(received)):
            history.counts["complaints"] += 1
            return complaint_record(case_id=case.pk, actor=case.assigned_to, channel=channel, category=category,
                                    summary=summary)  # fmt: skip

    if len(others) >= 3 and manager is not None:
        complaint(others[0], 20, ComplaintChannel.LETTER, ComplaintCategory.AMOUNT, said[0])
        fees = complaint(others[1], 12, ComplaintChannel.CALL, ComplaintCategory.AMOUNT, said[1])
        with _at(days(11)):
            complaint_acknowledge(complaint_id=fees.pk, actor=manager)
        with _at(days(5)):
            answer = said[2]
            complaint_resolve(
                complaint_id=fees.pk, actor=manager, outcome=ComplaintOutcome.UPHELD, response_text=answer
            )
        complaint(others[2], 1, ComplaintChannel.CALL, ComplaintCategory.CONDUCT, said[3])
    if frail is not None and manager is not None:
        heard = complaint(frail, 8, ComplaintChannel.CALL, ComplaintCategory.OTHER, said[4])
        with _at(days(7)):
            complaint_acknowledge(complaint_id=heard.pk, actor=manager)
    if breathing_spaces and len(others) >= 5:
        with _at(days(12)):
            hold_place(case_id=others[3].pk, actor=others[3].assigned_to, kind=HoldKind.BREATHING_SPACE,
                       reason="Debt adviser's notice: standard breathing space.")  # fmt: skip
        with _at(days(4)):
            hold_place(case_id=others[4].pk, actor=others[4].assigned_to, kind=HoldKind.BREATHING_SPACE,
                       reason="Approved mental health professional's evidence: crisis treatment.",
                       breathing_space_type=BreathingSpaceType.MENTAL_HEALTH_CRISIS)  # fmt: skip
        history.counts["breathing_spaces"] += 2


def _evening(
    team: Team, day: dt.date, rng: random.Random, payments: _Payments, history: DemoHistory, clock: Any
) -> None:
    """The evening round (``EVENING_CALLS``): each collector calls the borrowers at the top of their list, one call
    every ``CALL_MINUTES``, and tries again those who did not answer (``EVENING_ATTEMPTS`` at most, well under
    CN-03's six a day), until the list is done or the gate says "not yet": past 22:00 Beijing time (CN-01)."""
    if day.weekday() not in EVENING_DAYS:
        return
    offset = _offset(team, day)
    start = timezone.now()
    for collector in _collectors(team):
        clock.move_to(start)  # the collectors call at the same time, each from their own desk
        queue = deque(_callable_cases(team, collector, CALLS_PER_COLLECTOR))
        tries: Counter[int] = Counter()
        while queue:
            case = queue.popleft()
            tries[case.pk] += 1
            party = _call_or_count(case, collector, day, rng, payments, offset, history)
            clock.shift(CALL_MINUTES)
            if party is None:
                break  # "not yet": the collector goes home
            if party in UNANSWERED and tries[case.pk] < EVENING_ATTEMPTS:
                queue.append(case)


def _texts_answered(team: Team, day: dt.date, payments: _Payments, history: DemoHistory) -> None:
    """What the team's borrowers do about the texts delivered to them since yesterday's work: some pay on reading
    their case's first reminder (``SELF_CURE_SHARE``), on the borrower's page its link opens (the console provider:
    paid at once), others only look at that page (``LOOK_ONLY_SHARE``), a few reply 退订 through the inbound path
    (``OPT_OUT_SHARE``)."""
    texts = (
        OutboundMessage.objects.filter(
            case__team=team,
            channel=Channel.SMS,
            status=MessageStatus.DELIVERED,
            delivered_at__gt=timezone.now() - dt.timedelta(days=1),
            delivered_at__lte=timezone.now(),
        )
        .select_related("case__loan", "borrower")
        .order_by("id")
    )
    for text in texts:
        case, borrower = text.case, text.borrower
        assert case is not None  # filtered on the case's team
        if _share("opt-out", borrower.external_id, day) < OPT_OUT_SHARE:
            inbound_sms_handle(
                provider_id=f"SMdemo{borrower.external_id}{day:%Y%m%d}",
                from_number=text.to,
                to_number="+8610690000",
                body="TD",
            )
            history.counts["opted_out"] += 1
        first = not OutboundMessage.objects.filter(
            case=case, channel=Channel.SMS, purpose=MessagePurpose.REMINDER, id__lt=text.pk
        ).exists()
        if (
            text.purpose == MessagePurpose.REMINDER
            and first
            and _share("pays", borrower.external_id, case.opened_on) < SELF_CURE_SHARE
        ):
            _paid_on_the_page(text, day, history)
        elif (
            text.purpose == MessagePurpose.REMINDER
            and first
            and _share("looks", borrower.external_id, case.opened_on) < LOOK_ONLY_SHARE
        ):
            _link_opened(text)
            history.counts["page_opened"] += 1
    history.payments += payments.post_until(timezone.now())


def _pages_opened(team: Team, day: dt.date, history: DemoHistory) -> None:
    """The English team's borrowers on their first reminder text: a few pay on the page it links to
    (``PAGE_PAY_SHARE``), some only look at it (``LOOK_ONLY_SHARE``)."""
    texts = OutboundMessage.objects.filter(
        case__team=team,
        channel=Channel.SMS,
        purpose=MessagePurpose.REMINDER,
        status=MessageStatus.DELIVERED,
        delivered_at__gt=timezone.now() - dt.timedelta(days=1),
        delivered_at__lte=timezone.now(),
    ).select_related("case", "borrower")
    for text in texts.order_by("id"):
        case = text.case
        assert case is not None  # filtered on the case's team
        first = not OutboundMessage.objects.filter(
            case=case, channel=Channel.SMS, purpose=MessagePurpose.REMINDER, id__lt=text.pk
        ).exists()
        if first and _share("pays", text.borrower.external_id, case.opened_on) < PAGE_PAY_SHARE:
            _paid_on_the_page(text, day, history)
        elif first and _share("looks", text.borrower.external_id, case.opened_on) < LOOK_ONLY_SHARE:
            _link_opened(text)
            history.counts["page_opened"] += 1


def _paid_on_the_page(text: OutboundMessage, day: dt.date, history: DemoHistory) -> None:
    """The borrower opens the link of the text and pays the amount overdue there (the console provider: at once,
    the case resolved and its planned messages cancelled)."""
    assert text.case is not None
    loan = text.case.loan
    loan.refresh_from_db()
    link = _link_opened(text)
    overdue = min(loan.amount_overdue, loan.outstanding_balance)
    if overdue > 0 and link is not None:
        key = hashlib.sha256(f"demo:{loan.external_id}:{day}".encode()).hexdigest()[:32]  # the same each build
        portal_payment_started(link=link, payment_key=key, ip="")
        payment_start(loan=loan, kind=PaymentKind.OVERDUE, return_url="", idempotency_key=key,
                      provider=CheckoutProvider.CONSOLE)  # fmt: skip
        history.counts["paid_after_a_text"] += 1


def _link_opened(text: OutboundMessage) -> PortalLink | None:
    """The borrower opens the link a text carried (the borrower's page audits the visit); None when it has none."""
    found = re.search(r"/p/([A-Za-z0-9_-]+)", text.body)
    link = portal_link_get(token=found.group(1)) if found else None
    if link is not None:
        portal_event_record(link=link, kind=PortalEventKind.VISIT, ip="")
    return link


def _call_or_count(
    case: CollectionCase,
    collector: Any,
    day: dt.date,
    rng: random.Random,
    payments: _Payments,
    offset: str,
    history: DemoHistory,
) -> str | None:
    try:
        return _call(case, collector, day, rng, payments, offset, history)
    except CaseError:  # what a real desk meets too (a limit of the policy, a case that moved on)
        history.counts["refused_by_the_services"] += 1
        return ""


def _pick(rng: random.Random, choices: list[tuple[str, int]]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _call(
    case: CollectionCase,
    collector: Any,
    day: dt.date,
    rng: random.Random,
    payments: _Payments,
    offset: str,
    history: DemoHistory,
) -> str | None:
    """One call and its disposition; returns who answered ("" when there was no number to call), None when the gate
    refused the call."""
    phone = case.borrower.phones.order_by("position").values_list("number", flat=True).first()
    if not phone:
        return ""
    started = call_start(case_id=case.pk, actor=collector, to=str(phone))
    history.counts["calls_" + ("allowed" if started.result.allowed else "denied")] += 1
    if not started.result.allowed:
        return None
    party = _pick(rng, PARTIES)
    result = _pick(rng, RESULTS) if party == CallParty.RIGHT_PARTY else ""
    agreed = (
        result if result in (CallResult.REFUSED, CallResult.PROMISE, CallResult.DISPUTE, CallResult.CALLBACK) else ""
    )
    callback_at = timezone.now() + dt.timedelta(days=2) if agreed == CallResult.CALLBACK else None
    call_log(
        case_id=case.pk,
        actor=collector,
        decision_id=started.decision.pk,
        party=party,
        result=agreed,
        callback_at=callback_at,
        note="",
    )
    history.counts[f"disposition_{party}"] += 1
    case.refresh_from_db()
    loan = case.loan
    loan.refresh_from_db()
    overdue = min(loan.amount_overdue, loan.outstanding_balance)
    if overdue <= 0 or case.state not in (CaseState.REMINDER, CaseState.FORMAL_NOTICE, CaseState.LEGAL_REVIEW):
        return party
    if result == CallResult.PROMISE:
        promised_on = day + dt.timedelta(days=rng.randint(2, 7))
        promise_record(case_id=case.pk, actor=collector, amount=overdue, promised_on=promised_on)
        fate = rng.random()
        if fate < PROMISE_KEPT + PROMISE_PARTIAL:
            amount = overdue if fate < PROMISE_KEPT else (overdue / 2).quantize(Decimal("0.01"))
            paid_on = promised_on - dt.timedelta(days=rng.randint(0, 2))
            payments.add(_payment_row(loan.external_id, f"PTP{day:%Y%m%d}", amount, paid_on, offset, rng))
        history.counts["promises"] += 1
    elif result == "plan":
        outside = rng.random() < 0.4  # twelve monthly installments: more than the policy's six, a manager decides
        count = 12 if outside else rng.choice([3, 4])
        down = (overdue * Decimal("0.2")).quantize(Decimal("0.01"))
        plan = plan_propose(
            case_id=case.pk,
            actor=collector,
            down_payment=down,
            count=count,
            frequency="monthly" if outside else "weekly",
            starts_on=day + dt.timedelta(days=2),
        )
        history.counts["plans_" + plan.status] += 1
        if rng.random() < PLAN_KEPT:
            for inst in plan.installments.order_by("number"):
                paid_on = inst.due_date - dt.timedelta(days=rng.randint(0, 1))
                payments.add(
                    _payment_row(loan.external_id, f"PLAN{day:%Y%m%d}-{inst.number}", inst.amount, paid_on, offset, rng)
                )
    return party


def _payment_row(
    loan: str, reference: str, amount: Decimal, day: dt.date, offset: str, rng: random.Random
) -> dict[str, Any]:
    moment = dt.time(rng.randrange(9, 18), rng.randrange(60), rng.randrange(60))
    return {
        "loan": loan,
        "amount": str(amount),
        "reference": f"{loan}-{reference}",
        "received_at": f"{day.isoformat()}T{moment.isoformat()}{offset}",
    }


# ---------------------------------------------------------------------------------------------------------------
# Collector oversight: training records (CERT-01) and the weekly QA sample of calls
# ---------------------------------------------------------------------------------------------------------------
# username → (course, days before "today" the latest exam was passed). CN_ONLINE_LENDING requires a record in force
# for every manual contact (12 months): collector.cn2's runs out three weeks after "today" (the page shows it as
# expiring soon); the US collectors' FDCPA course is the lender's own policy (no US profile requires it).
DEMO_TRAINING = {
    "collector.cn1": ("催收业务合规培训及考试（年度）", 150),
    "collector.cn2": ("催收业务合规培训及考试（年度）", 345),
    "collector.us1": ("FDCPA and Regulation F conduct training", 200),
    "collector.us2": ("FDCPA and Regulation F conduct training", 90),
}
QA_SAMPLE = 3  # calls per collector and week in the demo's QA sample
QA_SCORED_WEEKS = 4  # the managers have scored the samples of the last four weeks (the latest one only in part)


def demo_certifications_create(*, today: dt.date, first: dt.date) -> None:
    """Each demo collector's training records: the latest exam and, yearly before it, as many as the history needs
    (a CN collector must hold one in force on every day they call). Left alone when the collector has some."""
    User = get_user_model()
    for username, (course, days_ago) in DEMO_TRAINING.items():
        collector = User.objects.filter(username=username).first()
        if collector is None or CollectorCertification.objects.filter(collector=collector).exists():
            continue
        team = Team.objects.filter(memberships__user=collector).select_related("manager").first()
        passed = today - dt.timedelta(days=days_ago)
        while True:
            certification_record(
                collector=collector,
                course=course,
                passed_on=passed,
                evidence_reference=f"CERT-{collector.pk:03d}-{passed:%Y%m%d}",
                actor=team.manager if team else None,
            )
            if passed <= first:
                break
            passed = add_months(passed, -12)


def _qa_reviewed(teams: list[Team], *, today: dt.date, first: dt.date, seed: int, history: DemoHistory) -> None:
    """The weekly QA sample of every week the history covers, as the Monday beat task would have drawn it, and the
    managers' scores of the last weeks' samples (most calls pass; a few miss an item, with a note)."""
    latest = last_complete_week(dt.datetime.combine(today, dt.time(12), tzinfo=dt.UTC))
    week = week_start(first)
    while week <= latest:
        history.counts["qa_sampled"] += qa_sample_week(week=week, size=QA_SAMPLE, seed=seed).sampled
        week += dt.timedelta(days=7)
    rng = random.Random(seed * 104729 + 7)  # noqa: S311 - demo data, not secrets
    managers = {t.pk: t.manager for t in teams if t.manager is not None}
    scored_from = latest - dt.timedelta(days=7 * (QA_SCORED_WEEKS - 1))
    for review in CallReview.objects.filter(week_start__gte=scored_from, team_id__in=managers).order_by("pk"):
        if review.week_start == latest and rng.random() < 0.5:
            continue  # the latest week's sample is only partly scored: some calls wait for their manager
        failed = [item for item in review.checklist if rng.random() < 0.12]
        call_review_score(
            review_id=review.pk,
            actor=managers[review.team_id or 0],
            results={item: item not in failed for item in review.checklist},
            notes=_QA_NOTES.get(failed[0], "") if failed else "",
        )
        history.counts["qa_scored"] += 1


_QA_NOTES = {
    "identification": "Did not give their name or the lender's at the start. / 开场未报姓名及机构。",
    "mini_miranda": "No debt-collector disclosure before discussing the debt.",
    "no_false_threats": "Mentioned a lawsuit that has not been approved.",
    "within_hours": "The call started too late for the borrower's zone.",
    "no_abusive_language": "语气生硬，提到“上征信黑名单”（CN-07 禁用话术）。",
    "no_third_party_disclosure": "向接听电话的家属透露了欠款金额（CN-06）。",
    "fair_treatment": "Borrower said they lost their job; no forbearance offered.",
}


def _verify_disputes(team: Team, manager: Any, day: dt.date, history: DemoHistory) -> None:
    """The US manager prepares the verification of the oldest dispute that has waited ``VERIFY_WAIT_DAYS`` — never the
    latest one, so that some always wait at each stage: its letter leaves with the evening's dispatch and the hold
    lifts by itself (DSP-01). No random draw: the rest of the story stays as it was."""
    waiting = Dispute.objects.filter(
        case__team=team, case__borrower__country="US", prepared_at__isnull=True, hold__lifted_at__isnull=True
    ).order_by("received_at", "id")
    oldest = list(waiting[:2])
    if len(oldest) > 1 and oldest[0].received_at.date() <= day - dt.timedelta(days=VERIFY_WAIT_DAYS):
        dispute_verification_prepare(dispute_id=oldest[0].pk, actor=manager)
        history.counts["verifications_prepared"] += 1


def _decide(team: Team, manager: Any, day: dt.date, rng: random.Random, history: DemoHistory) -> None:
    """The manager clears part of the review queue (see ``DECIDE_SHARE``): legal escalations and plans outside policy
    that have waited a while — never the last one, so that some always wait."""
    waiting = CollectionCase.objects.filter(team=team, state=CaseState.LEGAL_REVIEW).order_by("stage_entered_on", "id")
    oldest = list(waiting[:2])
    if oldest and oldest[0].stage_entered_on > day - dt.timedelta(days=LEGAL_WAIT_DAYS):
        oldest = []
    for case in oldest[:1]:
        if len(oldest) > 1 and rng.random() < DECIDE_SHARE:  # the latest one always waits
            approve = rng.random() < 0.85
            case_transition(
                case_id=case.pk,
                name="approve_legal" if approve else "reject_legal",
                actor=manager,
                reason="Two notices ignored; no contact for weeks." if approve else "Borrower reached; give it time.",
            )
            history.counts["legal_" + ("approved" if approve else "rejected")] += 1
    plans = PaymentPlan.objects.filter(
        case__team=team,
        status=PlanStatus.PENDING_APPROVAL,
    ).order_by("id")
    earliest = list(plans[:2])
    if earliest and earliest[0].created_at.date() > day - dt.timedelta(days=PLAN_WAIT_DAYS):
        earliest = []
    for plan in earliest[:1]:
        if len(earliest) > 1 and rng.random() < DECIDE_SHARE:  # the latest one always waits
            approve = rng.random() < 0.75
            plan_decide(
                plan_id=plan.pk,
                actor=manager,
                approve=approve,
                reason="Income confirmed; a longer plan is realistic." if approve else "Too long; offer six months.",
            )
            history.counts["plans_" + ("approved" if approve else "rejected")] += 1
