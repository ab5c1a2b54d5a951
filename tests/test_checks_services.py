"""Checks through screening.services and the write rule of screening.selectors.worker_grids:
idempotent submission ids, who may write where, corrections and voids with their audit,
zero reports, and every refused write leaving the database as it was."""

import datetime
import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from personnel.services import assignment_end
from screening.metrics import METRIC_NAMES
from screening.models import Check, CheckRevision, RollupDelta, ZeroReport
from screening.selectors import households_with_status, local_today, worker_grids
from screening.services import (
    MAX_AGE_DAYS,
    MAX_COUNT,
    CheckInput,
    check_correct,
    check_submit,
    check_submit_batch,
    check_void,
    count_problems,
    snapshot,
    zero_report_file,
)
from tests.factories import make_household, make_user
from tests.personnel_factories import assign, make_person

COUNTS = {
    "persons_present": 4,
    "returnees": 2,
    "returnees_risk_area": 1,
    "yellow_codes": 1,
    "red_codes": 0,
    "fever": 0,
    "samples_taken": 3,
}


def make_worker(grid, *, username=None, role="part_time_worker", jurisdiction=None, **kw):
    """A grid-worker account whose Person holds `role` on `grid` (from 2022-02-01, open)."""
    user = make_user(roles=["grid_worker"], jurisdiction=jurisdiction or grid, username=username)
    person = make_person(grid=grid, user=user)
    assign(person, grid, role, **kw)
    return user


def state():
    """Everything a check write may touch, to assert that a refused write changed nothing."""
    return (
        sorted(Check.objects.values_list("uuid", "voided_at", *METRIC_NAMES, "note", "method")),
        CheckRevision.objects.count(),
        ZeroReport.objects.count(),
        RollupDelta.objects.count(),
    )


@pytest.fixture
def homes(tree):
    """Three households in 那温屯 (h11), one in 弄立屯 (h12), one in 百都屯 (napo, nh1)."""
    return {
        "a": make_household(tree.h11, code="HH-A", size=4),
        "b": make_household(tree.h11, code="HH-B"),
        "c": make_household(tree.h11, code="HH-C"),
        "d": make_household(tree.h12, code="HH-D"),
        "n": make_household(tree.nh1, code="HH-N"),
    }


@pytest.fixture
def worker(tree):
    return make_worker(tree.h11, username="worker_h11", jurisdiction=tree.v1)


# --- worker_grids: the one rule --------------------------------------------------------------


def test_worker_grids_is_the_assigned_subtree_while_active(tree):
    village_worker = make_worker(tree.v1, username="v1_worker")
    codes = set(worker_grids(village_worker).values_list("code", flat=True))
    assert codes == {tree.v1.code, tree.h11.code, tree.h12.code}

    hamlet_worker = make_worker(tree.h11, username="h11_worker", start=datetime.date(2022, 2, 1))
    assert list(worker_grids(hamlet_worker).values_list("code", flat=True)) == [tree.h11.code]
    # Before the assignment started, and after it ended, nothing.
    assert not worker_grids(hamlet_worker, on=datetime.date(2022, 1, 31)).exists()
    assignment = hamlet_worker.person.assignments.get()
    assignment_end(assignment=assignment, end_date=datetime.date(2022, 3, 1))
    assert worker_grids(hamlet_worker, on=datetime.date(2022, 3, 1)).exists()
    assert not worker_grids(hamlet_worker, on=datetime.date(2022, 3, 2)).exists()


def test_worker_grids_nobody_else(tree, county_commander, superuser):
    # A commander sees the county but holds no assignment: may not write checks.
    assert not worker_grids(county_commander).exists()
    # A user with a Person but no assignment, likewise.
    loner = make_user(roles=["grid_worker"], jurisdiction=tree.h11, username="loner")
    make_person(grid=tree.h11, user=loner)
    assert not worker_grids(loner).exists()
    # A superuser anywhere.
    assert worker_grids(superuser).count() == 13


# --- Submitting ------------------------------------------------------------------------------


def test_submit_stores_a_check_with_its_revision_and_queued_change(homes, worker, tree):
    key = uuid.uuid4()
    check, created = check_submit(user=worker, household=homes["a"], uuid=key, counts=COUNTS)
    assert created
    assert check.uuid == key
    assert check.grid == tree.h11 and check.worker == worker
    assert check.method == "visit"
    assert check.checked_on == local_today() == timezone.localdate(check.checked_at)
    assert {name: getattr(check, name) for name in METRIC_NAMES} == COUNTS
    # The row is its own creation record: who made it, when, with what.
    stored = Check.objects.get(uuid=key)
    assert stored.worker == worker and stored.created_at is not None
    assert snapshot(stored) == snapshot(check)
    assert not CheckRevision.objects.exists()
    assert list(RollupDelta.objects.values_list("grid_id", "day")) == [(tree.h11.pk, local_today())]


def test_checked_on_is_the_shanghai_date(homes, worker):
    # 17:30 UTC on a day is 01:30 the next day in Asia/Shanghai.
    yesterday = local_today() - datetime.timedelta(days=1)
    moment = datetime.datetime.combine(
        yesterday - datetime.timedelta(days=1), datetime.time(17, 30), tzinfo=datetime.UTC
    )
    check, _ = check_submit(user=worker, household=homes["a"], uuid=uuid.uuid4(), checked_at=moment)
    assert check.checked_on == yesterday


def test_same_uuid_is_stored_once_even_with_another_payload(homes, worker):
    key = uuid.uuid4()
    first, created = check_submit(user=worker, household=homes["a"], uuid=key, counts=COUNTS)
    before = state()
    again, created_again = check_submit(
        user=worker, household=homes["b"], uuid=key, counts={"persons_present": 1}, note="x"
    )
    assert created and not created_again
    assert again.pk == first.pk and again.household == homes["a"] and again.note == ""
    assert state() == before


def test_someone_elses_uuid_is_refused(homes, worker, tree):
    key = uuid.uuid4()
    check_submit(user=worker, household=homes["a"], uuid=key)
    colleague = make_worker(tree.h11, username="colleague")
    before = state()
    with pytest.raises(ValidationError) as error:
        check_submit(user=colleague, household=homes["a"], uuid=key)
    assert "uuid" in error.value.message_dict
    assert state() == before


def test_not_assigned_is_refused_and_nothing_written(homes, worker, tree, county_commander):
    before = state()
    # A household of the same village, but another hamlet: visible, not assigned.
    with pytest.raises(ValidationError) as error:
        check_submit(user=worker, household=homes["d"], uuid=uuid.uuid4())
    assert "not assigned" in error.value.message_dict["household"][0]
    # Outside the jurisdiction: as if it did not exist.
    with pytest.raises(ValidationError) as error:
        check_submit(user=worker, household=homes["n"], uuid=uuid.uuid4())
    assert "No household" in error.value.message_dict["household"][0]
    # A commander holds no assignment.
    with pytest.raises(ValidationError):
        check_submit(user=county_commander, household=homes["a"], uuid=uuid.uuid4())
    assert state() == before


def test_count_rules():
    assert count_problems(COUNTS) == []
    assert count_problems({}) == []
    fields = {
        p.field
        for p in count_problems({"returnees": 1, "returnees_risk_area": 2, "persons_present": 5})
    }
    assert fields == {"returnees_risk_area"}
    fields = {p.field for p in count_problems({"persons_present": 1, "returnees": 2})}
    assert fields == {"returnees"}
    fields = {
        p.field for p in count_problems({"persons_present": 1, "yellow_codes": 1, "red_codes": 1})
    }
    assert fields == {"red_codes"}
    fields = {p.field for p in count_problems({"persons_present": MAX_COUNT + 1, "fever": -1})}
    assert fields == {"persons_present", "fever"}
    assert {p.field for p in count_problems({"fevers": 1})} == {"fevers"}
    assert {p.field for p in count_problems({"fever": True})} == {"fever"}
    assert {p.field for p in count_problems({"fever": 1.5})} == {"fever"}


def test_bad_checks_write_nothing(homes, worker):
    before = state()
    now = timezone.now()
    bad = [
        {"counts": {"persons_present": 1, "fever": 2}},
        {"counts": {"persons_present": 101}},
        {"method": "carrier pigeon"},
        {"note": "x" * 501},
        {"checked_at": now + datetime.timedelta(hours=1)},
        {"checked_at": now - datetime.timedelta(days=MAX_AGE_DAYS + 1)},
    ]
    for kwargs in bad:
        with pytest.raises(ValidationError):
            check_submit(user=worker, household=homes["a"], uuid=uuid.uuid4(), **kwargs)
    assert state() == before


def test_batch_reports_each_item_and_stores_the_good_ones(homes, worker):
    known = uuid.uuid4()
    check_submit(user=worker, household=homes["a"], uuid=known)
    dup = uuid.uuid4()
    items = [
        CheckInput(uuid=uuid.uuid4(), household_code="HH-B", counts={"persons_present": 2}),
        CheckInput(uuid=known, household_code="HH-A"),
        CheckInput(uuid=uuid.uuid4(), household_code="HH-C", counts={"fever": 3}),
        CheckInput(uuid=uuid.uuid4(), household_code="HH-D"),
        CheckInput(uuid=uuid.uuid4(), household_code="NOPE"),
        CheckInput(uuid=dup, household_code="HH-C"),
        CheckInput(uuid=dup, household_code="HH-C"),
    ]
    results = check_submit_batch(user=worker, items=items)
    assert [r.status for r in results] == [
        "created",
        "exists",
        "error",
        "error",
        "error",
        "created",
        "exists",
    ]
    assert set(results[2].errors) == {"fever"}
    assert set(results[3].errors) == {"household"}
    assert results[6].check_id == results[5].check_id
    assert Check.objects.count() == 3
    assert not CheckRevision.objects.exists()


def test_a_resent_check_in_a_clean_batch_is_answered_as_stored(homes, worker, tree):
    """No item has errors, so on PostgreSQL the first attempt looks no uuid up: its insert
    finds the known one, and it starts again. Either way the known check is answered as
    stored, nothing is stored twice, and only the new checks are queued for the rollup."""
    known = uuid.uuid4()
    stored, _ = check_submit(user=worker, household=homes["a"], uuid=known, counts=COUNTS)
    RollupDelta.objects.all().delete()
    items = [
        CheckInput(uuid=uuid.uuid4(), household_code="HH-A", counts={"persons_present": 1}),
        CheckInput(uuid=known, household_code="HH-A", counts={"persons_present": 9}),
        CheckInput(uuid=uuid.uuid4(), household_code="HH-B", counts={"persons_present": 2}),
        CheckInput(uuid=uuid.uuid4(), household_code="HH-A"),  # a second, empty check
    ]
    results = check_submit_batch(user=worker, items=items)
    assert [r.status for r in results] == ["created", "exists", "created", "created"]
    assert results[1].check_id == stored.pk
    assert Check.objects.get(uuid=known).persons_present == COUNTS["persons_present"]
    assert Check.objects.count() == 4
    assert not CheckRevision.objects.exists()
    # One queued row for h11: HH-A was counted already, HH-B is new.
    (delta,) = RollupDelta.objects.all()
    assert (delta.grid_id, delta.persons_present, delta.households_checked) == (tree.h11.pk, 3, 1)
    # Resent with a household that no longer matches: still the stored check.
    (result,) = check_submit_batch(user=worker, items=[CheckInput(uuid=known, household_code="X")])
    assert (result.status, result.check_id) == ("exists", stored.pk)


def test_a_batch_that_changes_no_number_queues_nothing(homes, worker):
    check_submit(user=worker, household=homes["a"], uuid=uuid.uuid4(), counts=COUNTS)
    RollupDelta.objects.all().delete()
    results = check_submit_batch(
        user=worker, items=[CheckInput(uuid=uuid.uuid4(), household_code="HH-A")]
    )
    assert results[0].status == "created"
    assert not RollupDelta.objects.exists()


# --- Corrections -----------------------------------------------------------------------------


def test_author_corrects_on_the_same_day_with_a_revision(homes, worker, tree):
    check, _ = check_submit(user=worker, household=homes["a"], uuid=uuid.uuid4(), counts=COUNTS)
    RollupDelta.objects.all().delete()
    corrected = check_correct(user=worker, check=check, counts={"fever": 1}, note="38.2°C")
    assert corrected.fever == 1 and corrected.note == "38.2°C" and corrected.returnees == 2
    revision = CheckRevision.objects.get(action="correct")
    assert revision.before["fever"] == 0 and revision.after["fever"] == 1
    assert revision.before["note"] == "" and revision.after["note"] == "38.2°C"
    assert RollupDelta.objects.count() == 1
    # A correction that changes nothing records nothing.
    check_correct(user=worker, check=corrected, counts={"fever": 1})
    assert CheckRevision.objects.filter(action="correct").count() == 1


def test_corrections_refused(homes, worker, tree, county_commander):
    check, _ = check_submit(user=worker, household=homes["a"], uuid=uuid.uuid4(), counts=COUNTS)
    old, _ = check_submit(
        user=worker,
        household=homes["b"],
        uuid=uuid.uuid4(),
        checked_at=timezone.now() - datetime.timedelta(days=1),
    )
    before = state()
    with pytest.raises(PermissionDenied):
        check_correct(user=county_commander, check=check, counts={"fever": 1})
    with pytest.raises(ValidationError) as error:
        check_correct(user=worker, check=old, counts={"persons_present": 1})
    assert "checked_on" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        check_correct(user=worker, check=check, counts={"returnees_risk_area": 3})
    assert "returnees_risk_area" in error.value.message_dict
    assert state() == before


# --- Voids -----------------------------------------------------------------------------------


def test_void_keeps_the_check_and_leaves_the_totals(homes, worker):
    check, _ = check_submit(user=worker, household=homes["a"], uuid=uuid.uuid4(), counts=COUNTS)
    other, _ = check_submit(user=worker, household=homes["b"], uuid=uuid.uuid4(), counts=COUNTS)
    voided, changed = check_void(user=worker, check=check, reason="entered twice")
    assert changed and voided.voided_at is not None and voided.void_reason == "entered twice"
    assert Check.objects.count() == 2
    assert list(Check.objects.counted()) == [other]
    revision = CheckRevision.objects.get(action="void")
    assert revision.before["voided_at"] is None and revision.after["void_reason"] == "entered twice"
    # The household is no longer checked today.
    statuses = {
        h.code: h.checked for h in households_with_status(user=worker, grid=homes["a"].grid)
    }
    assert statuses == {"HH-A": False, "HH-B": True, "HH-C": False}
    # Voiding again changes nothing; a voided check cannot be corrected.
    assert check_void(user=worker, check=check, reason="again") == (voided, False)
    assert CheckRevision.objects.filter(action="void").count() == 1
    with pytest.raises(ValidationError):
        check_correct(user=worker, check=check, counts={"fever": 1})


def test_who_may_void(homes, worker, tree, county_commander):
    old, _ = check_submit(
        user=worker,
        household=homes["a"],
        uuid=uuid.uuid4(),
        checked_at=timezone.now() - datetime.timedelta(days=2),
    )
    napo_commander = make_user(roles=["commander"], jurisdiction=tree.napo, username="napo_cmd")
    colleague = make_worker(tree.h11, username="colleague")
    before = state()
    for user in (worker, napo_commander, colleague):  # author on a later day; outside; peer
        with pytest.raises(PermissionDenied):
            check_void(user=user, check=old, reason="wrong")
    with pytest.raises(ValidationError):
        check_void(user=county_commander, check=old, reason="  ")
    assert state() == before
    voided, changed = check_void(user=county_commander, check=old, reason="duplicate household")
    assert changed and CheckRevision.objects.get(action="void").actor == county_commander


# --- Zero reports ----------------------------------------------------------------------------


def test_zero_report_is_idempotent_per_grid_and_day(worker, tree):
    report, created = zero_report_file(user=worker, grid=tree.h11)
    again, created_again = zero_report_file(user=worker, grid=tree.h11, note="still nothing")
    assert created and not created_again and again.pk == report.pk
    assert report.reported_on == local_today()
    yesterday = local_today() - datetime.timedelta(days=1)
    _, created = zero_report_file(user=worker, grid=tree.h11, day=yesterday)
    assert created and ZeroReport.objects.count() == 2
    assert set(RollupDelta.objects.values_list("grid_id", "day")) == {
        (tree.h11.pk, local_today()),
        (tree.h11.pk, yesterday),
    }


def test_zero_report_refused(worker, tree):
    village_worker = make_worker(tree.v1, username="v1_worker")
    before = state()
    with pytest.raises(PermissionDenied):
        zero_report_file(user=worker, grid=tree.h12)  # not assigned
    with pytest.raises(ValidationError):
        zero_report_file(user=village_worker, grid=tree.v1)  # not a leaf
    with pytest.raises(ValidationError):
        zero_report_file(user=worker, grid=tree.h11, day=local_today() + datetime.timedelta(days=1))
    assert state() == before
