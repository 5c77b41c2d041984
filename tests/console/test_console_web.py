"""The console over HTTP, as a browser uses it: sign-in with an HttpOnly cookie, the pages'
headers, anti-forgery tokens, maker/checker through the forms, search, the audit log, and
both languages (SQLite and PostgreSQL, a real node API)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

import httpx
import pytest

from bakong.gateway.pages.render import CSP
from bakong.ledger.assets import Asset
from tests.console.console_harness import (
    PASSWORD,
    RunningConsole,
    console,
    console_engine,
    core,
    database_url,
    postgres_server,
)

__all__ = ["console", "console_engine", "core", "database_url", "postgres_server"]

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@contextmanager
def _signed_in(console: RunningConsole, name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console.url, follow_redirects=False) as client:
        answer = client.post("/signin", data={"name": name, "password": PASSWORD})
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        yield client


def _csrf(client: httpx.Client, path: str = "/proposals") -> str:
    match = _CSRF.search(client.get(path).text)
    assert match is not None
    return match.group(1)


def test_pages_need_a_session_and_carry_the_strict_headers(console: RunningConsole) -> None:
    with httpx.Client(base_url=console.url) as client:
        for path in ("/", "/participants", "/proposals", "/audit", "/transactions"):
            answer = client.get(path, follow_redirects=False)
            assert answer.status_code == 303 and answer.headers["location"] == "/signin"
        signin = client.get("/signin")
        assert signin.headers["content-security-policy"] == CSP
        assert signin.headers["x-content-type-options"] == "nosniff"
        assert signin.headers["cache-control"] == "no-store"
        assert "<script" not in signin.text and "style=" not in signin.text
        wrong = client.post(
            "/signin", data={"name": "olga", "password": "wrong"}, follow_redirects=False
        )
        assert wrong.headers["location"] == "/signin?error=login_failed"
        assert "The name or the password is wrong." in client.get(wrong.headers["location"]).text


def test_the_session_cookie_is_http_only_and_strict(console: RunningConsole) -> None:
    with httpx.Client(base_url=console.url) as client:
        answer = client.post("/signin", data={"name": "ada", "password": PASSWORD})
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        overview = client.get("/")
        assert overview.status_code == 200 and "ada · auditor" in overview.text


def test_maker_checker_through_the_forms(console: RunningConsole) -> None:
    with _signed_in(console, "olga") as olga, _signed_in(console, "sam") as sam:
        form = {"kind": "issue", "participant": "wing", "asset": "USD", "amount": "2,500.75",
                "reference": "reserve-77", "back": "/liquidity"}  # fmt: skip
        forged = olga.post("/proposals", data={**form, "csrf": "forged"})
        assert forged.headers["location"] == "/proposals?error=csrf"
        proposed = olga.post("/proposals", data={**form, "csrf": _csrf(olga, "/liquidity")})
        assert proposed.headers["location"] == "/liquidity?done=proposed-1"
        assert (
            "Proposal 1 is waiting for a supervisor." in olga.get("/liquidity?done=proposed-1").text
        )
        refused = olga.post("/proposals/1/approve", data={"csrf": _csrf(olga)})
        assert refused.headers["location"] == "/proposals?error=role_forbidden"
        approved = sam.post("/proposals/1/approve", data={"csrf": _csrf(sam)})
        assert approved.headers["location"] == "/proposals?done=committed-1"
        console.wait_for_height(console.core.height)
        participants = sam.get("/participants").text
        row = participants[participants.index('id="participant-wing"') :]
        assert "2,500.75 USD" in row[: row.index("</tr>")]
        # A supervisor's own proposal: another must decide.
        own = {**form, "participant": "aclb", "csrf": _csrf(sam)}
        assert sam.post("/proposals", data=own).headers["location"] == "/liquidity?done=proposed-2"
        mine = sam.post("/proposals/2/approve", data={"csrf": _csrf(sam)})
        assert mine.headers["location"] == "/proposals?error=own_proposal"
        text = sam.get(mine.headers["location"]).text
        assert "You cannot approve or reject your own proposal" in text and 'role="alert"' in text
        audit = sam.get("/audit").text
        for action in ("sign_in", "propose", "approve", "committed"):
            assert f"<td>{action}</td>" in audit


def test_search_and_the_account_page(console: RunningConsole) -> None:
    chain = console.core.sandbox
    console.commit("nbc", chain.issue("aclb", Asset.KHR, 12_345, "r-search"))
    height = console.commit("nbc", chain.issue("wing", Asset.USD, 99, "r-other"))
    console.wait_for_height(height)
    with _signed_in(console, "ada") as ada:
        found = ada.get("/transactions", params={"account": "settlement@aclb"}).text
        assert "1 found" in found and "12,345 KHR" in found
        assert "1 found" in ada.get("/transactions", params={"participant": "wing"}).text
        assert "2 found" in ada.get("/transactions", params={"result": "ok"}).text
        assert "0 found" in ada.get("/transactions", params={"min": "100000"}).text
        page = ada.get("/account", params={"id": "settlement@aclb"}).text
        assert "12,345 KHR" in page
        assert 'id="status-form"' not in page  # an auditor proposes nothing


def test_khmer_pages(console: RunningConsole) -> None:
    with _signed_in(console, "sam") as sam:
        sam.cookies.set("lang", "km")
        overview = sam.get("/").text
        assert '<html lang="km">' in overview and "ទិដ្ឋភាពទូទៅ" in overview


@pytest.mark.parametrize("language", ["en", "km"])
def test_every_message_exists_in_both_languages(language: str) -> None:
    folder = resources.files("bakong.console.pages") / "messages"
    english = json.loads((folder / "console.en.json").read_text())
    other = json.loads((folder / f"console.{language}.json").read_text())
    assert english.keys() == other.keys() and all(other.values())


def test_a_participant_is_paused_through_the_participants_page(console: RunningConsole) -> None:
    with _signed_in(console, "olga") as olga, _signed_in(console, "sam") as sam:
        form = {"kind": "pause", "participant": "abaa", "reference": "late reports",
                "back": "/participants", "csrf": _csrf(olga, "/participants")}  # fmt: skip
        proposed = olga.post("/proposals", data=form)
        assert proposed.headers["location"] == "/participants?done=proposed-1"
        central = olga.post("/proposals", data={**form, "participant": "nbc"})
        assert central.headers["location"] == "/participants?error=participant_invalid"
        approved = sam.post("/proposals/1/approve", data={"csrf": _csrf(sam)})
        assert approved.headers["location"] == "/proposals?done=committed-1"
        console.wait_for_height(console.core.height)
        page = sam.get("/participants").text
        row = page[page.index('id="participant-abaa"') :]
        assert "suspended" in row[: row.index("</tr>")]
