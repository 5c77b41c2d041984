"""A wallet at the switch pays a Cambodian KHQR through the link (`/sim/wallets/{id}/pay-khqr`),
against a small fake link in this test: a real HTTP server that checks the switch's signatures
and signs its answers, and can accept, refuse, fail or be signed by a stranger."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bakong.corebank.books import day_of
from bakong.crossborder.messages import (
    IsoProblem,
    Lookup,
    LookupAnswer,
    Pacs002,
    Pacs008,
    Statement,
    decode,
    encode,
    get_signed_bytes,
    sign_body,
    verify_body,
)
from bakong.foreignsim.process import SwitchProcess
from bakong.keystore import generate_key
from bakong.wire.keys import SigningKey

from .conftest import LinkSide, make_switch, now_ms

KHQR = "00020101021229180014coffee@aclb5303116540450005802KH5906Coffee6010Phnom Penh6304ABCD"


class FakeLink:
    """The link's /iso routes, in memory. `mode`: accept | refuse | fail | stranger."""

    def __init__(self, key: SigningKey) -> None:
        self.key = key
        self.switch_key = b""
        self.mode = "accept"
        self.code_amount: int | None = 5_000
        self.received: dict[str, Pacs008] = {}
        self.statuses: dict[str, Pacs002] = {}

    def answer(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, bytes, bool]:
        """(status, body, sign it)."""
        if self.mode == "fail":
            return 503, b'{"code":"unavailable","message":"down"}', False
        try:
            verify_body(
                [self.switch_key], headers, body if method == "POST" else get_signed_bytes(path)
            )
        except IsoProblem as problem:
            return 401, encode(problem.error()), True
        if path == "/iso/lookup":
            decode(body, Lookup)
            found = LookupAnswer(
                "khqr", "coffee@aclb", "Coffee", "Phnom Penh", "KH", "KHR", self.code_amount
            )
            return 200, encode(found), True
        if path == "/iso/pacs008":
            message = decode(body, Pacs008)
            self.received[message.end_to_end_id] = message
            status = "RJCT" if self.mode == "refuse" else "ACCC"
            answer = Pacs002(
                message.end_to_end_id, status, "AC04" if status == "RJCT" else None, now_ms()
            )
            self.statuses[message.end_to_end_id] = answer
            return 200, encode(answer), True
        e2e = path.rsplit("/", 1)[-1]
        if path.startswith("/iso/pacs002/") and e2e in self.statuses:
            return 200, encode(self.statuses[e2e]), True
        return 404, b'{"code":"payment_not_found","message":"no such payment"}', True


@pytest.fixture(scope="module")
def fake_link() -> Iterator[tuple[FakeLink, str]]:
    link = FakeLink(generate_key())

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            size = min(int(self.headers.get("content-length") or 0), 8192)
            body = self.rfile.read(size) if method == "POST" else b""
            status, answer, signed = link.answer(method, self.path, self.headers, body)
            key = generate_key() if link.mode == "stranger" else link.key
            self.send_response(status)
            headers = sign_body(key, answer) if signed else {}
            for name, value in {**headers, "content-type": "application/json"}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            self._serve("POST")

        def do_GET(self) -> None:  # noqa: N802
            self._serve("GET")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield link, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module", params=["thai", "vietnam"])
def switch_for_link(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_link: tuple[FakeLink, str],
) -> Iterator[SwitchProcess]:
    link, url = fake_link
    home = tmp_path_factory.mktemp(f"paying-{request.param}") / "switch"
    process = make_switch(home, request.param, link.key, url)
    process.start()
    try:
        process.wait_healthy()
        yield process
    finally:
        process.kill()


@pytest.fixture
def paying(
    switch_for_link: SwitchProcess, fake_link: tuple[FakeLink, str]
) -> Iterator[tuple[LinkSide, FakeLink]]:
    """The switch and the fake link, the link reset to accepting this switch's messages."""
    link, _ = fake_link
    link.__dict__.pop("answer", None)
    link.mode, link.code_amount = "accept", 5_000
    link.switch_key = switch_for_link.home.key.public_key
    side = LinkSide(switch_for_link, link.key)
    try:
        yield side, link
    finally:
        side.close()


def pay(side: LinkSide, body: dict[str, Any], wallet: str | None = None) -> Any:
    wallet = wallet or side.switch.home.family.wallets[0][0]
    return side.sim("POST", f"/sim/wallets/{wallet}/pay-khqr", json=body)


# 5,000 riel at 118.25 riel a baht is 42.2833 baht: 4,229 satang, rounded up; at 0.158 riel a
# dong, 31,645.57 dong: 31,646.
EXPECTED = {"thai": 4_229, "vietnam": 31_646}


def test_an_accepted_payment_moves_the_wallets_money_to_the_nostro(
    paying: tuple[LinkSide, FakeLink],
) -> None:
    side, link = paying
    family = side.switch.home.family
    wallet = family.wallets[0][0]
    before = side.balances()
    response = pay(side, {"qr": KHQR})
    assert response.status_code == 200, response.text
    paid = response.json()
    assert (paid["status"], paid["merchant_name"], paid["amount"]) == ("ACCC", "Coffee", 5_000)
    assert paid["local_amount"] == EXPECTED[family.name]
    sent = link.received[paid["end_to_end_id"]]
    assert (sent.currency, sent.amount, sent.creditor_id) == ("KHR", 5_000, "coffee@aclb")
    assert sent.remittance == hashlib.md5(KHQR.encode()).hexdigest()
    assert (sent.settlement_currency, sent.settlement_amount) == (
        family.currency,
        paid["local_amount"],
    )
    after = side.balances()
    assert after[wallet] == before[wallet] - paid["local_amount"]
    assert after["nostro"] == before["nostro"] + paid["local_amount"]
    assert after["suspense"] == 0
    statement = side.get(f"/iso/statement/{day_of(now_ms())}", Statement)[1]
    assert [
        (e.kind, e.side) for e in statement.entries if e.end_to_end_id == paid["end_to_end_id"]
    ] == [("pacs008", "credit")]


def test_a_refused_payment_gives_the_money_back(paying: tuple[LinkSide, FakeLink]) -> None:
    side, link = paying
    before = side.balances()
    link.mode = "refuse"
    paid = pay(side, {"qr": KHQR}).json()
    assert (paid["status"], paid["reason"]) == ("RJCT", "AC04")
    assert side.balances() == before


def test_amounts_of_static_and_dynamic_codes(paying: tuple[LinkSide, FakeLink]) -> None:
    side, link = paying
    assert pay(side, {"qr": KHQR, "amount": 4_000}).json()["code"] == "amount_mismatch"
    link.code_amount = None
    assert pay(side, {"qr": KHQR}).json()["code"] == "amount_required"
    paid = pay(side, {"qr": KHQR, "amount": 11_825}).json()
    assert paid["status"] == "ACCC" and paid["amount"] == 11_825
    rich = 10**12
    response = pay(side, {"qr": KHQR, "amount": rich})
    assert (response.status_code, response.json()["code"]) == (422, "insufficient_funds")
    assert pay(side, {"qr": KHQR}, wallet="w-nobody").status_code in (400, 404)
    assert pay(side, {"qr": KHQR, "extra": 1}).status_code == 400


def test_a_link_that_fails_leaves_the_payment_pending_until_it_answers(
    paying: tuple[LinkSide, FakeLink],
) -> None:
    side, link = paying
    wallet = side.switch.home.family.wallets[0][0]
    before = side.balances()
    link.mode = "accept"
    original = link.answer

    def fail_pacs008(method: str, path: str, headers: Any, body: bytes) -> Any:
        answered = original(method, path, headers, body)
        return (503, b"{}", False) if path in ("/iso/pacs008",) or "pacs002" in path else answered

    link.answer = fail_pacs008  # type: ignore[method-assign]
    response = pay(side, {"qr": KHQR})
    assert response.status_code == 202
    pending = response.json()
    assert pending["status"] == "ACSP"
    middle = side.balances()
    assert middle[wallet] == before[wallet] - pending["local_amount"]  # never refunded on a guess
    assert middle["suspense"] == pending["local_amount"]
    refreshed = side.sim("GET", f"/sim/payments/{pending['end_to_end_id']}").json()
    assert refreshed["status"] == "ACSP"
    link.answer = original  # type: ignore[method-assign]
    refreshed = side.sim("GET", f"/sim/payments/{pending['end_to_end_id']}").json()
    assert refreshed["status"] == "ACCC"
    assert side.balances()["nostro"] == before["nostro"] + pending["local_amount"]


def test_a_link_answer_signed_by_a_stranger_is_not_believed(
    paying: tuple[LinkSide, FakeLink],
) -> None:
    side, link = paying
    before = side.balances()
    link.mode = "stranger"
    response = pay(side, {"qr": KHQR})
    assert (response.status_code, response.json()["code"]) == (502, "link_answer_unusable")
    assert side.balances() == before


def test_the_link_refuses_a_switch_it_does_not_know(paying: tuple[LinkSide, FakeLink]) -> None:
    side, link = paying
    link.switch_key = generate_key().public_key
    before = side.balances()
    response = pay(side, {"qr": KHQR})
    assert (response.status_code, response.json()["code"]) == (502, "link_refused")
    assert "signer_unknown" in response.json()["message"]
    assert side.balances() == before
