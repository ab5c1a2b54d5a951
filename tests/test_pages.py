"""The web pages: login, the grid browser and its map, through HTTP as a user would."""

import json
import re

import pytest
from django.test import Client
from django.utils import translation

from grids.models import Category, Level
from tests.factories import make_grid, make_household, make_user, square

PASSWORD = "pass-Word-123"

# A <script src> or <link href> pointing off the site (http://, https:// or //host).
EXTERNAL_ASSET = re.compile(
    r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.I
)
FEATURES_SCRIPT = re.compile(
    r'<script id="grid-features" type="application/json">(.*?)</script>', re.S
)
BREADCRUMBS = re.compile(r'<nav class="breadcrumbs".*?</nav>', re.S)


def grid_url(code):
    return f"/grids/{code}/"


def embedded_features(html: str) -> dict | None:
    match = FEATURES_SCRIPT.search(html)
    return json.loads(match.group(1)) if match else None


def breadcrumb_names(html: str) -> list[str]:
    nav = BREADCRUMBS.search(html).group(0)
    return re.findall(r"<li>(?:<a [^>]*>|<span [^>]*>)([^<]+)<", nav)


def child_rows(html: str) -> list[str]:
    return re.findall(r'<tr data-code="([^"]+)">', html)


@pytest.fixture
def commander_client(client, county_commander):
    client.force_login(county_commander)
    return client


# --- Login, logout, home --------------------------------------------------------------


def test_login_form_with_csrf_logs_in_and_lands_on_the_jurisdiction(county_commander):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/accounts/login/")
    assert page.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()
    token = browser.cookies["csrftoken"].value

    response = browser.post(
        "/accounts/login/",
        {"username": "debao_commander", "password": PASSWORD, "csrfmiddlewaretoken": token},
        follow=True,
    )

    # A commander lands on their jurisdiction's dashboard (issue 4).
    assert response.redirect_chain == [("/", 302), ("/dashboard/451024000000/", 302)]
    assert response.status_code == 200
    assert response.wsgi_request.user == county_commander


def test_login_without_csrf_token_is_refused(county_commander):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(
        "/accounts/login/", {"username": "debao_commander", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "_auth_user_id" not in browser.session


def test_login_with_a_wrong_password_shows_the_form_again(client, county_commander):
    response = client.post("/accounts/login/", {"username": "debao_commander", "password": "wrong"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_is_a_post(commander_client):
    assert commander_client.get("/accounts/logout/").status_code == 405
    assert "_auth_user_id" in commander_client.session

    response = commander_client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in commander_client.session


def test_home_redirects_to_the_users_jurisdiction(commander_client):
    response = commander_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/451024000000/"


def test_home_of_a_grid_worker_is_the_work_page(client, tree):
    client.force_login(make_user(roles=["grid_worker"], jurisdiction=tree.debao, username="worker"))
    assert client.get("/")["Location"] == "/work/"


def test_home_of_an_administrator_is_the_grid_page(client, tree):
    client.force_login(
        make_user(roles=["administrator"], jurisdiction=tree.debao, username="clerk")
    )
    assert client.get("/")["Location"] == grid_url("451024000000")


def test_home_of_a_superuser_without_jurisdiction_is_the_root(client, tree, superuser):
    client.force_login(superuser)
    assert client.get("/")["Location"] == "/dashboard/451000000000/"


def test_home_without_jurisdiction_explains_instead_of_failing(client, tree):
    client.force_login(make_user(jurisdiction=None, username="nobody"))
    response = client.get("/")
    assert response.status_code == 200
    assert "无管辖范围" in response.content.decode()  # Chinese first
    # ... and every grid is out of reach.
    assert client.get(grid_url("451000000000")).status_code == 404


@pytest.mark.parametrize("url", ["/", grid_url("451024000000"), grid_url("nonexistent")])
def test_anonymous_users_are_sent_to_login(client, tree, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_a_logged_in_user_visiting_login_goes_home(commander_client):
    response = commander_client.get("/accounts/login/")
    assert response.status_code == 302
    assert response["Location"] == "/"


# --- The grid page -------------------------------------------------------------------------


def test_grid_page_shows_breadcrumbs_from_the_jurisdiction_root(commander_client, tree):
    html = commander_client.get(grid_url(tree.v1.code)).content.decode()
    # Baise is above the commander's jurisdiction: not shown.
    assert breadcrumb_names(html) == ["德保县", "东凌镇", "那温村"]
    assert f'href="{grid_url(tree.debao.code)}"' in html
    assert f'href="{grid_url(tree.baise.code)}"' not in html


def test_breadcrumbs_of_a_superuser_run_from_the_tree_root(client, tree, superuser):
    client.force_login(superuser)
    html = client.get(grid_url(tree.h11.code)).content.decode()
    assert breadcrumb_names(html) == ["百色市", "德保县", "东凌镇", "那温村", "那温屯"]


def test_grid_page_shows_facts_children_table_and_embedded_geojson(commander_client, tree):
    response = commander_client.get(grid_url(tree.debao.code))
    assert response.status_code == 200
    html = response.content.decode()

    assert "<h1>德保县" in html
    assert child_rows(html) == ["451024100000", "DB-HOSP-1"]
    assert f'<a href="{grid_url("DB-HOSP-1")}">德保县人民医院</a>' in html
    assert 'id="grid-map"' in html

    features = embedded_features(html)
    assert features["type"] == "FeatureCollection"
    # Only children with a boundary are drawn; the hospital has none.
    assert [f["id"] for f in features["features"]] == ["451024100000"]
    feature = features["features"][0]
    assert feature["geometry"] == tree.dongling.boundary
    assert feature["properties"]["category"] == "non_border"
    assert feature["properties"]["name"] == "东凌镇"
    assert feature["properties"]["child_count"] == 2


def test_child_counts_in_the_table(commander_client, tree):
    html = commander_client.get(grid_url(tree.dongling.code)).content.decode()
    assert child_rows(html) == [tree.v1.code, tree.v2.code]
    # v1 has two hamlets, v2 one.
    counts = re.findall(r'data-label="[^"]*" class="num">(\d+)</td>\s*</tr>', html)
    assert counts == ["2", "1"]


def test_children_without_boundaries_still_get_a_table_and_a_note(commander_client, tree):
    html = commander_client.get(grid_url(tree.v1.code)).content.decode()
    assert child_rows(html) == [tree.h11.code, tree.h12.code]
    assert 'class="note no-boundaries"' in html
    assert 'id="grid-map"' not in html
    assert "leaflet.js" not in html


def test_a_leaf_grid_says_it_has_no_children(commander_client, tree):
    html = commander_client.get(grid_url(tree.hospital.code)).content.decode()
    assert child_rows(html) == []
    assert '<table class="children' not in html


def test_hamlet_page_lists_households_with_masked_phones(commander_client, tree):
    make_household(tree.h11, code="HH-1", head_name="黄大山", phone="13812345678")
    make_household(tree.h12, code="HH-OTHER", head_name="别屯户主")
    html = commander_client.get(grid_url(tree.h11.code)).content.decode()
    assert "黄大山" in html
    assert "138****5678" in html
    assert "13812345678" not in html
    assert "别屯户主" not in html


def test_hamlet_page_shows_only_the_first_households(commander_client, tree):
    for n in range(52):
        make_household(tree.h11, code=f"HH-{n:03d}")
    html = commander_client.get(grid_url(tree.h11.code)).content.decode()
    assert "HH-049" in html
    assert "HH-050" not in html
    assert html.count('class="phone"') == 50


@pytest.mark.parametrize(
    "code", ["451026000000", "451026100001001", "451000000000", "NO-SUCH-GRID"]
)
def test_grids_outside_the_jurisdiction_are_404(commander_client, tree, code):
    response = commander_client.get(grid_url(code))
    assert response.status_code == 404
    assert "那坡县" not in response.content.decode()


def test_tile_layer_only_when_configured(commander_client, tree, settings):
    html = commander_client.get(grid_url(tree.debao.code)).content.decode()
    assert 'data-tile-url=""' in html

    settings.MAP_TILE_URL = "/tiles/{z}/{x}/{y}.png"
    settings.MAP_TILE_ATTRIBUTION = "本地底图"
    html = commander_client.get(grid_url(tree.debao.code)).content.decode()
    assert 'data-tile-url="/tiles/{z}/{x}/{y}.png"' in html
    assert 'data-tile-attribution="本地底图"' in html


def test_leaflet_is_served_from_our_static_files(commander_client, tree):
    html = commander_client.get(grid_url(tree.debao.code)).content.decode()
    assert '<script src="/static/leaflet/leaflet.js"></script>' in html
    assert '<link rel="stylesheet" href="/static/leaflet/leaflet.css">' in html
    assert '<script src="/static/js/gridmap.js"></script>' in html


def test_no_page_loads_scripts_or_styles_from_elsewhere(client, tree, superuser):
    pages = [client.get("/accounts/login/")]
    client.force_login(superuser)
    make_household(tree.h11)
    for code in (tree.baise.code, tree.debao.code, tree.h11.code, tree.hospital.code):
        pages.append(client.get(grid_url(code)))
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert "<script" in html or "<link" in html
        assert not EXTERNAL_ASSET.search(html), EXTERNAL_ASSET.search(html).group(0)


def test_the_import_link_is_for_administrators_only(client, tree, county_commander, superuser):
    client.force_login(county_commander)
    assert 'href="/imports/grids/"' not in client.get(grid_url(tree.debao.code)).content.decode()

    admin = make_user(roles=["administrator"], jurisdiction=tree.debao, username="debao_admin")
    client.force_login(admin)
    assert 'href="/imports/grids/"' in client.get(grid_url(tree.debao.code)).content.decode()

    client.force_login(superuser)
    assert 'href="/imports/grids/"' in client.get(grid_url(tree.debao.code)).content.decode()


@pytest.fixture
def restore_language(settings):
    # LocaleMiddleware leaves the last request's language active in this thread.
    yield
    translation.activate(settings.LANGUAGE_CODE)


def test_top_bar_shows_user_jurisdiction_and_language_switch(
    commander_client, tree, restore_language
):
    html = commander_client.get(grid_url(tree.v1.code)).content.decode()
    assert 'class="who-area">德保县<' in html
    assert 'action="/i18n/setlang/"' in html
    assert 'action="/accounts/logout/" method="post"' in html
    assert '<html lang="zh-hans">' in html

    response = commander_client.post(
        "/i18n/setlang/", {"language": "en", "next": grid_url(tree.v1.code)}, follow=True
    )
    assert response.redirect_chain[-1][0] == grid_url(tree.v1.code)
    assert '<html lang="en">' in response.content.decode()


# --- Query counts -----------------------------------------------------------------------------


def add_townships(parent, count):
    for n in range(count):
        make_grid(
            f"451024{200 + n:03d}000",
            f"乡镇{n}",
            level=Level.TOWNSHIP,
            parent=parent,
            category=Category.BORDER if n % 2 else Category.NON_BORDER,
            boundary=square(106.0 + n * 0.01, 23.0, 0.01),
        )


# The session, the user, the user's jurisdiction (for scoping), the grid, its breadcrumbs,
# its children, and the user's groups (for the import link in the top bar): 7; plus the
# personnel sections (issue 3): the team 1, the 包保 chain 2 (ancestors, assignments), the
# staffing rollup 4 (subtree grids, one GROUP BY, templates 2) and the pioneer posts 3
# (post types, children, one GROUP BY): 10, whatever the number of children, people or
# levels (tests/test_personnel_pages.py pins that part).
GRID_PAGE_QUERIES = 7 + 10


def test_grid_page_query_count_does_not_grow_with_children(
    client, tree, county_commander, django_assert_num_queries
):
    client.force_login(county_commander)
    with django_assert_num_queries(GRID_PAGE_QUERIES):
        response = client.get(grid_url(tree.debao.code))
    assert len(child_rows(response.content.decode())) == 2

    add_townships(tree.debao, 15)

    with django_assert_num_queries(GRID_PAGE_QUERIES):
        response = client.get(grid_url(tree.debao.code))
    html = response.content.decode()
    assert len(child_rows(html)) == 17
    assert len(embedded_features(html)["features"]) == 16


def test_hamlet_page_query_count_does_not_grow_with_households(
    client, tree, county_commander, django_assert_num_queries
):
    client.force_login(county_commander)
    make_household(tree.h11)
    with django_assert_num_queries(GRID_PAGE_QUERIES + 1):  # + the households
        client.get(grid_url(tree.h11.code))
    for _ in range(10):
        make_household(tree.h11)
    with django_assert_num_queries(GRID_PAGE_QUERIES + 1):
        response = client.get(grid_url(tree.h11.code))
    assert response.content.decode().count('class="phone"') == 11
