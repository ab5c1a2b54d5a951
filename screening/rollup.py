"""The rollup: DailyStat, one row per node of the tree and per date, kept equal to a direct
aggregation of the raw checks and zero reports (docs/adr/0009-rollup.md).

Each node's row is the sum over its subtree of every grid's *own* numbers:

- the metrics of METRICS, summed over the grid's counted (not voided) checks of the day;
- households_checked: distinct households with a counted check in the grid that day;
- leaves_reported: 1 for a leaf (a grid without children) with a counted check or a zero
  report that day;
- households_total: the households now in the grid; leaves_expected: 1 for a leaf.

Two ways to get there, both serialized by one lock (a PostgreSQL advisory lock; SQLite's
write lock does the same there):

- full_recompute(day): one GROUP BY of the day's checks by grid, the households per grid,
  the zero reports, a fold of every grid's numbers into its ancestors, then an upsert of
  the rows that differ. It also reports what differed, which is the hourly cross-check.
- run_incremental(): reads a bounded batch of RollupDirty rows (the work queue that every
  write fills in its own transaction), recomputes the dirty grids' own numbers from the raw
  rows, diffs them against what the rows hold, adds the diffs to the grid and every
  ancestor and deletes exactly the queue rows it read, all in one transaction. It folds the
  check facts only; households_total and leaves_expected (facts of the tree, which no check
  changes) come from the full recompute, which runs hourly for today.
"""

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from grids.models import GridNode, Household

from .metrics import METRIC_NAMES
from .models import Check, DailyStat, RollupDirty, ZeroReport

logger = logging.getLogger(__name__)

# Dirty rows read by one incremental transaction. 10,000 covers the burst of
# 10,000 checks in one run; a longer queue is drained in several transactions.
INCREMENTAL_BATCH_SIZE = 10_000
# Batches one run_incremental() call drains at most, so one task never runs unbounded.
MAX_BATCHES_PER_RUN = 20
# Ids per IN (...) list; SQLite allows 32,766 parameters a statement.
CHUNK = 5_000
# The PostgreSQL advisory lock every rollup transaction takes (b"grid" as an integer).
ROLLUP_LOCK_KEY = 0x67726964

# What the checks decide (folded incrementally) and what the tree decides (full recompute).
CHECK_FIELDS: tuple[str, ...] = (*METRIC_NAMES, "households_checked", "leaves_reported")
TREE_FIELDS: tuple[str, ...] = ("households_total", "leaves_expected")
FIELDS: tuple[str, ...] = CHECK_FIELDS + TREE_FIELDS
N_CHECK = len(CHECK_FIELDS)
N = len(FIELDS)
I_HOUSEHOLDS_CHECKED = FIELDS.index("households_checked")
I_LEAVES_REPORTED = FIELDS.index("leaves_reported")
I_HOUSEHOLDS_TOTAL = FIELDS.index("households_total")
I_LEAVES_EXPECTED = FIELDS.index("leaves_expected")


@dataclass(frozen=True)
class Difference:
    """A node whose stored row differed from the recomputed one (or was missing)."""

    code: str
    stored: dict | None
    computed: dict


@dataclass
class FullResult:
    day: datetime.date
    nodes: int = 0
    inserted: int = 0
    updated: int = 0
    dirty_consumed: int = 0
    differences: list[Difference] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "day": self.day.isoformat(),
            "nodes": self.nodes,
            "inserted": self.inserted,
            "updated": self.updated,
            "dirty_consumed": self.dirty_consumed,
            "differences": len(self.differences),
        }


@dataclass
class IncrementalResult:
    batches: int = 0
    dirty_consumed: int = 0
    grids: int = 0
    rows_updated: int = 0
    full_days: list[datetime.date] = field(default_factory=list)
    yielded: bool = False  # another run held the lock; the queue waits for it or the next

    def as_dict(self) -> dict:
        return {
            "batches": self.batches,
            "dirty_consumed": self.dirty_consumed,
            "grids": self.grids,
            "rows_updated": self.rows_updated,
            "full_days": [d.isoformat() for d in self.full_days],
            "yielded": self.yielded,
        }


# --- helpers ---------------------------------------------------------------------------


def _chunks(ids: Iterable, size: int = CHUNK) -> Iterator[list]:
    ids = list(ids)
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _lock(*, wait: bool) -> bool:
    """Take the rollup lock for the current transaction. On PostgreSQL an advisory lock
    (released at commit or rollback); elsewhere the database's own write lock serializes
    writers already (SQLite: BEGIN IMMEDIATE), so there is nothing to take."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        # For this transaction only: JIT compiling costs more than it saves on queries of a
        # second or less (up to 2 s measured on the bench).
        cursor.execute("SET LOCAL jit = off")
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLLUP_LOCK_KEY])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ROLLUP_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def _check_sums(day: datetime.date, grid_ids: list[int] | None = None) -> dict[int, list[int]]:
    """Each grid's own check numbers for the day: metric sums and distinct households, over
    counted checks; one GROUP BY (per chunk of grids when grid_ids is given)."""
    aggregates = {name: Sum(name) for name in METRIC_NAMES}
    aggregates["hh"] = Count("household_id", distinct=True)
    base = Check.objects.counted().filter(checked_on=day).order_by()
    queries = [
        query.values("grid_id").annotate(**aggregates).values_list("grid_id", *METRIC_NAMES, "hh")
        for query in (
            [base]
            if grid_ids is None
            else [base.filter(grid_id__in=chunk) for chunk in _chunks(grid_ids)]
        )
    ]
    if connection.vendor != "postgresql":
        return _collect(queries)
    # Read the day's rows through a bitmap of the (checked_on, grid) index, each page once in
    # physical order. Left alone, the planner either scans every day's checks (14 times the
    # pages) or walks the index in grid order, fetching the heap a row at a time (checks
    # arrive in no grid order); both measured 2 to 6 times slower on the bench.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
    try:
        return _collect(queries)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = on")
            cursor.execute("SET LOCAL enable_indexscan = on")


def _collect(queries) -> dict[int, list[int]]:
    sums: dict[int, list[int]] = {}
    for query in queries:
        for row in query:
            sums[row[0]] = list(row[1:])
    return sums


def _zero_reported(day: datetime.date, grid_ids: list[int] | None = None) -> set[int]:
    base = ZeroReport.objects.filter(reported_on=day).order_by()
    if grid_ids is None:
        return set(base.values_list("grid_id", flat=True))
    found: set[int] = set()
    for chunk in _chunks(grid_ids):
        found.update(base.filter(grid_id__in=chunk).values_list("grid_id", flat=True))
    return found


def _own_check_numbers(
    grid_id: int, is_leaf: bool, sums: dict[int, list[int]], zero: set[int]
) -> list[int]:
    """A grid's own CHECK_FIELDS from the raw aggregates."""
    own = sums.get(grid_id)
    numbers = list(own) if own else [0] * (N_CHECK - 1)  # metrics + households_checked
    numbers.append(1 if is_leaf and (own is not None or grid_id in zero) else 0)
    return numbers


# --- full recompute ----------------------------------------------------------------------


def compute_day(day: datetime.date) -> dict[int, list[int]]:
    """Every node's FIELDS for the day, straight from the raw rows: {node id: numbers}."""
    sums = _check_sums(day)
    zero = _zero_reported(day)
    households = dict(
        Household.objects.order_by()
        .values("grid_id")
        .annotate(n=Count("*"))
        .values_list("grid_id", "n")
    )
    nodes = list(GridNode.objects.order_by().values_list("id", "parent_id", "depth"))
    parents = {parent_id for _, parent_id, _ in nodes if parent_id is not None}
    totals: dict[int, list[int]] = {}
    for node_id, _, _ in nodes:
        is_leaf = node_id not in parents
        numbers = _own_check_numbers(node_id, is_leaf, sums, zero)
        numbers.append(households.get(node_id, 0))
        numbers.append(1 if is_leaf else 0)
        totals[node_id] = numbers
    # Fold bottom-up: deepest first, each node adds its subtree's totals into its parent, so
    # the work grows with the number of nodes, not with nodes x depth.
    for node_id, parent_id, _ in sorted(nodes, key=lambda n: -n[2]):
        if parent_id is not None:
            parent = totals[parent_id]
            child = totals[node_id]
            totals[parent_id] = [a + b for a, b in zip(parent, child, strict=True)]
    return totals


def full_recompute(day: datetime.date) -> FullResult:
    """Recompute every node's row for the day from the raw rows, write the rows that differ
    and consume the day's queued dirty rows. Returns what differed (the cross-check)."""
    with transaction.atomic():
        _lock(wait=True)
        return _full_recompute_locked(day)


def _full_recompute_locked(day: datetime.date) -> FullResult:
    result = FullResult(day=day)
    # The queue first, then the data: a row queued after this read stays queued, and its
    # change, if already visible below, is merely recomputed once more by the next run.
    dirty_ids = list(RollupDirty.objects.filter(day=day).values_list("id", flat=True))
    computed = compute_day(day)
    stored = {
        row[0]: (row[1], list(row[2:]))
        for row in DailyStat.objects.filter(day=day)
        .order_by()
        .values_list("node_id", "id", *FIELDS)
    }
    result.nodes = len(computed)
    changed: list[tuple[int, list[int]]] = []
    for node_id, numbers in computed.items():
        old = stored.get(node_id)
        if old is not None and old[1] == numbers:
            continue
        changed.append((node_id, numbers))
        if old is None:
            result.inserted += 1
        else:
            result.updated += 1
    if stored and changed:
        # Only a recompute over existing rows has differences worth reporting.
        codes = dict(
            GridNode.objects.filter(id__in=[n for n, _ in changed]).values_list("id", "code")
        )
        for node_id, numbers in changed:
            old = stored.get(node_id)
            result.differences.append(
                Difference(
                    code=codes.get(node_id, str(node_id)),
                    stored=dict(zip(FIELDS, old[1], strict=True)) if old else None,
                    computed=dict(zip(FIELDS, numbers, strict=True)),
                )
            )
    _upsert(day, changed)
    result.dirty_consumed = _delete_dirty(dirty_ids)
    return result


def _upsert(day: datetime.date, rows: list[tuple[int, list[int]]]) -> None:
    if not rows:
        return
    now = timezone.now()
    if connection.vendor == "postgresql":
        # One statement over arrays: no model instances, no per-row round trips.
        columns = ", ".join(FIELDS)
        arrays = ", ".join(["%s::bigint[]"] + ["%s::integer[]"] * N)
        updates = ", ".join(f"{f} = EXCLUDED.{f}" for f in (*FIELDS, "updated_at"))
        params = [[node_id for node_id, _ in rows]]
        params += [[numbers[i] for _, numbers in rows] for i in range(N)]
        select = ", ".join(f"v.{f}" for f in FIELDS)
        with connection.cursor() as cursor:
            for start in range(0, len(rows), 50_000):
                cursor.execute(
                    f"INSERT INTO {DailyStat._meta.db_table} (node_id, day, {columns}, updated_at) "
                    f"SELECT v.node_id, %s::date, {select}, %s "
                    f"FROM unnest({arrays}) AS v(node_id, {columns}) "
                    f"ON CONFLICT (node_id, day) DO UPDATE SET {updates}",
                    [day, now, *(p[start : start + 50_000] for p in params)],
                )
        return
    DailyStat.objects.bulk_create(
        [
            DailyStat(
                node_id=node_id, day=day, updated_at=now, **dict(zip(FIELDS, numbers, strict=True))
            )
            for node_id, numbers in rows
        ],
        batch_size=500,
        update_conflicts=True,
        unique_fields=["node", "day"],
        update_fields=[*FIELDS, "updated_at"],
    )


def _delete_dirty(ids: list[int]) -> int:
    deleted = 0
    for chunk in _chunks(ids):
        deleted += RollupDirty.objects.filter(id__in=chunk).delete()[0]
    return deleted


# --- incremental --------------------------------------------------------------------------


def run_incremental(*, wait: bool = False, day: datetime.date | None = None) -> IncrementalResult:
    """Drain the dirty queue in bounded batches, one transaction each. With wait=False a run
    that finds another holding the lock yields at once (the other, or the next beat, folds
    the rows); the embedded default waits instead, because no beat follows it."""
    result = IncrementalResult()
    for _ in range(MAX_BATCHES_PER_RUN):
        consumed = incremental_batch(result, wait=wait, day=day)
        if result.yielded or consumed < INCREMENTAL_BATCH_SIZE:
            break
    return result


def incremental_batch(
    result: IncrementalResult, *, wait: bool = False, day: datetime.date | None = None
) -> int:
    """One batch, all or nothing. Returns the number of dirty rows read."""
    with transaction.atomic():
        if not _lock(wait=wait):
            result.yielded = True
            return 0
        queue = RollupDirty.objects.order_by("id")
        if day is not None:
            queue = queue.filter(day=day)
        dirty = list(queue.values_list("id", "grid_id", "day")[:INCREMENTAL_BATCH_SIZE])
        if not dirty:
            return 0
        by_day: dict[datetime.date, set[int]] = defaultdict(set)
        for _, grid_id, dirty_day in dirty:
            by_day[dirty_day].add(grid_id)
        for dirty_day in sorted(by_day):
            grid_ids = sorted(by_day[dirty_day])
            if _fold_day(dirty_day, grid_ids, result):
                result.grids += len(grid_ids)
            else:
                # No rows for the day yet (its first change), or the tree gained nodes since
                # its rows were built: build the whole day.
                _full_recompute_locked(dirty_day)
                result.full_days.append(dirty_day)
        _delete_dirty([row[0] for row in dirty])
        result.batches += 1
        result.dirty_consumed += len(dirty)
        return len(dirty)


def _fold_day(day: datetime.date, grid_ids: list[int], result: IncrementalResult) -> bool:
    """Fold the dirty grids' changes for one day into DailyStat. False when a row it needs
    is missing, so the caller rebuilds the day instead."""
    paths: dict[int, str] = {}
    for chunk in _chunks(grid_ids):
        paths.update(GridNode.objects.filter(id__in=chunk).order_by().values_list("id", "path"))
    # Grids removed since the check was written: nothing left to fold into.
    grid_ids = [g for g in grid_ids if g in paths]
    if not grid_ids:
        return True
    children: dict[int, list[int]] = defaultdict(list)
    for chunk in _chunks(grid_ids):
        for child_id, parent_id in (
            GridNode.objects.filter(parent_id__in=chunk).order_by().values_list("id", "parent_id")
        ):
            children[parent_id].append(child_id)
    ancestor_codes = {code for path in paths.values() for code in path.strip("/").split("/")[:-1]}
    code_ids: dict[str, int] = {}
    for chunk in _chunks(sorted(ancestor_codes)):
        code_ids.update(GridNode.objects.filter(code__in=chunk).values_list("code", "id"))

    # Lock every row this run reads or writes, in one stable order (node id), so two
    # rollups can never deadlock or fold the same change twice; then read the raw rows,
    # which under READ COMMITTED now include everything committed before the lock.
    needed = set(grid_ids) | set(code_ids.values())
    needed.update(c for kids in children.values() for c in kids)
    stored: dict[int, tuple[int, list[int]]] = {}
    for chunk in _chunks(sorted(needed)):
        rows = (
            DailyStat.objects.select_for_update()
            .filter(day=day, node_id__in=chunk)
            .order_by("node_id")
            .values_list("node_id", "id", *CHECK_FIELDS)
        )
        for row in rows:
            stored[row[0]] = (row[1], list(row[2:]))
    if len(stored) != len(needed) or len(code_ids) != len(ancestor_codes):
        return False

    sums = _check_sums(day, grid_ids)
    zero = _zero_reported(day, grid_ids)
    deltas: dict[int, list[int]] = {}
    for grid_id in grid_ids:
        kids = children.get(grid_id, [])
        new = _own_check_numbers(grid_id, not kids, sums, zero)
        # A grid's own numbers are its row minus its children's rows (just its row for a
        # leaf, which is nearly every grid with checks).
        old = list(stored[grid_id][1])
        for kid in kids:
            old = [a - b for a, b in zip(old, stored[kid][1], strict=True)]
        delta = [a - b for a, b in zip(new, old, strict=True)]
        if not any(delta):
            continue
        for node_id in [code_ids[c] for c in paths[grid_id].strip("/").split("/")[:-1]] + [grid_id]:
            acc = deltas.get(node_id)
            deltas[node_id] = (
                delta if acc is None else [a + b for a, b in zip(acc, delta, strict=True)]
            )
    updates = [
        (stored[node_id][0], [a + b for a, b in zip(stored[node_id][1], delta, strict=True)])
        for node_id, delta in deltas.items()
        if any(delta)
    ]
    _update_rows(updates)
    result.rows_updated += len(updates)
    return True


def _update_rows(updates: list[tuple[int, list[int]]]) -> None:
    """Write new CHECK_FIELDS values to locked DailyStat rows, by row id."""
    if not updates:
        return
    now = timezone.now()
    if connection.vendor == "postgresql":
        sets = ", ".join(f"{f} = v.{f}" for f in CHECK_FIELDS)
        arrays = ", ".join(["%s::bigint[]"] + ["%s::integer[]"] * N_CHECK)
        params = [[row_id for row_id, _ in updates]]
        params += [[numbers[i] for _, numbers in updates] for i in range(N_CHECK)]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {DailyStat._meta.db_table} AS s SET {sets}, updated_at = %s "
                f"FROM unnest({arrays}) AS v(id, {', '.join(CHECK_FIELDS)}) WHERE s.id = v.id",
                [now, *params],
            )
        return
    objs = [
        DailyStat(id=row_id, updated_at=now, **dict(zip(CHECK_FIELDS, numbers, strict=True)))
        for row_id, numbers in updates
    ]
    DailyStat.objects.bulk_update(objs, [*CHECK_FIELDS, "updated_at"], batch_size=500)
