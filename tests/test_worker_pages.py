"""The grid worker's pages (/work/): their grids, a grid's households with today's status,
the one-screen check form; scoping by worker_grids; query counts; phone-friendly markup
and page weight."""

import gzip
import re
import uuid

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils.translation import gettext

from screening.metrics import METRICS
from screening.services import check_submit, check_void, zero_report_file
from tests.factories import make_household, make_user
from tests.test_checks_services import make_worker

PASSWORD = "pass-Word-123"
#: The check page's budget, HTML + CSS + JS uncompressed (docs/performance.md).
PAGE_BUDGET = 40_000


@pytest.fixture
def homes(tree):
    return [make_household(tree.h11, code=f"HH-{i}", head_name=f"户主{i}") for i in range(3)]


@pytest.fixture
def worker(tree):
    return make_worker(tree.h11, username="worker_h11", jurisdiction=tree.v1)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_pages_need_a_login(tree):
    for url in ("/work/", f"/work/grids/{tree.h11.code}/", "/work/households/HH-0/"):
        response = Client().get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_home_lists_the_workers_leaf_grids_with_todays_numbers(homes, worker, tree):
    check_submit(user=worker, household=homes[0], uuid=uuid.uuid4())
    check_submit(user=worker, household=homes[0], uuid=uuid.uuid4())  # same household twice
    village_worker = make_worker(tree.v1, username="v1_worker")
    zero_report_file(user=village_worker, grid=tree.h12)

    html = logged_in(worker).get("/work/").content.decode()
    assert re.findall(r'href="/work/grids/([^/]+)/"', html) == [tree.h11.code]
    assert (
        gettext("%(checked)s of %(total)s households checked today") % {"checked": 1, "total": 3}
        in html
    )

    response = logged_in(village_worker).get("/work/")
    grids = [g.code for g in response.context["grids"]]
    assert grids == [tree.h11.code, tree.h12.code]  # the village's hamlets, not the village
    h12 = response.context["grids"][1]
    assert h12.zero_reported and h12.households_total == 0


def test_home_without_assignment_says_so(tree, county_commander):
    html = logged_in(county_commander).get("/work/").content.decode()
    assert 'class="note no-grids"' in html


def test_grid_page_shows_each_household_with_todays_status(homes, worker, tree):
    check_submit(user=worker, household=homes[1], uuid=uuid.uuid4())
    voided, _ = check_submit(user=worker, household=homes[2], uuid=uuid.uuid4())
    check_void(user=worker, check=voided, reason="wrong household")
    response = logged_in(worker).get(f"/work/grids/{tree.h11.code}/")
    assert response.status_code == 200
    statuses = {h.code: h.checked for h in response.context["households"]}
    assert statuses == {"HH-0": False, "HH-1": True, "HH-2": False}
    html = response.content.decode()
    assert html.count('class="work-item is-checked"') == 1
    assert 'data-household="HH-1"' in html and 'id="zero-report"' in html
    assert (
        gettext("%(checked)s of %(total)s households checked today") % {"checked": 1, "total": 3}
        in html
    )


def test_grid_page_is_404_where_the_worker_may_not_write(worker, tree):
    client = logged_in(worker)
    for code in (tree.h12.code, tree.v1.code, tree.nh1.code, "NOPE"):
        assert client.get(f"/work/grids/{code}/").status_code == 404


def test_village_page_has_no_zero_report_button(tree, homes):
    village_worker = make_worker(tree.v1, username="v1_worker")
    response = logged_in(village_worker).get(f"/work/grids/{tree.v1.code}/")
    assert response.status_code == 200
    assert [h.code for h in response.context["households"]] == ["HH-0", "HH-1", "HH-2"]
    assert 'id="zero-report"' not in response.content.decode()


def test_grid_page_query_count_does_not_grow_with_households(
    worker, tree, django_assert_num_queries
):
    client = logged_in(worker)
    url = f"/work/grids/{tree.h11.code}/"
    # session, user, grid (with its zero report and children flags), households with status,
    # then base.html's jurisdiction name and role lookup.
    with django_assert_num_queries(6):
        client.get(url)
    for i in range(30):
        household = make_household(tree.h11)
        if i % 2:
            check_submit(user=worker, household=household, uuid=uuid.uuid4())
    with django_assert_num_queries(6):
        response = client.get(url)
    assert sum(h.checked for h in response.context["households"]) == 15


def test_home_and_check_page_query_counts(homes, worker, tree, django_assert_num_queries):
    client = logged_in(worker)
    with django_assert_num_queries(5):  # session, user, grids with numbers, base.html's two
        client.get("/work/")
    with django_assert_num_queries(5):  # session, user, household with status, base.html's two
        client.get("/work/households/HH-0/")


def test_check_page_is_one_screen_of_steppers(homes, worker):
    response = logged_in(worker).get("/work/households/HH-0/")
    assert response.status_code == 200
    html = response.content.decode()
    # One stepper (−, number, +) per metric, in the metrics' order.
    names = re.findall(r'<input type="number" id="m-(\w+)" name="\1"', html)
    assert names == [m.name for m in METRICS]
    assert html.count('class="step" data-step="-1"') == len(METRICS)
    assert html.count('class="step" data-step="1"') == len(METRICS)
    assert 'inputmode="numeric"' in html
    # Visit is the default method; persons present starts at the household's size.
    assert re.search(r'name="method" value="visit" checked', html)
    assert (
        'name="persons_present" inputmode="numeric" pattern="[0-9]*" min="0" max="100" step="1" value="3"'
        in html
    )
    # The queue's configuration and strings come with the page; no external resources.
    assert 'id="checkqueue-config"' in html and 'id="checkqueue-strings"' in html
    assert "/api/v1/checks/" in html
    assert not re.search(r"""(?:src|href)=["'](?:https?:)?//""", html)


def test_check_page_is_404_outside_the_workers_grids(homes, worker, tree):
    other = make_household(tree.h12, code="HH-OTHER")
    client = logged_in(worker)
    assert client.get(f"/work/households/{other.code}/").status_code == 404
    assert client.get("/work/households/NOPE/").status_code == 404
    # A commander of the county sees the household on the grid pages, but may not check it.
    commander = make_user(roles=["commander"], jurisdiction=tree.debao)
    assert logged_in(commander).get("/work/households/HH-0/").status_code == 404


def test_phone_markup_and_page_weight(homes, worker):
    """The page is built for 360 px: a viewport meta, no tables, touch targets set in CSS;
    and HTML + CSS + JS stay within the budget written in docs/performance.md."""
    html = logged_in(worker).get("/work/households/HH-0/").content
    text = html.decode()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert "<table" not in text
    assets = re.findall(r'(?:href|src)="/static/([^"]+\.(?:css|js))"', text)
    assert sorted(assets) == ["css/app.css", "css/worker.css", "js/checkqueue.js"]
    files = [open(finders.find(a), "rb").read() for a in assets]
    css = open(finders.find("css/worker.css")).read()
    assert re.search(r"\.step \{[^}]*width: 48px;[^}]*height: 48px;", css)
    total = len(html) + sum(len(f) for f in files)
    assert total <= PAGE_BUDGET, total
    gzipped = len(gzip.compress(html)) + sum(len(gzip.compress(f)) for f in files)
    assert gzipped <= PAGE_BUDGET // 3, gzipped


def test_admin_shows_checks_read_only(homes, worker, superuser):
    check, _ = check_submit(user=worker, household=homes[0], uuid=uuid.uuid4())
    client = logged_in(superuser)
    assert client.get("/admin/screening/check/").status_code == 200
    page = client.get(f"/admin/screening/check/{check.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.get("/admin/screening/check/add/").status_code == 403
    assert (
        client.post(f"/admin/screening/check/{check.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    for model in ("checkrevision", "zeroreport", "dailystat", "rollupdelta"):
        assert client.get(f"/admin/screening/{model}/").status_code == 200
