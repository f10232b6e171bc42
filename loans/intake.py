"""Intake of borrowers, loans and payments from files (CSV or JSON lines) — validated whole, written whole.

The contract: every row is validated first, on its own and against the other rows and the stored data. If any row
is bad, the caller gets every error (line, field, message) and nothing is written. Otherwise everything is written in
one transaction. Re-importing the same file is harmless: borrowers, loans and payments are matched by external id
(payments by loan + reference), identical rows are skipped, and a row that contradicts what is stored is an error.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import QuerySet, Sum
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.serializers import Serializer

from loans.models import (
    Borrower,
    EmailAddress,
    Installment,
    Loan,
    LoanProduct,
    Payment,
    PaymentSource,
    PhoneNumber,
)
from loans.money import MAX_AMOUNT
from loans.payments import loans_by_transfer_reference
from loans.schedule import equal_installments
from loans.serializers import (
    LoanIntakeRowSerializer,
    PaymentInputSerializer,
    check_currency_decimals,
    first_message,
)
from loans.services import (
    borrowers_refresh_time_zones,
    loans_reallocate,
    loans_refresh_balances,
    national_id_hash,
    national_id_mask,
)

Progress = Callable[[Iterable[Any], str, int], Iterable[Any]]


def no_progress(items: Iterable[Any], _label: str, _total: int) -> Iterable[Any]:
    return items


@dataclass(frozen=True, order=True)
class RowError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}, {self.field or '-'}: {self.message}"


class IntakeRejected(Exception):
    """The input has errors; nothing was written."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = sorted(errors)
        super().__init__(f"{len(self.errors)} error(s); nothing was written")


@dataclass(frozen=True)
class IntakeScope:
    """The stored borrowers and loans a caller may change (the same visibility as the single-record endpoints).
    A row that matches a stored record outside it is a row error; new records are anyone's to add."""

    borrowers: QuerySet[Borrower]
    loans: QuerySet[Loan]


@dataclass
class ImportSummary:
    rows: int = 0
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    def count(self, bucket: str, kind: str, n: int = 1) -> None:
        target = getattr(self, bucket)
        target[kind] = target.get(kind, 0) + n


def flatten_errors(detail: Any, prefix: str = "") -> list[tuple[str, str]]:
    """DRF's nested error structure → (dotted field path, message) pairs."""
    if isinstance(detail, dict):
        pairs = []
        for key, value in detail.items():
            if key == "non_field_errors":
                name = prefix
            elif isinstance(key, int):  # a list serializer's errors, keyed by position
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            pairs.extend(flatten_errors(value, name))
        return pairs
    if isinstance(detail, list):
        if all(isinstance(item, (str, ErrorDetail)) for item in detail):
            return [(prefix, str(item)) for item in detail]
        pairs = []
        for index, item in enumerate(detail):
            if item:
                pairs.extend(flatten_errors(item, f"{prefix}[{index}]"))
        return pairs
    return [(prefix, str(detail))]


# ---------------------------------------------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------------------------------------------
LOAN_CSV_COLUMNS = {
    "borrower_external_id": ("borrower", "external_id"),
    "full_name": ("borrower", "full_name"),
    "national_id": ("borrower", "national_id"),
    "language": ("borrower", "language"),
    "timezone": ("borrower", "timezone"),
    "address_line1": ("borrower", "address", "line1"),
    "address_line2": ("borrower", "address", "line2"),
    "city": ("borrower", "address", "city"),
    "region": ("borrower", "address", "region"),
    "postal_code": ("borrower", "address", "postal_code"),
    "country": ("borrower", "address", "country"),
    "loan_external_id": ("loan", "external_id"),
    "product": ("loan", "product"),
    "principal": ("loan", "principal"),
    "currency": ("loan", "currency"),
    "disbursed_on": ("loan", "disbursed_on"),
    "annual_rate": ("loan", "annual_rate"),
    "term_months": ("loan", "term_months"),
    "first_due_date": ("loan", "first_due_date"),
}
PHONE_COLUMNS = ("", "_kind", "_sms_consent", "_autodial_consent")
PHONE_PREFIXES = ("phone", "phone2", "phone3")
EMAIL_PREFIXES = ("email", "email2")
PAYMENT_CSV_COLUMNS = {
    "loan_external_id": "loan",
    "amount": "amount",
    "currency": "currency",
    "received_at": "received_at",
    "reference": "reference",
}


def _known_loan_columns() -> set[str]:
    known = set(LOAN_CSV_COLUMNS) | {"schedule"}
    known |= {prefix + suffix for prefix in PHONE_PREFIXES for suffix in PHONE_COLUMNS}
    known |= {prefix + suffix for prefix in EMAIL_PREFIXES for suffix in ("", "_kind")}
    return known


class FileFormatError(Exception):
    """The file cannot be read at all (not CSV/JSON lines, bad encoding, unknown columns)."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def _parse_schedule(text: str) -> list[dict[str, str | int]]:
    """``2026-01-15=100.00;2026-02-15=100.00`` → installment dicts numbered in order."""
    rows: list[dict[str, str | int]] = []
    for number, part in enumerate(filter(None, (p.strip() for p in text.split(";"))), start=1):
        due_date, sep, amount = part.partition("=")
        rows.append(
            {"number": number, "due_date": due_date.strip(), "amount_due": amount.strip()}
            if sep
            else {"number": number, "due_date": due_date.strip()}
        )
    return rows


def loan_csv_row_to_dict(row: dict[str, str]) -> dict[str, Any]:
    """A flat CSV row → the nested shape the JSON lines format (and the API) use. Blank cells are omitted."""
    data: dict[str, Any] = {"borrower": {"address": {}}, "loan": {}}
    for column, path in LOAN_CSV_COLUMNS.items():
        value = (row.get(column) or "").strip()
        if value:
            target = data
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
    phones = []
    for prefix in PHONE_PREFIXES:
        if (row.get(prefix) or "").strip():
            phone: dict[str, Any] = {"number": row[prefix].strip()}
            for suffix in PHONE_COLUMNS[1:]:
                if (row.get(prefix + suffix) or "").strip():
                    phone[suffix[1:]] = row[prefix + suffix].strip()
            phones.append(phone)
    if phones:
        data["borrower"]["phones"] = phones
    emails = []
    for prefix in EMAIL_PREFIXES:
        if (row.get(prefix) or "").strip():
            email = {"address": row[prefix].strip()}
            if (row.get(prefix + "_kind") or "").strip():
                email["kind"] = row[prefix + "_kind"].strip()
            emails.append(email)
    if emails:
        data["borrower"]["emails"] = emails
    if (row.get("schedule") or "").strip():
        data["loan"]["installments"] = _parse_schedule(row["schedule"])
    return data


def read_rows(path: Path, *, kind: str) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    """(line number, row as nested dict) for each readable record of a CSV or JSON lines file, and the errors of
    the lines that could not be read (reported together with the validation errors of the others).

    Raises FileFormatError when the file as a whole cannot be read. ``kind`` is loans or payments.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileFormatError([RowError(0, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from exc
    if path.suffix.lower() in {".jsonl", ".ndjson", ".json"}:
        return _read_json_lines(text)
    if path.suffix.lower() == ".csv":
        return _read_csv(text, kind=kind), []
    raise FileFormatError([RowError(0, "", "use a .csv or .jsonl file")])


def _read_json_lines(text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    rows, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_float=str)  # amounts stay exact: never through float
        except json.JSONDecodeError as exc:
            errors.append(RowError(number, "", f"not valid JSON: {exc.msg} (column {exc.colno})"))
            continue
        if not isinstance(value, dict):
            errors.append(RowError(number, "", "each line must be a JSON object"))
            continue
        rows.append((number, value))
    return rows, errors


def _read_csv(text: str, *, kind: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = reader.fieldnames or []
    known = _known_loan_columns() if kind == "loans" else set(PAYMENT_CSV_COLUMNS)
    unknown = [c for c in columns if c not in known]
    if unknown or not columns:
        raise FileFormatError(
            [RowError(1, c, "unknown column") for c in unknown] or [RowError(1, "", "the file has no header row")]
        )
    rows = []
    for row in reader:
        if None in row:
            raise FileFormatError([RowError(reader.line_num, "", "more cells than header columns")])
        if kind == "loans":
            rows.append((reader.line_num, loan_csv_row_to_dict(row)))
        else:
            rows.append((reader.line_num, {PAYMENT_CSV_COLUMNS[k]: v.strip() for k, v in row.items() if v.strip()}))
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Loans
# ---------------------------------------------------------------------------------------------------------------
def _validate_rows(
    rows: list[tuple[int, dict[str, Any]]], serializer_class: type[Serializer], progress: Progress, label: str
) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    valid: list[tuple[int, dict[str, Any]]] = []
    errors: list[RowError] = []
    # One serializer validates every row: building DRF's field tree per row costs more than validating it.
    serializer = serializer_class()
    for line, raw in progress(rows, label, len(rows)):
        try:
            valid.append((line, serializer.run_validation(raw)))
        except ValidationError as exc:
            errors.extend(RowError(line, name, message) for name, message in flatten_errors(exc.detail))
    return valid, errors


def _borrower_signature(b: dict[str, Any]) -> tuple:
    return (
        b["full_name"],
        b["national_id"],
        b["language"],
        b["timezone"],
        tuple(sorted(b["address"].items())),
        tuple(sorted(tuple(sorted(p.items())) for p in b["phones"])),
        tuple(sorted(tuple(sorted(e.items())) for e in b["emails"])),
    )


def _loan_terms(loan: dict[str, Any], borrower_external_id: str) -> tuple:
    return (borrower_external_id, loan["product"], loan["principal"], loan["currency"], loan["disbursed_on"])


def loans_validate(
    rows: list[tuple[int, dict[str, Any]]],
    *,
    progress: Progress = no_progress,
    known_errors: Iterable[RowError] = (),
    scope: IntakeScope | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """Validate every row of a loans intake; raise IntakeRejected with all errors, else return the clean rows.

    ``known_errors`` are problems found earlier (unreadable lines); they are reported with the rest. ``scope``:
    what the caller may change (None: everything, as for the file importers run by an operator).
    """
    valid, errors = _validate_rows(rows, LoanIntakeRowSerializer, progress, "validating loans")
    errors.extend(known_errors)
    if scope is not None:
        errors.extend(_loans_outside(valid, scope))

    products = {p.code: p for p in LoanProduct.objects.all()}
    stored_loans = {
        loan.external_id: loan
        for loan in Loan.objects.filter(external_id__in=[r["loan"]["external_id"] for _, r in valid]).select_related(
            "borrower", "product"
        )
    }
    seen_loans: dict[str, int] = {}
    seen_borrowers: dict[str, tuple[int, tuple]] = {}
    for line, row in valid:
        borrower, loan = row["borrower"], row["loan"]
        product = products.get(loan["product"])
        if product is None:
            errors.append(RowError(line, "loan.product", f"unknown product {loan['product']!r}"))
        elif product.currency != loan["currency"]:
            errors.append(
                RowError(
                    line, "loan.currency", f"product {product.code} lends in {product.currency}, not {loan['currency']}"
                )
            )
        if loan["external_id"] in seen_loans:
            errors.append(
                RowError(
                    line,
                    "loan.external_id",
                    f"loan {loan['external_id']} is also on line {seen_loans[loan['external_id']]}",
                )
            )
        seen_loans.setdefault(loan["external_id"], line)
        signature = _borrower_signature(borrower)
        first = seen_borrowers.setdefault(borrower["external_id"], (line, signature))
        if first[1] != signature:
            errors.append(
                RowError(line, "borrower", f"borrower {borrower['external_id']} differs from line {first[0]}")
            )
        stored = stored_loans.get(loan["external_id"])
        if stored is not None and _loan_terms(loan, borrower["external_id"]) != (
            stored.borrower.external_id,
            stored.product.code,
            stored.principal,
            stored.currency,
            stored.disbursed_on,
        ):
            errors.append(
                RowError(line, "loan.external_id", f"loan {loan['external_id']} already exists with different terms")
            )
    if errors:
        raise IntakeRejected(errors)
    return valid


def _loans_outside(valid: list[tuple[int, dict[str, Any]]], scope: IntakeScope) -> list[RowError]:
    """Rows that would change a stored borrower or loan outside the caller's scope (issue 11: a manager of one team
    rewrote another team's borrower — name, address, national id, phones with consent — through bulk intake)."""
    borrower_ids = {row["borrower"]["external_id"] for _, row in valid}
    loan_ids = {row["loan"]["external_id"] for _, row in valid}
    stored_borrowers = set(Borrower.objects.filter(external_id__in=borrower_ids).values_list("external_id", flat=True))
    stored_loans = set(Loan.objects.filter(external_id__in=loan_ids).values_list("external_id", flat=True))
    allowed_borrowers = set(
        scope.borrowers.filter(external_id__in=stored_borrowers).values_list("external_id", flat=True)
    )
    allowed_loans = set(scope.loans.filter(external_id__in=stored_loans).values_list("external_id", flat=True))
    outside = "is outside your teams' cases: only an admin may change it"
    errors = []
    for line, row in valid:
        borrower, loan = row["borrower"]["external_id"], row["loan"]["external_id"]
        if borrower in stored_borrowers - allowed_borrowers:
            errors.append(RowError(line, "borrower.external_id", f"borrower {borrower} {outside}"))
        if loan in stored_loans - allowed_loans:
            errors.append(RowError(line, "loan.external_id", f"loan {loan} {outside}"))
    return errors


def _schedule_for(loan: dict[str, Any]) -> list[dict[str, Any]]:
    if loan.get("installments"):
        return sorted(loan["installments"], key=lambda row: row["number"])
    return [
        {
            "number": s.number,
            "due_date": s.due_date,
            "principal": s.principal,
            "interest": s.interest,
            "fee": s.fee,
            "amount_paid": Decimal("0.00"),
        }
        for s in equal_installments(
            principal=loan["principal"],
            annual_rate=loan["annual_rate"],
            term_months=loan["term_months"],
            first_due_date=loan["first_due_date"],
            currency=loan["currency"],
        )
    ]


def loans_write(loans: list[tuple[Borrower, dict[str, Any]]], products: dict[str, LoanProduct]) -> list[Loan]:
    """Create validated loans (``LoanInputSerializer``) with their schedules, given or generated; allocate any
    amounts already paid and compute the balances. Call inside a transaction."""
    new_loans: list[Loan] = []
    schedules: list[list[dict[str, Any]]] = []
    for borrower, loan in loans:
        new_loans.append(
            Loan(
                external_id=loan["external_id"],
                borrower=borrower,
                product=products[loan["product"]],
                principal=loan["principal"],
                currency=loan["currency"],
                annual_rate=loan.get("annual_rate"),
                term_months=loan.get("term_months") or len(loan.get("installments") or []) or None,
                disbursed_on=loan["disbursed_on"],
            )
        )
        schedules.append(_schedule_for(loan))
    Loan.objects.bulk_create(new_loans, batch_size=1000)
    Installment.objects.bulk_create(
        [
            Installment(
                loan=loan,
                number=line["number"],
                due_date=line["due_date"],
                principal_due=line["principal"],
                interest_due=line["interest"],
                fee_due=line["fee"],
                opening_paid=line["amount_paid"],
            )
            for loan, schedule in zip(new_loans, schedules, strict=True)
            for line in schedule
        ],
        batch_size=2000,
    )
    loans_reallocate(
        loan_ids=[loan.pk for loan, s in zip(new_loans, schedules, strict=True) if any(x["amount_paid"] for x in s)]
    )
    if new_loans:
        loans_refresh_balances(loan_ids=[loan.pk for loan in new_loans])
    return new_loans


def loans_import(
    rows: list[tuple[int, dict[str, Any]]],
    *,
    progress: Progress = no_progress,
    known_errors: Iterable[RowError] = (),
    scope: IntakeScope | None = None,
) -> ImportSummary:
    """Validate and write a loans intake all-or-nothing (see module docstring)."""
    valid = loans_validate(rows, progress=progress, known_errors=known_errors, scope=scope)
    summary = ImportSummary(rows=len(valid))
    with transaction.atomic():
        borrowers = _upsert_borrowers([row["borrower"] for _, row in valid], summary)
        products = {p.code: p for p in LoanProduct.objects.all()}
        stored = set(
            Loan.objects.filter(external_id__in=[row["loan"]["external_id"] for _, row in valid]).values_list(
                "external_id", flat=True
            )
        )
        fresh = []
        for _, row in progress(valid, "writing loans", len(valid)):
            if row["loan"]["external_id"] in stored:
                summary.count("unchanged", "loans")
            else:
                fresh.append((borrowers[row["borrower"]["external_id"]], row["loan"]))
        summary.count("created", "loans", len(loans_write(fresh, products)))
    return summary


def _upsert_borrowers(rows: list[dict[str, Any]], summary: ImportSummary) -> dict[str, Borrower]:
    """Create new borrowers, update changed ones, add new phones/emails; returns external id → borrower."""
    unique = {row["external_id"]: row for row in rows}
    stored = {
        b.external_id: b for b in Borrower.objects.filter(external_id__in=list(unique)) if b.external_id is not None
    }
    fields = [
        "full_name",
        "language",
        "national_id_masked",
        "national_id_hash",
        "address_line1",
        "address_line2",
        "city",
        "region",
        "postal_code",
        "country",
        "timezone",
    ]
    to_create: dict[str, Borrower] = {}
    to_update = []
    for external_id, row in unique.items():
        values = borrower_values(row)
        borrower = stored.get(external_id)
        if borrower is None:
            to_create[external_id] = Borrower(external_id=external_id, **values)
        elif any(getattr(borrower, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(borrower, key, value)
            to_update.append(borrower)
        else:
            summary.count("unchanged", "borrowers")
    Borrower.objects.bulk_create(to_create.values(), batch_size=1000)
    Borrower.objects.bulk_update(to_update, fields, batch_size=1000)
    summary.count("created", "borrowers", len(to_create))
    summary.count("updated", "borrowers", len(to_update))
    by_id = {**stored, **to_create}
    contact_points_upsert(unique, by_id, summary)
    borrowers_refresh_time_zones(borrower_ids=[b.pk for b in by_id.values()])
    return by_id


def borrower_values(row: dict[str, Any]) -> dict[str, Any]:
    """The borrower's stored fields from a validated borrower (``BorrowerInputSerializer``): the national id only
    masked and hashed."""
    return {
        "full_name": row["full_name"],
        "language": row["language"],
        "national_id_masked": national_id_mask(row["national_id"]) if row["national_id"] else "",
        "national_id_hash": national_id_hash(row["national_id"]) if row["national_id"] else "",
        "address_line1": row["address"]["line1"],
        "address_line2": row["address"]["line2"],
        "city": row["address"]["city"],
        "region": row["address"]["region"],
        "postal_code": row["address"]["postal_code"],
        "country": row["address"]["country"],
        "timezone": row["timezone"],
    }


def contact_points_upsert(
    rows: dict[str, dict[str, Any]], borrowers: dict[str, Borrower], summary: ImportSummary
) -> None:
    """Add new phones and e-mail addresses, update changed ones (rows and borrowers by the same key)."""
    ids = [b.pk for b in borrowers.values()]
    phones = {(p.borrower_id, str(p.number)): p for p in PhoneNumber.objects.filter(borrower_id__in=ids)}
    emails = {(e.borrower_id, e.address): e for e in EmailAddress.objects.filter(borrower_id__in=ids)}
    new_phones, changed_phones, new_emails, changed_emails = [], [], [], []
    for external_id, row in rows.items():
        borrower = borrowers[external_id]
        for position, phone in enumerate(row["phones"]):
            stored = phones.get((borrower.pk, phone["number"]))
            values = {
                "kind": phone["kind"],
                "sms_consent": phone["sms_consent"],
                "autodial_consent": phone["autodial_consent"],
                "position": position,
            }
            if stored is None:
                new_phones.append(PhoneNumber(borrower=borrower, number=phone["number"], **values))
            elif any(getattr(stored, k) != v for k, v in values.items()):
                for key, value in values.items():
                    setattr(stored, key, value)
                changed_phones.append(stored)
        for email in row["emails"]:
            stored_email = emails.get((borrower.pk, email["address"]))
            if stored_email is None:
                new_emails.append(EmailAddress(borrower=borrower, address=email["address"], kind=email["kind"]))
            elif stored_email.kind != email["kind"]:
                stored_email.kind = email["kind"]
                changed_emails.append(stored_email)
    PhoneNumber.objects.bulk_create(new_phones, batch_size=2000)
    PhoneNumber.objects.bulk_update(changed_phones, ["kind", "sms_consent", "autodial_consent", "position"])
    EmailAddress.objects.bulk_create(new_emails, batch_size=2000)
    EmailAddress.objects.bulk_update(changed_emails, ["kind"])
    summary.count("created", "phones", len(new_phones))
    summary.count("updated", "phones", len(changed_phones))
    summary.count("created", "emails", len(new_emails))


# ---------------------------------------------------------------------------------------------------------------
# Payments
# ---------------------------------------------------------------------------------------------------------------
def _transfer_references_resolve(valid: list[tuple[int, dict[str, Any]]]) -> None:
    """A bank statement names the loan by the transfer reference the borrower was given (``RF…``, see
    ``loans.payments``): such a row is the loan's, as if it had carried the loan's external id. An external id that
    happens to look like a reference stays what it is."""
    candidates = {row["loan"] for _, row in valid if row["loan"][:2].upper() == "RF"}
    if not candidates:
        return
    candidates -= set(Loan.objects.filter(external_id__in=candidates).values_list("external_id", flat=True))
    found = loans_by_transfer_reference(candidates)
    for _, row in valid:
        row["loan"] = found.get(row["loan"], row["loan"])


def payments_validate(
    rows: list[tuple[int, dict[str, Any]]],
    *,
    progress: Progress = no_progress,
    known_errors: Iterable[RowError] = (),
    scope: IntakeScope | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """Validate a payments intake whole; raise IntakeRejected with every error (``known_errors`` included).
    A loan outside ``scope`` is unknown, as it is to the single-payment endpoint."""
    valid, errors = _validate_rows(rows, PaymentInputSerializer, progress, "validating payments")
    errors.extend(known_errors)
    _transfer_references_resolve(valid)
    loans_in_scope = Loan.objects.all() if scope is None else scope.loans
    loans = {loan.external_id: loan for loan in loans_in_scope.filter(external_id__in={r["loan"] for _, r in valid})}
    stored = {
        (p.loan_id, p.reference): p
        for p in Payment.objects.filter(loan__in=loans.values(), reference__in={r["reference"] for _, r in valid})
    }
    seen: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
    # Over-payment becomes credit: a loan's payments must add up to what its credit column can hold.
    paid = dict(
        Payment.objects.filter(loan__in=loans.values())
        .values("loan_id")
        .annotate(t=Sum("amount"))
        .values_list("loan_id", "t")
    )
    for line, row in valid:
        loan = loans.get(row["loan"])
        if loan is None:
            errors.append(RowError(line, "loan", f"unknown loan {row['loan']!r}"))
            continue
        if row.get("currency", loan.currency) != loan.currency:
            errors.append(RowError(line, "currency", f"loan {loan.external_id} is in {loan.currency}"))
        try:
            check_currency_decimals(row["amount"], loan.currency)
        except ValidationError as exc:
            errors.append(RowError(line, "amount", first_message(exc)))
        key = (row["loan"], row["reference"])
        if key in seen:
            first_line, first = seen[key]
            if (first["amount"], first["received_at"]) != (row["amount"], row["received_at"]):
                errors.append(
                    RowError(
                        line,
                        "reference",
                        f"reference {row['reference']!r} is used on line {first_line} with a different amount or time",
                    )
                )
            continue
        seen[key] = (line, row)
        existing = stored.get((loan.pk, row["reference"]))
        if existing is not None and (existing.amount, existing.received_at) != (row["amount"], row["received_at"]):
            errors.append(
                RowError(
                    line,
                    "reference",
                    f"reference {row['reference']!r} is already recorded on loan {loan.external_id} "
                    f"for {existing.amount}",
                )
            )
        if existing is None:
            paid[loan.pk] = paid.get(loan.pk, Decimal("0.00")) + row["amount"]
            if paid[loan.pk] >= MAX_AMOUNT:
                errors.append(RowError(line, "amount", f"loan {loan.external_id}'s payments would reach "
                                                       f"{paid[loan.pk]:,}, more than an amount can hold"))  # fmt: skip
    if errors:
        raise IntakeRejected(errors)
    return valid


def payments_import(
    rows: list[tuple[int, dict[str, Any]]],
    *,
    progress: Progress = no_progress,
    source: str = PaymentSource.FILE,
    known_errors: Iterable[RowError] = (),
    scope: IntakeScope | None = None,
) -> ImportSummary:
    """Validate and write payments all-or-nothing, then re-allocate and refresh every loan they touch."""
    valid = payments_validate(rows, progress=progress, known_errors=known_errors, scope=scope)
    summary = ImportSummary(rows=len(valid))
    with transaction.atomic():
        loans = {
            loan.external_id: loan
            for loan in Loan.objects.select_for_update()
            .filter(external_id__in={r["loan"] for _, r in valid})
            .order_by("pk")
        }
        stored = set(Payment.objects.filter(loan__in=loans.values()).values_list("loan_id", "reference"))
        new: dict[tuple[int, str], Payment] = {}
        for _, row in progress(valid, "writing payments", len(valid)):
            loan = loans[row["loan"]]
            key = (loan.pk, row["reference"])
            if key in stored or key in new:
                summary.count("unchanged", "payments")
                continue
            new[key] = Payment(
                loan=loan,
                amount=row["amount"],
                currency=loan.currency,
                received_at=row["received_at"],
                reference=row["reference"],
                source=source,
            )
        Payment.objects.bulk_create(new.values(), batch_size=2000)
        summary.count("created", "payments", len(new))
        touched = sorted({loan_id for loan_id, _ in new})
        loans_reallocate(loan_ids=touched)
        if touched:
            loans_refresh_balances(loan_ids=touched)
    return summary


def read_and_import(path: Path, *, kind: str, progress: Progress = no_progress) -> ImportSummary:
    """Read a file and import it (``kind`` is loans or payments)."""
    rows, unreadable = read_rows(path, kind=kind)
    if kind == "loans":
        return loans_import(rows, progress=progress, known_errors=unreadable)
    return payments_import(rows, progress=progress, known_errors=unreadable)
