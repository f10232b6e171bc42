"""A manager's cases as an index-only scan (issue 14, `make bench`): the team, the case id and its borrower, what the
messages' and the KPIs' joins to the cases read, instead of the whole (wide, often updated) case table."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("collections_app", "0021_promise_by_borrower"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="collectioncase",
            index=models.Index(fields=["team", "id"], include=("borrower",), name="case_team_cover"),
        ),
    ]
