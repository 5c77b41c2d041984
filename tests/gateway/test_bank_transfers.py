"""Wallet <-> bank account (issue 18) through a running gateway (on SQLite and on PostgreSQL)
over a real node API on an in-memory chain and the sample core bank served on loopback: the
link (the bank confirms the phone; only masked data shown), money to the bank and back, each
retry answered once, refusals on either side ending voided with nothing moved, a hold that
expired after the bank posted ending reversed on both sides, and the day's reconciliation,
which shows every difference made on purpose in the bank's books."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong.corebank import books
from bakong.corebank.app import create_app as create_corebank_app
from bakong.corebank.books import day_of
from bakong.corebank.home import CorebankHome, init_home
from bakong.gateway import db
from bakong.gateway.app import create_app
from bakong.gateway.corebanking import reconcile, transfers
from bakong.gateway.corebanking.adapter import HttpCoreBanking
from bakong.gateway.corebanking.config import CoreBankingConfig
from bakong.gateway.home import GatewayConfig, GatewaySection, write_secret
from bakong.gateway.home import init_home as init_home_of_gateway
from bakong.gateway.service import GatewayServices
from bakong.ledger.assets import Asset
from bakong.ledger.genesis import encode_genesis
from tests.gateway.conftest import WAIT_S, Core, RunningGateway, make_services
from tests.gateway.loopback import serve
from tests.gateway.test_wallets import PIN, auth, cash_in, officer_token, register

SOKHA_PHONE = "+85512000501"
SOKHA_ACCOUNT = "0003000501"  # KHR, Sokha's phone
DARA_ACCOUNT = "0003000502"  # KHR, another phone
OPENING = 1_000_000


@dataclass
class Bank:
    """The sample core bank on loopback: its home, books and URL."""

    url: str
    home: CorebankHome
    books: Engine

    def balance(self, number: str) -> int:
        found = books.find_account(self.books, number)
        assert found is not None
        return found.balance

    def set_fault(self, fault: str) -> None:
        if fault:
            self.home.fault_file.write_text(fault)
        else:
            self.home.fault_file.unlink(missing_ok=True)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def open_books(home: Path) -> CorebankHome:
    """A core bank's home with Sokha's account (her phone) and Dara's (another phone)."""
    made = init_home(home, "aclb", now_ms=now_ms(), samples=False)
    engine = db.engine_for(made.database_url)
    try:
        books.add_account(engine, SOKHA_ACCOUNT, "Sokha Chan", SOKHA_PHONE, "KHR", OPENING,
                          now_ms())  # fmt: skip
        books.add_account(engine, DARA_ACCOUNT, "Dara Keo", "+85512000502", "KHR", OPENING,
                          now_ms())  # fmt: skip
    finally:
        engine.dispose()
    return made


@contextmanager
def core_bank(tmp_path: Path) -> Iterator[Bank]:
    home = open_books(tmp_path / "corebank")
    engine = db.engine_for(home.database_url)
    try:
        with serve(create_corebank_app(home, engine)) as url:
            yield Bank(url, home, engine)
    finally:
        engine.dispose()


def linked_services(engine: Engine, core: Core, url: str, secret: bytes, *,
                    hold_ms: int = 60_000, timeout_s: float = 2.0) -> GatewayServices:  # fmt: skip
    """aclb's gateway services with `[core_banking]` pointing at the core bank at `url`."""
    services = make_services(engine, core)
    config = CoreBankingConfig(url=url, secret_file="corebank.secret", timeout_s=timeout_s,
                               hold_ms=hold_ms)  # fmt: skip
    services.config = msgspec.structs.replace(services.config, core_banking=config)
    services.core_banking = HttpCoreBanking(url, secret, timeout_s=timeout_s)
    return services


@contextmanager
def gateway_for(services: GatewayServices) -> Iterator[RunningGateway]:
    app = create_app(services)
    with serve(app) as url:
        yield RunningGateway(url, services, app)


def wallet(http: httpx.Client, token: str) -> dict[str, int]:
    balance: dict[str, int] = http.get("/v1/wallet", headers=auth(token)).json()["balances"]["KHR"]
    return balance


def link(http: httpx.Client, token: str, number: str = SOKHA_ACCOUNT,
         pin: str = PIN) -> httpx.Response:  # fmt: skip
    return http.post("/v1/wallet/bank-accounts", headers=auth(token),
                     json={"account_number": number, "pin": pin})  # fmt: skip


def move(http: httpx.Client, token: str, key: str, link_id: str, direction: str,
         amount: int) -> httpx.Response:  # fmt: skip
    body = {"idempotency_key": key, "link_id": link_id, "direction": direction,
            "amount": amount, "pin": PIN}  # fmt: skip
    return http.post("/v1/wallet/bank-transfers", headers=auth(token), json=body)


def state_of(engine: Engine, transfer_id: str) -> str:
    found = transfers.load_transfer(engine, transfer_id)
    assert found is not None
    return found.state


def wait_for(condition: Any, what: str, timeout_s: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what} did not happen in time ({found})"
        time.sleep(0.05)
    return found


def settle(gateway: RunningGateway, core: Core) -> None:
    gateway.wait_for_height(core.height)


def fund_settlement(core: Core, amount: int) -> None:
    sandbox = core.sandbox
    core.commit([sandbox.transaction("nbc", [sandbox.issue("aclb", Asset.KHR, amount, "r-bank")])])


def test_linking_asks_the_bank_and_shows_only_masked_data(
    engine: Engine, core: Core, tmp_path: Path
) -> None:
    with core_bank(tmp_path) as bank, gateway_for(
        linked_services(engine, core, bank.url, bank.home.secret)
    ) as gateway, httpx.Client(base_url=gateway.url, timeout=30) as http:
        sokha = register(http, gateway, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        assert link(http, sokha, pin="000000").json()["error"]["code"] == "login_failed"
        missing = link(http, sokha, "0003999999")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "bank_account_not_found"
        other = link(http, sokha, DARA_ACCOUNT)
        assert other.status_code == 403 and other.json()["error"]["code"] == "bank_phone_mismatch"
        made = link(http, sokha)
        assert made.status_code == 201, made.text
        view = made.json()["link"]
        assert (view["account_masked"], view["holder_masked"], view["asset"]) == (
            "\u2022\u2022\u2022\u2022 0501", "S*** C***", "KHR")
        again = link(http, sokha)
        assert again.status_code == 200 and again.json()["link"]["link_id"] == view["link_id"]
        listed = http.get("/v1/wallet/bank-accounts", headers=auth(sokha))
        assert listed.json()["available"] is True and len(listed.json()["accounts"]) == 1
        assert SOKHA_ACCOUNT not in listed.text and "Sokha" not in listed.text
        removed = http.delete(f"/v1/wallet/bank-accounts/{view['link_id']}", headers=auth(sokha))
        assert removed.json() == {"link_id": view["link_id"], "removed": True}
        assert http.get("/v1/wallet/bank-accounts", headers=auth(sokha)).json()["accounts"] == []
        gone = move(http, sokha, "k-0", view["link_id"], "to_bank", 1)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "bank_link_not_found"


def test_to_the_bank_and_back_each_once_and_refusals_move_nothing(
    engine: Engine, core: Core, tmp_path: Path
) -> None:
    with core_bank(tmp_path) as bank, gateway_for(
        linked_services(engine, core, bank.url, bank.home.secret)
    ) as gateway, httpx.Client(base_url=gateway.url, timeout=30) as http:
        sokha = register(http, gateway, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 300_000)
        link_id = link(http, sokha).json()["link"]["link_id"]
        out = move(http, sokha, "k-1", link_id, "to_bank", 100_000)
        assert out.status_code == 200, out.text
        sent = out.json()["transfer"]
        assert (sent["state"], sent["direction"], sent["amount"]) == ("completed", "to_bank",
                                                                      100_000)  # fmt: skip
        retry = move(http, sokha, "k-1", link_id, "to_bank", 100_000)
        assert retry.status_code == 200 and retry.json()["transfer"] == sent
        reused = move(http, sokha, "k-1", link_id, "to_bank", 100_001)
        assert reused.status_code == 409
        assert reused.json()["error"]["code"] == "idempotency_key_reused"
        back = move(http, sokha, "k-2", link_id, "from_bank", 30_000)
        assert back.status_code == 200 and back.json()["transfer"]["state"] == "completed"
        settle(gateway, core)
        assert wallet(http, sokha) == {"available": 230_000, "held": 0}
        assert bank.balance(SOKHA_ACCOUNT) == OPENING + 70_000
        assert bank.balance("BAKONG-KHR") == 70_000  # the bank's position moved with it
        # The bank refuses a debit beyond the balance: the hold is voided.
        fund_settlement(core, 10_000_000)
        short = move(http, sokha, "k-3", link_id, "from_bank", 5_000_000)
        assert short.status_code == 422
        assert short.json()["error"]["code"] == "bank_insufficient_funds"
        assert short.json()["transfer"]["state"] == "failed"
        # The ledger refuses a hold beyond the wallet's balance: the bank is never asked.
        poor = move(http, sokha, "k-4", link_id, "to_bank", 900_000)
        assert poor.status_code == 422 and poor.json()["error"]["code"] == "insufficient_funds"
        settle(gateway, core)
        assert wallet(http, sokha) == {"available": 230_000, "held": 0}
        assert bank.balance(SOKHA_ACCOUNT) == OPENING + 70_000
        page = http.get("/v1/wallet/bank-transfers", headers=auth(sokha)).json()
        assert [t["state"] for t in page["transfers"]] == ["failed", "failed", "completed",
                                                           "completed"]  # fmt: skip
        one = http.get(f"/v1/wallet/bank-transfers/{sent['transfer_id']}", headers=auth(sokha))
        assert one.json()["transfer"] == sent
        assert SOKHA_ACCOUNT not in one.text


def test_a_hold_that_expired_after_the_bank_posted_is_reversed_on_both_sides(
    engine: Engine, core: Core, tmp_path: Path
) -> None:
    """The bank answers slowly, then goes down: the gateway never learns that the credit
    posted before the hold expired. It must not void blindly: it reverses the posting."""
    with core_bank(tmp_path) as bank, gateway_for(linked_services(
        engine, core, bank.url, bank.home.secret, hold_ms=4_000, timeout_s=1.0,
    )) as gateway, httpx.Client(base_url=gateway.url, timeout=30) as http:  # fmt: skip
        sokha = register(http, gateway, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 300_000)
        link_id = link(http, sokha).json()["link"]["link_id"]
        bank.set_fault("slow 2")
        late = move(http, sokha, "k-5", link_id, "to_bank", 50_000)
        assert late.status_code == 202 and late.json()["transfer"]["state"] == "bank_pending"
        bank.set_fault("unavailable")  # the slow credit is on its way; nothing else answers
        transfer_id = late.json()["transfer"]["transfer_id"]
        pid = transfers.posting_id("aclb", transfer_id)
        wait_for(lambda: books.find_posting(bank.books, pid), "the bank's late credit")
        assert bank.balance(SOKHA_ACCOUNT) == OPENING + 50_000
        time.sleep(4.5)  # past the hold's expiry; a block sweeps it
        fund_settlement(core, 1)
        wait_for(lambda: state_of(engine, transfer_id) == "reversing", "the expired hold seen",
                 3 * WAIT_S)  # fmt: skip
        bank.set_fault("")
        wait_for(lambda: state_of(engine, transfer_id) == "reversed", "the reversal", 3 * WAIT_S)
        settle(gateway, core)
        assert wallet(http, sokha) == {"available": 300_000, "held": 0}
        assert bank.balance(SOKHA_ACCOUNT) == OPENING
        assert bank.balance("BAKONG-KHR") == 0
        answer = http.get(f"/v1/wallet/bank-transfers/{transfer_id}", headers=auth(sokha))
        assert answer.json()["transfer"]["reason"] == "bank_posting_reversed"
        report = asyncio.run(reconcile.reconcile_day(gateway.services, day_of(now_ms())))
        assert report["differences"] == 0 and report["matched"] == 0
        assert [item["posting_id"] for item in report["items"]["reversed"]] == [pid]


def test_the_days_reconciliation_matches_and_shows_differences_made_on_purpose(
    engine: Engine, core: Core, tmp_path: Path, database_url: str
) -> None:
    with core_bank(tmp_path) as bank, gateway_for(
        linked_services(engine, core, bank.url, bank.home.secret)
    ) as gateway, httpx.Client(base_url=gateway.url, timeout=30) as http:
        sokha = register(http, gateway, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 300_000)
        link_id = link(http, sokha).json()["link"]["link_id"]
        ids = [move(http, sokha, f"k-{n}", link_id, direction, amount).json()["transfer"]
               ["transfer_id"] for n, direction, amount in ((1, "to_bank", 120_000),
                                                            (2, "from_bank", 20_000))]
        settle(gateway, core)
        day = day_of(now_ms())
        clean = asyncio.run(reconcile.reconcile_day(gateway.services, day))
        assert (clean["matched"], clean["differences"]) == (2, 0)
        assert sorted(clean["items"]["matched"]) == sorted(ids)
        assert clean["totals"]["ledger"] == clean["totals"]["bank"] == {
            "KHR": {"to_bank": 120_000, "from_bank": 20_000}}
        # A teller's posting on the Bakong GL with no transfer behind it, and a transfer's
        # amount changed in the bank's books: both reported, neither absorbed.
        books.manual_posting(bank.books, "teller-9", DARA_ACCOUNT, 7_000, "credit", now_ms())
        with bank.books.begin() as connection:
            connection.execute(books.postings.update().where(
                books.postings.c.posting_id == transfers.posting_id("aclb", ids[0])
            ).values(amount=119_000))  # fmt: skip
        off = asyncio.run(reconcile.reconcile_day(gateway.services, day))
        assert (off["matched"], off["differences"]) == (1, 2)
        assert off["items"]["missing_on_ledger"][0]["posting_id"] == "teller-9"
        mismatch = off["items"]["amount_mismatch"][0]
        assert mismatch["transfer_id"] == ids[0]
        assert (mismatch["ledger"]["amount"], mismatch["bank"]["amount"]) == (120_000, 119_000)
        # An officer reads the day's report (built and returned; stored once the day is over).
        officer = officer_token(gateway)
        seen = http.get("/v1/officer/bank-reconciliation", params={"day": day},
                        headers=auth(officer))  # fmt: skip
        assert seen.status_code == 200 and seen.json()["differences"] == 2
        assert http.get("/v1/officer/bank-reconciliation", params={"day": day},
                        headers=auth(sokha)).status_code == 401  # fmt: skip
        reconcile.store_report(engine, off)
        assert reconcile.stored_report(engine, day) == off
        # The gateway's daily run stored yesterday's report on its own (nothing moved then).
        table = db.bank_reconciliations

        def stored() -> dict[str, int]:
            with engine.connect() as connection:
                return dict(connection.execute(sa.select(table.c.day, table.c.differences)).all())

        yesterday = reconcile.previous_day(now_ms())
        wait_for(lambda: yesterday in stored(), "yesterday's report")
        assert stored() == {yesterday: 0, day: 2}
        # `bakong gateway reconcile` on the gateway's home says the same, and exits 1.
        done = reconcile_command(tmp_path, core, bank, database_url, day)
        assert done.returncode == 1, done.stderr
        printed = json.loads(done.stdout)
        assert (printed["matched"], printed["differences"]) == (1, 2)
        assert printed["items"] == off["items"]


def reconcile_command(tmp_path: Path, core: Core, bank: Bank, database_url: str,
                      day: str) -> subprocess.CompletedProcess[str]:  # fmt: skip
    genesis = tmp_path / "genesis.json"
    genesis.write_bytes(encode_genesis(core.sandbox.genesis))
    linked = CoreBankingConfig(url=bank.url, secret_file="corebank.secret")
    home = tmp_path / "gateway-home"
    init_home_of_gateway(home, GatewayConfig(GatewaySection("aclb", core.url),
                                             core_banking=linked), genesis)  # fmt: skip
    write_secret(home / "corebank.secret", bank.home.secret)
    command = [sys.executable, "-m", "bakong", "gateway", "reconcile", "--home", str(home),
               "--database", database_url, "--day", day, "--json"]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_the_wallets_daily_limit_applies_to_money_sent_to_the_bank(
    engine: Engine, core: Core, tmp_path: Path
) -> None:
    with core_bank(tmp_path) as bank, gateway_for(
        linked_services(engine, core, bank.url, bank.home.secret)
    ) as gateway, httpx.Client(base_url=gateway.url, timeout=30) as http:
        sokha = register(http, gateway, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 3_000_000)
        link_id = link(http, sokha).json()["link"]["link_id"]
        assert move(http, sokha, "k-1", link_id, "to_bank", 1_900_000).status_code == 200
        # The basic tier's KHR 2,000,000 a day: the ledger refuses the hold itself.
        over = move(http, sokha, "k-2", link_id, "to_bank", 200_000)
        assert over.status_code == 422 and over.json()["error"]["code"] == "daily_limit_exceeded"
        settle(gateway, core)
        assert wallet(http, sokha) == {"available": 1_100_000, "held": 0}
        assert bank.balance(SOKHA_ACCOUNT) == OPENING + 1_900_000
