"""The legal evidence pack (issue 16, point 5): a seeded legal case's pack holds every listed item (the ZIP read back,
the PDFs' text read back with pypdf in English and Chinese), its manifest verifies and a tampered file does not
(the service and the ``verify_evidence_pack`` command), building again is idempotent and something new makes the next
version, another team's case is refused, it is built when a case enters legal, and a large case is built in a fixed
number of queries; a dispute's workflow and the debt's validation notice clock are their own section."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from collections_app.models import CaseTransition, Dispute, EvidencePack
from collections_app.services import (
    DisputeTerms,
    dispute_record,
    dispute_verification_mailed,
    dispute_verification_prepare,
)
from collections_app.services.evidence import evidence_pack_build, evidence_packs_missing, pack_languages, pack_verify
from compliance.models import ContactEvent, Decision
from compliance.services import validation_notice_record
from loans.models import Borrower, LoanProduct, Payment
from loans.money import format_money
from loans.services import payment_record
from notifications.documents.content import day
from notifications.services import document_render
from tests.factories import (
    ContactEventFactory,
    DecisionFactory,
    HoldFactory,
    OutboundMessageFactory,
    PaymentPlanFactory,
    PromiseFactory,
    api_for,
    make_case,
    team_with,
    user_with_role,
)
from tests.notifications.pdfs import pdf_text

pytestmark = pytest.mark.django_db

NAMES = {"en": "Maria Garcia", "zh-hans": "王小明"}
NOW = dt.datetime(2024, 3, 20, 2, tzinfo=dt.UTC)


def flat(text: str) -> str:
    return "".join(text.split())


def rewritten(pack, copy, name: str, old: bytes, new: bytes) -> None:  # type: ignore[no-untyped-def]
    """A copy of the pack with one file's bytes changed after the fact, everything else (the manifest too) as it
    was."""
    with zipfile.ZipFile(pack) as source, zipfile.ZipFile(copy, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            target.writestr(info, data.replace(old, new) if info.filename == name else data)


def legal_case(language: str = "en", *, worked_by=None):  # type: ignore[no-untyped-def]
    """A case in legal with one of everything: two payments (allocated), a formal notice mailed as a letter (its
    document), an SMS, a call with its allowing decision and a refused call with its reasons, a broken promise, a
    broken plan, a dispute hold lifted. Chinese: a borrower in Sanmenxia paying in CNY."""
    case = make_case("legal", worked_by=worked_by)
    borrower, loan = case.borrower, case.loan
    borrower.full_name, borrower.language = NAMES[language], language
    borrower.address_line1 = "12 Harbor St"
    if language == "zh-hans":
        borrower.country, borrower.region, borrower.city = "CN", "河南省", "三门峡市"
        borrower.time_zones, borrower.address_line1 = ["Asia/Shanghai"], "崤山路1号"
    borrower.save()
    LoanProduct.objects.filter(pk=loan.product_id).update(lender_name="Harbor Lane Finance")
    loan.product.refresh_from_db()
    payment_record(loan_id=loan.pk, amount=Decimal("30.00"), received_at=dt.datetime(2024, 1, 25, 15, tzinfo=dt.UTC),
                   reference="PAY-1")  # fmt: skip
    payment_record(loan_id=loan.pk, amount=Decimal("20.00"), received_at=dt.datetime(2024, 2, 10, 15, tzinfo=dt.UTC),
                   reference="PAY-2")  # fmt: skip
    letter = OutboundMessageFactory(case=case, channel="letter", purpose="formal_notice", status="sent",
                                    sent_at=dt.datetime(2024, 2, 15, 14, tzinfo=dt.UTC), to="12 Harbor St")  # fmt: skip
    document_render(kind="formal_notice", case=case, message=letter, now=dt.datetime(2024, 2, 15, 14, tzinfo=dt.UTC))
    OutboundMessageFactory(case=case, status="delivered", sent_at=dt.datetime(2024, 2, 6, 14, tzinfo=dt.UTC))
    allowed = DecisionFactory(borrower=borrower, loan=loan, purpose="collection")
    ContactEventFactory(borrower=borrower, decision=allowed, to="+16175550100",
                        at=dt.datetime(2024, 2, 7, 14, tzinfo=dt.UTC))  # fmt: skip
    DecisionFactory(borrower=borrower, loan=loan, outcome="deny", at=dt.datetime(2024, 2, 8, 3, tzinfo=dt.UTC),
                    reasons=[{"rule": "HRS-01", "outcome": "deny", "message": "Outside contact hours (8am-9pm).",
                              "message_zh": "不在允许联系的时间内。"}])  # fmt: skip
    PromiseFactory(case=case, amount=Decimal("40.00"), status="broken")
    PaymentPlanFactory(case=case, status="broken", total_amount=Decimal("100.00"))
    HoldFactory(case=case, kind="dispute", reason="says the loan was repaid", lift_reason="verification mailed",
                lifted_at=dt.datetime(2024, 2, 20, tzinfo=dt.UTC))  # fmt: skip
    return case


def read(pack: EvidencePack) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(pack.zip_bytes())) as bundle:
        return {name: bundle.read(name) for name in bundle.namelist()}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_pack_of_a_legal_case_holds_every_listed_item(language):
    case = legal_case(language)
    manager = user_with_role("manager", "manager.a")
    pack = evidence_pack_build(case_id=case.pk, actor=manager, reason="for the lawyer").pack
    files = read(pack)
    document = case.documents.get()

    assert pack.languages == [language] and pack.version == 1 and pack.files == len(files)
    expected = {
        f"{language}/{stem}.pdf"
        for stem in (
            "00-index",
            "01-loan",
            "02-payments",
            "03-notices",
            "04-contacts",
            "05-promises-plans",
            "06-disputes-holds",
            "07-disputes",
        )
    }
    expected |= {f"data/{n}.csv" for n in ("schedule", "payments", "notices", "messages", "contacts",
                                           "promises-plans", "disputes-holds", "disputes",
                                           "validation-notice-clock")}  # fmt: skip
    expected |= {"manifest.csv", f"notices/{document.filename}"}
    assert set(files) == expected
    # The notice exactly as stored, its hash on the cover and in the manifest.
    assert files[f"notices/{document.filename}"] == document.pdf_bytes()
    assert hashlib.sha256(files[f"notices/{document.filename}"]).hexdigest() == document.sha256
    manifest = {row["file"]: row["sha256"] for row in csv.DictReader(io.StringIO(files["manifest.csv"].decode()))}
    assert set(manifest) == expected - {"manifest.csv"}
    assert all(hashlib.sha256(files[name]).hexdigest() == sha for name, sha in manifest.items())
    assert hashlib.sha256(files["manifest.csv"]).hexdigest() == pack.manifest_sha256

    cover = flat(pdf_text(files[f"{language}/00-index.pdf"]))
    for name, sha in manifest.items():
        if not name.endswith("00-index.pdf"):
            assert name in cover and sha in cover, name  # every item listed with its SHA-256
    stems = ("01-loan", "02-payments", "03-notices", "04-contacts", "05-promises-plans", "06-disputes-holds")
    text = {stem: flat(pdf_text(files[f"{language}/{stem}.pdf"])) for stem in stems}
    money = {a: flat(format_money(Decimal(a), "USD")) for a in ("300.00", "30.00", "20.00", "40.00", "100.00")}
    zone = "Asia/Shanghai" if language == "zh-hans" else "America/New_York"
    for part in text.values():
        assert "HarborLaneFinance" in part and flat(NAMES[language]) in part and case.loan.external_id in part
        assert zone in part  # times in the borrower's zone, the zone named
    assert money["300.00"] in text["01-loan"]  # the amount lent and disbursed
    assert "PAY-1" in text["02-payments"] and "PAY-2" in text["02-payments"] and money["30.00"] in text["02-payments"]
    assert document.sha256[:16] in text["03-notices"]
    assert "HRS-01" in text["04-contacts"] and money["40.00"] in text["05-promises-plans"]
    if language == "zh-hans":
        assert "证据包" in cover and "还款计划" in text["01-loan"] and "分配" in text["02-payments"]
        assert "不在允许联系的时间内" in text["04-contacts"] and "争议" in text["06-disputes-holds"]
        assert "2024-02-0811:00Asia/Shanghai" in text["04-contacts"]  # the refused call, in Beijing time
    else:
        assert "Evidencepack" in cover and "Repaymentschedule" in text["01-loan"]
        assert "Outsidecontacthours" in text["04-contacts"] and "saystheloanwasrepaid" in text["06-disputes-holds"]
        assert "2024-02-0722:00America/New_York" in text["04-contacts"]  # the refused call, in Boston's time

    # The CSVs: every allocation, the contact with its decision and the refusal with its reasons in both languages.
    payments = list(csv.DictReader(io.StringIO(files["data/payments.csv"].decode())))
    assert {r["reference"] for r in payments} == {"PAY-1", "PAY-2"}
    assert sum(Decimal(r["allocated"]) for r in payments) == Decimal("50.00")
    # A hold with no dispute record and a debt with no clock: the dispute files say there is none.
    assert len(files["data/disputes.csv"].decode().splitlines()) == 1
    assert len(files["data/validation-notice-clock.csv"].decode().splitlines()) == 1
    disputes = flat(pdf_text(files[f"{language}/07-disputes.pdf"]))
    assert flat(NAMES[language]) in disputes
    if language == "en":
        assert "Novalidationnoticeclock" in disputes and "Nodisputewasrecorded" in disputes
    contacts = list(csv.DictReader(io.StringIO(files["data/contacts.csv"].decode())))
    assert [r["decision_allowed"] for r in contacts] == ["yes", "no"]
    assert contacts[1]["rules"] == "HRS-01" and "不在允许联系的时间内" in contacts[1]["reasons_zh"]
    # Who built it: the pack and the case's audit.
    audit = CaseTransition.objects.get(case=case, transition="evidence_pack")
    assert pack.created_by == manager and audit.actor == manager and pack.sha256 in audit.reason
    recorded = {"expected_sha256": pack.sha256, "expected_manifest_sha256": pack.manifest_sha256}
    assert pack_verify(pack.zip_bytes(), **recorded) == []


def test_a_us_borrower_who_reads_chinese_gets_both_languages():
    case = legal_case("en")
    case.borrower.language = "zh-hans"
    case.borrower.save()
    assert pack_languages(case.borrower) == ["zh-hans", "en"]
    pack = evidence_pack_build(case_id=case.pk, actor=None).pack
    names = set(read(pack))
    assert {"zh-hans/00-index.pdf", "en/00-index.pdf", "zh-hans/02-payments.pdf", "en/02-payments.pdf"} <= names


def test_building_again_is_idempotent_and_something_new_is_the_next_version():
    case = legal_case()
    first = evidence_pack_build(case_id=case.pk, actor=None, reason="the case entered legal")
    again = evidence_pack_build(case_id=case.pk, actor=user_with_role("manager"))
    assert first.created and not again.created and again.pack == first.pack
    assert EvidencePack.objects.filter(case=case).count() == 1
    payment_record(loan_id=case.loan_id, amount=Decimal("5.00"), received_at=dt.datetime(2024, 3, 1, tzinfo=dt.UTC),
                   reference="PAY-3")  # fmt: skip
    second = evidence_pack_build(case_id=case.pk, actor=None)
    assert second.created and second.pack.version == 2 and "PAY-3" in read(second.pack)["data/payments.csv"].decode()
    assert first.pack.zip_bytes()  # the first version is kept as it was
    assert CaseTransition.objects.filter(case=case, transition="evidence_pack").count() == 2


def test_a_pack_is_never_changed():
    pack = evidence_pack_build(case_id=legal_case().pk, actor=None).pack
    with pytest.raises(DatabaseError), transaction.atomic():
        EvidencePack.objects.filter(pk=pack.pk).update(sha256="0" * 64)
    assert not Path(pack.path).is_absolute()


def test_a_tampered_file_fails_verification(tmp_path):
    pack = evidence_pack_build(case_id=legal_case().pk, actor=None).pack
    good = tmp_path / "pack.zip"
    good.write_bytes(pack.zip_bytes())
    out = io.StringIO()
    call_command("verify_evidence_pack", str(good), stdout=out)
    assert "verifies" in out.getvalue()
    call_command("verify_evidence_pack", "--pack", str(pack.pk), stdout=out)

    # One payment changed in the CSV, everything else (the manifest included) as it was.
    tampered = tmp_path / "tampered.zip"
    rewritten(good, tampered, "data/payments.csv", b"30.00", b"3.00")
    problems = pack_verify(tampered.read_bytes())
    assert len(problems) == 1 and problems[0].startswith("data/payments.csv: SHA-256")
    with pytest.raises(CommandError, match=r"data/payments\.csv"):
        call_command("verify_evidence_pack", str(tampered))
    # A file slipped in, and one taken out.
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(tampered, "w") as target:
        for info in source.infolist():
            if info.filename != "data/holds.csv" and not info.filename.startswith("notices/"):
                target.writestr(info, source.read(info.filename))
        target.writestr("notices/extra.pdf", b"%PDF-1.4")
    problems = "\n".join(pack_verify(tampered.read_bytes()))
    assert "notices/extra.pdf: in the pack but not in the manifest" in problems
    assert "in the manifest but missing from the pack" in problems


def test_the_stored_file_changed_is_refused_by_the_command(settings):
    pack = evidence_pack_build(case_id=legal_case().pk, actor=None).pack
    path = Path(settings.DOCUMENTS_DIR) / pack.path
    path.chmod(0o600)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(CommandError, match="not the recorded"):
        call_command("verify_evidence_pack", "--pack", str(pack.pk))


def test_a_case_entering_legal_gets_its_pack_once():
    legal = legal_case()
    built = evidence_packs_missing()
    assert built == [legal.pk] and evidence_packs_missing() == []
    assert EvidencePack.objects.get(case=legal).actor_label == "system"


def test_approving_legal_queues_the_pack_after_commit(django_capture_on_commit_callbacks, monkeypatch):
    from collections_app import tasks
    from collections_app.services import case_transition

    queued: list[tuple] = []
    monkeypatch.setattr(tasks.evidence_pack_build_task, "delay", lambda *args: queued.append(args))
    case = make_case("legal_review")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        case_transition(case_id=case.pk, name="approve_legal", actor=user_with_role("manager"), reason="ok")
    assert queued == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert queued == [(case.pk, "the case entered legal")]


# ---------------------------------------------------------------------------------------------------------------
# Disputes (Reg F 1006.38, DSP-01) and the validation notice clock (VAL-01)
# ---------------------------------------------------------------------------------------------------------------
def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def disputed_case():  # type: ignore[no-untyped-def]
    """The legal case of a US borrower who reads Chinese (both languages): the validation notice mailed on Monday
    2 June 2025 (presumed received the next Monday, its period ending 9 July), a dispute by letter on 20 June (in
    writing, in the period: DSP-01) asking for the original creditor, its verification prepared on 23 June by a
    collector and its letter mailed on 24 June — the hold lifted then."""
    case = legal_case("en")
    case.borrower.language = "zh-hans"
    case.borrower.save()
    collector = user_with_role("collector", "casey", first_name="Casey", last_name="Jones")
    validation_notice_record(loan_id=case.loan_id, sent_at=at("2025-06-02T12:00:00-04:00"),
                             mailed_on=dt.date(2025, 6, 2), validation_period_ends_on=dt.date(2025, 7, 9),
                             ref="message:test")  # fmt: skip
    with time_machine.travel(at("2025-06-20T11:00:00-04:00"), tick=False):
        dispute = dispute_record(case_id=case.pk, actor=collector, reason="Never borrowed from this lender",
                                 terms=DisputeTerms(channel="letter", original_creditor=True))  # fmt: skip
    with time_machine.travel(at("2025-06-23T10:15:00-04:00"), tick=False):
        dispute_verification_prepare(dispute_id=dispute.pk, actor=collector)
    dispute.refresh_from_db()
    letter = dispute.verification_message
    letter.status, letter.sent_at = "sent", at("2025-06-24T09:30:00-04:00")
    letter.save(update_fields=["status", "sent_at"])
    with time_machine.travel(at("2025-06-24T09:31:00-04:00"), tick=False):
        dispute_verification_mailed(letter)
    return case


def test_a_verified_dispute_and_the_validation_notice_clock_are_their_own_section(tmp_path):
    case = disputed_case()
    dispute = Dispute.objects.select_related("hold", "verification_document").get(case=case)
    assert dispute.stage == "mailed" and dispute.dsp01 and dispute.hold.lifted_at is not None
    pack = evidence_pack_build(case_id=case.pk, actor=None).pack
    files = read(pack)
    verification = dispute.verification_document

    assert {"zh-hans/07-disputes.pdf", "en/07-disputes.pdf", "data/disputes.csv",
            "data/validation-notice-clock.csv"} <= set(files)  # fmt: skip
    # The verification letter as stored, byte for byte, once (it is among the loan's notices).
    assert files[f"notices/{verification.filename}"] == verification.pdf_bytes()
    assert sum(name.startswith("notices/dispute-verification-") for name in files) == 1

    # The CSVs: the dispute's dates in the borrower's zone, the clock with its presumed receipt.
    (row,) = csv.DictReader(io.StringIO(files["data/disputes.csv"].decode()))
    assert row["dispute_id"] == str(dispute.pk) and row["hold_id"] == str(dispute.hold_id)
    assert row["received_at"] == "2025-06-20T11:00:00-04:00" and row["time_zone"] == "America/New_York"
    assert (row["channel"], row["written"], row["original_creditor"]) == ("letter", "yes", "yes")
    assert (row["in_validation_period"], row["validation_period_ends_on"], row["dsp01"]) == ("yes", "2025-07-09", "yes")
    assert row["prepared_at"] == "2025-06-23T10:15:00-04:00" and row["prepared_by"] == "casey"
    assert row["mailed_at"] == "2025-06-24T09:30:00-04:00" and row["stage"] == "mailed"
    assert row["hold_lifted_at"] == "2025-06-24T09:31:00-04:00" and "verification mailed" in row["lift_reason"]
    assert row["verification_file"] == f"notices/{verification.filename}"
    assert row["verification_sha256"] == verification.sha256
    assert row["verification_message_id"] == str(dispute.verification_message_id)
    assert row["reason"] == "Never borrowed from this lender"
    (clock,) = csv.DictReader(io.StringIO(files["data/validation-notice-clock.csv"].decode()))
    assert clock["first_communication_at"] == "2025-06-02T12:00:00-04:00" and clock["notice_mailed_on"] == "2025-06-02"
    assert clock["presumed_receipt"] == "2025-06-09" and clock["validation_period_ends_on"] == "2025-07-09"

    # The PDFs, in both languages.
    en = flat(pdf_text(files["en/07-disputes.pdf"]))
    assert "Neverborrowedfromthislender" in en and "CaseyJones" in en
    assert "2025-06-2011:00America/New_York" in en  # received
    assert "2025-06-2310:15America/New_York" in en  # verification prepared
    assert "2025-06-2409:30America/New_York" in en  # verification mailed
    assert "2025-06-2409:31America/New_York" in en  # hold lifted
    assert "2025-06-0212:00America/New_York" in en  # first communication
    with translation.override("en"):
        presumed, ends = flat(day(dt.date(2025, 6, 9))), flat(day(dt.date(2025, 7, 9)))
    assert f"Presumedreceivedon{presumed}" in en and f"itendson{ends}" in en
    assert "Howitcamebyletter" in en and "Asksfortheoriginalcreditor" in en
    assert verification.sha256[:16] in en  # the verification letter named with its hash
    zh = flat(pdf_text(files["zh-hans/07-disputes.pdf"]))
    assert "争议" in zh and "核实材料" in zh and "Neverborrowedfromthislender" in zh and "2025-06-2011:00" in zh
    for language in ("en", "zh-hans"):
        cover = flat(pdf_text(files[f"{language}/00-index.pdf"]))
        assert "07-disputes.pdf" in cover and "data/disputes.csv" in cover and "validation-notice-clock.csv" in cover

    # The manifest lists the new files and the pack verifies (the service and the command).
    manifest = {row["file"]: row["sha256"] for row in csv.DictReader(io.StringIO(files["manifest.csv"].decode()))}
    for name in ("en/07-disputes.pdf", "zh-hans/07-disputes.pdf", "data/disputes.csv",
                 "data/validation-notice-clock.csv", f"notices/{verification.filename}"):  # fmt: skip
        assert manifest[name] == hashlib.sha256(files[name]).hexdigest(), name
    assert pack_verify(pack.zip_bytes(), expected_sha256=pack.sha256,
                       expected_manifest_sha256=pack.manifest_sha256) == []  # fmt: skip
    saved = tmp_path / "pack.zip"
    saved.write_bytes(pack.zip_bytes())
    out = io.StringIO()
    call_command("verify_evidence_pack", str(saved), stdout=out)
    assert "verifies" in out.getvalue()
    # A dispute's row changed after the fact is caught.
    tampered = tmp_path / "tampered.zip"
    rewritten(saved, tampered, "data/disputes.csv", b"2025-06-24T09:30", b"2025-06-21T09:30")
    problems = pack_verify(tampered.read_bytes())
    assert len(problems) == 1 and problems[0].startswith("data/disputes.csv: SHA-256")


def test_a_dispute_not_yet_verified_shows_what_is_still_to_come():
    case = legal_case("en")
    with time_machine.travel(at("2025-06-20T11:00:00-04:00"), tick=False):
        dispute_record(case_id=case.pk, actor=user_with_role("collector", "casey"), reason="Wrong amount",
                       terms=DisputeTerms(channel="call"))  # fmt: skip
    files = read(evidence_pack_build(case_id=case.pk, actor=None).pack)
    (row,) = csv.DictReader(io.StringIO(files["data/disputes.csv"].decode()))
    assert (row["written"], row["dsp01"], row["stage"]) == ("no", "no", "received")
    assert row["prepared_at"] == row["mailed_at"] == row["hold_lifted_at"] == row["verification_file"] == ""
    text = flat(pdf_text(files["en/07-disputes.pdf"]))
    assert "Wrongamount" in text and "onacall" in text and "Withinthevalidationperiod(novalidationnotice" in text


# ---------------------------------------------------------------------------------------------------------------
# Who may build and download: pages and the API
# ---------------------------------------------------------------------------------------------------------------
def test_managers_build_and_download_from_the_pages_and_another_team_gets_404():
    collector = user_with_role("collector", "collector.a")
    manager = user_with_role("manager", "manager.a")
    team_with(collector, manager=manager)
    other = user_with_role("manager", "manager.b")
    team_with(user_with_role("collector", "collector.b"), manager=other, name="B")
    case = legal_case(worked_by=collector)
    client = Client()
    client.force_login(manager)
    answer = client.post(reverse("case-evidence-pack-build", args=[case.pk]), {"next": reverse("escalations-legal")})
    assert answer.status_code == 302 and answer["Location"] == reverse("escalations-legal")
    pack = EvidencePack.objects.get(case=case)
    download = client.get(reverse("case-evidence-pack", args=[case.pk]))
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert download.content == pack.zip_bytes() and pack.filename in download["Content-Disposition"]
    assert download["Cache-Control"].startswith("private, no-store")
    listed = client.get(reverse("escalations-legal"))
    assert reverse("case-evidence-pack", args=[case.pk]) in listed.content.decode()

    for user, status in ((other, 404), (collector, 403)):
        client.force_login(user)
        assert client.get(reverse("case-evidence-pack", args=[case.pk])).status_code == status
        assert client.post(reverse("case-evidence-pack-build", args=[case.pk])).status_code == status
    assert EvidencePack.objects.count() == 1


def test_the_api_builds_and_downloads():
    collector = user_with_role("collector", "collector.a")
    manager = user_with_role("manager", "manager.a")
    team_with(collector, manager=manager)
    case = legal_case(worked_by=collector)
    api = api_for(manager)
    url = reverse("api-case-evidence-pack", args=[case.pk])
    assert api.get(url).status_code == 404  # none built yet
    built = api.post(url, {"reason": "for the court"}, format="json")
    assert built.status_code == 201, built.content
    body = built.json()
    assert body["version"] == 1 and body["created"] is True and len(body["sha256"]) == 64
    again = api.post(url, {}, format="json")
    assert again.status_code == 200 and again.json()["created"] is False
    download = api.get(url)
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert pack_verify(b"".join(download.streaming_content) if download.streaming else download.content) == []
    assert api_for(collector).post(url, {}, format="json").status_code == 403
    other = user_with_role("manager", "manager.b")
    team_with(manager=other, name="B")
    assert api_for(other).get(url).status_code == 404


# ---------------------------------------------------------------------------------------------------------------
# Performance: a case with many payments and contacts
# ---------------------------------------------------------------------------------------------------------------
def test_a_large_case_builds_in_a_fixed_number_of_queries():
    case = legal_case()
    payments = [
        Payment(loan=case.loan, amount=Decimal("1.00"), currency="USD", reference=f"BULK-{n}",
                received_at=dt.datetime(2024, 1, 2, tzinfo=dt.UTC) + dt.timedelta(hours=n))
        for n in range(600)
    ]  # fmt: skip
    Payment.objects.bulk_create(payments)
    decision = Decision.objects.filter(borrower=case.borrower, allowed=True).first()
    ContactEvent.objects.bulk_create(
        ContactEvent(borrower=case.borrower, channel="call", direction="outbound", outcome="no_answer",
                     decision=decision, at=dt.datetime(2024, 1, 2, tzinfo=dt.UTC) + dt.timedelta(hours=n))
        for n in range(600)
    )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        pack = evidence_pack_build(case_id=case.pk, actor=None).pack
    assert len(queries) <= 30, [q["sql"][:120] for q in queries]
    files = read(pack)
    assert files["data/payments.csv"].decode().count("BULK-") == 600
    assert files["data/contacts.csv"].decode().count("no_answer") == 600
    assert flat(pdf_text(files["en/02-payments.pdf"])).count("BULK-") == 600


# ---------------------------------------------------------------------------------------------------------------
# The "In legal" escalation list: fixed query count, only the manager's teams, human words in Chinese
# ---------------------------------------------------------------------------------------------------------------
def _in_legal(team, collector, n):  # type: ignore[no-untyped-def]
    """``n`` cases in legal, each with a (recorded, not built) evidence pack: the list only reads the rows."""
    cases = [make_case("legal", team=team, assigned_to=collector) for _ in range(n)]
    EvidencePack.objects.bulk_create(
        EvidencePack(case=c, version=1, languages=["en"], path=f"evidence/test/{c.pk}.zip", sha256="a" * 64,
                     size=1, manifest_sha256="b" * 64, content_digest="c" * 64, files=1, reason="t",
                     actor_label="system")
        for c in cases
    )  # fmt: skip
    return cases


def test_the_in_legal_list_costs_the_same_queries_for_any_number_of_rows_and_shows_only_my_teams(
    django_assert_max_num_queries,
):
    manager, collector = user_with_role("manager", "morgan"), user_with_role("collector", "casey")
    team = team_with(collector, name="US", manager=manager)
    other = make_case("legal", team=team_with(user_with_role("collector", "cn1"), name="CN",
                                               manager=user_with_role("manager", "mei")))  # fmt: skip
    client = Client()
    client.force_login(manager)
    _in_legal(team, collector, 2)
    client.get(reverse("escalations-legal"))  # the session, the user: warm
    with django_assert_max_num_queries(12) as few:
        response = client.get(reverse("escalations-legal"))
    assert len(response.context["page"]) == 2 and all(c.pack_version == 1 for c in response.context["page"])
    _in_legal(team, collector, 26)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("escalations-legal"))
    assert len(response.context["page"]) == 25 and response.context["page"].paginator.count == 28
    assert f'href="/cases/{other.pk}/"' not in response.content.decode()
    assert response.content.decode().count('data-testid="evidence-pack-download"') == 25


def test_a_chinese_manager_reads_the_in_legal_list_in_chinese():
    from core.models import UserSettings
    from tests.collections_app.test_locale import ENGLISH, IDENTIFIER, VisibleText

    manager, collector = user_with_role("manager", "mgr-cn"), user_with_role("collector", "cn1")
    UserSettings.objects.create(user=manager, language="zh-hans")
    team = team_with(collector, name="三门峡催收组", language="zh-hans", manager=manager)
    _in_legal(team, collector, 1)
    make_case("legal", team=team, assigned_to=collector)  # one without a pack yet
    Borrower.objects.update(full_name="王芳")
    client = Client()
    client.force_login(manager)
    response = client.get(reverse("escalations-legal"))
    parser = VisibleText()
    parser.feed(response.content.decode())
    text = "\n".join(parser.parts)
    assert not IDENTIFIER.findall(text) and not ENGLISH.findall(text), text
    assert "下载证据包（第 1 版）" in text and "生成证据包" in text and "已转法务" in text


def test_the_legal_review_list_and_the_case_page_offer_the_pack_to_managers_only():
    collector = user_with_role("collector", "collector.a")
    manager = user_with_role("manager", "manager.a")
    team = team_with(collector, manager=manager)
    review = make_case("legal_review", team=team, assigned_to=collector)
    client = Client()
    client.force_login(manager)
    page = client.get(reverse("escalations")).content.decode()
    assert reverse("case-evidence-pack-build", args=[review.pk]) in page  # none yet: build it from the list
    built = client.post(reverse("case-evidence-pack-build", args=[review.pk]),
                        {"next": reverse("escalations"), "reason": "", "case": [review.pk]})  # fmt: skip
    assert built.status_code == 302 and built["Location"] == reverse("escalations")
    page = client.get(reverse("escalations")).content.decode()
    assert reverse("case-evidence-pack", args=[review.pk]) in page and "version 1" in page
    case_page = client.get(reverse("case-detail", args=[review.pk])).content.decode()
    assert 'data-testid="evidence-pack"' in case_page and EvidencePack.objects.get().sha256 in case_page
    # Nothing new: building again says so and keeps version 1; an outside address is not followed.
    again = client.post(reverse("case-evidence-pack-build", args=[review.pk]), {"next": "https://evil.example/"})
    assert again["Location"] == reverse("case-detail", args=[review.pk]) and EvidencePack.objects.count() == 1
    client.force_login(collector)
    assert 'data-testid="evidence-pack"' not in client.get(reverse("case-detail", args=[review.pk])).content.decode()


def test_the_api_hands_the_zip_to_a_client_that_asks_for_a_zip():
    manager = user_with_role("manager", "manager.a")
    collector = user_with_role("collector", "collector.a")
    team_with(collector, manager=manager)
    case = legal_case(worked_by=collector)
    api = api_for(manager)
    url = reverse("api-case-evidence-pack", args=[case.pk])
    assert api.post(url, {}, format="json").status_code == 201
    download = api.get(url, HTTP_ACCEPT="application/zip")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    missing = api.get(url, {"version": "2"}, HTTP_ACCEPT="application/zip")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json" and missing.json()["detail"]
    assert api.get(url, {"version": "x"}).status_code == 400


def test_long_free_text_is_cut_in_the_pdfs_and_kept_whole_in_the_csvs():
    """A cell taller than a page cannot be laid out (reportlab's LayoutError was a 500 under the API fuzzer)."""
    case = legal_case()
    HoldFactory(case=case, reason="word " * 2000)
    ContactEventFactory(borrower=case.borrower, to="x" * 254, channel="sms")
    files = read(evidence_pack_build(case_id=case.pk, actor=None).pack)
    assert "…" in pdf_text(files["en/06-disputes-holds.pdf"])
    assert ("word " * 2000).strip() in files["data/disputes-holds.csv"].decode()
    assert "x" * 254 in files["data/contacts.csv"].decode()


def test_the_sweep_handing_cases_to_legal_builds_their_packs_after_the_commit(
    django_capture_on_commit_callbacks, monkeypatch
):
    from collections_app import tasks
    from collections_app.sweep import sweep_run
    from tests.collections_app.test_sweep import set_policy
    from tests.factories import loan_with_schedule, notices_served

    queued: list[str] = []
    monkeypatch.setattr(tasks.evidence_packs_missing_task, "delay", lambda: queued.append("missing"))
    set_policy(legal_requires_approval=False)
    loan = loan_with_schedule(("2024-01-01", "100.00"))
    sweep_run(as_of=dt.date(2024, 4, 14))  # to formal notice; FN-01 waits for its letter
    notices_served(loan.cases.get())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sweep_run(as_of=dt.date(2024, 4, 15))
    case = loan.cases.get()
    assert case.state == "legal" and queued == [] and not EvidencePack.objects.exists()
    for callback in callbacks:
        callback()
    assert queued == ["missing"]
    assert evidence_packs_missing() == [case.pk]  # what the task does
    assert EvidencePack.objects.get().case == case
