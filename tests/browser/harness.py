"""The browser test harness: Debian's Chromium driven by Playwright, every page guarded.

How the pages' browser tests run (`tests/browser/`, marked `browser`; in `make test`):

- `launch(playwright, fake_camera=...)` starts `/usr/bin/chromium` headless with the flags
  that keep it quiet (`CHROMIUM_FLAGS`: no background networking, no component updates, no
  sync) and a fresh profile (Playwright makes a temporary user-data-dir per launch). With
  `fake_camera` (a `.y4m` file, see `tests/browser/camera.py`) the page's `getUserMedia`
  gets that file as its camera, without a permission prompt.
- Nothing leaves the machine. Chromium is pointed at a proxy that refuses every connection
  (a loopback port bound but never listening), and loopback bypasses proxies, so a request to
  any host but 127.0.0.0/8, localhost or ::1 fails inside the browser; the guard also records
  it, so a page that tries (a CDN font, an analytics beacon) fails its test even though the
  request never got anywhere.
- `new_page(browser, width=360, height=740, lang="en")` opens a page in a fresh context
  (cookies and sessionStorage of its own), phone-sized, with the `lang` cookie the pages read,
  and attaches a `Guard` (`guard_of(page)`): requests leaving loopback, console errors and
  uncaught page errors, from every page of that context. `assert_clean(page_or_guard)` fails
  listing them. A console error Chromium writes for an API answer of 4xx (`/v1/...`, a wrong
  PIN or a refused payment the page shows to its user) is not an error of the page; any other
  failed load (a 404 for a script, a CSP refusal) is.
- `check_a11y(page)` runs axe-core (`.cache/axe-core`, installed by `make test`) with the
  WCAG 2.0/2.1 A and AA rules and axe's best practices, and fails listing each violation.
  axe is evaluated through the DevTools protocol, which the pages' CSP does not govern, so the
  pages need no exception for it.
- `shoot(page, name)` saves a screenshot in the session's temporary directory, and also as
  `docs/screenshots/NAME.png` when `BAKONG_SCREENSHOTS=1` and `NAME` is one of `DOCUMENTED`,
  the few the docs show (so an ordinary run never rewrites the docs, and they stay few).
- Playwright's sync API keeps an event loop on the main thread while it is open, so
  `asyncio.run` fails there: `in_thread(function, ...)` runs such code on a thread of its own.
  For the same reason the browser fixtures are per module, never per session: a later test
  elsewhere that calls `asyncio.run` would fail.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, Request

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / ".cache" / "axe-core" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
PHONE = (360, 740)
#: The screenshots README.md and docs/pages.md show (`shoot`).
DOCUMENTED = frozenset({
    "scenario-till-code",
    "scenario-scan-camera-confirm",
    "scenario-till-paid",
    "scenario-recipient-live",
})  # fmt: skip
_T = TypeVar("_T")


def _refusing_port() -> socket.socket:
    """A loopback socket bound and never listening: a connection to it is refused at once.
    Kept open while the browser runs, so no other process can take the port."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    return holder


def launch(playwright: Playwright, *, fake_camera: Path | None = None) -> Browser:
    """Debian's Chromium, headless, offline but for loopback (module docstring)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (as root)")
    holder = _refusing_port()
    port = holder.getsockname()[1]
    flags = [*CHROMIUM_FLAGS, f"--proxy-server=http://127.0.0.1:{port}"]
    if fake_camera is not None:
        flags += [
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={fake_camera}",
        ]
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=flags)
    browser.on("disconnected", lambda _: holder.close())
    return browser


def is_loopback(url: str) -> bool:
    """Whether `url` stays on this machine (or never touches a network: data:, blob:)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome", "devtools", "chrome-extension"):
        return True
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Guard:
    """What went wrong in one browser context: requests that left loopback, console errors
    (with where they came from) and uncaught exceptions."""

    outside_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return (
            [f"request left the machine: {url}" for url in self.outside_requests]
            + [f"console error: {text}" for text in self.console_errors]
            + [f"page error: {text}" for text in self.page_errors]
        )

    def clear(self) -> None:
        """Forget what was recorded (after a step that provoked errors on purpose)."""
        self.outside_requests.clear()
        self.console_errors.clear()
        self.page_errors.clear()

    def on_request(self, request: Request) -> None:
        if not is_loopback(request.url):
            self.outside_requests.append(request.url)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        source = str(message.location.get("url", ""))
        if _an_api_refusal(message.text, source):
            return
        self.console_errors.append(f"{message.text} ({source or 'inline'})")

    def on_page_error(self, error: Any) -> None:
        self.page_errors.append(str(error))


def _an_api_refusal(text: str, source: str) -> bool:
    """Chromium's own line for a JSON API answer of 4xx, which the page shows its user."""
    refused = "the server responded with a status of 4" in text
    return refused and is_loopback(source) and urlsplit(source).path.startswith("/v1/")


_guards: weakref.WeakKeyDictionary[Page, Guard] = weakref.WeakKeyDictionary()


def guard_context(context: BrowserContext) -> Guard:
    """Watch every page of `context` (module docstring)."""
    guard = Guard()
    context.on("request", guard.on_request)
    context.on("console", guard.on_console)
    context.on("weberror", lambda error: guard.on_page_error(error.error))
    return guard


def new_page(
    browser: Browser,
    *,
    width: int = PHONE[0],
    height: int = PHONE[1],
    lang: str = "en",
) -> Page:
    """A guarded page in a fresh context of `browser`, `width` x `height` CSS pixels, with
    the pages' `lang` cookie for loopback (`en` or `km`). Close it with `close_page`."""
    context = browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=1,
        locale="km-KH" if lang == "km" else "en-US",
        timezone_id="Asia/Phnom_Penh",
    )
    context.set_default_timeout(10_000)
    # Cookies ignore the port: one cookie per loopback name serves every local gateway.
    context.add_cookies([
        {"name": "lang", "value": lang, "domain": host, "path": "/"}
        for host in ("127.0.0.1", "localhost")
    ])  # fmt: skip
    guard = guard_context(context)
    page = context.new_page()
    _guards[page] = guard
    return page


def guard_of(page: Page) -> Guard:
    """The guard `new_page` attached to `page`."""
    return _guards[page]


def close_page(page: Page) -> None:
    page.context.close()


def assert_clean(page_or_guard: Page | Guard) -> None:
    """Fail listing every request that left loopback, console error and page error."""
    guard = page_or_guard if isinstance(page_or_guard, Guard) else guard_of(page_or_guard)
    problems = guard.problems()
    if problems:
        pytest.fail("the page was not clean:\n  " + "\n  ".join(problems), pytrace=False)


def check_a11y(page: Page, *, context: str | None = None) -> None:
    """Run axe-core on `page` (or the part `context` selects, a CSS selector); fail listing
    every violation of WCAG 2.0/2.1 A and AA and axe's best practices."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: `make test` installs it (npm)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    violations: list[dict[str, Any]] = page.evaluate(
        """async ([context, tags]) => {
            const result = await window.axe.run(context ?? document,
                {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(n => n.target.join(" ")),
            }));
        }""",
        [context, AXE_TAGS],
    )
    if violations:
        lines = [
            f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(v['targets'][:5])}"
            for v in violations
        ]
        pytest.fail(
            f"accessibility violations on {page.url}:\n  " + "\n  ".join(lines), pytrace=False
        )


_screenshot_directory: list[Path] = []


def set_screenshot_directory(directory: Path) -> None:
    """Where `shoot` keeps every screenshot (the conftest gives the session's temp dir)."""
    _screenshot_directory[:] = [directory]


def shoot(page: Page, name: str) -> Path:
    """A screenshot of what `page` shows, as `NAME.png` (module docstring); its path."""
    assert name.replace("-", "").replace("_", "").isalnum(), name
    directory = _screenshot_directory[0] if _screenshot_directory else ROOT / ".cache" / "shots"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    if os.environ.get("BAKONG_SCREENSHOTS") == "1" and name in DOCUMENTED:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / path.name).write_bytes(path.read_bytes())
    return path


def in_thread(function: Callable[..., _T], *args: Any) -> _T:
    """`function(*args)` on a thread of its own (for `asyncio.run` while Playwright's sync
    API holds this thread's event loop); its result, or its exception raised here."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, function(*args)))
        except BaseException as error:  # handed to the caller, who raises it
            outcome.append((False, error))

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    succeeded, value = outcome[0]
    if not succeeded:
        raise value
    result: _T = value
    return result
