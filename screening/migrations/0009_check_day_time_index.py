"""Checks listed newest first read the (checked_on, checked_at) index: a page of a county's
checks had sorted the subtree's 14 days, 852,162 checks, before returning 100 (ADR 0014,
addendum)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0008_check_day_household_index"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="check",
            options={
                "ordering": ["-checked_on", "-checked_at"],
                "verbose_name": "household check",
                "verbose_name_plural": "household checks",
            },
        ),
        migrations.AddIndex(
            model_name="check",
            index=models.Index(fields=["checked_on", "checked_at"], name="check_day_time_idx"),
        ),
    ]
