"""`bakong audit pii` on a real chain (issue 19, Audit): a gateway process onboards customers
through its wallet API on four validator processes (phone aliases registered, cash-in, a
payment between them), and the scan finds none of their names, phone numbers or ID numbers
on the chain, read from a validator's home, from a node as the central bank, or found through
a `demo.json`. Then transfers whose memos carry a customer's phone number (in its national
form), a name and an ID card's number are submitted, and the scan finds each of them, naming
the height, the transaction and the kind, never the value.

Method: `bakong.node.localnet` and `bakong.gateway.processes` run the processes in a temporary
directory; the people register as in the demo (`bakong.gateway.scripted`). The ID card reading
is stored the way the KYC worker stores one (sealed under the gateway's key-encryption key, in
a submission already decided, so the worker leaves it alone): the scan must open it to know
the number.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from bakong.cli import main
from bakong.client import Client, SyncClient, issue, register_alias, transfer
from bakong.client.builders import sign
from bakong.gateway import db, scripted
from bakong.gateway.home import GatewayHome
from bakong.gateway.kyc import store as kyc_store
from bakong.gateway.processes import GatewayProcess, prepare_gateways
from bakong.gateway.scripted import Person
from bakong.keystore import read_key_file
from bakong.ledger.assets import Asset
from bakong.ledger.commands import Command
from bakong.node.localnet import Localnet, init_localnet

pytestmark = pytest.mark.e2e

UP_S = 60.0
PEOPLE = (
    Person("aclb", "sokha", "Sokha Chanthy", "+85512000101", "1990-05-17", "381902"),
    Person("aclb", "dara", "Dara Vannak", "+85512000202", "1988-11-02", "529417"),
)
DOCUMENT_NUMBER = "N0123456789"


@dataclass
class World:
    network: Localnet
    home: GatewayHome
    nbc: SyncClient

    @property
    def validator_home(self) -> Path:
        return self.network.children[0].home


def _store_id_card_reading(home: GatewayHome, account_id: str) -> None:
    engine = db.engine_for(home.database_url)
    try:
        with engine.begin() as connection:
            customer_id = connection.execute(
                sa.select(db.customers.c.id).where(db.customers.c.account_id == account_id)
            ).scalar_one()
            reading = {"fields": {
                "document_number": {"value": DOCUMENT_NUMBER, "status": "checked"},
                "surname": {"value": "CHANTHY", "status": "checked"},
                "given_names": {"value": "SOKHA", "status": "checked"},
            }}  # fmt: skip
            now_ms = time.time_ns() // 1_000_000
            nonce = secrets.token_bytes(kyc_store.NONCE_SIZE)
            images = kyc_store.Images(b"front", b"back", [b"frame"])
            connection.execute(db.kyc_submissions.insert().values(
                customer_id=customer_id, state="verified", challenge="blink",
                images_sealed=kyc_store.seal_images(home.kek, customer_id, images, nonce),
                fields_sealed=kyc_store.seal_fields(
                    home.kek, customer_id, reading, secrets.token_bytes(kyc_store.NONCE_SIZE)
                ),
                created_ms=now_ms, updated_ms=now_ms, decided_ms=now_ms,
            ))  # fmt: skip
    finally:
        engine.dispose()


def _onboard(world: World, gateway: GatewayProcess) -> None:
    admin = read_key_file(world.network.directory / "keys" / "nbc-admin.json")
    liquidity = issue("settlement@aclb", Asset.KHR, 50_000_000, "reserve-aclb-khr")
    assert world.nbc.submit_and_wait(sign(world.nbc.builder("nbc").add(liquidity).payload(),
                                          admin)).ok  # fmt: skip
    calls = scripted.GatewayCalls(gateway.url)
    try:
        tokens = [scripted.register(calls, world.home.database_url, person) for person in PEOPLE]
        for person in PEOPLE:
            cash = transfer("settlement@aclb", person.account_id, Asset.KHR, 300_000)
            _commit(world, cash)
        paid = calls.pay_and_wait(tokens[0], "audit-lunch", {"phone": PEOPLE[1].phone},
                                  amount=12_000, asset="KHR", memo="lunch")  # fmt: skip
        assert paid["state"] == "committed", paid
    finally:
        calls.close()
    _store_id_card_reading(world.home, PEOPLE[0].account_id)


def _commit(world: World, *commands: Command, creator: str = "settlement@aclb") -> int:
    admin = world.home.admin_key
    payload = world.nbc.builder(creator).add(*commands).payload()
    committed = world.nbc.submit_and_wait(sign(payload, admin))
    assert committed.ok, committed
    return committed.height


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("audit-pii")
    init_localnet(directory, 4)
    network = Localnet(directory)
    network.start()
    gateway: GatewayProcess | None = None
    try:
        assert network.wait_for_height(1, UP_S)
        home = prepare_gateways(directory, ["aclb"])["aclb"]
        gateway = GatewayProcess(home)
        gateway.start()
        gateway.wait_healthy()
        nbc_key = read_key_file(directory / "keys" / "nbc-gateway.json")
        with SyncClient(Client(network.children[0].api_url, nbc_key)) as nbc:
            found = World(network, home, nbc)
            _onboard(found, gateway)
            yield found
    finally:
        if gateway is not None:
            gateway.stop()
        network.stop()


def _pii(world: World, *sources: str) -> tuple[int, dict[str, object], str]:
    result = CliRunner().invoke(main, ["audit", "pii", *sources, "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout), result.stdout


def _from_home(world: World) -> tuple[int, dict[str, object], str]:
    return _pii(world, "--home", str(world.validator_home), "--gateway-home", str(world.home.path))


def test_a_chain_a_gateway_onboarded_customers_on_holds_none_of_their_data(world: World) -> None:
    height = world.nbc.status().height
    assert world.network.wait_for_height(height, UP_S)
    code, report, _ = _from_home(world)
    assert code == 0, report
    assert report["ok"] is True and report["findings"] == []
    # Two names, two phones and the ID card's number.
    assert report["values_checked"] == 5, report
    assert isinstance(report["transactions_scanned"], int)
    assert report["transactions_scanned"] >= 5  # issue, 2 accounts + aliases, 2 cash-ins, a payment
    assert isinstance(report["blocks_scanned"], int) and report["blocks_scanned"] >= height

    key_file = world.network.directory / "keys" / "nbc-gateway.json"
    url = world.network.children[3].api_url
    code, by_node, _ = _pii(
        world, "--from", url, "--key", str(key_file), "--gateway-home", str(world.home.path)
    )
    assert code == 0 and by_node["findings"] == [] and by_node["values_checked"] == 5


def test_the_demo_file_names_the_homes_to_scan(world: World) -> None:
    demo = world.network.directory / "demo.json"
    demo.write_text(json.dumps({"gateways": {"aclb": "http://127.0.0.1:1"}}))
    code, report, _ = _pii(world, "--demo", str(demo))
    assert code == 0, report
    assert report["ok"] is True and report["values_checked"] == 5
    assert isinstance(report["transactions_scanned"], int) and report["transactions_scanned"] >= 5


def test_a_phone_a_name_and_an_id_number_on_the_chain_are_found(world: World) -> None:
    sokha, dara = PEOPLE
    national = "0" + sokha.phone.removeprefix("+855")
    memos = {
        "phone": f"call me on {national}",
        "name": f"for {sokha.name.upper()}",
        "id_number": f"card {DOCUMENT_NUMBER}",
    }
    expected = set()
    for kind, memo in memos.items():
        command = transfer("settlement@aclb", sokha.account_id, Asset.KHR, 100, memo=memo)
        expected.add((_commit(world, command), kind, "memo"))
    # A gateway that put a phone number where its HMAC belongs: only the raw bytes show it.
    unhashed = register_alias(dara.phone.encode().ljust(32, b"\0"), dara.account_id)
    expected.add((_commit(world, unhashed, creator="aclb"), "phone", "raw"))
    assert world.network.wait_for_height(max(height for height, _, _ in expected), UP_S)
    code, report, printed = _from_home(world)
    assert code == 1 and report["ok"] is False
    findings = report["findings"]
    assert isinstance(findings, list)
    assert {(f["height"], f["kind"], f["field"]) for f in findings} == expected, findings
    assert all(len(finding["tx_hash"]) == 64 for finding in findings)
    for person in PEOPLE:
        for secret in (national, person.phone, person.phone[1:], person.name, DOCUMENT_NUMBER):
            assert secret.lower() not in printed.lower()
