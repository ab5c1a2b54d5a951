"""The people pages (/people/) and the grid page's team, 包保 chain, staffing and pioneer-post
sections, through HTTP as a user would: scoping (404 outside the jurisdiction), masking,
the audited reveal, tap-to-call links, gaps and shortages, and pinned query counts."""

import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.utils import translation

from personnel.models import AuditEvent, PostType
from personnel.services import assignment_end, post_claim
from tests.factories import make_grid, make_user
from tests.personnel_factories import assign, fill_team, make_org, make_person, staff
from tests.test_pages import GRID_PAGE_QUERIES

pytestmark = pytest.mark.django_db

MOBILE = "13912345678"
ID_NUMBER = "451024198001010019"  # with a valid GB 11643 check digit (checked below)


def grid_url(code):
    return f"/grids/{code}/"


def person_url(pk):
    return f"/people/{pk}/"


def reveal_url(pk):
    return f"/people/{pk}/reveal/"


def listed_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-person="(\d+)">', html)]


def section(html: str, name: str) -> str:
    match = re.search(rf'<section class="{name}" id="{name}".*?</section>', html, re.S)
    assert match, f"no {name} section"
    return match.group(0)


@pytest.fixture
def people(tree):
    """A Debao chain (county chief 包保 Dongling, Dongling's chief 包保 那温村), a doctor
    with a known mobile and identity number on 那温村, and a Napo village chief."""
    health = make_org("德保县卫健局", grid=tree.debao)
    p = {
        "county": make_person("县长甲", grid=tree.debao),
        "town": make_person("镇长乙", grid=tree.dongling),
        "doctor": make_person(
            "医生丙", grid=tree.v1, mobile=MOBILE, id_number=ID_NUMBER, organisation=health
        ),
        "napo": make_person("那坡村长", grid=tree.nv1),
    }
    p["county_chief"] = assign(p["county"], tree.debao, "grid_chief")
    p["town_chief"] = assign(p["town"], tree.dongling, "grid_chief")
    p["town_leader"] = assign(p["county"], tree.dongling, "baobao_leader")
    p["v1_leader"] = assign(p["town"], tree.v1, "baobao_leader")
    p["doctor_on_v1"] = assign(p["doctor"], tree.v1, "doctor", axis="department", sent_down=True)
    assign(p["napo"], tree.nv1, "grid_chief")
    return p


@pytest.fixture(autouse=True)
def restore_language(settings):
    # LocaleMiddleware leaves the last request's language active in this thread.
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def commander(client, county_commander):
    client.force_login(county_commander)
    return client


@pytest.fixture
def revealer(client, tree):
    user = make_user(roles=["commander"], jurisdiction=tree.debao, username="debao_revealer")
    user.user_permissions.add(Permission.objects.get(codename="view_personal_data"))
    client.force_login(user)
    client.user = user
    return client


def test_the_fixture_identity_number_is_valid():
    from personnel.validators import validate_id_number

    validate_id_number(ID_NUMBER)


# --- The person list --------------------------------------------------------------------------


def test_list_shows_the_jurisdiction_only(commander, people):
    response = commander.get("/people/")
    assert response.status_code == 200
    html = response.content.decode()
    assert set(listed_ids(html)) == {people[k].pk for k in ("county", "town", "doctor")}
    assert "那坡村长" not in html
    assert f'href="{person_url(people["doctor"].pk)}"' in html
    # The top bar links here.
    assert 'href="/people/"' in html


def test_list_search_and_filters(commander, people, tree):
    def ids(**params):
        response = commander.get("/people/", params)
        assert response.status_code == 200
        return set(listed_ids(response.content.decode()))

    assert ids(q="医生") == {people["doctor"].pk}
    assert ids(q=" 长 ") == {people["county"].pk, people["town"].pk}
    # Grid subtree: registered in it or assigned in it (the county chief leads Dongling).
    assert ids(grid=tree.v1.code) == {people["doctor"].pk, people["town"].pk}
    assert ids(grid=tree.v2.code) == set()
    assert ids(role="baobao_leader") == {people["county"].pk, people["town"].pk}
    assert ids(role="doctor", grid=tree.dongling.code) == {people["doctor"].pk}
    assert ids(organisation=people["doctor"].organisation_id) == {people["doctor"].pk}


@pytest.mark.parametrize(
    "params",
    [
        {"grid": "451026000000"},  # Napo: outside the jurisdiction
        {"grid": "451026100001"},
        {"grid": "NO-SUCH-GRID"},
        {"grid": "x" * 200},
        {"organisation": "abc"},
        {"organisation": "99999999999999999999999"},
        {"role": "no-such-role"},
        {"page": "999"},
        {"page": "-1"},
    ],
)
def test_bad_or_foreign_filters_never_fail_or_leak(commander, people, params):
    response = commander.get("/people/", params)
    assert response.status_code == 200
    html = response.content.decode()
    assert "那坡" not in html
    if "grid" in params:
        assert listed_ids(html) == []
        assert 'role="alert"' in html


def test_the_organisation_filter_offers_only_visible_organisations(commander, people, tree):
    make_org("那坡县卫健局", grid=tree.napo)
    html = commander.get("/people/").content.decode()
    assert "德保县卫健局" in html
    assert "那坡县卫健局" not in html
    napo_org = make_org("那坡县公安局", grid=tree.napo)
    response = commander.get("/people/", {"organisation": napo_org.pk})
    assert response.status_code == 200
    assert "那坡" not in response.content.decode()


def test_list_is_paginated_and_keeps_the_filters(commander, tree):
    for n in range(53):
        make_person(f"队员{n:02d}", grid=tree.v2)
    first = commander.get("/people/", {"q": "队员"}).content.decode()
    assert len(listed_ids(first)) == 50
    assert 'href="?q=%E9%98%9F%E5%91%98&amp;page=2"' in first
    second = commander.get("/people/", {"q": "队员", "page": 2}).content.decode()
    assert len(listed_ids(second)) == 3


# Session, user, jurisdiction, the user's groups (top bar), roles and organisations (the
# filter form), the count, the page of people, their current assignments.
LIST_QUERIES = 9


def test_list_query_count_does_not_grow_with_people(
    commander, people, tree, django_assert_num_queries
):
    with django_assert_num_queries(LIST_QUERIES):
        commander.get("/people/")
    for n in range(20):
        person = make_person(grid=tree.v2)
        assign(person, tree.v2, "volunteer")
        make_org(f"单位{n}", grid=tree.v2)
    with django_assert_num_queries(LIST_QUERIES):
        response = commander.get("/people/")
    assert len(listed_ids(response.content.decode())) == 23


# --- The person page --------------------------------------------------------------------------


def test_person_page_shows_facts_assignments_and_posts(commander, people, tree):
    doctor = people["doctor"]
    assign(doctor, tree.v2, "volunteer", start=people["doctor_on_v1"].start_date)
    past = assign(doctor, tree.h21, "volunteer")
    past = assignment_end(assignment=past, end_date=past.start_date)
    member = make_person("党员戊", grid=tree.v1, party=True)
    post_claim(person=member, grid=tree.v1, post_type=PostType.objects.get(code="medical_aid"))

    html = commander.get(person_url(doctor.pk)).content.decode()
    assert "<h1>医生丙" in html
    assert "德保县卫健局" in html
    current = re.search(r'id="current-assignments".*?</table>', html, re.S).group(0)
    assert f'href="{grid_url(tree.v1.code)}"' in current
    assert f'href="{grid_url(tree.v2.code)}"' in current
    assert f'href="{grid_url(tree.h21.code)}"' not in current
    past_table = re.search(r'id="past-assignments".*?</table>', html, re.S).group(0)
    assert f'href="{grid_url(tree.h21.code)}"' in past_table
    assert past.end_date.isoformat() in past_table

    html = commander.get(person_url(member.pk)).content.decode()
    claims = re.search(r'id="post-claims".*?</table>', html, re.S).group(0)
    assert "那温村" in claims


def test_person_page_hides_assignments_outside_the_jurisdiction(commander, people, tree):
    # The Baise city chief is sent down to 那温村: Debao sees them, but not their city post.
    city = make_person("市长丁", grid=tree.baise)
    assign(city, tree.baise, "grid_chief")
    assign(city, tree.v1, "volunteer")
    html = commander.get(person_url(city.pk)).content.decode()
    assert f'href="{grid_url(tree.v1.code)}"' in html
    assert "百色市" not in html.split("<main>", 1)[1]
    assert f'href="{grid_url(tree.baise.code)}"' not in html
    assert 'class="note hidden-assignments"' in html


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_person_outside_the_jurisdiction_is_404(revealer, people, method):
    before = AuditEvent.objects.count()
    url = person_url if method == "get" else reveal_url
    response = getattr(revealer, method)(url(people["napo"].pk))
    assert response.status_code == 404
    assert "那坡村长" not in response.content.decode()
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("pk", [0, 999999, 99999999999999999999999])
def test_unknown_people_are_404(commander, people, pk):
    assert commander.get(person_url(pk)).status_code == 404


# --- Masking and the audited reveal -------------------------------------------------------------


def test_mobile_and_id_number_are_masked_on_every_page(commander, people, tree):
    pages = [
        commander.get("/people/"),
        commander.get("/people/", {"q": "医生"}),
        commander.get(person_url(people["doctor"].pk)),
        commander.get(grid_url(tree.v1.code)),
        commander.get(grid_url(tree.dongling.code)),
    ]
    for page in pages:
        html = page.content.decode()
        assert page.status_code == 200
        assert MOBILE not in html
        assert ID_NUMBER not in html
        assert ID_NUMBER[:6] + ID_NUMBER[6:14] not in html  # not even the birth date
    person_html = pages[2].content.decode()
    assert "139****5678" in person_html
    assert "4510**********0019" in person_html
    assert "139****5678" in pages[0].content.decode()


def test_reveal_is_offered_with_the_permission(revealer, people):
    html = revealer.get(person_url(people["doctor"].pk)).content.decode()
    assert f'action="{reveal_url(people["doctor"].pk)}"' in html


def test_no_reveal_button_without_the_permission(commander, people):
    html = commander.get(person_url(people["doctor"].pk)).content.decode()
    assert "/reveal/" not in html


def test_reveal_with_the_permission_shows_full_values_once_and_is_audited(revealer, people):
    doctor = people["doctor"]
    before = AuditEvent.objects.count()

    response = revealer.post(reveal_url(doctor.pk))

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    assert MOBILE in html
    assert ID_NUMBER in html
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("at")
    assert event.actor == revealer.user
    assert event.person == doctor
    assert event.action == AuditEvent.Action.VIEW_PERSONAL_DATA
    assert event.detail["via"] == "reveal"

    # Only once: the page itself stays masked.
    html = revealer.get(person_url(doctor.pk)).content.decode()
    assert MOBILE not in html and ID_NUMBER not in html
    assert AuditEvent.objects.count() == before + 1


def test_reveal_without_the_permission_is_403_and_writes_nothing(commander, people):
    before = AuditEvent.objects.count()
    response = commander.post(reveal_url(people["doctor"].pk))
    assert response.status_code == 403
    html = response.content.decode()
    assert MOBILE not in html and ID_NUMBER not in html
    assert AuditEvent.objects.count() == before


def test_reveal_is_a_post_with_csrf(revealer, people):
    assert revealer.get(reveal_url(people["doctor"].pk)).status_code == 405
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(revealer.user)
    before = AuditEvent.objects.count()
    assert strict.post(reveal_url(people["doctor"].pk)).status_code == 403
    assert AuditEvent.objects.count() == before


def test_anonymous_users_are_sent_to_login(client, people):
    for url in ("/people/", person_url(people["doctor"].pk)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert client.post(reveal_url(people["doctor"].pk)).status_code == 302


# Session, user, jurisdiction, the person with their assignments (2), the post claims,
# the user's groups (top bar), and the permission check for the reveal button (user and
# group permissions).
PERSON_QUERIES = 9


def test_person_page_query_count_does_not_grow_with_assignments(
    commander, people, tree, django_assert_num_queries
):
    doctor = people["doctor"]
    with django_assert_num_queries(PERSON_QUERIES):
        commander.get(person_url(doctor.pk))
    for grid in (tree.v2, tree.h11, tree.h12, tree.h21):
        assign(doctor, grid, "volunteer")
    with django_assert_num_queries(PERSON_QUERIES):
        response = commander.get(person_url(doctor.pk))
    assert response.content.decode().count("data-assignment=") == 5


# --- The grid page: chain ------------------------------------------------------------------------


def test_chain_runs_up_to_the_city_with_gaps_flagged(commander, people, tree):
    html = commander.get(grid_url(tree.v1.code)).content.decode()
    chain = section(html, "chain")
    levels = re.findall(r'<li class="chain-level[^"]*" data-grid="([^"]+)"', chain)
    assert levels == [tree.v1.code, tree.dongling.code, tree.debao.code, tree.baise.code]
    # 那温村 has a 包保 leader (the town chief) but no grid chief; the county has no 包保
    # leader; the city has nobody at all.
    blocks = dict(
        re.findall(r'data-grid="([^"]+)"(.*?)(?=<li class="chain-level|</ol>)', chain, re.S)
    )
    assert re.findall(r'data-gap="(\w+)"', blocks[tree.v1.code]) == ["no_grid_chief"]
    assert re.findall(r'data-gap="(\w+)"', blocks[tree.dongling.code]) == []
    assert re.findall(r'data-gap="(\w+)"', blocks[tree.debao.code]) == ["no_baobao_leader"]
    # The city is the top: it needs a chief, but nobody 包保 it.
    assert re.findall(r'data-gap="(\w+)"', blocks[tree.baise.code]) == ["no_grid_chief"]
    assert "镇长乙" in blocks[tree.v1.code]
    assert "县长甲" in blocks[tree.dongling.code] and "镇长乙" in blocks[tree.dongling.code]
    # Four-party coverage of the village: territorial (the 包保 leader) and department (the
    # doctor) answered; unit and individual flagged.
    states = {
        axis: state
        for state, axis in re.findall(
            r'<li class="axis (covered|uncovered)" data-axis="(\w+)"', chain
        )
    }
    assert states == {
        "territorial": "covered",
        "department": "covered",
        "unit": "uncovered",
        "individual": "uncovered",
    }
    assert 'class="gap-summary"' in chain


def test_chain_names_link_to_people_inside_and_call_links_are_audited(
    commander, people, tree, county_commander
):
    city = make_person("市长丁", grid=tree.baise, mobile="13700001111")
    assign(city, tree.baise, "grid_chief")
    city_leads_debao = assign(city, tree.debao, "baobao_leader")
    html = commander.get(grid_url(tree.v1.code)).content.decode()
    chain = section(html, "chain")
    # Tap-to-call: the href is the audited redirect, the text the masked number.
    leader = people["v1_leader"]
    call = f"/api/v1/assignments/{leader.pk}/call/"
    assert f'href="{call}"' in chain
    assert f'href="/api/v1/assignments/{city_leads_debao.pk}/call/"' in chain
    assert "137****1111" in chain and "13700001111" not in html
    # A name links to the person page only for an assignment inside the jurisdiction: the
    # city chief's 包保 of Debao does, their chiefdom of the city above it does not.
    blocks = dict(
        re.findall(r'data-grid="([^"]+)"(.*?)(?=<li class="chain-level|</ol>)', chain, re.S)
    )
    assert f'href="{person_url(people["town"].pk)}"' in blocks[tree.v1.code]
    assert f'href="{person_url(city.pk)}"' in blocks[tree.debao.code]
    assert "市长丁" in blocks[tree.baise.code]
    assert "/people/" not in blocks[tree.baise.code]
    # ... and the grid above the jurisdiction is named but not linked.
    assert "百色市" in chain and f'href="{grid_url(tree.baise.code)}"' not in chain

    before = AuditEvent.objects.count()
    response = commander.get(call)
    assert response.status_code == 302
    assert response["Location"] == f"tel:+86{people['town'].mobile}"
    assert AuditEvent.objects.count() == before + 1
    assert AuditEvent.objects.latest("at").actor == county_commander


def test_chain_gap_appears_when_the_baobao_leader_ends(commander, people, tree):
    html = commander.get(grid_url(tree.v1.code)).content.decode()
    assert 'data-gap="no_baobao_leader"' not in section(html, "chain").split("data-grid=")[1]
    leader = people["v1_leader"]
    assignment_end(assignment=leader, end_date=leader.start_date)
    chain = section(commander.get(grid_url(tree.v1.code)).content.decode(), "chain")
    first_level = chain.split('<li class="chain-level')[1]
    assert 'data-gap="no_baobao_leader"' in first_level
    assert 'data-gap="no_grid_chief"' in first_level


# --- The grid page: team ----------------------------------------------------------------------------


def test_team_lists_who_holds_which_role_now(commander, people, tree):
    html = commander.get(grid_url(tree.v1.code)).content.decode()
    team = section(html, "team")
    rows = re.findall(r'<tr data-assignment="(\d+)" data-role="(\w+)">', team)
    assert sorted(rows) == sorted(
        [
            (str(people["v1_leader"].pk), "baobao_leader"),
            (str(people["doctor_on_v1"].pk), "doctor"),
        ]
    )
    assert "医生丙" in team and "德保县卫健局" in team
    assert f'href="/api/v1/assignments/{people["doctor_on_v1"].pk}/call/"' in team
    assert "139****5678" in team
    assert f'href="/people/?grid={tree.v1.code}"' in team

    assignment_end(assignment=people["doctor_on_v1"], end_date=people["doctor_on_v1"].start_date)
    team = section(commander.get(grid_url(tree.v1.code)).content.decode(), "team")
    assert "医生丙" not in team


# --- The grid page: staffing -------------------------------------------------------------------------


def test_staffing_shows_shortages_and_the_rollup(client, people, tree, county_commander):
    client.force_login(county_commander)
    # 古寿村 and its hamlet are fully staffed; 那温村 and its hamlets are not.
    fill_team(tree.v2)
    fill_team(tree.h21)
    staff(tree.v1, "full_time_worker", 2)

    html = client.get(grid_url(tree.v1.code), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    staffing = section(html, "staffing")
    assert 'class="staffing-status short"' in staffing
    shortages = dict(
        re.findall(r'<span class="shortage" data-role="(\w+)">[^<]*? (\d+)</span>', staffing)
    )
    # Village needs (the larger of the templates): grid chief 1, full-time 3, part-time 1,
    # doctor 1 (staffed), police 1, volunteer 1.
    assert shortages == {
        "grid_chief": "1",
        "full_time_worker": "1",
        "part_time_worker": "1",
        "police": "1",
        "volunteer": "1",
    }
    assert '<tr data-role="doctor">' in staffing  # staffed: not marked short
    assert "1+1+N+K" in staffing

    html = client.get(grid_url(tree.dongling.code), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    staffing = section(html, "staffing")
    rollup = re.findall(r"<li class=\"(ok|short)\">([^<]+)</li>", staffing)
    assert rollup[0] == (
        "short",
        "1 of 2 village grids fully staffed; short: grid chief 1, full-time grid worker 1, "
        "part-time grid worker 1, police officer 1, volunteer 1",
    )
    assert rollup[1][0] == "short"
    assert rollup[1][1].startswith("1 of 3 hamlet grids fully staffed; short: ")

    # The children table: 古寿村's subtree is complete, 那温村's is short.
    cells = dict(re.findall(r'<tr data-code="([^"]+)">.*?data-staffing="(\w+)"', html, re.S))
    assert cells == {tree.v1.code: "short", tree.v2.code: "ok"}
    v1_row = re.search(rf'<tr data-code="{tree.v1.code}">.*?</tr>', html, re.S).group(0)
    assert re.search(r"short \d+", v1_row)
    assert "0 of 3 grids fully staffed" in v1_row
    v2_row = re.search(rf'<tr data-code="{tree.v2.code}">.*?</tr>', html, re.S).group(0)
    assert "fully staffed" in v2_row and "2 of 2 grids fully staffed" in v2_row

    # The map knows each child's staffing for its colouring switch.
    features = json.loads(
        re.search(
            r'<script id="grid-features" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert {f["id"]: f["properties"]["staffing"] for f in features["features"]} == {
        tree.v1.code: "short",
        tree.v2.code: "ok",
    }
    assert 'id="map-colouring"' in html
    assert '<script src="/static/js/personnel.js"></script>' in html


def test_staffing_rollup_follows_an_ended_assignment(client, tree, county_commander):
    client.force_login(county_commander)
    fill_team(tree.v2)
    fill_team(tree.h21)
    html = client.get(grid_url(tree.dongling.code)).content.decode()
    assert re.search(rf'<tr data-code="{tree.v2.code}">.*?data-staffing="ok"', html, re.S)
    doctor = tree.v2.assignments.get(role__code="doctor")
    assignment_end(assignment=doctor, end_date=doctor.start_date)
    html = client.get(grid_url(tree.dongling.code)).content.decode()
    assert re.search(rf'<tr data-code="{tree.v2.code}">.*?data-staffing="short"', html, re.S)


def test_a_grid_without_a_template_says_so(client, tree, superuser):
    from personnel.models import TeamTemplate

    client.force_login(superuser)
    TeamTemplate.objects.all().delete()
    html = client.get(grid_url(tree.dongling.code)).content.decode()
    assert 'class="staffing-status none"' in section(html, "staffing")
    assert re.findall(r'data-staffing="(\w+)"', html) == ["none", "none"]


# --- The grid page: pioneer posts ----------------------------------------------------------------


def test_posts_are_counted_by_type_own_and_per_child(commander, tree):
    order = PostType.objects.get(code="order_maintenance")
    medical = PostType.objects.get(code="medical_aid")
    members = [make_person(grid=tree.dongling, party=True) for _ in range(4)]
    post_claim(person=members[0], grid=tree.dongling, post_type=order)
    post_claim(person=members[1], grid=tree.v1, post_type=order)
    post_claim(person=members[2], grid=tree.h11, post_type=medical)
    post_claim(person=members[3], grid=tree.v2, post_type=medical)
    napo_member = make_person(grid=tree.nv1, party=True)
    post_claim(person=napo_member, grid=tree.nv1, post_type=medical)

    html = commander.get(grid_url(tree.dongling.code)).content.decode()
    posts = section(html, "posts")
    types = [t.code for t in PostType.objects.all()]

    def row(key):
        tr = re.search(rf'<tr class="posts-\w+" data-posts="{key}">(.*?)</tr>', posts, re.S)
        cells = [int(n) for n in re.findall(r'<td class="num"[^>]*>(\d+)</td>', tr.group(1))]
        return dict(zip(types + ["total"], cells, strict=True))

    assert row("subtree") == {
        "convenience_services": 0,
        "medical_aid": 2,
        "order_maintenance": 2,
        "psychological_counselling": 0,
        "total": 4,
    }
    assert row("own")["order_maintenance"] == 1 and row("own")["total"] == 1
    assert row(tree.v1.code)["order_maintenance"] == 1
    assert row(tree.v1.code)["medical_aid"] == 1
    assert row(tree.v2.code)["medical_aid"] == 1 and row(tree.v2.code)["total"] == 1


def test_no_posts_says_so(commander, tree):
    posts = section(commander.get(grid_url(tree.v1.code)).content.decode(), "posts")
    assert "<table" not in posts


# --- Query counts of the grid page -----------------------------------------------------------------

# tests/test_pages.py pins the whole page (GRID_PAGE_QUERIES); here the same number holds
# with people, claims, more children and a deeper grid.


def test_grid_page_query_count_is_fixed_with_people_children_and_depth(
    commander, people, tree, django_assert_num_queries
):
    with django_assert_num_queries(GRID_PAGE_QUERIES):
        commander.get(grid_url(tree.dongling.code))

    fill_team(tree.v1)
    fill_team(tree.v2)
    for n in range(5):
        village = make_grid(f"45102410{n + 10:04d}", f"新村{n}", level=4, parent=tree.dongling)
        staff(village, "doctor")
        member = make_person(grid=village, party=True)
        post_claim(person=member, grid=village, post_type=PostType.objects.first())
    with django_assert_num_queries(GRID_PAGE_QUERIES):
        response = commander.get(grid_url(tree.dongling.code))
    assert len(re.findall(r'<tr data-code="', response.content.decode())) == 7

    # Deeper grids (more chain levels) cost the same; a hamlet adds only its households.
    for code in (tree.debao.code, tree.v1.code):
        with django_assert_num_queries(GRID_PAGE_QUERIES):
            commander.get(grid_url(code))
    with django_assert_num_queries(GRID_PAGE_QUERIES + 1):
        commander.get(grid_url(tree.h11.code))
