"""Writes to the loans domain: payments and their allocation, the days-past-due snapshot, borrower derivations.

Every function here is the only way its data changes: views, API, commands and tasks call these.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from loans.allocation import InstallmentDue, PaymentIn, allocate, validate_order
from loans.models import Borrower, Installment, Loan, LoanProduct, LoanStatus, Payment, PaymentAllocation, PaymentSource
from loans.money import MAX_AMOUNT
from loans.sql import bulk_set, days_between_sql
from loans.timezones import candidate_time_zones

ZERO = Decimal("0.00")


class PaymentConflict(Exception):
    """A payment reference already used on this loan for a different amount or time."""


class PaymentRefused(ValueError):
    """A payment the loan cannot take (its payments would total more than an amount column holds)."""


# ---------------------------------------------------------------------------------------------------------------
# Personal data
# ---------------------------------------------------------------------------------------------------------------
def national_id_normalise(raw: str) -> str:
    return re.sub(r"[\s\-]", "", raw).upper()


def national_id_hash(raw: str) -> str:
    """Keyed hash for lookup: equal ids give equal hashes, but the id cannot be recovered or guessed offline."""
    key = settings.PII_HASH_KEY.encode()
    return hmac.new(key, national_id_normalise(raw).encode(), hashlib.sha256).hexdigest()


def national_id_mask(raw: str) -> str:
    """Everything but the last four characters replaced by asterisks."""
    value = national_id_normalise(raw)
    return "*" * max(len(value) - 4, 0) + value[-4:]


def borrowers_refresh_time_zones(*, borrower_ids: Iterable[int]) -> int:
    """Recompute the candidate time zones of these borrowers from override, address and phones (3 queries)."""
    borrowers = list(Borrower.objects.filter(pk__in=list(borrower_ids)).prefetch_related("phones"))
    changed = []
    for borrower in borrowers:
        zones = candidate_time_zones(
            override=borrower.timezone,
            country=borrower.country,
            region=borrower.region,
            phone_numbers=[str(phone.number) for phone in borrower.phones.all()],
        )
        if zones != borrower.time_zones:
            borrower.time_zones = zones
            changed.append(borrower)
    Borrower.objects.bulk_update(changed, ["time_zones"], batch_size=1000)
    return len(changed)


# ---------------------------------------------------------------------------------------------------------------
# Allocation
# ---------------------------------------------------------------------------------------------------------------
def loans_reallocate(*, loan_ids: Iterable[int]) -> None:
    """Re-run the allocation waterfall for these loans from all their payments (a fixed number of queries).

    Callers hold the loans' row locks (or own the loans exclusively, as an import transaction does).
    """
    loan_ids = list(loan_ids)
    if not loan_ids:
        return
    loans = {loan.pk: loan for loan in Loan.objects.filter(pk__in=loan_ids).select_related("product")}
    installments: dict[int, list[Installment]] = defaultdict(list)
    for inst in Installment.objects.filter(loan_id__in=loan_ids):
        installments[inst.loan_id].append(inst)
    payments: dict[int, list[Payment]] = defaultdict(list)
    for payment in Payment.objects.filter(loan_id__in=loan_ids):
        payments[payment.loan_id].append(payment)

    installment_rows: list[tuple] = []
    payment_rows: list[tuple] = []
    loan_rows: list[tuple] = []
    new_allocations: list[PaymentAllocation] = []
    for loan_id, loan in loans.items():
        zone = ZoneInfo(loan.product.timezone)
        result = allocate(
            [
                InstallmentDue(
                    id=inst.pk,
                    due_date=inst.due_date,
                    number=inst.number,
                    due={"principal": inst.principal_due, "interest": inst.interest_due, "fee": inst.fee_due},
                    opening_paid=inst.opening_paid,
                )
                for inst in installments[loan_id]
            ],
            [
                PaymentIn(
                    id=p.pk,
                    amount=p.amount,
                    received_at=p.received_at,
                    local_date=p.received_at.astimezone(zone).date(),
                )
                for p in payments[loan_id]
            ],
            validate_order(loan.product.allocation_order),
        )
        for inst in installments[loan_id]:
            paid = result.paid[inst.pk]
            new = (paid["principal"], paid["interest"], paid["fee"], result.paid_on[inst.pk])
            if new != (inst.principal_paid, inst.interest_paid, inst.fee_paid, inst.paid_on):
                installment_rows.append((inst.pk, *new))
        payment_rows.extend(
            (p.pk, result.unapplied[p.pk]) for p in payments[loan_id] if p.unapplied_amount != result.unapplied[p.pk]
        )
        if loan.credit_balance != result.credit:
            loan_rows.append((loan.pk, result.credit))
        new_allocations.extend(
            PaymentAllocation(payment_id=p, installment_id=i, component=c, amount=a)
            for p, i, c, a in result.allocations
        )

    PaymentAllocation.objects.filter(payment__loan_id__in=loan_ids).delete()
    PaymentAllocation.objects.bulk_create(new_allocations, batch_size=2000)
    bulk_set(Installment, ["principal_paid", "interest_paid", "fee_paid", "paid_on"], installment_rows)
    bulk_set(Payment, ["unapplied_amount"], payment_rows)
    bulk_set(Loan, ["credit_balance"], loan_rows)


def product_today(product: LoanProduct) -> dt.date:
    """Today's date in the product's business time zone (due dates are dates there)."""
    return timezone.now().astimezone(ZoneInfo(product.timezone)).date()


def payment_record(
    *,
    loan_id: int,
    amount: Decimal,
    received_at: dt.datetime,
    reference: str,
    source: str = PaymentSource.API,
) -> tuple[Payment, bool]:
    """Record a payment and re-allocate the loan; returns (payment, created).

    Idempotent per (loan, reference): posting the same payment again returns the stored one; the same reference
    with a different amount or time is a conflict, never a second payment.
    """
    with transaction.atomic():
        # The loan's row lock serialises payments of one loan: allocation reads and rewrites all of them.
        loan = Loan.objects.select_for_update().select_related("product").get(pk=loan_id)
        existing = Payment.objects.filter(loan=loan, reference=reference).first()
        if existing is not None:
            if existing.amount != amount or existing.received_at != received_at:
                raise PaymentConflict(
                    f"reference {reference!r} is already used on loan {loan.external_id} for "
                    f"{existing.amount} {existing.currency} received {existing.received_at.isoformat()}"
                )
            return existing, False
        # Over-payment becomes credit: the payments of a loan must add up to what its credit column can hold.
        paid = Payment.objects.filter(loan=loan).aggregate(total=Sum("amount"))["total"] or ZERO
        if paid + amount >= MAX_AMOUNT:
            raise PaymentRefused(
                f"loan {loan.external_id} has {paid:,} {loan.currency} in payments; with this one they would "
                f"reach {MAX_AMOUNT:,}, more than an amount can hold"
            )
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    loan=loan,
                    amount=amount,
                    currency=loan.currency,
                    received_at=received_at,
                    reference=reference,
                    source=source,
                )
        except IntegrityError as exc:  # pragma: no cover - the row lock above makes this unreachable in practice
            raise PaymentConflict(f"reference {reference!r} was recorded concurrently") from exc
        loans_reallocate(loan_ids=[loan.pk])
        loans_refresh_balances(as_of=product_today(loan.product), loan_ids=[loan.pk])
    payment.refresh_from_db()
    return payment, True


# ---------------------------------------------------------------------------------------------------------------
# Days past due and balances: set-based, one UPDATE for any number of loans
# ---------------------------------------------------------------------------------------------------------------
def loans_refresh_balances(
    *, as_of: dt.date | None = None, loan_ids: Iterable[int] | None = None, loans: QuerySet[Loan] | None = None
) -> int:
    """Recompute days past due, overdue amount and outstanding balance as of the end of ``as_of``.

    Days past due counts from the oldest installment due before ``as_of`` and not fully paid by its end (an
    installment due on the 31st and unpaid is 1 day past due on the 1st). Without ``as_of`` each product uses its
    own local today. ``loans`` narrows the set (e.g. one chunk of the sweep). One UPDATE statement per product (no
    Python loop over loans); returns the rows updated.
    """
    loans = (Loan.objects.all() if loans is None else loans).filter(status__in=[LoanStatus.ACTIVE, LoanStatus.PAID_OFF])
    if loan_ids is not None:
        loans = loans.filter(pk__in=list(loan_ids))
    if as_of is None:
        return sum(
            _refresh(loans.filter(product=product), product_today(product)) for product in LoanProduct.objects.all()
        )
    return _refresh(loans, as_of)


def _refresh(loans: QuerySet[Loan], as_of: dt.date) -> int:
    """One UPDATE … FROM (one aggregate pass over the loans' installments); only rows whose values change are
    written, so a daily refresh rewrites the loans whose lateness moved, not the whole book."""
    loan_sql, loan_params = loans.values("id").query.sql_with_params()
    remaining = "(i.principal_due + i.interest_due + i.fee_due - i.principal_paid - i.interest_paid - i.fee_paid)"
    overdue = "i.due_date < %s AND (i.paid_on IS NULL OR i.paid_on > %s)"
    postgres = connection.vendor == "postgresql"
    days = days_between_sql("%s", "a.overdue_since")
    differs = "IS DISTINCT FROM" if postgres else "IS NOT"
    table = Loan._meta.db_table
    sql = f"""
        UPDATE {table} SET
            overdue_since = a.overdue_since,
            days_past_due = COALESCE({days}, 0),
            amount_overdue = a.amount_overdue,
            outstanding_balance = a.outstanding,
            balances_as_of = %s,
            status = CASE WHEN {table}.status = 'active' AND a.outstanding = 0 THEN 'paid_off'
                          WHEN {table}.status = 'paid_off' AND a.outstanding > 0 THEN 'active'
                          ELSE {table}.status END
        FROM (
            SELECT i.loan_id,
                   MIN(i.due_date) FILTER (WHERE {overdue}) AS overdue_since,
                   -- ROUND: SQLite keeps decimals as binary floats; a paid loan must sum to exactly 0
                   ROUND(COALESCE(SUM({remaining}) FILTER (WHERE {overdue}), 0), 2) AS amount_overdue,
                   ROUND(COALESCE(SUM({remaining}), 0), 2) AS outstanding
            FROM {Installment._meta.db_table} i
            WHERE i.loan_id IN ({loan_sql})
            GROUP BY i.loan_id
        ) a
        WHERE {table}.id = a.loan_id AND (
            {table}.overdue_since {differs} a.overdue_since
            OR {table}.amount_overdue <> a.amount_overdue
            OR {table}.outstanding_balance <> a.outstanding
            OR {table}.days_past_due <> COALESCE({days}, 0)
            OR {table}.balances_as_of IS NULL
            OR ({table}.status = 'active' AND a.outstanding = 0)
            OR ({table}.status = 'paid_off' AND a.outstanding > 0))
    """
    params = [as_of, as_of, as_of, as_of, as_of, as_of, *loan_params, as_of]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def installments_freeze_charges(*, as_of: dt.date, windows: Iterable[tuple[int, dt.date, dt.date | None]]) -> int:
    """BS-01: no interest or fees during a breathing space. ``windows``: (loan id, first day, last day or None for
    open-ended). Every unpaid installment of those loans that fell due inside its window by ``as_of`` (a breathing
    space lifted early leaves the later ones as agreed) keeps only the interest and
    fees already paid; the rest moves to ``frozen_interest`` / ``frozen_fee`` and is never charged. One UPDATE per
    distinct window (loans sharing a window together), whatever the number of installments; running it again
    changes nothing. Returns the installments changed (the caller refreshes the balances)."""
    by_window: dict[tuple[dt.date, dt.date | None], list[int]] = defaultdict(list)
    for loan_id, first, last in windows:
        by_window[(first, last)].append(loan_id)
    changed = 0
    for (first, last), loan_ids in by_window.items():
        last = min(last, as_of) if last is not None else as_of
        installments = Installment.objects.filter(
            loan_id__in=loan_ids, due_date__gte=first, due_date__lte=last, paid_on__isnull=True
        )
        changed += installments.filter(
            models.Q(interest_due__gt=models.F("interest_paid")) | models.Q(fee_due__gt=models.F("fee_paid"))
        ).update(
            frozen_interest=models.F("frozen_interest") + models.F("interest_due") - models.F("interest_paid"),
            frozen_fee=models.F("frozen_fee") + models.F("fee_due") - models.F("fee_paid"),
            interest_due=models.F("interest_paid"),
            fee_due=models.F("fee_paid"),
        )
    return changed


def loan_waive_fees(*, loan_id: int, amount: Decimal) -> Decimal:
    """Waive up to ``amount`` of fees, oldest installment first (an agreed plan's waiver); returns the amount waived.

    The loan is then re-allocated from all its payments, so money that had gone to waived fees moves on to interest
    and principal, as if the fees had never been due.
    """
    with transaction.atomic():
        loan = Loan.objects.select_for_update().select_related("product").get(pk=loan_id)
        left = amount
        rows = []
        for inst in Installment.objects.filter(loan=loan).order_by("due_date", "number"):
            take = min(left, inst.fee_due)
            if take > 0:
                new_due = inst.fee_due - take
                # fee_paid may not exceed fee_due (a constraint); the re-allocation below recomputes it anyway.
                rows.append((inst.pk, new_due, min(inst.fee_paid, new_due)))
                left -= take
            if left <= 0:
                break
        bulk_set(Installment, ["fee_due", "fee_paid"], rows)
        loans_reallocate(loan_ids=[loan.pk])
        loans_refresh_balances(as_of=product_today(loan.product), loan_ids=[loan.pk])
    return amount - left


def borrower_save(*, borrower: Borrower | None, data: dict[str, Any]) -> Borrower:
    """Create a borrower, or update one, from validated input (``BorrowerInputSerializer``): fields, phones and
    e-mail addresses (added or updated; none removed by omission), then the candidate time zones."""
    from loans.intake import ImportSummary, borrower_values, contact_points_upsert

    with transaction.atomic():
        values = borrower_values(data)
        if borrower is None:
            borrower = Borrower.objects.create(external_id=data.get("external_id"), **values)
        else:
            for key, value in values.items():
                setattr(borrower, key, value)
            borrower.external_id = data.get("external_id") or borrower.external_id
            borrower.save()
        contact_points_upsert({"row": data}, {"row": borrower}, ImportSummary())
        borrowers_refresh_time_zones(borrower_ids=[borrower.pk])
    return borrower


def borrower_preferences_save(*, borrower_id: int, language: str, preferred_channel: str) -> Borrower:
    """The language and channel the borrower chose on their own page (``collections_app`` audits who and how)."""
    with transaction.atomic():
        borrower = Borrower.objects.select_for_update().get(pk=borrower_id)
        borrower.language, borrower.preferred_channel = language, preferred_channel
        borrower.save(update_fields=["language", "preferred_channel", "updated_at"])
    return borrower
