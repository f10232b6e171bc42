"""Collector oversight: the weekly QA sample (deterministic for a seed, once per collector and week, only the week's
calls), scoring a sampled call (every item answered, notes for a failure, only the team's manager or an admin), the
results per collector (the arithmetic, who sees whose), the pages (both languages, a fixed number of queries) and the
training records' page."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from collections_app.models import CallDisposition, CallReview
from collections_app.selectors.qa import qa_results, qa_results_page
from collections_app.services import InvalidRequest, NotPermitted
from collections_app.services.qa import call_review_score, last_complete_week, qa_sample_week
from collections_app.tasks import qa_sample
from compliance.models import CollectorCertification, JurisdictionProfile
from core.models import UserSettings
from tests.factories import (
    CallDispositionFactory,
    CallReviewFactory,
    CaseFactory,
    CertificationFactory,
    DecisionFactory,
    team_with,
    user_with_role,
)

pytestmark = pytest.mark.django_db
WEEK = dt.date(2026, 11, 16)  # a Monday


def label(code):
    return f"{code}@{JurisdictionProfile.objects.get(code=code, is_current=True).version}"


def calls(collector, count, *, day=WEEK, profiles=("US_FED_REGF",), hour=12):
    """``count`` logged calls of ``collector`` on ``day`` (UTC)."""
    made = []
    labels = [label(p) for p in profiles]
    for n in range(count):
        case = CaseFactory(assigned_to=collector)
        decision = DecisionFactory(borrower=case.borrower, loan=case.loan, profiles=labels)
        d = CallDispositionFactory(case=case, decision=decision, actor=collector)
        at = dt.datetime.combine(day, dt.time(hour, n % 60), tzinfo=dt.UTC)
        CallDisposition.objects.filter(pk=d.pk).update(created_at=at)
        made.append(d.pk)
    return made


@pytest.fixture
def desk():
    manager = user_with_role("manager", "morgan")
    casey, jordan = user_with_role("collector", "casey"), user_with_role("collector", "jordan")
    team = team_with(casey, jordan, name="US", manager=manager)
    return manager, casey, jordan, team


# ---------------------------------------------------------------------------------------------------------------
# The sampler
# ---------------------------------------------------------------------------------------------------------------
def test_the_sample_is_the_same_for_a_seed_and_holds_at_most_the_size_per_collector(desk):
    _, casey, jordan, team = desk
    theirs = calls(casey, 9)
    calls(jordan, 2)
    run = qa_sample_week(week=WEEK, size=5, seed=7)
    assert (run.collectors, run.sampled, run.skipped) == (2, 7, 0)
    first = sorted(CallReview.objects.filter(collector=casey).values_list("disposition_id", flat=True))
    assert len(first) == 5 and set(first) <= set(theirs)
    assert CallReview.objects.filter(collector=jordan).count() == 2  # fewer calls than the size: all of them
    assert set(CallReview.objects.values_list("team_id", flat=True)) == {team.pk}
    assert CallReview.objects.filter(collector=casey).first().checklist == [
        "identification",
        "mini_miranda",
        "no_false_threats",
        "within_hours",
    ]
    CallReview.objects.all().delete()
    qa_sample_week(week=WEEK + dt.timedelta(days=3), size=5, seed=7)  # any day of the week: the same week
    again = sorted(CallReview.objects.filter(collector=casey).values_list("disposition_id", flat=True))
    assert again == first


def test_sampling_a_week_again_adds_nothing(desk):
    _, casey, jordan, _ = desk
    calls(casey, 3)
    assert qa_sample_week(week=WEEK, size=2).sampled == 2
    calls(jordan, 3)  # logged late: jordan was not sampled yet, casey was
    second = qa_sample_week(week=WEEK, size=2)
    assert (second.sampled, second.skipped) == (2, 1)
    assert qa_sample_week(week=WEEK, size=2).sampled == 0
    assert CallReview.objects.count() == 4


def test_only_the_weeks_calls_are_drawn_monday_to_monday_utc(desk):
    _, casey, _, _ = desk
    before = calls(casey, 2, day=WEEK - dt.timedelta(days=1), hour=23)  # Sunday 23:xx UTC: the week before
    inside = calls(casey, 2, day=WEEK, hour=0) + calls(casey, 1, day=WEEK + dt.timedelta(days=6), hour=23)
    after = calls(casey, 2, day=WEEK + dt.timedelta(days=7), hour=0)
    qa_sample_week(week=WEEK, size=10)
    drawn = set(CallReview.objects.values_list("disposition_id", flat=True))
    assert drawn == set(inside) and not drawn & set(before + after)


def test_a_chinese_call_gets_the_chinese_checklist_and_a_size_below_one_is_refused(desk):
    _, casey, _, _ = desk
    calls(casey, 1, profiles=("CN_ONLINE_LENDING",))
    with pytest.raises(InvalidRequest):
        qa_sample_week(week=WEEK, size=0)
    qa_sample_week(week=WEEK)
    assert CallReview.objects.get().checklist == ["identification", "no_abusive_language", "no_third_party_disclosure"]


def test_the_beat_task_and_the_command_sample_the_week_that_ended(desk):
    _, casey, _, _ = desk
    week = last_complete_week()
    calls(casey, 2, day=week + dt.timedelta(days=2))
    assert qa_sample() == 2
    call_command("qa_sample", "--size", "3")  # again: nothing more
    assert CallReview.objects.filter(week_start=week).count() == 2


# ---------------------------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------------------------
ALL_PASS = {"identification": "pass", "mini_miranda": "pass", "no_false_threats": "pass", "within_hours": "pass"}


def test_scoring_needs_every_item_and_notes_when_one_failed(desk):
    manager, casey, _, team = desk
    review = CallReviewFactory(disposition=CallDispositionFactory(actor=casey), team=team)
    for results, notes, field in [
        ({**ALL_PASS, "within_hours": ""}, "", "within_hours"),
        ({**ALL_PASS, "mini_miranda": "maybe"}, "", "mini_miranda"),
        ({**ALL_PASS, "no_abusive_language": "pass"}, "", "results"),  # not on a US checklist
        ({**ALL_PASS, "mini_miranda": "fail"}, "  ", "notes"),
    ]:
        with pytest.raises(InvalidRequest) as refused:
            call_review_score(review_id=review.pk, actor=manager, results=results, notes=notes)
        assert refused.value.field == field
    review.refresh_from_db()
    assert review.reviewed_at is None and review.results == {}
    scored = call_review_score(
        review_id=review.pk, actor=manager, results={**ALL_PASS, "mini_miranda": "fail"}, notes="No disclosure."
    )
    assert (scored.score, scored.results["mini_miranda"], scored.reviewed_by) == (75, False, manager)


def test_only_the_teams_manager_or_an_admin_scores_and_never_the_collector(desk):
    _manager, casey, jordan, team = desk
    review = CallReviewFactory(disposition=CallDispositionFactory(actor=casey), team=team)
    other = user_with_role("manager", "other")
    team_with(name="Other", manager=other)
    for person in (casey, jordan, other):
        with pytest.raises(NotPermitted):
            call_review_score(review_id=review.pk, actor=person, results=ALL_PASS)
    admin = user_with_role("admin", "root", is_staff=True)
    assert call_review_score(review_id=review.pk, actor=admin, results=ALL_PASS).score == 100


# ---------------------------------------------------------------------------------------------------------------
# Results per collector
# ---------------------------------------------------------------------------------------------------------------
def scored(collector, team, manager, results, notes="x"):
    review = CallReviewFactory(disposition=CallDispositionFactory(actor=collector), team=team)
    return call_review_score(review_id=review.pk, actor=manager, results=results, notes=notes)


def test_results_per_collector_add_up(desk):
    manager, casey, jordan, team = desk
    scored(casey, team, manager, ALL_PASS)  # 100
    scored(casey, team, manager, {**ALL_PASS, "mini_miranda": "fail"})  # 75
    scored(casey, team, manager, {**ALL_PASS, "mini_miranda": "fail", "within_hours": "fail"})  # 50
    CallReviewFactory(disposition=CallDispositionFactory(actor=casey), team=team)  # not scored yet
    since = timezone.localdate() - dt.timedelta(days=30)
    rows = qa_results_page(user=manager, rows=list(qa_results(user=manager, since=since)), since=since)
    (row,) = rows
    assert (row.name, row.sampled, row.reviewed, row.average, row.failed_calls) == ("casey", 4, 3, 75.0, 2)
    assert row.pass_rate == pytest.approx(100 / 3)
    assert row.failed_items == [("Said it is an attempt to collect a debt (mini-Miranda)", 2),
                                ("Called within the permitted hours", 1)]  # fmt: skip
    assert jordan.pk not in [r.collector_id for r in rows]  # nothing sampled for jordan


def test_collectors_see_only_their_own_results_managers_their_teams_admins_all(desk):
    manager, casey, jordan, team = desk
    scored(casey, team, manager, ALL_PASS)
    scored(jordan, team, manager, ALL_PASS)
    other_manager, outsider = user_with_role("manager", "other"), user_with_role("collector", "outsider")
    other_team = team_with(outsider, name="Other", manager=other_manager)
    scored(outsider, other_team, other_manager, ALL_PASS)
    since = timezone.localdate() - dt.timedelta(days=30)

    def names(user):
        return [r["collector__username"] for r in qa_results(user=user, since=since)]

    assert names(casey) == ["casey"]
    assert names(manager) == ["casey", "jordan"]
    assert names(other_manager) == ["outsider"]
    assert names(user_with_role("admin", "root", is_staff=True)) == ["casey", "jordan", "outsider"]
    client = Client()
    client.force_login(casey)
    page = client.get(reverse("qa-results")).content.decode()
    assert "casey" in page and "jordan" not in page
    mine = CallReview.objects.get(collector=casey)
    assert reverse("qa-review", args=[mine.pk]) in page  # their own scored call, to read
    own = client.get(reverse("qa-review", args=[mine.pk]))
    assert own.status_code == 200 and 'data-testid="qa-form"' not in own.content.decode()
    assert client.post(reverse("qa-review", args=[mine.pk]), ALL_PASS).status_code == 403
    assert client.get(reverse("qa-reviews")).status_code == 403
    theirs = CallReview.objects.get(collector=jordan)
    assert client.get(reverse("qa-review", args=[theirs.pk])).status_code == 404


# ---------------------------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------------------------
def signed_in(user, language="en"):
    UserSettings.objects.update_or_create(user=user, defaults={"language": language})
    client = Client()
    client.force_login(user)
    return client


def test_the_results_page_takes_the_same_queries_for_one_collector_or_many(desk, django_assert_num_queries):
    manager, casey, _jordan, team = desk
    scored(casey, team, manager, {**ALL_PASS, "within_hours": "fail"})
    client = signed_in(manager)
    client.get(reverse("qa-results"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("qa-results"))
    for n in range(6):
        scored(user_with_role("collector", f"c{n}"), team, manager, {**ALL_PASS, "mini_miranda": "fail"})
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(reverse("qa-results"))
    assert response.content.decode().count('data-testid="qa-row"') == 7


def test_scoring_on_the_page_keeps_what_was_typed_beside_the_error_and_then_shows_the_score(desk):
    manager, casey, _, team = desk
    review = CallReviewFactory(disposition=CallDispositionFactory(actor=casey), team=team)
    client = signed_in(manager, "zh-hans")
    url = reverse("qa-review", args=[review.pk])
    page = client.get(url).content.decode()
    assert "说明了这是债务催收" in page and "mini_miranda" not in page.split('name="')[0]
    bad = client.post(url, {**ALL_PASS, "mini_miranda": "fail", "notes": ""})
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "请说明未通过的项目出了什么问题" in html
    kept = html.split('data-item="mini_miranda"')[1].split("</fieldset>")[0]
    assert 'value="fail"' in kept and "checked" in kept.split('value="fail"')[1].split(">")[0]
    done = client.post(url, {**ALL_PASS, "mini_miranda": "fail", "notes": "没有告知催收身份"})
    assert done.status_code == 302
    review.refresh_from_db()
    assert review.score == 75
    results = client.get(reverse("qa-results")).content.decode()
    assert "75%" in results and "说明了这是债务催收" in results


def test_the_training_page_records_a_certificate_and_refuses_bad_input_beside_the_field(desk):
    manager, casey, jordan, _ = desk
    CertificationFactory(collector=jordan, passed_on=timezone.localdate() - dt.timedelta(days=350),
                         expires_on=timezone.localdate() + dt.timedelta(days=14))  # fmt: skip
    client = signed_in(manager)
    page = client.get(reverse("certifications")).content.decode()
    assert 'data-status="missing"' in page and 'data-status="expiring"' in page
    bad = client.post(
        reverse("certifications"), {"collector": casey.pk, "course": "Conduct", "passed_on": "2099-01-01"}
    )
    assert bad.status_code == 400 and "the exam cannot have been passed in the future" in bad.content.decode()
    assert 'value="Conduct"' in bad.content.decode()
    today = timezone.localdate().isoformat()
    done = client.post(reverse("certifications"), {"collector": casey.pk, "course": "Conduct", "passed_on": today})
    assert done.status_code == 302
    assert CollectorCertification.objects.filter(collector=casey, recorded_by=manager).exists()
    outsider = user_with_role("collector", "outsider")
    refused = client.post(reverse("certifications"), {"collector": outsider.pk, "course": "X", "passed_on": today})
    assert refused.status_code == 400 and not CollectorCertification.objects.filter(collector=outsider).exists()


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", "No collection training and exam in force"), ("zh-hans", "该催收员没有有效的催收培训")],
)
def test_an_uncertified_collector_is_told_why_the_call_is_refused_in_their_language(language, words):
    """CERT-01 on the case page: the call is refused, the decision kept, and the reason is in the reader's words."""
    import time_machine

    from compliance.models import Decision
    from tests.factories import BorrowerFactory, PhoneFactory, loan_with_schedule, make_case

    wang = user_with_role("collector", "wang")
    team = team_with(wang, name="三门峡催收组", language="zh-hans")
    borrower = BorrowerFactory(country="CN", region="河南省", time_zones=["Asia/Shanghai"], language="zh-hans")
    case = make_case(loan=loan_with_schedule(("2025-05-01", "100.00"), borrower=borrower), team=team,
                     assigned_to=wang)  # fmt: skip
    PhoneFactory(borrower=borrower, number="+8613800138000")
    client = signed_in(wang, language)
    with time_machine.travel(dt.datetime(2025, 6, 4, 4, tzinfo=dt.UTC), tick=False):  # noon in Beijing
        # The "can I contact now?" panel says it before the collector tries: their calls, texts and visits.
        panel = (
            client.get(reverse("case-detail", args=[case.pk])).content.decode().split('data-testid="contact-panel"')[1]
        )
        assert panel.count('data-rule="CERT-01"') == 3 and words in panel
        page = client.post(
            reverse("case-action", args=[case.pk, "call-start"]), {"to": "+8613800138000"}, follow=True
        ).content.decode()
        assert words in page
        assert Decision.objects.get(actor=wang).reasons[0]["rule"] == "CERT-01"
        CertificationFactory(collector=wang, passed_on=dt.date(2025, 1, 6))
        panel = (
            client.get(reverse("case-detail", args=[case.pk])).content.decode().split('data-testid="contact-panel"')[1]
        )
        assert "CERT-01" not in panel


def test_the_api_lists_training_records_and_reviews_for_the_lenders_systems(desk):
    """Read-only, with the pages' visibility; the filters narrow the list (the matrix checks who sees which rows)."""
    from rest_framework.test import APIClient

    manager, casey, jordan, team = desk
    CertificationFactory(collector=casey, passed_on=timezone.localdate() - dt.timedelta(days=10))
    CertificationFactory(collector=jordan, passed_on=timezone.localdate() - dt.timedelta(days=400),
                         expires_on=timezone.localdate() - dt.timedelta(days=36))  # fmt: skip
    scored(casey, team, manager, {**ALL_PASS, "within_hours": "fail"})
    CallReviewFactory(disposition=CallDispositionFactory(actor=jordan), team=team)
    api = APIClient()
    api.force_authenticate(manager)
    records = api.get("/api/v1/oversight/certifications/").json()["results"]
    assert {(r["collector_username"], r["in_force"]) for r in records} == {("casey", True), ("jordan", False)}
    assert [r["collector_username"] for r in api.get(f"/api/v1/oversight/certifications/?collector={casey.pk}").json()[
        "results"]] == ["casey"]  # fmt: skip
    reviews = api.get("/api/v1/oversight/call-reviews/?reviewed=true").json()["results"]
    assert [(r["collector_username"], r["score"], r["results"]["within_hours"]) for r in reviews] == [
        ("casey", 75, False)
    ]
    assert len(api.get("/api/v1/oversight/call-reviews/").json()["results"]) == 2
    assert api.post("/api/v1/oversight/call-reviews/", {}).status_code == 405


@pytest.mark.parametrize("name", ["qa-reviews", "certifications"])
def test_the_other_lists_take_the_same_queries_for_one_row_or_many(desk, name):
    manager, casey, _jordan, team = desk
    CallReviewFactory(disposition=CallDispositionFactory(actor=casey), team=team)
    CertificationFactory(collector=casey)
    client = signed_in(manager)
    client.get(reverse(name))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse(name))
    for n in range(5):
        someone = user_with_role("collector", f"c{n}")
        team_with(someone, name=f"T{n}", manager=manager)
        CallReviewFactory(disposition=CallDispositionFactory(actor=someone), team=team)
        CertificationFactory(collector=someone)
        CertificationFactory(collector=someone, passed_on=timezone.localdate() - dt.timedelta(days=400))
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse(name))
    assert response.status_code == 200 and len(many.captured_queries) == len(few.captured_queries)
