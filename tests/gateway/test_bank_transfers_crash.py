"""Wallet <-> bank account when things die (issue 18: "a core-banking crash injected mid-way
and nothing lost or doubled"): the sample core bank as a REAL process (`bakong corebank run`)
killed by SIGKILL after committing a posting and before answering, then started again; a core
bank that refuses; the gateway stopped mid-transfer, then run again over the same store; and
the gateway PROCESS (`bakong gateway run`) killed by SIGKILL while the core bank is posting,
then started again.
Each transfer ends posted exactly once on both sides (or voided, with nothing moved), and the
day's reconciliation agrees."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong.corebank import books
from bakong.corebank.books import day_of
from bakong.corebank.process import CorebankProcess
from bakong.gateway import db, submission
from bakong.gateway.corebanking import reconcile, transfers
from bakong.gateway.corebanking.config import CoreBankingConfig
from bakong.gateway.home import GatewayConfig, GatewaySection, init_home, load_home, write_secret
from bakong.gateway.processes import GatewayProcess
from bakong.gateway.wallets import customer_by_id
from bakong.keystore import write_key_file
from bakong.ledger.genesis import encode_genesis
from bakong.ports import loopback_port
from tests.gateway.conftest import WAIT_S, Core, admin_key, gateway_key
from tests.gateway.test_bank_transfers import (
    OPENING,
    SOKHA_ACCOUNT,
    SOKHA_PHONE,
    fund_settlement,
    gateway_for,
    link,
    linked_services,
    move,
    now_ms,
    open_books,
    settle,
    state_of,
    wait_for,
    wallet,
)
from tests.gateway.test_wallets import PIN, cash_in, register


@pytest.fixture
def bank_process(tmp_path: Path) -> Iterator[CorebankProcess]:
    home = tmp_path / "corebank"
    open_books(home)
    config = home / "config.toml"
    config.write_text(config.read_text().replace("127.0.0.1:8590", f"127.0.0.1:{loopback_port()}"))
    process = CorebankProcess(home)
    process.start()
    try:
        process.wait_healthy()
        yield process
    finally:
        process.kill()


def balance(bank: CorebankProcess, number: str) -> int:
    engine = db.engine_for(bank.home.database_url)
    try:
        found = books.find_account(engine, number)
        assert found is not None
        return found.balance
    finally:
        engine.dispose()


def postings_of(bank: CorebankProcess, posting_id: str) -> list[str]:
    """The posting ids the bank's journal holds for one transfer (its posting, a reversal)."""
    engine = db.engine_for(bank.home.database_url)
    try:
        entries = books.journal(engine, day_of(now_ms()), 0, 1_000)
    finally:
        engine.dispose()
    return [e["posting_id"] for e in entries if e["posting_id"].startswith(posting_id)]


@pytest.mark.parametrize("direction", ["to_bank", "from_bank"])
def test_the_core_bank_killed_after_committing_then_restarted_moves_the_money_once(
    engine: Engine, core: Core, bank_process: CorebankProcess, direction: str
) -> None:
    bank = bank_process
    with gateway_for(linked_services(engine, core, bank.url, bank.secret)) as gateway, \
            httpx.Client(base_url=gateway.url, timeout=30) as http:  # fmt: skip
        sokha = register(http, gateway, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 300_000)
        fund_settlement(core, 1_000_000)
        link_id = link(http, sokha).json()["link"]["link_id"]
        bank.set_fault("die-after-commit")
        cut = move(http, sokha, "k-crash", link_id, direction, 80_000)
        assert cut.status_code == 202, cut.text
        transfer_id = cut.json()["transfer"]["transfer_id"]
        assert cut.json()["transfer"]["state"] == "bank_pending"
        assert bank.wait_exit() == -signal.SIGKILL  # it died with the posting committed
        pid = transfers.posting_id("aclb", transfer_id)
        assert postings_of(bank, pid) == [pid]
        # While it is down the gateway asks again and again; it never voids the hold.
        wait_for(lambda: _updated_again(engine, transfer_id), "a round against the dead bank")
        assert state_of(engine, transfer_id) == "bank_pending"
        bank.start()
        bank.wait_healthy()
        wait_for(lambda: state_of(engine, transfer_id) == "completed", "the resumed transfer")
        again = move(http, sokha, "k-crash", link_id, direction, 80_000)
        assert again.status_code == 200 and again.json()["transfer"]["state"] == "completed"
        settle(gateway, core)
        sign = -1 if direction == "to_bank" else 1
        assert wallet(http, sokha) == {"available": 300_000 + sign * 80_000, "held": 0}
        assert balance(bank, SOKHA_ACCOUNT) == OPENING - sign * 80_000
        assert postings_of(bank, pid) == [pid]  # posted once, never reversed
        report = asyncio.run(reconcile.reconcile_day(gateway.services, day_of(now_ms())))
        assert (report["matched"], report["differences"]) == (1, 0)


def _updated_again(engine: Engine, transfer_id: str) -> bool:
    table = db.bank_transfers
    with engine.connect() as connection:
        row = connection.execute(sa.select(table.c.created_ms, table.c.updated_ms)
                                 .where(table.c.transfer_id == transfer_id)).one()  # fmt: skip
    return bool(row.updated_ms - row.created_ms > 1_500)


def test_a_refusing_core_bank_ends_the_transfer_voided(
    engine: Engine, core: Core, bank_process: CorebankProcess
) -> None:
    bank = bank_process
    with gateway_for(linked_services(engine, core, bank.url, bank.secret)) as gateway, \
            httpx.Client(base_url=gateway.url, timeout=30) as http:  # fmt: skip
        sokha = register(http, gateway, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 300_000)
        link_id = link(http, sokha).json()["link"]["link_id"]
        bank.set_fault("refuse")
        refused = move(http, sokha, "k-no", link_id, "to_bank", 60_000)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "bank_refused"
        found = transfers.load_transfer(engine, refused.json()["transfer"]["transfer_id"])
        assert found is not None and (found.state, found.bank_state) == ("failed", "refused")
        settle(gateway, core)
        with engine.connect() as connection:
            status = connection.execute(sa.select(db.holds.c.status).where(
                db.holds.c.hold_id == found.hold_id)).scalar_one()  # fmt: skip
        assert status == "voided"
        assert wallet(http, sokha) == {"available": 300_000, "held": 0}
        assert balance(bank, SOKHA_ACCOUNT) == OPENING


def test_the_gateway_stopped_mid_transfer_finishes_it_after_its_restart(
    engine: Engine, core: Core, bank_process: CorebankProcess
) -> None:
    bank = bank_process
    with gateway_for(linked_services(engine, core, bank.url, bank.secret)) as gateway, \
            httpx.Client(base_url=gateway.url, timeout=30) as http:  # fmt: skip
        sokha = register(http, gateway, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 300_000)
        link_id = link(http, sokha).json()["link"]["link_id"]
        settle(gateway, core)
    # The gateway is down. A process over the same store takes one transfer as far as the
    # bank's credit (the post stored, never sent) and stores another without sending anything.
    first = linked_services(engine, core, bank.url, bank.secret)
    with engine.connect() as connection:
        customer = customer_by_id(connection, 1)

    def request(key: str, amount: int) -> transfers.TransferRequest:
        return transfers.TransferRequest(key, link_id, "to_bank", amount, PIN)

    def stored(key: str, amount: int) -> transfers.Transfer:
        body = request(key, amount)
        return transfers._create(first, customer, body, transfers._request_hash(body))

    async def up_to_the_bank() -> tuple[str, str]:
        async with first.core:
            made = stored("k-half", 40_000)
            await transfers._drive_placing(first, made, WAIT_S)
            placed = transfers.load_transfer(engine, made.transfer_id)
            assert placed is not None and placed.state == "bank_pending"
            await transfers._drive_bank(first, placed)
            untouched = stored("k-none", 15_000)
            return made.transfer_id, untouched.transfer_id

    half, untouched = asyncio.run(up_to_the_bank())
    assert state_of(engine, half) == "posting" and state_of(engine, untouched) == "placing"
    half_transfer = transfers.load_transfer(engine, half)
    assert half_transfer is not None
    post = transfers._step(engine, "post", half_transfer)
    assert post is not None and post.state is submission.State.signed  # never sent
    with gateway_for(linked_services(engine, core, bank.url, bank.secret)) as again, \
            httpx.Client(base_url=again.url, timeout=30) as http:  # fmt: skip
        wait_for(lambda: {state_of(engine, half), state_of(engine, untouched)} == {"completed"},
                 "the resumed transfers")  # fmt: skip
        settle(again, core)
        assert balance(bank, SOKHA_ACCOUNT) == OPENING + 55_000
        for transfer_id in (half, untouched):
            pid = transfers.posting_id("aclb", transfer_id)
            assert postings_of(bank, pid) == [pid]
        report = asyncio.run(reconcile.reconcile_day(again.services, day_of(now_ms())))
        assert (report["matched"], report["differences"]) == (2, 0)
        login = http.post("/v1/sessions", json={"phone": SOKHA_PHONE, "pin": PIN})
        assert login.status_code == 201, login.text
        assert wallet(http, login.json()["token"]) == {"available": 245_000, "held": 0}


def gateway_home(tmp_path: Path, core: Core, database_url: str, bank: CorebankProcess) -> Path:
    """A home for `bakong gateway run` of aclb over the test's core, store and core bank, with
    the secrets `make_services` uses (so a wallet made by an in-process gateway signs there)."""
    keys = tmp_path / "keys"
    keys.mkdir()
    write_key_file(keys / "gateway.json", gateway_key())
    write_key_file(keys / "admin.json", admin_key())
    write_secret(keys / "alias.key", bytes(range(32, 64)))
    genesis = tmp_path / "genesis.json"
    genesis.write_bytes(encode_genesis(core.sandbox.genesis))
    linked = CoreBankingConfig(url=bank.url, secret_file="corebank.secret", timeout_s=1.0)
    section = GatewaySection("aclb", core.url, database_url, f"127.0.0.1:{loopback_port()}")
    home = tmp_path / "gateway-aclb"
    init_home(home, GatewayConfig(section, core_banking=linked), genesis,
              gateway_key_file=keys / "gateway.json", admin_key_file=keys / "admin.json",
              alias_key_file=keys / "alias.key")  # fmt: skip
    (home / "kek.key").unlink()
    write_secret(home / "kek.key", bytes(range(32)))
    write_secret(home / "corebank.secret", bank.secret)
    return home


def test_the_gateway_process_killed_while_the_bank_is_posting_finishes_once_after_restart(
    engine: Engine, core: Core, bank_process: CorebankProcess, tmp_path: Path, database_url: str
) -> None:
    """`bakong gateway run` is SIGKILLed while it waits on a slow core bank that commits the
    credit after the gateway has gone: the restarted gateway learns it and posts, once."""
    bank = bank_process
    with gateway_for(linked_services(engine, core, bank.url, bank.secret)) as gateway, \
            httpx.Client(base_url=gateway.url, timeout=30) as http:  # fmt: skip
        sokha = register(http, gateway, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 300_000)
        link_id = link(http, sokha).json()["link"]["link_id"]
        settle(gateway, core)
    process = GatewayProcess(load_home(gateway_home(tmp_path, core, database_url, bank)))
    process.start()
    try:
        process.wait_healthy()
        bank.set_fault("slow 3")
        with httpx.Client(base_url=process.url, timeout=30) as http:
            cut = move(http, sokha, "k-gw", link_id, "to_bank", 45_000)
        assert cut.status_code == 202 and cut.json()["transfer"]["state"] == "bank_pending"
        process.kill()  # the credit is still on its way inside the core bank
        transfer_id = cut.json()["transfer"]["transfer_id"]
        pid = transfers.posting_id("aclb", transfer_id)
        wait_for(lambda: postings_of(bank, pid) == [pid], "the bank's credit, after the crash")
        bank.set_fault("")
        assert state_of(engine, transfer_id) == "bank_pending"
        process.start()
        process.wait_healthy()
        wait_for(lambda: state_of(engine, transfer_id) == "completed", "the resumed transfer")
        with httpx.Client(base_url=process.url, timeout=30) as http:
            again = move(http, sokha, "k-gw", link_id, "to_bank", 45_000)
            assert again.status_code == 200
            assert again.json()["transfer"]["transfer_id"] == transfer_id
            wait_for(lambda: wallet(http, sokha)["held"] == 0, "the post in the projection")
            assert wallet(http, sokha) == {"available": 255_000, "held": 0}
    finally:
        process.stop()
    assert balance(bank, SOKHA_ACCOUNT) == OPENING + 45_000
    assert postings_of(bank, pid) == [pid]
