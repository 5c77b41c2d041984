"""The wallet's bank-account screen (issue 18, the app's fourth function) in headless Chromium,
against a running gateway linked to the sample core bank on loopback over a real node API:
linking (another person's account, an unknown number and a wrong PIN each refused in words;
then only masked data shown), wallet -> bank and bank -> wallet with the PIN (the books and
the ledger checked), a slow bank shown pending until done, a debit beyond the bank balance
shown failed with its reason, unlinking; a gateway with no core bank says so. Every state is
checked by axe; no request leaves the machine (the harness).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine

from tests.browser import harness
from tests.browser.test_wallet_pages import signed_in
from tests.gateway.conftest import Core, RunningGateway
from tests.gateway.test_bank_transfers import (
    DARA_ACCOUNT,
    OPENING,
    SOKHA_ACCOUNT,
    SOKHA_PHONE,
    core_bank,
    fund_settlement,
    gateway_for,
    linked_services,
    settle,
    wallet,
)
from tests.gateway.test_wallets import PIN, cash_in, register

WRONG_PIN = "590142"
MASKED = "\u2022\u2022\u2022\u2022 0501"
DATE = r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}"


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield client


def checked(page: Page, name: str) -> None:
    harness.check_a11y(page)
    harness.shoot(page, name)


def link_account(page: Page, number: str, pin: str = PIN) -> None:
    page.get_by_label("Account number").fill(number)
    page.locator("#link-pin").fill(pin)
    page.get_by_role("button", name="Link this account").click()


def move(page: Page, direction: str, amount: str) -> None:
    page.get_by_label(direction).check()
    page.locator("#move-amount").fill(amount)
    page.locator("#move-pin").fill(PIN)
    page.get_by_role("button", name="Move the money").click()


def test_link_a_bank_account_and_move_money_both_ways(
    pages: Callable[..., Page], engine: Engine, core: Core, tmp_path: Path
) -> None:
    with core_bank(tmp_path) as bank, gateway_for(linked_services(
        engine, core, bank.url, bank.home.secret, timeout_s=1.0,
    )) as gateway, httpx.Client(base_url=gateway.url, timeout=30) as http:  # fmt: skip
        sokha = register(http, gateway, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 300_000)
        settle(gateway, core)
        page = pages()
        signed_in(page, gateway, SOKHA_PHONE)
        page.get_by_role("link", name="Bank account").click()
        expect(page.locator("#links-empty")).to_have_text("No bank account is linked yet.")
        expect(page.locator("#move-form")).to_be_hidden()
        checked(page, "wallet-bank-empty")

        error = page.locator("#error")
        link_account(page, DARA_ACCOUNT)
        expect(error).to_have_text(
            "The bank has another phone number for this account. "
            "Link an account with your own phone number."
        )
        link_account(page, "0003999999")
        expect(error).to_have_text("This bank has no open account with that number.")
        link_account(page, SOKHA_ACCOUNT, WRONG_PIN)
        expect(error).to_contain_text("Wrong PIN. 4 tries left")
        checked(page, "wallet-bank-refused")
        link_account(page, SOKHA_ACCOUNT)
        expect(page.locator("#notice")).to_have_text(f"The account {MASKED} is linked.")
        expect(page.locator("#links li")).to_have_count(1)
        expect(page.locator("#links li .who")).to_have_text(f"{MASKED} · S*** C*** · KHR")
        assert SOKHA_ACCOUNT not in page.content() and "Sokha Chan" not in page.content()

        move(page, "Wallet to bank account", "100,000")
        expect(page.locator("#notice")).to_have_text(f"100,000 ៛ is in your bank account {MASKED}.")
        first = page.locator("#transfers li").first
        expect(first).to_contain_text(f"To bank account {MASKED}")
        expect(first.locator(".transfer-state")).to_have_text(re.compile(rf"^Done {DATE}$"))
        checked(page, "wallet-bank-moved")
        assert bank.balance(SOKHA_ACCOUNT) == OPENING + 100_000

        move(page, "Bank account to wallet", "30,000")
        expect(page.locator("#notice")).to_have_text(f"30,000 ៛ is in your wallet, from {MASKED}.")
        settle(gateway, core)
        assert wallet(http, sokha) == {"available": 230_000, "held": 0}
        assert bank.balance(SOKHA_ACCOUNT) == OPENING + 70_000

        bank.set_fault("slow 2")  # the bank answers after the gateway stopped waiting
        move(page, "Wallet to bank account", "1,000")
        expect(page.locator("#notice")).to_have_text(
            "The bank is handling it. This page shows when it is done."
        )
        bank.set_fault("")
        expect(page.locator("#notice")).to_have_text(
            f"1,000 ៛ is in your bank account {MASKED}.", timeout=20_000
        )
        assert bank.balance(SOKHA_ACCOUNT) == OPENING + 71_000

        fund_settlement(core, 10_000_000)
        move(page, "Bank account to wallet", "5,000,000")
        expect(error).to_have_text("There is not enough money in the bank account for this.")
        expect(page.locator("#transfers li .transfer-state").first).to_have_text(
            "Failed: There is not enough money in the bank account for this."
        )
        checked(page, "wallet-bank-failed")
        settle(gateway, core)
        assert wallet(http, sokha) == {"available": 229_000, "held": 0}
        assert bank.balance(SOKHA_ACCOUNT) == OPENING + 71_000
        expect(page.locator("#transfers li")).to_have_count(4)

        page.get_by_role("button", name=f"Unlink the account {MASKED}").click()
        expect(page.locator("#notice")).to_have_text(f"The account {MASKED} is no longer linked.")
        expect(page.locator("#move-form")).to_be_hidden()
        expect(page.locator("#transfers li")).to_have_count(4)  # the record stays


def test_a_gateway_without_a_core_bank_says_so(
    page: Page, gateway: RunningGateway, http: httpx.Client
) -> None:
    register(http, gateway, "+85512320001", "sokha_chan", "Sokha Chan")
    signed_in(page, gateway, "+85512320001")
    page.goto(f"{gateway.url}/wallet/bank")
    expect(page.locator("#unavailable")).to_have_text(
        "This bank does not offer a link to bank accounts here yet."
    )
    expect(page.locator("#link-form")).to_be_hidden()
    expect(page.locator("#move-form")).to_be_hidden()
    checked(page, "wallet-bank-unavailable")
