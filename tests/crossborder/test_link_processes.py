"""The link as a real process (`bakong link run`) against X1's real Thai switch simulator
(`bakong foreign run`), both child processes, over the in-memory core on loopback: a payment
abroad, a visitor paying a KHQR, the link killed mid-payment and restarted, the switch
crashing after a credit, and the day's settlement (`bakong link settlement`) reconciled."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import sqlalchemy as sa

from bakong.client import hold, hold_id_for
from bakong.crossborder import store
from bakong.crossborder.home import Corridor, LinkConfig, LinkSection, init_home
from bakong.foreignsim.home import init_home as init_switch_home
from bakong.foreignsim.process import SwitchProcess
from bakong.keystore import generate_key, write_key_file
from bakong.ledger.assets import Asset
from bakong.ledger.genesis import encode_genesis
from bakong.ports import loopback_port
from bakong.sandbox import sandbox_key
from bakong.wire.request import sign_request
from tests.crossborder.conftest import LINK, MERCHANT, PAYER, THAI, Core, clock_ms
from tests.crossborder.test_inbound import merchant_qr

START_S = 30.0


class LinkProcess:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        command = [sys.executable, "-m", "bakong", "link", "run", "--home", str(self.home),
                   "--json"]
        with open(self.home / "link.log", "ab") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log,
                                            stdin=subprocess.DEVNULL, env=dict(os.environ),
                                            start_new_session=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, (self.home / "link.log").read_text()[-2000:]
        self.url = json.loads(line)["url"]

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(START_S)
        self._close()

    def _close(self) -> None:
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(START_S)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close()


class World:
    def __init__(self, core: Core, tmp: Path, **corridor_options: int) -> None:
        self.core = core
        link_port, switch_port = loopback_port(), loopback_port()
        iso_key = generate_key()
        write_key_file(tmp / "iso-key.json", iso_key)
        (tmp / "iso.pub").write_text(iso_key.public_key.hex())
        self.switch = SwitchProcess(init_switch_home(
            tmp / "thai", "thai", f"http://127.0.0.1:{link_port}", tmp / "iso.pub",
            listen=f"127.0.0.1:{switch_port}", now_ms=clock_ms()).path)
        (tmp / "genesis.json").write_bytes(encode_genesis(core.sandbox.genesis))
        for name in ("admin", "gateway"):
            write_key_file(tmp / f"{name}.json", sandbox_key(f"{LINK}/{name}"))
        corridor = Corridor(family="thai", switch_url=self.switch.url,
                            switch_key=(tmp / "thai" / "switch.pub").read_text().strip(),
                            rate="118.25", spread_bps=100, **corridor_options)
        config = LinkConfig(LinkSection(participant=LINK, core_url=core.url,
                                        listen=f"127.0.0.1:{link_port}"),
                            corridors={"thai": corridor})
        self.home = init_home(tmp / "link", config, tmp / "genesis.json",
                              gateway_key_file=tmp / "gateway.json",
                              admin_key_file=tmp / "admin.json", iso_key_file=tmp / "iso-key.json")
        self.link = LinkProcess(self.home.path)
        self.secret = self.switch.home.secret.hex()

    def sim(self, method: str, path: str, body: Any = None) -> Any:
        with httpx.Client(base_url=self.switch.url, timeout=30) as http:
            answer = http.request(method, path, json=body,
                                  headers={"authorization": f"Bearer {self.secret}"})
        assert answer.status_code < 300, answer.text
        return answer.json()

    def call(self, method: str, path: str, body: Any = None, timeout_s: float = 30) -> Any:
        raw = b"" if body is None else msgspec.json.encode(body)
        headers = sign_request(self.core.sandbox.chain_id,
                               sandbox_key(f"{LINK}/gateway").public_key,
                               sandbox_key("aclb/gateway"), method, path, raw, clock_ms())
        with httpx.Client(base_url=self.link.url, timeout=timeout_s) as http:
            return http.request(method, path, content=raw or None, headers=headers)

    def quote_and_hold(self, e2e: str, thb_minor: int) -> dict[str, Any]:
        qr = self.sim("GET", f"/sim/merchants/m-th-1/qr?amount={thb_minor}")["qr"]
        quote = self.call("POST", "/v1/link/quotes", {"qr": qr, "payer": PAYER})
        assert quote.status_code == 201, quote.text
        found: dict[str, Any] = quote.json()
        command = hold(hold_id_for(PAYER, e2e), PAYER, THAI, Asset.KHR, found["khr_amount"],
                       expires_ms=found["hold"]["expires_ms"], poster=THAI, reference=e2e)
        self.core.commit(PAYER, [command])
        return found

    def pay(self, found: dict[str, Any], e2e: str, timeout_s: float = 30) -> Any:
        return self.call("POST", "/v1/link/payments",
                         {"quote_id": found["quote_id"], "end_to_end_id": e2e,
                          "hold_id": hold_id_for(PAYER, e2e).hex()}, timeout_s)

    def status(self, e2e: str) -> str:
        return str(self.call("GET", f"/v1/link/payments/{e2e}").json()["status"])

    def wait(self, e2e: str, status: str) -> None:
        deadline = time.monotonic() + START_S
        while self.status(e2e) != status:
            assert time.monotonic() < deadline, f"{e2e} never became {status}"
            time.sleep(0.1)

    def merchant_abroad(self) -> int:
        return int(self.sim("GET", "/sim/balances")["balances"]["m-th-1"])

    def riel(self, account: str) -> int:
        found = self.core.sandbox.account(account)
        return 0 if found is None else int(found.balances[Asset.KHR.index])


@pytest.fixture
def world(core: Core, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    built = World(core, tmp_path, **getattr(request, "param", {}))
    built.switch.start()
    try:
        built.switch.wait_healthy()
        built.link.start()
        yield built
    finally:
        built.link.stop()
        built.switch.stop()


def test_the_link_process_pays_abroad_and_at_home_and_survives_a_kill(world: World) -> None:
    payer_before = world.riel(PAYER)
    found = world.quote_and_hold("p-ok", 10_000)
    assert world.pay(found, "p-ok").status_code in (200, 202)
    world.wait("p-ok", "completed")
    assert world.merchant_abroad() == 10_000

    # Killed while the pacs.008 is in flight: the switch credits, the link never hears it.
    world.switch.set_fault("slow 2")
    killed = world.quote_and_hold("p-killed", 5_000)
    with pytest.raises(httpx.ReadTimeout):
        world.pay(killed, "p-killed", timeout_s=0.7)
    world.link.kill()
    time.sleep(2.0)
    world.switch.set_fault("")
    world.link.start()  # recovers from its store and the ledger
    world.wait("p-killed", "completed")
    assert world.merchant_abroad() == 15_000  # credited once
    assert world.riel(PAYER) == payer_before - found["khr_amount"] - killed["khr_amount"]

    # The switch crashes after crediting: the link asks again once it is back.
    world.switch.set_fault("crash-after-credit")
    crashed = world.quote_and_hold("p-crash", 2_000)
    world.pay(crashed, "p-crash")
    world.switch.wait_exit()
    world.switch.start()
    world.switch.wait_healthy()
    world.wait("p-crash", "completed")
    assert world.merchant_abroad() == 17_000

    # A visitor's wallet at the switch pays a KHQR through the link.
    sandbox = world.core.sandbox
    world.core.commit(f"settlement@{LINK}",
                      [sandbox.transfer(f"settlement@{LINK}", THAI, Asset.KHR, 1_000_000)])
    code = merchant_qr(40_000)
    paid = world.sim("POST", "/sim/wallets/w-th-1/pay-khqr", {"qr": code.qr})
    assert paid["status"] == "ACCC", paid
    assert world.riel(MERCHANT) == 40_000

    day = datetime.datetime.fromtimestamp(clock_ms() / 1000, datetime.timezone(
        datetime.timedelta(hours=7))).date().isoformat()
    report = subprocess.run(
        [sys.executable, "-m", "bakong", "link", "settlement", "--home", str(world.home.path),
         "--day", day, "--json"], capture_output=True, timeout=60, check=False)
    [thai] = json.loads(report.stdout)
    assert report.returncode == 0 and thai["reconciled"], thai
    assert thai["ledger"]["outbound_khr"] == sum(
        q["khr_amount"] for q in (found, killed, crashed))
    assert thai["ledger"]["inbound_khr"] == 40_000
    assert thai["switch"]["debits"] == 17_000


def test_the_link_store_resumes_after_a_restart(world: World) -> None:
    found = world.quote_and_hold("p-one", 1_000)
    world.pay(found, "p-one")
    world.wait("p-one", "completed")
    world.link.stop()
    engine = store.engine_for(world.home.database_url)
    with engine.connect() as connection:
        height = int(connection.execute(sa.select(store.meta.c.value).where(
            store.meta.c.key == "last_height")).scalar_one())
        posts = connection.execute(sa.select(sa.func.count()).select_from(store.entries)
                                   .where(store.entries.c.kind == "post")).scalar_one()
    world.core.tick()
    world.link.start()
    deadline = time.monotonic() + START_S
    while True:
        with engine.connect() as connection:
            now = int(connection.execute(sa.select(store.meta.c.value).where(
                store.meta.c.key == "last_height")).scalar_one())
        if now > height:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    with engine.connect() as connection:
        again = connection.execute(sa.select(sa.func.count()).select_from(store.entries)
                                   .where(store.entries.c.kind == "post")).scalar_one()
    engine.dispose()
    assert again == posts == 1  # nothing applied twice


@pytest.mark.parametrize("world", [{"quote_ms": 5_000, "hold_ms": 12_000}], indirect=True)
def test_refusal_and_a_timeout_past_the_hold_end_with_both_sides_agreeing(world: World) -> None:
    payer_before = world.riel(PAYER)
    world.switch.set_fault("refuse")
    refused = world.quote_and_hold("p-refused", 3_000)
    world.pay(refused, "p-refused")
    world.wait("p-refused", "failed")

    # The switch takes the pacs.008 and says nothing until long after the hold is over.
    world.switch.set_fault("timeout 60")
    late = world.quote_and_hold("p-late", 4_000)
    world.pay(late, "p-late")
    assert world.status("p-late") == "pending"
    time.sleep(max(0.0, (late["hold"]["expires_ms"] - clock_ms()) / 1000) + 0.5)
    world.core.tick()  # a block: the ledger expires the hold, the riel go back to the payer
    world.wait("p-late", "failed")  # recalled: the switch closed the id, it will never pay
    world.switch.set_fault("")
    assert world.riel(PAYER) == payer_before
    assert world.merchant_abroad() == 0
    assert world.riel(THAI) == 0
