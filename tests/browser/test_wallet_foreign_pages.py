"""Paying a foreign shop's QR code from the wallet's scan page (issue 20) in headless
Chromium, against a running gateway over a real node API and the small fake link of
`tests/gateway/test_foreign_payments.py`: a photo of a PromptPay code with an amount shows the
shop, the price in baht, the riel total, the rate and the price's countdown before the PIN; a
wrong PIN says the tries left; the receipt shows the rate and the ledger moved the riel once.
A code without an amount asks for it in baht first; a refusal abroad shows "Not paid" with
nothing moved. Every state is checked by axe; no request leaves the machine (the harness).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import segno
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine

from tests.browser import harness
from tests.browser.test_wallet_pages import signed_in
from tests.gateway.conftest import Core
from tests.gateway.test_foreign_payments import (
    LINK_ACCOUNT,
    MERCHANT_QR,
    OPEN_QR,
    SOKHA_PHONE,
    balance,
    fake_link,
    gateway_for,
    linked_services,
)
from tests.gateway.test_wallets import PIN, cash_in, register

WRONG_PIN = "590142"


def checked(page: Page, name: str) -> None:
    harness.check_a11y(page)
    harness.shoot(page, name)


def photo_of(qr: str, path: Path) -> Path:
    segno.make(qr, error="m").save(str(path), scale=6, border=4)
    return path


def scan_photo(page: Page, url: str, photo: Path) -> None:
    page.goto(f"{url}/wallet/scan")
    page.locator("#photo").set_input_files(str(photo))


def test_pay_a_thai_shop_with_the_rate_before_the_pin(
    pages: Callable[..., Page], engine: Engine, core: Core, tmp_path: Path
) -> None:
    with fake_link(core) as (link, url), gateway_for(linked_services(engine, core, url)) as gw, \
            httpx.Client(base_url=gw.url, timeout=30) as http:  # fmt: skip
        register(http, gw, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 100_000)
        gw.wait_for_height(core.height)
        page = pages()
        signed_in(page, gw, SOKHA_PHONE)
        scan_photo(page, gw.url, photo_of(MERCHANT_QR, tmp_path / "thai.png"))
        confirm = page.locator("#foreign-confirm")
        expect(confirm).to_be_visible()
        expect(page.locator("#scanner")).to_be_hidden()
        expect(page.locator("#foreign-merchant")).to_have_text("Somchai Noodles")
        expect(page.locator("#foreign-place")).to_have_text("Bangkok, TH")
        expect(page.locator("#foreign-price")).to_have_text("250.00 THB")
        expect(page.locator("#foreign-total")).to_contain_text("29,563")
        expect(page.locator("#foreign-rate")).to_have_text("1 THB = 118.25 KHR")
        expect(page.locator("#foreign-expiry")).to_have_text(re.compile(r"^[01]:\d{2}$"))
        checked(page, "wallet-foreign-quote")

        page.get_by_label("Your PIN, for this shop abroad").fill(WRONG_PIN)
        page.get_by_role("button", name="Pay abroad").click()
        expect(page.locator("#foreign-error")).to_contain_text("Wrong PIN. 4 tries left")
        assert link.pay_calls == 0
        page.get_by_label("Your PIN, for this shop abroad").fill(PIN)
        page.get_by_role("button", name="Pay abroad").click()
        done = page.locator("#foreign-done")
        expect(done).to_be_visible()
        expect(page.locator("#foreign-done-title")).to_have_text("Paid abroad")
        expect(page.locator("#foreign-done-rate")).to_have_text("1 THB = 118.25 KHR")
        expect(page.locator("#foreign-done-price")).to_have_text("250.00 THB")
        expect(page.locator("#foreign-done-state")).to_have_text("Completed")
        expect(page.locator("#foreign-done-total")).to_contain_text("29,563")
        checked(page, "wallet-foreign-receipt")
        assert balance(core, "sokha_chan@aclb") == (100_000 - 29_563, 0)
        assert balance(core, LINK_ACCOUNT) == (29_563, 0)
        assert link.pay_calls == 1


def test_a_code_without_an_amount_and_a_refusal_abroad(
    pages: Callable[..., Page], engine: Engine, core: Core, tmp_path: Path
) -> None:
    with fake_link(core) as (link, url), gateway_for(linked_services(engine, core, url)) as gw, \
            httpx.Client(base_url=gw.url, timeout=30) as http:  # fmt: skip
        register(http, gw, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 100_000)
        gw.wait_for_height(core.height)
        link.mode = "refuse"
        page = pages(lang="km")
        signed_in_km(page, gw.url)
        scan_photo(page, gw.url, photo_of(OPEN_QR, tmp_path / "open.png"))
        expect(page.locator("#foreign-amount-step")).to_be_visible()
        expect(page.locator("#foreign-amount-currency")).to_have_text("THB")
        checked(page, "wallet-foreign-amount-km")
        page.locator("#foreign-amount").fill("10.5.0")
        page.locator("#foreign-amount-step button[type=submit]").click()
        expect(page.locator("#error")).to_be_visible()
        page.locator("#foreign-amount").fill("10.00")
        page.locator("#foreign-amount-step button[type=submit]").click()
        expect(page.locator("#foreign-price")).to_have_text("10.00 THB")
        expect(page.locator("#foreign-total")).to_contain_text("1,183")
        checked(page, "wallet-foreign-quote-km")
        page.locator("#foreign-pin").fill(PIN)
        page.locator("#foreign-pay").click()
        expect(page.locator("#foreign-done")).to_be_visible()
        expect(page.locator("#foreign-done-title")).to_have_text("មិនបានបង់")
        expect(page.locator("#error")).to_contain_text("បដិសេធ")
        checked(page, "wallet-foreign-refused-km")
        assert balance(core, "sokha_chan@aclb") == (100_000, 0)


def signed_in_km(page: Page, url: str) -> None:
    page.goto(f"{url}/wallet/signin")
    page.locator("input[type=tel], input[name=phone]").first.fill(SOKHA_PHONE)
    page.locator("input[type=password]").first.fill(PIN)
    page.locator("form button[type=submit]").first.click()
    expect(page).to_have_url(f"{url}/wallet/")
