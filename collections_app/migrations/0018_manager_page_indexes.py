"""Indexes for the managers' pages at 100,000 open cases (issue 14, `make bench`): the open cases of a team (the
queue's count), the legal-review list's order (its page and its count no longer read the whole case table) and the
cases opened in a window (the KPIs)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("collections_app", "0017_case_entry_figures"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="collectioncase",
            index=models.Index(
                condition=models.Q(
                    (
                        "state__in",
                        ["reminder", "formal_notice", "legal_review", "legal", "promise_to_pay", "payment_plan", "on_hold"],
                    )
                ),
                fields=["team"],
                name="case_open_team",
            ),
        ),
        migrations.AddIndex(
            model_name="collectioncase",
            index=models.Index(
                condition=models.Q(("state", "legal_review")),
                fields=["-amount_overdue", "id"],
                include=("team",),
                name="case_legal_review",
            ),
        ),
        migrations.AddIndex(
            model_name="collectioncase",
            index=models.Index(fields=["opened_on"], name="case_opened_on"),
        ),
    ]
