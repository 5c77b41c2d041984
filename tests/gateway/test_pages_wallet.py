"""The wallet's pages from the server's side, on a running gateway: every page renders in both
languages with the headers every page carries, the static files (types, caching, no listing,
no way out of their directory), the language switch, the message catalogs (every key in both
languages, Khmer really Khmer, every key the templates and scripts use defined), the manifest
and its icons, pages that hold no customer's data; and what the pages need from the API: the
PIN on a payment, the tries left after a wrong PIN, history filters, a requested code drawn,
the money waiting for a wallet's phone (shown to that wallet only, locked ones marked).
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import PIL.Image
import pytest
from sqlalchemy.engine import Engine

from bakong import limits
from bakong.gateway import serve, sms
from bakong.gateway.pages import i18n
from bakong.gateway.pages.render import CSP
from bakong.gateway.pages.wallet import PAGES
from tests.gateway.conftest import Core, RunningGateway
from tests.gateway.test_wallets import PIN, auth, cash_in, register

PAGES_DIR = Path(i18n.__file__).resolve().parent
KHMER = re.compile("[\u1780-\u17ff]")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
WRONG_PIN = "590142"
RECEIPT = "/wallet/receipt/" + "ab" * 32
SENT_CLAIM = "/wallet/sent/" + "cd" * limits.claim_id_bytes
PAGE_PATHS = [path for path, _, _ in PAGES] + [RECEIPT, SENT_CLAIM]

# Pages touch no database: their tests run on SQLite only (the API's on both).
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30, follow_redirects=False) as client:
        yield client


def _is_khmer(text: str) -> bool:
    """Whether a Khmer catalog's `text` is Khmer: it has Khmer letters, or no words at all
    but placeholders, acronyms (KHQR, PIN), handles and examples (sokha@wing)."""
    if KHMER.search(text):
        return True
    rest = re.sub(r"\{\w+\}|\b[A-Z]{2,}\b|\S+@\S+", "", text)
    return not re.search("[A-Za-z]", rest)


def _catalogs() -> dict[str, dict[str, dict[str, str]]]:
    families: dict[str, dict[str, dict[str, str]]] = {}
    for path in sorted((PAGES_DIR / "messages").glob("*.json")):
        family, language = path.stem.split(".")
        families.setdefault(family, {})[language] = json.loads(path.read_text())
    return families


# -- the catalogs -----------------------------------------------------------------------------


def test_every_family_has_every_key_in_both_languages() -> None:
    families = _catalogs()
    assert {"common", "wallet"} <= set(families)
    for family, languages in families.items():
        assert set(languages) == set(i18n.LANGUAGES), family
        english, khmer = languages["en"], languages["km"]
        assert set(english) == set(khmer), f"{family}: {set(english) ^ set(khmer)}"
        for key, text in khmer.items():
            assert _is_khmer(text), f"{family} {key} is left in English: {text!r}"
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english[key])), key


def test_every_key_the_pages_use_is_defined() -> None:
    defined = {key for languages in _catalogs().values() for key in languages["en"]}
    # A literal key: `t("wallet.send.title")` or `t("...", {...})`, not `t("prefix." + name)`.
    literal = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']\s*[,)]""")
    used: dict[str, str] = {}
    for path in [*(PAGES_DIR / "templates").rglob("*.html"),
                 *(PAGES_DIR / "static" / "js").glob("*.js")]:  # fmt: skip
        for key in literal.findall(path.read_text()):
            used[key] = path.name
    assert used, "no t(...) found: the pattern is wrong"
    missing = {key: where for key, where in used.items() if key not in defined}
    assert missing == {}


# -- pages ------------------------------------------------------------------------------------


@sqlite_only
@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_page_renders_with_the_page_headers(http: httpx.Client, language: str) -> None:
    http.cookies.set("lang", language)
    for path in PAGE_PATHS:
        answer = http.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert answer.headers["content-security-policy"] == CSP
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"
        html = answer.text
        assert f'<html lang="{language}">' in html
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
        assert '<link rel="manifest" href="/wallet/manifest.webmanifest">' in html
        assert '<main id="main"' in html and 'href="#main"' in html
        assert "<script>" not in html and " style=" not in html  # the CSP allows neither
        shown = html.split('<script type="application/json" id="messages">')[0]
        assert not PLACEHOLDER.search(shown.split("</head>")[1]), path
        title = re.search(r"<title>(.*?)</title>", html)
        assert title is not None and (language == "en" or KHMER.search(title.group(1))), path
        block = html.split('<script type="application/json" id="messages">')[1]
        messages = json.loads(block.split("</script>")[0])
        assert messages["common.brand"] == i18n.catalog("common", language)["common.brand"]


@sqlite_only
def test_every_asset_a_page_names_is_served(http: httpx.Client) -> None:
    seen: set[str] = set()
    for path in PAGE_PATHS:
        html = http.get(path).text
        seen.update(re.findall(r'(?:src|href)="(/static/[^"]+|/wallet/manifest[^"]*)"', html))
    assert any(url.endswith(".css") or ".css?" in url for url in seen)
    for url in sorted(seen):
        assert http.get(url.replace("&amp;", "&")).status_code == 200, url


@sqlite_only
def test_a_wrong_receipt_is_not_found_and_wallet_goes_home(http: httpx.Client) -> None:
    missing = http.get("/wallet/receipt/not-a-hash")
    assert missing.status_code == 404 and missing.headers["content-security-policy"] == CSP
    for claim_id in ("not-a-claim", "cd" * (limits.claim_id_bytes + 1), "CD" * 16):
        missing = http.get(f"/wallet/sent/{claim_id}")
        assert missing.status_code == 404 and missing.headers["content-security-policy"] == CSP
    assert http.get("/wallet").headers["location"] == "/wallet/"


def test_pages_hold_no_customer_data(
    http: httpx.Client, gateway: RunningGateway, core: Core
) -> None:
    token = register(http, gateway, "+85512400001", "sokha_chan", "Sokha Chan")
    cash_in(core, "sokha_chan@aclb", 77_777)
    gateway.wait_for_height(core.height)
    entry = http.get("/v1/wallet/history", headers=auth(token)).json()["entries"][0]
    private = ["Sokha", "Chan", "sokha_chan", "12400001", "77777", "77,777", "1990-04-17"]
    for path in [*PAGE_PATHS, f"/wallet/receipt/{entry['tx_hash']}"]:
        for headers in ({}, auth(token)):  # a page ignores the token: its script uses it
            html = http.get(path, headers=headers).text
            assert not [word for word in private if word in html], path


# -- the language switch ----------------------------------------------------------------------


@sqlite_only
def test_the_language_switch_sets_the_cookie_and_stays_on_this_site(http: httpx.Client) -> None:
    switched = http.get("/lang", params={"to": "km", "next": "/wallet/send"})
    assert switched.status_code == 303 and switched.headers["location"] == "/wallet/send"
    cookie = switched.headers["set-cookie"]
    assert cookie.startswith("lang=km;") and f"Max-Age={limits.page_lang_cookie_s}" in cookie
    http.cookies.set("lang", "km")
    assert '<html lang="km">' in http.get("/wallet/send").text
    for target in ["//evil.example/x", "/\\evil.example", "https://evil.example/",
                   "javascript:alert(1)", "/wallet/\r\nx", "/" + "a" * 600]:  # fmt: skip
        away = http.get("/lang", params={"to": "en", "next": target})
        assert away.headers["location"] == "/", target
    unknown = http.get("/lang", params={"to": "fr", "next": "/wallet/"})
    assert "set-cookie" not in unknown.headers and unknown.headers["location"] == "/wallet/"


# -- static files -----------------------------------------------------------------------------


def _raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET `path` byte for byte (an HTTP client would normalise `..` away)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as connection:
        request = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        connection.sendall(request.encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


@sqlite_only
def test_static_files_have_their_types_and_caching(http: httpx.Client) -> None:
    types = {
        "/static/css/pages.css": "text/css; charset=utf-8",
        "/static/js/api.js": "text/javascript; charset=utf-8",
        "/static/icons/icon-192.png": "image/png",
        "/wallet/manifest.webmanifest": "application/manifest+json",
    }
    for url, content_type in types.items():
        answer = http.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["content-type"] == content_type
        assert answer.headers["x-content-type-options"] == "nosniff"
    html = http.get("/wallet/signin").text
    versioned = re.search(r'href="(/static/css/pages\.css\?v=[0-9a-f]+)"', html)
    assert versioned is not None
    forever = http.get(versioned.group(1))
    assert forever.headers["cache-control"] == (
        f"public, max-age={limits.page_static_cache_s}, immutable"
    )
    plain = http.get("/static/css/pages.css")
    assert plain.headers["cache-control"] == "no-cache"
    again = http.get("/static/css/pages.css", headers={"if-none-match": plain.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    stale = http.get("/static/css/pages.css?v=000000000000")
    assert stale.headers["cache-control"] == "no-cache"


@sqlite_only
def test_nothing_outside_the_static_files_is_served(
    http: httpx.Client, gateway: RunningGateway
) -> None:
    for path in ["/static/", "/static/js", "/static/js/", "/static/css/nope.css",
                 "/static/%2e%2e/i18n.py", "/static/..%2fi18n.py",
                 "/static/js/%2e%2e/%2e%2e/i18n.py", "/static//etc/passwd",
                 "/static/../../pyproject.toml"]:  # fmt: skip
        assert http.get(path).status_code == 404, path
    for raw in ["/static/../i18n.py", "/static/js/../../wallet.py", "/static/../../../limits.py",
                "/static/./css/../../i18n.py"]:  # fmt: skip
        status, body = _raw_get(gateway.url, raw)
        assert status == 404 and b"import" not in body, raw


# -- the installable app ----------------------------------------------------------------------


@sqlite_only
def test_the_manifest_makes_the_wallet_installable(http: httpx.Client) -> None:
    manifest = http.get("/wallet/manifest.webmanifest").json()
    assert manifest["start_url"] == "/wallet/" and manifest["display"] == "standalone"
    assert manifest["name"] and manifest["short_name"] and manifest["theme_color"]
    purposes = set()
    for icon in manifest["icons"]:
        answer = http.get(icon["src"])
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
        with PIL.Image.open(io.BytesIO(answer.content)) as image:
            assert f"{image.width}x{image.height}" == icon["sizes"]
        purposes.add((icon["sizes"], icon["purpose"]))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= purposes


@sqlite_only
def test_the_openapi_document_describes_the_api_not_the_pages(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    assert "/v1/payments" in paths
    api = ("/v1/", "/ussd/", "/healthz", "/metrics", "/openapi")  # /ussd/: aggregators' callbacks
    assert not [path for path in paths if not path.startswith(api)]


# -- what the pages need from the API ---------------------------------------------------------


def _pay(http: httpx.Client, token: str, key: str, **extra: object) -> httpx.Response:
    body = {"idempotency_key": key, "to": {"account": "dara_sok@aclb"}, "amount": 1_000,
            "asset": "KHR", **extra}  # fmt: skip
    return http.post("/v1/payments", headers=auth(token), json=body)


def test_a_payment_checks_the_pin_it_carries(
    http: httpx.Client, gateway: RunningGateway, core: Core
) -> None:
    sokha = register(http, gateway, "+85512400101", "sokha_chan", "Sokha Chan")
    register(http, gateway, "+85512400102", "dara_sok", "Dara Sok")
    cash_in(core, "sokha_chan@aclb", 100_000)
    gateway.wait_for_height(core.height)
    wrong = _pay(http, sokha, "pin-1", pin=WRONG_PIN)
    assert wrong.status_code == 401, wrong.text
    error = wrong.json()["error"]
    assert (error["code"], error["attempts_left"]) == ("login_failed", limits.pin_failures_max - 1)
    assert WRONG_PIN not in wrong.text
    right = _pay(http, sokha, "pin-1", pin=PIN)  # the same key: nothing was stored
    assert right.status_code == 200 and right.json()["state"] == "committed", right.text
    assert _pay(http, sokha, "pin-2").status_code == 200  # the API's clients need none
    for tries_left in range(limits.pin_failures_max - 1, -1, -1):
        error = _pay(http, sokha, "pin-3", pin=WRONG_PIN).json()["error"]
        assert error["attempts_left"] == tries_left
    assert error["locked_until_ms"] > 0  # the wrong PIN that locked says until when
    locked = _pay(http, sokha, "pin-3", pin=PIN)
    assert locked.status_code == 423 and locked.json()["error"]["code"] == "pin_locked"
    assert locked.json()["error"]["locked_until_ms"] == error["locked_until_ms"]
    login = http.post("/v1/sessions", json={"handle": "sokha_chan", "pin": PIN})
    assert login.status_code == 423  # the payment's wrong PINs lock the wallet for sign-in too


def test_a_wrong_login_says_the_tries_left(http: httpx.Client, gateway: RunningGateway) -> None:
    register(http, gateway, "+85512400201", "sokha_chan", "Sokha Chan")
    wrong = http.post("/v1/sessions", json={"phone": "+85512400201", "pin": WRONG_PIN})
    assert wrong.json()["error"]["attempts_left"] == limits.pin_failures_max - 1
    again = http.post("/v1/sessions", json={"phone": "+85512400201", "pin": WRONG_PIN})
    assert again.json()["error"]["attempts_left"] == limits.pin_failures_max - 2
    nobody = http.post("/v1/sessions", json={"phone": "+85512400299", "pin": WRONG_PIN})
    assert nobody.status_code == 401 and nobody.json()["error"]["code"] == "login_failed"
    right = http.post("/v1/sessions", json={"phone": "+85512400201", "pin": PIN})
    assert right.status_code == 201
    after = http.post("/v1/sessions", json={"phone": "+85512400201", "pin": WRONG_PIN})
    assert after.json()["error"]["attempts_left"] == limits.pin_failures_max - 1  # reset


def test_history_filters_by_time_and_transaction(
    http: httpx.Client, gateway: RunningGateway, core: Core
) -> None:
    sokha = register(http, gateway, "+85512400301", "sokha_chan", "Sokha Chan")
    register(http, gateway, "+85512400302", "dara_sok", "Dara Sok")
    cash_in(core, "sokha_chan@aclb", 100_000)
    gateway.wait_for_height(core.height)
    assert _pay(http, sokha, "h-1").status_code == 200
    gateway.wait_for_height(core.height)

    def history(**query: object) -> list[dict[str, object]]:
        answer = http.get("/v1/wallet/history", headers=auth(sokha), params=query)
        assert answer.status_code == 200, answer.text
        entries: list[dict[str, object]] = answer.json()["entries"]
        return entries

    both = history()
    assert [entry["direction"] for entry in both] == ["out", "in"]
    paid = both[0]
    assert isinstance(paid["time_ms"], int) and isinstance(paid["tx_hash"], str)
    assert history(tx_hash=paid["tx_hash"]) == [paid]
    assert history(since_ms=paid["time_ms"], until_ms=paid["time_ms"] + 1) == [paid]
    assert history(until_ms=both[1]["time_ms"]) == []
    assert history(since_ms=paid["time_ms"] + 1) == []
    assert http.get("/v1/wallet/history", headers=auth(sokha),
                    params={"tx_hash": "XYZ"}).status_code == 400  # fmt: skip


def test_a_requested_code_can_come_drawn(http: httpx.Client, gateway: RunningGateway) -> None:
    sokha = register(http, gateway, "+85512400401", "sokha_chan", "Sokha Chan")
    body = {"amount": 2_500, "asset": "KHR", "image": "svg"}
    drawn = http.post("/v1/wallet/request", headers=auth(sokha), json=body).json()
    assert drawn["svg"].startswith("<svg") or drawn["svg"].startswith("<?xml")
    assert drawn["qr"].startswith("000201") and drawn["expires_ms"] > 0
    plain = http.post("/v1/wallet/request", headers=auth(sokha), json={**body, "image": None})
    assert "svg" not in plain.json()
    png = http.post("/v1/wallet/request", headers=auth(sokha), json={**body, "image": "png"})
    assert png.status_code == 400


def _waiting(http: httpx.Client, token: str) -> list[dict[str, object]]:
    answer = http.get("/v1/wallet/claims/waiting", headers=auth(token))
    assert answer.status_code == 200, answer.text
    claims: list[dict[str, object]] = answer.json()["claims"]
    return claims


def test_money_waiting_for_a_phone_is_shown_to_its_wallet_only(
    http: httpx.Client, gateway: RunningGateway, core: Core
) -> None:
    sokha = register(http, gateway, "+85512400601", "sokha_chan", "Sokha Chan")
    cash_in(core, "sokha_chan@aclb", 100_000)
    gateway.wait_for_height(core.height)
    for key, amount in (("gift-1", 3_000), ("gift-2", 4_000)):
        body = {"idempotency_key": key, "to": {"phone": "+85512400677"}, "amount": amount,
                "asset": "KHR", "memo": "for the bus"}  # fmt: skip
        sent = http.post("/v1/payments", headers=auth(sokha), json=body)
        assert sent.status_code == 200 and sent.json()["claim"]["state"] == "pending_claim"
    assert http.get("/v1/wallet/claims/waiting").status_code == 401
    assert _waiting(http, sokha) == []  # the payer's own phone is owed nothing
    dara = register(http, gateway, "+85512400677", "dara_new", "Dara New")
    waiting = _waiting(http, dara)
    assert [(claim["amount"], claim["from"], claim["bank"], claim["locked"])
            for claim in waiting] == [(3_000, "Sokha C.", "aclb", False),
                                      (4_000, "Sokha C.", "aclb", False)]  # fmt: skip
    text = json.dumps(waiting)
    assert not [word for word in ("Chan", "sokha_chan", "12400601", "bus") if word in text]
    wrong = {"bank": "aclb", "code": "0" * limits.claim_code_digits}
    for _ in range(limits.claim_attempts_max):
        assert http.post("/v1/wallet/claims", headers=auth(dara), json=wrong).status_code == 403
    assert [claim["locked"] for claim in _waiting(http, dara)] == [True, True]
    lena = register(http, gateway, "+85512400678", "lena_new", "Lena New")
    assert _waiting(http, lena) == []


# -- the sign-up code of a local gateway ------------------------------------------------------


def test_a_local_gateway_prints_its_texts_and_only_a_local_one(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    with engine.begin() as connection:
        sms.queue_sms(connection, "+85512400501", sms.code_message("314159"), 1_000)
    sent = asyncio.run(sms.deliver_pending(engine, sms.PrintedSms(), 2_000, 10))
    assert sent == 1
    assert "sms to +85512400501: Your Bakong wallet code is 314159." in capsys.readouterr().out
    for host in ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"]:
        assert serve._is_loopback(host), host
    for host in ["0.0.0.0", "::", "192.168.1.20", "gateway.example", ""]:
        assert not serve._is_loopback(host), host
