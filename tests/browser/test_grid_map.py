"""The grid map in a real browser: Playwright driving Debian's chromium against live_server.

Screenshots go to test-artifacts/ (desktop 1280 px and phone 360 px wide) for a person to
look at; the assertions check what a person would: the boundaries are drawn, one shape per
child with a boundary, the table is there, a click drills down, and nothing on the phone
page is wider than the phone.
"""

import pytest

from grids.models import Category, GridNode, Kind, Level
from tests.browser.support import ARTIFACTS, PASSWORD, SHAPES, no_horizontal_overflow, watch
from tests.factories import Tree, make_grid, make_household, make_user, square


@pytest.fixture
def debao(transactional_db):
    """The test tree, where three of Debao's four children have boundaries: a non-border
    township, a border township and a school, so each category colour appears; the
    hospital has none, so it is in the table but not on the map."""
    tree = Tree()
    make_grid(
        "451024101000",
        "马隘镇",
        level=Level.TOWNSHIP,
        parent=tree.debao,
        category=Category.BORDER,
        boundary=square(106.32, 23.3, 0.15),
        expected_households=420,
    )
    make_grid(
        "DB-SCHOOL-1",
        "德保高中",
        level=Level.COUNTY,
        parent=tree.debao,
        category=Category.UNIT,
        kind=Kind.DEDICATED,
        boundary=square(106.02, 23.55, 0.05),
    )
    make_household(
        tree.h11, code="HH-0001", head_name="黄大山", phone="13812345678", address="那温屯12号"
    )
    make_household(
        tree.h11, code="HH-0002", head_name="农秀英", phone="0776-3821234", address="那温屯13号"
    )
    make_user(roles=["commander"], jurisdiction=tree.debao, username="debao_commander")
    return tree


def log_in(page, live_server):
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", "debao_commander")
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    # A commander lands on the dashboard (issue 4); this test is about the grid page.
    page.wait_for_url(f"{live_server.url}/dashboard/451024000000/")
    page.goto(f"{live_server.url}/grids/451024000000/")


def test_desktop_map_draws_children_and_drills_down(browser, live_server, debao):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    problems = watch(page, live_server)

    log_in(page, live_server)

    # Three of the four children have boundaries: three shapes, coloured by category.
    page.wait_for_selector(SHAPES)
    drawable = GridNode.objects.filter(parent=debao.debao, boundary__isnull=False).count()
    assert drawable == 3
    assert page.locator(SHAPES).count() == drawable
    assert page.locator("path.grid-code-451024101000").get_attribute("stroke") == "#c62828"
    assert page.locator("path.grid-code-451024100000").get_attribute("stroke") == "#1565c0"
    assert page.locator("path.grid-code-DB-SCHOOL-1").get_attribute("stroke") == "#2e7d32"
    # The map fitted its bounds: every shape is inside the visible map.
    map_box = page.locator("#grid-map").bounding_box()
    for shape in page.locator(SHAPES).all():
        box = shape.bounding_box()
        assert box["width"] > 10 and box["height"] > 10
        assert (
            map_box["x"] <= box["x"] and box["x"] + box["width"] <= map_box["x"] + map_box["width"]
        )
        assert (
            map_box["y"] <= box["y"]
            and box["y"] + box["height"] <= map_box["y"] + map_box["height"]
        )
    # Permanent labels name the shapes.
    assert sorted(page.locator(".grid-label").all_inner_texts()) == sorted(
        ["东凌镇", "马隘镇", "德保高中"]
    )

    assert page.locator("table.children tbody tr").count() == 4
    assert page.locator("table.children tbody tr[data-code='DB-HOSP-1']").is_visible()
    assert (
        page.locator("table.children tbody tr[data-code='451024101000'] th").inner_text()
        == "马隘镇"
    )
    page.screenshot(path=str(ARTIFACTS / "grid-map-desktop.png"), full_page=True)

    # Click a shape: the township's page, whose map shows its two villages.
    page.locator("path.grid-code-451024100000").click()
    page.wait_for_url(f"{live_server.url}/grids/451024100000/")
    page.wait_for_selector(SHAPES)
    assert page.locator(SHAPES).count() == 2
    assert page.locator(".breadcrumbs li").all_inner_texts()[-2:] == ["德保县", "东凌镇"]
    page.screenshot(path=str(ARTIFACTS / "grid-map-township-desktop.png"), full_page=True)

    # Click a row: a village whose hamlets have no boundaries, so a note and no map.
    page.locator("table.children a", has_text="那温村").click()
    page.wait_for_url(f"{live_server.url}/grids/451024100001/")
    assert page.locator(".no-boundaries").is_visible()
    assert page.locator("#grid-map").count() == 0
    assert page.locator("table.children tbody tr").count() == 2

    assert problems == []
    context.close()


def test_phone_map_fits_a_360px_screen(browser, live_server, debao):
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

    page.goto(f"{live_server.url}/accounts/login/")
    no_horizontal_overflow(page, 360)
    page.screenshot(path=str(ARTIFACTS / "login-phone.png"), full_page=True)
    log_in(page, live_server)

    page.wait_for_selector(SHAPES)
    assert page.locator(SHAPES).count() == 3
    map_box = page.locator("#grid-map").bounding_box()
    assert map_box["width"] <= 360 and map_box["height"] >= 240
    assert page.locator("table.children tbody tr").count() == 4
    no_horizontal_overflow(page, 360)
    page.screenshot(path=str(ARTIFACTS / "grid-map-phone.png"), full_page=True)

    # A tap on a shape drills down, as a click does on the desktop.
    page.locator("path.grid-code-451024100000").tap()
    page.wait_for_url(f"{live_server.url}/grids/451024100000/")
    page.wait_for_selector(SHAPES)
    no_horizontal_overflow(page, 360)

    # A hamlet page with its household table (which scrolls inside its own box).
    page.goto(f"{live_server.url}/grids/451024100001001/")
    assert page.locator("td.phone").all_inner_texts() == ["138****5678", "077*******34"]
    no_horizontal_overflow(page, 360)
    page.screenshot(path=str(ARTIFACTS / "hamlet-phone.png"), full_page=True)

    assert problems == []
    context.close()
