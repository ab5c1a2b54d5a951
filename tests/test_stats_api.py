"""GET /api/v1/grids/{code}/stats/: a node's numbers with one entry per child, or a daily
series; built on DailyStat rows written directly (the rollup's output contract)."""

import datetime

import pytest
from django.utils import timezone

from grids.models import Level
from screening.metrics import COVERAGE_FIELDS, METRIC_NAMES
from screening.models import DailyStat
from screening.stats import MAX_SERIES_DAYS
from tests.factories import make_grid, make_household, make_user
from tests.stats_factories import numbers, put_stat

D = datetime.date(2022, 2, 10)
NUMBER_FIELDS = set(METRIC_NAMES) | set(COVERAGE_FIELDS)


def stats_url(code, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/grids/{code}/stats/" + (f"?{query}" if query else "")


@pytest.fixture
def commander_api(api_client_for, county_commander):
    return api_client_for(county_commander)


def only_numbers(entry):
    return {k: v for k, v in entry.items() if k in NUMBER_FIELDS}


def test_a_day_gives_the_node_and_one_entry_per_child(commander_api, tree):
    stamp = timezone.make_aware(datetime.datetime(2022, 2, 10, 18, 30))
    put_stat(tree.debao, D, updated_at=stamp, **numbers(1))
    put_stat(tree.dongling, D, updated_at=stamp - datetime.timedelta(minutes=5), **numbers(2))
    put_stat(tree.hospital, D, updated_at=stamp - datetime.timedelta(minutes=9), **numbers(3))
    # Other days and other nodes do not leak in.
    put_stat(tree.debao, D - datetime.timedelta(days=1), **numbers(7))
    put_stat(tree.v1, D, **numbers(8))

    response = commander_api.get(stats_url(tree.debao.code, date="2022-02-10"))

    assert response.status_code == 200
    body = response.json()
    assert body["date"] == "2022-02-10"
    assert body["as_of"] == "2022-02-10T18:30:00+08:00"
    node = body["node"]
    assert (node["code"], node["name"], node["level"]) == ("451024000000", "德保县", Level.COUNTY)
    assert only_numbers(node) == numbers(1)
    assert node["coverage"] == pytest.approx(51 / 101)
    assert node["as_of"] == "2022-02-10T18:30:00+08:00"
    assert [c["code"] for c in body["children"]] == ["451024100000", "DB-HOSP-1"]
    assert only_numbers(body["children"][0]) == numbers(2)
    assert only_numbers(body["children"][1]) == numbers(3)
    assert body["children"][1]["kind"] == "dedicated"
    # Field names follow the metric definitions.
    assert NUMBER_FIELDS | {"coverage", "as_of"} <= set(node)


def test_a_day_without_rows_is_zeros_with_the_households_and_leaves_of_the_tree(
    commander_api, tree
):
    for grid in (tree.h11, tree.h11, tree.h12, tree.h21, tree.hospital):
        make_household(grid)
    # A row for another day says nothing about this one.
    put_stat(tree.debao, D - datetime.timedelta(days=1), **numbers(1))

    body = commander_api.get(stats_url(tree.debao.code, date="2022-02-10")).json()

    assert body["as_of"] is None
    zeros = dict.fromkeys(METRIC_NAMES, 0) | {"households_checked": 0, "leaves_reported": 0}
    # Leaves: the three hamlets and the hospital (a dedicated grid reports for itself).
    assert only_numbers(body["node"]) == zeros | {"households_total": 5, "leaves_expected": 4}
    assert body["node"]["coverage"] == 0
    assert body["node"]["as_of"] is None
    dongling, hospital = body["children"]
    assert only_numbers(dongling) == zeros | {"households_total": 4, "leaves_expected": 3}
    assert only_numbers(hospital) == zeros | {"households_total": 1, "leaves_expected": 1}


def test_a_child_with_a_row_and_one_without_on_the_same_day(commander_api, tree):
    put_stat(tree.debao, D, **numbers(1))
    put_stat(tree.dongling, D, **numbers(2))
    make_household(tree.hospital)

    body = commander_api.get(stats_url(tree.debao.code, date="2022-02-10")).json()

    dongling, hospital = body["children"]
    assert only_numbers(dongling) == numbers(2)
    assert hospital["households_total"] == 1 and hospital["leaves_expected"] == 1
    assert hospital["households_checked"] == 0 and hospital["coverage"] == 0
    assert hospital["as_of"] is None


def test_no_date_means_today_in_shanghai(commander_api, tree):
    today = timezone.localdate()
    put_stat(tree.debao, today, **numbers(4))
    body = commander_api.get(stats_url(tree.debao.code)).json()
    assert body["date"] == today.isoformat()
    assert only_numbers(body["node"]) == numbers(4)


def test_a_leaf_has_no_children(commander_api, tree):
    put_stat(tree.h11, D, **numbers(1))
    body = commander_api.get(stats_url(tree.h11.code, date="2022-02-10")).json()
    assert body["children"] == []
    assert only_numbers(body["node"]) == numbers(1)


def test_from_to_gives_the_nodes_daily_series(commander_api, tree):
    make_household(tree.h11)
    put_stat(tree.debao, D - datetime.timedelta(days=2), **numbers(1))
    put_stat(tree.debao, D, **numbers(3))
    put_stat(tree.dongling, D, **numbers(5))  # children are not part of a series

    response = commander_api.get(
        stats_url(tree.debao.code, **{"from": "2022-02-08", "to": "2022-02-10"})
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["from"], body["to"]) == ("451024000000", "2022-02-08", "2022-02-10")
    assert "children" not in body
    assert [p["date"] for p in body["series"]] == ["2022-02-08", "2022-02-09", "2022-02-10"]
    assert only_numbers(body["series"][0]) == numbers(1)
    # A day nobody checked: zeros, with the households and leaves of the tree.
    gap = body["series"][1]
    assert gap["as_of"] is None
    assert only_numbers(gap) == dict.fromkeys(NUMBER_FIELDS, 0) | {
        "households_total": 1,
        "leaves_expected": 4,
    }
    assert only_numbers(body["series"][2]) == numbers(3)


def test_a_single_day_series_and_the_longest_allowed(commander_api, tree):
    one = commander_api.get(
        stats_url(tree.debao.code, **{"from": "2022-02-10", "to": "2022-02-10"})
    )
    assert [p["date"] for p in one.json()["series"]] == ["2022-02-10"]
    last = D + datetime.timedelta(days=MAX_SERIES_DAYS - 1)
    longest = commander_api.get(
        stats_url(tree.debao.code, **{"from": "2022-02-10", "to": last.isoformat()})
    )
    assert longest.status_code == 200
    assert len(longest.json()["series"]) == MAX_SERIES_DAYS


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date": "2022-02-30"}, "date"),
        ({"date": "yesterday"}, "date"),
        ({"date": "20220210"}, "date"),  # Python would take it; the API asks for YYYY-MM-DD
        ({"date": "2022-W06-4"}, "date"),
        ({"date": "1899-12-31"}, "date"),
        ({"from": "2022-02-10"}, "to"),
        ({"to": "2022-02-10"}, "from"),
        ({"from": "2022-02-11", "to": "2022-02-10"}, "to"),
        ({"from": "2022-02-10", "to": "2023-02-11"}, "to"),  # 367 days
        ({"from": "2022-13-01", "to": "2022-02-10"}, "from"),
        ({"date": "2022-02-10", "from": "2022-02-01", "to": "2022-02-10"}, "date"),
    ],
)
def test_bad_dates_and_ranges_are_400_naming_the_parameter(commander_api, tree, params, field):
    response = commander_api.get(f"/api/v1/grids/{tree.debao.code}/stats/", params)
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field]
    message = " ".join(body[field]) if isinstance(body[field], list) else body[field]
    assert "YYYY-MM-DD" in message or "366" in message or "from" in message


def test_outside_the_jurisdiction_is_404_like_a_missing_grid(commander_api, tree):
    put_stat(tree.napo, D, **numbers(1))
    outside = commander_api.get(stats_url(tree.napo.code, date="2022-02-10"))
    parent = commander_api.get(stats_url(tree.baise.code, date="2022-02-10"))
    missing = commander_api.get(stats_url("451099000000", date="2022-02-10"))
    assert outside.status_code == parent.status_code == missing.status_code == 404
    assert outside.json() == missing.json()
    series = commander_api.get(
        stats_url(tree.napo.code, **{"from": "2022-02-09", "to": "2022-02-10"})
    )
    assert series.status_code == 404


def test_a_superuser_sees_any_grid_and_anonymous_users_none(
    api_client_for, superuser, tree, client
):
    put_stat(tree.napo, D, **numbers(2))
    body = api_client_for(superuser).get(stats_url(tree.napo.code, date="2022-02-10")).json()
    assert only_numbers(body["node"]) == numbers(2)
    assert client.get(stats_url(tree.napo.code)).status_code in (401, 403)


def test_a_user_without_jurisdiction_sees_nothing(api_client_for, tree):
    nobody = make_user(jurisdiction=None, username="nobody")
    assert api_client_for(nobody).get(stats_url(tree.debao.code)).status_code == 404


# --- Query counts -------------------------------------------------------------------------------


def township_with_villages(tree, n):
    township = make_grid(
        f"4510241{n:02d}000", f"测试镇{n}", level=Level.TOWNSHIP, parent=tree.debao
    )
    villages = [
        make_grid(f"4510241{n:02d}{i:03d}", f"村{i}", level=Level.VILLAGE, parent=township)
        for i in range(1, n + 1)
    ]
    return township, villages


# Token and user, the user's jurisdiction (scoping), the grid, its children, the DailyStat rows.
SNAPSHOT_QUERIES = 5


@pytest.mark.parametrize("n", [3, 20])
def test_the_days_numbers_cost_the_same_queries_for_3_or_20_children(
    commander_api, tree, n, django_assert_num_queries
):
    township, villages = township_with_villages(tree, n)
    put_stat(township, D, **numbers(1))
    for i, village in enumerate(villages):
        put_stat(village, D, **numbers(i))

    with django_assert_num_queries(SNAPSHOT_QUERIES):
        response = commander_api.get(stats_url(township.code, date="2022-02-10"))

    assert len(response.json()["children"]) == n


@pytest.mark.parametrize("n", [3, 20])
def test_missing_rows_cost_one_query_more_whatever_the_children(
    commander_api, tree, n, django_assert_num_queries
):
    township, villages = township_with_villages(tree, n)
    put_stat(township, D, **numbers(1))
    put_stat(villages[0], D, **numbers(2))  # the others have no row

    with django_assert_num_queries(SNAPSHOT_QUERIES + 1):
        response = commander_api.get(stats_url(township.code, date="2022-02-10"))

    assert [c["leaves_expected"] for c in response.json()["children"][1:]] == [1] * (n - 1)


@pytest.mark.parametrize("days", [1, 14])
def test_a_series_costs_the_same_queries_for_1_or_14_days(
    commander_api, tree, days, django_assert_num_queries
):
    first = D - datetime.timedelta(days=days - 1)
    for i in range(days):
        put_stat(tree.debao, first + datetime.timedelta(days=i), **numbers(i))

    # Token and user, the user's jurisdiction, the grid, the rows.
    with django_assert_num_queries(4):
        response = commander_api.get(
            stats_url(tree.debao.code, **{"from": first.isoformat(), "to": "2022-02-10"})
        )

    assert [only_numbers(p) for p in response.json()["series"]] == [numbers(i) for i in range(days)]


def test_nothing_is_written_by_reading(commander_api, tree):
    put_stat(tree.debao, D, **numbers(1))
    before = list(DailyStat.objects.values())
    commander_api.get(stats_url(tree.debao.code, date="2022-02-10"))
    commander_api.get(stats_url(tree.debao.code, **{"from": "2022-02-01", "to": "2022-02-10"}))
    assert list(DailyStat.objects.values()) == before
