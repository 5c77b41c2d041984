"""Two participant gateways as real processes on a real four-validator network (issue 15).

The central bank publishes both gateways' URLs on the ledger (`set_participant_endpoint`), so
they find each other through the participant directory, with no `[directory]` in their homes.
Customers register at aclb (SQLite) and wing (PostgreSQL) through the wallet API, with the code
read from the SMS outbox; each bank cashes its customer in from its settlement account; a
payer's preview shows the payee at the other bank by the masked name that bank returns; they
pay each other across banks by account ID and by phone; a wing merchant's dynamic KHQR is paid
from aclb, confirmed through wing's Open API by md5 and announced by a signed webhook to a
receiver on loopback. Then the chain is halted (two of four validators stopped) while aclb's
customer pays, so the payment is certainly in flight, and aclb's gateway is killed with SIGKILL
mid-payment and restarted: the same idempotency key gets the first payment's answer, the
ledger holds one transfer. aclb's customer pays a phone no bank knows, whose owner then opens
a wallet at wing and claims the money with the code aclb texted (issue 17). At the end every
balance each gateway projected equals the ledger's.

Method: `bakong.node.localnet` for the validators, `bakong.gateway.processes` for `bakong
gateway init` and `bakong gateway run`, `bakong.gateway.scripted` for the people, and
`bakong.bench.postgres` for a throwaway PostgreSQL server. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from bakong.bench.postgres import PostgresServer
from bakong.client import Client, SyncClient, issue
from bakong.client.builders import sign
from bakong.gateway import db, scripted, webhooks
from bakong.gateway.home import GatewayHome
from bakong.gateway.problems import GatewayProblem
from bakong.gateway.processes import GatewayProcess, prepare_gateways, publish_gateways
from bakong.gateway.scripted import GatewayCalls, Person
from bakong.keystore import read_key_file
from bakong.ledger.assets import Asset
from bakong.node.localnet import Localnet, init_localnet

pytestmark = pytest.mark.e2e

UP_S = 60.0
SETTLE_S = 30.0


@dataclass
class Receiver:
    """A merchant's webhook endpoint on loopback: every POST it got."""

    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    got = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.received.append((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    got.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/bakong"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield got
    server.shutdown()
    server.server_close()


@dataclass
class World:
    network: Localnet
    homes: dict[str, GatewayHome]
    gateways: dict[str, GatewayProcess]
    nbc: SyncClient
    people: dict[str, Person] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def calls(self, code: str) -> GatewayCalls:
        return GatewayCalls(self.gateways[code].url)

    def ledger_balance(self, account_id: str, asset: Asset) -> int:
        return self.nbc.account(account_id).balances.get(asset, 0)


def _postgres_url(server: PostgresServer) -> str:
    with psycopg.connect(server.dsn, autocommit=True) as connection:
        connection.execute("CREATE DATABASE gateway_wing")
    return f"postgresql://bakong@/gateway_wing?host={server.socket_dir}&port={server.port}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("gateways")
    init_localnet(directory, 4)
    network = Localnet(directory)
    network.start()
    gateways: dict[str, GatewayProcess] = {}
    try:
        with PostgresServer(max_connections=100, shared_buffers_mb=32, durable=False) as postgres:
            assert network.wait_for_height(1, UP_S)
            homes = prepare_gateways(
                directory, ["aclb", "wing"], databases={"wing": _postgres_url(postgres)}
            )
            gateways = {code: GatewayProcess(home) for code, home in homes.items()}
            for process in gateways.values():
                process.start()
            for process in gateways.values():
                process.wait_healthy()
            assert all(not home.config.directory for home in homes.values())
            publish_gateways(directory, {code: p.url for code, p in gateways.items()})
            nbc_key = read_key_file(directory / "keys" / "nbc-gateway.json")
            with SyncClient(Client(network.children[0].api_url, nbc_key)) as nbc:
                _issue_liquidity(nbc, directory)
                yield World(network, homes, gateways, nbc)
    finally:
        for process in gateways.values():
            process.stop()
        network.stop()


def _issue_liquidity(nbc: SyncClient, directory: Path) -> None:
    admin = read_key_file(directory / "keys" / "nbc-admin.json")
    for code in ("aclb", "wing"):
        transaction = sign(nbc.builder("nbc").add(
            issue(f"settlement@{code}", Asset.KHR, 100_000_000, f"reserve-{code}-khr"),
            issue(f"settlement@{code}", Asset.USD, 1_000_000, f"reserve-{code}-usd"),
        ).payload(), admin)  # fmt: skip
        assert nbc.submit_and_wait(transaction, timeout_s=SETTLE_S).ok


def _person(code: str, handle: str, phone: str) -> Person:
    return Person(code, handle, handle.title() + " Test", phone, "1990-05-17", "381902")


def _settled(world: World, code: str) -> None:
    """Wait until gateway `code` has applied every block the ledger has committed so far."""
    height = world.nbc.status().height
    calls = world.calls(code)

    def caught_up() -> bool:
        return bool(calls.call("GET", "/healthz")["last_height"] >= height)

    try:
        scripted.wait_until(caught_up, SETTLE_S, f"{code}'s projection")
    finally:
        calls.close()


def test_customers_register_cash_in_and_pay_across_banks_by_account_and_phone(
    world: World,
) -> None:
    world.people = {
        "aclb": _person("aclb", "sokha", "+85512000101"),
        "wing": _person("wing", "dara", "+85512000202"),
    }
    for code, person in world.people.items():
        calls = world.calls(code)
        world.tokens[code] = scripted.register(calls, world.homes[code].database_url, person)
        calls.close()

    async def cash_in() -> None:
        for code, person in world.people.items():
            home = world.homes[code]
            async with Client(home.config.gateway.core_url, home.gateway_key) as core:
                amounts = {Asset.KHR: 500_000, Asset.USD: 20_00}
                assert (await scripted.cash_in(core, home.admin_key, person.account_id,
                                               amounts)).ok  # fmt: skip

    asyncio.run(cash_in())
    aclb, wing = world.calls("aclb"), world.calls("wing")
    sokha, dara = world.people["aclb"], world.people["wing"]
    assert world.nbc.participant("wing").gateway_url == world.gateways["wing"].url
    shown = aclb.call("POST", "/v1/payments/preview", token=world.tokens["aclb"],
                      body={"to": {"phone": dara.phone}, "amount": 120_000, "asset": "KHR"})
    assert shown["payee"] == {"account_id": dara.account_id, "display_name": "Dara T."}
    by_account = aclb.pay_and_wait(world.tokens["aclb"], "rent-1", {"account": dara.account_id},
                                   amount=120_000, asset="KHR", memo="rent")  # fmt: skip
    by_phone = wing.pay_and_wait(world.tokens["wing"], "lunch-1", {"phone": sokha.phone},
                                 amount=15_000, asset="KHR", memo="lunch")  # fmt: skip
    assert (by_account["state"], by_phone["state"]) == ("committed", "committed")
    _settled(world, "aclb")
    _settled(world, "wing")
    assert aclb.wallet(world.tokens["aclb"])["balances"]["KHR"]["available"] == 395_000
    assert wing.wallet(world.tokens["wing"])["balances"]["KHR"]["available"] == 605_000
    assert world.ledger_balance(dara.account_id, Asset.KHR) == 605_000
    aclb.close()
    wing.close()


def test_a_merchants_dynamic_khqr_is_paid_confirmed_by_md5_and_notified(
    world: World, receiver: Receiver
) -> None:
    desk = asyncio.run(_open_merchant(world.homes["wing"]))
    wing, aclb = world.calls("wing"), world.calls("aclb")
    secret = wing.call("PUT", "/v1/merchant/webhook", token=desk.till_token,
                       body={"url": receiver.url})["secret"]  # fmt: skip
    api_token = wing.call("POST", "/v1/merchant/open-api-tokens", token=desk.till_token)["token"]
    code = wing.call("POST", "/v1/merchant/codes", token=desk.till_token,
                     body={"asset": "USD", "amount": 4_50})  # fmt: skip
    before = wing.open_api(api_token, "check_transaction_by_md5", {"md5": code["md5"]})
    assert before["responseCode"] == 1 and before["errorCode"] == 1  # not paid yet

    paid = aclb.pay_and_wait(world.tokens["aclb"], "latte-1", {"khqr": code["qr"]})
    assert paid["state"] == "committed"

    def confirmed() -> dict[str, object] | None:
        found = wing.open_api(api_token, "check_transaction_by_md5", {"md5": code["md5"]})
        return found if found["responseCode"] == 0 else None

    data = scripted.wait_until(confirmed, SETTLE_S, "the Open API")["data"]
    assert (data["amount"], data["currency"], data["hash"]) == (4.5, "USD", paid["tx_hash"])
    assert (data["fromAccountId"], data["toAccountId"]) == (
        world.people["aclb"].account_id, desk.account_id,
    )  # fmt: skip
    headers, body = scripted.wait_until(lambda: receiver.received, SETTLE_S, "the webhook")[0]
    assert webhooks.verify_signature(
        secret.encode(), headers["X-Bakong-Signature"], body, now_ms=time.time_ns() // 1_000_000
    )
    event = json.loads(body)
    assert headers["X-Bakong-Event-Id"] == event["eventId"]
    assert paid["tx_hash"] in json.dumps(event)
    wing.close()
    aclb.close()


async def _open_merchant(home: GatewayHome) -> scripted.MerchantDesk:
    async with Client(home.config.gateway.core_url, home.gateway_key) as core:
        return await scripted.open_merchant(home, core, "noodle_bar", "Noodle Bar", "WING-7")


def _submission_state(home: GatewayHome, key: str) -> str | None:
    engine = db.engine_for(home.database_url)
    try:
        with engine.connect() as connection:
            state: str | None = connection.execute(
                sa.select(db.submissions.c.state).where(
                    db.submissions.c.idempotency_key == key
                )
            ).scalar_one_or_none()
            return state
    finally:
        engine.dispose()


def test_a_gateway_killed_mid_payment_pays_once_after_restart(world: World) -> None:
    sokha, dara = world.people["aclb"], world.people["wing"]
    before = world.ledger_balance(dara.account_id, Asset.KHR)
    aclb = world.gateways["aclb"]
    # Two of four validators stopped: nothing commits, so the payment is certainly in flight.
    world.network.stop_validator(2)
    world.network.stop_validator(3)
    answers: list[object] = []

    def pay() -> None:
        calls = world.calls("aclb")
        try:
            answers.append(calls.pay(world.tokens["aclb"], "crash-1",
                                     {"account": dara.account_id}, amount=7_000, asset="KHR"))
        except Exception as error:  # the connection dies with the gateway
            answers.append(error)
        finally:
            calls.close()

    payer = threading.Thread(target=pay)
    payer.start()
    scripted.wait_until(
        lambda: _submission_state(world.homes["aclb"], "crash-1") == "submitted",
        SETTLE_S, "the payment's submission",
    )  # fmt: skip
    aclb.kill()
    payer.join(SETTLE_S)
    assert answers and not isinstance(answers[0], dict)  # it died before answering

    aclb.start()
    aclb.wait_healthy()
    world.network.start_validator(2)
    world.network.start_validator(3)
    calls = world.calls("aclb")
    retried = calls.pay_and_wait(world.tokens["aclb"], "crash-1", {"account": dara.account_id},
                                 amount=7_000, asset="KHR")  # fmt: skip
    again = calls.pay(world.tokens["aclb"], "crash-1", {"account": dara.account_id},
                      amount=7_000, asset="KHR")  # fmt: skip
    calls.close()
    assert retried["state"] == "committed" and again == retried
    assert world.ledger_balance(dara.account_id, Asset.KHR) == before + 7_000
    _settled(world, "wing")
    transfers = [
        row for row in _history(world.homes["wing"], dara.account_id) if row.amount == 7_000
    ]
    assert len(transfers) == 1 and bytes(transfers[0].tx_hash).hex() == retried["tx_hash"]
    with pytest.raises(GatewayProblem) as changed:  # the same key for another payment
        world.calls("aclb").pay(world.tokens["aclb"], "crash-1", {"account": dara.account_id},
                                amount=8_000, asset="KHR")  # fmt: skip
    assert (changed.value.http_status, changed.value.code) == (409, "idempotency_key_reused")
    assert world.ledger_balance(sokha.account_id, Asset.KHR) == 395_000 - 7_000


def _history(home: GatewayHome, account_id: str) -> list[sa.Row[tuple[object, ...]]]:
    engine = db.engine_for(home.database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(
                sa.select(db.history).where(db.history.c.account_id == account_id)
            ))  # fmt: skip
    finally:
        engine.dispose()


def _claim_code(home: GatewayHome, phone: str) -> str:
    """The claim code in the newest text `home`'s gateway sent to `phone`."""
    engine = db.engine_for(home.database_url)
    try:
        with engine.connect() as connection:
            body = connection.execute(
                sa.select(db.sms_outbox.c.body)
                .where(db.sms_outbox.c.phone == phone)
                .order_by(db.sms_outbox.c.id.desc())
            ).scalars().first()
    finally:
        engine.dispose()
    found = re.search(r"code ([0-9]{10})", body or "")
    assert found is not None, "no claim code was texted"
    return found.group(1)


def test_money_sent_to_a_phone_with_no_wallet_is_claimed_at_the_other_bank(world: World) -> None:
    """Issue 17: aclb's customer pays a phone no bank knows; its owner opens a wallet at wing
    and claims the money with the code aclb texted; aclb's escrow passes it on, once."""
    aclb, wing = world.calls("aclb"), world.calls("wing")
    newcomer = _person("wing", "chenda", "+85512000303")
    sent = aclb.pay(world.tokens["aclb"], "claim-1", {"phone": newcomer.phone},
                    amount=21_000, asset="KHR")  # fmt: skip
    assert sent["claim"]["state"] == "pending_claim", sent
    code = _claim_code(world.homes["aclb"], newcomer.phone)
    token = scripted.register(wing, world.homes["wing"].database_url, newcomer)
    body = {"bank": "aclb", "code": code}
    claimed = wing.call("POST", "/v1/wallet/claims", token=token, body=body)
    assert (claimed["state"], claimed["amount"]) == ("claimed", 21_000)
    assert wing.call("POST", "/v1/wallet/claims", token=token, body=body) == claimed
    _settled(world, "aclb")
    _settled(world, "wing")
    assert world.ledger_balance(newcomer.account_id, Asset.KHR) == 21_000
    assert world.ledger_balance("claims_escrow@aclb", Asset.KHR) == 0
    assert aclb.payment(world.tokens["aclb"], "claim-1")["claim"]["state"] == "claimed"
    assert wing.wallet(token)["balances"]["KHR"] == {"available": 21_000, "held": 0}
    aclb.close()
    wing.close()


def test_every_balance_a_gateway_projects_equals_the_ledgers(world: World) -> None:
    for code, home in world.homes.items():
        _settled(world, code)
        engine = db.engine_for(home.database_url)
        with engine.connect() as connection:
            rows = list(connection.execute(sa.select(db.balances)))
        engine.dispose()
        assert rows, f"{code} projected nothing"
        for row in rows:
            info = world.nbc.account(row.account_id)
            assert (row.available, row.held) == (
                info.balances.get(Asset(row.asset), 0), info.held.get(Asset(row.asset), 0)
            ), (code, row.account_id, row.asset)
        assert {row.account_id for row in rows} >= {world.people[code].account_id}
