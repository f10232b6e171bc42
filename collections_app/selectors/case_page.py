"""One case as its page shows it: the "can I contact now?" panel (the gate's dry run), borrower, schedule, payments,
messages and the timeline, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils.translation import gettext_lazy as _

from collections_app.labels import BORROWER, actor_words, channel_label, state_label, transition_label
from collections_app.models import CollectionCase, ComplaintStatus
from compliance.engine import Attempt, Profile, StaffFact, applicable, contact_point, evaluate
from compliance.models import ContactEvent
from compliance.services import facts_load, staff_facts, to_kind_for
from loans.models import Borrower, PaymentCheckout
from loans.money import format_money
from notifications.models import OutboundMessage, PortalEvent, PortalEventKind
from notifications.planning import BORROWER_WIDE


def _dispute_of(hold: Any) -> Any:
    """The hold's dispute record, if it is a dispute's (loaded with the hold)."""
    return getattr(hold, "dispute", None) if hold.kind == "dispute" else None


def borrower_zone(borrower: Borrower) -> str:
    """The zone a time typed about this borrower is read in (a visit window, a callback): their first candidate zone
    (the address's), UTC when none is known."""
    return (borrower.time_zones or ["UTC"])[0]


def gate_dry_run(
    borrower: Any,
    profiles: list[Any],
    *,
    channel: str,
    to: str,
    loan_id: int,
    now: dt.datetime,
    chinese: bool,
    staff: tuple[StaffFact, ...] = (),
) -> ChannelAnswer:
    """The gate's answer for a contact now, evaluated and not stored (a page view is not a contact). ``staff``: the
    reader and their training records (CERT-01), for the contacts they would make themselves."""
    attempt = Attempt(
        channel=channel,
        at=now,
        to=to,
        to_kind=to_kind_for(borrower, channel, to),
        automated=channel == "sms",  # texts leave through the platform; a collector dials a call by hand
        debts=(loan_id,),
        staff=staff if channel in MANUAL_CHANNELS else (),
    )
    result = evaluate(attempt, borrower, profiles)
    return ChannelAnswer(
        channel=channel,
        to=to,
        allowed=result.allowed,
        outcome=result.outcome,
        reasons=[(r.rule, r.message_zh if chinese else r.message) for r in result.reasons],
        next_allowed_at=result.next_allowed_at,
    )


PANEL_CHANNELS = ("call", "sms", "email", "letter", "visit")
# The panel's contacts the reader makes (or asks for) themselves: CERT-01 asks for their training record.
MANUAL_CHANNELS = {"call", "sms", "visit"}
# The gate's refusals for want of consent to a text: none on record (TCPA-01), revoked or opted out (TCPA-02, USF-06).
CONSENT_RULES = {"TCPA-01", "TCPA-02", "USF-06"}


@dataclass(frozen=True)
class ChannelAnswer:
    channel: str
    to: str
    allowed: bool
    outcome: str
    reasons: list[tuple[str, str]]  # (rule, message in the reader's language)
    next_allowed_at: dt.datetime | None


def reader_staff(borrower: Any, profiles: list[Any], reader: Any) -> tuple[StaffFact, ...]:
    """The reader and their training records, when a profile that applies to the borrower requires them (CERT-01):
    one query then, none otherwise."""
    if reader is None or not getattr(reader, "pk", None):
        return ()
    chosen = applicable(profiles, borrower.country, borrower.region, borrower.city)
    if not any((p.params.get("collector_certification") or {}).get("required") for p in chosen):
        return ()
    return staff_facts([reader.pk])


def contact_panel(
    *, case: CollectionCase, now: dt.datetime, chinese: bool, reader: Any = None
) -> tuple[list[ChannelAnswer], Any, list[Profile]]:
    """May we contact this borrower now, per channel, and if not why and when? The gate's own rules, evaluated
    as a dry run and not stored (a page view is not a contact); the reader's own calls, texts and visits with their
    training record where one is required (CERT-01). Returns the answers, and the facts and the current
    jurisdiction profiles they used (read in one query)."""
    facts, loaded = facts_load([case.borrower_id], at=now, with_profiles=True)
    borrower = facts[case.borrower_id]
    profiles = loaded or []
    staff = reader_staff(borrower, profiles, reader)
    answers = [
        gate_dry_run(borrower, profiles, channel=channel, to=contact_point(borrower, channel), loan_id=case.loan_id,
                 now=now, chinese=chinese, staff=staff)
        for channel in PANEL_CHANNELS
    ]  # fmt: skip
    return answers, borrower, profiles


def case_page(*, case: CollectionCase, now: dt.datetime, chinese: bool, reader: Any = None) -> dict[str, Any]:
    """Everything the case page shows, in a fixed number of queries whatever the case's history."""

    panel, facts, profiles = contact_panel(case=case, now=now, chinese=chinese, reader=reader)

    def sms_consented(number: str) -> bool:
        # What the gate counts, not the flag typed with the number: a text to it is not refused for want of consent
        # (no SMS consent, no TCPA consent to automated texts, an opt-out). The card and the panel agree.
        if number not in facts.sms_consent:
            return False
        answer = gate_dry_run(facts, profiles, channel="sms", to=number, loan_id=case.loan_id, now=now, chinese=chinese)
        return not any(rule in CONSENT_RULES for rule, _message in answer.reasons)

    phones = [
        {
            "number": str(p.number),
            "kind": p.get_kind_display(),
            "sms_consent": sms_consented(str(p.number)),
            "autodial": str(p.number) in facts.autodial_consent,
            "sms_opted_out": str(p.number) in facts.sms_opted_out,
        }
        for p in case.borrower.phones.all().order_by("id")
    ]
    # Formatted here: a template would show an aware datetime in the reader's time zone, not the borrower's.
    zones = [(zone, now.astimezone(ZoneInfo(zone)).strftime("%H:%M")) for zone in facts.zones]
    messages = _case_messages(case)
    timeline: list[dict[str, Any]] = []
    currency = case.loan.currency

    def item(at: dt.datetime, kind: str, title: str, detail: str = "", who: str = "", exception: bool = False) -> None:
        timeline.append({"at": at, "kind": kind, "title": title, "detail": detail, "who": who, "exception": exception})

    for t in case.transitions.all().order_by("-at")[:100]:
        moved = f"{state_label(t.from_state) if t.from_state else '·'} → {state_label(t.to_state)}"
        title = f"{transition_label(t.transition)} ({moved})"  # a row that moves no state says what it did too
        item(t.at, "transition", title, t.reason, actor_words(t.actor_label))
    for e in ContactEvent.objects.filter(borrower_id=case.borrower_id).order_by("-at")[:100]:
        title = f"{e.get_direction_display()} {channel_label(e.channel)}: {e.get_outcome_display()}"
        item(e.at, "contact", title, e.note, exception=e.is_exception)
    for n in case.notes.select_related("author").order_by("-created_at")[:100]:
        item(n.created_at, "note", n.text, who=n.author.get_username())
    for p in case.promises.order_by("-created_at")[:50]:
        promised = _("%(amount)s by %(date)s") % {"amount": format_money(p.amount, currency), "date": p.promised_on}
        item(p.created_at, "promise", promised, p.get_status_display())
    for plan in case.plans.order_by("-created_at")[:20]:
        item(plan.created_at, "plan", f"{format_money(plan.total_amount, currency)} ({plan.get_frequency_display()})",
             plan.get_status_display())  # fmt: skip
    # One query for both uses: the 20 latest holds (the timeline) and every hold in force (the actions).
    latest = case.holds.order_by("-placed_at", "-id").values("pk")[:20]
    holds = list(
        case.holds.filter(Q(lifted_at__isnull=True) | Q(pk__in=latest))
        .select_related("restriction")  # a breathing space's terms (its type, the crisis treatment's end)
        .annotate(recent=ExpressionWrapper(Q(pk__in=latest), output_field=BooleanField()))
        .select_related("dispute__verification_message")  # a dispute's workflow (DSP-01), in the same query
        .order_by("-placed_at", "-id")
    )
    for h in holds:
        if h.recent:
            item(h.placed_at, "hold", h.get_kind_display(), h.reason)
    # Forbearance (FB-01): the whole record, for the timeline and the form's list (one query).
    forbearances = list(case.forbearances.select_related("recorded_by").order_by("-pk"))
    for f in forbearances:
        span = f" · {f.starts_on}–{f.ends_on or ''}" if f.starts_on else ""
        item(f.recorded_at, "forbearance", f"{f.get_kind_display()}{span}", f.details, f.recorded_by.get_username())
    # Complaints (CMP-01): received, acknowledged and resolved, each when it happened (one query).
    complaints = (
        case.complaints.exclude(status__in=[ComplaintStatus.POSSIBLE, ComplaintStatus.DISMISSED])
        .select_related("recorded_by", "acknowledged_by", "resolved_by")
        .order_by("-received_at")[:20]
    )
    for c in complaints:
        received = _("Complaint received: %(category)s, by %(channel)s") % {
            "category": c.get_category_display(),
            "channel": c.get_channel_display(),
        }
        due = _("acknowledge by %(ack)s, final response by %(final)s") % {"ack": c.acknowledge_by, "final": c.final_by}
        who = c.recorded_by.get_username() if c.recorded_by else actor_words(BORROWER)
        item(c.received_at, "complaint", str(received), f"{c.summary} ({due})", who)
        if c.acknowledged_at and c.acknowledged_by:
            item(c.acknowledged_at, "complaint", str(_("Complaint acknowledged")), "", c.acknowledged_by.get_username())
        if c.resolved_at and c.resolved_by:
            resolved = _("Complaint resolved: %(outcome)s") % {"outcome": c.get_outcome_display()}
            item(c.resolved_at, "complaint", str(resolved), c.response_text, c.resolved_by.get_username())
    for v in case.visits.order_by("-window_start")[:20]:
        item(v.window_start, "visit", v.address, v.get_status_display())
    for k in case.keypresses.order_by("-at")[:50]:  # what the borrower pressed on reminder calls
        pressed = _("pressed %(keys)s") % {"keys": k.digits} if k.digits else _("no key pressed")
        outcome = _("done") if k.done else _("not done")
        item(k.at, "keypress", f"{k.get_action_display()} ({pressed})", str(outcome), actor_words(BORROWER))
    # What the borrower did on their own page (the audit of portal/): always the borrower, through one link.
    portal_events = list(
        PortalEvent.objects.filter(borrower_id=case.borrower_id).select_related("link").order_by("-at")[:50]
    )
    # Payments started and completed there, with their amounts and loans (one query, only when there are some).
    keys = {pe.payment_key for pe in portal_events if pe.payment_key}
    paid = {
        c["idempotency_key"]: c
        for c in PaymentCheckout.objects.filter(idempotency_key__in=keys).values(
            "idempotency_key", "amount", "currency", "loan__external_id"
        )
    } if keys else {}  # fmt: skip
    for pe in portal_events:
        where = _("link %(link)s, from %(address)s") % {"link": pe.link.public_id, "address": pe.ip or "?"}
        if pe.kind == PortalEventKind.PAY_COMPLETED:
            where = _("link %(link)s, confirmed by the payment provider") % {"link": pe.link.public_id}
        title = pe.get_kind_display()
        checkout = paid.get(pe.payment_key)
        if checkout is not None:
            title = _("%(what)s: %(amount)s on loan %(loan)s") % {
                "what": title,
                "amount": format_money(checkout["amount"], checkout["currency"]),
                "loan": checkout["loan__external_id"],
            }
        item(pe.at, "portal", str(title), str(where), actor_words(BORROWER))
    timeline.sort(key=lambda item: item["at"], reverse=True)
    return {
        "today": now.date(),
        "case": case,
        "loan": case.loan,
        "borrower": case.borrower,
        "installments": list(case.loan.installments.order_by("number")),
        "active_holds": [h for h in holds if h.lifted_at is None],
        "forbearances": forbearances,
        # The profiles that apply to the borrower's address (UK-02 reads whether UK_CONC is one).
        "profile_codes": [p.code for p in applicable(profiles, case.borrower.country, case.borrower.region)],
        "profiles": applicable(profiles, case.borrower.country, case.borrower.region, case.borrower.city),
        "open_disputes": [h.dispute for h in holds if h.lifted_at is None and _dispute_of(h) is not None],
        "payments": list(case.loan.payments.order_by("-received_at")[:20]),
        "phones": phones,
        "zones": zones,
        "panel": panel,
        "chinese": chinese,
        "outbox": messages,
        "timeline": timeline,
        "priority_parts": [
            (_("Days past due"), case.priority_dpd, 40),
            (_("Share overdue"), case.priority_amount, 20),
            (_("Broken promises"), case.priority_promises, 15),
            (_("Since last contact"), case.priority_contact, 10),
            (_("Reachable"), case.priority_reach, 10),
            (_("Payment history"), case.priority_history, 5),
        ],
    }


def _case_messages(case: CollectionCase) -> list[OutboundMessage]:
    """The case's messages, and the borrower-wide reminders sent about its loan while filed on a sibling case (one
    reminder per borrower per slot is stored on one of the borrower's cases; the ledger entry its decision reserved
    names every loan it covered). Three queries; the debts are matched in Python because SQLite, the embedded
    default, has no JSON containment."""
    own = OutboundMessage.objects.filter(case=case).select_related("decision").order_by("-planned_for", "-id")[:50]
    wide = list(
        OutboundMessage.objects.filter(
            borrower_id=case.borrower_id, idempotency_key__startswith=BORROWER_WIDE, decision__isnull=False
        )
        .exclude(case=case)
        .select_related("decision")
        .order_by("-planned_for", "-id")[:50]
    )
    covering: set[int] = set()
    if wide:
        for decision_id, debts in ContactEvent.objects.filter(
            decision_id__in=[m.decision_id for m in wide]
        ).values_list("decision_id", "debts"):
            if case.loan_id in {int(d) for d in debts or []}:
                covering.add(decision_id)
    rows = [*own, *(m for m in wide if m.decision_id in covering)]
    return sorted(rows, key=lambda m: (m.planned_for, m.pk), reverse=True)[:50]
