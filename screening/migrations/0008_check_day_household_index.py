"""The checks' (household, checked_on) index becomes (checked_on, household): every lookup by
household names its days, and with the day first a day's new entries share a small, hot part
of the index (ADR 0014, addendum). The new index is built before the old one goes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0007_check_grid_without_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="check",
            index=models.Index(fields=["checked_on", "household"], name="check_day_household_idx"),
        ),
        migrations.RemoveIndex(
            model_name="check",
            name="check_household_day_idx",
        ),
    ]
