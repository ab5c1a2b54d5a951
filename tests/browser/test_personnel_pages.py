"""The personnel sections of the grid page and the people pages in a real browser, on a
360 px phone: the 包保 chain and staffing sections are readable, the map's colouring switch
recolours the children by staffing, and nothing is wider than the phone. Screenshots go to
test-artifacts/ for a person to look at."""

import importlib

import pytest
from django.apps import apps

from tests.browser.support import ARTIFACTS, PASSWORD, SHAPES, no_horizontal_overflow, watch
from tests.factories import Tree, make_user
from tests.personnel_factories import assign, fill_team, make_org, make_person, staff

RED, GREEN, BLUE = "#c62828", "#2e7d32", "#1565c0"


@pytest.fixture
def dongling(transactional_db):
    """东凌镇 with a chain (county chief 包保 the township, its chief 包保 那温村), 古寿村
    and its hamlet fully staffed, 那温村 short."""
    # Roles and templates come from a data migration; an earlier transactional test
    # flushed them, so put back what is missing (the migration only adds).
    migration = importlib.import_module("personnel.migrations.0002_reference_data")
    migration.create_reference_data(apps, None)
    tree = Tree()
    county = make_person(
        "黄县长", grid=tree.debao, organisation=make_org("德保县委", grid=tree.debao)
    )
    town = make_person(
        "农镇长", grid=tree.dongling, organisation=make_org("东凌镇政府", grid=tree.dongling)
    )
    assign(county, tree.debao, "grid_chief")
    assign(town, tree.dongling, "grid_chief")
    assign(county, tree.dongling, "baobao_leader")
    assign(town, tree.v1, "baobao_leader")
    fill_team(tree.v2)
    fill_team(tree.h21)
    staff(tree.v1, "doctor")
    make_user(roles=["commander"], jurisdiction=tree.debao, username="debao_commander")
    return tree


def log_in(page, live_server):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "debao_commander")
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}/dashboard/451024000000/")


def strokes(page):
    return {
        code: page.locator(f"path.grid-code-{code}").get_attribute("stroke")
        for code in ("451024100001", "451024100002")
    }


def test_phone_grid_page_shows_chain_staffing_and_the_staffing_map(browser, live_server, dongling):
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
    page.goto(f"{live_server.url}/grids/451024100000/")
    page.wait_for_selector(SHAPES)

    chain = page.locator("#chain")
    assert chain.is_visible()
    # The township, the county and the city; the city has no chief: a visible gap.
    assert page.locator("#chain .chain-level").count() == 3
    assert chain.locator(".entry-name", has_text="农镇长").first.is_visible()
    assert page.locator("#chain .chain-level.has-gap .gap").first.is_visible()
    call = page.locator("#chain a.call").first
    assert call.get_attribute("href").startswith("/api/v1/assignments/")
    assert "****" in call.inner_text()

    staffing = page.locator("#staffing")
    assert staffing.is_visible()
    assert page.locator("#staffing .rollup li.short").count() == 2  # villages, hamlets
    no_horizontal_overflow(page, 360)
    page.screenshot(path=str(ARTIFACTS / "personnel-grid-phone.png"), full_page=True)
    # Close-ups of the two sections, legible at phone size.
    chain.screenshot(path=str(ARTIFACTS / "personnel-chain-phone.png"))
    staffing.screenshot(path=str(ARTIFACTS / "personnel-staffing-phone.png"))

    # Category colouring first (the default), then the staffing switch.
    assert strokes(page) == {"451024100001": BLUE, "451024100002": BLUE}
    assert page.locator(".staffing-legend").is_hidden()
    page.locator("#map-colouring input[value='staffing']").check()
    assert strokes(page) == {"451024100001": RED, "451024100002": GREEN}
    assert page.locator(".staffing-legend").is_visible()
    assert page.locator(".map-section .legend:not(.staffing-legend)").is_hidden()
    page.locator(".map-section").screenshot(
        path=str(ARTIFACTS / "personnel-staffing-map-phone.png")
    )
    page.locator("#map-colouring input[value='category']").check()
    assert strokes(page) == {"451024100001": BLUE, "451024100002": BLUE}

    # The children table's staffing column, as cards.
    assert page.locator("tr[data-code='451024100001'] .staffing-badge.short").is_visible()
    assert page.locator("tr[data-code='451024100002'] .staffing-badge.ok").is_visible()
    no_horizontal_overflow(page, 360)

    # A village page: its chain is four levels long, with its own gaps and shortages.
    page.goto(f"{live_server.url}/grids/451024100001/")
    assert page.locator("#chain .chain-level").count() == 4
    assert page.locator("#staffing .shortage").count() >= 1
    no_horizontal_overflow(page, 360)
    page.screenshot(path=str(ARTIFACTS / "personnel-village-phone.png"), full_page=True)

    # The people list and a person page, from the chain.
    page.goto(f"{live_server.url}/people/?q=农")
    assert page.locator("table.people tbody tr").count() == 1
    no_horizontal_overflow(page, 360)
    page.screenshot(path=str(ARTIFACTS / "personnel-list-phone.png"), full_page=True)
    # The other filters fold away on a phone; open them and filter by role.
    page.goto(f"{live_server.url}/people/")
    page.locator(".more-filters summary").tap()
    page.select_option("#id_role", "baobao_leader")
    page.locator(".person-filters button.primary").tap()
    page.wait_for_url("**/people/?*role=baobao_leader*")
    names = page.locator("table.people tbody th").all_inner_texts()
    assert sorted(names) == sorted(["黄县长", "农镇长"])
    assert page.locator(".more-filters").get_attribute("open") is not None
    no_horizontal_overflow(page, 360)
    page.locator("table.people a", has_text="农镇长").click()
    page.wait_for_url("**/people/*/")
    assert page.locator("#current-assignments tbody tr").count() == 2
    assert "****" in page.locator("#person-mobile").inner_text()
    no_horizontal_overflow(page, 360)
    page.screenshot(path=str(ARTIFACTS / "personnel-person-phone.png"), full_page=True)

    assert problems == []
    context.close()


def test_desktop_grid_page_sections(browser, live_server, dongling):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    problems = watch(page, live_server)
    log_in(page, live_server)
    page.goto(f"{live_server.url}/grids/451024100000/")
    page.wait_for_selector(SHAPES)
    for section in ("#chain", "#staffing", "#team", "#posts"):
        assert page.locator(section).is_visible()
    page.locator("#map-colouring input[value='staffing']").check()
    assert strokes(page) == {"451024100001": RED, "451024100002": GREEN}
    page.screenshot(path=str(ARTIFACTS / "personnel-grid-desktop.png"), full_page=True)
    assert problems == []
    context.close()
