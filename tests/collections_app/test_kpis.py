"""One test per KPI formula of docs/kpis.md, on a small portfolio built by hand: every expected number is worked out
in the test's docstring or comments from the rows the test writes, not read back from the code.

The period throughout is the 30 days [2024-05-02 00:00 UTC, 2024-06-01 00:00 UTC)."""

import datetime as dt
from decimal import Decimal

import pytest

from collections_app.models import CollectionCase, Complaint
from collections_app.selectors import kpis
from collections_app.selectors.kpis import FlowTotal
from collections_app.selectors.reports import message_stats
from compliance.models import Decision, VulnerabilityRecord
from tests.factories import (
    CallDispositionFactory,
    ContactEventFactory,
    DecisionFactory,
    OutboundMessageFactory,
    PaymentFactory,
    PromiseFactory,
    make_case,
    overdue_loan,
    user_with_role,
)

pytestmark = pytest.mark.django_db

SINCE = dt.datetime(2024, 5, 2, tzinfo=dt.UTC)
UNTIL = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
D = dt.date


def at(day: dt.date, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


def case(opened: dt.date, *, entry_dpd: int = 10, state: str = "reminder", entered: dt.date | None = None, **kw):
    """A case opened on ``opened`` with ``entry_dpd`` days past due then, in ``state`` since ``entered``."""
    return make_case(state=state, opened_on=opened, stage_entered_on=entered or opened,
                     entry_days_past_due=entry_dpd, **kw)  # fmt: skip


def all_cases():
    return CollectionCase.objects.all()


def borrowers():
    return CollectionCase.objects.values("borrower_id")


def test_cure_rate_by_entry_bucket_within_30_60_90_days():
    """The N-day cohort: cases opened in (since - N, until - N], i.e. whose N-day window ended in the period.
    30 days: opened 2024-04-03 .. 2024-05-02; 60 days: 2024-03-04 .. 2024-04-02; 90 days: 2024-02-03 .. 2024-03-03.

    1-30 at opening, 30 days: A (cured in 15 days), B (cured in 35: too late), C (still open) -> 1 / 3.
    1-30 at opening, 60 days: E (cured in 51 days) -> 1 / 1.
    1-30 at opening, 90 days: F (closed, written off: not a cure) -> 0 / 1.
    31-60 at opening, 30 days: D (cured in 25 days) -> 1 / 1; 60 and 90 days: no case -> no rate.
    G (opened 2024-05-10) has no window ended yet and counts nowhere."""
    case(D(2024, 4, 10), state="resolved", entered=D(2024, 4, 25))  # A
    case(D(2024, 4, 20), state="resolved", entered=D(2024, 5, 25))  # B
    case(D(2024, 4, 15), entry_dpd=20)  # C
    case(D(2024, 4, 5), entry_dpd=45, state="resolved", entered=D(2024, 4, 30))  # D
    case(D(2024, 3, 10), state="resolved", entered=D(2024, 4, 30))  # E
    case(D(2024, 2, 10), state="closed", entered=D(2024, 3, 1))  # F
    case(D(2024, 5, 10))  # G

    rates = {row["bucket"]: {w["days"]: (w["cured"], w["cases"], w["rate"]) for w in row["windows"]}
             for row in kpis.cure_rates(all_cases(), since=SINCE.date(), until=UNTIL.date())}  # fmt: skip
    assert rates["1-30"] == {30: (1, 3, pytest.approx(1 / 3)), 60: (1, 1, 1.0), 90: (0, 1, 0.0)}
    assert rates["31-60"] == {30: (1, 1, 1.0), 60: (0, 0, None), 90: (0, 0, None)}
    assert rates["61-90"][30] == (0, 0, None)


def test_roll_rates_follow_the_same_loans_and_count_a_loan_that_rolled_once():
    """Loans followed from T0 = 2024-05-02 to T = 2024-06-01 (balances on T0 in brackets):

    current: 100 loans (10,000) — 90 still current, 8 now 1-30 (1,600), 2 repaid: count 8/100 = 0.08,
             balance 1,600/10,000 = 0.16.
    1-30:     20 loans (4,000) — 6 now 31-60 (1,000), 1 now 61-90 (200: rolled too, counted once), 13 cured:
             count 7/20 = 0.35, balance 1,200/4,000 = 0.30.
    61-90:     4 loans (2,000) — 3 now 91-180 (1,500), 1 paid off: 3/4 = 0.75, 1,500/2,000 = 0.75. Bucket totals
             would have said 9/4 with the 6 loans already in 91-180 on T0 (which roll to 91-180 or stay): following
             loans, no rate passes 100 %.
    91-180:    6 loans (3,000) — 5 stay, 1 now 181+ (400): 1/6, 400/3,000.
    181+ rolls nowhere: no rate from it. A CNY cohort is its own currency."""
    t0, t = D(2024, 5, 2), D(2024, 6, 1)

    def flow(source, target, loans, then, currency="USD"):
        return FlowTotal(t, t0, currency, source, target, loans, Decimal(then))

    flows = [
        flow("current", "current", 90, 8000), flow("current", "1-30", 8, 1600), flow("current", "", 2, 400),
        flow("1-30", "31-60", 6, 1000), flow("1-30", "61-90", 1, 200), flow("1-30", "current", 13, 2800),
        flow("61-90", "91-180", 3, 1500), flow("61-90", "", 1, 500),
        flow("91-180", "91-180", 5, 2600), flow("91-180", "181+", 1, 400),
        flow("181+", "181+", 7, 9000), flow("1-30", "31-60", 1, 50, currency="CNY"),
    ]  # fmt: skip
    rates = {(f["currency"], f["from"], f["to"]): (f["count_rate"], f["balance_rate"], f["loans_to"], f["loans_from"])
             for f in kpis.roll_rates(flows)}  # fmt: skip
    assert rates == {
        ("USD", "current", "1-30"): (pytest.approx(0.08), pytest.approx(0.16), 8, 100),
        ("USD", "1-30", "31-60"): (pytest.approx(0.35), pytest.approx(0.30), 7, 20),
        ("USD", "61-90", "91-180"): (pytest.approx(0.75), pytest.approx(0.75), 3, 4),
        ("USD", "91-180", "181+"): (pytest.approx(1 / 6), pytest.approx(400 / 3000), 1, 6),
        ("CNY", "1-30", "31-60"): (1.0, 1.0, 1, 1),
    }
    assert kpis.roll_rates([]) == []


def test_promise_kept_rate_by_amount_band_and_currency():
    """Promises due (pay-by day) in the period and settled, per band [low, high) in the loan's currency:

    USD <100:      50.00 kept, 99.99 broken -> 1 / 2
    USD 100-500:   100.00 kept (the band starts at 100), 499.00 partly kept (not kept) -> 1 / 2
    USD 500-2,000: none settled -> no row counted (700 open and 800 cancelled are left out, 600 kept was due
                   before the period)
    USD ≥2,000:    2,000.00 kept -> 1 / 1
    CNY ≥2,000:    3,000.00 broken -> 0 / 1"""
    usd, cny = case(D(2024, 5, 1)), case(D(2024, 5, 1), loan=overdue_loan(currency="CNY"))
    for amount, status, due in (
        ("50", "kept", D(2024, 5, 10)), ("99.99", "broken", D(2024, 5, 11)), ("100", "kept", D(2024, 5, 12)),
        ("499", "partial", D(2024, 5, 13)), ("800", "cancelled", D(2024, 5, 14)), ("600", "kept", D(2024, 4, 30)),
        ("2000", "kept", D(2024, 6, 1)),
    ):  # fmt: skip
        PromiseFactory(case=usd, amount=Decimal(amount), status=status, promised_on=due)
    PromiseFactory(case=usd, amount=Decimal("700"), status="open", promised_on=D(2024, 5, 20))
    PromiseFactory(case=cny, amount=Decimal("3000"), status="broken", promised_on=D(2024, 5, 20))

    bands = {(r["currency"], r["band"]): (r["kept"], r["due"], r["rate"])
             for r in kpis.promise_kept_by_band(all_cases(), since=SINCE.date(), until=UNTIL.date())}  # fmt: skip
    assert bands == {
        ("USD", "<100"): (1, 2, 0.5),
        ("USD", "100–500"): (1, 2, 0.5),
        ("USD", "500–2,000"): (0, 0, None),
        ("USD", "≥2,000"): (1, 1, 1.0),
        ("CNY", "<100"): (0, 0, None),
        ("CNY", "100–500"): (0, 0, None),
        ("CNY", "500–2,000"): (0, 0, None),
        ("CNY", "≥2,000"): (0, 1, 0.0),
    }


def test_right_party_contact_rate_from_dispositions():
    """Attempts: the collector's outbound calls in the period, not automated, that were tried — four of them:
    a conversation disposed "right party", a conversation disposed "third party", no answer, voicemail.
    Left out: an automated call, an inbound call, a call before the period, a reservation. -> 1 / 4."""
    collector = user_with_role("collector", "casey")
    c = case(D(2024, 5, 1), worked_by=collector)
    day = at(D(2024, 5, 10))
    for outcome, party in (("conversation", "right_party"), ("conversation", "third_party"),
                           ("no_answer", None), ("voicemail", None)):  # fmt: skip
        decision = DecisionFactory(borrower=c.borrower)
        ContactEventFactory(borrower=c.borrower, outcome=outcome, at=day, actor=collector, decision=decision)
        if party:
            CallDispositionFactory(case=c, decision=decision, party=party, actor=collector)
    ContactEventFactory(borrower=c.borrower, outcome="conversation", at=day, automated=True)
    ContactEventFactory(borrower=c.borrower, outcome="conversation", at=day, direction="inbound", actor=collector)
    ContactEventFactory(borrower=c.borrower, outcome="conversation", at=at(D(2024, 4, 30)), actor=collector)
    ContactEventFactory(borrower=c.borrower, outcome="reserved", at=day, actor=collector)

    assert kpis.right_party_contact(borrowers(), since=SINCE, until=UNTIL) == {"calls": 4, "right_party": 1,
                                                                               "rate": 0.25}  # fmt: skip


def test_liquidation_rate_collected_since_opening_over_overdue_at_opening():
    """Cases opened in the period, per currency:

    L1 USD: 200.00 overdue at opening (2024-05-05); paid 50 the day before (not counted), 80 and 40 after -> 120.
    L2 USD: 100.00 at opening (2024-05-12), resolved 2024-05-15; paid 100 that day, 30 after it was resolved (not
            counted) -> 100.
    L3 USD: opened 2024-04-01, before the period: left out (its 300 paid too).
    L4 CNY: 1,000.00 at opening (2024-05-20); paid 250, and 10 after the period (not counted) -> 250.
    USD: (120 + 100) / (200 + 100) = 220 / 300; CNY: 250 / 1,000 = 0.25."""
    l1 = case(D(2024, 5, 5), entry_amount_overdue=Decimal("200"))
    l2 = case(D(2024, 5, 12), entry_amount_overdue=Decimal("100"), state="resolved", entered=D(2024, 5, 15))
    l3 = case(D(2024, 4, 1), entry_amount_overdue=Decimal("300"))
    l4 = case(D(2024, 5, 20), entry_amount_overdue=Decimal("1000"), loan=overdue_loan(currency="CNY"))
    for c, amount, day in ((l1, 50, D(2024, 5, 4)), (l1, 80, D(2024, 5, 10)), (l1, 40, D(2024, 5, 20)),
                           (l2, 100, D(2024, 5, 15)), (l2, 30, D(2024, 5, 28)), (l3, 300, D(2024, 5, 10)),
                           (l4, 250, D(2024, 5, 21)), (l4, 10, D(2024, 6, 2))):  # fmt: skip
        PaymentFactory(loan=c.loan, amount=Decimal(amount), received_at=at(day))

    rows = {r["currency"]: r for r in kpis.liquidation(all_cases(), since=SINCE.date(), until=UNTIL)}
    assert (rows["USD"]["cases"], rows["USD"]["overdue"], rows["USD"]["collected"]) == (2, 300, 220)
    assert rows["USD"]["rate"] == pytest.approx(220 / 300)
    assert (rows["CNY"]["cases"], rows["CNY"]["collected"], rows["CNY"]["rate"]) == (1, 250, 0.25)


def test_contacts_per_collector_per_day_and_collected_per_collector_hour():
    """casey's contacts: 2024-05-10 at 09:00, 10:30 and 12:00 (3 h from first to last), 2024-05-11 one at 14:00
    (a quarter of an hour, the least a day counts) -> 4 contacts in 2 days = 2.0 a day, 3.25 h.
    Not casey's contacts: an automated one, a reservation. dana: one contact on 2024-05-10 -> 1.0 a day, 0.25 h.

    Collected on casey's cases in the period while they were open: K1 (open) 130 + 65 = 195; K2's 100 came after
    it was resolved. 195 / 3.25 h = 60.00 an hour. erin collected 50 on K3 but logged no contact: no hours, no rate.
    """
    casey, dana, erin = (user_with_role("collector", n) for n in ("casey", "dana", "erin"))
    k1 = case(D(2024, 5, 1), worked_by=casey)
    k2 = case(D(2024, 5, 1), worked_by=casey, state="resolved", entered=D(2024, 5, 20))
    k3 = case(D(2024, 5, 1), worked_by=erin)
    for hour, minute in ((9, 0), (10, 30), (12, 0)):
        ContactEventFactory(borrower=k1.borrower, actor=casey, at=at(D(2024, 5, 10), hour, minute))
    ContactEventFactory(borrower=k1.borrower, actor=casey, at=at(D(2024, 5, 11), 14), outcome="no_answer")
    ContactEventFactory(borrower=k1.borrower, actor=casey, at=at(D(2024, 5, 12), 8), automated=True)
    ContactEventFactory(borrower=k1.borrower, actor=casey, at=at(D(2024, 5, 12), 20), outcome="reserved")
    ContactEventFactory(borrower=k2.borrower, actor=dana, at=at(D(2024, 5, 10), 13))
    for c, amount, day in ((k1, 130, D(2024, 5, 12)), (k1, 65, D(2024, 5, 13)), (k2, 100, D(2024, 5, 25)),
                           (k3, 50, D(2024, 5, 14))):  # fmt: skip
        PaymentFactory(loan=c.loan, amount=Decimal(amount), received_at=at(day))

    days = kpis.collector_days(borrowers(), since=SINCE, until=UNTIL)
    assert days == {
        "casey": {"contacts": 4, "days": 2, "hours": 3.25, "per_day": 2.0},
        "dana": {"contacts": 1, "days": 1, "hours": 0.25, "per_day": 1.0},
    }
    collected = kpis.collected_per_collector(all_cases(), since=SINCE, until=UNTIL)
    per_hour = {r["collector"]: (r["currency"], r["collected"], r["hours"], r["per_hour"])
                for r in kpis.collected_per_hour(collected, days)}  # fmt: skip
    assert per_hour == {"casey": ("USD", 195, 3.25, 60.0), "erin": ("USD", 50, 0.0, None)}


def test_self_cured_share_is_cures_with_no_contact_by_a_person():
    """Cures in the period: S1 (no contact by staff: only a text the borrower sent in), S2 (a collector's call on
    2024-05-05, during the case), S3 (only an automated text during the case; the collector's call was before it
    opened). S4 was cured before the period, S5 is open: both left out. Self-cured: S1 and S3 -> 2 / 3."""
    collector = user_with_role("collector", "casey")
    opened = D(2024, 5, 1)
    s1 = case(opened, state="resolved", entered=D(2024, 5, 10))
    s2 = case(opened, state="resolved", entered=D(2024, 5, 12))
    s3 = case(opened, state="resolved", entered=D(2024, 5, 14))
    case(D(2024, 4, 1), state="resolved", entered=D(2024, 4, 30))
    s5 = case(opened)
    ContactEventFactory(borrower=s2.borrower, actor=collector, at=at(D(2024, 5, 5)))
    ContactEventFactory(borrower=s3.borrower, channel="sms", outcome="sent", automated=True, at=at(D(2024, 5, 3)))
    ContactEventFactory(borrower=s3.borrower, actor=collector, at=at(D(2024, 4, 28)))
    ContactEventFactory(
        borrower=s1.borrower, channel="sms", direction="inbound", outcome="delivered", at=at(D(2024, 5, 6))
    )
    ContactEventFactory(borrower=s5.borrower, actor=collector, at=at(D(2024, 5, 5)))

    share = kpis.self_cured(all_cases(), since=SINCE.date(), until=UNTIL.date())
    assert (share["cured"], share["self_cured"]) == (3, 2) and share["rate"] == pytest.approx(2 / 3)


def test_denials_by_rule_count_deferrals_apart():
    """d1 denied by CN-05 and deferred by USF-01 (two reasons); d2 deferred by USF-01; d3 denied by CN-05 twice (one
    decision counts once per rule). Left out: a dry run, an allowing decision, one before the period.
    Denials: CN-05 2. Deferrals: USF-01 2."""
    borrower = case(D(2024, 5, 1)).borrower
    deny = {"rule": "CN-05", "outcome": "deny"}
    defer = {"rule": "USF-01", "outcome": "defer"}
    made = [
        DecisionFactory(borrower=borrower, outcome="deny", reasons=[deny, defer]),
        DecisionFactory(borrower=borrower, outcome="defer", reasons=[defer]),
        DecisionFactory(borrower=borrower, outcome="deny", reasons=[deny, deny]),
        DecisionFactory(borrower=borrower, outcome="deny", reasons=[deny], dry_run=True),
        DecisionFactory(borrower=borrower, outcome="allow", reasons=[]),
    ]
    early = DecisionFactory(borrower=borrower, outcome="deny", reasons=[deny])
    Decision.objects.filter(pk__in=[d.pk for d in made]).update(created_at=at(D(2024, 5, 10)))
    Decision.objects.filter(pk=early.pk).update(created_at=at(D(2024, 4, 10)))

    assert kpis.denials_and_deferrals(borrowers(), since=SINCE, until=UNTIL) == {
        "denials": [("CN-05", 2)],
        "deferrals": [("USF-01", 2)],
    }


def test_delivery_rate_counts_only_messages_handed_to_a_provider():
    """Texts planned in the period: sent, delivered, delivered, failed at the provider (all four handed over: they
    have a hand-over time), failed before it (no consented mobile: never handed over), denied by the gate, deferred.
    Delivery: 2 / 4; failure: 1 / 4; never sent: 2 (the unsendable one and the denied one)."""
    admin = user_with_role("admin", "ada")
    c = case(D(2024, 5, 1))
    handed = at(D(2024, 5, 10))
    for status, started in (("sent", handed), ("delivered", handed), ("delivered", handed), ("failed", handed),
                            ("failed", None), ("denied", None), ("deferred", None)):  # fmt: skip
        OutboundMessageFactory(case=c, status=status, send_started_at=started, planned_for=handed)

    (sms,) = message_stats(user=admin, since=SINCE, until=UNTIL)
    assert (sms["total"], sms["reached"], sms["delivered"], sms["failed"], sms["never_sent"]) == (7, 4, 2, 1, 2)
    assert (sms["delivery_rate"], sms["failure_rate"]) == (0.5, 0.25)


def test_portal_conversion_is_visitors_who_then_paid_promised_or_chose_a_plan_themselves():
    """Visitors: borrowers who opened their page in the period. V1 (visits 05-10 and 05-20; a payment started on the
    page completed 05-10 13:00, after the first visit), V2 (visit 05-12 12:00; promised by themselves 05-12 14:00),
    V3 (visit 05-15; a plan they chose 05-14, before the visit, and a promise a collector took 05-16: neither
    counts), V4 (visit 05-20, nothing), V5 (visit 05-18; a plan waiting for a manager 05-19 and a payment 05-19).
    Left out: N1 (visited 04-30 only, before the period; paid 05-03).
    Visitors 5; payment V1, V5 -> 2 / 5; promise V2 -> 1 / 5; plan V5 -> 1 / 5; any V1, V2, V5 -> 3 / 5."""
    from collections_app.models import CaseTransition
    from notifications.models import PortalEvent, PortalLink
    from notifications.services import portal_link_issue

    def visit(c, day, kind="visit", hour=12):
        portal_link_issue(borrower_id=c.borrower_id)
        link = PortalLink.objects.filter(borrower_id=c.borrower_id).latest("id")
        PortalEvent.objects.create(link=link, borrower_id=c.borrower_id, kind=kind, at=at(day, hour))

    def audit(c, day, transition, label="borrower", hour=14):
        CaseTransition.objects.create(case=c, from_state="reminder", to_state="reminder", transition=transition,
                                      actor_label=label, at=at(day, hour))  # fmt: skip

    v1, v2, v3, v4, v5, n1 = (case(D(2024, 4, 20)) for _ in range(6))
    visit(v1, D(2024, 5, 10))
    visit(v1, D(2024, 5, 20))
    visit(v1, D(2024, 5, 10), kind="pay_completed", hour=13)
    visit(v2, D(2024, 5, 12))
    audit(v2, D(2024, 5, 12), "take_promise")
    visit(v3, D(2024, 5, 15))
    audit(v3, D(2024, 5, 14), "start_plan")
    audit(v3, D(2024, 5, 16), "take_promise", label="casey")
    visit(v4, D(2024, 5, 20))
    visit(v5, D(2024, 5, 18))
    audit(v5, D(2024, 5, 19), "propose_plan")
    visit(v5, D(2024, 5, 19), kind="pay_completed")
    visit(n1, D(2024, 4, 30))
    visit(n1, D(2024, 5, 3), kind="pay_completed")

    numbers = kpis.portal_conversion(all_cases(), since=SINCE, until=UNTIL)
    assert numbers == {
        "visitors": 5,
        "payment": 2,
        "payment_rate": pytest.approx(2 / 5),
        "promise": 1,
        "promise_rate": pytest.approx(1 / 5),
        "plan": 1,
        "plan_rate": pytest.approx(1 / 5),
        "any": 3,
        "any_rate": pytest.approx(3 / 5),
    }
    nobody = all_cases().exclude(pk__in=[v1.pk, v2.pk, v3.pk, v4.pk, v5.pk])
    assert kpis.portal_conversion(nobody, since=SINCE, until=UNTIL)["any_rate"] is None  # no visitor: no rate


def test_outcomes_for_vulnerable_and_other_customers():
    """Cases worked in the period: opened on or before 2024-06-01 and not resolved or closed before 2024-05-02.

    Vulnerable (a record in force at some moment of the period):
      V1 record since April, resolved 2024-05-20 — cured; 3 outbound contacts in the period, 1 reservation (not a
         contact), 1 contact in April (outside the period).
      V2 record ended 2024-05-10 (in force during the period), still open — not cured; 1 contact.
    Other:
      O1 resolved 2024-05-05 — cured; 2 contacts. O2 open — 0 contacts. O3 open; its borrower's record ended
      2024-04-30, before the period: other; 1 contact. O4 resolved 2024-04-20, before the period: not worked.
      O5 record made 2024-06-03, after the period: not worked either way (opened 2024-06-02, after the last day).
    Complaints received in the period: V2 one (open) and one dismissed (not a complaint: left out); O1 one
    (resolved) and one received in April (outside the period); O4 one (a case not worked).
    Vulnerable: cure 1/2 = 0.5, contacts 4/2 = 2.0, complaints 1/2 = 0.5.
    Other: cure 1/3, contacts 3/3 = 1.0, complaints 1/3."""
    v1 = case(D(2024, 4, 1), state="resolved", entered=D(2024, 5, 20))
    v2 = case(D(2024, 4, 15))
    o1 = case(D(2024, 4, 1), state="resolved", entered=D(2024, 5, 5))
    case(D(2024, 5, 3))  # O2
    o3 = case(D(2024, 4, 1))
    o4 = case(D(2024, 3, 1), state="resolved", entered=D(2024, 4, 20))
    o5 = case(D(2024, 6, 2))

    def record(c, made, ended=None):
        VulnerabilityRecord.objects.create(borrower=c.borrower, drivers=["health"], consent_method="spoken",
                                           consent_at=at(made), review_on=D(2024, 12, 1), created_at=at(made),
                                           ended_at=at(ended) if ended else None)  # fmt: skip

    record(v1, D(2024, 4, 10))
    record(v2, D(2024, 4, 10), ended=D(2024, 5, 10))
    record(o3, D(2024, 3, 1), ended=D(2024, 4, 30))
    record(o5, D(2024, 6, 3))
    for day in (D(2024, 5, 3), D(2024, 5, 9), D(2024, 5, 15)):
        ContactEventFactory(borrower=v1.borrower, at=at(day))
    ContactEventFactory(borrower=v1.borrower, at=at(D(2024, 5, 16)), outcome="reserved")
    ContactEventFactory(borrower=v1.borrower, at=at(D(2024, 4, 20)))
    ContactEventFactory(borrower=v2.borrower, at=at(D(2024, 5, 4)), channel="sms", outcome="delivered")
    ContactEventFactory(borrower=o1.borrower, at=at(D(2024, 5, 3)))
    ContactEventFactory(borrower=o1.borrower, at=at(D(2024, 5, 4)), channel="letter", outcome="sent")
    ContactEventFactory(borrower=o3.borrower, at=at(D(2024, 5, 20)))
    ContactEventFactory(borrower=o3.borrower, at=at(D(2024, 5, 21)), direction="inbound")  # not made by us
    ContactEventFactory(borrower=o4.borrower, at=at(D(2024, 5, 10)))  # a case not worked in the period

    def complaint(c, day, status="open"):
        Complaint.objects.create(case=c, channel="letter", category="conduct", status=status, summary="s",
                                 received_at=at(day), received_on=day, acknowledge_by=day, final_by=day,
                                 regimes="FCA")  # fmt: skip

    complaint(v2, D(2024, 5, 6))
    complaint(v2, D(2024, 5, 7), status="dismissed")
    complaint(o1, D(2024, 5, 4), status="resolved")
    complaint(o1, D(2024, 4, 25))
    complaint(o4, D(2024, 5, 12))

    rows = {r["group"]: r for r in kpis.vulnerability_outcomes(all_cases(), since=SINCE, until=UNTIL)}
    assert rows["vulnerable"] == {"group": "vulnerable", "cases": 2, "cured": 1, "cure_rate": 0.5, "contacts": 4,
                                  "contacts_per_case": 2.0, "complaints": 1, "complaints_per_case": 0.5}  # fmt: skip
    assert rows["other"] == {"group": "other", "cases": 3, "cured": 1, "cure_rate": pytest.approx(1 / 3),
                             "contacts": 3, "contacts_per_case": 1.0, "complaints": 1,
                             "complaints_per_case": pytest.approx(1 / 3)}  # fmt: skip


def test_outcomes_without_any_case_have_no_rate():
    rows = kpis.vulnerability_outcomes(all_cases(), since=SINCE, until=UNTIL)
    per_case = [(r["group"], r["cases"], r["cure_rate"], r["contacts_per_case"], r["complaints_per_case"])
                for r in rows]  # fmt: skip
    assert per_case == [
        ("vulnerable", 0, None, None, None),
        ("other", 0, None, None, None),
    ]


def test_complaints_per_1000_accounts_worked_and_the_share_answered_within_the_legal_clock():
    """Accounts worked in the period (2024-05-02 to 2024-06-01): A, B, C, D (four; E resolved in April is not).
    Complaints received in the period on them:
      A: resolved 2024-05-20, final response due 2024-05-25 — answerable, in time.
      A: resolved 2024-05-30, due 2024-05-28 — answerable, late.
      B: acknowledged, due 2024-05-15 and still not answered at the period's end — answerable, late (overdue).
      C: open, due 2024-06-20 — the clock still runs: not answerable yet.
      D: resolved 2024-05-10 at 23:30 UTC, due 2024-05-10 — in time (the resolution's date, site time zone UTC).
    Left out: a dismissed text on C (not a complaint), one received in April on D, one on E (not worked).
    5 complaints on 4 accounts: 1,250 per 1,000; answered within the clock: 2 of 4 answerable = 0.5."""
    a, b, c, d = (case(D(2024, 4, 1)) for _ in range(4))
    e = case(D(2024, 3, 1), state="resolved", entered=D(2024, 4, 20))
    manager = user_with_role("manager", "morgan")

    def complaint(on, received, final_by, status="open", resolved=None):
        Complaint.objects.create(case=on, channel="letter", category="amount", status=status, summary="s",
                                 received_at=at(received), received_on=received, acknowledge_by=received,
                                 final_by=final_by, regimes="FCA", resolved_at=resolved,
                                 resolved_by=manager if resolved else None)  # fmt: skip

    complaint(a, D(2024, 5, 3), D(2024, 5, 25), "resolved", at(D(2024, 5, 20)))
    complaint(a, D(2024, 5, 4), D(2024, 5, 28), "resolved", at(D(2024, 5, 30)))
    complaint(b, D(2024, 5, 5), D(2024, 5, 15), "acknowledged")
    complaint(c, D(2024, 5, 20), D(2024, 6, 20))
    complaint(d, D(2024, 5, 6), D(2024, 5, 10), "resolved", at(D(2024, 5, 10), 23, 30))
    complaint(c, D(2024, 5, 7), D(2024, 6, 1), "dismissed")
    complaint(d, D(2024, 4, 25), D(2024, 5, 20), "resolved", at(D(2024, 5, 2)))
    complaint(e, D(2024, 5, 12), D(2024, 6, 1))

    rates = kpis.complaint_rates(all_cases(), since=SINCE, until=UNTIL)
    assert rates == {"accounts": 4, "complaints": 5, "answerable": 4, "in_time": 2, "per_1000": 1250.0,
                     "in_time_rate": 0.5}  # fmt: skip


def test_complaint_rates_without_accounts_or_answerable_complaints_have_no_rate():
    assert kpis.complaint_rates(all_cases(), since=SINCE, until=UNTIL) == {
        "accounts": 0, "complaints": 0, "answerable": 0, "in_time": 0, "per_1000": None, "in_time_rate": None
    }  # fmt: skip
    case(D(2024, 4, 1))
    rates = kpis.complaint_rates(all_cases(), since=SINCE, until=UNTIL)
    assert (rates["accounts"], rates["per_1000"], rates["in_time_rate"]) == (1, 0.0, None)
