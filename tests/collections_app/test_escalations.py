"""The managers' escalation review (issue 14): four paginated, filterable lists with each row's evidence, bulk legal
decisions that need a reason and a confirmation naming the count, plan decisions with a reason, the collector told
whether a plan started or waits and why — only for managers, only their teams' rows. And reassigning with nothing
checked is a warning, not "0 cases moved"."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from collections_app.labels import plan_breach_label, plan_breaches_label
from collections_app.models import CaseTransition, CollectionCase, PaymentPlan
from tests.factories import (
    BorrowerFactory,
    ContactEventFactory,
    DecisionFactory,
    OutboundMessageFactory,
    PaymentPlanFactory,
    PromiseFactory,
    TeamFactory,
    TeamMembershipFactory,
    loan_with_schedule,
    make_case,
    team_with,
    user_with_role,
)

pytestmark = pytest.mark.django_db

BREACHES = ["12 installments (policy: at most 6)", "down payment below 10.00%", "weekly payments are not allowed"]


@pytest.fixture
def team():
    manager = user_with_role("manager", "morgan")
    collector = user_with_role("collector", "casey")
    return manager, collector, team_with(collector, name="US", manager=manager)


def in_review(team, collector, **fields):
    return make_case(state="legal_review", team=team, assigned_to=collector, **fields)


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def said(response):
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def rows(response):
    return list(response.context["page"])


# ---------------------------------------------------------------------------------------------------------------
# The lists, their evidence, their filters and their cost
# ---------------------------------------------------------------------------------------------------------------
def test_the_legal_review_list_shows_my_teams_cases_with_their_evidence(team):
    manager, collector, t = team
    mine = in_review(t, collector)
    ContactEventFactory(borrower=mine.borrower, outcome="no_answer", at="2024-02-06T15:00Z", is_exception=True)
    ContactEventFactory(borrower=mine.borrower, at="2024-02-08T15:00Z")
    sent = dt.datetime(2024, 2, 7, 10, tzinfo=dt.UTC)
    OutboundMessageFactory(case=mine, purpose="formal_notice", channel="letter", status="sent", sent_at=sent)
    OutboundMessageFactory(case=mine, purpose="formal_notice", status="planned")  # not sent: no evidence
    OutboundMessageFactory(case=mine, purpose="reminder", status="sent")  # not a notice
    PromiseFactory(case=mine, status="broken", created_by=collector)
    other_team = TeamFactory(name="CN", language="zh-hans", manager=user_with_role("manager", "mei"))
    make_case(state="legal_review", team=other_team)
    response = client_for(manager).get(reverse("escalations"))
    assert response.status_code == 200
    (row,) = rows(response)
    assert row.pk == mine.pk
    assert (row.notices_sent, row.last_notice_at, row.contacts, row.promises_broken, row.exception_count) == (
        1,
        sent,
        2,
        1,
        1,
    )
    assert row.last_contact == dt.datetime(2024, 2, 8, 15, tzinfo=dt.UTC)
    page = response.content.decode()
    assert "1 notice sent" in page and "2 contacts" in page and "1 promise broken" in page
    assert "1 compliance exception" in page


def test_each_list_filters_by_team_collector_dpd_amount_and_days_waiting(team):
    manager, collector, t = team
    other = user_with_role("collector", "jordan")
    TeamMembershipFactory(user=other, team=t)
    second = team_with(name="US-2", manager=manager)
    today = timezone.localdate()
    a = in_review(t, collector, days_past_due=95, amount_overdue=Decimal("900.00"), stage_entered_on=today)
    b = in_review(t, other, days_past_due=120, amount_overdue=Decimal("90.00"),
                  stage_entered_on=today - dt.timedelta(days=10))  # fmt: skip
    c = make_case(state="legal_review", team=second, days_past_due=200, amount_overdue=Decimal("5000.00"),
                  stage_entered_on=today - dt.timedelta(days=30))  # fmt: skip
    client = client_for(manager)

    def shown(**query):
        response = client.get(reverse("escalations"), query)
        assert response.status_code == 200
        return {case.pk for case in rows(response)}

    assert shown() == {a.pk, b.pk, c.pk}
    assert shown(team=second.pk) == {c.pk}
    assert shown(collector=other.pk) == {b.pk}
    assert shown(dpd_min=100) == {b.pk, c.pk}
    assert shown(dpd_min=100, dpd_max=150) == {b.pk}
    assert shown(amount_min="100", amount_max="1000") == {a.pk}
    assert shown(waiting_min=7) == {b.pk, c.pk}
    assert shown(waiting_max=10) == {a.pk, b.pk}
    # A value that cannot mean anything: said beside its field, as typed; the other filters still apply.
    response = client.get(reverse("escalations"), {"dpd_min": "lots", "collector": other.pk})
    assert response.context["form"].errors["dpd_min"] and 'value="lots"' in response.content.decode()
    assert {case.pk for case in rows(response)} == {b.pk}
    # A team or a collector that is not the manager's is not a choice.
    stranger = TeamFactory(name="elsewhere")
    assert client.get(reverse("escalations"), {"team": stranger.pk}).context["form"].errors["team"]


def test_htmx_filtering_answers_with_the_list_alone(team):
    manager, collector, t = team
    in_review(t, collector, days_past_due=95)
    response = client_for(manager).get(reverse("escalations"), {"dpd_min": "90"}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200 and "<html" not in page and 'data-testid="legal-row"' in page


@pytest.mark.parametrize("url", ["escalations", "escalations-plans", "escalations-exceptions", "escalations-denials"])
def test_a_list_is_paginated_25_to_a_page_in_the_same_number_of_queries_for_any_number_of_rows(
    team, url, django_assert_max_num_queries
):
    manager, collector, t = team
    client = client_for(manager)

    def add(n):
        for _ in range(n):
            case = in_review(t, collector)
            PaymentPlanFactory(case=case, proposed_by=collector, outside_policy=BREACHES)
            ContactEventFactory(borrower=case.borrower, is_exception=True)
            DecisionFactory(borrower=case.borrower, outcome="deny", reasons=[{"rule": "X", "message": "no",
                                                                              "message_zh": "不"}])  # fmt: skip
            OutboundMessageFactory(case=case, purpose="formal_notice", status="sent")
            PromiseFactory(case=case, status="broken", created_by=collector)

    add(2)
    client.get(reverse(url))  # the session, the user: warm
    with django_assert_max_num_queries(12) as few:  # issue 14: was 14 before the reader's settings took one query
        response = client.get(reverse(url))
    assert len(rows(response)) == 2
    add(28)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse(url))
    assert len(rows(response)) == 25 and response.context["page"].paginator.num_pages == 2
    assert len(rows(client.get(reverse(url), {"page": 2}))) == 5


def test_the_plans_list_shows_each_plans_breaches_in_words_in_both_languages(team):
    manager, collector, t = team
    plan = PaymentPlanFactory(case=in_review(t, collector), proposed_by=collector, outside_policy=BREACHES)
    page = client_for(manager).get(reverse("escalations-plans")).content.decode()
    assert "12 installments, policy at most 6" in page
    assert "down payment below 10.00 %, the policy&#x27;s minimum" in page
    assert "weekly payments are not allowed by the policy" in page
    with translation.override("zh-hans"):
        assert plan_breach_label(BREACHES[0]) == "12 期，政策上限为 6 期"
        assert "12 installments" not in plan_breaches_label(plan.outside_policy)
    assert plan_breach_label("something new") == "something new"  # a breach no pattern knows: as stored


def test_the_exceptions_and_denials_lists_show_my_teams_borrowers_and_not_deferrals(team):
    manager, collector, t = team
    mine = in_review(t, collector)
    theirs = make_case(state="legal_review", team=TeamFactory(name="CN", manager=user_with_role("manager", "mei")))
    for case in (mine, theirs):
        ContactEventFactory(borrower=case.borrower, is_exception=True)
        DecisionFactory(borrower=case.borrower, outcome="deny", reasons=[{"rule": "C-1", "message": "Too many calls",
                                                                          "message_zh": "呼叫过多"}])  # fmt: skip
    DecisionFactory(borrower=mine.borrower, outcome="defer")  # "not yet" is not a denial
    client = client_for(manager)
    assert [e.borrower_id for e in rows(client.get(reverse("escalations-exceptions")))] == [mine.borrower_id]
    response = client.get(reverse("escalations-denials"))
    assert [(d.borrower_id, d.outcome, d.case_id) for d in rows(response)] == [(mine.borrower_id, "deny", mine.pk)]
    assert "Too many calls" in response.content.decode()


@pytest.mark.parametrize("url", ["escalations", "escalations-plans", "escalations-exceptions", "escalations-denials"])
def test_a_chinese_managers_lists_show_human_words_not_identifiers_or_english(url):
    from core.models import UserSettings
    from tests.collections_app.test_locale import ENGLISH, IDENTIFIER, VisibleText

    manager, collector = user_with_role("manager", "mgr-cn"), user_with_role("collector", "cn1")
    UserSettings.objects.create(user=manager, language="zh-hans")
    loan = loan_with_schedule(("2024-02-01", "100.00"), borrower=BorrowerFactory(full_name="王芳"))
    case = in_review(
        team_with(collector, name="三门峡催收组", language="zh-hans", manager=manager), collector, loan=loan
    )
    PaymentPlanFactory(case=case, proposed_by=collector, outside_policy=BREACHES)
    ContactEventFactory(borrower=case.borrower, is_exception=True, outcome="no_answer")
    DecisionFactory(borrower=case.borrower, outcome="deny", reasons=[{"rule": "C-1", "message": "Too many calls",
                                                                      "message_zh": "呼叫过多"}])  # fmt: skip
    response = client_for(manager).get(reverse(url))
    parser = VisibleText()
    parser.feed(response.content.decode())
    text = "\n".join(parser.parts)
    assert not IDENTIFIER.findall(text), IDENTIFIER.findall(text)
    assert not ENGLISH.findall(text), ENGLISH.findall(text)
    if url == "escalations-plans":
        assert "12 期，政策上限为 6 期" in text


# ---------------------------------------------------------------------------------------------------------------
# Bulk legal decisions: a reason, a confirmation naming the count, each case's history keeping the reason
# ---------------------------------------------------------------------------------------------------------------
def test_bulk_approval_asks_to_confirm_the_count_then_moves_each_case_with_the_reason(team):
    manager, collector, t = team
    cases = [in_review(t, collector) for _ in range(4)]
    chosen = [c.pk for c in cases[:3]]
    client = client_for(manager)
    body = {"case": chosen, "decision": "approve_legal", "reason": "ninety days, three notices"}
    confirm = client.post(reverse("escalations-decide") + "?dpd_min=5", body)
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "Approve legal action for 3 cases?" in page and "Yes, approve 3 cases" in page
    assert CollectionCase.objects.filter(state="legal").count() == 0  # nothing written yet
    done = client.post(reverse("escalations-decide") + "?dpd_min=5", {**body, "confirmed": "1"})
    assert done.status_code == 302 and done["Location"] == reverse("escalations") + "?dpd_min=5"
    assert "3 cases approved for legal action." in said(done)
    states = dict(CollectionCase.objects.filter(pk__in=[c.pk for c in cases]).values_list("pk", "state"))
    assert [states[c.pk] for c in cases] == ["legal", "legal", "legal", "legal_review"]
    audit = CaseTransition.objects.filter(transition="approve_legal")
    assert sorted(audit.values_list("case_id", "reason", "actor_label")) == [
        (pk, "ninety days, three notices", "morgan") for pk in sorted(chosen)
    ]


@pytest.mark.parametrize("decision", ["approve_legal", "reject_legal"])
def test_a_decision_without_a_reason_or_without_cases_is_refused_beside_the_field_as_typed(team, decision):
    manager, collector, t = team
    case = in_review(t, collector)
    client = client_for(manager)
    response = client.post(reverse("escalations-decide"), {"case": [case.pk], "decision": decision})
    assert response.status_code == 200 and response.context["decision"].errors["reason"]
    assert 'data-testid="reason-error"' in response.content.decode()
    assert f'value="{case.pk}" aria-label="{case.borrower.full_name}" checked' in response.content.decode()
    response = client.post(reverse("escalations-decide"), {"decision": decision, "reason": "kept as typed"})
    assert response.status_code == 200 and "Check at least one case." in response.content.decode()
    assert 'value="kept as typed"' in response.content.decode()
    # Even confirmed (a forged or stale form): no reason, nothing written.
    client.post(reverse("escalations-decide"), {"case": [case.pk], "decision": decision, "confirmed": "1"})
    case.refresh_from_db()
    assert case.state == "legal_review" and not CaseTransition.objects.filter(case=case).exists()


def test_the_confirmation_counts_only_cases_still_waiting_and_a_refusal_names_the_borrower(team):
    manager, collector, t = team
    waiting, decided = in_review(t, collector), make_case(state="legal", team=t, assigned_to=collector)
    client = client_for(manager)
    body = {"case": [waiting.pk, decided.pk], "decision": "approve_legal", "reason": "ok"}
    confirm = client.post(reverse("escalations-decide"), body)
    assert [c.pk for c in confirm.context["cases"]] == [waiting.pk]
    assert "Approve legal action for 1 case?" in confirm.content.decode()
    done = client.post(reverse("escalations-decide"), {**body, "confirmed": "1"})  # a stale confirmation
    text = said(done)
    assert "1 case approved for legal action." in text and f"{decided.borrower.full_name} (" in text
    assert f"#{decided.pk}" not in text
    nothing = client.post(reverse("escalations-decide"), {**body, "case": [decided.pk]})
    assert "None of the checked cases waits for legal review any more." in nothing.content.decode()


def test_rejecting_goes_back_to_formal_notice_with_the_reason(team):
    manager, collector, t = team
    case = in_review(t, collector)
    body = {"case": [case.pk], "decision": "reject_legal", "reason": "new job", "confirmed": "1"}
    response = client_for(manager).post(reverse("escalations-decide"), body)
    assert "1 case sent back to formal notice." in said(response)
    case.refresh_from_db()
    assert case.state == "formal_notice"
    assert CaseTransition.objects.get(case=case, transition="reject_legal").reason == "new job"


def test_approving_one_case_from_its_page_needs_a_reason_too(team):
    manager, collector, t = team
    case = in_review(t, collector)
    client = client_for(manager)
    url = reverse("case-action", args=[case.pk, "transition-approve_legal"])
    assert "give a reason" in said(client.post(url, {"reason": "  "}))
    case.refresh_from_db()
    assert case.state == "legal_review"
    client.post(url, {"reason": "three notices unanswered"})
    case.refresh_from_db()
    assert case.state == "legal"
    assert CaseTransition.objects.get(case=case, transition="approve_legal").reason == "three notices unanswered"


def test_collectors_cannot_open_or_use_the_review(team):
    _, collector, t = team
    case = in_review(t, collector)
    plan = PaymentPlanFactory(case=case, proposed_by=collector)
    client = client_for(collector)
    for url in ("escalations", "escalations-plans", "escalations-exceptions", "escalations-denials"):
        assert client.get(reverse(url)).status_code == 403
    body = {"case": [case.pk], "decision": "approve_legal", "reason": "x", "confirmed": "1"}
    assert client.post(reverse("escalations-decide"), body).status_code == 403
    assert client.post(reverse("plan-decide", args=[plan.pk]), {"approve": "1", "reason": "x"}).status_code == 403
    case.refresh_from_db()
    assert case.state == "legal_review"


def test_a_manager_cannot_decide_another_teams_case(team):
    manager, _, _ = team
    other_team = TeamFactory(name="CN", language="zh-hans", manager=user_with_role("manager", "mei"))
    theirs = make_case(state="legal_review", team=other_team)
    body = {"case": [theirs.pk], "decision": "approve_legal", "reason": "x", "confirmed": "1"}
    client_for(manager).post(reverse("escalations-decide"), body)
    theirs.refresh_from_db()
    assert theirs.state == "legal_review"


# ---------------------------------------------------------------------------------------------------------------
# Plans: decisions with a reason, audited; the collector told whether a plan started or waits, and why
# ---------------------------------------------------------------------------------------------------------------
def test_a_plan_decision_needs_a_reason_and_is_audited_with_it(team):
    manager, collector, t = team
    case = make_case("reminder", team=t, assigned_to=collector)
    plan = PaymentPlanFactory(case=case, proposed_by=collector, outside_policy=BREACHES)
    client = client_for(manager)
    response = client.post(reverse("plan-decide", args=[plan.pk]), {"approve": "0"})
    assert "Reason" in said(response)
    assert PaymentPlan.objects.get(pk=plan.pk).status == "pending_approval"
    response = client.post(reverse("plan-decide", args=[plan.pk]), {"approve": "0", "reason": "too long"})
    assert "12 installments, policy at most 6" in said(response)
    assert PaymentPlan.objects.get(pk=plan.pk).status == "rejected"
    audit = CaseTransition.objects.get(case=case, transition="reject_plan")
    assert audit.reason == f"plan {plan.pk}: too long" and audit.actor == manager

    second = PaymentPlanFactory(case=case, proposed_by=collector, outside_policy=BREACHES)
    client.post(reverse("plan-decide", args=[second.pk]), {"approve": "1", "reason": "long-standing customer"})
    assert CaseTransition.objects.get(case=case, transition="start_plan").reason == (
        f"plan {second.pk} approved: long-standing customer"
    )


def plan_body(count, frequency="monthly"):
    return {"down_payment": "20.00", "count": str(count), "frequency": frequency,
            "starts_on": (timezone.localdate() + dt.timedelta(days=3)).isoformat()}  # fmt: skip


@pytest.fixture
def owing(team):
    _, collector, t = team
    loan = loan_with_schedule(("2024-02-01", "100.00"))
    return make_case("reminder", loan=loan, team=t, assigned_to=collector, balances_as_of=timezone.localdate())


def test_the_collector_reads_that_a_plan_within_policy_started(team, owing):
    _, collector, _ = team
    response = client_for(collector).post(reverse("case-action", args=[owing.pk, "plan"]), plan_body(2))
    assert "Plan started." in said(response)
    owing.refresh_from_db()
    assert owing.state == "payment_plan"


def test_the_collector_reads_that_a_plan_outside_policy_waits_and_why_and_the_case_page_shows_it(team, owing):
    _, collector, _ = team
    client = client_for(collector)
    response = client.post(reverse("case-action", args=[owing.pk, "plan"]), plan_body(12))
    assert "Plan sent to a manager for approval: 12 installments, policy at most 6" in said(response)
    page = client.get(reverse("case-detail", args=[owing.pk]))
    assert 'data-testid="waiting-plan"' in page.content.decode()
    assert "12 installments, policy at most 6" in page.content.decode()


# ---------------------------------------------------------------------------------------------------------------
# Reassignment
# ---------------------------------------------------------------------------------------------------------------
def test_bulk_reassignment_within_the_team(team):
    manager, collector, t = team
    other = user_with_role("collector", "jordan")
    TeamMembershipFactory(user=other, team=t)
    cases = [in_review(t, collector) for _ in range(2)]
    client = client_for(manager)
    assert {p.username for p in client.get(reverse("case-queue")).context["collectors"]} == {"casey", "jordan"}
    client.post(reverse("cases-reassign"), {"case": [c.pk for c in cases], "to_user": other.pk})
    assert set(CollectionCase.objects.filter(pk__in=[c.pk for c in cases]).values_list("assigned_to", flat=True)) == {
        other.pk
    }
    outsider = user_with_role("collector", "sam")
    client.post(reverse("cases-reassign"), {"case": [cases[0].pk], "to_user": outsider.pk})
    assert CollectionCase.objects.get(pk=cases[0].pk).assigned_to == other


def test_reassigning_with_nothing_checked_is_a_warning_and_writes_nothing(team):
    manager, collector, t = team
    other = user_with_role("collector", "jordan")
    TeamMembershipFactory(user=other, team=t)
    in_review(t, collector)
    response = client_for(manager).post(reverse("cases-reassign"), {"to_user": other.pk})
    assert response.status_code == 302
    levels = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert levels == [("warning", "Check the cases to move first: none was checked, nothing was moved.")]
    assert not CaseTransition.objects.filter(transition="reassign").exists()
