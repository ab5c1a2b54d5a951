"""The commander's dashboard in a real browser (Playwright + Debian's chromium against
live_server): the trend chart draws on its canvas, the map draws the children and recolours
by the figure picked, the table sorts and drills down, and the phone page fits 360 px.

Screenshots go to test-artifacts/ (dashboard-desktop.png, dashboard-phone.png) for a person
to look at.
"""

import datetime

import pytest
from django.utils import timezone

from grids.models import Category, Kind, Level
from tests.browser.support import (
    ARTIFACTS,
    PASSWORD,
    SHAPES,
    no_horizontal_overflow,
    watch,
)
from tests.factories import Tree, make_grid, make_household, make_user, square
from tests.stats_factories import put_stat

DAY = datetime.timedelta(days=1)


@pytest.fixture
def debao(transactional_db):
    """Debao with four children on the map (the hospital has no boundary) and two weeks of
    numbers, today's partly reported."""
    tree = Tree()
    maai = make_grid(
        "451024101000",
        "马隘镇",
        level=Level.TOWNSHIP,
        parent=tree.debao,
        category=Category.BORDER,
        boundary=square(106.32, 23.3, 0.15),
    )
    school = make_grid(
        "DB-SCHOOL-1",
        "德保高中",
        level=Level.COUNTY,
        parent=tree.debao,
        category=Category.UNIT,
        kind=Kind.DEDICATED,
        boundary=square(106.02, 23.55, 0.05),
    )
    yanan = make_grid(
        "451024102000",
        "燕峒乡",
        level=Level.TOWNSHIP,
        parent=tree.debao,
        boundary=square(106.1, 23.05, 0.18),
    )
    make_household(tree.h11)
    today = timezone.localdate()
    for i in range(14):
        day = today - i * DAY
        put_stat(
            tree.debao,
            day,
            persons_present=900 - i * 20,
            returnees=60 - i * 2,
            returnees_risk_area=(14 - i) % 5,
            yellow_codes=i % 3,
            red_codes=1 if i == 3 else 0,
            fever=(i * 7) % 4,
            samples_taken=700 - i * 10,
            households_total=1000,
            households_checked=800 - i * 15,
            leaves_expected=20,
            leaves_reported=20 - (i == 0) * 6,
        )
    # Today's children: coverage, risk and reporting all differ, so the colours differ.
    put_stat(
        tree.dongling,
        today,
        persons_present=300,
        returnees=20,
        returnees_risk_area=3,
        fever=2,
        samples_taken=250,
        households_total=400,
        households_checked=390,
        leaves_expected=3,
        leaves_reported=3,
    )
    put_stat(
        maai,
        today,
        persons_present=200,
        returnees=30,
        returnees_risk_area=0,
        fever=0,
        samples_taken=150,
        households_total=300,
        households_checked=120,
        leaves_expected=8,
        leaves_reported=2,
    )
    put_stat(
        school,
        today,
        persons_present=150,
        returnees=5,
        returnees_risk_area=1,
        fever=1,
        samples_taken=150,
        households_total=100,
        households_checked=70,
        leaves_expected=1,
        leaves_reported=0,
    )
    put_stat(
        yanan,
        today,
        persons_present=250,
        returnees=5,
        returnees_risk_area=0,
        fever=0,
        samples_taken=150,
        households_total=200,
        households_checked=190,
        leaves_expected=7,
        leaves_reported=7,
    )
    put_stat(
        tree.hospital,
        today,
        persons_present=0,
        households_total=0,
        leaves_expected=1,
        leaves_reported=1,
    )
    make_user(roles=["commander"], jurisdiction=tree.debao, username="debao_commander")
    return tree


def log_in(page, live_server):
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", "debao_commander")
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    # A commander's home is the jurisdiction's dashboard.
    page.wait_for_url(f"{live_server.url}/dashboard/451024000000/")


def chart_has_drawn(page) -> bool:
    """Some of the chart canvas's pixels are painted (ECharts draws on a canvas)."""
    return page.evaluate(
        """() => {
          const canvas = document.querySelector('#trend-chart canvas');
          if (!canvas || canvas.width < 100 || canvas.height < 100) return false;
          const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
          let painted = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
          return painted > 1000;
        }"""
    )


def fills(page):
    return {
        code: page.locator(f"path.grid-code-{code}").get_attribute("fill")
        for code in ("451024100000", "451024101000", "DB-SCHOOL-1", "451024102000")
    }


def table_codes(page):
    return page.locator("#children-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.code)"
    )


def test_desktop_dashboard(browser, live_server, debao):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    problems = watch(page, live_server)
    log_in(page, live_server)

    # The trend chart has drawn on its canvas.
    page.wait_for_selector("#trend-chart canvas")
    page.wait_for_function("document.querySelector('#trend-chart canvas').width > 0")
    assert chart_has_drawn(page)

    # The map draws the four children with boundaries, coloured by coverage first.
    page.wait_for_selector(SHAPES)
    assert page.locator(SHAPES).count() == 4
    by_coverage = fills(page)
    assert by_coverage["451024100000"] == "#1a9850"  # 97.5%
    assert by_coverage["451024101000"] == "#d73027"  # 40%
    assert by_coverage["DB-SCHOOL-1"] == "#fc8d59"  # 70%
    assert page.locator("#map-legend li").count() == 5
    page.screenshot(path=str(ARTIFACTS / "dashboard-desktop.png"), full_page=True)

    # Colour by "not reported": Maai and the school are short, the others complete.
    page.select_option("#map-metric", "leaves_missing")
    by_reporting = fills(page)
    assert by_reporting["451024100000"] == by_reporting["451024102000"] == "#1a9850"
    assert by_reporting["451024101000"] == "#fdae61"  # 2 of 8 reported
    assert by_reporting["DB-SCHOOL-1"] == "#d73027"  # none reported
    # Colour by fever: none in Maai and Yandong, some in Dongling and the school.
    page.select_option("#map-metric", "fever")
    by_fever = fills(page)
    assert by_fever["451024101000"] == by_fever["451024102000"] == "#f0f0f0"
    assert by_fever["451024100000"] != "#f0f0f0" and by_fever["DB-SCHOOL-1"] != "#f0f0f0"
    page.locator(".dash-map-section").screenshot(path=str(ARTIFACTS / "dashboard-map-fever.png"))

    # The table sorts by any column: largest first on the first click, then smallest first.
    assert table_codes(page) == [
        "451024100000",
        "451024101000",
        "451024102000",
        "DB-HOSP-1",
        "DB-SCHOOL-1",
    ]
    page.locator("#children-table thead button[data-key='returnees']").click()
    assert table_codes(page)[:2] == ["451024101000", "451024100000"]
    assert (
        page.locator("#children-table thead th[aria-sort]").get_attribute("aria-sort")
        == "descending"
    )
    page.locator("#children-table thead button[data-key='returnees']").click()
    assert table_codes(page)[0] == "DB-HOSP-1"
    page.locator("#children-table thead button[data-key='coverage']").click()
    assert table_codes(page)[0] == "451024100000"

    # The not-reported list names the two children that are short.
    assert page.locator("#not-reported li").evaluate_all("l => l.map(e => e.dataset.code)") == [
        "451024101000",
        "DB-SCHOOL-1",
    ]

    # A row drills down to the child's dashboard.
    page.locator("#children-table tbody tr[data-code='451024100000'] td").first.click()
    page.wait_for_url(f"{live_server.url}/dashboard/451024100000/")
    page.wait_for_selector(SHAPES)
    assert page.locator(SHAPES).count() == 2
    assert page.locator(".breadcrumbs li").all_inner_texts()[-2:] == ["德保县", "东凌镇"]

    # An earlier date through the picker.
    yesterday = (timezone.localdate() - DAY).isoformat()
    page.goto(f"{live_server.url}/dashboard/451024000000/")
    page.fill("#dash-date", yesterday)
    page.locator(".dash-date button").click()
    page.wait_for_url(f"{live_server.url}/dashboard/451024000000/?date={yesterday}")
    assert page.locator("#dash-date").input_value() == yesterday

    assert problems == []
    context.close()


def test_phone_dashboard_fits_360px(browser, live_server, debao):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    page = context.new_page()
    problems = watch(page, live_server)
    log_in(page, live_server)

    page.wait_for_selector("#trend-chart canvas")
    page.wait_for_function("document.querySelector('#trend-chart canvas').width > 0")
    assert chart_has_drawn(page)
    page.wait_for_selector(SHAPES)
    assert page.locator(SHAPES).count() == 4
    map_box = page.locator("#dash-map").bounding_box()
    assert map_box["width"] <= 360 and map_box["height"] >= 240
    # The cards stack two to a row; the table scrolls inside its own box.
    assert page.locator("#kpi-coverage").bounding_box()["width"] > 300
    no_horizontal_overflow(page, 360)
    page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
    # The first screen as the commander sees it, and the parts below, each at phone size.
    page.screenshot(path=str(ARTIFACTS / "dashboard-phone-first-screen.png"))
    for part in ("dash-trend", "dash-map-section", "dash-children"):
        page.locator(f".{part}").screenshot(path=str(ARTIFACTS / f"dashboard-phone-{part}.png"))

    # A tap on a header sorts; a tap on a shape drills down.
    page.locator("#children-table thead button[data-key='fever']").tap()
    assert table_codes(page)[0] == "451024100000"
    page.locator("path.grid-code-451024101000").tap()
    page.wait_for_url(f"{live_server.url}/dashboard/451024101000/")
    no_horizontal_overflow(page, 360)

    assert problems == []
    context.close()
