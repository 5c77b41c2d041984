"""A wallet paying a foreign merchant's QR code (issue 20) through a running gateway (on SQLite
and on PostgreSQL) over a real node API on an in-memory chain, and a small fake link served on
loopback that honours the gateway <-> link contract: it checks each request's signature (the
gateway key, addressed to the link's key), quotes at a firm rate, checks the wallet's hold on
the ledger and posts or voids it with its own account's key. The fake can be told to refuse,
to be down, to answer `pending`, or to take a payment and drop the connection (so the gateway
never hears the answer). Covered: the quote (merchant, foreign amount, KHR total, rate,
expiry), a paid quote posted once whatever the retries, a refusal voided with nothing moved,
the daily limit on the KHR amount, an expired quote, and a payment resumed by the worker after
the link came back and after the gateway restarted."""

from __future__ import annotations

import math
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bakong.client import Client, post, void
from bakong.crossborder import store as link_store
from bakong.crossborder.app import create_app as create_link_app
from bakong.crossborder.home import Corridor, LinkConfig, LinkSection
from bakong.crossborder.messages import key_id
from bakong.crossborder.service import LinkServices
from bakong.crossborder.switch import SwitchClient
from bakong.errors import ConfigError
from bakong.foreignsim.app import create_app as create_switch_app
from bakong.foreignsim.home import init_home as init_switch_home
from bakong.gateway import db
from bakong.gateway.app import create_app
from bakong.gateway.crossborder import payments
from bakong.gateway.crossborder.config import (
    CrossborderConfig,
    check_crossborder,
    format_crossborder,
)
from bakong.gateway.crossborder.link import LinkClient, link_from_config
from bakong.gateway.service import GatewayServices
from bakong.khqr import foreign
from bakong.khqr.promptpay import generate_promptpay
from bakong.ledger.assets import Asset
from bakong.ledger.records import AccountKind, Hold, HoldStatus, KycTier
from bakong.ledger.state import decode_value, hold_key
from bakong.sandbox import sandbox_key
from bakong.wire.request import SeenRequests, check_request
from tests.crossborder.conftest import LINK
from tests.crossborder.conftest import Core as LinkCore
from tests.gateway.conftest import WAIT_S, Core, RunningGateway, gateway_key, make_services
from tests.gateway.loopback import serve
from tests.gateway.test_wallets import PIN, auth, cash_in, register

LINK_ACCOUNT = "fx@wing"  # the link's account: the hold's target and its poster
LINK_KEY = sandbox_key("xlnk/service")
RATE_NUM, RATE_DEN = 11825, 10_000  # 1 satang = 1.1825 riel: 1 THB = 118.25 KHR
MERCHANT_QR = generate_promptpay("0812345678", "250.00")  # THB 250.00
OPEN_QR = generate_promptpay("0899999999")  # no amount: the payer types it
SOKHA_PHONE = "+85512000601"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class FakeLink:
    """The link's side of the contract, small: quotes in memory, payments by end-to-end id."""

    core: Core
    #: accept | refuse | down | pending | drop-after-post | refuse-request | answer-409
    mode: str = "accept"
    quote_ms: int = 60_000
    hold_ms: int = 120_000
    quotes: dict[str, dict[str, Any]] = field(default_factory=dict)
    paid: dict[str, dict[str, Any]] = field(default_factory=dict)
    pay_calls: int = 0
    paid_ids: set[str] = field(default_factory=set)  # end-to-end ids asked to pay (retries once)
    seen: SeenRequests = field(default_factory=SeenRequests)

    async def _checked(self, request: Request) -> bytes:
        body = await request.body()
        headers = {name.lower(): value for name, value in request.headers.items()}
        verdict = check_request(self.core.sandbox.chain_id, LINK_KEY.public_key, request.method,
                                request.url.path, body, headers, now_ms(), self.seen)  # fmt: skip
        assert verdict == bytes(gateway_key("aclb").public_key), verdict
        return body

    async def quote(self, request: Request) -> Response:
        asked = msgspec.json.decode(await self._checked(request))
        parsed = foreign.parse(asked["qr"])
        if parsed.scheme != "promptpay":
            return JSONResponse({"error": {"code": "corridor_closed", "message": "no"}}, 422)
        amount = asked["amount"] if parsed.amount is None else round(float(parsed.amount) * 100)
        quote_id = f"q{len(self.quotes) + 1}"
        e2e = f"E2E-{quote_id}-{asked['payer'].split('@')[0][:8]}"
        quote = {
            "quote_id": quote_id, "scheme": "promptpay", "merchant_name": "Somchai Noodles",
            "city": "Bangkok", "country": "TH", "foreign_currency": "THB",
            "foreign_amount": amount, "khr_amount": math.ceil(amount * RATE_NUM / RATE_DEN),
            "rate_text": "1 THB = 118.25 KHR", "rate_num": RATE_NUM, "rate_den": RATE_DEN,
            "spread_bps": 50, "expires_ms": now_ms() + self.quote_ms,
            "hold": {"target": LINK_ACCOUNT, "poster": LINK_ACCOUNT,
                     "expires_ms": now_ms() + self.hold_ms, "reference": e2e},
            "extra_field": "the gateway ignores what it does not know",
        }  # fmt: skip
        self.quotes[quote_id] = quote
        return JSONResponse(quote)

    def _hold(self, hold_id: bytes) -> Hold | None:
        with self.core.service.lock:
            raw = self.core.sandbox.store.get(hold_key(hold_id))
        if raw is None:
            return None
        found = decode_value(hold_key(hold_id), raw)
        assert isinstance(found, Hold)
        return found

    def _settle(self, hold_id: bytes, command: Any) -> bool:
        sandbox = self.core.sandbox
        with self.core.service.lock:
            transaction = sandbox.transaction(LINK_ACCOUNT, [command])
        return self.core.commit([transaction]).results[0].code == 0

    async def pay(self, request: Request) -> Response:
        asked = msgspec.json.decode(await self._checked(request))
        self.pay_calls += 1
        self.paid_ids.add(asked["end_to_end_id"])
        if self.mode == "down":
            return JSONResponse({"error": {"code": "down", "message": "down"}}, 503)
        e2e = asked["end_to_end_id"]
        if self.mode == "refuse-request":  # refused before anything is stored
            return JSONResponse({"error": {"code": "quote_expired", "message": "late"}}, 422)
        if e2e in self.paid:  # idempotent on the end-to-end id
            if self.mode == "answer-409":  # a refusal of a retry of a payment it took
                return JSONResponse({"error": {"code": "end_to_end_id_reused", "message": ""}},
                                    409)  # fmt: skip
            return JSONResponse(self.paid[e2e])
        quote = self.quotes[asked["quote_id"]]
        hold_id = bytes.fromhex(asked["hold_id"])
        found = self._hold(hold_id)
        if found is None or found.status != HoldStatus.pending or (
                found.target, found.amount) != (LINK_ACCOUNT, quote["khr_amount"]):  # fmt: skip
            return JSONResponse({"error": {"code": "hold_not_found", "message": "no hold"}}, 409)
        answer = {"end_to_end_id": e2e, "status": "pending", "reason": None,
                  "foreign_amount": quote["foreign_amount"], "khr_amount": quote["khr_amount"],
                  "rate_text": quote["rate_text"], "hold_id": hold_id.hex()}  # fmt: skip
        if self.mode == "refuse":
            assert self._settle(hold_id, void(hold_id))
            answer |= {"status": "failed", "reason": "merchant_refused"}
        elif self.mode in ("accept", "drop-after-post"):
            assert self._settle(hold_id, post(hold_id, quote["khr_amount"]))
            answer["status"] = "completed"
        self.paid[e2e] = answer
        if self.mode == "drop-after-post":  # paid, but the gateway never hears it
            return JSONResponse({"error": {"code": "down", "message": "down"}}, 502)
        return JSONResponse(answer)

    async def status(self, request: Request) -> Response:
        await self._checked(request)
        if self.mode == "down":
            return JSONResponse({"error": {"code": "down", "message": "down"}}, 503)
        e2e = request.path_params["e2e"]
        answer = self.paid.get(e2e)
        if answer is None:
            return JSONResponse({"error": {"code": "payment_not_found", "message": "no"}}, 404)
        if answer["status"] == "pending" and self.mode == "accept":
            hold_id = bytes.fromhex(answer["hold_id"])
            assert self._settle(hold_id, post(hold_id, answer["khr_amount"]))
            answer["status"] = "completed"
        return JSONResponse(answer)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/link/quotes", self.quote, methods=["POST"]),
            Route("/v1/link/payments", self.pay, methods=["POST"]),
            Route("/v1/link/payments/{e2e}", self.status, methods=["GET"]),
        ])  # fmt: skip


def open_link_account(core: Core) -> None:
    sandbox = core.sandbox
    opened = sandbox.open_account(LINK_ACCOUNT, AccountKind.link, KycTier.institutional)
    core.commit([sandbox.transaction("wing", [opened])])


@contextmanager
def fake_link(core: Core) -> Iterator[tuple[FakeLink, str]]:
    open_link_account(core)
    link = FakeLink(core)
    with serve(link.app()) as url:
        yield link, url


def linked_services(engine: Engine, core: Core, url: str) -> GatewayServices:
    """aclb's gateway services with `[crossborder]` pointing at the link at `url`."""
    services = make_services(engine, core)
    config = CrossborderConfig(link_url=url, link_key=LINK_KEY.public_key.hex(), timeout_s=2.0)
    services.config = msgspec.structs.replace(services.config, crossborder=config)
    services.link = LinkClient(url, bytes(LINK_KEY.public_key), services.gateway_key,
                               services.chain_id, timeout_s=2.0)  # fmt: skip
    return services


@contextmanager
def gateway_for(services: GatewayServices) -> Iterator[RunningGateway]:
    app = create_app(services)
    with serve(app) as url:
        yield RunningGateway(url, services, app)


def quote(http: httpx.Client, token: str, qr: str = MERCHANT_QR,
          amount: int | None = None) -> httpx.Response:  # fmt: skip
    body: dict[str, Any] = {"qr": qr} if amount is None else {"qr": qr, "amount": amount}
    return http.post("/v1/wallet/foreign/quotes", headers=auth(token), json=body)


def pay(http: httpx.Client, token: str, key: str, quote_id: str,
        pin: str = PIN) -> httpx.Response:  # fmt: skip
    return http.post("/v1/wallet/foreign/payments", json={"quote_id": quote_id, "pin": pin},
                     headers=auth(token) | {"idempotency-key": key})  # fmt: skip


def balance(core: Core, account: str) -> tuple[int, int]:
    """(available, held) KHR of `account` on the ledger."""
    with core.service.lock:
        found = core.sandbox.account(account)
    assert found is not None
    return found.balances[0], found.held[0]


def state_of(engine: Engine, payment_id: str) -> str:
    found = payments.load_payment(engine, payment_id)
    assert found is not None
    return found.state


def wait_for_state(engine: Engine, payment_id: str, state: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while state_of(engine, payment_id) != state:
        assert time.monotonic() < deadline, f"still {state_of(engine, payment_id)}"
        time.sleep(0.05)


def test_a_quote_shows_the_merchant_the_amounts_and_the_rate(engine: Engine, core: Core) -> None:
    with fake_link(core) as (link, url), gateway_for(linked_services(engine, core, url)) as gw, \
            httpx.Client(base_url=gw.url, timeout=30) as http:  # fmt: skip
        sokha = register(http, gw, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        made = quote(http, sokha)
        assert made.status_code == 201, made.text
        seen = made.json()["quote"]
        assert (seen["merchant_name"], seen["city"], seen["country"], seen["scheme"]) == (
            "Somchai Noodles", "Bangkok", "TH", "promptpay")
        assert (seen["foreign_currency"], seen["foreign_amount"], seen["khr_amount"]) == (
            "THB", 25_000, 29_563)  # 250.00 THB x 118.25, rounded up to the riel
        assert seen["rate_text"] == "1 THB = 118.25 KHR" and seen["state"] == "quoted"
        assert now_ms() < seen["expires_ms"] <= now_ms() + 60_000
        asked = quote(http, sokha, OPEN_QR)
        assert asked.status_code == 422 and asked.json()["error"] | {"message": ""} == {
            "code": "amount_required", "message": "", "scheme": "promptpay", "currency": "THB",
            "exponent": 2}  # fmt: skip
        typed = quote(http, sokha, OPEN_QR, amount=1_000)  # THB 10.00 typed by the payer
        assert typed.json()["quote"]["khr_amount"] == 1_183
        khqr = quote(http, sokha, "00020101021129180014kh.gov.nbc.bakong5802KH6304ABCD")
        assert khqr.status_code in (409, 422)
        unknown = quote(http, sokha, "hello")
        assert unknown.status_code == 422 and unknown.json()["error"]["code"] in (
            "qr_not_recognised", "qr_invalid")
        shown = http.get(f"/v1/wallet/foreign/payments/{seen['quote_id']}", headers=auth(sokha))
        assert shown.json()["payment"]["state"] == "quoted"
        assert http.post("/v1/wallet/foreign/quotes", json={"qr": MERCHANT_QR}).status_code == 401
        assert link.pay_calls == 0


def test_a_paid_quote_moves_the_khr_once_to_the_link(engine: Engine, core: Core) -> None:
    with fake_link(core) as (link, url), gateway_for(linked_services(engine, core, url)) as gw, \
            httpx.Client(base_url=gw.url, timeout=30) as http:  # fmt: skip
        sokha = register(http, gw, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 100_000)
        quote_id = quote(http, sokha).json()["quote"]["quote_id"]
        wrong = pay(http, sokha, "k-0", quote_id, pin="000000")
        assert wrong.json()["error"]["code"] == "login_failed"
        assert pay(http, sokha, "", quote_id).json()["error"]["code"] == (
            "idempotency_key_required")
        paid = pay(http, sokha, "k-1", quote_id)
        assert paid.status_code == 200, paid.text
        receipt = paid.json()["payment"]
        assert (receipt["state"], receipt["khr_amount"], receipt["rate_text"]) == (
            "completed", 29_563, "1 THB = 118.25 KHR")
        again = pay(http, sokha, "k-1", quote_id)
        assert again.status_code == 200 and again.json()["payment"] == receipt
        other = pay(http, sokha, "k-2", quote_id)
        assert other.status_code == 409 and other.json()["error"]["code"] == "quote_already_used"
        second = quote(http, sokha).json()["quote"]["quote_id"]
        reused = pay(http, sokha, "k-1", second)
        assert reused.status_code == 409
        assert reused.json()["error"]["code"] == "idempotency_key_reused"
        assert balance(core, "sokha_chan@aclb") == (100_000 - 29_563, 0)
        assert balance(core, LINK_ACCOUNT) == (29_563, 0)
        assert len(link.paid_ids) == 1  # a retry (idempotent) may repeat it
        mallory = register(http, gw, "+85512000602", "mallory", "Mallory Ek")
        assert http.get(f"/v1/wallet/foreign/payments/{quote_id}",
                        headers=auth(mallory)).status_code == 404  # fmt: skip


def test_a_refusal_voids_the_hold_and_moves_nothing(engine: Engine, core: Core) -> None:
    with fake_link(core) as (link, url), gateway_for(linked_services(engine, core, url)) as gw, \
            httpx.Client(base_url=gw.url, timeout=30) as http:  # fmt: skip
        sokha = register(http, gw, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 100_000)
        link.mode = "refuse"
        refused = pay(http, sokha, "k-1", quote(http, sokha).json()["quote"]["quote_id"])
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "merchant_refused"
        assert refused.json()["payment"]["state"] == "failed"
        assert balance(core, "sokha_chan@aclb") == (100_000, 0)
        assert balance(core, LINK_ACCOUNT) == (0, 0)


def test_the_daily_limit_applies_to_the_khr_amount(engine: Engine, core: Core) -> None:
    with fake_link(core) as (link, url), gateway_for(linked_services(engine, core, url)) as gw, \
            httpx.Client(base_url=gw.url, timeout=30) as http:  # fmt: skip
        sokha = register(http, gw, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 3_000_000)
        # THB 16,000.00 is KHR 1,892,000: within the basic tier's KHR 2,000,000 a day ...
        first = quote(http, sokha, OPEN_QR, amount=1_600_000).json()["quote"]
        assert pay(http, sokha, "k-1", first["quote_id"]).status_code == 200
        # ... and THB 1,000.00 more (KHR 118,250) is over it: the ledger refuses the hold.
        second = quote(http, sokha, OPEN_QR, amount=100_000).json()["quote"]
        over = pay(http, sokha, "k-2", second["quote_id"])
        assert over.status_code == 422 and over.json()["error"]["code"] == "daily_limit_exceeded"
        assert balance(core, "sokha_chan@aclb") == (3_000_000 - 1_892_000, 0)
        assert len(link.paid_ids) == 1  # a retry (idempotent) may repeat it


def test_an_expired_quote_is_not_paid(engine: Engine, core: Core) -> None:
    with fake_link(core) as (link, url), gateway_for(linked_services(engine, core, url)) as gw, \
            httpx.Client(base_url=gw.url, timeout=30) as http:  # fmt: skip
        sokha = register(http, gw, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 100_000)
        link.quote_ms = 300
        quote_id = quote(http, sokha).json()["quote"]["quote_id"]
        time.sleep(0.4)
        late = pay(http, sokha, "k-1", quote_id)
        assert late.status_code == 410 and late.json()["error"]["code"] == "quote_expired"
        assert balance(core, "sokha_chan@aclb") == (100_000, 0) and link.pay_calls == 0


def test_a_refused_request_fails_only_when_the_link_never_took_it(
    engine: Engine, core: Core
) -> None:
    with fake_link(core) as (link, url), gateway_for(linked_services(engine, core, url)) as gw, \
            httpx.Client(base_url=gw.url, timeout=30) as http:  # fmt: skip
        sokha = register(http, gw, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 100_000)
        link.mode = "refuse-request"
        refused = pay(http, sokha, "k-1", quote(http, sokha).json()["quote"]["quote_id"])
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "quote_expired"
        # Nobody posts the hold: it returns at its expiry; meanwhile it stays held.
        assert balance(core, "sokha_chan@aclb") == (100_000 - 29_563, 29_563)
        link.mode = "drop-after-post"  # taken and posted, the answer lost ...
        lost = pay(http, sokha, "k-2", quote(http, sokha).json()["quote"]["quote_id"])
        assert lost.status_code == 202, lost.text
        link.mode = "answer-409"  # ... and the retry refused: its status says completed
        wait_for_state(engine, lost.json()["payment"]["payment_id"], "completed")
        assert balance(core, LINK_ACCOUNT) == (29_563, 0)


def test_no_answer_is_never_a_refusal_the_worker_finishes_it(engine: Engine, core: Core) -> None:
    """The link down, then a link that took the payment but whose answer was lost: the hold
    stays (never voided by the gateway) and the worker completes the payment once."""
    with fake_link(core) as (link, url), gateway_for(linked_services(engine, core, url)) as gw, \
            httpx.Client(base_url=gw.url, timeout=30) as http:  # fmt: skip
        sokha = register(http, gw, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 100_000)
        link.mode = "down"
        down = pay(http, sokha, "k-1", quote(http, sokha).json()["quote"]["quote_id"])
        assert down.status_code == 202, down.text
        payment_id = down.json()["payment"]["payment_id"]
        assert down.json()["payment"]["state"] == "placed"
        assert balance(core, "sokha_chan@aclb") == (100_000 - 29_563, 29_563)
        link.mode = "drop-after-post"
        deadline = time.monotonic() + WAIT_S
        while not link.paid:
            assert time.monotonic() < deadline, "the worker did not ask the link again"
            time.sleep(0.05)
        assert state_of(engine, payment_id) in ("placed", "paying", "completed")
        link.mode = "accept"
        wait_for_state(engine, payment_id, "completed")
        assert balance(core, "sokha_chan@aclb") == (100_000 - 29_563, 0)
        assert balance(core, LINK_ACCOUNT) == (29_563, 0)
        again = pay(http, sokha, "k-1", payment_id)
        assert again.status_code == 200 and again.json()["payment"]["state"] == "completed"


def test_a_restarted_gateway_resumes_a_pending_payment(engine: Engine, core: Core) -> None:
    with fake_link(core) as (link, url):
        with gateway_for(linked_services(engine, core, url)) as gw, \
                httpx.Client(base_url=gw.url, timeout=30) as http:  # fmt: skip
            sokha = register(http, gw, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
            cash_in(core, "sokha_chan@aclb", 100_000)
            link.mode = "pending"
            taken = pay(http, sokha, "k-1", quote(http, sokha).json()["quote"]["quote_id"])
            assert taken.status_code == 202, taken.text
            payment_id = taken.json()["payment"]["payment_id"]
            assert taken.json()["payment"]["state"] == "paying"
        link.mode = "accept"  # the foreign side credits while the gateway is down
        with gateway_for(linked_services(engine, core, url)):
            wait_for_state(engine, payment_id, "completed")
        assert balance(core, "sokha_chan@aclb") == (100_000 - 29_563, 0)
        assert balance(core, LINK_ACCOUNT) == (29_563, 0)


def test_without_a_link_the_routes_say_so(gateway: RunningGateway) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        sokha = register(http, gateway, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        answer = quote(http, sokha)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "crossborder_not_configured"


# -- with the real link (`bakong.crossborder`) and the real Thai switch simulator -------------


@dataclass
class RealCorridor:
    """X1's Thai switch simulator and X2's link, each its real app on loopback, over one real
    node API whose participants are aclb and the link (`tests.crossborder.conftest.Core`)."""

    core: LinkCore
    link_url: str
    sim: httpx.Client  # the simulator's own API, with its secret


@contextmanager
def real_corridor(tmp_path: Path) -> Iterator[RealCorridor]:
    iso_key = sandbox_key(f"{LINK}/iso")
    (tmp_path / "link-iso.pub").write_text(iso_key.public_key.hex() + "\n")
    home = init_switch_home(tmp_path / "thai", "thai", "http://127.0.0.1:9",
                            tmp_path / "link-iso.pub", now_ms=now_ms())  # fmt: skip
    books = db.engine_for(home.database_url)
    link_engine = link_store.engine_for(db.sqlite_url(tmp_path / "link.db"))
    link_store.migrate(link_engine)
    core = LinkCore()
    try:
        with serve(core.app) as core_url, serve(create_switch_app(home, books)) as switch_url:
            core.url = core_url
            core._producer.start()
            corridor = Corridor(family="thai", switch_url=switch_url,
                                switch_key=key_id(home.key.public_key), rate="118.25",
                                spread_bps=0, quote_ms=30_000, hold_ms=60_000)  # fmt: skip
            services = LinkServices(
                config=LinkConfig(LinkSection(participant=LINK, core_url=core_url),
                                  corridors={"thai": corridor}),
                genesis=core.sandbox.genesis, engine=link_engine,
                core=Client(core_url, sandbox_key(f"{LINK}/gateway"),
                            chain_id=core.sandbox.chain_id),
                gateway_key=sandbox_key(f"{LINK}/gateway"),
                admin_key=sandbox_key(f"{LINK}/admin"), iso_key=iso_key,
                switches={"thai": SwitchClient(switch_url, corridor.public_key, iso_key,
                                               timeout_s=2.0)},
            )  # fmt: skip
            secret = {"authorization": f"Bearer {home.secret.hex()}"}
            with serve(create_link_app(services)) as link_url, httpx.Client(
                    base_url=switch_url, headers=secret, timeout=30) as sim:  # fmt: skip
                yield RealCorridor(core, link_url, sim)
    finally:
        core._stop.set()
        core._producer.join(WAIT_S)
        books.dispose()
        link_engine.dispose()


def test_through_the_real_link_the_thai_switch_credits_the_merchant(
    engine: Engine, tmp_path: Path
) -> None:
    """The merchant abroad is credited in baht once, the link's account gets the riel, and the
    wallet pays once whatever the retries."""
    with real_corridor(tmp_path) as corridor:
        core = corridor.core
        services = make_services(engine, core)  # type: ignore[arg-type]
        link_key = sandbox_key(f"{LINK}/gateway").public_key
        config = CrossborderConfig(link_url=corridor.link_url, link_key=link_key.hex())
        services.config = msgspec.structs.replace(services.config, crossborder=config)
        services.link = LinkClient(corridor.link_url, bytes(link_key), services.gateway_key,
                                   services.chain_id, timeout_s=5.0)  # fmt: skip
        with gateway_for(services) as gw, httpx.Client(base_url=gw.url, timeout=30) as http:
            sokha = register(http, gw, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
            core.commit("nbc", [core.sandbox.issue("aclb", Asset.KHR, 500_000, "r9")])
            core.commit("settlement@aclb", [core.sandbox.transfer(
                "settlement@aclb", "sokha_chan@aclb", Asset.KHR, 500_000)])  # fmt: skip
            merchant = corridor.sim.get("/sim/merchants").json()["merchants"][0]
            code = corridor.sim.get(f"/sim/merchants/{merchant['merchant_id']}/qr",
                                    params={"amount": 25_000}).json()["qr"]  # fmt: skip
            before = corridor.sim.get("/sim/balances").json()["balances"]
            made = quote(http, sokha, code)
            assert made.status_code == 201, made.text
            seen = made.json()["quote"]
            assert (seen["foreign_currency"], seen["foreign_amount"]) == ("THB", 25_000)
            assert seen["khr_amount"] == 29_563 and "118.25" in seen["rate_text"]
            assert seen["merchant_name"] == merchant["name"]
            paid = pay(http, sokha, "k-real", seen["quote_id"])
            assert paid.status_code in (200, 202), paid.text
            wait_for_state(engine, paid.json()["payment"]["payment_id"], "completed")
            assert pay(http, sokha, "k-real", seen["quote_id"]).status_code == 200
            after = corridor.sim.get("/sim/balances").json()["balances"]
        assert after[merchant["merchant_id"]] - before[merchant["merchant_id"]] == 25_000
        assert balance(core, "sokha_chan@aclb") == (500_000 - 29_563, 0)  # type: ignore[arg-type]
        assert balance(core, "thai@xlnk")[0] == 29_563  # type: ignore[arg-type]


def test_the_crossborder_table_is_checked_and_written_back() -> None:
    key = LINK_KEY.public_key.hex()
    good = CrossborderConfig(link_url="http://127.0.0.1:8640", link_key=key, timeout_s=3.0)
    check_crossborder(good)
    check_crossborder(CrossborderConfig())  # no table: no foreign payments
    for wrong in (
        CrossborderConfig(link_url="http://link.example:8640", link_key=key),  # not loopback
        CrossborderConfig(link_url="https://link.example", link_key="ab" * 16),  # short key
        CrossborderConfig(link_url="https://link.example", link_key=key, timeout_s=600.0),
        CrossborderConfig(link_key=key),  # a key and no URL
    ):
        with pytest.raises(ConfigError):
            check_crossborder(wrong)
    written = "\n".join(format_crossborder(good))
    assert msgspec.convert(tomllib.loads(written)["crossborder"], CrossborderConfig) == good
    assert format_crossborder(CrossborderConfig()) == []
    assert link_from_config(CrossborderConfig(), gateway_key("aclb"), "chain") is None
    client = link_from_config(good, gateway_key("aclb"), "chain")
    assert client is not None and client.link_key == bytes(LINK_KEY.public_key)
