"""The rollup (screening.rollup, screening.tasks, manage.py rollup): every node's DailyStat
equals a direct aggregation of the raw checks and zero reports, after a full recompute, after
incremental runs through the check services, after a crash, a late commit and a re-run."""

import datetime
import threading
import uuid

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from grids.models import Category, GridNode, Household, Kind, Level
from screening import ledger, rollup, tasks
from screening.metrics import METRIC_NAMES
from screening.models import Check, DailyStat, RollupDelta, ZeroReport
from tests.factories import Tree, make_grid, make_household, make_user

FIELDS = rollup.FIELDS


# --- the oracle: a direct aggregation of the raw rows, written as naively as possible ---------


def expected_stats(day: datetime.date) -> dict[str, dict[str, int]]:
    """{node code: {field: value}} computed in Python from the raw rows."""
    nodes = list(GridNode.objects.all())
    parent_ids = {n.parent_id for n in nodes}
    leaves = {n.id for n in nodes if n.id not in parent_ids}
    households = list(Household.objects.values_list("id", "grid_id"))
    checks = [
        c for c in Check.objects.filter(checked_on=day) if c.voided_at is None
    ]  # counted checks
    zero = set(ZeroReport.objects.filter(reported_on=day).values_list("grid_id", flat=True))
    result = {}
    for node in nodes:
        subtree = {n.id for n in nodes if n.path.startswith(node.path)}
        mine = [c for c in checks if c.grid_id in subtree]
        row = {name: sum(getattr(c, name) for c in mine) for name in METRIC_NAMES}
        row["households_total"] = sum(1 for _, grid_id in households if grid_id in subtree)
        # Distinct households per grid, summed (a household is in one grid).
        row["households_checked"] = len({(c.grid_id, c.household_id) for c in mine})
        row["leaves_expected"] = len(subtree & leaves)
        row["leaves_reported"] = len(
            {g for g in subtree & leaves if g in zero or any(c.grid_id == g for c in mine)}
        )
        result[node.code] = row
    return result


def stored_stats(day: datetime.date) -> dict[str, dict[str, int]]:
    return {
        row["node__code"]: {f: row[f] for f in FIELDS}
        for row in DailyStat.objects.filter(day=day).values("node__code", *FIELDS)
    }


def assert_rollup_correct(day: datetime.date) -> None:
    expected = expected_stats(day)
    stored = stored_stats(day)
    wrong = {
        code: (stored.get(code), row) for code, row in expected.items() if stored.get(code) != row
    }
    assert not wrong, f"stored != expected for {len(wrong)} nodes: {list(wrong.items())[:3]}"
    assert set(stored) == set(expected)


# --- writing raw rows the way the services do (the contract: the row and its change in the
# ledger in one transaction); the property test uses these too --------------------------------


def write_check(household, day, *, worker, counts=None, grid=None, check_uuid=None) -> Check:
    with transaction.atomic():
        row = {
            "uuid": check_uuid or uuid.uuid4(),
            "household_id": household.id,
            "grid_id": (grid or household.grid).id,
            "worker_id": worker.id,
            "checked_on": day,
            "checked_at": timezone.now(),
            "voided_at": None,
            **{name: (counts or {}).get(name, 0) for name in METRIC_NAMES},
        }
        ledger.prepare_created([row])
        check = Check.objects.create(**row)
        ledger.record_created([row])
    return check


def correct_check(check: Check, counts: dict) -> None:
    with transaction.atomic():
        stored = Check.objects.select_for_update().get(pk=check.pk)
        if stored.voided_at is not None:  # the service refuses to correct a voided check
            return
        before = ledger.metrics(stored)
        Check.objects.filter(pk=check.pk).update(**counts)
        ledger.record_corrected(Check.objects.get(pk=check.pk), before=before)


def void_check(check: Check) -> None:
    with transaction.atomic():
        stored = Check.objects.select_for_update().get(pk=check.pk)
        if stored.voided_at is not None:
            return
        stored.voided_at = timezone.now()
        stored.void_reason = "x"
        stored.save(update_fields=["voided_at", "void_reason"])
        ledger.record_voided(stored)


def file_zero_report(grid, day, *, reporter) -> None:
    with transaction.atomic():
        ZeroReport.objects.create(grid=grid, reported_on=day, reporter=reporter)
        ledger.record_zero_report(grid_id=grid.id, day=day)


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def day():
    return timezone.localdate()


@pytest.fixture
def worker(db):
    return make_user(roles=["grid_worker"], username="rollup_worker")


@pytest.fixture
def homes(tree):
    """Households: three in h11, two in h12, one in h21, two in nh1, one in the hospital."""
    return {
        "h11": [make_household(tree.h11) for _ in range(3)],
        "h12": [make_household(tree.h12) for _ in range(2)],
        "h21": [make_household(tree.h21)],
        "nh1": [make_household(tree.nh1) for _ in range(2)],
        "hospital": [make_household(tree.hospital)],
    }


def counts(**kw):
    return {name: kw.get(name, 0) for name in METRIC_NAMES}


# --- full recompute ----------------------------------------------------------------------------


def test_full_recompute_builds_every_node_from_the_raw_rows(tree, homes, worker, day):
    write_check(homes["h11"][0], day, worker=worker, counts=counts(persons_present=3, fever=1))
    write_check(
        homes["h11"][0], day, worker=worker, counts=counts(persons_present=2)
    )  # same household again
    write_check(homes["h11"][1], day, worker=worker, counts=counts(persons_present=4, returnees=2))
    voided = write_check(homes["h21"][0], day, worker=worker, counts=counts(persons_present=9))
    void_check(voided)
    write_check(homes["hospital"][0], day, worker=worker, counts=counts(persons_present=1))
    file_zero_report(tree.nh1, day, reporter=worker)
    write_check(
        homes["nh1"][0], day - datetime.timedelta(days=1), worker=worker, counts=counts(fever=5)
    )

    result = rollup.full_recompute(day)

    assert result.nodes == GridNode.objects.count() == 13
    assert result.inserted == 13 and result.updated == 0 and result.differences == []
    assert_rollup_correct(day)
    debao = DailyStat.objects.get(node=tree.debao, day=day)
    assert debao.persons_present == 3 + 2 + 4 + 1
    assert debao.fever == 1 and debao.returnees == 2
    assert debao.households_total == 7 and debao.households_checked == 3
    assert (debao.leaves_expected, debao.leaves_reported) == (4, 2)  # h11, hospital
    baise = DailyStat.objects.get(node=tree.baise, day=day)
    assert (baise.leaves_expected, baise.leaves_reported) == (5, 3)  # + nh1's zero report
    assert baise.fever == 1  # yesterday's check is not today's
    # The day's queue is consumed; yesterday's is not.
    assert list(RollupDelta.objects.values_list("day", flat=True)) == [
        day - datetime.timedelta(days=1)
    ]


def test_full_recompute_again_writes_nothing_and_reports_no_difference(tree, homes, worker, day):
    write_check(homes["h12"][0], day, worker=worker, counts=counts(persons_present=2))
    rollup.full_recompute(day)
    stamps = dict(DailyStat.objects.values_list("node_id", "updated_at"))

    result = rollup.full_recompute(day)

    assert (result.inserted, result.updated, result.differences) == (0, 0, [])
    assert dict(DailyStat.objects.values_list("node_id", "updated_at")) == stamps


def test_full_recompute_repairs_a_wrong_row_and_reports_it(tree, homes, worker, day):
    write_check(homes["h12"][0], day, worker=worker, counts=counts(persons_present=2))
    rollup.full_recompute(day)
    DailyStat.objects.filter(node=tree.v1, day=day).update(persons_present=99)

    result = rollup.full_recompute(day)

    assert result.updated == 1
    (difference,) = result.differences
    assert difference.code == tree.v1.code
    assert (
        difference.stored["persons_present"] == 99 and difference.computed["persons_present"] == 2
    )
    assert_rollup_correct(day)


def test_a_day_without_data_still_has_a_row_per_node(tree, homes, day):
    rollup.full_recompute(day)
    assert_rollup_correct(day)
    city = DailyStat.objects.get(node=tree.baise, day=day)
    assert (city.households_total, city.leaves_expected, city.leaves_reported) == (9, 5, 0)


# --- incremental ---------------------------------------------------------------------------


def test_first_change_of_a_day_builds_the_day_then_changes_fold_in(tree, homes, worker, day):
    check = write_check(homes["h11"][0], day, worker=worker, counts=counts(persons_present=3))
    result = rollup.run_incremental()
    assert result.full_days == [day] and result.deltas_consumed == 1
    assert_rollup_correct(day)

    write_check(homes["h21"][0], day, worker=worker, counts=counts(persons_present=1, fever=1))
    correct_check(check, counts(persons_present=5, returnees=1))
    result = rollup.run_incremental()

    assert result.full_days == [] and result.deltas_consumed == 2 and result.grids == 2
    assert_rollup_correct(day)
    assert DailyStat.objects.get(node=tree.baise, day=day).persons_present == 6

    void_check(check)
    rollup.run_incremental()
    assert_rollup_correct(day)
    assert DailyStat.objects.get(node=tree.h11, day=day).leaves_reported == 0
    assert not RollupDelta.objects.exists()


def test_incremental_rerun_changes_nothing(tree, homes, worker, day):
    write_check(homes["h11"][0], day, worker=worker, counts=counts(persons_present=3))
    rollup.run_incremental()
    write_check(homes["h12"][0], day, worker=worker, counts=counts(persons_present=1))
    rollup.run_incremental()
    stamps = dict(DailyStat.objects.values_list("node_id", "updated_at"))
    # Changes that change nothing (a zero report's row, say) touch no row.
    RollupDelta.objects.bulk_create(
        [RollupDelta(grid=tree.h11, day=day), RollupDelta(grid=tree.h12, day=day)]
    )

    result = rollup.run_incremental()

    assert result.deltas_consumed == 2 and result.rows_updated == 0
    assert dict(DailyStat.objects.values_list("node_id", "updated_at")) == stamps
    assert_rollup_correct(day)
    assert rollup.run_incremental().deltas_consumed == 0


def test_a_crash_inside_the_incremental_transaction_changes_nothing(
    tree, homes, worker, day, monkeypatch
):
    write_check(homes["h11"][0], day, worker=worker, counts=counts(persons_present=3))
    rollup.run_incremental()
    before = stored_stats(day)
    write_check(homes["h12"][0], day, worker=worker, counts=counts(persons_present=2))
    write_check(homes["nh1"][0], day, worker=worker, counts=counts(fever=1, persons_present=1))
    dirty_before = set(RollupDelta.objects.values_list("id", flat=True))
    original = rollup._fold_day

    def crash_after_writing(*args):
        original(*args)  # the rows are written ...
        raise RuntimeError("worker killed")  # ... and the process dies before the commit

    monkeypatch.setattr(rollup, "_fold_day", crash_after_writing)
    with pytest.raises(RuntimeError):
        rollup.run_incremental()

    assert stored_stats(day) == before
    assert set(RollupDelta.objects.values_list("id", flat=True)) == dirty_before
    monkeypatch.setattr(rollup, "_fold_day", original)
    rollup.run_incremental()
    assert_rollup_correct(day)
    assert not RollupDelta.objects.exists()


def test_a_late_commit_with_an_older_queue_row_is_not_skipped(tree, homes, worker, day):
    write_check(homes["h11"][0], day, worker=worker, counts=counts(persons_present=3))
    write_check(homes["h12"][0], day, worker=worker, counts=counts(persons_present=1))
    rollup.run_incremental()
    # A transaction that began before that run commits only now: its queue row has a lower
    # id and an older timestamp than rows the run already consumed.
    with transaction.atomic():
        write_check(homes["h21"][0], day, worker=worker, counts=counts(persons_present=7))
        RollupDelta.objects.filter(grid=tree.h21).update(
            id=-1, created_at=timezone.now() - datetime.timedelta(hours=1)
        )

    rollup.run_incremental()

    assert_rollup_correct(day)
    assert DailyStat.objects.get(node=tree.baise, day=day).persons_present == 11


def test_a_grid_created_after_the_day_was_built_rebuilds_the_day(tree, homes, worker, day):
    write_check(homes["h11"][0], day, worker=worker, counts=counts(persons_present=3))
    rollup.run_incremental()
    h13 = make_grid("451024100001003", "新屯", level=Level.HAMLET, parent=tree.v1)
    write_check(make_household(h13), day, worker=worker, counts=counts(persons_present=2))

    result = rollup.run_incremental()

    assert result.full_days == [day]
    assert_rollup_correct(day)
    assert DailyStat.objects.get(node=tree.v1, day=day).leaves_expected == 3


def test_checks_on_a_hamlet_that_has_a_unit_grid_below_it(tree, homes, worker, day):
    """A hamlet with a unit grid under it is no leaf, yet holds households and checks: its
    own numbers are its row minus its children's."""
    clinic = make_grid(
        "H11-CLINIC",
        "卫生室",
        level=Level.HAMLET,
        parent=tree.h11,
        category=Category.UNIT,
        kind=Kind.DEDICATED,
    )
    write_check(make_household(clinic), day, worker=worker, counts=counts(persons_present=1))
    rollup.run_incremental()
    write_check(homes["h11"][0], day, worker=worker, counts=counts(persons_present=3, fever=1))
    write_check(homes["h11"][1], day, worker=worker, counts=counts(persons_present=2))
    rollup.run_incremental()
    assert_rollup_correct(day)
    h11 = DailyStat.objects.get(node=tree.h11, day=day)
    assert (
        h11.persons_present,
        h11.households_checked,
        h11.leaves_expected,
        h11.leaves_reported,
    ) == (6, 3, 1, 1)


def test_several_days_in_one_batch(tree, homes, worker, day):
    yesterday = day - datetime.timedelta(days=1)
    rollup.full_recompute(yesterday)
    write_check(homes["h11"][0], yesterday, worker=worker, counts=counts(persons_present=3))
    write_check(homes["h11"][0], day, worker=worker, counts=counts(persons_present=4))
    result = rollup.run_incremental()
    assert result.full_days == [day] and result.batches == 1
    assert_rollup_correct(day)
    assert_rollup_correct(yesterday)


def test_a_long_queue_is_drained_in_bounded_batches(tree, homes, worker, day, monkeypatch):
    monkeypatch.setattr(rollup, "INCREMENTAL_BATCH_SIZE", 2)
    rollup.full_recompute(day)
    for household in homes["h11"] + homes["h12"]:
        write_check(household, day, worker=worker, counts=counts(persons_present=1))
    result = rollup.run_incremental()
    assert (result.batches, result.deltas_consumed) == (3, 5)
    assert_rollup_correct(day)


def test_incremental_query_count_does_not_grow_with_the_checks(
    tree, homes, worker, day, django_assert_num_queries
):
    rollup.full_recompute(day)
    write_check(homes["h11"][0], day, worker=worker, counts=counts(persons_present=1))
    # The queue's ids, their summed changes, the fold, the delete of the queue rows; the
    # fold is one statement on PostgreSQL and four elsewhere (the grids with their paths,
    # their rows, the ancestors' ids, one update). The batch's and the day's savepoints
    # with their releases (4). On PostgreSQL also jit off, the advisory lock and its release.
    fold = 1 if connection.vendor == "postgresql" else 4
    lock = 3 if connection.vendor == "postgresql" else 0
    with django_assert_num_queries(3 + fold + 4 + lock):
        rollup.run_incremental()
    for leaf in ("h11", "h12", "h21", "nh1", "hospital"):
        for household in homes[leaf]:
            write_check(household, day, worker=worker, counts=counts(persons_present=1))
    with django_assert_num_queries(3 + fold + 4 + lock):
        rollup.run_incremental()
    assert_rollup_correct(day)


# --- through the check services, in the embedded default ---------------------------------------


@pytest.fixture
def eager(settings, monkeypatch):
    """The embedded default, whatever this run's settings: tasks run in-process."""
    from gridcmd.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", True)


def test_embedded_default_rolls_up_after_each_service_commit(
    tree, homes, superuser, eager, django_capture_on_commit_callbacks, day
):
    services = pytest.importorskip("screening.services")
    with django_capture_on_commit_callbacks(execute=True):
        check, created = services.check_submit(
            user=superuser,
            household=homes["h11"][0],
            uuid=uuid.uuid4(),
            counts=counts(persons_present=3),
        )
    assert created
    assert DailyStat.objects.get(node=tree.baise, day=day).persons_present == 3

    with django_capture_on_commit_callbacks(execute=True):
        services.check_submit(  # the same submission again: stored once
            user=superuser,
            household=homes["h11"][0],
            uuid=check.uuid,
            counts=counts(persons_present=3),
        )
        services.check_correct(
            user=superuser, check=check, counts=counts(persons_present=4, fever=1)
        )
    assert DailyStat.objects.get(node=tree.baise, day=day).persons_present == 4

    with django_capture_on_commit_callbacks(execute=True):
        services.zero_report_file(user=superuser, grid=tree.nh1)
        services.check_void(user=superuser, check=check, reason="wrong household")
    assert_rollup_correct(day)
    baise = DailyStat.objects.get(node=tree.baise, day=day)
    assert (baise.persons_present, baise.fever, baise.leaves_reported) == (0, 0, 1)
    assert not RollupDelta.objects.exists()


def test_a_rolled_back_write_leaves_no_queue_row_and_no_rollup(
    tree, homes, worker, eager, django_capture_on_commit_callbacks, day
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            write_check(homes["h11"][0], day, worker=worker, counts=counts(persons_present=3))
            raise RuntimeError("request failed")
    assert callbacks == []
    assert not RollupDelta.objects.exists() and not DailyStat.objects.exists()


# --- tasks, schedule and the management command ---------------------------------------------


def test_beat_schedule_runs_the_three_tasks():
    from gridcmd.celery import app

    schedule = django_settings.CELERY_BEAT_SCHEDULE
    tasks_by_name = {entry["task"]: entry for entry in schedule.values()}
    assert set(tasks_by_name) >= {
        "screening.tasks.rollup_incremental",
        "screening.tasks.rollup_full",
        "screening.tasks.rollup_crosscheck_today",
    }
    assert tasks_by_name["screening.tasks.rollup_incremental"]["schedule"] == 30.0
    nightly = tasks_by_name["screening.tasks.rollup_full"]["schedule"]
    assert nightly.hour == {1} and nightly.minute == {0}
    assert tasks_by_name["screening.tasks.rollup_crosscheck_today"]["schedule"].hour == set(
        range(24)
    )
    app.loader.import_default_modules()
    assert set(tasks_by_name) <= set(app.tasks)


def test_rollup_full_task_defaults_to_yesterday(tree, homes, worker, day):
    yesterday = day - datetime.timedelta(days=1)
    write_check(homes["h11"][0], yesterday, worker=worker, counts=counts(persons_present=3))
    result = tasks.rollup_full.apply().get()
    assert result["day"] == yesterday.isoformat() and result["inserted"] == 13
    assert_rollup_correct(yesterday)
    assert tasks.rollup_full.apply(args=[day.isoformat()]).get()["day"] == day.isoformat()


def test_crosscheck_logs_and_repairs_a_difference(tree, homes, worker, day, caplog):
    write_check(homes["h11"][0], day, worker=worker, counts=counts(persons_present=3))
    tasks.rollup_incremental.apply()
    assert tasks.rollup_crosscheck_today.apply().get()["differences"] == 0
    DailyStat.objects.filter(node=tree.dongling, day=day).update(fever=7)

    with caplog.at_level("WARNING", logger="screening.tasks"):
        result = tasks.rollup_crosscheck_today.apply().get()

    assert result["differences"] == 1
    assert "1 of 13 nodes differed" in caplog.text
    assert tree.dongling.code in caplog.text and "'fever': (7, 0)" in caplog.text
    assert_rollup_correct(day)


def test_crosscheck_picks_up_households_added_since_the_day_was_built(tree, homes, worker, day):
    write_check(homes["h11"][0], day, worker=worker, counts=counts(persons_present=3))
    rollup.run_incremental()
    make_household(tree.h21)
    result = tasks.rollup_crosscheck_today.apply().get()
    assert result["differences"] == 5  # h21, v2, dongling, debao, baise
    assert_rollup_correct(day)


def test_rollup_command_full_and_incremental(tree, homes, worker, day, capsys):
    write_check(homes["h11"][0], day, worker=worker, counts=counts(persons_present=3))
    call_command("rollup", "--date", day.isoformat(), "--incremental")
    assert "1 queued change" in capsys.readouterr().out
    assert_rollup_correct(day)
    DailyStat.objects.filter(node=tree.baise, day=day).update(persons_present=0)

    call_command("rollup", "--date", day.isoformat())

    out = capsys.readouterr().out
    assert f"{day.isoformat()}: 13 nodes, 0 inserted, 1 updated" in out
    assert tree.baise.code in out
    assert_rollup_correct(day)


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", ""])
def test_rollup_command_rejects_a_bad_date(db, bad):
    with pytest.raises(CommandError):
        call_command("rollup", "--date", bad)
    assert not DailyStat.objects.exists()


# --- concurrency (PostgreSQL: real transactions on two connections) -----------------------------

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row and advisory locks need PostgreSQL"
)


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_second_run_yields_while_one_holds_the_lock(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # only this test's runs fold the queue
    tree_ = Tree()
    worker = make_user(roles=["grid_worker"])
    day = timezone.localdate()
    write_check(make_household(tree_.h11), day, worker=worker, counts=counts(persons_present=2))
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock():
        try:
            with rollup._rollup_lock(wait=True):
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert holding.wait(10)
    try:
        result = rollup.run_incremental(wait=False)
        assert result.yielded and result.deltas_consumed == 0
        assert RollupDelta.objects.count() == 1
    finally:
        release.set()
        holder.join(10)
    assert rollup.run_incremental(wait=False).deltas_consumed == 1
    assert_rollup_correct(day)


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_and_writes_never_double_count(settings):
    """Three writers (each write then runs the rollup, as the embedded default does after
    each commit) and three more rollup loops, all at once. (The runs are called directly:
    Celery's eager mode keeps a process-wide flag that threads would race on.)"""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    tree_ = Tree()
    worker = make_user(roles=["grid_worker"])
    day = timezone.localdate()
    leaves = [tree_.h11, tree_.h12, tree_.h21, tree_.nh1, tree_.hospital]
    homes_ = [make_household(leaf) for leaf in leaves for _ in range(2)]
    rollup.full_recompute(day)
    errors = []

    def writer(offset):
        try:
            for i in range(12):
                write_check(
                    homes_[(offset + i) % len(homes_)],
                    day,
                    worker=worker,
                    counts=counts(persons_present=1),
                )
                rollup.run_incremental(wait=True)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    def roller():
        try:
            for _ in range(8):
                rollup.run_incremental(wait=True)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    threads += [threading.Thread(target=roller) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    rollup.run_incremental(wait=True)
    assert not RollupDelta.objects.exists()
    assert_rollup_correct(day)
    assert DailyStat.objects.get(node=tree_.baise, day=day).persons_present == 36
