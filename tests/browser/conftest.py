import os

import pytest

from tests.browser.support import CHROMIUM, CHROMIUM_ARGS


def pytest_collection_modifyitems(config, items):
    missing = not os.path.exists(CHROMIUM)
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            if missing:
                item.add_marker(
                    pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install chromium")
                )


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole run: Playwright's sync API cannot be started twice in one
    thread while another instance lives, and one launch is faster anyway."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
