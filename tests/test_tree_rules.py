import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from grids.models import Category, GridNode, Kind, Level
from grids.services import grid_create, grid_move, grid_update
from tests.factories import make_grid, square

pytestmark = pytest.mark.django_db


def test_path_and_depth_follow_the_tree(tree):
    assert tree.h11.path == "/451000000000/451024000000/451024100000/451024100001/451024100001001/"
    assert tree.h11.depth == 5
    assert tree.h11.ancestor_codes == [
        "451000000000",
        "451024000000",
        "451024100000",
        "451024100001",
    ]
    subtree = set(GridNode.objects.subtree_of(tree.dongling).values_list("code", flat=True))
    assert subtree == {
        "451024100000",
        "451024100001",
        "451024100002",
        "451024100001001",
        "451024100001002",
        "451024100002001",
    }


def test_territorial_level_is_parent_level_plus_one(tree):
    with pytest.raises(ValidationError) as err:
        make_grid("451024200000", level=Level.VILLAGE, parent=tree.debao)
    assert "level" in err.value.message_dict
    assert not GridNode.objects.filter(code="451024200000").exists()


def test_root_must_be_a_city(db):
    with pytest.raises(ValidationError):
        make_grid("451024000000", level=Level.COUNTY)
    with pytest.raises(ValidationError):
        make_grid("UNIT-1", level=Level.CITY, category=Category.UNIT)
    assert GridNode.objects.count() == 0


def test_root_is_a_city_in_the_database_too(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        GridNode.objects.create(
            code="451024000000", name="x", level=Level.COUNTY, path="/451024000000/", depth=1
        )


def test_unit_and_dedicated_grids_are_leaves_at_their_parents_level(tree):
    with pytest.raises(ValidationError) as err:
        make_grid("DB-HOSP-2", level=Level.TOWNSHIP, parent=tree.debao, category=Category.UNIT)
    assert "level" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        make_grid("DB-WARD-1", level=Level.COUNTY, parent=tree.hospital, category=Category.UNIT)
    assert "parent_code" in err.value.message_dict
    school = make_grid("NW-SCHOOL", level=Level.HAMLET, parent=tree.h11, kind=Kind.DEDICATED)
    assert school.depth == 6


@pytest.mark.parametrize(
    "code,level,parent_attr",
    [
        ("451024000001", Level.COUNTY, "baise"),  # not a county-shaped code
        ("4510241000", Level.TOWNSHIP, "debao"),  # too short
        ("451024100000", Level.VILLAGE, "dongling"),  # village part 000
        ("451024100002009", Level.HAMLET, "v1"),  # hamlet not under its own village's code
        ("45102410000101", Level.HAMLET, "v1"),  # two digits
        ("bad code!", Level.COUNTY, "debao"),
    ],
)
def test_codes_are_checked(tree, code, level, parent_attr):
    kwargs = {"category": Category.UNIT} if code == "bad code!" else {}
    with pytest.raises(ValidationError) as err:
        make_grid(code, level=level, parent=getattr(tree, parent_attr), **kwargs)
    assert "code" in err.value.message_dict


def test_duplicate_code_is_refused(tree):
    with pytest.raises(ValidationError) as err:
        make_grid("451024100001", level=Level.VILLAGE, parent=tree.dongling)
    assert "code" in err.value.message_dict


def test_bad_geometry_is_refused(tree):
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    for bad in (
        bowtie,
        {"type": "Point", "coordinates": [1, 2]},
        {"type": "Polygon", "coordinates": [[1]]},
    ):
        with pytest.raises(ValidationError) as err:
            make_grid("451024100003", level=Level.VILLAGE, parent=tree.dongling, boundary=bad)
        assert "boundary" in err.value.message_dict
    assert not GridNode.objects.filter(code="451024100003").exists()


def test_representative_point_is_inside_the_boundary(tree):
    assert 106.1 <= tree.v1.point_lng <= 106.15 and 23.3 <= tree.v1.point_lat <= 23.35
    grid_update(node=tree.v1, boundary=square(107.0, 24.0))
    tree.v1.refresh_from_db()
    assert 107.0 <= tree.v1.point_lng <= 107.05


def test_errors_are_bilingual(tree):
    with pytest.raises(ValidationError) as err:
        make_grid("451024200000", level=Level.VILLAGE, parent=tree.debao)
    message = err.value.message_dict["level"][0]
    assert "/" in message and "parent" in message


def test_move_rewrites_the_subtree_paths(tree):
    other = make_grid("451024200000", "足荣镇", level=Level.TOWNSHIP, parent=tree.debao)
    grid_move(node=tree.v2, new_parent=other)
    moved = GridNode.objects.get(code="451024100002001")
    assert moved.path == "/451000000000/451024000000/451024200000/451024100002/451024100002001/"
    assert moved.depth == 5
    assert GridNode.objects.get(code="451024100002").parent_id == other.pk


def test_move_keeps_every_rule(tree):
    before = dict(GridNode.objects.values_list("code", "path"))
    with pytest.raises(ValidationError):
        grid_move(node=tree.dongling, new_parent=tree.v1)  # cycle: under its own descendant
    with pytest.raises(ValidationError):
        grid_move(node=tree.dongling, new_parent=tree.dongling)  # under itself
    with pytest.raises(ValidationError):
        grid_move(node=tree.v1, new_parent=tree.debao)  # wrong level
    with pytest.raises(ValidationError):
        grid_move(node=tree.h11, new_parent=tree.v2)  # hamlet code belongs to its village
    with pytest.raises(ValidationError):
        grid_move(node=tree.v1, new_parent=tree.hospital)  # unit grid is a leaf
    assert dict(GridNode.objects.values_list("code", "path")) == before


def test_a_unit_leaf_moves_and_takes_its_new_parents_level(tree):
    grid_move(node=tree.hospital, new_parent=tree.v1)
    tree.hospital.refresh_from_db()
    assert tree.hospital.level == Level.VILLAGE
    assert tree.hospital.path.startswith(tree.v1.path)


def test_a_grid_with_children_cannot_become_a_leaf_kind(tree):
    with pytest.raises(ValidationError):
        grid_update(node=tree.v1, kind=Kind.DEDICATED)
    tree.v1.refresh_from_db()
    assert tree.v1.kind == Kind.CELL


def test_grid_create_is_atomic_on_database_error(tree):
    with pytest.raises(ValidationError):
        grid_create(
            code="451024100009",
            name="",
            level=Level.VILLAGE,
            parent=tree.dongling,
            category="x",
            kind=Kind.CELL,
        )
    assert not GridNode.objects.filter(code="451024100009").exists()
