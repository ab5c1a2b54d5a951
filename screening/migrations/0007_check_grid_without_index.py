"""Check.grid loses its own index (docs/adr/0014). Django's AlterField would also drop and
re-add the foreign key, checking every stored check again under a lock: the index alone
is dropped instead."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("grids", "0002_household_group_leader"),
        ("screening", "0006_slimmer_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "screening_check_grid_id_0aef0f36"',
                    reverse_sql=(
                        'CREATE INDEX "screening_check_grid_id_0aef0f36" '
                        'ON "screening_check" ("grid_id")'
                    ),
                )
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="check",
                    name="grid",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="checks",
                        to="grids.gridnode",
                        verbose_name="grid",
                    ),
                ),
            ],
        ),
    ]
