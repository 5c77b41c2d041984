"""A payment to a shop abroad in the wallet's history and on its receipt (issue 20), in headless
Chromium against a running gateway over a real node API and the fake link of
`tests/gateway/test_foreign_payments.py`: after paying a PromptPay code from the scan page, the
history names the shop (not the link's account) with its price in baht and the rate, and the
receipt shows the shop, its city and country, the price in baht, the riel total and the rate,
in English and in Khmer. Every state is checked by axe; no request leaves the machine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine

from tests.browser import harness
from tests.browser.test_wallet_foreign_pages import photo_of, scan_photo, signed_in_km
from tests.browser.test_wallet_pages import signed_in
from tests.gateway.conftest import Core
from tests.gateway.test_foreign_payments import (
    MERCHANT_QR,
    SOKHA_PHONE,
    fake_link,
    gateway_for,
    linked_services,
)
from tests.gateway.test_wallets import PIN, cash_in, register


def test_a_payment_abroad_in_the_history_and_on_the_receipt(
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
        page.locator("#foreign-pin").fill(PIN)
        page.locator("#foreign-pay").click()
        expect(page.locator("#foreign-done-state")).to_have_text("Completed")
        assert link.pay_calls == 1
        gw.wait_for_height(core.height)

        page.goto(f"{gw.url}/wallet/history")
        row = page.locator("#entries li").first
        expect(row).to_contain_text("To Somchai Noodles, Bangkok, TH")
        expect(row).to_contain_text("250.00 THB at 1 THB = 118.25 KHR")
        expect(row).to_contain_text("29,563")
        expect(row).not_to_contain_text("fx@wing")
        harness.check_a11y(page)
        harness.shoot(page, "wallet-foreign-history")

        row.get_by_role("link").click()
        expect(page.locator("#receipt")).to_have_attribute("aria-busy", "false")
        expect(page.locator("#receipt-direction")).to_have_text("Paid abroad")
        expect(page.locator("#receipt-counterparty")).to_have_text("Somchai Noodles")
        expect(page.locator("#receipt-foreign-place")).to_have_text("Bangkok, TH")
        expect(page.locator("#receipt-foreign-price")).to_have_text("250.00 THB")
        expect(page.locator("#receipt-foreign-total")).to_contain_text("29,563")
        expect(page.locator("#receipt-foreign-rate")).to_have_text("1 THB = 118.25 KHR")
        expect(page.locator("#receipt-amount")).to_contain_text("29,563")
        harness.check_a11y(page)
        harness.shoot(page, "wallet-foreign-history-receipt")
        receipt_path = page.url.removeprefix(gw.url)

        khmer = pages(lang="km")
        signed_in_km(khmer, gw.url)
        khmer.goto(gw.url + receipt_path)
        expect(khmer.locator("#receipt-foreign-price")).to_have_text("250.00 THB")
        expect(khmer.locator("#receipt-foreign-rate")).to_have_text("1 THB = 118.25 KHR")
        expect(khmer.locator("#receipt-direction")).not_to_have_text("Paid abroad")
        harness.check_a11y(khmer)
        khmer.goto(gw.url + "/wallet/history")
        expect(khmer.locator("#entries li").first).to_contain_text("អត្រា 1 THB = 118.25 KHR")
        harness.check_a11y(khmer)
        harness.shoot(khmer, "wallet-foreign-history-km")
