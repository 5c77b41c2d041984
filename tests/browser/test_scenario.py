"""Issue 16's scenario in headless Chromium, on real validator processes and two gateway
processes: what a customer, a shopkeeper, a second customer and a bank officer see.

Sokha signs up in aclb's wallet page (the code read from the gateway's SMS outbox, as her phone
would receive it) and her bank cashes her in. Coffee Klaing, a merchant of wing, shows a
dynamic KHQR on its till; Sokha pays it from the scan page's camera (Chromium's fake camera
plays a video of the code on the till's screen, `tests/browser/camera.py`), and the till
turns to paid; she pays a second code from a photo of it. Dara, a customer of wing, has his
wallet open, in Khmer, while Sokha sends riel to his phone number: his balance changes without
a reload. Sokha's payment beyond a basic wallet's daily limit is refused with the limit and
what remains; aclb's officer raises her tier after checking her documents, the same payment
goes through, and the actions log names the officer.

Every page is checked by axe, must log no console error and send no request off the machine
(`harness`), and is photographed at 360 x 740. The tests share one world and run in order.

Method: `bakong.node.localnet` for the validators, `bakong.gateway.processes` for the gateways
(HTTP on loopback, SQLite), `bakong.gateway.scripted` for the people who are not on a page
(the merchant's back office, Dara's registration, the cash-in). Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from bakong.client import Client, SyncClient, issue
from bakong.client.builders import sign
from bakong.gateway import db, officers, scripted
from bakong.gateway.home import GatewayHome
from bakong.gateway.problems import GatewayProblem
from bakong.gateway.processes import GatewayProcess, prepare_gateways, publish_gateways
from bakong.gateway.scripted import GatewayCalls, Person
from bakong.keystore import read_key_file
from bakong.ledger.assets import Asset
from bakong.node.localnet import Localnet, init_localnet
from tests.browser import camera, harness

pytestmark = pytest.mark.e2e

UP_S = 60.0
SETTLE_S = 30.0
PIN = "381902"
STEP_MS = 15_000  # a page's answer that waits on a commit


@dataclass
class World:
    directory: Path
    network: Localnet
    homes: dict[str, GatewayHome]
    gateways: dict[str, GatewayProcess]
    nbc: SyncClient
    sokha: Person
    dara: Person
    pages: dict[str, Page] = field(default_factory=dict)

    def url(self, code: str) -> str:
        return self.gateways[code].url

    def calls(self, code: str) -> GatewayCalls:
        return GatewayCalls(self.url(code))


def _phone() -> str:
    return "+85512" + "".join(secrets.choice("0123456789") for _ in range(6))


def _issue_liquidity(nbc: SyncClient, directory: Path) -> None:
    admin = read_key_file(directory / "keys" / "nbc-admin.json")
    for code in ("aclb", "wing"):
        transaction = sign(nbc.builder("nbc").add(
            issue(f"settlement@{code}", Asset.KHR, 100_000_000, f"reserve-{code}-khr"),
            issue(f"settlement@{code}", Asset.USD, 1_000_000, f"reserve-{code}-usd"),
        ).payload(), admin)  # fmt: skip
        assert nbc.submit_and_wait(transaction, timeout_s=SETTLE_S).ok


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("scenario")
    init_localnet(directory, 4)
    network = Localnet(directory)
    network.start()
    gateways: dict[str, GatewayProcess] = {}
    try:
        assert network.wait_for_height(1, UP_S)
        homes = prepare_gateways(directory, ["aclb", "wing"])
        gateways = {code: GatewayProcess(home) for code, home in homes.items()}
        for process in gateways.values():
            process.start()
        for process in gateways.values():
            process.wait_healthy()
        publish_gateways(directory, {code: p.url for code, p in gateways.items()})
        nbc_key = read_key_file(directory / "keys" / "nbc-gateway.json")
        with SyncClient(Client(network.children[0].api_url, nbc_key)) as nbc:
            _issue_liquidity(nbc, directory)
            sokha = Person("aclb", "sokha", "Sokha Chan", _phone(), "1991-04-17", PIN)
            dara = Person("wing", "dara", "Dara Kim", _phone(), "1987-11-02", PIN)
            yield World(directory, network, homes, gateways, nbc, sokha, dara)
    finally:
        for process in gateways.values():
            process.stop()
        network.stop()


def _cash_in(world: World, person: Person, amounts: dict[Asset, int]) -> None:
    async def run() -> None:
        home = world.homes[person.participant]
        async with Client(home.config.gateway.core_url, home.gateway_key) as core:
            assert (await scripted.cash_in(core, home.admin_key, person.account_id, amounts)).ok

    harness.in_thread(asyncio.run, run())


def _checked(page: Page, name: str) -> None:
    """axe on what `page` shows now, nothing unclean so far, and its photograph."""
    harness.check_a11y(page)
    harness.assert_clean(page)
    harness.shoot(page, name)


def _page(world: World, role: str, browser: Browser, lang: str = "en") -> Page:
    """A guarded phone-sized page for `role`, closed (and checked clean) with the module."""
    opened = harness.new_page(browser, lang=lang)
    world.pages[role] = opened
    return opened


@pytest.fixture(scope="module", autouse=True)
def _close_pages(
    world: World, browser: Browser, camera_browser: Callable[[Path], Browser]
) -> Iterator[None]:
    yield  # before the browsers close (this fixture needs them)
    guards = [harness.guard_of(page) for page in world.pages.values()]
    for page in world.pages.values():
        harness.close_page(page)
    for guard in guards:
        harness.assert_clean(guard)


def _sign_in(page: Page, url: str, person: Person) -> None:
    page.goto(f"{url}/wallet/signin")
    page.locator("#phone").fill(person.phone)
    page.locator("#pin").fill(person.pin)
    page.locator("#signin button[type=submit]").click()
    expect(page).to_have_url(f"{url}/wallet/")
    expect(page.locator("#balance-KHR [data-amount]")).not_to_have_text("…")


def test_sokha_signs_up_with_the_texted_code_and_is_cashed_in(
    world: World, browser: Browser
) -> None:
    page = _page(world, "sokha", browser)
    url, sokha = world.url("aclb"), world.sokha
    page.goto(f"{url}/wallet/signup")
    page.get_by_label("Phone number").fill(sokha.phone)
    page.get_by_role("button", name="Send me a code").click()
    code_field = page.get_by_label("Code from the SMS")
    expect(code_field).to_be_visible()
    texted = scripted.wait_until(
        lambda: _texted(world.homes["aclb"], sokha.phone), SETTLE_S, "the SMS"
    )
    code_field.fill(texted)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Choose a handle").fill(sokha.handle)
    page.get_by_label("Full name").fill(sokha.name)
    page.get_by_label("Date of birth").fill(sokha.birth_date)
    page.get_by_label("Choose a PIN").fill(sokha.pin)
    page.get_by_label("PIN again").fill(sokha.pin)
    _checked(page, "scenario-signup-details")
    page.get_by_role("button", name="Open my wallet").click()
    expect(page).to_have_url(f"{url}/wallet/", timeout=STEP_MS)
    expect(page.locator("#account")).to_contain_text(sokha.account_id)

    _cash_in(world, sokha, {Asset.KHR: 300_000, Asset.USD: 800_00})
    # The home page is open: the cash-in shows without a reload.
    expect(page.locator("#balance-USD [data-amount]")).to_contain_text("800.00", timeout=STEP_MS)
    expect(page.locator("#balance-KHR [data-amount]")).to_contain_text("300,000")
    _checked(page, "scenario-wallet-home")


def _texted(home: GatewayHome, phone: str) -> str | None:
    try:
        return scripted.sms_code(home.database_url, phone)
    except GatewayProblem:  # not texted yet
        return None


MERCHANT = ("coffee_klaing", "Coffee Klaing", "WING-0001")


def _open_merchant(world: World) -> str:
    """wing's back office opens the merchant; its account ID."""

    async def run() -> str:
        home = world.homes["wing"]
        async with Client(home.config.gateway.core_url, home.gateway_key) as core:
            desk = await scripted.open_merchant(home, core, *MERCHANT)
        return desk.account_id

    return harness.in_thread(asyncio.run, run())


def _till_shows_a_code(world: World, asset: str, amount: str, name: str) -> Path:
    """The till charges `amount`: its code full screen, photographed; that photo's path."""
    till = world.pages["till"]
    till.get_by_role("link", name="Charge").click()
    till.get_by_label("US dollar" if asset == "USD" else "Riel", exact=False).check()
    till.get_by_label("Amount").fill(amount)
    till.get_by_role("button", name="Show the code").click()
    code = till.locator("#screen-qr")
    expect(code).to_be_visible(timeout=STEP_MS)
    till.wait_for_function("() => document.getElementById('screen-qr').naturalWidth > 0")
    _checked(till, name)
    photo = world.directory / f"{name}.png"
    code.screenshot(path=str(photo))
    return photo


def _till_turns_paid(world: World, amount: str, name: str) -> None:
    till = world.pages["till"]
    paid = till.locator("#paid")
    expect(paid).to_be_visible(timeout=STEP_MS)
    expect(paid).to_contain_text("Paid")
    expect(till.locator("#paid-amount")).to_contain_text(amount)
    expect(till.locator("#paid-from")).to_contain_text("ACLEDA Bank")
    _checked(till, name)
    till.get_by_role("button", name="New sale").click()


def _wallet_pays_the_scanned_code(page: Page, amount: str, name: str) -> None:
    confirm = page.locator("#confirm")
    expect(confirm).to_be_visible(timeout=STEP_MS)
    expect(page.locator("#confirm-merchant")).to_have_text(MERCHANT[1])
    expect(page.locator("#confirm-amount")).to_contain_text(amount)
    expect(page.locator("#confirm-expiry")).not_to_be_empty()
    _checked(page, name)
    _confirm(page)
    expect(page.get_by_role("heading", name="Payment sent")).to_be_visible(timeout=STEP_MS)


def test_the_merchant_signs_in_to_the_till(world: World, browser: Browser) -> None:
    account = _open_merchant(world)
    handle, pin = scripted.till_sign_in(world.homes["wing"], account)
    till = _page(world, "till", browser)
    till.goto(f"{world.url('wing')}/till/")
    expect(till).to_have_url(f"{world.url('wing')}/till/signin", timeout=STEP_MS)
    _checked(till, "scenario-till-signin")
    till.get_by_label("Shop handle or phone number").fill(handle)
    till.get_by_label("PIN").fill(pin)
    till.get_by_role("button", name="Sign in").click()
    expect(till).to_have_url(f"{world.url('wing')}/till/", timeout=STEP_MS)
    expect(till.get_by_role("button", name="Show the code")).to_be_visible()


def test_sokha_pays_the_tills_code_with_the_camera_and_the_till_turns_to_paid(
    world: World, camera_browser: Callable[[Path], Browser]
) -> None:
    shown = _till_shows_a_code(world, "USD", "4.50", "scenario-till-code")
    with Image.open(shown) as picture:
        video = camera.qr_video(world.directory / "till-code.y4m", picture)
    # Her phone's camera sees the till: a browser whose camera plays that video.
    phone = _page(world, "sokha-camera", camera_browser(video))
    url = world.url("aclb")
    _sign_in(phone, url, world.sokha)
    phone.get_by_role("link", name="Scan to pay").first.click()
    expect(phone).to_have_url(f"{url}/wallet/scan")
    phone.get_by_role("button", name="Use the camera").click()
    _wallet_pays_the_scanned_code(phone, "4.50", "scenario-scan-camera-confirm")
    _till_turns_paid(world, "4.50", "scenario-till-paid")


def test_sokha_pays_the_tills_code_from_a_photo_and_the_till_turns_to_paid(world: World) -> None:
    photo = _till_shows_a_code(world, "KHR", "12,000", "scenario-till-code-photo")
    sokha = world.pages["sokha"]
    sokha.goto(f"{world.url('aclb')}/wallet/scan")
    sokha.get_by_label("Or choose a photo of the code").set_input_files(str(photo))
    _wallet_pays_the_scanned_code(sokha, "12,000", "scenario-scan-photo-confirm")
    _till_turns_paid(world, "12,000", "scenario-till-paid-photo")


def _pay_on_send_page(page: Page, url: str, to: str, asset: str, amount: str) -> None:
    """Sokha fills the send page up to the confirm step (the payee's name shown)."""
    page.goto(f"{url}/wallet/send")
    page.get_by_label("To", exact=True).fill(to)
    page.get_by_label("US dollar" if asset == "USD" else "Riel", exact=False).check()
    page.get_by_label("Amount").fill(amount)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_label("Enter your PIN to pay")).to_be_visible(timeout=STEP_MS)


def _confirm(page: Page, pin: str = PIN) -> None:
    page.get_by_label("Enter your PIN to pay").fill(pin)
    page.get_by_role("button", name="Pay now").click()


def test_dara_at_wing_sees_money_from_sokha_arrive_without_a_reload(
    world: World, browser: Browser
) -> None:
    calls = world.calls("wing")
    try:
        scripted.register(calls, world.homes["wing"].database_url, world.dara)
    finally:
        calls.close()
    dara = _page(world, "dara", browser, lang="km")  # Dara reads his wallet in Khmer
    _sign_in(dara, world.url("wing"), world.dara)
    expect(dara.locator("html")).to_have_attribute("lang", "km")
    expect(dara.locator("#balance-KHR [data-amount]")).to_contain_text("0")
    dara.evaluate("() => { window.stillTheSameDocument = true; }")

    sokha = world.pages["sokha"]
    _pay_on_send_page(sokha, world.url("aclb"), world.dara.phone, "KHR", "25,000")
    expect(sokha.locator("#confirm-name")).to_have_text("Dara K.")
    expect(sokha.locator("#confirm-account")).to_have_text(world.dara.account_id)
    _checked(sokha, "scenario-send-confirm")
    _confirm(sokha)
    expect(sokha.get_by_role("heading", name="Payment sent")).to_be_visible(timeout=STEP_MS)
    _checked(sokha, "scenario-send-done")

    expect(dara.locator("#balance-KHR [data-amount]")).to_contain_text("25,000", timeout=STEP_MS)
    expect(dara.locator("#live")).to_contain_text(world.sokha.account_id)
    assert dara.evaluate("() => window.stillTheSameDocument") is True
    _checked(dara, "scenario-recipient-live")


def test_a_payment_beyond_a_basic_wallets_daily_limit_is_refused_with_what_remains(
    world: World,
) -> None:
    sokha = world.pages["sokha"]
    _pay_on_send_page(sokha, world.url("aclb"), world.dara.account_id, "USD", "550")
    _confirm(sokha)
    refusal = sokha.get_by_role("alert").filter(has_text="Today's limit is reached")
    expect(refusal).to_be_visible(timeout=STEP_MS)
    # USD 500 a day at the basic tier, of which the camera's USD 4.50 is spent.
    expect(refusal).to_contain_text("$500.00 a day and $495.50 remain")
    _checked(sokha, "scenario-limit-refused")


OFFICER = ("kanha.s", "correct-horse-battery-7")


def test_the_officer_raises_sokhas_tier_and_the_refused_payment_goes_through(
    world: World, browser: Browser
) -> None:
    # Made on the gateway's host, as `bakong gateway officer add` makes one.
    engine = db.engine_for(world.homes["aclb"].database_url)
    try:
        officers.add_officer(engine, *OFFICER, time.time_ns() // 1_000_000)
    finally:
        engine.dispose()
    url = world.url("aclb")
    officer = _page(world, "officer", browser)
    officer.goto(f"{url}/officer/")
    expect(officer).to_have_url(f"{url}/officer/signin", timeout=STEP_MS)
    officer.get_by_label("Officer name").fill(OFFICER[0])
    officer.get_by_label("Password").fill(OFFICER[1])
    officer.get_by_role("button", name="Sign in").click()
    expect(officer).to_have_url(f"{url}/officer/", timeout=STEP_MS)
    officer.get_by_label("Search for").fill(world.sokha.phone)
    officer.get_by_role("button", name="Find").click()
    expect(officer.locator("#c-account")).to_have_text(world.sokha.account_id, timeout=STEP_MS)
    expect(officer.locator("#c-tier")).to_contain_text("Basic")
    _checked(officer, "scenario-officer-customer")

    officer.get_by_label("New tier").select_option(label="Partial: ID and selfie checked")
    officer.locator("#tier-reason").fill("National ID and selfie checked at the branch")
    officer.get_by_label("I checked the identity documents this tier needs").check()
    officer.get_by_role("button", name="Change the tier").click()
    expect(officer.locator("#done")).to_contain_text("The tier is now", timeout=STEP_MS)
    expect(officer.locator("#c-tier")).to_contain_text("Partial")
    _checked(officer, "scenario-officer-tier-raised")

    sokha = world.pages["sokha"]
    _pay_on_send_page(sokha, world.url("aclb"), world.dara.account_id, "USD", "550")
    _confirm(sokha)
    expect(sokha.get_by_role("heading", name="Payment sent")).to_be_visible(timeout=STEP_MS)

    officer.get_by_role("link", name="Actions log").click()
    entry = officer.locator("li").filter(has_text="Changed the KYC tier")
    expect(entry.first).to_contain_text(OFFICER[0], timeout=STEP_MS)
    _checked(officer, "scenario-officer-actions")
