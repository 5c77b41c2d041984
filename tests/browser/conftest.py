"""Fixtures of the browser tests (`harness` says how they run and what they check).

- `playwright`, `browser`: Playwright and Debian's Chromium, one per test module (never per
  session: see `harness` on event loops). `camera_browser(y4m)`: a Chromium whose camera shows
  that file, closed with the module.
- `page`: a guarded 360 x 740 page in English; when the test ends it must be clean (no request
  off loopback, no console or page error). `pages(lang=..., width=..., height=...,
  browser=...)`: more guarded pages, each checked and closed the same way.
- `gateway` (and its `core`, `engine`): the gateway tests' fixtures, re-exported, on SQLite
  only (`database_url`): the server side is tested on both databases in `tests/gateway`.
  `gateway_url`: its base URL.
- Every test under `tests/browser/` is marked `browser`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from bakong.gateway import db
from tests.browser import harness
from tests.gateway.conftest import RunningGateway, core, engine, gateway

__all__ = ["core", "engine", "gateway"]  # the gateway tests' fixtures, served here too

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            _open_pages_last(item)


def _open_pages_last(item: pytest.Item) -> None:
    """Set the pages up after the servers they visit, so they close before those servers stop:
    a server stopping under an open page waits for the page's event stream until it times out."""
    names = getattr(item, "fixturenames", None)
    if names is None:
        return
    for name in ("pages", "page"):
        if name in names:
            names.remove(name)
            names.append(name)


@pytest.fixture(scope="session", autouse=True)
def _screenshots(tmp_path_factory: pytest.TempPathFactory) -> None:
    harness.set_screenshot_directory(tmp_path_factory.mktemp("screenshots"))


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = harness.launch(playwright)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def camera_browser(playwright: Playwright) -> Iterator[Callable[[Path], Browser]]:
    launched: list[Browser] = []

    def with_camera(y4m: Path) -> Browser:
        chromium = harness.launch(playwright, fake_camera=y4m)
        launched.append(chromium)
        return chromium

    yield with_camera
    for chromium in launched:
        chromium.close()


@pytest.fixture
def pages(browser: Browser) -> Iterator[Callable[..., Page]]:
    """A factory of guarded pages; each must be clean when the test ends."""
    opened: list[Page] = []

    def open_page(
        *,
        lang: str = "en",
        width: int = harness.PHONE[0],
        height: int = harness.PHONE[1],
        on: Browser | None = None,
    ) -> Page:
        page = harness.new_page(on or browser, width=width, height=height, lang=lang)
        opened.append(page)
        return page

    yield open_page
    guards = [harness.guard_of(page) for page in opened]
    for page in opened:
        harness.close_page(page)
    for guard in guards:
        harness.assert_clean(guard)


@pytest.fixture
def page(pages: Callable[..., Page]) -> Page:
    return pages()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return db.sqlite_url(tmp_path / "gateway.db")


@pytest.fixture
def gateway_url(gateway: RunningGateway) -> str:
    return gateway.url
