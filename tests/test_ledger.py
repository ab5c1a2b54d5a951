"""The rollup's ledger (screening.ledger): the change each write queues, households_checked
counted once per household however many checks it has, concurrent writers for one
household, and tree changes marking the days whose rows they make stale."""

import datetime
import threading
import time
import uuid

import pytest
from django.db import connection, transaction
from django.utils import timezone

from grids.models import Level
from grids.services import grid_create, grid_move, household_upsert
from screening import rollup
from screening.ledger import HISTORY_DAYS
from screening.metrics import METRIC_NAMES
from screening.models import DailyStat, RollupDelta
from screening.services import CheckInput, check_submit_batch, check_void
from tests.factories import Tree, make_household, make_user
from tests.test_rollup import assert_rollup_correct, write_check

I_PERSONS = METRIC_NAMES.index("persons_present")


def queued(grid=None):
    """{(grid id, day): summed change} over the queue, as the rollup would sum it."""
    rows = RollupDelta.objects.all() if grid is None else RollupDelta.objects.filter(grid=grid)
    sums = {}
    for row in rows:
        key = (row.grid_id, row.day)
        values = [row.households_checked, *(getattr(row, m) for m in METRIC_NAMES)]
        sums[key] = [a + b for a, b in zip(sums.get(key, [0] * len(values)), values, strict=True)]
    return sums


def item(household, persons=2, **kw):
    return CheckInput(
        uuid=uuid.uuid4(), household_code=household.code, counts={"persons_present": persons}, **kw
    )


def test_a_batch_queues_one_change_per_grid_with_distinct_households(tree, superuser):
    a, b = make_household(tree.h11), make_household(tree.h11)
    c = make_household(tree.h12)
    results = check_submit_batch(
        user=superuser, items=[item(a, 2), item(a, 3), item(b, 1), item(c, 4)]
    )
    assert {r.status for r in results} == {"created"}
    assert RollupDelta.objects.count() == 2  # one row per (grid, day) the transaction touched
    today = timezone.localdate()
    h11 = queued()[(tree.h11.id, today)]
    assert h11[0] == 2  # households a and b, a counted once
    assert h11[1 + I_PERSONS] == 6
    assert queued()[(tree.h12.id, today)][:2] == [1, 4]


def test_a_second_check_of_a_household_adds_no_household_and_a_void_removes_only_the_last(
    tree, superuser
):
    home = make_household(tree.h11)
    today = timezone.localdate()
    (first,) = check_submit_batch(user=superuser, items=[item(home, 2)])
    (second,) = check_submit_batch(user=superuser, items=[item(home, 5)])
    assert queued()[(tree.h11.id, today)][0] == 1

    from screening.models import Check

    RollupDelta.objects.all().delete()
    check_void(user=superuser, check=Check.objects.get(pk=first.check_id), reason="twice")
    assert queued()[(tree.h11.id, today)][:2] == [0, -2]  # the household still has a check
    check_void(user=superuser, check=Check.objects.get(pk=second.check_id), reason="wrong")
    assert queued()[(tree.h11.id, today)][:2] == [-1, -7]


def test_a_refused_batch_queues_nothing(tree, superuser):
    results = check_submit_batch(user=superuser, items=[item(make_household(tree.h11), 999)])
    assert results[0].status == "error"
    assert not RollupDelta.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="two writers need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_checks_of_one_household_count_it_once(settings):
    """A second transaction writes a check of the household while the first, which wrote
    its first check, has not committed: the ledger's lock makes the second wait and then
    see the first's check, so the household is counted once."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    tree = Tree()
    worker = make_user(roles=["grid_worker"])
    home = make_household(tree.h11)
    day = timezone.localdate()
    rollup.full_recompute(day)
    first_written = threading.Event()
    errors = []

    def first():
        try:
            with transaction.atomic():
                write_check(home, day, worker=worker, counts={"persons_present": 1})
                first_written.set()
                time.sleep(0.5)  # holds its lock; without it the second would not wait
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    def second():
        try:
            assert first_written.wait(10)
            write_check(home, day, worker=worker, counts={"persons_present": 1})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not errors
    assert queued()[(tree.h11.id, day)][0] == 1
    rollup.run_incremental(wait=True)
    assert_rollup_correct(day)
    assert DailyStat.objects.get(node=tree.baise, day=day).households_checked == 1


# --- tree changes ------------------------------------------------------------------------------


def test_a_move_marks_the_recent_days_with_rows_stale_and_the_rollup_rebuilds_them(tree, superuser):
    today = timezone.localdate()
    days = [today - datetime.timedelta(days=k) for k in (0, 1, HISTORY_DAYS)]
    homes = [make_household(tree.hospital) for _ in days]
    for day, home in zip(days, homes, strict=True):
        write_check(home, day, worker=superuser)
        rollup.full_recompute(day)
    assert not RollupDelta.objects.exists()

    grid_move(node=tree.hospital, new_parent=tree.napo)

    stale = set(RollupDelta.objects.filter(grid=None).values_list("day", flat=True))
    assert stale == set(days[:2])  # not the day beyond the trend
    result = rollup.run_incremental()
    assert sorted(result.full_days) == sorted(days[:2])
    for day in days[:2]:
        assert_rollup_correct(day)
    napo = DailyStat.objects.get(node=tree.napo, day=today)
    assert (napo.households_checked, napo.leaves_reported) == (1, 1)
    assert DailyStat.objects.get(node=tree.debao, day=today).households_checked == 0


def test_a_new_grid_or_household_marks_only_today_stale(tree, superuser):
    today = timezone.localdate()
    rollup.full_recompute(today)
    rollup.full_recompute(today - datetime.timedelta(days=1))

    household_upsert(code="HH-NEW", grid=tree.h12, address="x", head_name="y")
    grid_create(
        code="451024100001003",
        name="新屯",
        level=Level.HAMLET,
        parent=tree.v1,
        category="non_border",
        kind="cell",
    )

    assert set(RollupDelta.objects.values_list("grid_id", "day")) == {(None, today)}
    rollup.run_incremental()
    assert_rollup_correct(today)
    assert DailyStat.objects.get(node=tree.v1, day=today).leaves_expected == 3


def test_a_tree_change_on_a_day_without_rows_queues_nothing(tree):
    household_upsert(code="HH-NEW", grid=tree.h12, address="x", head_name="y")
    assert not RollupDelta.objects.exists()
