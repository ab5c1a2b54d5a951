"""Property test of the rollup (hypothesis): random trees (with work-unit grids, some under a
hamlet), random households and random streams of checks with duplicates, corrections,
voids, zero reports, late commits, incremental runs in between, re-runs, full recomputes and
crashes halfway through an incremental run. After the last run, every node's DailyStat
equals a direct aggregation of the raw rows (tests.test_rollup.expected_stats), and a full
recompute finds nothing to change."""

import datetime
import itertools

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grids.models import Category, Kind, Level
from screening import rollup
from screening.metrics import METRIC_NAMES
from screening.models import Check, DailyStat, RollupDelta, ZeroReport
from tests.factories import make_grid, make_household, make_user
from tests.test_rollup import (
    correct_check,
    expected_stats,
    file_zero_report,
    stored_stats,
    void_check,
    write_check,
)

DAYS = 2  # today and yesterday

counts_st = st.fixed_dictionaries({name: st.integers(0, 3) for name in METRIC_NAMES})


@st.composite
def tree_plans(draw):
    """A list of (code, level, parent code or None, is unit grid), parents first."""
    plan = [("451000000000", Level.CITY, None, False)]
    for ci in range(draw(st.integers(1, 2))):
        county = f"4510{21 + ci:02d}000000"
        plan.append((county, Level.COUNTY, "451000000000", False))
        for ti in range(draw(st.integers(1, 2))):
            township = f"{county[:6]}{101 + ti:03d}000"
            plan.append((township, Level.TOWNSHIP, county, False))
            for vi in range(draw(st.integers(0, 2))):
                village = f"{township[:9]}{vi + 1:03d}"
                plan.append((village, Level.VILLAGE, township, False))
                for hi in range(draw(st.integers(0, 2))):
                    plan.append((f"{village}{hi + 1:03d}", Level.HAMLET, village, False))
    territorial = [row for row in plan if not row[3]]
    hamlets = [row for row in territorial if row[1] == Level.HAMLET]
    units = draw(st.lists(st.integers(0, 10_000), max_size=2))
    if hamlets and draw(st.booleans()):
        # A unit grid under a hamlet makes the hamlet a grid with households and checks
        # that is not a leaf (the first hamlet: it gets the first households).
        units.insert(0, territorial.index(hamlets[0]))
    for n, pick in enumerate(units):
        code, level, _, _ = territorial[pick % len(territorial)]
        plan.append((f"U-{n}", level, code, True))
    return plan


checks_st = st.tuples(st.just("check"), st.integers(0, 999), st.integers(0, DAYS - 1), counts_st)
operations = st.one_of(
    checks_st,
    checks_st,
    st.just(("rollup",)),
    st.tuples(st.just("duplicate"), st.integers(0, 999)),
    st.tuples(st.just("correct"), st.integers(0, 999), counts_st),
    st.tuples(st.just("void"), st.integers(0, 999)),
    st.tuples(st.just("zero"), st.integers(0, 999), st.integers(0, DAYS - 1)),
    st.tuples(st.just("late"), st.integers(0, 999), st.integers(0, DAYS - 1), counts_st),
    st.just(("rollup",)),
    st.just(("rerun",)),
    st.tuples(st.just("full"), st.integers(0, DAYS - 1)),
    st.just(("crash",)),
)


class Crash(Exception):
    pass


def crash_halfway(monkeypatch) -> None:
    """Run the incremental rollup, dying after its writes and before its commit; nothing
    it did may remain."""
    before = {
        d: stored_stats(d) for d in DailyStat.objects.values_list("day", flat=True).distinct()
    }
    queue = set(RollupDelta.objects.values_list("id", flat=True))

    def then_die(write):
        def written_then_die(*args):
            write(*args)
            raise Crash

        return written_then_die

    with monkeypatch.context() as patch:
        patch.setattr(rollup, "_fold_day", then_die(rollup._fold_day))
        # A day's first change rebuilds the day instead: a first build copies its rows in,
        # a later one upserts them.
        patch.setattr(rollup, "_upsert", then_die(rollup._upsert))
        patch.setattr(rollup, "_copy_rows", then_die(rollup._copy_rows))
        try:
            rollup.run_incremental()
        except Crash:
            pass
    after = {d: stored_stats(d) for d in DailyStat.objects.values_list("day", flat=True).distinct()}
    assert after == before
    assert set(RollupDelta.objects.values_list("id", flat=True)) == queue


@pytest.fixture
def people(db):
    return make_user(roles=["grid_worker"], username="prop_worker"), make_user(
        roles=[], username="prop_root", is_superuser=True
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan=tree_plans(),
    household_counts=st.lists(st.integers(1, 3), min_size=1, max_size=12),
    prebuild=st.booleans(),
    stream=st.lists(operations, min_size=3, max_size=40),
)
def test_rollup_equals_direct_aggregation(
    people, monkeypatch, plan, household_counts, prebuild, stream
):
    worker, _ = people
    today = timezone.localdate()
    days = [today - datetime.timedelta(days=k) for k in range(DAYS)]
    with transaction.atomic():  # each example leaves nothing behind
        run_example(worker, monkeypatch, plan, household_counts, prebuild, stream, days)
        transaction.set_rollback(True)


def run_example(worker, monkeypatch, plan, household_counts, prebuild, stream, days):
    grids = {}
    for code, level, parent_code, unit in plan:
        grids[code] = make_grid(
            code,
            level=level,
            parent=grids[parent_code] if parent_code else None,
            category=Category.UNIT if unit else Category.NON_BORDER,
            kind=Kind.DEDICATED if unit else Kind.CELL,
        )
    parents = {g.parent_id for g in grids.values()}
    holders = [g for g in grids.values() if g.level == Level.HAMLET or g.category == Category.UNIT]
    # Grids with children first, then their children: hypothesis favours small indexes, so
    # the checks often fall on a grid that is no leaf and on a leaf below it.
    inner = {g.id for g in holders if g.id in parents}
    holders.sort(key=lambda g: (g.id not in inner, g.parent_id not in inner))
    households = []
    for grid, n in zip(holders, itertools.cycle(household_counts)):
        households += [make_household(grid) for _ in range(n)]
    leaves = [g for g in grids.values() if g.id not in parents]
    if prebuild:  # the days' rows exist already, so every run folds instead of rebuilding
        for day in days:
            rollup.full_recompute(day)
    checks: list[Check] = []
    late_ids = itertools.count(-1, -1)

    for op in stream:
        kind = op[0]
        if kind in ("check", "late") and households:
            household = households[op[1] % len(households)]
            day = days[op[2]]
            if kind == "check":
                checks.append(write_check(household, day, worker=worker, counts=op[3]))
            else:
                # Committed after runs that consumed newer queue rows: a lower id and an
                # older timestamp than anything already folded.
                with transaction.atomic():
                    queued = set(RollupDelta.objects.values_list("id", flat=True))
                    check = write_check(household, day, worker=worker, counts=op[3])
                    (row,) = RollupDelta.objects.exclude(id__in=queued)
                    RollupDelta.objects.filter(id=row.id).update(
                        id=next(late_ids), created_at=timezone.now() - datetime.timedelta(hours=2)
                    )
                checks.append(check)
        elif kind == "duplicate" and checks:
            # The same submission id again: the unique uuid refuses it and the whole write,
            # its queue row included, rolls back.
            original = checks[op[1] % len(checks)]
            try:
                write_check(
                    original.household, original.checked_on, worker=worker, check_uuid=original.uuid
                )
            except IntegrityError:
                pass
            else:  # pragma: no cover
                raise AssertionError("a duplicate uuid was stored")
        elif kind == "correct" and checks:
            correct_check(checks[op[1] % len(checks)], op[2])
        elif kind == "void" and checks:
            void_check(checks[op[1] % len(checks)])
        elif kind == "zero" and leaves:
            grid = leaves[op[1] % len(leaves)]
            day = days[op[2]]
            if not ZeroReport.objects.filter(grid=grid, reported_on=day).exists():
                file_zero_report(grid, day, reporter=worker)
        elif kind in ("rollup", "rerun"):
            rollup.run_incremental()
            if kind == "rerun":
                rollup.run_incremental()
        elif kind == "full":
            rollup.full_recompute(days[op[1]])
        elif kind == "crash":
            crash_halfway(monkeypatch)

    rollup.run_incremental()
    rollup.run_incremental()  # a re-run changes nothing
    assert not RollupDelta.objects.exists()
    for day in days:
        touched = (
            Check.objects.filter(checked_on=day).exists()
            or ZeroReport.objects.filter(reported_on=day).exists()
        )
        if not touched and not DailyStat.objects.filter(day=day).exists():
            continue
        assert stored_stats(day) == expected_stats(day)
        result = rollup.full_recompute(day)
        assert (result.inserted, result.updated, result.differences) == (0, 0, [])
