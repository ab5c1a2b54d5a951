"""The contract between everything that writes checks or zero reports and the rollup
(docs/adr/0012-rollup-deltas.md).

Every such write calls one of these inside its transaction. They insert RollupDelta rows,
the change each (grid, date) saw, which commit with the write or not at all: the
incremental rollup sees every committed change, however late it commits, and adds it
once. With no Redis (the embedded default) the rollup also runs in-process once the
transaction commits, so the dashboard stays fresh without a beat.

households_checked counts distinct households. Of the counted checks of one household in
one grid on one day, exactly one carries `Check.counts_household`; households_checked is
the number of such checks, a plain sum the full recompute reads in the same pass as the
metrics. The ledger keeps that flag: a new check takes it when its household has no counted
check there that day yet; a void hands it to the household's next counted check, if any.
It decides under a row lock on each household (FOR NO KEY UPDATE: it blocks another
transaction's ledger for the same household, not the foreign-key checks of plain inserts),
so of two concurrent first checks of a household only one takes the flag.
"""

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from gridcmd.arrays import array_literal
from grids.models import Household

from .metrics import METRIC_NAMES
from .models import Check, DailyStat, RollupDelta

M = len(METRIC_NAMES)


@dataclass(frozen=True)
class CheckChange:
    """One check's write, as the rollup sees it. `before` and `after` are its metric values
    in METRIC_NAMES order while it counts in the totals, None while it does not (not
    written yet, or voided); `households` is the change of households_checked it made."""

    grid_id: int
    day: datetime.date
    before: Sequence[int] | None
    after: Sequence[int] | None
    households: int = 0


def lock_households(ids: Iterable[int]) -> None:
    """Serialize with any other transaction's ledger for these households."""
    list(
        Household.objects.select_for_update(no_key=True)
        .filter(pk__any_of=set(ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def metrics(check) -> list[int]:
    return [getattr(check, name) for name in METRIC_NAMES]


# --- new checks: prepare_created before the insert, record_created after it --------------------


def prepare_created(rows: Sequence[dict], *, households_locked: bool = False) -> None:
    """Set "counts_household" on new check rows (dicts of Check's field values) before they
    are inserted: True on the first counted row of each household, grid and day that has
    no counted check stored yet. A caller that has locked the households' rows in this
    transaction already (FOR NO KEY UPDATE or FOR UPDATE) says so, and saves a query."""
    counted_rows = [row for row in rows if row.get("voided_at") is None]
    for row in rows:
        row["counts_household"] = False
    if not counted_rows:
        return
    households = {row["household_id"] for row in counted_rows}
    if not households_locked:
        lock_households(households)
    taken = set(
        Check.objects.counted()
        .filter(
            household_id__any_of=households,
            checked_on__in={row["checked_on"] for row in counted_rows},
            counts_household=True,
        )
        .values_list("household_id", "grid_id", "checked_on")
    )
    for row in counted_rows:
        key = (row["household_id"], row["grid_id"], row["checked_on"])
        if key not in taken:
            row["counts_household"] = True
            taken.add(key)


def record_created(rows: Iterable[dict]) -> None:
    """Queue the change of new check rows, inserted after prepare_created()."""
    record_checks(
        CheckChange(
            row["grid_id"],
            row["checked_on"],
            before=None,
            after=None if row.get("voided_at") is not None else [row[m] for m in METRIC_NAMES],
            households=int(row["counts_household"]),
        )
        for row in rows
    )


def record_created_sql(source: str) -> str:
    """PostgreSQL, for a caller that inserts new checks in one statement: the INSERT of their
    queue rows, as a data-modifying CTE over `source` (a CTE of the Check rows as inserted,
    after prepare_created). It queues what record_created() would, summed in the database,
    so the rows the insert skipped queue nothing. The caller calls after_queueing() after it."""
    qn = connection.ops.quote_name
    check = Check._meta
    sums = [f"sum({qn(check.get_field(name).column)})" for name in METRIC_NAMES]
    households = f"count(*) FILTER (WHERE {qn(check.get_field('counts_household').column)})"
    changed = " OR ".join(f"{s} <> 0" for s in [households, *sums])
    grid, day = qn(check.get_field("grid").column), qn(check.get_field("checked_on").column)
    return (
        f"INSERT INTO {qn(RollupDelta._meta.db_table)} ({', '.join(COLUMNS)}, created_at) "
        f"SELECT {grid}, {day}, {households}, {', '.join(sums)}, now() FROM {source} "
        f"WHERE {qn(check.get_field('voided_at').column)} IS NULL "
        f"GROUP BY {grid}, {day} HAVING {changed}"
    )


# --- corrections and voids ---------------------------------------------------------------------


def record_corrected(check, *, before: Sequence[int]) -> None:
    """Queue a correction of a counted check's metrics (its household count is unchanged)."""
    record_checks([CheckChange(check.grid_id, check.checked_on, before, metrics(check))])


def record_voided(check) -> None:
    """Queue the void of a check that counted until this write (voided_at is set and saved),
    and hand its household's flag to the household's next counted check there that day."""
    households = 0
    if check.counts_household:
        lock_households([check.household_id])
        Check.objects.filter(pk=check.pk).update(counts_household=False)
        check.counts_household = False
        heir = (
            Check.objects.counted()
            .filter(
                household_id=check.household_id,
                grid_id=check.grid_id,
                checked_on=check.checked_on,
            )
            .order_by("pk")
            .values_list("pk", flat=True)
            .first()
        )
        if heir is None:
            households = -1
        else:
            Check.objects.filter(pk=heir).update(counts_household=True)
    record_checks([CheckChange(check.grid_id, check.checked_on, metrics(check), None, households)])


def record_checks(changes: Iterable[CheckChange]) -> None:
    """Queue these changes, summed per (grid, day): one queue row each, none where they
    sum to nothing."""
    deltas: dict[tuple[int, datetime.date], list[int]] = {}
    for change in changes:
        delta = deltas.setdefault((change.grid_id, change.day), [0] * (M + 1))
        for i, value in enumerate(change.after or ()):
            delta[i] += value
        for i, value in enumerate(change.before or ()):
            delta[i] -= value
        delta[M] += change.households
    _queue(
        [
            (grid_id, day, delta[M], *delta[:M])
            for (grid_id, day), delta in deltas.items()
            if any(delta)
        ]
    )


def record_zero_report(*, grid_id: int, day: datetime.date) -> None:
    """A zero report filed: the grid's reporting status for the day is to be re-read."""
    _queue([(grid_id, day, 0, *[0] * M)])


def mark_days_stale(days: Iterable[datetime.date]) -> None:
    """The tree changed under these dates' rows: the rollup recomputes them in full."""
    _queue([(None, day, 0, *[0] * M) for day in set(days)])


#: What _queue takes: one tuple per queue row, in this order.
COLUMNS = ("grid_id", "day", "households_checked", *METRIC_NAMES)


def _queue(rows: list[tuple]) -> None:
    """Insert queue rows, tuples of COLUMNS. No model instances: building a thousand of
    them (a batch of checks from a thousand grids) cost more than the insert."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        _insert_postgresql(rows)
    else:
        RollupDelta.objects.bulk_create(
            RollupDelta(**dict(zip(COLUMNS, row, strict=True))) for row in rows
        )
    after_queueing()


def after_queueing() -> None:
    """Queue rows were inserted in this transaction: with no broker, the rollup runs
    in-process once it commits."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # A rolled-back transaction drops the callback with its rows; a rollup that finds
        # nothing queued is a no-op, so several callbacks for one transaction are harmless.
        transaction.on_commit(_run_rollup, robust=True)


def _insert_postgresql(rows: list[tuple]) -> None:
    """The insert in one statement over one array literal per column."""
    types = ["bigint", "date", *["integer"] * (len(COLUMNS) - 2)]
    table = RollupDelta._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(COLUMNS)}, created_at) "
            f"SELECT *, now() FROM unnest({', '.join(f'%s::{t}[]' for t in types)})",
            [array_literal(column) for column in zip(*rows, strict=True)],
        )


def _run_rollup() -> None:
    from .tasks import rollup_incremental

    rollup_incremental.delay()


#: The days a move of grids makes stale: the dashboard's trend (older days keep the numbers
#: of the tree they were rolled up in, until `manage.py rollup --date` rebuilds them).
HISTORY_DAYS = 14


def tree_changed_receiver(sender, *, history: bool, **kwargs) -> None:
    """grids.signals.tree_changed: the days whose rows the change makes stale are queued for
    a full recompute, in the transaction of the change. Days without rows are left alone:
    their first change builds them."""
    today = timezone.localdate()
    first = today - datetime.timedelta(days=HISTORY_DAYS - 1) if history else today
    mark_days_stale(
        DailyStat.objects.filter(day__gte=first, day__lte=today)
        .order_by()
        .values_list("day", flat=True)
        .distinct()
    )
