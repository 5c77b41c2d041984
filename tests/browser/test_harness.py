"""The harness catches what it promises to: a request leaving the machine, a console error, an
uncaught exception, a CSP refusal, a missing label; and lets a clean, accessible page pass.

The pages here are served by a small Starlette app on loopback with the gateway's CSP, so
they behave as the gateway's own pages do (no inline scripts: each script is a file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.browser import harness
from tests.gateway.loopback import serve

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
GOOD = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Good</title>
<link rel="icon" href="data:,"></head>
<body><main><h1>Pay</h1><form><label for="amount">Amount</label>
<input id="amount" name="amount" inputmode="numeric"><button type="submit">Pay</button>
</form></main></body></html>"""
BAD = GOOD.replace('<label for="amount">Amount</label>', "").replace("<title>Good</title>", "")
SCRIPTS = {
    "outside.js": "fetch('https://cdn.example.com/lib.js').catch(() => {});",
    "console.js": "console.error('the balance did not load');",
    "throws.js": "window.addEventListener('load', () => { null.balance; });",
    "refused.js": "fetch('/v1/wallet').then(r => { document.body.dataset.status = r.status; });",
}


def _html(body: str, script: str | None = None) -> str:
    tag = f'<script src="/static/{script}"></script>' if script else ""
    return GOOD.replace("</main>", f"{body}</main>{tag}")


PAGES = {
    "good": GOOD,
    "bad": BAD,
    "outside": _html("", "outside.js"),
    "outside-csp": _html("", "outside.js"),
    "image": _html('<img src="http://203.0.113.7/logo.png" alt="logo">'),
    "console": _html("", "console.js"),
    "throws": _html("", "throws.js"),
    "inline": _html("<script>document.title = 'inline';</script>"),
    "missing": _html("", "missing.js"),
    "refused": _html("", "refused.js"),
}
WITHOUT_CSP = {"outside", "image"}


def _page(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in PAGES:
        return Response("not found", 404)
    # A page without its CSP, as a page that forgot it would be: only the guard stops it.
    headers = {} if name in WITHOUT_CSP else {"Content-Security-Policy": CSP}
    return Response(PAGES[name], media_type="text/html", headers=headers)


def _script(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in SCRIPTS:
        return Response("not found", 404)
    return Response(SCRIPTS[name], media_type="text/javascript")


def _refuse(request: Request) -> Response:
    return JSONResponse({"error": {"code": "unauthenticated", "message": "sign in"}}, 401)


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    app = Starlette(routes=[
        Route("/pages/{name}", _page),
        Route("/static/{name}", _script),
        Route("/v1/wallet", _refuse),
    ])  # fmt: skip
    with serve(app) as url:
        yield url


@pytest.fixture
def loose(browser: Browser) -> Iterator[Page]:
    """A guarded page this test inspects itself (the `page` fixture would fail its teardown)."""
    opened = harness.new_page(browser)
    yield opened
    harness.close_page(opened)


def _open(page: Page, site: str, name: str) -> harness.Guard:
    page.goto(f"{site}/pages/{name}")
    page.wait_for_load_state("networkidle")
    return harness.guard_of(page)


def _fails(page: Page, *expected: str) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        harness.assert_clean(page)
    for text in expected:
        assert text in str(failed.value)


def test_a_clean_accessible_page_passes(page: Page, site: str) -> None:
    _open(page, site, "good")
    harness.assert_clean(page)
    harness.check_a11y(page)
    assert page.viewport_size == {"width": 360, "height": 740}
    assert page.evaluate("() => document.cookie") == "lang=en"


def test_a_fetch_to_a_cdn_is_caught_and_never_leaves(loose: Page, site: str) -> None:
    guard = _open(loose, site, "outside")
    assert guard.outside_requests == ["https://cdn.example.com/lib.js"]
    _fails(loose, "request left the machine: https://cdn.example.com/lib.js")


def test_the_csp_refuses_a_fetch_to_a_cdn_before_it_is_made(loose: Page, site: str) -> None:
    guard = _open(loose, site, "outside-csp")
    assert guard.outside_requests == []
    _fails(loose, "Content Security Policy", "cdn.example.com")


def test_an_image_at_an_outside_address_is_caught(loose: Page, site: str) -> None:
    failures: list[str] = []
    loose.on("requestfailed", lambda request: failures.append(str(request.failure)))
    guard = _open(loose, site, "image")
    assert guard.outside_requests == ["http://203.0.113.7/logo.png"]
    # It never got anywhere: the refusing proxy ended it at once (no DNS, no connection).
    assert failures == ["net::ERR_PROXY_CONNECTION_FAILED"]
    assert loose.evaluate("() => document.querySelector('img').naturalWidth") == 0
    _fails(loose, "203.0.113.7")


def test_a_console_error_is_caught(loose: Page, site: str) -> None:
    _open(loose, site, "console")
    _fails(loose, "console error: the balance did not load")


def test_an_uncaught_exception_is_caught(loose: Page, site: str) -> None:
    guard = _open(loose, site, "throws")
    assert guard.page_errors and "null" in guard.page_errors[0]
    _fails(loose, "page error:")


def test_an_inline_script_refused_by_the_csp_is_caught(loose: Page, site: str) -> None:
    _open(loose, site, "inline")
    assert loose.title() == "Good"  # the CSP held
    _fails(loose, "Content Security Policy")


def test_a_missing_script_is_caught(loose: Page, site: str) -> None:
    _open(loose, site, "missing")
    _fails(loose, "404", "/static/missing.js")


def test_an_api_refusal_the_page_handles_is_not_an_error(page: Page, site: str) -> None:
    _open(page, site, "refused")
    page.wait_for_function("() => document.body.dataset.status === '401'")
    harness.assert_clean(page)


def test_axe_finds_a_missing_label_and_a_missing_title(page: Page, site: str) -> None:
    _open(page, site, "bad")
    with pytest.raises(pytest.fail.Exception) as failed:
        harness.check_a11y(page)
    assert "label (critical)" in str(failed.value)
    assert "#amount" in str(failed.value)
    assert "document-title" in str(failed.value)
    harness.check_a11y(page, context="h1")  # the rest of the page is fine


def test_khmer_pages_get_the_khmer_cookie(pages: Callable[..., Page], site: str) -> None:
    khmer = pages(lang="km", width=412, height=915)
    _open(khmer, site, "good")
    assert khmer.evaluate("() => document.cookie") == "lang=km"
    assert khmer.evaluate("() => navigator.language") == "km-KH"
    assert khmer.viewport_size == {"width": 412, "height": 915}


def test_a_screenshot_is_written_at_phone_size_and_into_the_docs_only_when_asked(
    page: Page, site: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    monkeypatch.setattr(harness, "SCREENSHOTS", docs)
    monkeypatch.delenv("BAKONG_SCREENSHOTS", raising=False)
    documented = sorted(harness.DOCUMENTED)[0]
    _open(page, site, "good")
    path = harness.shoot(page, documented)
    png = path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(png[16:20]), int.from_bytes(png[20:24])) == (360, 740)
    assert not docs.exists()  # an ordinary run leaves the docs alone
    monkeypatch.setenv("BAKONG_SCREENSHOTS", "1")
    harness.shoot(page, "harness-self-test")
    assert not docs.exists()  # not one the docs show
    harness.shoot(page, documented)
    assert (docs / f"{documented}.png").read_bytes()[:8] == png[:8]


def _y4m(path: Path, width: int = 64, height: int = 48, frames: int = 3) -> Path:
    """A tiny grey video: the y4m header, then each frame's Y, U and V planes (4:2:0)."""
    frame = b"FRAME\n" + bytes([128]) * (width * height + 2 * (width // 2) * (height // 2))
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * frames)
    return path


def test_a_fake_camera_shows_the_given_video(
    camera_browser: Callable[[Path], Browser], site: str, tmp_path: Path
) -> None:
    camera = harness.new_page(camera_browser(_y4m(tmp_path / "grey.y4m")))
    try:
        camera.goto(f"{site}/pages/good")
        size = camera.evaluate("""async () => {
            const stream = await navigator.mediaDevices.getUserMedia({video: true});
            const settings = stream.getVideoTracks()[0].getSettings();
            stream.getTracks().forEach(track => track.stop());
            return [settings.width, settings.height];
        }""")
        assert size == [64, 48]
        harness.assert_clean(camera)
    finally:
        harness.close_page(camera)


def test_only_loopback_counts_as_local() -> None:
    local = [
        "http://127.0.0.1:8080/wallet",
        "http://127.9.9.9/",
        "http://localhost:1/",
        "http://[::1]:80/",
        "data:image/png;base64,AA",
        "blob:http://127.0.0.1/x",
    ]
    outside = [
        "https://fonts.googleapis.com/css",
        "http://10.0.0.1/",
        "http://[2001:db8::1]/",
        "http://localhost.example.com/",
        "http://203.0.113.7/",
    ]
    assert all(harness.is_loopback(url) for url in local)
    assert not any(harness.is_loopback(url) for url in outside)


def test_the_gateway_fixture_serves_the_browser(page: Page, gateway_url: str) -> None:
    answer = page.request.get(f"{gateway_url}/healthz")
    assert answer.ok and answer.json()["status"] == "ok"
