"""import_loans / import_payments: whole-file validation, all-or-nothing writes, harmless re-imports."""

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from loans.models import Borrower, Installment, Loan, Payment, PhoneNumber
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

LOAN_COLUMNS = [
    "borrower_external_id",
    "full_name",
    "national_id",
    "language",
    "address_line1",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
    "phone_kind",
    "phone_sms_consent",
    "email",
    "loan_external_id",
    "product",
    "principal",
    "currency",
    "disbursed_on",
    "annual_rate",
    "term_months",
    "first_due_date",
]


def loan_row(n=1, **overrides):
    row = {
        "borrower_external_id": f"B{n}",
        "full_name": f"Pat Doe {n}",
        "national_id": "900-70-1234",
        "language": "en",
        "address_line1": "1 Main St",
        "city": "Boston",
        "region": "MA",
        "postal_code": "02118",
        "country": "US",
        "phone": "+16175550123",
        "phone_kind": "mobile",
        "phone_sms_consent": "true",
        "email": f"pat{n}@example.com",
        "loan_external_id": f"L{n}",
        "product": "us-test",
        "principal": "1200.00",
        "currency": "USD",
        "disbursed_on": "2026-01-01",
        "annual_rate": "12",
        "term_months": "12",
        "first_due_date": "2026-02-01",
    }
    row.update(overrides)
    return row


def write_csv(path, rows, columns=LOAN_COLUMNS):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(command, path):
    out, err = io.StringIO(), io.StringIO()
    call_command(command, str(path), "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def rejected(command, path):
    err = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command(command, str(path), "--no-progress", stdout=io.StringIO(), stderr=err)
    return err.getvalue(), str(info.value)


@pytest.fixture(autouse=True)
def product():
    return ProductFactory(code="us-test", currency="USD")


def test_a_csv_file_creates_borrowers_loans_and_generated_schedules(tmp_path):
    out, _ = run("import_loans", write_csv(tmp_path / "loans.csv", [loan_row(1), loan_row(2)]))
    assert "created 2 borrowers" in out and "2 loans" in out
    loan = Loan.objects.get(external_id="L1")
    assert loan.installments.count() == 12
    assert sum(i.principal_due for i in loan.installments.all()) == Decimal("1200.00")
    borrower = loan.borrower
    assert borrower.national_id_masked == "*****1234"
    assert borrower.national_id_hash and "900" not in borrower.national_id_hash
    assert borrower.time_zones == ["America/New_York"]
    assert PhoneNumber.objects.get(borrower=borrower).sms_consent is True


def test_json_lines_with_an_explicit_schedule_and_amounts_paid_before_intake(tmp_path):
    row = {
        "borrower": {
            "external_id": "CN1",
            "full_name": "王芳",
            "language": "zh-hans",
            "national_id": "41120219900101123X",
            "address": {"city": "三门峡市湖滨区", "region": "河南省", "country": "CN"},
            "phones": [{"number": "+8613812345678", "autodial_consent": True}],
        },
        "loan": {
            "external_id": "SMX-1",
            "product": "cn-test",
            "principal": "3000.00",
            "currency": "CNY",
            "disbursed_on": "2026-01-01",
            "installments": [
                {
                    "number": 1,
                    "due_date": "2026-02-01",
                    "principal": "1000.00",
                    "interest": "50.00",
                    "amount_paid": "1050.00",
                },
                {"number": 2, "due_date": "2026-03-01", "amount_due": "1050.00", "amount_paid": "100.00"},
                {"number": 3, "due_date": "2026-04-01", "amount_due": "1050.00"},
            ],
        },
    }
    ProductFactory(code="cn-test", currency="CNY", timezone="Asia/Shanghai")
    path = tmp_path / "loans.jsonl"
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    run("import_loans", path)
    loan = Loan.objects.get(external_id="SMX-1")
    first, second, _third = loan.installments.order_by("number")
    assert (first.interest_due, first.paid_on) == (Decimal("50.00"), dt.date(2026, 2, 1))
    assert (second.principal_paid, second.paid_on) == (Decimal("100.00"), None)
    assert loan.borrower.time_zones == ["Asia/Shanghai"]
    assert loan.borrower.national_id_masked.endswith("123X")


def test_importing_the_same_file_twice_changes_nothing(tmp_path):
    path = write_csv(tmp_path / "loans.csv", [loan_row(1), loan_row(2)])
    run("import_loans", path)
    snapshot = (
        Borrower.objects.count(),
        Loan.objects.count(),
        Installment.objects.count(),
        PhoneNumber.objects.count(),
    )
    out, _ = run("import_loans", path)
    assert "unchanged 2 borrowers, 2 loans" in out
    assert (
        Borrower.objects.count(),
        Loan.objects.count(),
        Installment.objects.count(),
        PhoneNumber.objects.count(),
    ) == snapshot


def test_a_borrowers_second_loan_on_another_line_is_one_borrower(tmp_path):
    run("import_loans", write_csv(tmp_path / "loans.csv", [loan_row(1), loan_row(1, loan_external_id="L1b")]))
    assert Borrower.objects.count() == 1
    assert Loan.objects.filter(borrower__external_id="B1").count() == 2


BAD_ROWS = [
    ({"principal": "-5"}, "loan.principal"),
    ({"principal": "12.345"}, "loan.principal"),
    ({"currency": "XXX"}, "loan.currency"),
    ({"currency": "CNY"}, "loan.currency"),  # the product lends in USD
    ({"product": "nope"}, "loan.product"),
    ({"disbursed_on": "2026-02-30"}, "loan.disbursed_on"),
    ({"first_due_date": "2025-12-01"}, "loan.first_due_date"),  # before disbursement
    ({"term_months": ""}, "loan.installments"),  # neither schedule nor complete generation terms
    ({"term_months": "0"}, "loan.term_months"),
    ({"phone": "617-555-0123"}, "borrower.phones[0].number"),  # not E.164
    ({"phone_kind": "pager"}, "borrower.phones[0].kind"),
    ({"country": "USA"}, "borrower.address.country"),
    ({"region": "Massachusetts"}, "borrower.address.region"),
    ({"language": "fr"}, "borrower.language"),
    ({"email": "not-an-email"}, "borrower.emails[0].address"),
    ({"full_name": ""}, "borrower.full_name"),
    ({"loan_external_id": ""}, "loan.external_id"),
]


@pytest.mark.parametrize(("override", "field"), BAD_ROWS, ids=[f for _, f in BAD_ROWS])
def test_any_bad_row_rejects_the_whole_file_and_writes_nothing(tmp_path, override, field):
    path = write_csv(tmp_path / "loans.csv", [loan_row(1), loan_row(2, **override), loan_row(3)])
    report, message = rejected("import_loans", path)
    assert f"line 3, {field}:" in report
    assert "nothing was imported" in message
    assert Loan.objects.count() == 0 and Borrower.objects.count() == 0


def test_every_bad_row_is_reported_not_just_the_first(tmp_path):
    path = write_csv(tmp_path / "loans.csv", [loan_row(1, principal="x"), loan_row(2), loan_row(3, country="")])
    report, message = rejected("import_loans", path)
    assert "line 2, loan.principal" in report and "line 4, borrower.address.country" in report
    assert "2 error(s)" in message


def test_cross_row_problems_are_reported_with_both_lines(tmp_path):
    rows = [
        loan_row(1),
        loan_row(2, loan_external_id="L1"),
        loan_row(1, full_name="Someone Else", loan_external_id="L9"),
    ]
    report, _ = rejected("import_loans", write_csv(tmp_path / "loans.csv", rows))
    assert "line 3, loan.external_id: loan L1 is also on line 2" in report
    assert "line 4, borrower: borrower B1 differs from line 2" in report


def test_a_stored_loan_with_different_terms_is_an_error_not_an_overwrite(tmp_path):
    run("import_loans", write_csv(tmp_path / "a.csv", [loan_row(1)]))
    report, _ = rejected("import_loans", write_csv(tmp_path / "b.csv", [loan_row(1, principal="999.00")]))
    assert "already exists with different terms" in report
    assert Loan.objects.get(external_id="L1").principal == Decimal("1200.00")


def test_unknown_columns_and_broken_json_are_file_errors(tmp_path):
    path = write_csv(tmp_path / "loans.csv", [dict(loan_row(1), princpal="1")], columns=[*LOAN_COLUMNS, "princpal"])
    report, _ = rejected("import_loans", path)
    assert "line 1, princpal: unknown column" in report
    bad = tmp_path / "loans.jsonl"
    bad.write_text('{"borrower": {}}\n{not json\n', encoding="utf-8")
    report, _ = rejected("import_loans", bad)
    assert "line 2, -: not valid JSON" in report and "line 1, borrower.external_id" in report


def test_json_unknown_fields_are_rejected(tmp_path):
    path = tmp_path / "loans.jsonl"
    path.write_text(json.dumps({"borrower": {}, "loan": {}, "extra": 1}) + "\n", encoding="utf-8")
    report, _ = rejected("import_loans", path)
    assert "line 1, extra: Unknown field." in report


def test_an_explicit_schedule_must_be_numbered_without_gaps(tmp_path):
    row = {
        "borrower": {"external_id": "B1", "full_name": "A", "address": {"country": "US", "region": "MA"}},
        "loan": {
            "external_id": "L1",
            "product": "us-test",
            "principal": "200",
            "currency": "USD",
            "disbursed_on": "2026-01-01",
            "installments": [
                {"number": 1, "due_date": "2026-02-01", "amount_due": "100"},
                {"number": 3, "due_date": "2026-03-01", "amount_due": "100", "amount_paid": "150"},
            ],
        },
    }
    path = tmp_path / "l.jsonl"
    path.write_text(json.dumps(row), encoding="utf-8")
    report, _ = rejected("import_loans", path)
    assert "loan.installments[1].amount_paid: Cannot exceed the amount due." in report


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_loans", str(tmp_path / "missing.csv"))


def test_large_files_draw_a_progress_bar(tmp_path):
    path = write_csv(tmp_path / "loans.csv", [loan_row(n) for n in range(1, 601)])
    err = io.StringIO()
    call_command("import_loans", str(path), stdout=io.StringIO(), stderr=err)
    assert "validating loans" in err.getvalue()
    assert Loan.objects.count() == 600


# ---------------------------------------------------------------------------------------------------------------
# Payments
# ---------------------------------------------------------------------------------------------------------------
PAYMENT_COLUMNS = ["loan_external_id", "amount", "currency", "received_at", "reference"]


def payment_row(**overrides):
    row = {
        "loan_external_id": "L1",
        "amount": "100.00",
        "currency": "USD",
        "received_at": "2026-02-01T10:00:00-05:00",
        "reference": "P-1",
    }
    row.update(overrides)
    return row


@pytest.fixture
def loan(tmp_path):
    run("import_loans", write_csv(tmp_path / "seed.csv", [loan_row(1)]))
    return Loan.objects.get(external_id="L1")


def test_payments_file_records_and_allocates_and_is_harmless_to_repeat(tmp_path, loan):
    path = write_csv(tmp_path / "p.csv", [payment_row(), payment_row(reference="P-2", amount="50.00")], PAYMENT_COLUMNS)
    out, _ = run("import_payments", path)
    assert "created 2 payments" in out
    out, _ = run("import_payments", path)
    assert "unchanged 2 payments" in out
    assert Payment.objects.filter(loan=loan).count() == 2
    assert sum(i.amount_paid for i in loan.installments.all()) == Decimal("150.00")


BAD_PAYMENTS = [
    ({"loan_external_id": "L404"}, "loan"),
    ({"amount": "0"}, "amount"),
    ({"amount": "abc"}, "amount"),
    ({"currency": "CNY"}, "currency"),
    ({"received_at": "2026-02-01T10:00:00"}, "received_at"),  # no offset: ambiguous
    ({"received_at": "yesterday"}, "received_at"),
    ({"reference": ""}, "reference"),
]


@pytest.mark.parametrize(("override", "field"), BAD_PAYMENTS, ids=[f for _, f in BAD_PAYMENTS])
def test_any_bad_payment_rejects_the_file(tmp_path, loan, override, field):
    path = write_csv(tmp_path / "p.csv", [payment_row(reference="OK"), payment_row(**override)], PAYMENT_COLUMNS)
    report, _ = rejected("import_payments", path)
    assert f"line 3, {field}:" in report
    assert Payment.objects.count() == 0


def test_a_reference_reused_with_another_amount_is_rejected_in_the_file_and_against_stored_payments(tmp_path, loan):
    path = write_csv(tmp_path / "p.csv", [payment_row(), payment_row(amount="99.00")], PAYMENT_COLUMNS)
    report, _ = rejected("import_payments", path)
    assert "line 3, reference: reference 'P-1' is used on line 2" in report
    run("import_payments", write_csv(tmp_path / "ok.csv", [payment_row()], PAYMENT_COLUMNS))
    report, _ = rejected(
        "import_payments", write_csv(tmp_path / "again.csv", [payment_row(amount="1.00")], PAYMENT_COLUMNS)
    )
    assert "is already recorded on loan L1" in report
    assert Payment.objects.count() == 1
