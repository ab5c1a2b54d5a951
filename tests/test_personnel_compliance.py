"""Staffing compliance against the seeded team templates, the "+K" provider hook, and the
rollup over a subtree (levels and children), kept right after assignments end or move;
through personnel.compliance and GET /api/v1/grids/{code}/staffing/."""

import datetime

import pytest
from django.utils import translation

from personnel.compliance import (
    Shortfall,
    grid_compliance,
    register_requirement_provider,
    staffing_rollup,
    unregister_requirement_provider,
)
from personnel.models import Role
from personnel.services import assignment_end, assignment_move, team_template_create
from tests.personnel_factories import START, fill_team, staff

pytestmark = pytest.mark.django_db
D = datetime.date
ON = D(2022, 2, 10)

# What the seeded templates ask of a village: "1+1+N+K" (N=3) and "五级网格长+专职+兼职+N"
# (N=1); full-time workers take the larger of 3 and 1.
VILLAGE_NEEDS = {
    "grid_chief": 1,
    "full_time_worker": 3,
    "part_time_worker": 1,
    "doctor": 1,
    "police": 1,
    "volunteer": 1,
}


def test_village_requirements_are_the_max_over_its_templates(tree):
    compliance = grid_compliance(grid=tree.v1, on=ON)
    assert set(compliance.templates) == {"1+1+N+K", "五级网格长+专职+兼职+N"}
    assert {need.role.code: need.required for need in compliance.needs} == VILLAGE_NEEDS
    assert compliance.shortages == VILLAGE_NEEDS
    assert not compliance.fully_staffed


def test_shortages_shrink_as_people_are_assigned(tree):
    staff(tree.v1, "full_time_worker", 2)
    staff(tree.v1, "doctor", 2)  # more than needed is fine
    compliance = grid_compliance(grid=tree.v1, on=ON)
    assert compliance.shortages == {
        k: v for k, v in {**VILLAGE_NEEDS, "full_time_worker": 1}.items() if k != "doctor"
    }
    fill_team(tree.v1)
    assert grid_compliance(grid=tree.v1, on=ON).fully_staffed


def test_hamlet_and_unit_grids_use_their_own_templates(tree):
    hamlet = grid_compliance(grid=tree.h11, on=ON)
    assert set(hamlet.templates) == {"五级网格长+专职+兼职+N", "1+1+1+N"}
    assert {"party_member", "household_representative", "grid_chief"} <= set(hamlet.shortages)
    hospital = grid_compliance(grid=tree.hospital, on=ON)  # a unit grid at county level
    assert hospital.templates == ["五级网格长+专职+兼职+N"]


def test_template_categories_and_kinds_limit_where_it_applies(tree):
    team_template_create(
        name="边境卡口队",
        levels=[4],
        categories=["border"],
        kinds=["cell"],
        n=2,
        requirements=[(Role.objects.get(code="police"), None)],
    )
    assert grid_compliance(grid=tree.nv1, on=ON).shortages["police"] == 2  # border village
    assert grid_compliance(grid=tree.v1, on=ON).shortages["police"] == 1  # non-border: 1+1+N+K only


def test_k_hook_adds_provider_shortfalls_to_templates_that_require_checkpoints(tree, superuser):
    asked = []

    def unmanned_checkpoints(grids, on):
        asked.append(sorted(g.code for g in grids))
        return {
            g.pk: [Shortfall("checkpoint", f"{g.name} 卡口1 unmanned")]
            for g in grids
            if g.pk == tree.v1.pk
        }

    fill_team(tree.v1)
    fill_team(tree.v2)
    register_requirement_provider(unmanned_checkpoints)
    try:
        v1 = grid_compliance(grid=tree.v1, on=ON)
        assert v1.shortages == {}
        assert [s.code for s in v1.shortfalls] == ["checkpoint"]
        assert not v1.fully_staffed
        assert grid_compliance(grid=tree.v2, on=ON).fully_staffed
        grid_compliance(grid=tree.h11, on=ON)  # hamlets have no +K template: not asked
        assert asked == [[tree.v1.code], [tree.v2.code]]

        rollup = staffing_rollup(user=superuser, node=tree.dongling, on=ON)
        villages = next(level for level in rollup.levels if level.level == 4).tally
        assert (villages.grids, villages.fully_staffed, dict(villages.shortfalls)) == (
            2,
            1,
            {"checkpoint": 1},
        )
        assert asked[-1] == [tree.v1.code, tree.v2.code]  # asked once for all the villages
    finally:
        unregister_requirement_provider(unmanned_checkpoints)
    assert grid_compliance(grid=tree.v1, on=ON).fully_staffed


# --- Rollup ---------------------------------------------------------------------------------------


def village_tally(rollup):
    return next(level for level in rollup.levels if level.level == 4).tally


def test_rollup_counts_fully_staffed_villages_and_sums_shortages(tree, superuser):
    fill_team(tree.v1)
    staff(tree.v2, "doctor")
    rollup = staffing_rollup(user=superuser, node=tree.dongling, on=ON)
    tally = village_tally(rollup)
    assert (tally.grids, tally.fully_staffed) == (2, 1)
    assert dict(tally.shortages) == {k: v for k, v in VILLAGE_NEEDS.items() if k != "doctor"}
    with translation.override("en"):
        summary = rollup.summary(next(level for level in rollup.levels if level.level == 4))
    assert summary == (
        "1 of 2 village grids fully staffed; short: grid chief 1, full-time grid worker 3, "
        "part-time grid worker 1, police officer 1, volunteer 1"
    )
    children = {child.compliance.grid.code: child for child in rollup.children}
    assert set(children) == {tree.v1.code, tree.v2.code}
    assert children[tree.v1.code].compliance.fully_staffed
    assert not children[tree.v2.code].compliance.fully_staffed
    # a child's subtree includes its hamlets
    assert children[tree.v1.code].subtree.grids == 3


def test_rollup_is_right_after_an_assignment_ends_and_after_a_move(tree, superuser):
    fill_team(tree.v1)
    fill_team(tree.v2)
    assert (
        village_tally(staffing_rollup(user=superuser, node=tree.dongling, on=ON)).fully_staffed == 2
    )

    doctor = tree.v1.assignments.get(role__code="doctor")
    assignment_end(assignment=doctor, end_date=D(2022, 2, 15))
    before_end = village_tally(staffing_rollup(user=superuser, node=tree.dongling, on=ON))
    after_end = village_tally(
        staffing_rollup(user=superuser, node=tree.dongling, on=D(2022, 2, 16))
    )
    assert before_end.fully_staffed == 2
    assert (after_end.fully_staffed, dict(after_end.shortages)) == (1, {"doctor": 1})

    # move v2's police officer to v1: v1 keeps its police, v2 loses it
    police = tree.v2.assignments.get(role__code="police")
    assignment_move(assignment=police, grid=tree.v1, start_date=D(2022, 3, 1))
    after_move = staffing_rollup(user=superuser, node=tree.dongling, on=D(2022, 3, 1))
    children = {c.compliance.grid.code: c.compliance for c in after_move.children}
    assert children[tree.v2.code].shortages == {"police": 1}
    assert children[tree.v1.code].shortages == {"doctor": 1}
    assert dict(village_tally(after_move).shortages) == {"doctor": 1, "police": 1}


def test_rollup_runs_a_fixed_number_of_queries(tree, superuser, django_assert_num_queries):
    with django_assert_num_queries(4):  # subtree grids, requirements, templates, one GROUP BY
        staffing_rollup(user=superuser, node=tree.baise, on=ON)
    for grid in (tree.v1, tree.v2, tree.h11, tree.nv1):
        fill_team(grid)
    with django_assert_num_queries(4):
        rollup = staffing_rollup(user=superuser, node=tree.baise, on=ON)
    assert [level.level for level in rollup.levels] == [2, 3, 4, 5]
    assert next(level for level in rollup.levels if level.level == 4).tally.fully_staffed == 3


# --- API ----------------------------------------------------------------------------------------


def staffing_url(code):
    return f"/api/v1/grids/{code}/staffing/"


def test_api_staffing_gives_node_levels_and_children(
    tree, county_commander, api_client_for, django_assert_num_queries
):
    fill_team(tree.v1)
    staff(tree.v2, "doctor")
    client = api_client_for(county_commander)
    client.get(staffing_url(tree.dongling.code))
    # token, jurisdiction, grid, subtree, one GROUP BY, templates x2
    with django_assert_num_queries(7):
        response = client.get(staffing_url(tree.dongling.code), {"on": "2022-02-10"})
    assert response.status_code == 200
    body = response.json()
    assert body["grid"]["code"] == tree.dongling.code
    assert body["on"] == "2022-02-10"
    assert not body["compliance"]["fully_staffed"]  # the township itself has nobody
    villages = next(level for level in body["levels"] if level["level"] == 4)
    assert (villages["tally"]["grids"], villages["tally"]["fully_staffed"]) == (2, 1)
    assert {s["role"]: s["missing"] for s in villages["tally"]["shortages"]}["police"] == 1
    assert "1" in villages["summary"] and "2" in villages["summary"]
    children = {c["grid"]["code"]: c for c in body["children"]}
    assert children[tree.v1.code]["compliance"]["fully_staffed"] is True
    assert children[tree.v2.code]["compliance"]["fully_staffed"] is False
    assert {s["role"] for s in children[tree.v2.code]["compliance"]["shortages"]} == set(
        VILLAGE_NEEDS
    ) - {"doctor"}


def test_api_staffing_query_count_does_not_grow(
    tree, superuser, api_client_for, django_assert_num_queries
):
    client = api_client_for(superuser)
    client.get(staffing_url(tree.baise.code))
    # token, grid, subtree, one GROUP BY, templates x2 (a superuser has no jurisdiction to load)
    with django_assert_num_queries(6):
        client.get(staffing_url(tree.baise.code))
    for grid in (tree.v1, tree.v2, tree.nv1):
        fill_team(grid, on=START)
    with django_assert_num_queries(6):
        client.get(staffing_url(tree.baise.code))


def test_api_staffing_outside_the_jurisdiction_is_404(tree, county_commander, api_client_for):
    client = api_client_for(county_commander)
    assert client.get(staffing_url(tree.nv1.code)).status_code == 404
    assert client.get(staffing_url(tree.baise.code)).status_code == 404
    assert client.get(staffing_url(tree.v1.code), {"on": "not-a-date"}).status_code == 400
