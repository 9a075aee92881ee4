"""End to end in a real browser: headless Chromium (Debian's package) driven by Playwright over gunicorn.

Loads the search page, searches, follows a facet link and an item link, and loads /docs until Swagger
UI lists the operations, recording every request the browser makes: none may leave 127.0.0.1.
Screenshots go to tests/artifacts/. Without Chromium or Playwright the test fails, saying what to
install: a browser test that skips silently proves nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.gunicorn import Server, gunicorn, sample_env
from tests.support.paths import REPO

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts"
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Long enough for Swagger UI's 1.6 MB bundle on a loaded CI machine.
TIMEOUT_MS = 20_000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    env = sample_env(tmp_path)
    with gunicorn(env, tmp_path / "gunicorn.log") as srv:
        yield srv


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install playwright (never `playwright install`)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_search_facet_item_and_docs_in_chromium(server: Server, browser: Any) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 414, "height": 896})  # a phone-sized window
    seen: list[str] = []
    outside: list[str] = []

    def record(route: Any) -> None:
        url = route.request.url
        seen.append(url)
        host = urlsplit(url).hostname
        if url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", record)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(server.base + "/")
    assert page.title() == "feedsift"
    assert page.locator("li.hit").count() > 0  # the newest items, before any search
    page.fill("input[name=q]", "reinforcement learning")
    page.click("button[type=submit]")
    page.wait_for_url("**/?q=reinforcement+learning")
    assert page.locator("li.hit mark").count() > 0
    first_title = page.locator("li.hit h2 a").first.inner_text()
    assert "reinforcement" in first_title.lower()
    page.screenshot(path=str(ARTIFACTS / "browser-search.png"), full_page=True)

    facet = page.locator(".sources li a").first
    source = facet.inner_text()
    facet.click()
    page.wait_for_url("**source=**")
    assert parse_qs(urlsplit(page.url).query)["source"] == [source]
    metas = page.locator("li.hit .meta > a:first-child").all_inner_texts()
    assert metas and set(metas) == {source}
    page.screenshot(path=str(ARTIFACTS / "browser-facet.png"), full_page=True)

    page.locator("li.hit h2 a").first.click()
    page.wait_for_url("**/items/**")
    assert page.locator("article.item h1").inner_text()
    page.screenshot(path=str(ARTIFACTS / "browser-item.png"), full_page=True)

    page.goto(server.base + "/")
    page.click("text=API docs")
    page.wait_for_url("**/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert {"/v1/search", "/v1/suggest", "/v1/search.atom", "/metrics"} <= {p.strip() for p in paths}, paths
    page.screenshot(path=str(ARTIFACTS / "browser-docs.png"), full_page=False)
    context.close()

    assert not outside, f"requests left 127.0.0.1: {outside}"
    assert any(url.endswith("/docs/swagger-ui-bundle.js") for url in seen)
    assert any(url.endswith("/openapi.json") for url in seen)
    assert not problems, problems
