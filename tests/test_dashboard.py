"""The commander's dashboard page /dashboard/<code>/, through HTTP as a commander would,
on DailyStat rows written directly (the rollup's output contract); and once end to end,
from checks through the rollup to the page and the stats API."""

import datetime
import json
import re
import uuid

import pytest
from django.utils import timezone

from grids.models import Level
from screening.metrics import METRICS
from screening.models import DailyStat
from tests.factories import make_grid, make_household, square
from tests.stats_factories import numbers, put_stat

D = datetime.date(2022, 2, 10)
DAY = datetime.timedelta(days=1)


def dashboard_url(code, date=None):
    return f"/dashboard/{code}/" + (f"?date={date}" if date else "")


def embedded(html, element_id):
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S
    )
    return json.loads(match.group(1)) if match else None


def kpi_value(html, metric):
    match = re.search(
        rf'data-metric="{metric}">.*?<p class="kpi-value">([^<]*)</p>.*?kpi-prev-value">([^<]*)<',
        html,
        re.S,
    )
    return int(match.group(1)), int(match.group(2))


def child_rows(html):
    return re.findall(r'<tr data-code="([^"]+)"', html)


def cell(html, code, key):
    row = re.search(rf'<tr data-code="{re.escape(code)}".*?</tr>', html, re.S).group(0)
    return re.search(rf'data-key="{key}" data-value="([^"]*)"', row).group(1)


@pytest.fixture
def commander_client(client, county_commander):
    client.force_login(county_commander)
    return client


@pytest.fixture
def day_of_numbers(tree):
    """Debao on D and the day before, its two children on D: the township short of two
    leaves, the hospital fully reported."""
    stamp = timezone.make_aware(datetime.datetime(2022, 2, 10, 18, 30))
    put_stat(tree.debao, D, updated_at=stamp, **numbers(3))
    put_stat(tree.debao, D - DAY, **numbers(1))
    put_stat(
        tree.dongling,
        D,
        updated_at=stamp,
        **(numbers(2) | {"leaves_expected": 3, "leaves_reported": 1}),
    )
    put_stat(
        tree.hospital,
        D,
        updated_at=stamp,
        **(numbers(4) | {"leaves_expected": 1, "leaves_reported": 1}),
    )
    return tree


def test_dashboard_shows_the_day_next_to_the_day_before(commander_client, day_of_numbers):
    response = commander_client.get(dashboard_url("451024000000", "2022-02-10"))

    assert response.status_code == 200
    html = response.content.decode()
    today, yesterday = numbers(3), numbers(1)
    for metric in METRICS:
        assert kpi_value(html, metric.name) == (today[metric.name], yesterday[metric.name])
        assert str(metric.label) in html or str(metric.label).capitalize() in html
    # Coverage and reporting completeness of the node.
    assert f"{round(53 / 103 * 100, 1)}%" in html
    assert f"{today['leaves_reported']} / {today['leaves_expected']}" in html
    assert '<time datetime="2022-02-10T18:30:00+08:00">2022-02-10 18:30</time>' in html


def test_children_not_yet_reported_are_listed_with_their_shortfall(
    commander_client, day_of_numbers
):
    html = commander_client.get(dashboard_url("451024000000", "2022-02-10")).content.decode()
    late = re.search(r'<section class="card dash-late".*?</section>', html, re.S).group(0)
    assert re.findall(r'<li data-code="([^"]+)"', late) == ["451024100000"]
    assert "东凌镇" in late and "德保县人民医院" not in late
    assert re.search(r"2\D+3", re.search(r'class="shortfall">([^<]*)<', late).group(1))


def test_children_table_has_every_metric_and_drills_down(commander_client, day_of_numbers):
    html = commander_client.get(dashboard_url("451024000000", "2022-02-10")).content.decode()
    assert child_rows(html) == ["451024100000", "DB-HOSP-1"]
    for metric in METRICS:
        assert cell(html, "451024100000", metric.name) == str(numbers(2)[metric.name])
        assert cell(html, "DB-HOSP-1", metric.name) == str(numbers(4)[metric.name])
    assert cell(html, "451024100000", "leaves_missing") == "2"
    assert cell(html, "DB-HOSP-1", "coverage") == str(round(54 / 104 * 100, 1))
    # Each row opens the child's dashboard for the same date.
    assert 'href="/dashboard/451024100000/?date=2022-02-10"' in html
    assert 'href="/dashboard/DB-HOSP-1/?date=2022-02-10"' in html


def test_trend_covers_fourteen_days_ending_on_the_date(commander_client, day_of_numbers):
    html = commander_client.get(dashboard_url("451024000000", "2022-02-10")).content.decode()
    trend = embedded(html, "trend-data")
    assert trend["days"][0] == "2022-01-28" and trend["days"][-1] == "2022-02-10"
    assert len(trend["days"]) == 14
    series = {s["name"]: s["data"] for s in trend["series"]}
    assert set(series) == {"households_checked"} | {m.name for m in METRICS}
    for metric in METRICS:
        assert series[metric.name] == [0] * 12 + [numbers(1)[metric.name], numbers(3)[metric.name]]


def test_map_features_carry_the_figures_the_commander_can_colour_by(
    commander_client, day_of_numbers
):
    html = commander_client.get(dashboard_url("451024000000", "2022-02-10")).content.decode()
    features = embedded(html, "dash-features")["features"]
    # The hospital has no boundary: in the table, not on the map.
    assert [f["id"] for f in features] == ["451024100000"]
    props = features[0]["properties"]
    assert props["url"] == "/dashboard/451024100000/"
    assert props["coverage"] == round(52 / 102 * 100, 1)
    assert props["leaves_missing"] == 2
    assert props["returnees_risk_area"] == numbers(2)["returnees_risk_area"]
    assert props["fever"] == numbers(2)["fever"]
    options = re.findall(r'<option value="([^"]+)"', html)
    assert options[0] == "coverage" and options[-1] == "leaves_missing"
    assert {"returnees_risk_area", "fever"} <= set(options)
    assert "leaflet/leaflet.js" in html and "vendor/echarts/echarts.common.min.js" in html


def test_no_rows_yet_shows_zeros_over_the_households_of_the_tree(commander_client, tree):
    for grid in (tree.h11, tree.h12, tree.hospital):
        make_household(grid)
    html = commander_client.get(dashboard_url("451024000000")).content.decode()
    assert "0 / 4" in html  # no leaf has reported
    assert kpi_value(html, "fever") == (0, 0)
    assert cell(html, "451024100000", "households_checked") == "0"
    assert "/3</span>" in html  # Dongling's three households
    assert "<time" not in html  # nothing rolled up yet


def test_default_date_is_today_in_shanghai(commander_client, tree):
    today = timezone.localdate()
    put_stat(tree.debao, today, **numbers(5))
    html = commander_client.get(dashboard_url("451024000000")).content.decode()
    assert f'value="{today.isoformat()}"' in html
    assert kpi_value(html, "fever")[0] == numbers(5)["fever"]


def test_a_bad_date_says_so_and_shows_today(commander_client, tree):
    response = commander_client.get(dashboard_url("451024000000", "2022-02-31"))
    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html and "2022-02-31" in html
    assert f'value="{timezone.localdate().isoformat()}"' in html


def test_a_leaf_dashboard_has_no_children_table(commander_client, tree):
    put_stat(tree.h11, D, **(numbers(1) | {"leaves_expected": 1, "leaves_reported": 0}))
    html = commander_client.get(dashboard_url(tree.h11.code, "2022-02-10")).content.decode()
    assert child_rows(html) == []
    assert "children-table" not in html
    assert f'href="/grids/{tree.h11.code}/"' in html


def test_breadcrumbs_lead_to_the_dashboards_above_within_the_jurisdiction(commander_client, tree):
    html = commander_client.get(dashboard_url(tree.v1.code)).content.decode()
    assert 'href="/dashboard/451024000000/"' in html
    assert 'href="/dashboard/451024100000/"' in html
    assert 'href="/dashboard/451000000000/"' not in html


def test_outside_the_jurisdiction_is_404(commander_client, tree):
    put_stat(tree.napo, D, **numbers(1))
    assert commander_client.get(dashboard_url(tree.napo.code)).status_code == 404
    assert commander_client.get(dashboard_url(tree.baise.code)).status_code == 404
    assert commander_client.get(dashboard_url("nonexistent")).status_code == 404


def test_anonymous_users_are_sent_to_login(client, tree):
    response = client.get(dashboard_url("451024000000"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_home_of_a_commander_is_the_dashboard_with_a_nav_link(commander_client, tree):
    response = commander_client.get("/", follow=True)
    assert response.redirect_chain[-1] == ("/dashboard/451024000000/", 302)
    assert 'href="/dashboard/451024000000/"' in response.content.decode()


def test_no_asset_comes_from_outside_the_site(commander_client, day_of_numbers):
    html = commander_client.get(dashboard_url("451024000000", "2022-02-10")).content.decode()
    assert not re.search(
        r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", html, re.I
    )


# --- Query counts ---------------------------------------------------------------------------

# Session, user, the grid, the breadcrumbs' ancestors, the children, the DailyStat rows of
# the trend and the children, and for the base template the user's jurisdiction and groups.
DASHBOARD_QUERIES = 8


def township_with_villages(tree, n):
    township = make_grid(
        f"4510241{n:02d}000", f"测试镇{n}", level=Level.TOWNSHIP, parent=tree.debao
    )
    villages = [
        make_grid(
            f"4510241{n:02d}{i:03d}",
            f"村{i}",
            level=Level.VILLAGE,
            parent=township,
            boundary=square(106 + i * 0.05, 23.0),
        )
        for i in range(1, n + 1)
    ]
    return township, villages


@pytest.mark.parametrize(("n", "days"), [(3, 1), (20, 14)])
def test_dashboard_queries_do_not_grow_with_children_or_days(
    commander_client, tree, n, days, django_assert_num_queries
):
    township, villages = township_with_villages(tree, n)
    for i in range(days):
        put_stat(township, D - i * DAY, **numbers(i))
    for i, village in enumerate(villages):
        put_stat(village, D, **numbers(i))

    # Days without a row need the tree's households and leaves: one more query.
    with django_assert_num_queries(DASHBOARD_QUERIES + (days < 14)):
        response = commander_client.get(dashboard_url(township.code, "2022-02-10"))

    assert child_rows(response.content.decode()) == [v.code for v in villages]


# --- End to end: checks -> rollup -> dashboard and API -----------------------------------------


def test_checks_reach_the_dashboard_and_the_stats_api(
    commander_client,
    api_client_for,
    county_commander,
    superuser,
    tree,
    django_capture_on_commit_callbacks,
):
    from screening.services import check_submit, zero_report_file

    first = make_household(tree.h11)
    make_household(tree.h11)
    make_household(tree.h21)
    # Written through the services, whose commit runs the rollup in-process (the embedded
    # default), as when a grid worker submits from the phone page.
    with django_capture_on_commit_callbacks(execute=True):
        check_submit(
            user=superuser,
            household=first,
            uuid=uuid.uuid4(),
            counts={"persons_present": 3, "returnees": 2, "returnees_risk_area": 2, "fever": 1},
        )
    with django_capture_on_commit_callbacks(execute=True):
        zero_report_file(user=superuser, grid=tree.h21)
    today = timezone.localdate()
    assert DailyStat.objects.filter(node=tree.debao, day=today).exists()

    html = commander_client.get(dashboard_url("451024000000")).content.decode()
    assert kpi_value(html, "fever")[0] == 1
    assert kpi_value(html, "returnees_risk_area")[0] == 2
    assert cell(html, "451024100000", "fever") == "1"
    assert "2 / 4" in html  # the hamlet with the check and the one with the zero report
    assert "<time" in html

    body = api_client_for(county_commander).get("/api/v1/grids/451024000000/stats/").json()
    node = body["node"]
    assert (node["fever"], node["persons_present"], node["returnees_risk_area"]) == (1, 3, 2)
    assert (node["households_checked"], node["households_total"]) == (1, 3)
    assert (node["leaves_reported"], node["leaves_expected"]) == (2, 4)
    dongling, hospital = body["children"]
    assert (dongling["leaves_reported"], dongling["leaves_expected"]) == (2, 3)
    assert (hospital["leaves_reported"], hospital["leaves_expected"]) == (0, 1)
    assert body["as_of"] is not None
