"""The merchant's till and the bank officer's pages in headless Chromium, against a running
gateway over a real node API (the gateway tests' fixtures).

The till: the owner signs in, types an amount, the dynamic KHQR fills the screen with its
countdown; the code is read back from the screen (zxing-cpp) and a customer pays it through
the API; the screen turns "paid" (amount, payer's bank) without a reload. A code left unpaid
expires (the page's clock run forward) and offers a new one. The day's sales show the money.
The officer: signs in with name and password, finds a customer by phone, raises the tier
(refused until the documents are confirmed checked), freezes and unfreezes, and finds every
act in the log under the officer's name. Every page is checked by axe, must log no console
error and send no request off the machine (the harness), and is photographed at 360 x 740
(the till's code also at tablet width).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator

import httpx
import PIL.Image
import pytest
from playwright.sync_api import Page, expect

from bakong.gateway import merchants, officers
from bakong.khqr import verify
from bakong.ledger.records import AccountStatus, KycTier
from bakong.qrimage.scan import scan_image
from tests.browser import harness
from tests.gateway.conftest import Core, RunningGateway
from tests.gateway.test_wallets import auth, cash_in, officer_token, register

TILL_PIN = "260719"
PASSWORD = "correct horse battery"
TABLET = (800, 1280)
KHMER = re.compile("[\u1780-\u17ff]")


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield client


@pytest.fixture
def shop(http: httpx.Client, gateway: RunningGateway) -> str:
    """The merchant `noodle_bar@aclb`, opened by an officer through the API."""
    body = {"handle": "noodle_bar", "name": "Noodle Bar", "name_km": "ហាងគុយទាវ",
            "phone": "+85590000042", "pin": TILL_PIN}  # fmt: skip
    opened = http.post("/v1/officer/merchants", headers=auth(officer_token(gateway)), json=body)
    assert opened.status_code == 201, opened.text
    return "noodle_bar"


def checked(page: Page, name: str) -> None:
    """axe on what the page shows now, and its photograph."""
    harness.check_a11y(page)
    harness.shoot(page, name)


def till_signed_in(page: Page, gateway: RunningGateway) -> None:
    page.goto(f"{gateway.url}/till/signin")
    page.get_by_label("Shop handle or phone number").fill("noodle_bar")
    page.get_by_label("PIN").fill(TILL_PIN)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{gateway.url}/till/")
    expect(page.locator("#shop")).to_have_text("Noodle Bar")


def show_code(page: Page, amount: str, currency: str = "Riel (KHR)") -> str:
    """Charge `amount`; the KHQR string read back from the screen."""
    page.get_by_label(currency).check()
    page.get_by_label("Amount").fill(amount)
    page.get_by_role("button", name="Show the code").click()
    screen = page.get_by_role("dialog")
    expect(screen).to_be_visible()
    expect(page.locator("#screen-countdown")).to_have_text(re.compile(r"^[0-9]+:[0-5][0-9]$"))
    image = page.locator("#screen-qr")
    expect(image).to_have_js_property("complete", True)
    shot = PIL.Image.open(io.BytesIO(image.screenshot()))
    found = scan_image(shot)
    assert len(found) == 1, "the code on screen does not scan"
    return found[0]


def test_the_till_shows_a_code_and_turns_paid_without_a_reload(
    pages: Callable[..., Page], gateway: RunningGateway, core: Core, http: httpx.Client, shop: str
) -> None:
    payer = register(http, gateway, "+85512000901", "sokha_chan", "Sokha Chan")
    cash_in(core, "sokha_chan@aclb", 100_000)
    page = pages()
    page.goto(f"{gateway.url}/till/")  # no session: off to sign in
    expect(page).to_have_url(f"{gateway.url}/till/signin")
    checked(page, "till-signin")
    page.get_by_label("Shop handle or phone number").fill("noodle_bar")
    page.get_by_label("PIN").fill("999999")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong handle, phone number or PIN.")
    till_signed_in(page, gateway)
    checked(page, "till-charge")

    page.get_by_label("Amount").fill("44.5")  # riel are whole: refused in the page
    page.get_by_role("button", name="Show the code").click()
    expect(page.locator("#error")).to_contain_text("Enter an amount")
    qr = show_code(page, "4,400")
    assert verify(qr, now_ms=gateway.services.clock_ms()).valid
    checked(page, "till-code")
    page.evaluate("() => { window.stillTheSamePage = true; }")

    paid = http.post("/v1/payments", headers=auth(payer),
                     json={"idempotency_key": "noodles-1", "to": {"khqr": qr}})  # fmt: skip
    assert paid.status_code == 200, paid.text
    done = page.locator("#paid")
    expect(done).to_be_visible()
    expect(page.locator("#paid-amount")).to_have_text("4,400 ៛")
    bank = merchants.bank_name(gateway.services, "sokha_chan@aclb")
    expect(page.locator("#paid-from")).to_have_text(f"From a customer of {bank}")
    assert page.evaluate("() => window.stillTheSamePage === true")  # no reload
    checked(page, "till-paid")

    page.get_by_role("button", name="New sale").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.get_by_role("link", name="Sales").click()
    expect(page.locator("#total-KHR [data-amount]")).to_have_text("4,400 ៛")
    expect(page.locator("#total-KHR [data-count]")).to_have_text("Payments: 1")
    expect(page.locator("#payments li")).to_have_count(1)
    checked(page, "till-sales")
    with page.expect_download() as card:
        page.get_by_role("button", name="Download PNG").click()
    saved = card.value.path()
    assert saved is not None and scan_image(PIL.Image.open(saved))[0].startswith("000201")


def test_an_unpaid_code_expires_and_a_new_one_is_offered(
    pages: Callable[..., Page], gateway: RunningGateway, shop: str
) -> None:
    page = pages(width=TABLET[0], height=TABLET[1])
    page.clock.install()
    till_signed_in(page, gateway)
    first = show_code(page, "2.50", "US dollar (USD)")
    harness.shoot(page, "till-code-tablet")
    page.clock.fast_forward("05:01")
    expect(page.locator("#expired")).to_be_visible()
    expect(page.locator("#expired-amount")).to_have_text("$2.50")
    harness.check_a11y(page)
    page.get_by_role("button", name="New code").click()
    expect(page.locator("#waiting")).to_be_visible()
    expect(page.locator("#screen-qr")).to_have_js_property("complete", True)
    second = scan_image(PIL.Image.open(io.BytesIO(page.locator("#screen-qr").screenshot())))
    assert second and second[0] != first  # a new bill number, a new expiry
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_label("Amount")).to_be_focused()


def test_the_till_reads_in_khmer(
    pages: Callable[..., Page], gateway: RunningGateway, shop: str
) -> None:
    page = pages(lang="km")
    page.goto(f"{gateway.url}/till/signin")
    assert KHMER.search(page.locator("h1").inner_text())
    page.locator("#who").fill("noodle_bar")
    page.locator("#pin").fill(TILL_PIN)
    page.locator("#signin button[type=submit]").click()
    expect(page.locator("#shop")).to_have_text("ហាងគុយទាវ")
    checked(page, "till-charge-km")


def officer_signed_in(page: Page, gateway: RunningGateway) -> None:
    page.goto(f"{gateway.url}/officer/")
    expect(page).to_have_url(f"{gateway.url}/officer/signin")
    page.get_by_label("Officer name").fill("kanha")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{gateway.url}/officer/")
    expect(page.locator("#who")).to_contain_text("kanha")


def test_the_officer_finds_a_customer_raises_the_tier_and_freezes(
    pages: Callable[..., Page], gateway: RunningGateway, core: Core, http: httpx.Client
) -> None:
    services = gateway.services
    officers.add_officer(services.engine, "kanha", PASSWORD, services.clock_ms())
    register(http, gateway, "+85512000902", "dara_sok", "Dara Sok")
    cash_in(core, "dara_sok@aclb", 12_500)
    gateway.wait_for_height(core.height)
    page = pages()
    page.goto(f"{gateway.url}/officer/signin")
    checked(page, "officer-signin")
    officer_signed_in(page, gateway)
    page.get_by_label("Search for").fill("012 000 902")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#customer-name")).to_have_text("Dara Sok")
    expect(page.locator("#c-tier")).to_have_text("Basic: phone only")
    expect(page.locator("#c-balance-KHR [data-amount]")).to_have_text("12,500 ៛")
    checked(page, "officer-customer")

    page.get_by_label("New tier").select_option("2")
    page.locator("#tier-reason").fill("Passport and proof of address seen")
    page.get_by_role("button", name="Change the tier").click()
    expect(page.locator("#error")).to_have_text("Confirm that you checked the documents.")
    page.get_by_label("I checked the identity documents this tier needs").check()
    page.get_by_role("button", name="Change the tier").click()
    expect(page.locator("#done")).to_have_text("The tier is now: Full: complete KYC.")
    expect(page.locator("#c-tier")).to_have_text("Full: complete KYC")
    assert core.sandbox.account("dara_sok@aclb").tier == KycTier.full  # type: ignore[union-attr]

    page.locator("#status-reason").fill("Phone reported stolen")
    page.get_by_role("button", name="Freeze the wallet").click()
    expect(page.locator("#c-status")).to_have_text("Frozen")
    ledger = core.sandbox.account("dara_sok@aclb")
    assert ledger is not None and ledger.status is AccountStatus.frozen
    checked(page, "officer-frozen")
    page.locator("#status-reason").fill("Phone recovered")
    page.get_by_role("button", name="Unfreeze the wallet").click()
    expect(page.locator("#c-status")).to_have_text("Active")
    assert core.sandbox.account("dara_sok@aclb").status is AccountStatus.active  # type: ignore[union-attr]

    page.get_by_role("link", name="Actions log").click()
    entries = page.locator("#actions li")
    expect(entries).to_have_count(5)
    expect(entries.nth(0)).to_contain_text("Unfroze a wallet")
    expect(entries.nth(0)).to_contain_text("Reason: Phone recovered")
    expect(entries.nth(2)).to_contain_text("Changed the KYC tier")
    expect(entries.nth(2)).to_contain_text("tier 0 -> 2")
    for index in range(5):
        expect(entries.nth(index)).to_contain_text("kanha")
    checked(page, "officer-actions")
    page.get_by_role("link", name="Webhooks").click()
    expect(page.locator("#deliveries-empty")).to_be_visible()
    harness.check_a11y(page)
