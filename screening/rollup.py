"""The rollup: DailyStat, one row per node of the tree and per date, kept equal to a direct
aggregation of the raw checks and zero reports (docs/adr/0009-rollup.md).

Each node's row is the sum over its subtree of every grid's *own* numbers:

- the metrics of METRICS, summed over the grid's counted (not voided) checks of the day;
- households_checked: distinct households with a counted check in the grid that day (the
  checks carrying counts_household, one per household: screening.ledger);
- leaves_reported: 1 for a leaf (a grid without children) with a counted check or a zero
  report that day;
- households_total: the households now in the grid; leaves_expected: 1 for a leaf.

Two ways to get there, both serialized by one lock (a PostgreSQL advisory lock; SQLite's
write lock does the same there):

- full_recompute(day): one GROUP BY of the day's checks by grid, the households per grid,
  the zero reports, a fold of every grid's numbers into its ancestors, then an upsert of
  the rows that differ. It also reports what differed, which is the hourly cross-check.
- run_incremental(): reads a bounded batch of RollupDelta rows (the work queue every write
  fills in its own transaction with the change it made, screening.ledger), adds each
  grid's summed change to the grid and every ancestor, re-derives the changed leaves'
  reporting status, and deletes exactly the queue rows it read, all in one transaction.
  Its cost follows the number of changes and the grids they touch, never the number of
  checks already stored. It folds the check facts only; households_total and
  leaves_expected (facts of the tree, which no check changes) come from the full
  recompute, which runs hourly for today, or at once for a date marked stale.

The lock is a session-level advisory lock taken before the transaction starts, so the full
recompute can read the raw rows and the queue in one REPEATABLE READ snapshot: the changes
it deletes from the queue are exactly the ones its numbers include.
"""

import datetime
import io
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Case, Count, Exists, F, OuterRef, Q, Sum, Value, When
from django.utils import timezone

from gridcmd.arrays import array_literal
from grids.models import GridNode, Household

from .metrics import METRIC_NAMES
from .models import Check, DailyStat, RollupDelta, ZeroReport

logger = logging.getLogger(__name__)

# Queue rows read by one incremental transaction. A write transaction queues one row per
# grid it touched, so 10,000 covers any burst of 10,000 checks; a longer queue is drained
# in several transactions.
INCREMENTAL_BATCH_SIZE = 10_000
# Batches one run_incremental() call drains at most, so one task never runs unbounded.
MAX_BATCHES_PER_RUN = 20
# Values per list (`__any_of`): PostgreSQL gets one array parameter; SQLite binds at most
# 32,766 parameters a statement.
CHUNK = 30_000
# The PostgreSQL advisory lock every rollup transaction takes (b"grid" as an integer).
ROLLUP_LOCK_KEY = 0x67726964

# What the checks decide (folded incrementally) and what the tree decides (full recompute).
CHECK_FIELDS: tuple[str, ...] = (*METRIC_NAMES, "households_checked", "leaves_reported")
TREE_FIELDS: tuple[str, ...] = ("households_total", "leaves_expected")
# What a queued change (RollupDelta) carries: CHECK_FIELDS but leaves_reported, which the
# rollup derives.
DELTA_FIELDS: tuple[str, ...] = (*METRIC_NAMES, "households_checked")
I_DELTA_CHECKED = DELTA_FIELDS.index("households_checked")
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
    deltas_consumed: int = 0
    differences: list[Difference] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "day": self.day.isoformat(),
            "nodes": self.nodes,
            "inserted": self.inserted,
            "updated": self.updated,
            "deltas_consumed": self.deltas_consumed,
            "differences": len(self.differences),
        }


@dataclass
class IncrementalResult:
    batches: int = 0
    deltas_consumed: int = 0
    grids: int = 0
    rows_updated: int = 0
    full_days: list[datetime.date] = field(default_factory=list)
    yielded: bool = False  # another run held the lock; the queue waits for it or the next

    def as_dict(self) -> dict:
        return {
            "batches": self.batches,
            "deltas_consumed": self.deltas_consumed,
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


@contextmanager
def _rollup_lock(*, wait: bool) -> Iterator[bool]:
    """Hold the rollup lock around one or more rollup transactions; yields whether it was
    taken. On PostgreSQL a session-level advisory lock (re-entrant, and released with the
    connection if the process dies); elsewhere the database's own write lock serializes
    writers already (SQLite: BEGIN IMMEDIATE), so there is nothing to take."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s)", [ROLLUP_LOCK_KEY])
            taken = True
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ROLLUP_LOCK_KEY])
            taken = bool(cursor.fetchone()[0])
    try:
        yield taken
    finally:
        if taken:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [ROLLUP_LOCK_KEY])
            except DatabaseError:
                # Only in a broken outer transaction; dropping the session drops the lock.
                if not connection.in_atomic_block:
                    connection.close()
                else:
                    raise


def _begin(*, snapshot: bool = False) -> None:
    """The first statements of a rollup transaction on PostgreSQL."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if snapshot and _outermost():
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        # JIT compiling costs more than it saves on queries of a second or less (up to 2 s
        # measured on the bench).
        cursor.execute("SET LOCAL jit = off")


def _outermost() -> bool:
    """True in a transaction.atomic() block that opened the transaction itself (not inside
    a test's or a caller's transaction), before any query ran in it."""
    return (
        len(connection.atomic_blocks) == 1
        and not connection.savepoint_ids
        and connection.commit_on_exit
    )


def _rows(queryset) -> list[tuple]:
    """A values_list queryset's rows through a plain cursor: on tens of thousands of rows,
    Django's own row iteration costs more than the query."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _check_sums(day: datetime.date) -> list[tuple]:
    """Each grid's own check numbers for the day, over counted checks: (grid id, metric
    sums..., households checked), one GROUP BY."""
    aggregates = {name: Sum(name) for name in METRIC_NAMES}
    # One counted check per household, grid and day carries counts_household (the ledger
    # keeps it so), so distinct households are a plain count in the same pass.
    aggregates["hh"] = Count("id", filter=Q(counts_household=True))
    query = (
        Check.objects.counted()
        .filter(checked_on=day)
        .order_by()
        .values("grid_id")
        .annotate(**aggregates)
        .values_list("grid_id", *METRIC_NAMES, "hh")
    )
    if connection.vendor != "postgresql":
        return _rows(query)
    # Read the day's rows through a bitmap of the (checked_on, grid) index, each page once in
    # physical order. Left alone, the planner either scans every day's checks (14 times the
    # pages) or walks the index in grid order, fetching the heap a row at a time (checks
    # arrive in no grid order); both measured 2 to 6 times slower on the bench. With the
    # parallel workers of settings.ROLLUP_PARALLEL_WORKERS (ADR 0009).
    options = {
        "enable_seqscan": "off",
        "enable_indexscan": "off",
        "max_parallel_workers_per_gather": int(settings.ROLLUP_PARALLEL_WORKERS),
    }
    with connection.cursor() as cursor:
        for name, value in options.items():
            cursor.execute(f"SET LOCAL {name} = {value}")
    try:
        return _rows(query)
    finally:
        with connection.cursor() as cursor:
            for name in options:
                cursor.execute(f"RESET {name}")


def _zero_reported(day: datetime.date, grid_ids: list[int] | None = None) -> set[int]:
    base = ZeroReport.objects.filter(reported_on=day).order_by()
    if grid_ids is None:
        return set(base.values_list("grid_id", flat=True))
    found: set[int] = set()
    for chunk in _chunks(grid_ids):
        found.update(base.filter(grid_id__any_of=set(chunk)).values_list("grid_id", flat=True))
    return found


def _positions(ids: np.ndarray, wanted) -> tuple[np.ndarray, np.ndarray]:
    """Where each of `wanted` sits in the sorted `ids`: (positions, mask of those found)."""
    wanted = np.asarray(wanted, dtype=np.int64)
    if not len(ids):
        return np.zeros(0, np.int64), np.zeros(len(wanted), bool)
    at = np.searchsorted(ids, wanted).clip(max=len(ids) - 1)
    found = ids[at] == wanted
    return at[found], found


def _matrix(rows: list[tuple], ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of (node id, numbers...) as (positions in ids, numbers), rows of unknown nodes
    dropped."""
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.int64)
    array = np.array(rows, dtype=np.int64)
    at, found = _positions(ids, array[:, 0])
    return at, array[found, 1:]


# --- full recompute ----------------------------------------------------------------------


@dataclass
class _TreeReads:
    """What the full recompute reads besides the checks: the tree, households per grid and
    the day's stored rows."""

    nodes: list[tuple]
    households: list[tuple]
    stored: list[tuple]


def _households_per_grid() -> list[tuple]:
    """(grid id, households) of every grid with households. On PostgreSQL the database
    keeps them in grids_household_count (migration grids.0003): counting a million
    households took the full recompute a quarter of its own work."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT grid_id, households FROM grids_household_count")
            return cursor.fetchall()
    return _rows(
        Household.objects.order_by()
        .values("grid_id")
        .annotate(n=Count("*"))
        .values_list("grid_id", "n")
    )


def _tree_reads(day: datetime.date) -> _TreeReads:
    return _TreeReads(
        nodes=_rows(GridNode.objects.order_by("id").values_list("id", "parent_id", "depth")),
        households=_households_per_grid(),
        stored=_rows(DailyStat.objects.filter(day=day).order_by().values_list("node_id", *FIELDS)),
    )


def _tree_reads_on_the_side(day: datetime.date) -> _TreeReads:
    """_tree_reads on a connection of its own, in a thread, then closed. Without parallel
    workers: the checks' aggregation meanwhile has them, and on two cores more processes
    only slow it down."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET max_parallel_workers_per_gather = 0")
        return _tree_reads(day)
    finally:
        connection.close()


def compute_day(
    day: datetime.date, reads: "Future[_TreeReads] | _TreeReads | None" = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every node's FIELDS for the day, straight from the raw rows: (node ids in ascending
    order, one row of FIELDS per node). Vectorised: the fold of ~22,000 nodes takes
    milliseconds, where Python lists took a tenth of a second. `reads` may be a future of
    the tree reads running on another connection meanwhile."""
    sums = _check_sums(day)
    zero = _zero_reported(day)
    if reads is None:
        reads = _tree_reads(day)
    elif isinstance(reads, Future):
        reads = reads.result()
    nodes = reads.nodes
    n = len(nodes)
    ids = np.fromiter((row[0] for row in nodes), np.int64, n)
    parent_ids = np.fromiter((row[1] or 0 for row in nodes), np.int64, n)
    depth = np.fromiter((row[2] for row in nodes), np.int64, n)
    parent, has_parent = _positions(ids, parent_ids)
    parent_of = np.zeros(n, np.int64)
    parent_of[has_parent] = parent
    leaf = np.ones(n, bool)
    leaf[parent] = False

    numbers = np.zeros((n, N), np.int64)
    reported = np.zeros(n, bool)
    at, sums = _matrix(sums, ids)
    if len(at):
        numbers[at, : N_CHECK - 1] = sums  # metrics and households_checked
        reported[at] = True  # a counted check
    at, _ = _positions(ids, sorted(zero))
    reported[at] = True
    numbers[:, I_LEAVES_REPORTED] = leaf & reported
    at, households = _matrix(reads.households, ids)
    if len(at):
        numbers[at, I_HOUSEHOLDS_TOTAL] = households[:, 0]
    numbers[:, I_LEAVES_EXPECTED] = leaf
    # Fold bottom-up, one level at a time, deepest first: each node adds its subtree's
    # totals into its parent.
    for level in range(int(depth.max(initial=0)), 0, -1):
        moving = (depth == level) & has_parent
        np.add.at(numbers, parent_of[moving], numbers[moving])
    return ids, numbers


def full_recompute(day: datetime.date) -> FullResult:
    """Recompute every node's row for the day from the raw rows, write the rows that differ
    and consume the day's queued changes. Returns what differed (the cross-check)."""
    with _rollup_lock(wait=True), transaction.atomic():
        _begin(snapshot=True)
        return _full_recompute_locked(day)


def _full_recompute_locked(day: datetime.date) -> FullResult:
    result = FullResult(day=day)
    if connection.vendor == "postgresql" and _outermost():
        # The tree, the households and the stored rows (about a fifth of the work) are read
        # on a second connection while this one aggregates the day's checks. They need not
        # share its snapshot: only the rollup, which holds the lock, writes DailyStat, and a
        # change of the tree marks the days it touches for another recompute anyway.
        with ThreadPoolExecutor(max_workers=1) as pool:
            reads = pool.submit(_tree_reads_on_the_side, day)
            ids, computed = compute_day(day, reads)
            reads = reads.result()
    else:
        reads = _tree_reads(day)
        ids, computed = compute_day(day, reads)
    result.nodes = len(ids)
    at, stored = _matrix(reads.stored, ids)
    has_row = np.zeros(len(ids), bool)
    has_row[at] = True
    differs = ~has_row
    if len(at):
        differs[at] = (stored != computed[at]).any(axis=1)
    changed = np.flatnonzero(differs)
    result.inserted = int((~has_row[changed]).sum())
    result.updated = len(changed) - result.inserted
    if result.updated:
        # Only a recompute over existing rows has differences worth reporting.
        old = dict(zip(ids[at].tolist(), stored.tolist(), strict=True))
        codes = dict(
            GridNode.objects.filter(id__in=ids[changed].tolist()).values_list("id", "code")
        )
        for i in changed.tolist():
            node_id = int(ids[i])
            result.differences.append(
                Difference(
                    code=codes.get(node_id, str(node_id)),
                    stored=dict(zip(FIELDS, old[node_id], strict=True)) if node_id in old else None,
                    computed=dict(zip(FIELDS, computed[i].tolist(), strict=True)),
                )
            )
    if connection.vendor == "postgresql" and not len(at) and len(changed):
        # The day's first build: no row to conflict with (the lock keeps other rollups out).
        _copy_rows(day, ids[changed], computed[changed])
    else:
        _upsert(day, list(zip(ids[changed].tolist(), computed[changed].tolist(), strict=True)))
    # In the snapshot the numbers were read in (REPEATABLE READ on PostgreSQL; SQLite has
    # one writer), this deletes exactly the queued changes those numbers include.
    result.deltas_consumed = RollupDelta.objects.filter(day=day).delete()[0]
    return result


#: PostgreSQL's binary COPY: its header and trailer, and its dates and times' epoch.
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
PG_EPOCH = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


def _copy_rows(day: datetime.date, node_ids: np.ndarray, numbers: np.ndarray) -> None:
    """Insert a day's rows with COPY: for ~22,000 rows a quarter of the time of the upsert,
    which checks each row for a conflict. In COPY's binary format, packed by numpy: every
    value is a fixed-size big-endian integer (bigint node id, integer FIELDS, a date as
    days and a time as microseconds since 2000-01-01), so no value is printed as text
    (that took 54 ms of the 110 ms this step cost)."""
    layout = [("count", ">i2"), ("node_len", ">i4"), ("node", ">i8")]
    for name in FIELDS:
        layout += [(f"{name}_len", ">i4"), (name, ">i4")]
    layout += [("day_len", ">i4"), ("day", ">i4"), ("at_len", ">i4"), ("at", ">i8")]
    rows = np.zeros(len(node_ids), np.dtype(layout))
    rows["count"] = len(FIELDS) + 3
    rows["node_len"], rows["node"] = 8, node_ids
    for i, name in enumerate(FIELDS):
        rows[f"{name}_len"], rows[name] = 4, numbers[:, i]
    rows["day_len"], rows["day"] = 4, (day - PG_EPOCH.date()).days
    rows["at_len"], rows["at"] = (
        8,
        (timezone.now() - PG_EPOCH) // datetime.timedelta(microseconds=1),
    )
    with connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY {DailyStat._meta.db_table} (node_id, {', '.join(FIELDS)}, day, updated_at) "
            "FROM STDIN WITH (FORMAT binary)",
            io.BytesIO(COPY_HEADER + rows.tobytes() + COPY_TRAILER),
        )


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
                    f"ON CONFLICT (day, node_id) DO UPDATE SET {updates}",
                    [day, now, *(array_literal(p[start : start + 50_000]) for p in params)],
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
        unique_fields=["day", "node"],
        update_fields=[*FIELDS, "updated_at"],
    )


def _delete_queued(ids: list[int]) -> int:
    deleted = 0
    for chunk in _chunks(ids):
        deleted += RollupDelta.objects.filter(id__any_of=set(chunk)).delete()[0]
    return deleted


# --- incremental --------------------------------------------------------------------------


def run_incremental(*, wait: bool = False, day: datetime.date | None = None) -> IncrementalResult:
    """Drain the queue in bounded batches, one transaction each. With wait=False a run that
    finds another holding the lock yields at once (the other, or the next beat, folds the
    rows); the embedded default waits instead, because no beat follows it."""
    result = IncrementalResult()
    with _rollup_lock(wait=wait) as taken:
        if not taken:
            result.yielded = True
            return result
        for _ in range(MAX_BATCHES_PER_RUN):
            stale: set[datetime.date] = set()
            consumed = incremental_batch(result, stale, day=day)
            for stale_day in sorted(stale):
                # The day's queued changes stay queued until this consumes them.
                result.deltas_consumed += full_recompute(stale_day).deltas_consumed
                result.full_days.append(stale_day)
            if consumed < INCREMENTAL_BATCH_SIZE:
                break
    return result


def incremental_batch(
    result: IncrementalResult, stale: set[datetime.date], *, day: datetime.date | None = None
) -> int:
    """Fold one batch of queued changes, all or nothing; the caller holds the lock. Days
    that need a full recompute are added to `stale` with their rows left queued. Returns
    the number of queue rows read."""
    with transaction.atomic():
        _begin()
        queue = RollupDelta.objects.order_by("id")
        if day is not None:
            queue = queue.filter(day=day)
        ids = list(queue.values_list("id", flat=True)[:INCREMENTAL_BATCH_SIZE])
        if not ids:
            return 0
        changes = _queued_changes(ids, stale)
        for grid_day in sorted(set(changes) - stale):
            try:
                with transaction.atomic():
                    folded = _fold_day(grid_day, changes[grid_day], result)
            except _RowsMissing:
                folded = False
            if not folded:
                stale.add(grid_day)
        read = len(ids)
        if stale:
            ids = list(
                RollupDelta.objects.filter(id__any_of=set(ids))
                .exclude(day__in=stale)
                .values_list("id", flat=True)
            )
        _delete_queued(ids)
        result.batches += 1
        result.deltas_consumed += len(ids)
        return read


def _queued_changes(ids: list[int], stale: set[datetime.date]) -> dict:
    """What the queue rows `ids` change, by day, in the form _fold_day takes; days with a
    stale mark (a row without a grid) are added to `stale`. On PostgreSQL the fold sums the
    rows itself, so this only reads the days (and it gets the ids as one literal); elsewhere
    each grid's summed change, {day: {grid id: [DELTA_FIELDS...]}}."""
    if connection.vendor == "postgresql":
        literal = array_literal(ids)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT day, bool_or(grid_id IS NULL) FROM {RollupDelta._meta.db_table} "
                "WHERE id = ANY(%s::bigint[]) GROUP BY day",
                [literal],
            )
            days = cursor.fetchall()
        stale.update(day for day, marked in days if marked)
        return {day: literal for day, _marked in days}
    per_grid: dict[datetime.date, dict[int, list[int]]] = defaultdict(dict)
    sums = {name: Sum(name) for name in DELTA_FIELDS}
    for chunk in _chunks(ids):
        query = (
            RollupDelta.objects.filter(id__any_of=set(chunk))
            .order_by()
            .values("grid_id", "day")
            .annotate(**sums)
            .values_list("grid_id", "day", *DELTA_FIELDS)
        )
        for grid_id, grid_day, *delta in query:
            if grid_id is None:
                stale.add(grid_day)
                continue
            acc = per_grid[grid_day].get(grid_id)
            per_grid[grid_day][grid_id] = (
                delta if acc is None else [a + b for a, b in zip(acc, delta, strict=True)]
            )
    return per_grid


class _RowsMissing(Exception):
    """A row the fold must change does not exist: the day is rebuilt instead."""


def _fold_day(day: datetime.date, changes, result) -> bool:
    """Add each grid's change (DELTA_FIELDS) to the grid's row and every ancestor's, with
    the change of leaves_reported it implies; `changes` comes from _queued_changes. False
    (nothing written) when a row it needs is missing, so the caller rebuilds the day
    instead."""
    if connection.vendor == "postgresql":
        return _fold_day_postgresql(day, changes, result)
    grid_deltas: dict[int, list[int]] = changes
    has_children = GridNode.objects.filter(parent_id=OuterRef("pk"))
    grids: dict[int, tuple[str, bool]] = {}
    for chunk in _chunks(sorted(grid_deltas)):
        for grid_id, path, inner in _rows(
            GridNode.objects.filter(id__any_of=set(chunk))
            .annotate(inner=Exists(has_children))
            .order_by()
            .values_list("id", "path", "inner")
        ):
            grids[grid_id] = (path, bool(inner))
    if not grids:  # removed since their checks were written: nothing to fold into
        result.grids += len(grid_deltas)
        return True
    # Every changed grid's row (a leaf's own numbers are its row); one missing means the day
    # was never built, or the grid is newer than the day's rows: rebuild instead.
    stored: dict[int, tuple[int, int]] = {}
    for chunk in _chunks(list(grids)):
        for node_id, checked, reported in _rows(
            DailyStat.objects.filter(day=day, node_id__any_of=set(chunk)).values_list(
                "node_id", "households_checked", "leaves_reported"
            )
        ):
            stored[node_id] = (checked, reported)
    if len(stored) != len(grids):
        return False
    # Each grid's change, with the change of leaves_reported it implies for a leaf. A leaf
    # reports when it has a counted check (households_checked > 0) or a zero report, so its
    # row tells, and only a leaf left with no household checked needs the zero reports.
    order = list(grids)
    changes = np.zeros((len(order), N_CHECK), np.int64)
    changes[:, : N_CHECK - 1] = np.array([grid_deltas[g] for g in order], np.int64)
    inner = np.fromiter((grids[g][1] for g in order), bool, len(order))
    before = np.array([stored[g] for g in order], np.int64).reshape(-1, 2)
    checked = before[:, 0] + changes[:, I_DELTA_CHECKED] > 0
    unchecked = [
        g for g, leaf_unchecked in zip(order, ~inner & ~checked, strict=True) if leaf_unchecked
    ]
    zero = _zero_reported(day, unchecked) if unchecked else set()
    reports = checked | np.fromiter((g in zero for g in order), bool, len(order))
    changes[:, I_LEAVES_REPORTED] = np.where(inner, 0, reports.astype(np.int64) - before[:, 1])
    # Every grid's change goes to itself and each ancestor on its path (codes, root first).
    paths = [grids[grid_id][0].strip("/").split("/") for grid_id in order]
    ids = {codes[-1]: grid_id for codes, grid_id in zip(paths, order, strict=True)}
    ancestors = {code for codes in paths for code in codes[:-1]} - set(ids)
    for chunk in _chunks(sorted(ancestors)):
        ids.update(
            _rows(GridNode.objects.filter(code__any_of=set(chunk)).values_list("code", "id"))
        )
    if len(ids) != len(ancestors) + len(order):
        return False
    rows = [i for i, codes in enumerate(paths) for _ in codes]
    nodes = np.fromiter((ids[code] for codes in paths for code in codes), np.int64, len(rows))
    node_ids, at = np.unique(nodes, return_inverse=True)
    totals = np.zeros((len(node_ids), N_CHECK), np.int64)
    np.add.at(totals, at, changes[rows])
    moved = totals.any(axis=1)
    _increment_rows(day, node_ids[moved], totals[moved])
    result.rows_updated += int(moved.sum())
    result.grids += len(grid_deltas)
    return True


def _fold_day_postgresql(day: datetime.date, ids: str, result) -> bool:
    """_fold_day in one statement: the queue rows `ids` (an array literal) of the day summed
    per grid, then the same steps, without a round trip or a Python loop between them (the
    changes of 7,800 grids never leave the database). Raises _RowsMissing after writing
    when a row was missing (the caller's savepoint undoes the write)."""
    delta_sums = ", ".join(f"sum({f})::integer AS {f}" for f in DELTA_FIELDS)
    summed = ", ".join(f"sum(l.{f}) AS {f}" for f in CHECK_FIELDS)
    sets = ", ".join(f"{f} = s.{f} + up.{f}" for f in CHECK_FIELDS)
    moving = " OR ".join(f"up.{f} <> 0" for f in CHECK_FIELDS)
    stat, node, zero, queue = (
        DailyStat._meta.db_table,
        GridNode._meta.db_table,
        ZeroReport._meta.db_table,
        RollupDelta._meta.db_table,
    )
    delta_columns = ", ".join(f"g.{f}" for f in DELTA_FIELDS)
    sql = f"""
        WITH d AS (
            SELECT grid_id, {delta_sums} FROM {queue}
            WHERE id = ANY(%(ids)s::bigint[]) AND day = %(day)s AND grid_id IS NOT NULL
            GROUP BY grid_id
        ), g AS (
            SELECT d.*, n.path,
                EXISTS (SELECT 1 FROM {node} c WHERE c.parent_id = n.id) AS inner,
                s.households_checked AS checked_before, s.leaves_reported AS reported_before,
                s.id IS NOT NULL AS has_row
            FROM d JOIN {node} n ON n.id = d.grid_id
            LEFT JOIN {stat} s ON s.node_id = d.grid_id AND s.day = %(day)s
        ), l AS (
            -- A leaf reports with a household checked or a zero report.
            SELECT g.path, g.has_row, {delta_columns}, CASE WHEN g.inner OR NOT g.has_row
                THEN 0 ELSE (g.checked_before + g.households_checked > 0 OR EXISTS (
                    SELECT 1 FROM {zero} z WHERE z.grid_id = g.grid_id AND z.reported_on = %(day)s
                ))::int - g.reported_before END AS leaves_reported
            FROM g
        ), up AS (
            -- Each grid's change to itself and every ancestor; a code without a node (never,
            -- while the tree holds together) would group under a null id.
            SELECT a.id AS node_id, {summed}
            FROM l
            CROSS JOIN LATERAL unnest(string_to_array(trim(both '/' from l.path), '/')) AS p(code)
            LEFT JOIN {node} a ON a.code = p.code
            GROUP BY a.id
        ), written AS (
            UPDATE {stat} AS s SET {sets}, updated_at = %(now)s
            FROM up WHERE s.node_id = up.node_id AND s.day = %(day)s AND ({moving})
            RETURNING 1
        )
        SELECT
            (SELECT count(*) FROM l WHERE NOT has_row),
            (SELECT count(*) FROM up WHERE node_id IS NULL),
            (SELECT count(*) FROM up WHERE node_id IS NOT NULL AND ({moving}))
                - (SELECT count(*) FROM written),
            (SELECT count(*) FROM written),
            (SELECT count(*) FROM d)
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ids": ids, "day": day, "now": timezone.now()})
        no_row, no_ancestor, unwritten, written, grids = cursor.fetchone()
    if no_row or no_ancestor or unwritten:
        raise _RowsMissing
    result.rows_updated += written
    result.grids += grids
    return True


def _increment_rows(day: datetime.date, node_ids: np.ndarray, deltas: np.ndarray) -> None:
    """Add changes of CHECK_FIELDS (one row of `deltas` per node) to the day's rows of
    these nodes, for the portable fold (PostgreSQL folds in one statement). Raises
    _RowsMissing when a row does not exist (the caller's savepoint undoes the rest)."""
    if not len(node_ids):
        return
    now = timezone.now()
    # One statement per chunk of rows: each column adds a CASE over the node ids.
    increments = list(zip(node_ids.tolist(), deltas.tolist(), strict=True))
    updated = 0
    for chunk in _chunks(increments, 500):
        changes = {
            f: F(f)
            + Case(
                *(When(node_id=node_id, then=Value(d[i])) for node_id, d in chunk if d[i]),
                default=Value(0),
            )
            for i, f in enumerate(CHECK_FIELDS)
            if any(d[i] for _, d in chunk)
        }
        updated += DailyStat.objects.filter(
            day=day, node_id__in=[node_id for node_id, _ in chunk]
        ).update(updated_at=now, **changes)
    if updated != len(node_ids):
        raise _RowsMissing
