"""The personnel API through HTTP with token auth: people, assignments, organisations,
templates; jurisdiction scoping (404 outside, nothing changed), administrator-only writes
(403, nothing changed), masking in every response, audited reveal, pinned query counts."""

import datetime

import pytest
from django.contrib.auth.models import Permission

from personnel.models import Assignment, AuditEvent, Organisation, Person, TeamTemplate
from tests.factories import make_user
from tests.personnel_factories import (
    assign,
    make_org,
    make_person,
    valid_id_number,
    valid_mobile,
)

pytestmark = pytest.mark.django_db
D = datetime.date


@pytest.fixture
def admin(tree):
    return make_user(roles=["administrator"], jurisdiction=tree.debao, username="debao_admin")


@pytest.fixture
def napo_admin(tree):
    return make_user(roles=["administrator"], jurisdiction=tree.napo, username="napo_admin")


@pytest.fixture
def people(tree):
    """Debao people, a city cadre sent down to a Debao village, and a Napo person."""
    health = make_org("德保县卫健局", grid=tree.debao, type="health")
    debao = [make_person(f"德保{i}", grid=tree.v1, organisation=health) for i in range(3)]
    cadre = make_person("市下沉干部", grid=tree.baise)
    assign(cadre, tree.h11, "volunteer", sent_down=True)
    assign(debao[0], tree.v1, "doctor")
    napo = make_person("那坡人", grid=tree.nv1)
    return {"debao": debao, "cadre": cadre, "napo": napo, "health": health}


def assert_masked(response, persons):
    text = response.content.decode()
    for person in persons:
        if person.mobile:
            assert person.mobile not in text
        if person.id_number:
            assert person.id_number not in text


def all_people():
    return list(Person.objects.all())


def snapshot():
    return (
        sorted(Person.objects.values_list("pk", "name", "mobile", "id_number", "political_status")),
        sorted(Assignment.objects.values_list("pk", "role_id", "end_date", "axis")),
        sorted(Organisation.objects.values_list("pk", "name", "type")),
        sorted(TeamTemplate.objects.values_list("pk", "name", "n")),
    )


# --- People: read --------------------------------------------------------------------------------


def test_people_list_is_scoped_registered_or_assigned(
    tree, people, county_commander, api_client_for
):
    response = api_client_for(county_commander).get("/api/v1/people/")
    assert response.status_code == 200
    names = {row["name"] for row in response.json()["results"]}
    assert names == {"德保0", "德保1", "德保2", "市下沉干部"}
    assert_masked(response, all_people())
    row = next(r for r in response.json()["results"] if r["name"] == "德保0")
    assert row["mobile"] == people["debao"][0].mobile[:3] + "****" + people["debao"][0].mobile[-4:]
    assert row["id_number"].startswith("4510") and "*" in row["id_number"]
    assert [a["role"] for a in row["current_assignments"]] == ["doctor"]


def test_people_list_filters(tree, people, county_commander, api_client_for):
    client = api_client_for(county_commander)

    def names(**params):
        response = client.get("/api/v1/people/", params)
        assert response.status_code == 200
        return {row["name"] for row in response.json()["results"]}

    assert names(grid=tree.h11.code) == {"市下沉干部"}
    assert names(grid=tree.v1.code) == {"德保0", "德保1", "德保2", "市下沉干部"}
    assert names(role="doctor") == {"德保0"}
    assert names(role="doctor", grid=tree.v2.code) == set()
    assert names(organisation=people["health"].pk) == {"德保0", "德保1", "德保2"}
    assert names(search="下沉") == {"市下沉干部"}
    assert names(grid=tree.nv1.code) == set()  # outside: nothing, as if it did not exist


def test_people_list_query_count_is_pinned(
    tree, people, county_commander, api_client_for, django_assert_num_queries
):
    client = api_client_for(county_commander)
    client.get("/api/v1/people/")
    # token, jurisdiction, count, rows, current assignments
    with django_assert_num_queries(5):
        client.get("/api/v1/people/")
    for _ in range(5):
        assign(make_person(grid=tree.v2), tree.v2, "volunteer")
    with django_assert_num_queries(5):
        response = client.get("/api/v1/people/")
    assert response.json()["count"] == 9


def test_person_detail_and_404_outside(tree, people, county_commander, api_client_for):
    client = api_client_for(county_commander)
    cadre = people["cadre"]
    response = client.get(f"/api/v1/people/{cadre.pk}/")
    assert response.status_code == 200
    assert [a["grid"] for a in response.json()["assignments"]] == [tree.h11.code]
    assert response.json()["assignments"][0]["sent_down"] is True
    assert_masked(response, [cadre])
    assert client.get(f"/api/v1/people/{people['napo'].pk}/").status_code == 404
    assert client.get("/api/v1/people/999999/").status_code == 404


# --- Reveal ------------------------------------------------------------------------------------


def test_reveal_needs_the_permission_and_is_audited(tree, people, county_commander, api_client_for):
    person = people["debao"][1]
    denied = api_client_for(county_commander).post(f"/api/v1/people/{person.pk}/reveal/")
    assert denied.status_code == 403
    assert_masked(denied, [person])
    assert not AuditEvent.objects.exists()  # nothing was seen: nothing to audit

    county_commander.user_permissions.add(Permission.objects.get(codename="view_personal_data"))
    client = api_client_for(county_commander)
    response = client.post(f"/api/v1/people/{person.pk}/reveal/")
    assert response.status_code == 200
    assert response.json() == {"mobile": person.mobile, "id_number": person.id_number}
    event = AuditEvent.objects.get()
    assert (event.actor, event.person, event.action) == (
        county_commander,
        person,
        "view_personal_data",
    )
    # still masked everywhere else, for the holder too
    assert_masked(client.get(f"/api/v1/people/{person.pk}/"), [person])
    # outside the jurisdiction: 404, not audited
    assert client.post(f"/api/v1/people/{people['napo'].pk}/reveal/").status_code == 404
    assert client.get(f"/api/v1/people/{person.pk}/reveal/").status_code == 405
    assert AuditEvent.objects.count() == 1


# --- People: write ------------------------------------------------------------------------------


def test_administrator_creates_and_upserts_people(tree, admin, api_client_for):
    client = api_client_for(admin)
    body = {
        "name": "王五",
        "mobile": "139-1234-5678",
        "id_number": valid_id_number(900),
        "political_status": "party_member",
        "registered_grid": tree.v2.code,
    }
    response = client.post("/api/v1/people/", body, format="json")
    assert response.status_code == 201
    assert response.json()["mobile"] == "139****5678"
    assert_masked(response, all_people())
    person = Person.objects.get()
    assert (person.mobile, person.registered_grid) == ("13912345678", tree.v2)

    again = client.post("/api/v1/people/", {**body, "name": "王五五"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == person.pk
    assert Person.objects.get().name == "王五五"

    patched = client.patch(f"/api/v1/people/{person.pk}/", {"mobile": "13700001111"}, format="json")
    assert patched.status_code == 200 and patched.json()["mobile"] == "137****1111"
    # registered grid defaults to the administrator's jurisdiction
    other = client.post(
        "/api/v1/people/", {"name": "赵六", "mobile": valid_mobile(901)}, format="json"
    )
    assert other.status_code == 201 and other.json()["registered_grid"] == tree.debao.code


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "坏号码", "mobile": "12345678901"}, "mobile"),
        ({"name": "坏身份证", "id_number": "451024199001011230"}, "id_number"),
        ({"name": "无标识"}, "mobile"),
        (
            {"name": "外县", "mobile": "13900009999", "registered_grid": "451026100001"},
            "registered_grid",
        ),
    ],
)
def test_bad_person_input_is_a_400_and_writes_nothing(tree, admin, api_client_for, body, field):
    response = api_client_for(admin).post("/api/v1/people/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Person.objects.exists()


def test_person_writes_need_the_administrator_role(tree, people, county_commander, api_client_for):
    before = snapshot()
    client = api_client_for(county_commander)
    person = people["debao"][0]
    assert (
        client.post(
            "/api/v1/people/", {"name": "x", "mobile": "13900001234"}, format="json"
        ).status_code
        == 403
    )
    assert (
        client.patch(f"/api/v1/people/{person.pk}/", {"name": "x"}, format="json").status_code
        == 403
    )
    assert snapshot() == before


def test_person_writes_outside_the_jurisdiction(tree, people, napo_admin, api_client_for):
    before = snapshot()
    client = api_client_for(napo_admin)
    person = people["debao"][0]
    assert (
        client.patch(f"/api/v1/people/{person.pk}/", {"name": "x"}, format="json").status_code
        == 404
    )
    # matching a Debao person by identity number from Napo is refused, not a silent update
    response = client.post(
        "/api/v1/people/", {"name": "x", "id_number": person.id_number}, format="json"
    )
    assert response.status_code == 400 and "id_number" in response.json()
    assert_masked(response, [person])
    assert snapshot() == before


# --- Assignments --------------------------------------------------------------------------------


def test_assignments_create_end_and_update(tree, people, admin, api_client_for):
    client = api_client_for(admin)
    person = people["debao"][1]
    body = {
        "person": person.pk,
        "grid": tree.v2.code,
        "role": "grid_chief",
        "start_date": "2022-02-01",
    }
    response = client.post("/api/v1/assignments/", body, format="json")
    assert response.status_code == 201
    assert response.json()["role"] == "grid_chief" and response.json()["grid"] == tree.v2.code
    assert_masked(response, all_people())
    pk = response.json()["id"]

    second = client.post(
        "/api/v1/assignments/", {**body, "person": people["debao"][2].pk}, format="json"
    )
    assert second.status_code == 400
    assert "already has a grid chief" in second.json()["role"][0]

    patched = client.patch(f"/api/v1/assignments/{pk}/", {"axis": "department"}, format="json")
    assert patched.status_code == 200 and patched.json()["axis"] == "department"
    ended = client.post(f"/api/v1/assignments/{pk}/end/", {"end_date": "2022-02-28"}, format="json")
    assert ended.status_code == 200 and ended.json()["end_date"] == "2022-02-28"
    bad = client.post(f"/api/v1/assignments/{pk}/end/", {"end_date": "2022-01-01"}, format="json")
    assert bad.status_code == 400 and "end_date" in bad.json()
    assert Assignment.objects.get(pk=pk).end_date == D(2022, 2, 28)

    listed = client.get("/api/v1/assignments/", {"grid": tree.v2.code, "active_on": "2022-02-15"})
    assert [row["id"] for row in listed.json()["results"]] == [pk]
    assert (
        client.get(
            "/api/v1/assignments/", {"grid": tree.v2.code, "active_on": "2022-03-01"}
        ).json()["count"]
        == 0
    )


def test_baobao_leader_at_the_wrong_level_is_a_bilingual_400(tree, people, admin, api_client_for):
    client = api_client_for(admin)
    person = people["debao"][1]
    assign(person, tree.debao, "grid_chief")
    response = client.post(
        "/api/v1/assignments/",
        {
            "person": person.pk,
            "grid": tree.v1.code,
            "role": "baobao_leader",
            "start_date": "2022-02-01",
        },
        format="json",
    )
    assert response.status_code == 400
    message = response.json()["role"][0]
    assert (
        "A 包保 leader of a level-4 grid must be a grid chief or 包保 leader of the grid above it"
        in message
    )
    assert " / " in message  # Chinese / English
    assert not Assignment.objects.filter(role__code="baobao_leader").exists()


def test_assignment_references_outside_the_jurisdiction_are_unknown(
    tree, people, admin, api_client_for
):
    before = snapshot()
    client = api_client_for(admin)
    for body, field in [
        ({"person": people["napo"].pk, "grid": tree.v1.code}, "person"),
        ({"person": people["debao"][0].pk, "grid": tree.nv1.code}, "grid"),
        ({"person": people["debao"][0].pk, "grid": tree.v1.code, "role": "emperor"}, "role"),
    ]:
        response = client.post(
            "/api/v1/assignments/",
            {"role": "volunteer", "start_date": "2022-02-01", **body},
            format="json",
        )
        assert response.status_code == 400 and field in response.json()
    assert snapshot() == before


def test_assignment_writes_forbidden_paths_change_nothing(
    tree, people, county_commander, napo_admin, api_client_for
):
    doctor = people["debao"][0].assignments.get()
    before = snapshot()
    commander = api_client_for(county_commander)
    body = {
        "person": people["debao"][1].pk,
        "grid": tree.v1.code,
        "role": "police",
        "start_date": "2022-02-01",
    }
    assert commander.post("/api/v1/assignments/", body, format="json").status_code == 403
    assert commander.post(f"/api/v1/assignments/{doctor.pk}/end/").status_code == 403
    assert (
        commander.patch(
            f"/api/v1/assignments/{doctor.pk}/", {"axis": "unit"}, format="json"
        ).status_code
        == 403
    )
    napo = api_client_for(napo_admin)
    assert napo.get(f"/api/v1/assignments/{doctor.pk}/").status_code == 404
    assert napo.post(f"/api/v1/assignments/{doctor.pk}/end/").status_code == 404
    assert (
        napo.patch(f"/api/v1/assignments/{doctor.pk}/", {"axis": "unit"}, format="json").status_code
        == 404
    )
    assert snapshot() == before


def test_assignment_list_query_count_is_pinned(
    tree, people, county_commander, api_client_for, django_assert_num_queries
):
    client = api_client_for(county_commander)
    client.get("/api/v1/assignments/")
    with django_assert_num_queries(4):  # token, jurisdiction, count, rows
        client.get("/api/v1/assignments/")
    for _ in range(4):
        assign(make_person(grid=tree.v2, organisation=people["health"]), tree.v2, "volunteer")
    with django_assert_num_queries(4):
        response = client.get("/api/v1/assignments/")
    assert response.json()["count"] == 6
    assert_masked(response, all_people())


def test_grid_team_lists_who_is_on_the_grid(tree, people, county_commander, api_client_for):
    response = api_client_for(county_commander).get(f"/api/v1/grids/{tree.h11.code}/team/")
    assert response.status_code == 200
    assert [row["person"]["name"] for row in response.json()] == ["市下沉干部"]
    assert_masked(response, all_people())
    assert (
        api_client_for(county_commander).get(f"/api/v1/grids/{tree.nv1.code}/team/").status_code
        == 404
    )


# --- Organisations ------------------------------------------------------------------------------


def test_organisations_scoped_and_written_by_administrators(
    tree, people, admin, napo_admin, county_commander, api_client_for
):
    napo_org = make_org("那坡公安", grid=tree.napo, type="public_security")
    client = api_client_for(admin)
    listed = client.get("/api/v1/organisations/")
    assert {row["name"] for row in listed.json()["results"]} == {"德保县卫健局"}
    response = client.post(
        "/api/v1/organisations/",
        {
            "name": "东凌镇卫生院",
            "type": "health",
            "parent": people["health"].pk,
            "registered_grid": tree.dongling.code,
        },
        format="json",
    )
    assert response.status_code == 201 and response.json()["parent_name"] == "德保县卫健局"
    duplicate = client.post(
        "/api/v1/organisations/",
        {"name": "东凌镇卫生院", "registered_grid": tree.dongling.code},
        format="json",
    )
    assert duplicate.status_code == 400
    cycle = client.patch(
        f"/api/v1/organisations/{people['health'].pk}/",
        {"parent": response.json()["id"]},
        format="json",
    )
    assert cycle.status_code == 400 and "parent" in cycle.json()

    before = snapshot()
    assert client.get(f"/api/v1/organisations/{napo_org.pk}/").status_code == 404
    assert (
        client.patch(
            f"/api/v1/organisations/{napo_org.pk}/", {"name": "x"}, format="json"
        ).status_code
        == 404
    )
    commander = api_client_for(county_commander)
    assert commander.post("/api/v1/organisations/", {"name": "x"}, format="json").status_code == 403
    assert (
        api_client_for(napo_admin)
        .patch(f"/api/v1/organisations/{people['health'].pk}/", {"name": "x"}, format="json")
        .status_code
        == 404
    )
    assert snapshot() == before


# --- Templates, roles, post types ------------------------------------------------------------------


def test_templates_are_read_by_all_and_written_at_city_level(
    tree, county_commander, admin, api_client_for, superuser
):
    listed = api_client_for(county_commander).get("/api/v1/team-templates/")
    assert listed.status_code == 200
    yidu = next(t for t in listed.json() if t["name"] == "1+1+N+K")
    assert yidu["requires_checkpoints"] is True and yidu["n"] == 3
    assert {r["role"]: r["required"] for r in yidu["requirements"]} == {
        "doctor": 1,
        "police": 1,
        "full_time_worker": 3,
    }

    body = {
        "name": "四包一",
        "levels": [5],
        "requirements": [{"role": "doctor", "min_count": 1}, {"role": "police"}],
    }
    before = snapshot()
    assert (
        api_client_for(admin).post("/api/v1/team-templates/", body, format="json").status_code
        == 403
    )  # county admin
    assert (
        api_client_for(county_commander)
        .post("/api/v1/team-templates/", body, format="json")
        .status_code
        == 403
    )
    assert snapshot() == before

    city_admin = make_user(roles=["administrator"], jurisdiction=tree.baise)
    client = api_client_for(city_admin)
    created = client.post("/api/v1/team-templates/", body, format="json")
    assert created.status_code == 201
    assert {r["role"]: r["required"] for r in created.json()["requirements"]} == {
        "doctor": 1,
        "police": 1,
    }
    pk = created.json()["id"]
    bad = client.patch(f"/api/v1/team-templates/{pk}/", {"levels": [9]}, format="json")
    assert bad.status_code == 400 and "levels" in bad.json()
    patched = api_client_for(superuser).patch(
        f"/api/v1/team-templates/{pk}/",
        {"n": 2, "requirements": [{"role": "police"}]},
        format="json",
    )
    assert patched.status_code == 200
    assert [(r["role"], r["required"]) for r in patched.json()["requirements"]] == [("police", 2)]
    assert client.delete(f"/api/v1/team-templates/{pk}/").status_code == 204
    assert not TeamTemplate.objects.filter(pk=pk).exists()


def test_roles_and_post_types_are_listed(tree, county_commander, api_client_for):
    client = api_client_for(county_commander)
    roles = client.get("/api/v1/roles/").json()
    assert [r["code"] for r in roles][:2] == ["grid_chief", "baobao_leader"]
    assert len(client.get("/api/v1/post-types/").json()) == 4


def every_read_url(tree, people):
    person, assignment = people["debao"][0], people["debao"][0].assignments.get()
    return [
        "/api/v1/people/",
        f"/api/v1/people/{person.pk}/",
        "/api/v1/assignments/",
        f"/api/v1/assignments/{assignment.pk}/",
        "/api/v1/organisations/",
        f"/api/v1/organisations/{people['health'].pk}/",
        "/api/v1/team-templates/",
        "/api/v1/roles/",
        "/api/v1/post-types/",
        "/api/v1/post-claims/",
        f"/api/v1/grids/{tree.v1.code}/team/",
        f"/api/v1/grids/{tree.v1.code}/chain/",
        f"/api/v1/grids/{tree.v1.code}/staffing/",
        f"/api/v1/grids/{tree.v1.code}/posts/",
    ]


def test_every_response_is_masked_even_for_permission_holders(
    tree, people, superuser, api_client_for
):
    from personnel.models import PostType
    from personnel.services import post_claim

    member = make_person(grid=tree.v1, party=True)
    post_claim(person=member, grid=tree.v1, post_type=PostType.objects.first())
    client = api_client_for(superuser)  # holds every permission, reveal included
    for url in every_read_url(tree, people):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_masked(response, all_people())


def test_anonymous_is_refused_everywhere(tree, people, client):
    person, assignment = people["debao"][0], people["debao"][0].assignments.get()
    for url in every_read_url(tree, people) + [f"/api/v1/assignments/{assignment.pk}/call/"]:
        assert client.get(url).status_code in (401, 403), url
    assert client.post(f"/api/v1/people/{person.pk}/reveal/").status_code in (401, 403)
    assert not AuditEvent.objects.exists()


def test_bad_ids_and_filters_are_4xx_not_500(tree, people, admin, api_client_for):
    client = api_client_for(admin)
    huge = "9" * 25
    for url in (
        f"/api/v1/people/{huge}/",
        f"/api/v1/assignments/{huge}/call/",
        f"/api/v1/team-templates/{huge}/",
    ):
        assert client.get(url).status_code == 404
    assert client.get("/api/v1/people/", {"organisation": huge}).status_code == 400
    assert client.get("/api/v1/assignments/", {"person": huge}).status_code == 400
    assert client.get("/api/v1/assignments/", {"active_on": "soon"}).status_code == 400
    before = snapshot()
    for body in (
        [],
        {"person": huge, "grid": tree.v1.code, "role": "doctor", "start_date": "2022-02-01"},
        {"person": "١٢", "grid": tree.v1.code, "role": ["x"], "start_date": "2022-02-01"},
        {
            "person": people["debao"][1].pk,
            "grid": {"a": 1},
            "role": "doctor",
            "start_date": "yesterday",
        },
    ):
        assert client.post("/api/v1/assignments/", body, format="json").status_code == 400
    assert snapshot() == before


def test_admin_pages_load_and_mask(tree, people, superuser, client):
    client.force_login(superuser)
    for model in (
        "person",
        "assignment",
        "organisation",
        "role",
        "teamtemplate",
        "posttype",
        "auditevent",
    ):
        assert client.get(f"/admin/personnel/{model}/").status_code == 200, model
    person = people["debao"][0]
    response = client.get(f"/admin/personnel/person/{person.pk}/change/")
    assert response.status_code == 200
    assert_masked(client.get("/admin/personnel/person/"), all_people())
    assert_masked(response, [person])
