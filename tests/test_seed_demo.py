"""seed_demo: the Baise demo tree obeys every tree rule, is written once, and brings one
login per role. The small scale is written through the command, once for the read-only
tests; the full (baise) scale is only planned here, since writing a million households
belongs to the benchmarks. tests/test_demo_people_and_checks.py covers the people and the
checks the command adds after the tree."""

import re
from collections import Counter, defaultdict
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import override_settings
from rest_framework.test import APIClient
from shapely.geometry import Point, shape

from accounts.models import User
from accounts.roles import user_has_role
from grids import rules
from grids.demo import COUNTIES, DEMO_PASSWORD, build_plan, rect_point, rect_polygon
from grids.models import Category, GridNode, Household, Kind, Level, TenHouseholdGroup
from grids.services import node_path
from personnel.models import Assignment, Person
from screening.models import Check, DailyStat
from tests.factories import make_grid, square

REAL_COUNTIES = {
    "451002000000": "右江区",
    "451003000000": "田阳区",
    "451022000000": "田东县",
    "451024000000": "德保县",
    "451026000000": "那坡县",
    "451027000000": "凌云县",
    "451028000000": "乐业县",
    "451029000000": "田林县",
    "451030000000": "西林县",
    "451031000000": "隆林各族自治县",
    "451081000000": "靖西市",
    "451082000000": "平果市",
}
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


def seed(scale="small") -> str:
    out = StringIO()
    call_command("seed_demo", "--scale", scale, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="class")
def demo(django_db_setup, django_db_blocker):
    """The small demo (tree, people, 14 days of checks: seconds to write), seeded once for a
    class inside a transaction rolled back after it; each test runs in a savepoint inside
    (pytest-django's db fixture), so what a test writes is undone too."""
    # The same fast hasher as the autouse fixture of conftest.py, which runs per test.
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), fast, transaction.atomic():
        yield seed()
        transaction.set_rollback(True)


@pytest.fixture
def seeded(demo, db):
    return demo


def facts(node) -> rules.NodeFacts:
    return rules.NodeFacts(code=node.code, level=node.level, category=node.category, kind=node.kind)


def counts() -> dict:
    return {
        "grids": GridNode.objects.count(),
        "households": Household.objects.count(),
        "groups": TenHouseholdGroup.objects.count(),
        "users": User.objects.count(),
        "memberships": User.groups.through.objects.count(),
        "people": Person.objects.count(),
        "assignments": Assignment.objects.count(),
        "checks": Check.objects.count(),
        "daily_stats": DailyStat.objects.count(),
    }


class TestTheSmallDemo:
    """Read-only checks of one small demo, seeded once for the class."""

    def test_the_city_and_its_twelve_real_counties(self, seeded):
        city = GridNode.objects.get(parent__isnull=True)
        assert (city.code, city.name, city.level) == ("451000000000", "百色市", Level.CITY)
        counties = GridNode.objects.territorial().filter(level=Level.COUNTY)
        assert {c.code: c.name for c in counties} == REAL_COUNTIES
        assert all(c.parent_id == city.pk for c in counties)
        assert {c.code6 + "000000" for c in COUNTIES} == set(REAL_COUNTIES)

    def test_every_grid_obeys_the_tree_rules(self, seeded):
        nodes = {n.pk: n for n in GridNode.objects.all()}
        assert len(nodes) > 300
        for node in nodes.values():
            parent = nodes.get(node.parent_id)
            parent_facts = facts(parent) if parent else None
            assert rules.check_code(facts(node), parent_facts) == [], node
            assert rules.check_placement(facts(node), parent_facts) == [], node
            problems, point = rules.check_geometry(node.boundary)
            assert problems == [], node
            assert point == pytest.approx((node.point_lng, node.point_lat), abs=1e-9)
            assert shape(node.boundary).contains(Point(node.point_lng, node.point_lat))
            assert node.path == node_path(parent, node.code)
            assert node.depth == node.path.count("/") - 1

    def test_boundaries_nest_and_territorial_siblings_do_not_overlap(self, seeded):
        nodes = list(GridNode.objects.select_related("parent"))
        children = defaultdict(list)
        for node in nodes:
            if node.parent is not None:
                assert shape(node.parent.boundary).covers(shape(node.boundary)), node
                if node.is_territorial:
                    children[node.parent_id].append(shape(node.boundary))
        for siblings in children.values():
            for i, a in enumerate(siblings):
                for b in siblings[i + 1 :]:
                    assert a.intersection(b).area == pytest.approx(0, abs=1e-12)
        # The counties tile the city: no gap either.
        city = next(n for n in nodes if n.parent_id is None)
        assert sum(
            shape(n.boundary).area for n in nodes if n.level == Level.COUNTY and n.is_territorial
        ) == pytest.approx(shape(city.boundary).area)

    def test_households_live_in_hamlets_and_work_unit_grids_and_add_up(self, seeded):
        households = list(Household.objects.select_related("grid", "group"))
        assert len(households) > 2000
        for household in households:
            assert rules.check_household_grid(facts(household.grid)) == [], household
            assert MOBILE_RE.match(household.phone), household.phone
            assert 1 <= household.size <= 8
            assert household.address and household.head_name
            if household.group is not None:
                assert household.group.hamlet_id == household.grid_id
        assert any(h.grid.category == Category.UNIT for h in households)
        # The expected figures of every grid are its subtree's households, summed upward.
        for node in GridNode.objects.all():
            in_subtree = [h for h in households if h.grid.path.startswith(node.path)]
            assert node.expected_households == len(in_subtree), node
            assert node.expected_population == sum(h.size for h in in_subtree), node

    def test_ten_household_groups_gather_about_ten_households_of_one_hamlet(self, seeded):
        sizes = Counter(
            Household.objects.filter(group__isnull=False).values_list("group_id", flat=True)
        )
        groups = TenHouseholdGroup.objects.select_related("hamlet")
        assert groups.count() > 0 and set(sizes) == {g.pk for g in groups}
        assert all(8 <= n <= 15 for n in sizes.values())
        assert all(g.hamlet.level == Level.HAMLET and g.hamlet.is_territorial for g in groups)

    def test_work_unit_and_dedicated_grids_are_leaves_at_their_parents_level(self, seeded):
        units = (
            GridNode.objects.exclude(category=Category.NON_BORDER, kind=Kind.CELL)
            .exclude(category=Category.BORDER, kind=Kind.CELL)
            .select_related("parent")
        )
        names = " ".join(u.name for u in units)
        for word in ("医院", "小学", "农贸市场", "隔离酒店", "工业园区", "边境卡点"):
            assert word in names
        for unit in units:
            assert unit.level == unit.parent.level
            assert not GridNode.objects.filter(parent=unit).exists()

    def test_border_grids_under_jingxi_and_napo(self, seeded):
        for code in ("451081000000", "451026000000"):
            county = GridNode.objects.get(code=code)
            assert county.category == Category.BORDER
            territorial = GridNode.objects.subtree_of(county).territorial()
            assert territorial.count() > 1
            assert set(territorial.values_list("category", flat=True)) == {Category.BORDER}
        debao = GridNode.objects.get(code="451024000000")
        assert set(
            GridNode.objects.subtree_of(debao).territorial().values_list("category", flat=True)
        ) == {
            Category.BORDER,
            Category.NON_BORDER,
        }
        youjiang = GridNode.objects.get(code="451002000000")
        assert not GridNode.objects.subtree_of(youjiang).filter(category=Category.BORDER).exists()

    def test_demo_users_have_their_roles_and_jurisdictions(self, seeded):
        assert DEMO_PASSWORD in seeded
        # Where each login starts, one line each.
        starts = seeded.split("Where each role starts:")[1].strip().splitlines()
        assert len(starts) == 5
        assert any(line.split()[0] == "gridworker" and "/work/" in line for line in starts)
        assert any(
            line.split()[0] == "debao_commander" and "/dashboard/451024000000/" in line
            for line in starts
        )
        assert any(line.split()[0] == "baise_admin" and "/imports/" in line for line in starts)
        expected = {
            "admin": (None, None),
            "baise_admin": ("administrator", "451000000000"),
            "baise_commander": ("commander", "451000000000"),
            "debao_commander": ("commander", "451024000000"),
            "gridworker": ("grid_worker", None),
        }
        for username, (role, jurisdiction) in expected.items():
            assert username in seeded
            user = User.objects.get(username=username)
            assert user.check_password(DEMO_PASSWORD)
            if role is None:
                assert user.is_superuser
            else:
                assert not user.is_superuser and user_has_role(user, role)
                assert list(user.groups.values_list("name", flat=True)) == [role]
            if jurisdiction:
                assert user.jurisdiction.code == jurisdiction
        worker = User.objects.get(username="gridworker")
        assert worker.jurisdiction.level == Level.HAMLET and worker.jurisdiction.is_territorial
        assert worker.jurisdiction.path.startswith("/451000000000/451024000000/")
        assert worker.jurisdiction.households.exists()

    def test_a_demo_login_works_through_the_api(self, seeded):
        response = APIClient().post(
            "/api/v1/auth/token/", {"username": "gridworker", "password": DEMO_PASSWORD}
        )
        assert response.status_code == 200 and response.json()["token"]

    def test_a_second_run_changes_nothing(self, seeded):
        before = counts()
        snapshot = list(
            GridNode.objects.values_list("code", "path", "expected_households", "updated_at")
        )
        out = seed()
        assert "already present" in out and "debao_commander" in out
        assert counts() == before
        assert (
            list(GridNode.objects.values_list("code", "path", "expected_households", "updated_at"))
            == snapshot
        )

    def test_the_small_demo_is_not_the_baise_demo(self, seeded):
        with pytest.raises(CommandError, match="baise"):
            seed("baise")
        assert Household.objects.count() < 5000

    def test_bench_tree_refuses_without_the_full_size_data(self, seeded):
        with pytest.raises(
            CommandError,
            match="PostgreSQL" if connection.vendor != "postgresql" else "--scale baise",
        ):
            call_command("bench_tree", stdout=StringIO())

    @pytest.mark.skipif(connection.vendor != "postgresql", reason="bench_tree measures PostgreSQL")
    def test_bench_tree_runs_every_query_and_its_rollups_match_the_expected_figures(self, seeded):
        out = StringIO()
        call_command("bench_tree", "--repeat", "1", "--min-households", "0", stdout=out)
        output = out.getvalue()
        assert "Rollups checked" in output
        assert output.count("| materialized path |") == 7 and "| closure table |" in output


def test_another_tree_at_the_city_is_refused_and_left_alone(db):
    city = make_grid("451000000000", "百色市", level=Level.CITY, boundary=square(105.0, 23.0, 2.0))
    make_grid("451024000000", "德保县", level=Level.COUNTY, parent=city)
    before = counts()
    with pytest.raises(CommandError, match="fresh database"):
        seed()
    assert counts() == before


def test_the_baise_scale_plan_has_the_real_size_and_obeys_the_rules():
    """Planned only (no database): the full scale's tree, checked rule by rule."""
    plan = build_plan("baise")
    levels = Counter(
        n.level for n in plan.nodes if n.kind == Kind.CELL and n.category != Category.UNIT
    )
    assert levels[Level.COUNTY] == 12 and levels[Level.TOWNSHIP] == 135
    assert 1_700 <= levels[Level.VILLAGE] <= 1_900
    assert 19_000 <= levels[Level.HAMLET] <= 21_000
    assert 950_000 <= plan.household_count <= 1_050_000
    assert len({n.code for n in plan.nodes}) == len(plan.nodes)
    children = defaultdict(list)
    for node in plan.nodes:
        parent = node.parent
        parent_facts = facts(parent) if parent else None
        assert rules.check_code(facts(node), parent_facts) == [], node.code
        assert rules.check_placement(facts(node), parent_facts) == [], node.code
        if parent is not None:
            px0, py0, px1, py1 = parent.rect
            x0, y0, x1, y1 = node.rect
            assert px0 <= x0 < x1 <= px1 and py0 <= y0 < y1 <= py1, node.code
            if rules.is_territorial(node.category, node.kind):
                children[parent.code].append(node.rect)
    for rects in children.values():  # siblings' rectangles never overlap
        for i, (ax0, ay0, ax1, ay1) in enumerate(rects):
            for bx0, by0, bx1, by1 in rects[i + 1 :]:
                assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0
    # The representative point computed without shapely is shapely's, on a sample.
    for node in plan.nodes[:: max(1, len(plan.nodes) // 200)]:
        assert rules.check_geometry(rect_polygon(node.rect))[1] == pytest.approx(
            rect_point(node.rect), abs=1e-9
        )
