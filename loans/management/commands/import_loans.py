"""manage.py import_loans FILE — borrowers, loans and schedules from CSV or JSON lines, all or nothing."""

from loans.management.commands._intake import ImportCommand


class Command(ImportCommand):
    help = (
        "Import borrowers, loans and installment schedules from a .csv or .jsonl file. The whole file is validated "
        "first; any bad row prints every error (line, field, message), exits 1 and writes nothing. Re-importing the "
        "same file is harmless. Formats: README.md, 'Importing loans and payments'."
    )
    kind = "loans"
