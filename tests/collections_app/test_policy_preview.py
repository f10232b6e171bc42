"""Policy dry-run (issue 14, item 4): the preview's numbers are what the real sweep then does when the draft is
saved; the preview itself leaves nothing behind; the command's input errors."""

import datetime as dt
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from collections_app.models import OPEN_STATES, CollectionCase, CollectionPolicy, InstallmentPolicy
from collections_app.services import policy_revise
from collections_app.sweep import sweep_run
from collections_app.sweep.preview import GATE_CHANNEL, draft_copy, policy_preview
from compliance.engine import Attempt
from compliance.models import JurisdictionProfile
from compliance.services import PlannedContact, contacts_check_batch, profile_revise
from notifications.models import MessageStatus, OutboundMessage
from notifications.planning import WAITING
from tests.factories import PhoneFactory, loan_with_schedule, team_with, user_with_role

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2024, 3, 1)
# 19:30 in Boston: inside Reg F's and Massachusetts's 08:00-21:00, outside a narrowed 08:00-19:00.
AT = dt.datetime(2024, 3, 2, 0, 30, tzinfo=dt.UTC)


def portfolio(as_of=AS_OF):
    """Loans 1 to 40 days past due on AS_OF (with a consented mobile each), swept once for AS_OF with the
    policy in force: today's sweep has run, and the admin now edits the policy."""
    team_with(user_with_role("collector", "c1"), user_with_role("collector", "c2"))
    loans = []
    for dpd in range(1, 41):
        due = as_of - dt.timedelta(days=dpd)
        later = as_of + dt.timedelta(days=90)
        loan = loan_with_schedule((due.isoformat(), "100.00"), (later.isoformat(), "100.00"))
        PhoneFactory(borrower=loan.borrower, kind="mobile", sms_consent=True, autodial_consent=True)
        loans.append(loan)
    sweep_run(as_of=as_of)
    return loans


def table_counts():
    with connection.cursor() as cursor:
        counts = {}
        for table in connection.introspection.table_names():
            if table.startswith(("collections_app_", "notifications_", "compliance_", "loans_")):
                cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
                counts[table] = cursor.fetchone()[0]
    return counts


def open_cases():
    return {loan: (case, state) for case, loan, state in CollectionCase.objects.filter(state__in=OPEN_STATES)
            .values_list("id", "loan_id", "state")}  # fmt: skip


def gate_answers(at):
    """The gate's answer for each waiting message due today, as the preview asks it (by message id)."""
    end = dt.datetime.combine(AS_OF + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    rows = list(OutboundMessage.objects.filter(status__in=WAITING, planned_for__lt=end).order_by("id"))
    planned = [
        PlannedContact(m.borrower_id, Attempt(channel=GATE_CHANNEL[m.channel], at=max(at, m.planned_for), to="",
                                              automated=m.channel != "letter", debts=(m.loan_id,), purpose=m.purpose),
                       loan_id=m.loan_id)
        for m in rows
    ]  # fmt: skip
    return {m.pk: r for m, r in zip(rows, contacts_check_batch(planned, store=False), strict=True)}


def test_the_preview_of_a_collection_policy_is_what_the_sweep_then_does():
    portfolio()
    current = CollectionPolicy.objects.get(product__isnull=True, is_current=True)
    draft = draft_copy(current)
    draft.grace_days = 1  # shorter grace period: loans 2 and 3 days past due open a case
    draft.formal_notice_dpd = 20  # lower formal-notice threshold: cases 20..29 days past due escalate
    draft.cadence = {"reminder": {"sms": 1}, "formal_notice": {"letter": 0, "voice": 3}}  # cadence changed
    before_tables, before_cases = table_counts(), open_cases()

    preview = policy_preview(draft=draft, as_of=AS_OF, at=AT)

    assert table_counts() == before_tables  # nothing of either run stayed
    assert open_cases() == before_cases
    assert CollectionPolicy.objects.get(product__isnull=True, is_current=True).pk == current.pk
    counts = preview.counts()
    assert counts["opened"] == 2 and counts["escalated"] == 10, counts
    assert counts["planned"] > 0 and counts["unplanned"] > 0, counts

    # Save the draft as the admin would, run the real sweep for the same day, compare.
    since = dt.datetime.now(dt.UTC)
    policy_revise(policy=draft_copy(draft), actor=None)
    sweep_run(as_of=AS_OF)
    after = open_cases()
    opened = {loan for loan in after if loan not in before_cases}
    escalated = {
        case
        for loan, (case, state) in after.items()
        if loan in before_cases and state == "formal_notice" and before_cases[loan][1] == "reminder"
    }
    assert preview.groups["opened"].ids == opened
    assert preview.groups["escalated"].ids == escalated
    assert not preview.groups["deescalated"].ids and not preview.groups["not_opened"].ids
    new_rows = OutboundMessage.objects.filter(created_at__gte=since)
    cancelled = OutboundMessage.objects.filter(status=MessageStatus.CANCELLED, updated_at__gte=since)
    assert preview.groups["planned"].count == new_rows.count()
    assert preview.groups["unplanned"].count == cancelled.count()
    assert {k[1:4] for k in preview.groups["planned"].ids} == set(
        new_rows.values_list("borrower_id", "loan_id", "channel")
    )
    assert {k[1] for k in preview.groups["unplanned"].ids} == set(cancelled.values_list("pk", flat=True))
    # Sample cases of an existing case link to it; a case that would open has no page yet.
    assert all(s.case_id in {c for c, _ in before_cases.values()} for s in preview.groups["escalated"].samples)
    assert all(s.case_id is None for s in preview.groups["opened"].samples)


@pytest.mark.parametrize("batch", [5_000, 7])  # 7: several batches, the next one's facts loaded in a thread
def test_the_preview_of_narrower_contact_hours_is_what_the_gate_then_refuses(batch, monkeypatch):
    monkeypatch.setattr("collections_app.sweep.preview.GATE_BATCH", batch)
    portfolio()
    before = {pk for pk, r in gate_answers(AT).items() if not r.allowed}
    profile = JurisdictionProfile.objects.get(code="US_MA_STRICT", is_current=True)
    draft = draft_copy(profile)
    draft.params = {**profile.params, "time_window": {**profile.params["time_window"], "end": "19:00"}}
    before_tables = table_counts()

    preview = policy_preview(draft=draft, as_of=AS_OF, at=AT)

    assert table_counts() == before_tables
    assert set(preview.refused_by_rule) == {"MA-02"}
    assert all(preview.rule_words["MA-02"])  # the reason in both languages, for the page
    assert not preview.groups["opened"].ids and not preview.groups["planned"].ids  # the sweep does not read profiles
    profile_revise(profile=draft_copy(draft), actor=None)
    sweep_run(as_of=AS_OF)
    answers = gate_answers(AT)
    now_refused = {pk for pk, r in answers.items() if not r.allowed and pk not in before}
    assert now_refused and {k[1] for k in preview.refused_by_rule["MA-02"].ids} == now_refused
    assert all("MA-02" in {x.rule for x in answers[pk].reasons} for pk in now_refused)


def test_the_preview_sends_no_task_writes_no_file_and_leaves_no_commit_hook(settings, tmp_path, monkeypatch):
    portfolio()
    settings.LETTERS_DIR = str(tmp_path)
    sent = []
    monkeypatch.setattr("celery.app.task.Task.apply_async", lambda *a, **k: sent.append(a))
    draft = draft_copy(CollectionPolicy.objects.get(product__isnull=True, is_current=True))
    draft.formal_notice_dpd = 10
    with connection.cursor():
        hooks_before = len(connection.run_on_commit)
    preview = policy_preview(draft=draft, as_of=AS_OF, at=AT)
    assert preview.counts()["escalated"] == 20
    assert sent == [] and list(Path(tmp_path).iterdir()) == []
    assert len(connection.run_on_commit) == hooks_before


def test_an_installment_policy_draft_changes_nothing_the_sweep_does():
    portfolio()
    draft = draft_copy(InstallmentPolicy.objects.get(product__isnull=True, is_current=True))
    draft.max_installments = 2
    assert policy_preview(draft=draft, as_of=AS_OF, at=AT).empty


def run_command(*args):
    from io import StringIO

    out = StringIO()
    call_command("policy_preview", *args, stdout=out)
    return out.getvalue()


def test_the_command_prints_the_same_numbers_and_saves_nothing(tmp_path):
    portfolio()
    policy = CollectionPolicy.objects.get(product__isnull=True, is_current=True)
    before = table_counts()
    out = json.loads(run_command("--policy", str(policy.pk), "--set", "grace_days=1", "--set",
                                 "formal_notice_dpd=20", "--as-of", "2024-03-01", "--format", "json"))  # fmt: skip
    assert out["counts"]["opened"] == 2 and out["counts"]["escalated"] == 10
    assert len(out["samples"]["escalated"]) == 10
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps({"grace_days": 1}))
    text = run_command("--policy", str(policy.pk), "--draft", str(draft), "--as-of", "2024-03-01")
    assert "Cases that would open: 2" in text and "Nothing was saved" in text
    assert table_counts() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "999999", "--set", "grace_days=1"], "no collection policy with id 999999"),
        (["--set", "grace_days=1"], "nothing changed"),  # --policy filled in below
        (["--set", "nonsense=1"], "nonsense: no such field"),
        (["--set", "version=9"], "version: cannot be changed here"),
        (["--set", "grace_days=abc"], "grace_days:"),
        (["--set", "grace_days=40"], "Thresholds must rise"),
        (["--set", "cadence=[1]"], "cadence:"),
        (["--set", "grace_days"], "write FIELD=VALUE"),
        (["--draft", "/nonexistent/draft.json"], "cannot read"),
        (["--set", "grace_days=1", "--as-of", "tomorrow"], "is not a date"),
    ],
)
def test_the_command_refuses_bad_input_with_a_clear_error(args, message):
    policy = CollectionPolicy.objects.get(product__isnull=True, is_current=True)
    if "--policy" not in args:
        args = ["--policy", str(policy.pk), *([] if message == "nothing changed" else args)]
    with pytest.raises(CommandError, match=message):
        run_command(*args)


def test_the_command_exits_non_zero_on_bad_input():
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "manage.py", "policy_preview", "--policy", "999999", "--set", "grace_days=1"],
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120,
        env={**os.environ, "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**connection.settings_dict)},
    )  # fmt: skip
    assert done.returncode == 1 and "no collection policy with id 999999" in done.stderr


# ---------------------------------------------------------------------------------------------------------------
# The admin's "Preview impact" button
# ---------------------------------------------------------------------------------------------------------------
def staff(role, username):
    user = user_with_role(role, username)
    user.is_staff = True
    user.save()
    return user


def policy_post(policy, **changes):
    data = {
        "product": "",
        "grace_days": policy.grace_days,
        "formal_notice_dpd": policy.formal_notice_dpd,
        "legal_dpd": policy.legal_dpd,
        "formal_notice_response_days": policy.formal_notice_response_days,
        "legal_requires_approval": "on" if policy.legal_requires_approval else "",
        "pre_due_offsets": json.dumps(policy.pre_due_offsets),
        "cadence": json.dumps(policy.cadence),
        "promise_max_days": policy.promise_max_days,
        "max_grace_extension_days": policy.max_grace_extension_days,
        "min_payment": policy.min_payment,
        "_preview": "Preview impact",
    }
    data.update(changes)
    return data


def change_url(policy):
    return reverse("admin:collections_app_collectionpolicy_change", args=[policy.pk])


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_an_admin_previews_a_policy_in_the_admin_and_nothing_is_saved(client, language):
    portfolio(dt.datetime.now(dt.UTC).date())  # the admin previews the sweep for today
    client.force_login(staff("admin", "ada"))
    client.cookies["django_language"] = language
    policy = CollectionPolicy.objects.get(product__isnull=True, is_current=True)
    before = table_counts()
    response = client.post(change_url(policy), policy_post(policy, grace_days=1, formal_notice_dpd=20),
                           HTTP_ACCEPT_LANGUAGE=language)  # fmt: skip
    assert response.status_code == 200
    assert table_counts() == before
    preview = response.context["policy_preview"]
    counts = {s["label"]: s["count"] for s in preview["sections"]}
    assert 2 in counts.values() and 10 in counts.values()
    page = response.content.decode()
    assert 'value="1"' in page  # the form keeps what was typed
    case = CollectionCase.objects.filter(state="reminder", days_past_due=25).get()
    assert reverse("case-detail", args=[case.pk]) in page  # a sample links to its case page
    words = {"en": ["Cases that would open", "Preview impact", "reminder", "formal notice"],
             "zh-hans": ["将开立的案件", "预览影响", "提醒", "正式通知"]}[language]  # fmt: skip
    for word in words:
        assert word in page, word
    for identifier in ("formal_notice", "not_opened", "escalated"):
        assert f">{identifier}<" not in page
    assert "<script>" not in page and "onclick" not in page


def test_a_preview_with_an_invalid_draft_shows_the_error_beside_the_field(client):
    client.force_login(staff("admin", "ada"))
    policy = CollectionPolicy.objects.get(product__isnull=True, is_current=True)
    response = client.post(change_url(policy), policy_post(policy, grace_days="x"))
    assert response.status_code == 200 and response.context["policy_preview"] is None
    assert response.context["adminform"].form.errors["grace_days"]


def test_only_admins_may_preview(client):
    policy = CollectionPolicy.objects.get(product__isnull=True, is_current=True)
    before = table_counts()
    for role in ("manager", "collector"):
        client.force_login(staff(role, f"staff-{role}"))  # even one let into the admin
        assert client.post(change_url(policy), policy_post(policy, grace_days=1)).status_code == 403
        client.force_login(user_with_role(role, f"plain-{role}"))
        response = client.post(change_url(policy), policy_post(policy, grace_days=1))
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert table_counts() == before


def test_the_profile_and_installment_forms_have_the_button(client):
    client.force_login(staff("admin", "ada"))
    profile = JurisdictionProfile.objects.get(code="US_MA_STRICT", is_current=True)
    for url in (reverse("admin:compliance_jurisdictionprofile_change", args=[profile.pk]),
                reverse("admin:collections_app_installmentpolicy_change",
                        args=[InstallmentPolicy.objects.get(product__isnull=True, is_current=True).pk])):  # fmt: skip
        page = client.get(url).content.decode()
        assert 'name="_preview"' in page
    params = {**profile.params, "time_window": {**profile.params["time_window"], "end": "19:00"}}
    response = client.post(
        reverse("admin:compliance_jurisdictionprofile_change", args=[profile.pk]),
        {"code": profile.code, "params": json.dumps(params), "_preview": "Preview impact"},
    )
    assert response.status_code == 200 and response.context["policy_preview"] is not None
    assert "would now refuse" in response.content.decode() or response.context["policy_preview"]["empty"]
    assert JurisdictionProfile.objects.get(code="US_MA_STRICT", is_current=True).pk == profile.pk


def test_a_profile_that_applies_to_nobody_in_the_book_changes_nothing():
    portfolio()  # borrowers in Massachusetts
    profile = JurisdictionProfile.objects.get(code="CN_ONLINE_LENDING", is_current=True)
    draft = draft_copy(profile)
    draft.params = {**profile.params, "time_window": {**profile.params["time_window"], "end": "09:00"}}
    assert policy_preview(draft=draft, as_of=AS_OF, at=AT).empty
