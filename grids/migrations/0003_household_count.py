"""Households per grid, kept by PostgreSQL itself (docs/adr/0009-rollup.md, addendum).

`grids_household_count` holds each grid's own households. Statement-level triggers on
`grids_household` keep it, from the rows each statement inserted, deleted or updated
(transition tables), so every writer keeps it right: the ORM, bulk imports, `COPY`, and
plain SQL. The full rollup reads it instead of counting a million households every time.
It is derived data: no foreign key, and a grid with no households may keep a row of 0.

PostgreSQL only. Elsewhere (the embedded SQLite) the rollup counts households directly.
"""

from django.db import migrations

CREATE = """
CREATE TABLE grids_household_count (
    grid_id bigint PRIMARY KEY,
    households integer NOT NULL
);
INSERT INTO grids_household_count (grid_id, households)
    SELECT grid_id, count(*) FROM grids_household GROUP BY grid_id;

CREATE FUNCTION grids_household_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM grids_household_count;
        RETURN NULL;
    END IF;
    -- Each grid's change, added in grid order (one lock order for concurrent writers).
    IF TG_OP = 'INSERT' THEN
        INSERT INTO grids_household_count AS c (grid_id, households)
            SELECT grid_id, count(*) FROM new_rows GROUP BY grid_id ORDER BY grid_id
        ON CONFLICT (grid_id) DO UPDATE SET households = c.households + excluded.households;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO grids_household_count AS c (grid_id, households)
            SELECT grid_id, -count(*) FROM old_rows GROUP BY grid_id ORDER BY grid_id
        ON CONFLICT (grid_id) DO UPDATE SET households = c.households + excluded.households;
    ELSE
        INSERT INTO grids_household_count AS c (grid_id, households)
            SELECT grid_id, sum(n) FROM (
                SELECT grid_id, 1 AS n FROM new_rows
                UNION ALL SELECT grid_id, -1 FROM old_rows
            ) AS moved GROUP BY grid_id HAVING sum(n) <> 0 ORDER BY grid_id
        ON CONFLICT (grid_id) DO UPDATE SET households = c.households + excluded.households;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER grids_household_count_insert AFTER INSERT ON grids_household
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION grids_household_count_change();
CREATE TRIGGER grids_household_count_update AFTER UPDATE ON grids_household
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION grids_household_count_change();
CREATE TRIGGER grids_household_count_delete AFTER DELETE ON grids_household
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION grids_household_count_change();
CREATE TRIGGER grids_household_count_truncate AFTER TRUNCATE ON grids_household
    FOR EACH STATEMENT EXECUTE FUNCTION grids_household_count_change();
"""

DROP = """
DROP TRIGGER grids_household_count_truncate ON grids_household;
DROP TRIGGER grids_household_count_delete ON grids_household;
DROP TRIGGER grids_household_count_update ON grids_household;
DROP TRIGGER grids_household_count_insert ON grids_household;
DROP FUNCTION grids_household_count_change();
DROP TABLE grids_household_count;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("grids", "0002_household_group_leader"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
