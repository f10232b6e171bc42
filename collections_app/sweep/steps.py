"""The steps of a chunk, in order: refresh balances, resolve cured cases, settle promises and plans, open cases past
grace, escalate, recompute priorities, plan and cancel messages; and assigning new cases to collectors."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q, QuerySet

from collections_app.models import (
    CaseState,
    CollectionCase,
    CollectionPolicy,
    PaymentPlan,
    SweepRun,
)
from collections_app.services import STAGE_PURPOSES
from collections_app.sweep.context import OPEN, Chunk, T, as_text, execute
from collections_app.sweep.moves import (
    FORMAL_NOTICE_SERVED,
    MOVES,
    OPENING,
    OPENING_STATE,
    cancel_messages_of_marked,
    default_notice_sql,
    forbearance_first_sql,
    move_cases,
    no_breathing_space,
)
from compliance.services import breathing_spaces_in_force, profiles_current
from loans.models import Installment, Loan, LoanProduct
from loans.services import installments_freeze_charges, loans_refresh_balances
from loans.sql import days_between_sql
from notifications.planning import messages_cancel, messages_plan_bulk


# ---------------------------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------------------------
def refresh_candidates(ctx: Chunk, product: LoanProduct) -> QuerySet[Loan]:
    """The loans of this chunk whose balances can have changed since the last finished sweep: those overdue, those
    with an unpaid installment that fell due since then, and those never computed. Payments refresh their own loan
    when they arrive, so a current loan with nothing newly due is already right; skipping it spares aggregating most
    of the installment table every day."""
    loans = Loan.objects.filter(id__range=(ctx.lo, ctx.hi), product=product)
    since = (
        SweepRun.objects.filter(finished_at__isnull=False, as_of__lt=ctx.as_of)
        .order_by("-as_of")
        .values_list("as_of", flat=True)
        .first()
    )
    if since is None:
        return loans
    newly_due = Installment.objects.filter(paid_on__isnull=True, due_date__gte=since, due_date__lt=ctx.as_of)
    return loans.filter(
        Q(overdue_since__isnull=False)
        | Q(balances_as_of__isnull=True)
        | Q(balances_as_of__gt=ctx.as_of)
        | Q(pk__in=newly_due.values("loan_id"))
    )


def step_freeze_charges(ctx: Chunk, product: LoanProduct) -> list[int]:
    """BS-01: installments of this chunk's loans that fell due during a breathing space of their borrower lose the
    interest and fees not yet paid (loans.services.installments_freeze_charges, set-based). Returns the loans
    changed (their balances are refreshed with the others)."""
    spaces = breathing_spaces_in_force(at=ctx.now, zone=product.timezone)
    if not spaces:
        return []
    by_borrower: dict[int, list[tuple[int | None, dt.date, dt.date | None]]] = {}
    for borrower, loan, first, last in spaces:
        by_borrower.setdefault(borrower, []).append((loan, first, last))
    loans = Loan.objects.filter(id__range=(ctx.lo, ctx.hi), product=product, borrower_id__in=list(by_borrower))
    windows = [
        (loan_id, first, last)
        for loan_id, borrower_id in loans.values_list("id", "borrower_id")
        for loan, first, last in by_borrower[borrower_id]
        if loan is None or loan == loan_id
    ]
    changed = installments_freeze_charges(as_of=ctx.as_of, windows=windows)
    ctx.counts["installments_frozen"] += changed
    return sorted({w[0] for w in windows}) if changed else []


def step_refresh(ctx: Chunk, product: LoanProduct) -> None:
    frozen = step_freeze_charges(ctx, product)
    candidates = refresh_candidates(ctx, product)
    if frozen:
        candidates = candidates | Loan.objects.filter(pk__in=frozen)
    ctx.counts["loans_refreshed"] += loans_refresh_balances(as_of=ctx.as_of, loans=candidates)
    ctx.counts["cases_refreshed"] += execute(
        """
        UPDATE {case} SET days_past_due = (SELECT l.days_past_due FROM {loan} l WHERE l.id = {case}.loan_id),
                          amount_overdue = (SELECT l.amount_overdue FROM {loan} l WHERE l.id = {case}.loan_id)
        WHERE state IN {OPEN} AND loan_id BETWEEN %(lo)s AND %(hi)s
          AND EXISTS (SELECT 1 FROM {loan} l WHERE l.id = {case}.loan_id AND l.product_id = %(product)s
                      AND (l.days_past_due <> {case}.days_past_due OR l.amount_overdue <> {case}.amount_overdue))
        """,
        ctx.params(product=product.pk),
    )


def step_resolve(ctx: Chunk, product: LoanProduct, policy: CollectionPolicy, step: str = "resolve") -> None:
    if move_cases(ctx, MOVES["resolve"], product=product, policy=policy, step=step):
        mark = ctx.mark(step)
        execute(
            "UPDATE {promise} SET status = 'kept', checked_on = %(as_of)s WHERE status = 'open' "
            "AND case_id IN (SELECT id FROM {case} WHERE sweep_mark = %(mark)s)",
            ctx.params(mark=mark),
        )
        execute(
            "UPDATE {plan} SET status = 'completed', ended_on = %(as_of)s WHERE status = 'active' "
            "AND case_id IN (SELECT id FROM {case} WHERE sweep_mark = %(mark)s)",
            ctx.params(mark=mark),
        )
        cancel_messages_of_marked(ctx, mark, "case resolved")


def step_promises(ctx: Chunk, product: LoanProduct, policy: CollectionPolicy) -> None:
    """The day after a promise's date: kept, partial or broken, from payments received within its window."""
    in_chunk = (
        "case_id IN (SELECT c.id FROM {case} c JOIN {loan} l ON l.id = c.loan_id "
        "WHERE l.product_id = %(product)s AND c.loan_id BETWEEN %(lo)s AND %(hi)s)"
    )
    paid = (
        "COALESCE((SELECT SUM(p.amount) FROM {payment} p JOIN {case} c ON c.loan_id = p.loan_id "
        "WHERE c.id = {promise}.case_id AND p.received_at >= {promise}.counts_from "
        "AND p.received_at < {promise}.window_end), 0)"
    )
    checked = execute(
        f"""
        UPDATE {{promise}} SET paid_amount = {paid}, checked_on = %(as_of)s,
               status = CASE WHEN {paid} >= amount THEN 'kept' WHEN {paid} > 0 THEN 'partial' ELSE 'broken' END
        WHERE status = 'open' AND promised_on < %(as_of)s AND {in_chunk}
        """,
        ctx.params(product=product.pk),
    )
    if not checked:
        return
    ctx.counts["promises_checked"] += checked
    for name in ("promise_kept", "promise_broken"):
        move_cases(ctx, MOVES[name], product=product, policy=policy)


def step_plans(ctx: Chunk, product: LoanProduct, policy: CollectionPolicy) -> list[int]:
    """Apply payments to active plans, break or complete them; returns the plans completed with a fee waiver."""
    in_chunk = (
        "case_id IN (SELECT c.id FROM {case} c JOIN {loan} l ON l.id = c.loan_id "
        "WHERE l.product_id = %(product)s AND c.loan_id BETWEEN %(lo)s AND %(hi)s)"
    )
    params = ctx.params(product=product.pk)
    execute(
        f"""
        UPDATE {{plan}} SET paid_amount = COALESCE((
            SELECT SUM(p.amount) FROM {{payment}} p JOIN {{case}} c ON c.loan_id = p.loan_id
            WHERE c.id = {{plan}}.case_id AND p.received_at >= {{plan}}.counts_from), 0)
        WHERE status = 'active' AND {in_chunk}
        """,
        params,
    )
    # Oldest plan payment first: each gets what the total paid leaves after the earlier ones.
    before = "(SELECT COALESCE(SUM(e.amount), 0) FROM {plan_inst} e WHERE e.plan_id = {plan_inst}.plan_id AND e.number < {plan_inst}.number)"  # noqa: E501
    total = "(SELECT pl.paid_amount FROM {plan} pl WHERE pl.id = {plan_inst}.plan_id)"
    execute(
        f"""
        UPDATE {{plan_inst}} SET paid_amount = CASE
            WHEN {total} - {before} >= amount THEN amount
            WHEN {total} - {before} > 0 THEN {total} - {before}
            ELSE 0 END
        WHERE plan_id IN (SELECT id FROM {{plan}} WHERE status = 'active' AND {in_chunk})
        """,
        params,
    )
    ctx.counts["plans_broken"] += execute(
        f"""
        UPDATE {{plan}} SET status = 'broken', ended_on = %(as_of)s
        WHERE status = 'active' AND {in_chunk} AND EXISTS (
            SELECT 1 FROM {{plan_inst}} pi WHERE pi.plan_id = {{plan}}.id AND pi.paid_amount < pi.amount
            AND pi.breaks_after < %(as_of)s)
        """,
        params,
    )
    ctx.counts["plans_completed"] += execute(
        f"UPDATE {{plan}} SET status = 'completed', ended_on = %(as_of)s "
        f"WHERE status = 'active' AND paid_amount >= total_amount AND {in_chunk}",
        params,
    )
    move_cases(ctx, MOVES["plan_broken"], product=product, policy=policy)
    return list(
        PaymentPlan.objects.filter(
            status="completed",
            ended_on=ctx.as_of,
            waived_amount__gt=0,
            case__loan__product=product,
            case__state=CaseState.PAYMENT_PLAN,
        )
        .filter(case__loan__id__range=(ctx.lo, ctx.hi))
        .values_list("pk", flat=True)
    )


def step_plans_completed(ctx: Chunk, product: LoanProduct, policy: CollectionPolicy) -> None:
    """After waivers and a refresh: completed plans resolve (cured) or return the case to its stage."""
    step_resolve(ctx, product, policy, step="resolve_after_plans")  # its own mark: audits only the cases it moves
    move_cases(ctx, MOVES["plan_completed"], product=product, policy=policy)


def step_open(ctx: Chunk, product: LoanProduct, policy: CollectionPolicy) -> None:
    mark = ctx.mark(OPENING)
    opened = execute(
        """
        INSERT INTO {case} (loan_id, borrower_id, state, return_state, policy_id, team_id, assigned_to_id, opened_on,
                            opened_at, stage_entered_on, closed_at, close_reason, days_past_due, amount_overdue,
                            entry_days_past_due, entry_amount_overdue, grace_until, last_contact_at, priority,
                            priority_dpd, priority_amount, priority_promises, priority_contact, priority_reach,
                            priority_history, sweep_mark)
        SELECT l.id, l.borrower_id, %(state)s, '', %(policy)s, NULL, NULL, %(as_of)s, %(now)s, %(as_of)s, NULL, '',
               l.days_past_due, l.amount_overdue, l.days_past_due, l.amount_overdue, NULL, NULL, 0,
               0, 0, 0, 0, 0, 0, %(mark)s
        FROM {loan} l
        WHERE l.product_id = %(product)s AND l.status = 'active' AND l.days_past_due > %(grace)s
          AND l.id BETWEEN %(lo)s AND %(hi)s
        -- One open case per loan is a partial unique index: a loan that has one is skipped by the index itself
        -- (no anti-join, whose plan goes badly wrong while the case table's statistics are stale).
        ON CONFLICT (loan_id) WHERE state IN {OPEN} DO NOTHING
        """,
        ctx.params(policy=policy.pk, product=product.pk, grace=policy.grace_days, mark=mark, state=OPENING_STATE),
    )
    if opened:
        execute(
            """
            INSERT INTO {transition} (case_id, from_state, to_state, transition, actor_id, actor_label, reason,
                                      policy_id, at)
            SELECT id, '', state, %(name)s, NULL, 'system',
                   'days past due ' || CAST(days_past_due AS TEXT) || ' > grace period of ' || %(grace)s || ' days',
                   policy_id, %(now)s
            FROM {case} WHERE sweep_mark = %(mark)s
            """,
            ctx.params(mark=mark, grace=str(policy.grace_days), name=OPENING),
        )
        ctx.counts[OPENING] += opened


def step_escalate(ctx: Chunk, product: LoanProduct, policy: CollectionPolicy) -> None:
    """Escalate by days past due — never during a breathing space (BS-01, in the moves), nor to legal under a
    profile that wants forbearance first until the case records it (FB-01), nor before the formal notice was sent in
    writing and its response period passed (FN-01), nor under a profile that wants a default notice before its remedy
    date has passed (DN-01)."""
    moved = 0
    profiles = profiles_current()
    forbearance_first, fb_params = forbearance_first_sql(profiles)
    default_notice, dn_params = default_notice_sql(profiles)
    # FN-01: sent before the start (in the product's calendar) of the day the response period last ran.
    cutoff_day = ctx.as_of - dt.timedelta(days=policy.formal_notice_response_days)
    # In UTC: the embedded default's SQLite compares the stored (UTC) text with the parameter's.
    fn01_cutoff = dt.datetime.combine(cutoff_day, dt.time.min, tzinfo=ZoneInfo(product.timezone)).astimezone(dt.UTC)
    for name, threshold in (("escalate_formal_notice", policy.formal_notice_dpd), ("request_legal", policy.legal_dpd)):
        move = MOVES[name]
        if name == "request_legal":
            move = replace(
                move, where=f"{move.where} AND {forbearance_first} AND {default_notice} AND {FORMAL_NOTICE_SERVED}"
            )
        moved = move_cases(
            ctx,
            move,
            product=product,
            policy=policy,
            params={
                "threshold": threshold,
                "threshold_text": str(threshold),
                "fn01_cutoff": fn01_cutoff,
                **fb_params,
                **dn_params,
            },
        )
    if moved and not policy.legal_requires_approval:  # ``moved``: by request_legal
        to_legal = move_cases(
            ctx, MOVES["approve_legal"], product=product, policy=policy, params={"previous": ctx.mark("request_legal")}
        )
        if to_legal:  # their evidence packs, built by a worker once the chunk is committed (issue 16.5)
            from collections_app.tasks import evidence_packs_missing_task  # the tasks import the sweep

            transaction.on_commit(evidence_packs_missing_task.delay)


def step_priority(ctx: Chunk, product: LoanProduct) -> None:
    """Score 0..100 from its parts (weights in the comments), every part kept for the case page to explain."""
    gap = days_between_sql("%(as_of)s", "last_contact_at")
    execute(
        f"""
        UPDATE {{case}} SET
          -- 40: how late (saturates at 180 days)
          priority_dpd = (CASE WHEN days_past_due >= 180 THEN 180 ELSE days_past_due END) * 40 / 180,
          -- 20: how much of the loan is overdue
          priority_amount = CAST(20 * (SELECT CASE WHEN l.principal <= 0 THEN 0
                                                   WHEN {{case}}.amount_overdue >= l.principal THEN 1
                                                   ELSE {{case}}.amount_overdue / l.principal END
                                       FROM {{loan}} l WHERE l.id = {{case}}.loan_id) AS INTEGER),
          -- 15: broken or partly kept promises (5 each, at most 3)
          priority_promises = 5 * (SELECT CASE WHEN COUNT(*) > 3 THEN 3 ELSE COUNT(*) END FROM {{promise}} pr
                                   WHERE pr.case_id = {{case}}.id AND pr.status IN ('broken', 'partial')),
          -- 10: days since the last contact (never contacted counts as long ago)
          priority_contact = CASE WHEN last_contact_at IS NULL THEN 10
                                  WHEN {gap} >= 14 THEN 10 ELSE {gap} * 10 / 14 END,
          -- 10: reachable: a phone at all (5), one with SMS or autodial consent (5)
          priority_reach = (SELECT CASE WHEN COUNT(*) > 0 THEN 5 ELSE 0 END
                                 + CASE WHEN SUM(CASE WHEN ph.sms_consent OR ph.autodial_consent THEN 1 ELSE 0 END) > 0
                                        THEN 5 ELSE 0 END
                            FROM {{phone}} ph WHERE ph.borrower_id = {{case}}.borrower_id),
          -- 5: payment history: share of past installments paid on time
          priority_history = (SELECT CASE WHEN COUNT(*) = 0 THEN 0
                                     ELSE 5 * SUM(CASE WHEN i.paid_on IS NOT NULL AND i.paid_on <= i.due_date
                                                       THEN 1 ELSE 0 END) / COUNT(*) END
                              FROM {{inst}} i WHERE i.loan_id = {{case}}.loan_id AND i.due_date < %(as_of)s)
        WHERE state IN {{OPEN}} AND loan_id BETWEEN %(lo)s AND %(hi)s
          AND loan_id IN (SELECT id FROM {{loan}} WHERE product_id = %(product)s)
        """,
        ctx.params(product=product.pk),
    )
    ctx.counts["prioritised"] += execute(
        """
        UPDATE {case} SET priority = priority_dpd + priority_amount + priority_promises + priority_contact
                                     + priority_reach + priority_history
        WHERE state IN {OPEN} AND loan_id BETWEEN %(lo)s AND %(hi)s
          AND loan_id IN (SELECT id FROM {loan} WHERE product_id = %(product)s)
        """,
        ctx.params(product=product.pk),
    )


_NOT_IN_GRACE_C = "(c.grace_until IS NULL OR c.grace_until < %(as_of)s)"


def step_plan_messages(ctx: Chunk, product: LoanProduct, policy: CollectionPolicy) -> None:
    """Plan today's messages: stage cadence, pre-due reminders, promise and plan reminders (idempotency keys). This
    step chooses who gets what; the outbox's owner writes the rows (notifications.planning)."""
    start_of_day = dt.datetime.combine(ctx.as_of, dt.time.min, tzinfo=dt.UTC)
    base = ctx.params(product=product.pk, planned_for=start_of_day)

    def plan(
        select: str, params: dict[str, Any], since: dt.datetime | None = None, *, per_borrower: bool = False
    ) -> None:
        ctx.counts["messages_planned"] += messages_plan_bulk(
            select_sql=select.format(**T, OPEN=OPEN),
            params=params,
            now=ctx.now,
            unless_planned_since=since,
            per_borrower=per_borrower,
        )

    for stage, channels in (policy.cadence or {}).items():
        for channel, every in channels.items():
            once = every == 0
            since = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) if once else start_of_day - dt.timedelta(days=every)
            params = {**base, "channel": channel, "stage": stage}
            if channel == "letter":
                # A letter is a notice about one debt: one per case, once per stage or per interval.
                slot = "once" if once else ctx.as_of.isoformat()
                plan(
                    f"""
                    SELECT 'case:' || {as_text("c.id")} || ':' || c.state || ':' || %(channel)s || ':' || %(slot)s
                             AS idempotency_key,
                           c.borrower_id AS borrower_id, c.loan_id AS loan_id, c.id AS case_id,
                           %(channel)s AS channel, c.state AS purpose, %(planned_for)s AS planned_for
                    FROM {{case}} c JOIN {{loan}} l ON l.id = c.loan_id
                    WHERE c.state = %(stage)s AND l.product_id = %(product)s
                      AND c.loan_id BETWEEN %(lo)s AND %(hi)s AND {_NOT_IN_GRACE_C}
                    """,
                    {**params, "slot": slot},
                    since=since,
                )
                continue
            # Texts, calls and e-mails: one per borrower per slot, about every overdue loan of theirs (listed at
            # send time). The borrower's case in this stage with the lowest id stands for the borrower (whichever
            # chunk holds it: the condition reads all of the borrower's cases); the key names the borrower, so a
            # second stage of the same borrower the same day finds the slot taken. A once-per-stage message is one
            # per borrower, stage and day the stage was entered.
            slot_sql = f"c.state || ':once:' || {as_text('c.stage_entered_on')}" if once else "%(slot)s"
            same_entry = "AND o.stage_entered_on = c.stage_entered_on" if once else ""
            plan(
                f"""
                SELECT 'borrower:' || {as_text("c.borrower_id")} || ':' || %(channel)s || ':' || {slot_sql}
                         AS idempotency_key,
                       c.borrower_id AS borrower_id, c.loan_id AS loan_id, c.id AS case_id, %(channel)s AS channel,
                       c.state AS purpose, %(planned_for)s AS planned_for
                FROM {{case}} c JOIN {{loan}} l ON l.id = c.loan_id
                WHERE c.state = %(stage)s AND l.product_id = %(product)s AND c.loan_id BETWEEN %(lo)s AND %(hi)s
                  AND {_NOT_IN_GRACE_C}
                  -- Through the borrower index only: ``|| ''`` and ``+ 0`` keep the planner from ANDing in the
                  -- state index or the primary key for every candidate (measured: 20 times slower).
                  AND NOT EXISTS (SELECT 1 FROM {{case}} o WHERE o.borrower_id = c.borrower_id
                                  AND o.state || '' = c.state AND o.id + 0 < c.id {same_entry}
                                  AND (o.grace_until IS NULL OR o.grace_until < %(as_of)s))
                """,
                {**params, "slot": ctx.as_of.isoformat()},
                # Every ``every`` days (0: once per stage): not while one planned since then is still around.
                since=since,
                # The interval is the borrower's (not the case's); once per stage stays the standing case's.
                per_borrower=not once,
            )
    for offset in policy.pre_due_offsets or []:
        plan(
            f"""
            SELECT 'loan:' || {as_text("l.id")} || ':pre_due:' || {as_text("i.id")} || ':' || %(offset_text)s
                     AS idempotency_key,
                   l.borrower_id AS borrower_id, l.id AS loan_id, CAST(NULL AS BIGINT) AS case_id, 'sms' AS channel,
                   'pre_due' AS purpose, %(planned_for)s AS planned_for
            FROM {{inst}} i JOIN {{loan}} l ON l.id = i.loan_id
            WHERE i.paid_on IS NULL AND i.due_date = %(due)s AND l.status = 'active' AND l.days_past_due = 0
              AND l.product_id = %(product)s AND l.id BETWEEN %(lo)s AND %(hi)s
            """,
            {**base, "offset_text": str(offset), "due": ctx.as_of + dt.timedelta(days=offset)},
        )
    tomorrow = ctx.as_of + dt.timedelta(days=1)
    plan(
        f"""
        SELECT 'promise:' || {as_text("pr.id")} || ':reminder' AS idempotency_key, c.borrower_id AS borrower_id,
               c.loan_id AS loan_id, c.id AS case_id, 'sms' AS channel, 'promise_reminder' AS purpose,
               %(planned_for)s AS planned_for
        FROM {{promise}} pr JOIN {{case}} c ON c.id = pr.case_id JOIN {{loan}} l ON l.id = c.loan_id
        WHERE pr.status = 'open' AND pr.promised_on = %(tomorrow)s AND l.product_id = %(product)s
          AND c.loan_id BETWEEN %(lo)s AND %(hi)s
        """,
        {**base, "tomorrow": tomorrow},
    )
    plan(
        f"""
        SELECT 'plan_installment:' || {as_text("pi.id")} || ':reminder' AS idempotency_key,
               c.borrower_id AS borrower_id, c.loan_id AS loan_id, c.id AS case_id, 'sms' AS channel,
               'plan_reminder' AS purpose, %(planned_for)s AS planned_for
        FROM {{plan_inst}} pi JOIN {{plan}} pl ON pl.id = pi.plan_id JOIN {{case}} c ON c.id = pl.case_id
             JOIN {{loan}} l ON l.id = c.loan_id
        WHERE pl.status = 'active' AND pi.due_date = %(tomorrow)s AND pi.paid_amount < pi.amount
          AND l.product_id = %(product)s AND c.loan_id BETWEEN %(lo)s AND %(hi)s
        """,
        {**base, "tomorrow": tomorrow},
    )
    plan_validation_notices(ctx, product, plan)
    plan_uk_notices(ctx, product, plan)
    # Stage messages planned for a stage the case has left (escalated, paused, resolved) must not go out.
    in_chunk = CollectionCase.objects.filter(loan__product_id=product.pk, loan__id__range=(ctx.lo, ctx.hi))
    for stage in STAGE_PURPOSES:
        ctx.counts["messages_cancelled"] += messages_cancel(
            cases=in_chunk.exclude(state=stage).values("id"),
            purposes=[stage],
            reason="the case is no longer in this stage",
            now=ctx.now,
        )


# PER_CASE_COUNTS: the notices' "none yet" conditions are correlated counts, which PostgreSQL looks up per case
# through the outbox's loan and case indexes, rather than NOT EXISTS, which it turns into an anti-join planned from
# the statistics — and right after a first sweep has written hundreds of thousands of outbox rows those say there
# are none: the plan became a nested loop comparing every case with every notice (90 s for a quarter of 100,000
# cases in `make bench`; 86 ms as counts).


def notice_countries(param: str) -> str:
    """The countries whose profiles carry ``param`` (a notice the system plans: ``validation_notice`` for the US),
    as an SQL list of literals — each checked to be an ISO code, so nothing else reaches the statement — or "" when
    no profile asks for it."""
    countries = {c for p in profiles_current() if param in p.params for c in p.params["applies_to"]["countries"]}
    return ", ".join(f"'{c}'" for c in sorted(countries) if re.fullmatch(r"[A-Z]{2}", c))


# s.86B(2)-(3): while the arrears last, a further notice of sums in arrears at intervals of not more than 6 months.
ARREARS_NOTICE_REPEAT = dt.timedelta(days=181)  # planned then, it leaves within the 6 months
# A default notice the mail house returned is planned again after a week (time for a person to correct the address).
DEFAULT_NOTICE_RETRY = dt.timedelta(days=7)


def plan_uk_notices(ctx: Chunk, product: LoanProduct, plan: Any) -> None:
    """The Consumer Credit Act's notices, as letters, for borrowers in a country whose profile asks for them (UK_CONC):

    - the notice of sums in arrears (s.86B) once the loan has ``missed_payments`` unpaid instalments past their due
      date (s.86B applies to agreements with two payments or more due: a single-payment loan never gets one), and
      again every 6 months while the case stays open;
    - the default notice (s.87) as the case reaches formal notice, or one in legal review without one (opened before
      this existed: DN-01 would hold it there) — not during a breathing space, which stops every step towards
      enforcement (BS-01) —, once per case; a week after one came back undelivered, once more. Its PDF, made when
      the letter is sent, names the remedy date; DN-01 keeps legal action back until that date passed.

    Not while the case is on hold, where dispatch would cancel it; planned again when every earlier one was cancelled.
    A letter the gate refused stays for a person to look at (the gate's reason)."""
    base = ctx.params(product=product.pk, planned_for=_start_of(ctx.as_of))
    arrears = next((p.params["arrears_notice"] for p in profiles_current() if "arrears_notice" in p.params), None)
    listed = notice_countries("arrears_notice")
    if arrears is not None and listed:
        plan(
            f"""
            SELECT 'arrears_notice:case:' || {as_text("c.id")} || ':' || %(slot)s AS idempotency_key,
                   c.borrower_id AS borrower_id, c.loan_id AS loan_id, c.id AS case_id, 'letter' AS channel,
                   'arrears_notice' AS purpose, %(planned_for)s AS planned_for
            FROM {{case}} c JOIN {{loan}} l ON l.id = c.loan_id JOIN {{borrower}} b ON b.id = c.borrower_id
            WHERE c.state IN {{OPEN}} AND c.state <> 'on_hold'
              AND l.product_id = %(product)s AND c.loan_id BETWEEN %(lo)s AND %(hi)s
              AND b.country IN ({listed})
              AND (SELECT COUNT(*) FROM {{inst}} i WHERE i.loan_id = c.loan_id AND i.paid_on IS NULL
                   AND i.due_date < %(as_of)s) >= %(missed)s
              AND (SELECT COUNT(*) FROM {{outbox}} m WHERE m.case_id = c.id AND m.purpose = 'arrears_notice'
                   AND m.status <> 'cancelled' AND (m.sent_at IS NULL OR m.sent_at >= %(repeat_after)s)) = 0
            """,
            {
                **base,
                "slot": ctx.as_of.isoformat(),
                "missed": int(arrears["missed_payments"]),
                "repeat_after": _start_of(ctx.as_of - ARREARS_NOTICE_REPEAT),
            },
        )
    listed = notice_countries("default_notice")
    if listed:
        plan(
            f"""
            SELECT 'default_notice:case:' || {as_text("c.id")} || ':' || %(slot)s AS idempotency_key,
                   c.borrower_id AS borrower_id, c.loan_id AS loan_id, c.id AS case_id, 'letter' AS channel,
                   'default_notice' AS purpose, %(planned_for)s AS planned_for
            FROM {{case}} c JOIN {{loan}} l ON l.id = c.loan_id JOIN {{borrower}} b ON b.id = c.borrower_id
            WHERE c.state IN ('formal_notice', 'legal_review')
              AND l.product_id = %(product)s AND c.loan_id BETWEEN %(lo)s AND %(hi)s
              AND b.country IN ({listed})
              AND {no_breathing_space("c")}
              AND (SELECT COUNT(*) FROM {{outbox}} m WHERE m.case_id = c.id AND m.purpose = 'default_notice'
                   AND m.status <> 'cancelled' AND (m.status <> 'failed' OR m.updated_at >= %(retry_after)s)) = 0
            """,
            {**base, "slot": ctx.as_of.isoformat(), "retry_after": ctx.now - DEFAULT_NOTICE_RETRY},
        )


def plan_validation_notices(ctx: Chunk, product: LoanProduct, plan: Any) -> None:
    """VAL-01: the validation notice of every open case of a borrower in a country that asks for one, unless the
    debt's notice was mailed already (its ``DebtClock``) or one is on its way: a letter, and an e-mail too where the
    borrower consented to e-mail (an opt-in or a written consent recorded for an address they still have) — both
    carry the notice's PDF, made when they are sent (the mailing date the notice states).

    When: as the case opens — the same sweep that plans its first reminder — rather than after the first
    communication. An operations team sends the validation letter on placement: the 5-day clock (1006.34(a)(1)) starts
    with whatever reaches the borrower first, a text may go out the same morning, and a letter spends a day at the
    mail house, so waiting for the first contact would leave little of the 5 days and a late run of the sweep would
    cost the whole desk its right to call (the gate's VAL-01 denies past day 5). Once per debt and channel: never
    while one is on its way or once one left, failed or was refused (a person looks at those: the gate's reason, the
    address); planned again only after every earlier one was cancelled (the case went on hold or closed before it
    left) — not while the case is on hold, where dispatch would cancel it. Cases opened before this existed are caught
    up the same way."""
    listed = notice_countries("validation_notice")
    if not listed:
        return
    for channel in ("letter", "email"):
        consented = (
            """AND EXISTS (SELECT 1 FROM {consent} ce JOIN {email} em ON em.borrower_id = ce.borrower_id
                                AND em.address = ce.address
                           WHERE ce.borrower_id = c.borrower_id AND ce.medium = 'email'
                             AND ce.kind IN ('opt_in', 'written_consent')
                             AND NOT EXISTS (SELECT 1 FROM {consent} oo WHERE oo.borrower_id = ce.borrower_id
                                             AND oo.medium = 'email' AND oo.address = ce.address
                                             AND oo.kind = 'opt_out' AND oo.at > ce.at))"""
            if channel == "email"
            else ""
        )
        plan(
            f"""
            SELECT 'validation_notice:case:' || {as_text("c.id")} || ':' || %(channel)s || ':' || %(slot)s
                     AS idempotency_key,
                   c.borrower_id AS borrower_id, c.loan_id AS loan_id, c.id AS case_id, %(channel)s AS channel,
                   'validation_notice' AS purpose, %(planned_for)s AS planned_for
            FROM {{case}} c JOIN {{loan}} l ON l.id = c.loan_id JOIN {{borrower}} b ON b.id = c.borrower_id
            WHERE c.state IN {{OPEN}} AND c.state <> 'on_hold'
              AND l.product_id = %(product)s AND c.loan_id BETWEEN %(lo)s AND %(hi)s
              AND b.country IN ({listed})
              -- Counts looked up per case, not NOT EXISTS: see PER_CASE_COUNTS.
              AND (SELECT COUNT(*) FROM {{clock}} k WHERE k.loan_id = c.loan_id AND k.notice_sent_at IS NOT NULL) = 0
              AND (SELECT COUNT(*) FROM {{outbox}} m WHERE m.loan_id = c.loan_id
                   AND m.purpose = 'validation_notice' AND m.channel = %(channel)s AND m.status <> 'cancelled') = 0
              {consented}
            """,
            {
                **ctx.params(product=product.pk, planned_for=_start_of(ctx.as_of)),
                "channel": channel,
                "slot": ctx.as_of.isoformat(),
            },
        )


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def assign_unassigned(now: dt.datetime) -> int:
    """One owner per borrower: a new case of a borrower who already has an open case with a collector goes to the
    collector of the earliest such case (and their team), if they are still active; the other borrowers are dealt
    round-robin by workload within the team whose language is the borrower's (collectors only), a borrower at a
    time, so that all of a new borrower's cases go to one collector. Two set-based statements, each joining the
    cases it updates by primary key: the owner is found per unassigned case through the borrower index, and a
    borrower's turn in the deal is a window rank (no join of the new cases back to their borrowers, whose plan
    depends on statistics a first sweep has not gathered yet)."""
    inherited = execute(
        """
        WITH pairs AS (
            SELECT c.id AS case_id,
                   -- Only the borrower index: ``|| ''`` and ``+ 0`` keep the planner from ANDing in the partial
                   -- index of open cases or the collector index (measured on a first sweep of 8,000 new cases,
                   -- before statistics are gathered: 11 s and 5 s instead of a tenth of a second).
                   (SELECT MIN(o.id) FROM {case} o
                    WHERE o.borrower_id = c.borrower_id AND o.state || '' IN {OPEN} AND o.assigned_to_id + 0 > 0
                   ) AS owner_case
            FROM {case} c
            WHERE c.assigned_to_id IS NULL AND c.state IN {OPEN}
        )
        UPDATE {case} SET assigned_to_id = owner.assigned_to_id, team_id = owner.team_id
        FROM pairs JOIN {case} owner ON owner.id = pairs.owner_case
             JOIN auth_user u ON u.id = owner.assigned_to_id AND u.is_active
        WHERE {case}.id = pairs.case_id
        """,
        {"now": now},
    )
    return inherited + execute(
        """
        WITH agents AS (
            SELECT m.user_id, m.team_id, t.language,
                   ROW_NUMBER() OVER (PARTITION BY t.language ORDER BY
                       (SELECT COUNT(*) FROM {case} w WHERE w.assigned_to_id = m.user_id AND w.state IN {OPEN}),
                       m.user_id) - 1 AS rn,
                   COUNT(*) OVER (PARTITION BY t.language) AS n
            FROM {member} m JOIN {team} t ON t.id = m.team_id JOIN auth_user u ON u.id = m.user_id
            WHERE u.is_active AND m.accepts_new_cases
              AND EXISTS (SELECT 1 FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id
                          WHERE ug.user_id = u.id AND g.name = 'collector')
        ), waiting AS (
            SELECT c.id, c.borrower_id, b.language, MAX(c.priority) OVER (PARTITION BY c.borrower_id) AS top
            FROM {case} c JOIN {borrower} b ON b.id = c.borrower_id
            WHERE c.assigned_to_id IS NULL AND c.state IN {OPEN}
        ), todo AS (
            -- The same rank for every case of a borrower: the borrower's turn in the deal.
            SELECT id, language, DENSE_RANK() OVER (PARTITION BY language ORDER BY top DESC, borrower_id) - 1 AS rn
            FROM waiting
        ), pairs AS (
            SELECT todo.id AS case_id, agents.user_id, agents.team_id
            FROM todo JOIN agents ON agents.language = todo.language AND agents.rn = todo.rn %% agents.n
        )
        UPDATE {case} SET assigned_to_id = pairs.user_id, team_id = pairs.team_id
        FROM pairs WHERE {case}.id = pairs.case_id
        """,
        {"now": now},
    )
