"""The grid tree API, through HTTP with token auth: content, filters, jurisdiction scoping
(anything outside answers 404 exactly like a code that does not exist), masking and
pinned query counts."""

import json

import pytest
from rest_framework.test import APIClient

from grids.models import GridNode, Household, Level
from tests.factories import make_grid, make_household, make_user, square

pytestmark = pytest.mark.django_db

DEBAO_SUBTREE = {
    "451024000000",
    "451024100000",
    "451024100001",
    "451024100002",
    "451024100001001",
    "451024100001002",
    "451024100002001",
    "DB-HOSP-1",
}
NAPO_SUBTREE = {"451026000000", "451026100000", "451026100001", "451026100001001"}
OUTSIDE_DEBAO = sorted(NAPO_SUBTREE | {"451000000000"})  # Napo, and Baise above Debao
MISSING = "451099999999"


def url(code=None, suffix=""):
    if code is None:
        return "/api/v1/grids/"
    return f"/api/v1/grids/{code}/{suffix + '/' if suffix else ''}"


def codes(response):
    body = response.json()
    items = body["results"] if "results" in body else body["features"]
    return [item["code"] if "code" in item else item["id"] for item in items]


@pytest.fixture
def commander_api(county_commander, api_client_for):
    return api_client_for(county_commander)


@pytest.fixture
def superuser_api(superuser, api_client_for):
    return api_client_for(superuser)


# --- List and filters -----------------------------------------------------------------------


def test_commander_lists_only_the_debao_subtree(tree, commander_api):
    response = commander_api.get(url())
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == len(DEBAO_SUBTREE)
    assert set(codes(response)) == DEBAO_SUBTREE


def test_superuser_lists_everything(tree, superuser_api):
    response = superuser_api.get(url())
    assert response.status_code == 200
    assert set(codes(response)) == set(GridNode.objects.values_list("code", flat=True))
    assert NAPO_SUBTREE <= set(codes(response))


def test_list_row_content(tree, commander_api):
    response = commander_api.get(url(), {"parent": tree.dongling.code})
    v1 = next(row for row in response.json()["results"] if row["code"] == tree.v1.code)
    assert v1 == {
        "code": "451024100001",
        "name": "那温村",
        "parent": "451024100000",
        "level": Level.VILLAGE,
        "level_label": v1["level_label"],
        "category": "non_border",
        "category_label": v1["category_label"],
        "kind": "cell",
        "kind_label": v1["kind_label"],
        "expected_households": 0,
        "expected_population": 0,
        "point": [pytest.approx(106.125), pytest.approx(23.325)],
        "child_count": 2,
    }
    assert v1["level_label"] and v1["category_label"] and v1["kind_label"]


def test_list_is_paginated_by_limit_and_offset(tree, commander_api):
    first = commander_api.get(url(), {"limit": 3}).json()
    second = commander_api.get(url(), {"limit": 3, "offset": 3}).json()
    assert first["count"] == len(DEBAO_SUBTREE)
    assert len(first["results"]) == 3 and first["next"]
    page_codes = [r["code"] for r in first["results"] + second["results"]]
    assert len(set(page_codes)) == 6


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"parent": "451024100001"}, {"451024100001001", "451024100001002"}),
        ({"parent": "451024000000"}, {"451024100000", "DB-HOSP-1"}),
        ({"level": "4"}, {"451024100001", "451024100002"}),
        ({"level": "village"}, {"451024100001", "451024100002"}),
        ({"level": "Village"}, {"451024100001", "451024100002"}),
        ({"level": "村"}, {"451024100001", "451024100002"}),
        ({"level": "county"}, {"451024000000", "DB-HOSP-1"}),
        ({"category": "unit"}, {"DB-HOSP-1"}),
        ({"category": "border"}, set()),
        ({"level": "county", "category": "non_border"}, {"451024000000"}),
        ({"parent": "451024100000", "level": "hamlet"}, set()),
        ({"parent": "", "level": ""}, DEBAO_SUBTREE),  # empty values do not filter
        ({"parent": MISSING}, set()),
    ],
)
def test_list_filters(tree, commander_api, params, expected):
    response = commander_api.get(url(), params)
    assert response.status_code == 200, response.content
    assert set(codes(response)) == expected


@pytest.mark.parametrize("parent", ["451026000000", "451026100000", "451000000000"])
def test_parent_filter_outside_jurisdiction_finds_nothing(tree, commander_api, parent):
    # Baise (the jurisdiction root's parent) included: naming it must not list Debao.
    response = commander_api.get(url(), {"parent": parent})
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_superuser_filters_across_counties(tree, superuser_api):
    assert set(codes(superuser_api.get(url(), {"category": "border"}))) == NAPO_SUBTREE
    assert set(codes(superuser_api.get(url(), {"parent": "451000000000"}))) == {
        "451024000000",
        "451026000000",
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"level": "9"}, "level"),
        ({"level": "0"}, "level"),
        ({"level": "-1"}, "level"),
        ({"level": "metropolis"}, "level"),
        ({"level": "²"}, "level"),
        ({"level": "4.0"}, "level"),
        ({"parent": "451024\x00"}, "parent"),
        ({"category": "urban"}, "category"),
        ({"parent": "not a code!"}, "parent"),
        ({"parent": "X" * 33}, "parent"),
    ],
)
def test_bad_filter_values_are_400_with_a_message(tree, commander_api, params, field):
    response = commander_api.get(url(), params)
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field]
    assert body[field] and all(isinstance(message, str) and message for message in body[field])


def test_bad_pagination_values_do_not_fail(tree, commander_api):
    response = commander_api.get(url(), {"limit": "lots", "offset": "-4"})
    assert response.status_code == 200
    assert set(codes(response)) == DEBAO_SUBTREE


# --- Detail, children, GeoJSON, households --------------------------------------------------


def test_detail(tree, commander_api):
    response = commander_api.get(url(tree.v1.code))
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == "451024100001"
    assert body["parent"] == "451024100000"
    assert body["level"] == Level.VILLAGE
    assert body["child_count"] == 2
    assert body["boundary"] == square(106.1, 23.3)
    assert body["point"] == [pytest.approx(106.125), pytest.approx(23.325)]
    # Breadcrumbs run from the jurisdiction root (Debao), not from Baise.
    assert [a["code"] for a in body["ancestors"]] == ["451024000000", "451024100000"]
    assert body["ancestors"][0] == {"code": "451024000000", "name": "德保县", "level": Level.COUNTY}


def test_jurisdiction_root_does_not_name_its_parent(tree, commander_api, superuser_api):
    mine = commander_api.get(url(tree.debao.code)).json()
    assert mine["parent"] is None and mine["ancestors"] == []
    listed = commander_api.get(url(), {"level": "county", "category": "non_border"}).json()
    assert listed["results"][0]["parent"] is None
    assert "451000000000" not in json.dumps(mine) + json.dumps(listed)

    everything = superuser_api.get(url(tree.debao.code)).json()
    assert everything["parent"] == "451000000000"
    assert [a["code"] for a in everything["ancestors"]] == ["451000000000"]


def test_detail_of_a_leaf_without_boundary(tree, commander_api):
    body = commander_api.get(url("DB-HOSP-1")).json()
    assert body["category"] == "unit" and body["kind"] == "dedicated"
    assert body["boundary"] is None and body["point"] is None
    assert body["child_count"] == 0


def test_children(tree, commander_api):
    response = commander_api.get(url(tree.debao.code, "children"))
    assert response.status_code == 200
    rows = {row["code"]: row for row in response.json()["results"]}
    assert set(rows) == {"451024100000", "DB-HOSP-1"}
    assert rows["451024100000"]["child_count"] == 2
    assert rows["451024100000"]["parent"] == "451024000000"
    assert rows["DB-HOSP-1"]["child_count"] == 0

    leaf = commander_api.get(url(tree.h11.code, "children")).json()
    assert leaf["count"] == 0 and leaf["results"] == []


def test_geojson_is_a_feature_collection_of_the_children(tree, commander_api):
    response = commander_api.get(url(tree.dongling.code, "geojson"))
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "FeatureCollection"
    features = {feature["id"]: feature for feature in body["features"]}
    assert set(features) == {"451024100001", "451024100002"}
    v1 = features["451024100001"]
    assert v1["type"] == "Feature"
    assert v1["geometry"] == square(106.1, 23.3)
    assert v1["properties"]["name"] == "那温村"
    assert v1["properties"]["category"] == "non_border"

    no_boundaries = commander_api.get(url(tree.v1.code, "geojson")).json()
    assert [f["geometry"] for f in no_boundaries["features"]] == [None, None]


def test_households_of_a_subtree_with_masked_phones(tree, commander_api):
    make_household(tree.h11, code="H1", phone="13812345678", head_name="黄一")
    make_household(tree.h12, code="H2", phone="0776-2821234")
    make_household(tree.h21, code="H3", phone="")
    make_household(tree.nh1, code="H-NAPO", phone="13912345678")

    response = commander_api.get(url(tree.dongling.code, "households"))
    assert response.status_code == 200
    rows = {row["code"]: row for row in response.json()["results"]}
    assert set(rows) == {"H1", "H2", "H3"}
    assert rows["H1"] == {
        "code": "H1",
        "grid": "451024100001001",
        "grid_name": "那温屯",
        "address": rows["H1"]["address"],
        "head_name": "黄一",
        "phone": "138****5678",
        "size": 3,
    }
    assert rows["H2"]["phone"] == "077*******34"
    assert rows["H3"]["phone"] == ""
    assert (
        "12345678" not in response.content.decode() and "2821234" not in response.content.decode()
    )

    one_village = commander_api.get(url(tree.v1.code, "households"))
    assert set(codes(one_village)) == {"H1", "H2"}


# --- Scoping: 404 outside the jurisdiction, 401 without a token -----------------------------

ENDPOINT_SUFFIXES = ["", "children", "geojson", "households"]


@pytest.mark.parametrize("suffix", ENDPOINT_SUFFIXES)
def test_outside_the_jurisdiction_is_404_exactly_like_a_missing_code(tree, commander_api, suffix):
    make_household(tree.nh1, code="H-NAPO")
    missing = commander_api.get(url(MISSING, suffix))
    assert missing.status_code == 404
    for code in OUTSIDE_DEBAO:
        response = commander_api.get(url(code, suffix))
        assert response.status_code == 404, code
        assert response.content == missing.content
        assert response.headers["Content-Type"] == missing.headers["Content-Type"]
    for code in DEBAO_SUBTREE:
        assert commander_api.get(url(code, suffix)).status_code == 200


def test_list_never_includes_codes_outside_the_jurisdiction(tree, commander_api):
    for params in [{}, {"level": "county"}, {"category": "border"}, {"limit": 1000}]:
        assert not set(codes(commander_api.get(url(), params))) & set(OUTSIDE_DEBAO)


@pytest.mark.parametrize("suffix", ENDPOINT_SUFFIXES)
def test_superuser_sees_napo_on_every_endpoint(tree, superuser_api, suffix):
    for code in [*OUTSIDE_DEBAO, *DEBAO_SUBTREE]:
        assert superuser_api.get(url(code, suffix)).status_code == 200, code


def test_user_without_jurisdiction_sees_nothing(tree, api_client_for):
    nobody = api_client_for(make_user(roles=["commander"], jurisdiction=None, username="nowhere"))
    listed = nobody.get(url())
    assert listed.status_code == 200 and listed.json()["count"] == 0
    missing = nobody.get(url(MISSING))
    for suffix in ENDPOINT_SUFFIXES:
        for code in ["451000000000", "451024000000", "451024100001001"]:
            response = nobody.get(url(code, suffix))
            assert response.status_code == 404
            if not suffix:
                assert response.content == missing.content


def test_a_jurisdiction_lower_down_sees_only_its_own_subtree(tree, api_client_for):
    village_chief = api_client_for(make_user(jurisdiction=tree.v1, username="v1_chief"))
    assert set(codes(village_chief.get(url()))) == {
        "451024100001",
        "451024100001001",
        "451024100001002",
    }
    assert village_chief.get(url(tree.v2.code)).status_code == 404
    assert village_chief.get(url(tree.dongling.code, "children")).status_code == 404


@pytest.mark.parametrize(
    "target",
    [url()]
    + [url(code, suffix) for code in ["451024000000", MISSING] for suffix in ENDPOINT_SUFFIXES],
)
def test_without_a_token_is_401(tree, target):
    response = APIClient().get(target)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    assert "detail" in response.json()


def test_a_session_works_too(tree, county_commander):
    # Pages (sessions) may call the API from the browser.
    client = APIClient()
    client.force_login(county_commander)
    assert set(codes(client.get(url()))) == DEBAO_SUBTREE


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_api_is_read_only(tree, commander_api, method):
    before = GridNode.objects.count(), Household.objects.count()
    for target in [url(), url(tree.debao.code), url(tree.debao.code, "children")]:
        response = getattr(commander_api, method)(target, {"code": "X"}, format="json")
        assert response.status_code == 405
    assert (GridNode.objects.count(), Household.objects.count()) == before


# --- Query counts: fixed, whatever the number of rows ---------------------------------------


def grow_village(tree, n):
    """Give village v2 n more hamlets, each with a boundary and two households."""
    for i in range(n):
        hamlet = make_grid(
            f"{tree.v2.code}{i + 2:03d}",
            level=Level.HAMLET,
            parent=tree.v2,
            boundary=square(106.2 + i * 0.001, 23.3),
        )
        make_household(hamlet)
        make_household(hamlet)


# Token and its user (1) + the user's jurisdiction (1), then per endpoint:
#   list: count + page; detail: grid + child count + breadcrumbs;
#   children/households: grid + count + page; geojson: grid + children.
QUERIES = {
    "list": 4,
    "detail": 5,
    "children": 5,
    "geojson": 4,
    "households": 5,
}


@pytest.mark.parametrize("n", [3, 20])
@pytest.mark.parametrize("endpoint", sorted(QUERIES))
def test_query_counts_do_not_grow_with_the_rows(
    tree, county_commander, api_client_for, django_assert_num_queries, endpoint, n
):
    grow_village(tree, n)
    client = api_client_for(county_commander)
    target, params = {
        "list": (url(), {}),
        "detail": (url(tree.v2.code), {}),
        "children": (url(tree.v2.code, "children"), {}),
        "geojson": (url(tree.v2.code, "geojson"), {}),
        "households": (url(tree.v2.code, "households"), {}),
    }[endpoint]
    with django_assert_num_queries(QUERIES[endpoint]):
        response = client.get(target, params)
    assert response.status_code == 200
    body = response.json()
    rows = body.get("results", body.get("features"))
    if endpoint in ("children", "geojson"):
        assert len(rows) == n + 1
    elif endpoint == "households":
        assert len(rows) == 2 * n
    elif endpoint == "list":
        assert len(rows) == len(DEBAO_SUBTREE) + n
    else:
        assert body["child_count"] == n + 1


@pytest.mark.parametrize("n", [3, 20])
def test_filtered_list_query_count_is_fixed(
    tree, county_commander, api_client_for, django_assert_num_queries, n
):
    grow_village(tree, n)
    client = api_client_for(county_commander)
    with django_assert_num_queries(4):
        response = client.get(url(), {"parent": tree.v2.code, "level": "hamlet"})
    assert response.json()["count"] == n + 1
