"""What every browser test shares: where Chromium is, how it starts here, where screenshots
go, and the checks a person would make on any page (no script errors, no request off the
site, nothing wider than the phone)."""

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium's start-up connections are refused by
# this machine's closed network; --no-sandbox because the tests run as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "pass-Word-123"
SHAPES = ".leaflet-overlay-pane svg path"


def watch(page, live_server):
    """Collect script errors, failed loads and any request that leaves the site."""
    problems = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status}: {response.url}")
            if response.status >= 400
            else None
        ),
    )
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith(live_server.url) or request.url.startswith("data:")
            else problems.append(f"external request: {request.url}")
        ),
    )
    return problems


def no_horizontal_overflow(page, width):
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"page is {scroll_width}px wide on a {width}px screen"
