"""The 包保 chain: who answers for a grid at every level up to the city, the four axes, the
gaps; through the selector and GET /api/v1/grids/{code}/chain/, with tap-to-call."""

import datetime

import pytest
from django.contrib.auth.models import Permission

from personnel.models import AuditEvent
from personnel.selectors import grid_chain
from personnel.services import assignment_end
from tests.factories import make_user
from tests.personnel_factories import START, assign, make_org, make_person

pytestmark = pytest.mark.django_db
D = datetime.date
ON = D(2022, 2, 10)


@pytest.fixture
def chain(tree):
    """Baise chief 包保 Debao; Debao's chief 包保 Dongling; Dongling's chief 包保 the village
    那温村; 那温村's chief 包保 the hamlet 那温屯. The hamlet itself has no chief."""
    people = {}
    for key, grid in [
        ("city", tree.baise),
        ("county", tree.debao),
        ("town", tree.dongling),
        ("village", tree.v1),
    ]:
        people[key] = make_person(
            f"{key}长", grid=grid, organisation=make_org(f"{key}委", grid=grid)
        )
        assign(people[key], grid, "grid_chief")
    assign(people["city"], tree.debao, "baobao_leader")
    assign(people["county"], tree.dongling, "baobao_leader")
    assign(people["town"], tree.v1, "baobao_leader")
    assign(people["village"], tree.h11, "baobao_leader")
    people["doctor"] = make_person("医生", grid=tree.h11)
    assign(people["doctor"], tree.h11, "doctor", axis="department")
    return people


def gap_kinds(chain_result):
    return {(gap.grid.code, gap.kind, gap.axis) for gap in chain_result.gaps}


def test_chain_runs_from_the_grid_up_to_the_city(tree, chain, superuser):
    result = grid_chain(user=superuser, node=tree.h11, on=ON)
    assert [level.grid.code for level in result.levels] == [
        tree.h11.code,
        tree.v1.code,
        tree.dongling.code,
        tree.debao.code,
        tree.baise.code,
    ]
    answerable = [
        [(a.person.name, a.role.code) for a in level.assignments] for level in result.levels
    ]
    assert answerable == [
        [("village长", "baobao_leader")],
        [("village长", "grid_chief"), ("town长", "baobao_leader")],
        [("town长", "grid_chief"), ("county长", "baobao_leader")],
        [("county长", "grid_chief"), ("city长", "baobao_leader")],
        [("city长", "grid_chief")],
    ]
    assert gap_kinds(result) == {
        (tree.h11.code, "no_grid_chief", None),
        (tree.h11.code, "axis_uncovered", "unit"),
        (tree.h11.code, "axis_uncovered", "individual"),
    }
    axes = {axis.axis: [a.person.name for a in axis.assignments] for axis in result.axes}
    assert axes == {
        "territorial": ["village长"],
        "department": ["医生"],
        "unit": [],
        "individual": [],
    }


def test_a_village_without_a_baobao_leader_is_flagged_after_the_assignment_ends(
    tree, chain, superuser
):
    leader = chain["town"].assignments.get(role__code="baobao_leader")
    assignment_end(assignment=leader, end_date=D(2022, 2, 20))
    assert (tree.v1.code, "no_baobao_leader", None) not in gap_kinds(
        grid_chain(user=superuser, node=tree.v1, on=ON)
    )
    later = grid_chain(user=superuser, node=tree.v1, on=D(2022, 2, 21))
    assert (tree.v1.code, "no_baobao_leader", None) in gap_kinds(later)
    message = next(g.problem.text for g in later.gaps if g.kind == "no_baobao_leader")
    assert "has no 包保 leader" in message


def test_chain_query_count_does_not_grow_with_people(
    tree, chain, superuser, django_assert_num_queries
):
    with django_assert_num_queries(2):
        grid_chain(user=superuser, node=tree.h11, on=ON)
    for _ in range(5):
        assign(make_person(grid=tree.h11), tree.h11, "volunteer", axis="individual")
        assign(make_person(grid=tree.v1), tree.v1, "volunteer")
    with django_assert_num_queries(2):
        result = grid_chain(user=superuser, node=tree.h11, on=ON)
    assert result.axes[3].covered


# --- API ----------------------------------------------------------------------------------------


def chain_url(code):
    return f"/api/v1/grids/{code}/chain/"


def test_api_chain_shows_levels_above_the_jurisdiction_with_masked_phones(
    tree, chain, county_commander, api_client_for, django_assert_num_queries
):
    client = api_client_for(county_commander)
    client.get(chain_url(tree.h11.code))  # warm the token
    with django_assert_num_queries(5):  # token, jurisdiction, grid, ancestors, assignments
        response = client.get(chain_url(tree.h11.code), {"on": "2022-02-10"})
    assert response.status_code == 200
    body = response.json()
    assert [level["grid"]["code"] for level in body["levels"]][-1] == tree.baise.code
    city = body["levels"][-1]["people"][0]
    assert city["name"] == "city长" and city["role"] == "grid_chief"
    assert city["organisation"] == "city委"
    assert city["person"] is None  # registered and serving above the commander's county
    assert city["mobile"] == chain["city"].mobile[:3] + "****" + chain["city"].mobile[-4:]
    assert (
        city["call_url"]
        == f"/api/v1/assignments/{chain['city'].assignments.get(role__code='grid_chief').pk}/call/"
    )
    village = body["levels"][1]["people"][0]
    assert village["person"] == chain["village"].pk
    kinds = {(g["grid"], g["kind"], g["axis"]) for g in body["gaps"]}
    assert (tree.h11.code, "no_grid_chief", None) in kinds
    assert [a["covered"] for a in body["axes"]] == [True, True, False, False]
    for person in chain.values():
        assert person.mobile not in response.content.decode()
        assert person.id_number not in response.content.decode()


def test_api_chain_outside_the_jurisdiction_is_404(tree, chain, county_commander, api_client_for):
    client = api_client_for(county_commander)
    assert client.get(chain_url(tree.nv1.code)).status_code == 404
    assert client.get(chain_url(tree.baise.code)).status_code == 404
    assert client.get(chain_url("NOPE")).status_code == 404


def test_tap_to_call_redirects_to_the_number_and_is_audited(
    tree, chain, county_commander, api_client_for
):
    client = api_client_for(county_commander)
    city_chief = chain["city"].assignments.get(role__code="grid_chief")
    response = client.get(f"/api/v1/assignments/{city_chief.pk}/call/")
    assert response.status_code == 302
    assert response["Location"] == f"tel:+86{chain['city'].mobile}"
    event = AuditEvent.objects.get()
    assert (event.actor, event.person, event.detail["via"]) == (
        county_commander,
        chain["city"],
        "call",
    )


def test_tap_to_call_is_404_outside_the_chain(tree, chain, county_commander, api_client_for):
    client = api_client_for(county_commander)
    napo = make_person(grid=tree.nv1)
    napo_assignment = assign(napo, tree.nv1, "grid_chief")
    # a doctor at the city is not in the chain of command above Debao
    city_doctor = assign(make_person(grid=tree.baise), tree.baise, "doctor")
    for assignment in (napo_assignment, city_doctor):
        assert client.get(f"/api/v1/assignments/{assignment.pk}/call/").status_code == 404
    assert not AuditEvent.objects.exists()


def test_tap_to_call_needs_no_reveal_permission_but_reveal_does(tree, chain, api_client_for):
    worker = make_user(roles=["grid_worker"], jurisdiction=tree.v1)
    client = api_client_for(worker)
    village_chief = chain["village"].assignments.get(role__code="grid_chief")
    assert client.get(f"/api/v1/assignments/{village_chief.pk}/call/").status_code == 302
    assert client.post(f"/api/v1/people/{chain['village'].pk}/reveal/").status_code == 403
    worker.user_permissions.add(Permission.objects.get(codename="view_personal_data"))
    assert (
        api_client_for(worker).post(f"/api/v1/people/{chain['village'].pk}/reveal/").status_code
        == 200
    )
    assert AuditEvent.objects.count() == 2


def test_chain_start_date_default_is_today(tree, chain, superuser):
    assert grid_chain(user=superuser, node=tree.v1).on >= START
