"""Every cross-border scheme end to end (issue 20's "Done when"): PromptPay, VietQR, DuitNow,
Lao QR, UnionPay and Alipay+.

One world for the module: a real node API over an in-memory chain (participants `aclb`, the
wallet's bank, `abaa`, a KHQR merchant's bank, and the link `xlnk`), the five foreign switch
simulators as real processes (`bakong foreign run`, one per family), one link serving five
corridors (its real app on loopback with its stream follower and worker), and aclb's gateway
(its real app, on SQLite) whose wallet pays abroad. For each scheme:
- outbound: the wallet quotes a QR code the simulator made for one of its own merchants and
  pays it with its PIN; the simulator credits the merchant once, and the ledger (wallet, the
  corridor's account) and the simulator's books (merchant, the link's nostro) agree;
- inbound: a wallet at the simulator pays a Cambodian merchant's KHQR; the merchant is paid on
  the ledger, once, with the code's md5 as the transfer's reference;
- one injected failure (a timeout, a refusal or a crash after the credit; each kind twice)
  ending with both sides agreeing: paid once on both sides, or on neither;
and last, the day's settlement report of every corridor nets what the tests moved and
reconciles with each switch's statement.
"""

from __future__ import annotations

import asyncio
import datetime
import math
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy.engine import Engine

from bakong import khqr, limits
from bakong.client import Client
from bakong.crossborder import store as link_store
from bakong.crossborder.app import create_app as create_link_app
from bakong.crossborder.home import Corridor, LinkConfig, LinkSection
from bakong.crossborder.service import LinkServices
from bakong.crossborder.settlement import settlement
from bakong.crossborder.switch import SwitchClient
from bakong.foreignsim.families import FAMILIES, local_amount
from bakong.foreignsim.home import init_home as init_switch_home
from bakong.foreignsim.process import SwitchProcess
from bakong.gateway import db
from bakong.gateway.app import create_app as create_gateway_app
from bakong.gateway.crossborder.config import CrossborderConfig
from bakong.gateway.crossborder.link import LinkClient
from bakong.ledger.assets import Asset
from bakong.ledger.block import decode_block
from bakong.ledger.commands import Transfer
from bakong.ledger.records import AccountKind
from bakong.ports import loopback_port
from bakong.sandbox import sandbox_key
from tests.crossborder.conftest import LINK, MERCHANT, Core, clock_ms
from tests.gateway.conftest import RunningGateway, make_services
from tests.gateway.loopback import serve
from tests.gateway.test_wallets import PIN, auth, register

WAIT_S = 30.0
SWITCH_TIMEOUT_S = 1.0  # the link gives up on a switch's answer after this: failures run fast
TIMEOUT_FAULT_S = 6  # a timed-out switch settles after this: after the link (1 s) and
# its answer to the gateway (limits.link_answer_wait_s) gave up waiting
CORRIDOR_LIQUIDITY_KHR = 2_000_000
WALLET = "sokha_chan@aclb"
WALLET_KHR = 1_000_000
SPREAD_BPS = 100
RATES = {"thai": "118.25", "vietnam": "0.158", "malaysia": "905.5", "laos": "0.1875",
         "china": "565.0"}  # fmt: skip


@dataclass(frozen=True)
class Scheme:
    name: str
    family: str
    merchant: str  # the simulator's sample merchant of this scheme
    wallet: str  # the simulator's wallet that pays a KHQR
    foreign_amount: int  # minor units of the family's currency
    khqr_khr: int
    failure: str  # the fault injected: timeout, refuse or crash-after-credit


SCHEMES = (
    Scheme("promptpay", "thai", "m-th-1", "w-th-1", 10_000, 21_000, "crash-after-credit"),
    Scheme("vietqr", "vietnam", "m-vn-1", "w-vn-1", 100_000, 22_000, "timeout"),
    Scheme("duitnow", "malaysia", "m-my-1", "w-my-1", 2_000, 23_000, "refuse"),
    Scheme("laoqr", "laos", "m-la-1", "w-la-1", 100_000, 24_000, "crash-after-credit"),
    Scheme("unionpay", "china", "m-cn-1", "w-cn-1", 3_000, 25_000, "timeout"),
    Scheme("alipayplus", "china", "m-cn-2", "w-cn-2", 2_500, 26_000, "refuse"),
)
CORRIDORS = tuple(sorted({scheme.family for scheme in SCHEMES}))


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not in time"
        time.sleep(0.05)


def phnom_penh_day() -> str:
    zone = datetime.timezone(datetime.timedelta(hours=7))
    return datetime.datetime.fromtimestamp(clock_ms() / 1000, zone).date().isoformat()


@dataclass
class Journal:
    """What the tests moved through one corridor, for the settlement report to match."""

    outbound_khr: int = 0
    outbound_foreign: int = 0
    inbound_khr: int = 0
    inbound_foreign: int = 0


@dataclass
class World:
    core: Core
    switches: dict[str, SwitchProcess]
    sims: dict[str, httpx.Client]  # each simulator's own API, with its secret
    link: LinkServices
    link_url: str
    gateway: RunningGateway
    http: httpx.Client  # the gateway
    token: str  # the wallet's session
    journal: dict[str, Journal] = field(default_factory=lambda: {
        name: Journal() for name in CORRIDORS})  # fmt: skip

    def riel(self, account: str) -> tuple[int, int]:
        """(available, held) KHR of `account` on the ledger."""
        with self.core.service.lock:
            found = self.core.sandbox.account(account)
        return (0, 0) if found is None else (int(found.balances[Asset.KHR.index]),
                                             int(found.held[Asset.KHR.index]))  # fmt: skip

    def books(self, family: str) -> dict[str, int]:
        answer = self.sims[family].get("/sim/balances")
        assert answer.status_code == 200, answer.text
        balances: dict[str, int] = answer.json()["balances"]
        assert sum(balances.values()) == 0, balances  # double entry: nothing made or lost
        return balances

    def foreign_qr(self, scheme: Scheme) -> str:
        answer = self.sims[scheme.family].get(f"/sim/merchants/{scheme.merchant}/qr",
                                              params={"amount": scheme.foreign_amount})
        assert answer.status_code == 200, answer.text
        assert answer.json()["scheme"] == scheme.name
        return str(answer.json()["qr"])

    def quote(self, scheme: Scheme) -> dict[str, Any]:
        made = self.http.post("/v1/wallet/foreign/quotes", headers=auth(self.token),
                              json={"qr": self.foreign_qr(scheme)})
        assert made.status_code == 201, made.text
        quote: dict[str, Any] = made.json()["quote"]
        return quote

    def pay(self, quote: dict[str, Any]) -> httpx.Response:
        return self.http.post("/v1/wallet/foreign/payments",
                              json={"quote_id": quote["quote_id"], "pin": PIN},
                              headers=auth(self.token) | {"idempotency-key": quote["quote_id"]})

    def payment_state(self, payment_id: str) -> str:
        answer = self.http.get(f"/v1/wallet/foreign/payments/{payment_id}",
                               headers=auth(self.token))
        assert answer.status_code == 200, answer.text
        return str(answer.json()["payment"]["state"])

    def wait_state(self, payment_id: str, state: str) -> None:
        wait_until(lambda: self.payment_state(payment_id) == state, f"{payment_id} {state}")

    def restart_switch(self, family: str) -> None:
        switch = self.switches[family]
        switch.wait_exit()
        switch.start()
        switch.wait_healthy()


def _start_switches(tmp: Path, link_url: str) -> dict[str, SwitchProcess]:
    (tmp / "link-iso.pub").write_text(sandbox_key(f"{LINK}/iso").public_key.hex() + "\n")
    switches = {}
    for family in CORRIDORS:
        home = init_switch_home(tmp / family, family, link_url, tmp / "link-iso.pub",
                                listen=f"127.0.0.1:{loopback_port()}", now_ms=clock_ms())
        switches[family] = SwitchProcess(home.path)
    return switches


def _link_services(core: Core, switches: dict[str, SwitchProcess], engine: Engine) -> LinkServices:
    corridors = {
        family: Corridor(family=family, switch_url=switch.url,  # type: ignore[arg-type]
                         switch_key=(switch.home.path / "switch.pub").read_text().strip(),
                         rate=RATES[family], spread_bps=SPREAD_BPS)
        for family, switch in switches.items()
    }  # fmt: skip
    iso_key = sandbox_key(f"{LINK}/iso")
    return LinkServices(
        config=LinkConfig(LinkSection(participant=LINK, core_url=core.url), corridors=corridors),
        genesis=core.sandbox.genesis, engine=engine,
        core=Client(core.url, sandbox_key(f"{LINK}/gateway"), chain_id=core.sandbox.chain_id),
        gateway_key=sandbox_key(f"{LINK}/gateway"), admin_key=sandbox_key(f"{LINK}/admin"),
        iso_key=iso_key,
        switches={name: SwitchClient(corridor.switch_url, corridor.public_key, iso_key,
                                     timeout_s=SWITCH_TIMEOUT_S)
                  for name, corridor in corridors.items()},
    )  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("every-scheme")
    core = Core()
    with ExitStack() as stack:
        core.url = stack.enter_context(serve(core.app))
        core._producer.start()
        stack.callback(core._producer.join, WAIT_S)
        stack.callback(core._stop.set)
        sandbox = core.sandbox
        core.commit("abaa", [sandbox.open_account(MERCHANT, AccountKind.merchant)])
        core.commit("nbc", [sandbox.issue(LINK, Asset.KHR, 50_000_000, "r-link")])
        core.commit("nbc", [sandbox.issue("aclb", Asset.KHR, WALLET_KHR, "r-wallet")])

        link_port = loopback_port()
        switches = _start_switches(tmp, f"http://127.0.0.1:{link_port}")
        for switch in switches.values():
            switch.start()
            stack.callback(switch.stop)
        link_engine = link_store.engine_for(db.sqlite_url(tmp / "link.db"))
        link_store.migrate(link_engine)
        stack.callback(link_engine.dispose)
        link = _link_services(core, switches, link_engine)
        link_url = stack.enter_context(serve(create_link_app(link), port=link_port))
        for switch in switches.values():
            switch.wait_healthy()
        accounts = [link.account(family) for family in CORRIDORS]
        wait_until(lambda: all(sandbox.account(a) is not None for a in accounts),
                   "the link opened its corridors' accounts")  # fmt: skip
        for account in accounts:  # their riel liquidity
            core.commit(f"settlement@{LINK}", [sandbox.transfer(
                f"settlement@{LINK}", account, Asset.KHR, CORRIDOR_LIQUIDITY_KHR)])  # fmt: skip

        gateway_engine = db.engine_for(db.sqlite_url(tmp / "gateway.db"))
        db.migrate(gateway_engine)
        stack.callback(gateway_engine.dispose)
        services = make_services(gateway_engine, core)  # type: ignore[arg-type]
        link_key = link.gateway_key.public_key
        services.config = msgspec.structs.replace(services.config, crossborder=CrossborderConfig(
            link_url=link_url, link_key=link_key.hex()))  # fmt: skip
        services.link = LinkClient(link_url, bytes(link_key), services.gateway_key,
                                   services.chain_id, timeout_s=limits.link_timeout_s_default)
        app = create_gateway_app(services)
        gateway = RunningGateway(stack.enter_context(serve(app)), services, app)
        http = stack.enter_context(httpx.Client(base_url=gateway.url, timeout=WAIT_S))
        token = register(http, gateway, "+85512000611", "sokha_chan", "Sokha Chan")
        core.commit("settlement@aclb", [sandbox.transfer("settlement@aclb", WALLET, Asset.KHR,
                                                         WALLET_KHR)])  # fmt: skip
        sims = {family: stack.enter_context(httpx.Client(
            base_url=switch.url, timeout=WAIT_S,
            headers={"authorization": f"Bearer {switch.home.secret.hex()}"}))
            for family, switch in switches.items()}  # fmt: skip
        yield World(core, switches, sims, link, link_url, gateway, http, token)


def expected_khr(scheme: Scheme) -> int:
    """What the payer pays: foreign × rate × (1 + spread), rounded up to the riel."""
    exponent = FAMILIES[scheme.family].exponent
    riel = (Fraction(scheme.foreign_amount) * Fraction(RATES[scheme.family])
            / Fraction(10**exponent) * Fraction(10_000 + SPREAD_BPS, 10_000))  # fmt: skip
    return math.ceil(riel)


def pay_abroad(world: World, scheme: Scheme, fault: str = "") -> tuple[dict[str, Any], str]:
    """Quote and pay `scheme`'s merchant from the wallet, with `fault` set at the switch for
    the pacs.008 only (a lookup is never faulted); the quote and the payment's id."""
    quote = world.quote(scheme)
    assert (quote["scheme"], quote["foreign_currency"], quote["foreign_amount"]) == (
        scheme.name, FAMILIES[scheme.family].currency, scheme.foreign_amount)
    assert quote["khr_amount"] == expected_khr(scheme)
    world.switches[scheme.family].set_fault(fault)
    try:
        paid = world.pay(quote)
    finally:
        if fault != "crash-after-credit":  # that one removes itself before crashing
            world.switches[scheme.family].set_fault("")
    assert paid.status_code in (200, 202, 422), paid.text
    return quote, str(paid.json()["payment"]["payment_id"])


def ids(scheme: Scheme) -> str:
    return scheme.name


@pytest.mark.parametrize("scheme", SCHEMES, ids=ids)
def test_a_wallet_pays_the_schemes_merchant_abroad(world: World, scheme: Scheme) -> None:
    corridor = world.link.account(scheme.family)
    wallet_before, link_before = world.riel(WALLET), world.riel(corridor)
    books_before = world.books(scheme.family)
    quote, payment_id = pay_abroad(world, scheme)
    assert quote["merchant_name"] == next(
        m.name for m in FAMILIES[scheme.family].merchants if m.merchant_id == scheme.merchant)
    world.wait_state(payment_id, "completed")
    books = world.books(scheme.family)
    assert books[scheme.merchant] - books_before[scheme.merchant] == scheme.foreign_amount
    assert books["nostro"] - books_before["nostro"] == -scheme.foreign_amount
    khr_amount = quote["khr_amount"]
    assert world.riel(WALLET) == (wallet_before[0] - khr_amount, 0)
    assert world.riel(corridor) == (link_before[0] + khr_amount, 0)
    journal = world.journal[scheme.family]
    journal.outbound_khr += khr_amount
    journal.outbound_foreign += scheme.foreign_amount


def ledger_transfers_to(world: World, account: str) -> list[Transfer]:
    with world.core.service.lock:
        height = world.core.service.height
        blocks = [world.core.service.stored_block(h) for h in range(1, height + 1)]
    found = []
    for stored in blocks:
        assert stored is not None
        block = decode_block(stored.block)
        for transaction, result in zip(block.transactions, stored.results, strict=True):
            found += [command for command in transaction.payload.commands
                      if result.code == 0 and isinstance(command, Transfer)
                      and command.target == account]  # fmt: skip
    return found


@pytest.mark.parametrize("scheme", SCHEMES, ids=ids)
def test_a_visitor_from_the_scheme_pays_a_khqr(world: World, scheme: Scheme) -> None:
    code = khqr.generate_merchant(
        MERCHANT, "Dara Coffee", "Phnom Penh", "M001", "ABA Bank",
        khqr.Options(amount=scheme.khqr_khr, expiration_timestamp=clock_ms() + 600_000),
        now_ms=clock_ms())  # fmt: skip
    family = FAMILIES[scheme.family]
    merchant_before = world.riel(MERCHANT)[0]
    corridor = world.link.account(scheme.family)
    link_before = world.riel(corridor)[0]
    books_before = world.books(scheme.family)
    answer = world.sims[scheme.family].post(f"/sim/wallets/{scheme.wallet}/pay-khqr",
                                            json={"qr": code.qr})
    assert answer.status_code == 200, answer.text
    paid = answer.json()
    assert (paid["status"], paid["currency"], paid["amount"]) == ("ACCC", "KHR", scheme.khqr_khr)
    local = local_amount(family, "KHR", scheme.khqr_khr)
    assert paid["local_amount"] == local
    assert world.riel(MERCHANT)[0] == merchant_before + scheme.khqr_khr
    assert world.riel(corridor)[0] == link_before - scheme.khqr_khr
    [transfer] = [t for t in ledger_transfers_to(world, MERCHANT) if t.reference == code.md5]
    assert (transfer.source, transfer.amount) == (corridor, scheme.khqr_khr)
    books = world.books(scheme.family)
    assert books[scheme.wallet] - books_before[scheme.wallet] == -local
    assert books["nostro"] - books_before["nostro"] == local
    journal = world.journal[scheme.family]
    journal.inbound_khr += scheme.khqr_khr
    journal.inbound_foreign += local


@pytest.mark.parametrize("scheme", SCHEMES, ids=lambda s: f"{s.name}-{s.failure}")
def test_an_injected_failure_ends_with_both_sides_agreeing(world: World, scheme: Scheme) -> None:
    corridor = world.link.account(scheme.family)
    wallet_before, link_before = world.riel(WALLET), world.riel(corridor)
    books_before = world.books(scheme.family)
    fault = f"timeout {TIMEOUT_FAULT_S}" if scheme.failure == "timeout" else scheme.failure
    quote, payment_id = pay_abroad(world, scheme, fault)
    if scheme.failure == "crash-after-credit":
        world.restart_switch(scheme.family)  # the link asks again once it is back
    if scheme.failure == "timeout":  # no answer is no refusal: the hold stays meanwhile
        assert world.payment_state(payment_id) in ("placed", "paying")
        assert world.riel(WALLET) == (wallet_before[0] - quote["khr_amount"],
                                      quote["khr_amount"])  # fmt: skip
    credited = scheme.failure != "refuse"
    world.wait_state(payment_id, "completed" if credited else "failed")
    books = world.books(scheme.family)
    moved_foreign = scheme.foreign_amount if credited else 0
    moved_khr = quote["khr_amount"] if credited else 0
    assert books[scheme.merchant] - books_before[scheme.merchant] == moved_foreign
    assert books["nostro"] - books_before["nostro"] == -moved_foreign
    wait_until(lambda: world.riel(WALLET) == (wallet_before[0] - moved_khr, 0), "hold settled")
    assert world.riel(corridor) == (link_before[0] + moved_khr, 0)
    journal = world.journal[scheme.family]
    journal.outbound_khr += moved_khr
    journal.outbound_foreign += moved_foreign


@pytest.mark.parametrize("corridor", CORRIDORS)
def test_the_days_settlement_nets_each_corridor(world: World, corridor: str) -> None:
    expected = world.journal[corridor]
    assert expected.outbound_khr and expected.inbound_khr, "the module's payments ran first"

    async def report() -> list[dict[str, Any]]:
        offline = _link_services(world.core, world.switches, world.link.engine)
        try:
            return await settlement(offline, phnom_penh_day())
        finally:
            await offline.aclose()

    [found] = [r for r in asyncio.run(report()) if r["corridor"] == corridor]
    assert found["reconciled"] and found["differences"] == [], found
    assert found["ledger"]["outbound_khr"] == expected.outbound_khr
    assert found["ledger"]["inbound_khr"] == expected.inbound_khr
    assert found["ledger"]["other_khr"] == CORRIDOR_LIQUIDITY_KHR
    assert found["switch"]["debits"] == expected.outbound_foreign
    assert found["switch"]["credits"] == expected.inbound_foreign
    assert found["net"] == {"khr": expected.outbound_khr - expected.inbound_khr,
                            "foreign": expected.inbound_foreign - expected.outbound_foreign}
    switch = found["switch"]
    assert switch["funding"] == FAMILIES[corridor].nostro_opening  # the switch opened today
    assert switch["closing"] == (switch["opening"] + switch["funding"] + switch["credits"]
                                 - switch["debits"])  # fmt: skip
    assert world.books(corridor)["nostro"] == switch["closing"]
    assert world.riel(world.link.account(corridor))[0] == (
        CORRIDOR_LIQUIDITY_KHR + found["net"]["khr"])  # the report is the account's whole day
