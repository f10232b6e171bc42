"""Admins configure policies without code; every save is a new version and the next sweep honours it."""

import datetime as dt

import pytest
from django.urls import reverse

from collections_app.models import CollectionCase, CollectionPolicy, Dispute
from collections_app.services import DisputeTerms, dispute_record
from collections_app.sweep import sweep_run
from compliance.models import DebtClock
from compliance.services import validation_notice_record
from loans.models import Borrower
from tests.factories import loan_with_schedule, make_case, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = user_with_role("admin", "ada")
    user.is_staff = True
    user.save()
    client.force_login(user)
    return client


def policy_form(policy, **changes):
    data = {
        "product": "",
        "grace_days": policy.grace_days,
        "formal_notice_dpd": policy.formal_notice_dpd,
        "legal_dpd": policy.legal_dpd,
        "legal_requires_approval": "on",
        "pre_due_offsets": "[3, 1]",
        "cadence": '{"reminder": {"sms": 3}, "formal_notice": {"letter": 0}}',
        "formal_notice_response_days": 14,
        "promise_max_days": 14,
        "max_grace_extension_days": 14,
        "min_payment": "10.00",
    }
    data.update(changes)
    return data


def test_changing_the_grace_period_publishes_a_new_version_that_the_next_sweep_uses(admin_client):
    current = CollectionPolicy.objects.get(product__isnull=True, is_current=True)
    url = reverse("admin:collections_app_collectionpolicy_change", args=[current.pk])
    response = admin_client.post(url, policy_form(current, grace_days=10))
    assert response.status_code == 302
    versions = list(
        CollectionPolicy.objects.filter(product__isnull=True)
        .order_by("version")
        .values_list("version", "grace_days", "is_current")
    )
    assert versions == [(1, 3, False), (2, 10, True)]
    loan = loan_with_schedule(("2024-01-31", "100.00"))
    sweep_run(as_of=dt.date(2024, 2, 10))  # 10 days past due: within the new grace period
    assert not CollectionCase.objects.filter(loan=loan).exists()
    sweep_run(as_of=dt.date(2024, 2, 11))
    assert CollectionCase.objects.get(loan=loan).policy.version == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"grace_days": 40}, "Thresholds must rise"),
        ({"cadence": '{"reminder": {"fax": 1}}'}, "Unknown channel"),
        ({"pre_due_offsets": "[0]"}, "whole days from 1 to 30"),
        # FN-01: legal review waits for the formal notice sent in writing, so a policy must send one.
        ({"cadence": '{"formal_notice": {"sms": 0}}'}, "The formal notice stage must send a letter or an e-mail"),
        ({"formal_notice_response_days": 91}, "Ensure this value is less than or equal to 90"),
    ],
)
def test_invalid_policies_are_refused_with_a_form_error(admin_client, changes, message):
    current = CollectionPolicy.objects.get(product__isnull=True, is_current=True)
    response = admin_client.post(
        reverse("admin:collections_app_collectionpolicy_change", args=[current.pk]), policy_form(current, **changes)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert CollectionPolicy.objects.filter(product__isnull=True).count() == 1


def test_old_versions_cannot_be_edited(admin_client):
    current = CollectionPolicy.objects.get(product__isnull=True, is_current=True)
    admin_client.post(
        reverse("admin:collections_app_collectionpolicy_change", args=[current.pk]), policy_form(current, grace_days=5)
    )
    response = admin_client.post(
        reverse("admin:collections_app_collectionpolicy_change", args=[current.pk]), policy_form(current, grace_days=7)
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "model",
    [
        "collectioncase",
        "casetransition",
        "paymentplan",
        "promisetopay",
        "hold",
        "team",
        "installmentpolicy",
        "sweeprun",
        "callreview",
    ],
)
def test_case_admin_lists_load(admin_client, model):
    assert admin_client.get(reverse(f"admin:collections_app_{model}_changelist")).status_code == 200


def test_an_admin_records_and_withdraws_a_training_record_but_never_edits_or_deletes_one(admin_client):
    """CERT-01: the admin adds a record (recorded by them, refused beside the field when it expires before it was
    passed), and withdraws it with the list's action."""
    import datetime as dt

    from compliance.models import CollectorCertification
    from tests.factories import user_with_role

    collector = user_with_role("collector", "wang")
    add = reverse("admin:compliance_collectorcertification_add")
    form = {"collector": collector.pk, "course": "合规培训", "passed_on": "2025-03-01", "expires_on": "2025-02-01"}
    refused = admin_client.post(add, form)
    assert (
        refused.status_code == 200 and "the certificate cannot expire before it was passed" in refused.content.decode()
    )
    assert admin_client.post(add, {**form, "expires_on": "2026-02-28"}).status_code == 302
    record = CollectorCertification.objects.get()
    assert record.recorded_by.username == "ada" and record.expires_on == dt.date(2026, 2, 28)
    changelist = reverse("admin:compliance_collectorcertification_changelist")
    assert admin_client.get(changelist).status_code == 200
    admin_client.post(changelist, {"action": "withdraw", "_selected_action": [record.pk]})
    record.refresh_from_db()
    assert record.revoked_at is not None
    assert (
        admin_client.get(reverse("admin:compliance_collectorcertification_delete", args=[record.pk])).status_code == 403
    )


def test_disputes_and_debt_clocks_are_read_only_in_the_admin_and_found_by_case_number(admin_client):
    """Both are written only by their workflow: listed, filtered and opened, never added, changed or deleted."""
    case, other = make_case("formal_notice"), make_case("formal_notice")
    Borrower.objects.update(full_name="Maria Garcia")  # no digit in a name to match the case number searched
    for c in (case, other):
        validation_notice_record(loan_id=c.loan_id, sent_at=dt.datetime(2025, 6, 2, 16, tzinfo=dt.UTC),
                                 mailed_on=dt.date(2025, 6, 2), validation_period_ends_on=dt.date(2025, 7, 9),
                                 ref="message:test")  # fmt: skip
        dispute = dispute_record(case_id=c.pk, actor=user_with_role("collector", f"c{c.pk}"), reason="Not mine",
                                 terms=DisputeTerms(channel="letter"))  # fmt: skip
    dispute, clock = case.disputes.get(), case.loan.debt_clock
    for model, obj in (("collections_app_dispute", dispute), ("compliance_debtclock", clock)):
        changelist = reverse(f"admin:{model}_changelist")
        listed = admin_client.get(changelist)
        assert listed.status_code == 200 and listed.context["cl"].result_count == 2
        found = admin_client.get(changelist, {"q": str(case.pk)})
        assert found.status_code == 200 and list(found.context["cl"].result_list) == [obj]
        assert admin_client.get(changelist, {"q": case.loan.external_id}).context["cl"].result_count == 1
        page = admin_client.get(reverse(f"admin:{model}_change", args=[obj.pk]))
        assert page.status_code == 200 and 'name="_save"' not in page.content.decode()  # read only
        assert admin_client.get(reverse(f"admin:{model}_add")).status_code == 403
        assert admin_client.post(reverse(f"admin:{model}_change", args=[obj.pk]), {}).status_code == 403
        assert admin_client.post(reverse(f"admin:{model}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    assert Dispute.objects.count() == 2 and DebtClock.objects.count() == 2
    stages = reverse("admin:collections_app_dispute_changelist")
    assert admin_client.get(stages, {"stage": "received"}).context["cl"].result_count == 2
    assert admin_client.get(stages, {"stage": "mailed"}).context["cl"].result_count == 0
    assert admin_client.get(stages, {"stage": "prepared"}).context["cl"].result_count == 0
    assert admin_client.get(stages, {"channel__exact": "call"}).context["cl"].result_count == 0
    assert admin_client.get(stages, {"written__exact": "1"}).context["cl"].result_count == 2
