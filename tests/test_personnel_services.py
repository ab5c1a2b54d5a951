"""personnel.services: people matched and normalised, organisations found up the tree,
and every assignment rule enforced against what is stored, under a row lock."""

import datetime
import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from personnel import selectors
from personnel.models import Assignment, Organisation, Person, PoliticalStatus
from personnel.rules import AssignmentFacts
from personnel.services import (
    assignment_end,
    assignment_move,
    assignment_update,
    organisation_create,
    organisation_get_or_create,
    person_update,
    person_upsert,
)
from tests.factories import make_user
from tests.personnel_factories import (
    START,
    assign,
    make_person,
    role,
    valid_id_number,
    valid_mobile,
)

pytestmark = pytest.mark.django_db
D = datetime.date


def errors(excinfo) -> dict:
    return excinfo.value.message_dict


# --- People -------------------------------------------------------------------------------------


def test_person_upsert_normalises_and_creates(tree):
    id_number = valid_id_number(1)
    person, created = person_upsert(
        name=" 黄明 ",
        mobile="+86 139-0000-0001",
        id_number=id_number.lower(),
        registered_grid=tree.v1,
    )
    assert created
    person.refresh_from_db()
    assert (person.name, person.mobile, person.id_number) == (
        "黄明",
        "13900000001",
        id_number.upper(),
    )
    assert person.political_status == PoliticalStatus.MASSES
    assert person.registered_grid == tree.v1


@pytest.mark.parametrize(
    ("mobile", "id_number", "field"),
    [
        ("12345678901", None, "mobile"),  # 12x is not a mobile prefix
        ("1390000001", None, "mobile"),  # 10 digits
        ("", "451024199001011230", "id_number"),  # wrong check digit
        ("", "45102419901301123X", "id_number"),  # month 13
        ("", None, "mobile"),  # nothing to identify the person by
    ],
)
def test_person_upsert_rejects_bad_identifiers(tree, mobile, id_number, field):
    with pytest.raises(ValidationError) as excinfo:
        person_upsert(name="黄明", mobile=mobile, id_number=id_number, registered_grid=tree.v1)
    assert field in errors(excinfo)
    assert not Person.objects.exists()


def test_person_upsert_matches_by_id_number_then_by_mobile(tree):
    id_number = valid_id_number(2)
    first, _ = person_upsert(
        name="黄明", mobile=valid_mobile(2), id_number=id_number, registered_grid=tree.v1
    )
    again, created = person_upsert(
        name="黄明明",
        mobile=valid_mobile(3),
        id_number=id_number,
        registered_grid=tree.v2,
        political_status="party_member",
    )
    assert not created and again.pk == first.pk
    again.refresh_from_db()
    assert (again.name, again.mobile, again.political_status) == (
        "黄明明",
        valid_mobile(3),
        "party_member",
    )
    assert again.registered_grid == tree.v1  # stays where first registered

    by_mobile, _ = person_upsert(name="李四", mobile=valid_mobile(4), registered_grid=tree.v1)
    matched, created = person_upsert(name="李四", mobile="139 0000 0004", registered_grid=tree.v1)
    assert not created and matched.pk == by_mobile.pk
    # values not given are kept
    assert Person.objects.get(pk=first.pk).political_status == "party_member"
    assert Person.objects.count() == 2


def test_person_upsert_refuses_a_match_outside_the_actors_jurisdiction(tree):
    outsider = make_person("那坡人", grid=tree.nv1)
    debao_admin = make_user(roles=["administrator"], jurisdiction=tree.debao)
    with pytest.raises(ValidationError) as excinfo:
        person_upsert(
            name="改名", id_number=outsider.id_number, registered_grid=tree.v1, actor=debao_admin
        )
    assert "id_number" in errors(excinfo)
    assert Person.objects.get(pk=outsider.pk).name == "那坡人"


def test_person_update_refuses_another_persons_id_number(tree):
    a, b = make_person(grid=tree.v1), make_person(grid=tree.v1)
    with pytest.raises(ValidationError) as excinfo:
        person_update(person=b, id_number=a.id_number)
    assert "id_number" in errors(excinfo)
    person_update(person=b, name="新名字", mobile="13911112222")
    b.refresh_from_db()
    assert (b.name, b.mobile) == ("新名字", "13911112222")


# --- Organisations --------------------------------------------------------------------------------


def test_organisation_get_or_create_finds_the_nearest_registration_up_the_tree(tree):
    county_bureau = organisation_create(name="卫健局", registered_grid=tree.debao, type="health")
    found, created = organisation_get_or_create(name="卫健局", registered_grid=tree.v1)
    assert not created and found == county_bureau
    elsewhere, created = organisation_get_or_create(name="卫健局", registered_grid=tree.nv1)
    assert created and elsewhere.registered_grid == tree.nv1
    with pytest.raises(ValidationError) as excinfo:
        organisation_create(name="卫健局", registered_grid=tree.debao)
    assert "name" in errors(excinfo)
    assert Organisation.objects.count() == 2


# --- Assignment rules -----------------------------------------------------------------------------


def test_a_grid_has_one_grid_chief_at_a_time(tree):
    chief = assign(make_person(grid=tree.v1), tree.v1, "grid_chief")
    second = make_person(grid=tree.v1)
    with pytest.raises(ValidationError) as excinfo:
        assign(second, tree.v1, "grid_chief", start=D(2022, 3, 1))
    assert "role" in errors(excinfo)
    assert Assignment.objects.count() == 1
    assignment_end(assignment=chief, end_date=D(2022, 2, 28))
    assign(second, tree.v1, "grid_chief", start=D(2022, 3, 1))
    assert Assignment.objects.filter(role__code="grid_chief", end_date__isnull=True).count() == 1


def test_spans_do_not_overlap_for_the_same_person_grid_and_role(tree):
    person = make_person(grid=tree.v1)
    first = assign(person, tree.v1, "doctor", start=D(2022, 1, 1), end_date=D(2022, 1, 31))
    with pytest.raises(ValidationError) as excinfo:
        assign(person, tree.v1, "doctor", start=D(2022, 1, 15))
    assert "start_date" in errors(excinfo)
    assign(person, tree.v1, "doctor", start=D(2022, 2, 1))
    # extending the first span over the second is refused too
    with pytest.raises(ValidationError):
        assignment_update(assignment=first, end_date=None)
    first.refresh_from_db()
    assert first.end_date == D(2022, 1, 31)


def test_baobao_leader_comes_from_one_level_up(tree):
    city_chief = make_person(grid=tree.baise)
    assign(city_chief, tree.baise, "grid_chief")
    assign(city_chief, tree.debao, "baobao_leader")  # city leaders 包保 county grids
    with pytest.raises(ValidationError) as excinfo:
        assign(city_chief, tree.v1, "baobao_leader", start=START + datetime.timedelta(days=1))
    assert "role" in errors(excinfo)
    assert "level-4" in errors(excinfo)["role"][0]
    nobody = make_person(grid=tree.v1)
    with pytest.raises(ValidationError):
        assign(nobody, tree.v1, "baobao_leader")
    # a township's grid chief answers for a village below it
    township_chief = make_person(grid=tree.dongling)
    assign(township_chief, tree.dongling, "grid_chief")
    assign(township_chief, tree.v1, "baobao_leader")
    assert Assignment.objects.filter(role__code="baobao_leader").count() == 2


def test_dates_and_axis_are_checked(tree):
    person = make_person(grid=tree.v1)
    with pytest.raises(ValidationError) as excinfo:
        assign(person, tree.v1, "doctor", start=D(2022, 2, 1), end_date=D(2022, 1, 1))
    assert "end_date" in errors(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        assign(person, tree.v1, "doctor", axis="sideways")
    assert "axis" in errors(excinfo)
    assert not Assignment.objects.exists()


def test_assignment_update_to_grid_chief_obeys_the_rule(tree):
    assign(make_person(grid=tree.v1), tree.v1, "grid_chief")
    worker = assign(make_person(grid=tree.v1), tree.v1, "full_time_worker")
    with pytest.raises(ValidationError):
        assignment_update(assignment=worker, role=role("grid_chief"))
    worker.refresh_from_db()
    assert worker.role.code == "full_time_worker"
    assignment_update(assignment=worker, axis="department", sent_down=True)
    worker.refresh_from_db()
    assert (worker.axis, worker.sent_down) == ("department", True)


def test_assignment_move_ends_the_old_and_starts_the_new(tree):
    doctor = assign(make_person(grid=tree.v1), tree.v1, "doctor")
    moved = assignment_move(assignment=doctor, grid=tree.v2, start_date=D(2022, 3, 1))
    doctor.refresh_from_db()
    assert doctor.end_date == D(2022, 2, 28)
    assert (moved.grid, moved.start_date, moved.end_date) == (tree.v2, D(2022, 3, 1), None)


# --- Stored facts for the rules ---------------------------------------------------------------------


def test_assignment_facts_for_loads_grids_and_leads_in_bounded_queries(
    tree, django_assert_num_queries, monkeypatch
):
    county_chief = make_person(grid=tree.debao)
    assign(county_chief, tree.debao, "grid_chief")
    assign(county_chief, tree.dongling, "doctor")  # not a lead: only loaded through its grid
    others = [make_person(grid=tree.v1) for _ in range(3)]
    for person, grid in zip(others, [tree.v1, tree.v2, tree.h11], strict=True):
        assign(person, grid, "full_time_worker")

    with django_assert_num_queries(2):
        facts = selectors.assignment_facts_for(
            grid_ids=[tree.v1.pk, tree.v2.pk], person_ids=[county_chief.pk]
        )
    assert {(f.grid_code, f.role_code) for f in facts} == {
        (tree.v1.code, "full_time_worker"),
        (tree.v2.code, "full_time_worker"),
        (tree.debao.code, "grid_chief"),
    }
    assert all(isinstance(f, AssignmentFacts) and f.person_key.isdigit() for f in facts)

    # many ids: ceil(ids / chunk) queries per list, never one per id
    monkeypatch.setattr(selectors, "FACTS_CHUNK", 2)
    grid_ids = [tree.v1.pk, tree.v2.pk, tree.h11.pk, tree.h12.pk, tree.dongling.pk]
    with django_assert_num_queries(3 + 2):
        facts = selectors.assignment_facts_for(
            grid_ids=grid_ids, person_ids=[p.pk for p in others] + [county_chief.pk]
        )
    assert len(facts) == 5


# --- Locking ---------------------------------------------------------------------------------------


def test_assignment_create_locks_the_grid_rows(tree):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no row locks; it serialises writers with a database lock")
    county_chief = make_person(grid=tree.debao)
    assign(county_chief, tree.debao, "grid_chief")
    with CaptureQueriesContext(connection) as queries:
        assign(county_chief, tree.dongling, "baobao_leader")
    locks = [q["sql"] for q in queries if "FOR UPDATE" in q["sql"] and "grids_gridnode" in q["sql"]]
    # the township and, for a 包保 leader, the county whose chief qualifies them: one query
    assert len(locks) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_grid_chiefs_cannot_both_be_created():
    if connection.vendor != "postgresql":
        pytest.skip("needs row locks and concurrent connections (PostgreSQL)")
    from tests.factories import Tree

    tree = Tree()
    first, second = make_person(grid=tree.v1), make_person(grid=tree.v1)
    created = threading.Event()
    outcome = {}

    def hold_first_chief():
        try:
            with transaction.atomic():
                assign(first, tree.v1, "grid_chief")
                created.set()
                time.sleep(0.5)  # keep the lock while the second writer tries
        finally:
            connection.close()

    def try_second_chief():
        created.wait(5)
        try:
            assign(second, tree.v1, "grid_chief")
            outcome["second"] = "created"
        except ValidationError:
            outcome["second"] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=hold_first_chief), threading.Thread(target=try_second_chief)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert outcome == {"second": "refused"}
    assert Assignment.objects.filter(grid=tree.v1, role__code="grid_chief").count() == 1
