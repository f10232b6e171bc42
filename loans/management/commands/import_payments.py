"""manage.py import_payments FILE — payments from CSV or JSON lines, all or nothing."""

from loans.management.commands._intake import ImportCommand


class Command(ImportCommand):
    help = (
        "Import payments (loan external id, amount, received_at with offset, reference) from a .csv or .jsonl file. "
        "Validated whole; any bad row prints every error, exits 1 and writes nothing. A reference already recorded "
        "for the loan with the same amount and time is skipped."
    )
    kind = "payments"
