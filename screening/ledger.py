"""The contract between everything that writes checks or zero reports and the rollup
(docs/adr/0012-rollup-deltas.md).

Every such write calls one of these inside its transaction. They insert RollupDelta rows,
the change each (grid, date) saw, which commit with the write or not at all: the
incremental rollup sees every committed change, however late it commits, and adds it
once. With no Redis (the embedded default) the rollup also runs in-process once the
transaction commits, so the dashboard stays fresh without a beat.

households_checked counts distinct households, so a check adds one only when it is the
first counted check of its household in its grid that day, and a void takes one away only
from the last. The ledger decides this under a row lock on each household (FOR NO KEY
UPDATE: it blocks the ledger of another transaction writing for the same household, not
the foreign-key checks of plain inserts), after the write, so the second of two concurrent
writers always sees the first one's check.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from grids.models import Household

from .metrics import METRIC_NAMES
from .models import Check, DailyStat, RollupDelta

M = len(METRIC_NAMES)


@dataclass(frozen=True)
class CheckChange:
    """One check before and after a write. `before` and `after` are its metric values in
    METRIC_NAMES order while it counts in the totals, None while it does not (not written
    yet, or voided)."""

    household_id: int
    grid_id: int
    day: datetime.date
    before: Sequence[int] | None
    after: Sequence[int] | None


def lock_households(ids: Iterable[int]) -> None:
    """Serialize with any other transaction recording checks of these households."""
    list(
        Household.objects.select_for_update(no_key=True)
        .filter(pk__in=sorted(set(ids)))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def record_checks(changes: Iterable[CheckChange], *, households_locked: bool = False) -> None:
    """Queue what these check writes (already made in this transaction) change. A caller
    that has locked the households' rows FOR NO KEY UPDATE (or FOR UPDATE) in this
    transaction already says so, and saves a query."""
    changes = [c for c in changes if c.before != c.after]
    if not changes:
        return
    households = sorted({c.household_id for c in changes})
    days = {c.day for c in changes}
    if not households_locked:
        lock_households(households)
    counted_now = {
        (household_id, grid_id, day): n
        for household_id, grid_id, day, n in Check.objects.counted()
        .filter(household_id__in=households, checked_on__in=days)
        .order_by()
        .values("household_id", "grid_id", "checked_on")
        .annotate(n=Count("id"))
        .values_list("household_id", "grid_id", "checked_on", "n")
    }
    # Per (household, grid, day): how many checks started (+1) or stopped (-1) counting.
    became: dict[tuple, int] = defaultdict(int)
    deltas: dict[tuple[int, datetime.date], list[int]] = {}
    for change in changes:
        key = (change.household_id, change.grid_id, change.day)
        became[key] += (change.after is not None) - (change.before is not None)
        delta = deltas.setdefault((change.grid_id, change.day), [0] * (M + 1))
        for i, value in enumerate(change.after or ()):
            delta[i] += value
        for i, value in enumerate(change.before or ()):
            delta[i] -= value
    for (household_id, grid_id, day), n in became.items():
        now = counted_now.get((household_id, grid_id, day), 0)
        before = now - n
        deltas[(grid_id, day)][M] += (now > 0) - (before > 0)
    _queue(
        RollupDelta(
            grid_id=grid_id,
            day=day,
            households_checked=delta[M],
            **dict(zip(METRIC_NAMES, delta, strict=False)),
        )
        for (grid_id, day), delta in deltas.items()
    )


def record_zero_report(*, grid_id: int, day: datetime.date) -> None:
    """A zero report filed: the grid's reporting status for the day is to be re-read."""
    _queue([RollupDelta(grid_id=grid_id, day=day)])


def mark_days_stale(days: Iterable[datetime.date]) -> None:
    """The tree changed under these dates' rows: the rollup recomputes them in full."""
    _queue(RollupDelta(grid_id=None, day=day) for day in set(days))


def _queue(rows: Iterable[RollupDelta]) -> None:
    rows = list(rows)
    if not rows:
        return
    if connection.vendor == "postgresql" and len(rows) > 1:
        _insert_postgresql(rows)
    else:
        RollupDelta.objects.bulk_create(rows)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # A rolled-back transaction drops the callback with its rows; a rollup that finds
        # nothing queued is a no-op, so several callbacks for one transaction are harmless.
        transaction.on_commit(_run_rollup, robust=True)


def _insert_postgresql(rows: list[RollupDelta]) -> None:
    """bulk_create in one statement over one array per column: a batch of checks from a
    thousand grids queues a thousand rows, and Django's per-value preparation of them cost
    more than the insert (docs/performance.md)."""
    columns = ["grid_id", "day", "households_checked", *METRIC_NAMES]
    types = ["bigint", "date", *["integer"] * (len(columns) - 2)]
    table = RollupDelta._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}, created_at) "
            f"SELECT *, now() FROM unnest({', '.join(f'%s::{t}[]' for t in types)})",
            [[getattr(row, column) for row in rows] for column in columns],
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
