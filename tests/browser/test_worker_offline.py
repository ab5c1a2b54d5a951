"""A grid worker's check in a real browser on a 360 px phone, with the network cut and
restored: the check waits in the page's queue (localStorage), is sent when the network is
back, is stored once, and shows on the commander's dashboard.

Playwright drives Debian's chromium against live_server. Screenshots go to test-artifacts/
for a person to look at.
"""

import pytest

from screening.models import Check, ZeroReport
from tests.browser.support import ARTIFACTS, PASSWORD, watch
from tests.factories import Tree, make_household, make_user
from tests.personnel_factories import assign
from tests.test_checks_services import make_worker

PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}


@pytest.fixture
def field(transactional_db):
    """Debao's tree; 那温屯 (h11) has three households; the worker holds h11 and h12."""
    tree = Tree()
    make_household(tree.h11, code="HH-1", head_name="黄大山", address="那温屯12号", size=4)
    make_household(tree.h11, code="HH-2", head_name="农秀英", address="那温屯13号", size=2)
    make_household(tree.h11, code="HH-3", head_name="李春花", address="那温屯14号", size=5)
    worker = make_worker(tree.h11, username="worker", jurisdiction=tree.v1)
    assign(worker.person, tree.h12, "volunteer")
    make_user(roles=["commander"], jurisdiction=tree.debao, username="debao_commander")
    return tree


def real(problems):
    # Chromium asks for /favicon.ico by itself (the project serves none), and the queue's
    # attempts while the network is cut fail by design.
    return [
        p
        for p in problems
        if not p.endswith("/favicon.ico") and not (p.startswith("failed:") and "/api/v1/" in p)
    ]


def log_in(page, live_server, username, next_url):
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}{next_url}")


def fits(page, width=360):
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"page is {scroll_width}px wide on a {width}px screen"


def tap(page, metric, sign, times=1):
    step = "1" if sign == "+" else "-1"
    for _ in range(times):
        page.locator(f'button.step[data-for="m-{metric}"][data-step="{step}"]').tap()


def test_check_offline_then_online_reaches_the_dashboard(browser, live_server, field):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(**PHONE)
    page = context.new_page()
    problems = watch(page, live_server)

    # The worker's grids, then 那温屯's households, none checked yet.
    log_in(page, live_server, "worker", "/work/")
    assert page.locator(".work-item").count() == 2
    fits(page)
    page.screenshot(path=str(ARTIFACTS / "worker-home-phone.png"), full_page=True)
    page.locator(".work-item", has_text="那温屯").tap()
    page.wait_for_url(f"{live_server.url}/work/grids/{field.h11.code}/")
    assert page.locator(".badge-todo").count() == 3
    fits(page)
    page.screenshot(path=str(ARTIFACTS / "worker-grid-phone.png"), full_page=True)

    # One screen: steppers, visit by default.
    page.locator("a[data-household='HH-1']").tap()
    page.wait_for_url(f"{live_server.url}/work/households/HH-1/")
    assert page.locator("input[name=method][value=visit]").is_checked()
    assert page.input_value("#m-persons_present") == "4"
    tap(page, "persons_present", "-")
    tap(page, "returnees", "+", 2)
    tap(page, "returnees_risk_area", "+")
    tap(page, "samples_taken", "+", 3)
    tap(page, "fever", "-")  # stays at 0
    page.fill("#check-note", "从深圳返乡")
    for box in page.locator("button.step").all():  # big touch targets
        size = box.bounding_box()
        assert size["width"] >= 44 and size["height"] >= 44
    fits(page)
    page.screenshot(path=str(ARTIFACTS / "worker-check-phone.png"), full_page=True)

    # The network drops; the check is submitted and waits on the phone.
    context.set_offline(True)
    page.locator("#check-submit").tap()
    page.wait_for_selector("#outbox:not([hidden])")
    assert page.inner_text("#outbox-count") == "1"
    assert page.locator("#outbox-list li.is-waiting").count() == 1
    assert "黄大山" in page.inner_text("#outbox-list")
    stored = page.evaluate(
        "Object.keys(localStorage).filter(k => k.startsWith('gridcmd.checkqueue.'))"
    )
    assert len(stored) == 1
    page.wait_for_function("document.getElementById('outbox-status').textContent.length > 0")
    assert Check.objects.count() == 0
    # The form steps aside (no double check by a tap too many), reset for another check.
    assert page.locator("#check-form").is_hidden()
    assert page.locator("#after-submit a.big-link").is_visible()
    assert page.input_value("#m-returnees") == "0"
    assert page.input_value("#m-persons_present") == "4"
    fits(page)
    page.screenshot(path=str(ARTIFACTS / "worker-check-offline-phone.png"), full_page=True)

    # The network is back: the queue sends it, once, and empties.
    context.set_offline(False)
    page.wait_for_selector("#outbox", state="hidden", timeout=20_000)
    assert page.inner_text("#flash") in ("已发送。", "Sent.")
    check = Check.objects.get()
    assert check.household.code == "HH-1" and check.grid == field.h11
    assert (check.persons_present, check.returnees, check.returnees_risk_area) == (3, 2, 1)
    assert (check.samples_taken, check.fever, check.method) == (3, 0, "visit")
    assert check.note == "从深圳返乡" and check.worker.username == "worker"
    page.screenshot(path=str(ARTIFACTS / "worker-check-sent-phone.png"), full_page=True)

    # Back on the grid page the household is checked.
    page.goto(f"{live_server.url}/work/grids/{field.h11.code}/")
    assert page.locator("a[data-household='HH-1'].is-checked").count() == 1
    assert page.locator(".badge-todo").count() == 2

    # 弄立屯 has nothing to report: a zero report, through the same queue.
    page.goto(f"{live_server.url}/work/grids/{field.h12.code}/")
    page.locator("#zero-report").tap()
    page.wait_for_selector("#outbox", state="hidden", timeout=20_000)
    assert ZeroReport.objects.filter(grid=field.h12).count() == 1
    page.reload()
    assert page.locator(".badge-zero").is_visible()
    page.screenshot(path=str(ARTIFACTS / "worker-zero-report-phone.png"), full_page=True)
    assert real(problems) == []
    context.close()

    # The commander of the county sees the numbers on the dashboard of an ancestor.
    context = browser.new_context(**PHONE)
    page = context.new_page()
    problems = watch(page, live_server)
    log_in(page, live_server, "debao_commander", f"/dashboard/{field.debao.code}/")

    def kpi(name):
        return page.inner_text(f"[data-metric='{name}'] .kpi-value").strip()

    assert kpi("returnees") == "2"
    assert kpi("returnees_risk_area") == "1"
    assert kpi("samples_taken") == "3"
    assert kpi("persons_present") == "3"
    assert kpi("fever") == "0"
    assert page.inner_text("#kpi-reporting .kpi-value").strip().startswith("2 /")
    assert "1" in page.inner_text("#kpi-coverage .kpi-sub")
    page.screenshot(path=str(ARTIFACTS / "worker-check-on-dashboard-phone.png"), full_page=True)
    assert real(problems) == []
    context.close()
