"""A grid worker reopens their pages on a network too slow or with none (docs/adr/0013): the
service worker serves the copies it kept, the page says it is a copy, the check waiting in
the queue is still listed and reaches the server when the network is back; logging out
forgets the copies.

Service workers need a secure context: live_server answers on http://localhost, which is one.
"""

import json
import threading
import time

import pytest
from django.http import HttpResponse
from playwright.sync_api import Error as PlaywrightError

from screening import worker_views
from screening.api import CheckListCreateApi
from screening.models import Check
from tests.browser.support import ARTIFACTS, watch
from tests.browser.test_worker_offline import PHONE, log_in, real
from tests.factories import Tree, make_household
from tests.test_checks_services import make_worker

NOTICE = ("离线：显示的是上次加载的页面。", "Offline: showing the page as last loaded.")
# The paths of everything the service worker's caches hold.
KEPT = (
    "caches.keys().then(names => Promise.all(names.map(n => caches.open(n).then(c => c.keys()))))"
    ".then(lists => lists.flat().map(r => new URL(r.url).pathname))"
)


@pytest.fixture
def field(transactional_db):
    tree = Tree()
    make_household(tree.h11, code="HH-1", head_name="黄大山", address="那温屯12号", size=4)
    make_household(tree.h11, code="HH-2", head_name="农秀英", address="那温屯13号", size=2)
    make_worker(tree.h11, username="worker", jurisdiction=tree.v1)
    return tree


def wait_until_kept(page, path):
    page.wait_for_function(f"{KEPT}.then(paths => paths.includes({json.dumps(path)}))")


def test_pages_reopen_offline_with_the_waiting_check(browser, live_server, field, monkeypatch):
    ARTIFACTS.mkdir(exist_ok=True)
    assert live_server.url.startswith("http://localhost:")  # a secure context
    grid_url = f"/work/grids/{field.h11.code}/"
    context = browser.new_context(**PHONE)
    page = context.new_page()
    problems = watch(page, live_server)

    # Online: the page registers the worker, which caches the static files and takes over.
    log_in(page, live_server, "worker", grid_url)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    assert sorted(page.evaluate(KEPT)) == [
        "/static/css/app.css",
        "/static/css/worker.css",
        "/static/js/checkqueue.js",
    ]
    # The grid page was loaded before the worker existed; loaded again, it is kept.
    page.reload()
    page.locator("a[data-household='HH-1']").tap()
    page.wait_for_url(f"{live_server.url}/work/households/HH-1/")
    assert page.locator("#offline-copy").count() == 0
    wait_until_kept(page, grid_url)
    wait_until_kept(page, "/work/households/HH-1/")

    # A network too slow to answer within 4 s: the kept copy, saying it is one.
    answered = threading.Event()
    households_with_status = worker_views.households_with_status

    def slowly(**kwargs):
        time.sleep(5)
        try:
            return households_with_status(**kwargs)
        finally:
            answered.set()

    monkeypatch.setattr(worker_views, "households_with_status", slowly)
    started = time.monotonic()
    page.reload()
    assert time.monotonic() - started > 3.5  # the network had its 4 s
    assert page.evaluate("navigator.onLine") is True
    assert page.inner_text("#offline-copy") in NOTICE
    monkeypatch.undo()
    assert answered.wait(10)  # the slow answer is done before the network drops

    # The network drops; a check is made and waits on the phone.
    context.set_offline(True)
    # Chromium's offline mode misses some requests of a page that a service worker controls:
    # a request the worker lets through to the network may still go out (Playwright issue
    # 2311; seen here reaching the server now and then), and no route sees it. So while the
    # phone is offline the check API answers 503, which the queue treats as it treats a
    # dropped network: nothing is stored, the check waits and is tried again.
    monkeypatch.setattr(CheckListCreateApi, "post", lambda self, request: HttpResponse(status=503))
    page.locator('button.step[data-for="m-fever"][data-step="1"]').tap()
    page.locator("#check-submit").tap()
    page.wait_for_selector("#outbox:not([hidden])")
    assert page.inner_text("#outbox-count") == "1"

    # Reopened without network: the kept copy, saying so, with the check still waiting.
    page.reload()
    assert page.locator("html[data-offline-copy]").count() == 1
    assert page.inner_text("#offline-copy") in NOTICE
    assert page.locator("#check-form").is_visible()
    page.wait_for_selector("#outbox:not([hidden])")
    assert page.inner_text("#outbox-count") == "1"
    assert "黄大山" in page.inner_text("#outbox-list")
    page.screenshot(path=str(ARTIFACTS / "worker-check-reopened-offline-phone.png"), full_page=True)

    # The grid page too: the household with a check waiting is marked so.
    page.goto(f"{live_server.url}{grid_url}")
    assert page.inner_text("#offline-copy") in NOTICE
    assert page.locator("a[data-household='HH-1'].is-waiting").count() == 1
    page.screenshot(path=str(ARTIFACTS / "worker-grid-reopened-offline-phone.png"), full_page=True)
    assert Check.objects.count() == 0

    # The network is back: the queue drains from the kept page, and the check is stored.
    monkeypatch.undo()
    context.set_offline(False)
    page.wait_for_selector("#outbox", state="hidden", timeout=20_000)
    check = Check.objects.get()
    assert check.household.code == "HH-1" and check.worker.username == "worker"
    assert (check.persons_present, check.fever) == (4, 1)
    page.reload()  # from the network now: fresh statuses, no notice
    assert page.locator("#offline-copy").count() == 0
    assert page.locator("a[data-household='HH-1'].is-checked").count() == 1
    # The queue's attempts while offline fail, or meet the 503 above, by design.
    assert [p for p in real(problems) if not p.startswith("503: ") or "/api/v1/" not in p] == []

    # Logging out lands on the login page, which forgets every kept page.
    page.locator("form.logout button").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")
    page.wait_for_function(f"{KEPT}.then(paths => paths.length === 0)")
    # Online, a worker page sends the logged-out phone to the login page; nothing is kept.
    page.goto(f"{live_server.url}{grid_url}")
    page.wait_for_url(f"{live_server.url}/accounts/login/?next={grid_url}")
    assert page.evaluate(KEPT) == []
    context.set_offline(True)
    with pytest.raises(PlaywrightError):
        page.goto(f"{live_server.url}{grid_url}")
    context.close()
