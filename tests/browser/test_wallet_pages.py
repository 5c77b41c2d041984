"""The customer's web wallet in headless Chromium, against a running gateway over a real node
API (the gateway tests' fixtures): sign up with the texted code, sign in (a wrong PIN says the
tries left), balances, money arriving while the home is open (no reload), sending to a handle
with the payee's name shown before the PIN, the refusals a person reads, scanning a photo of a
one-time code, "my QR", history with filters and paging, receipts, Khmer. Every page is
checked by axe, must log no console error and send no request off the machine (the harness),
and is photographed at 360 x 740.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import PIL.Image
import pytest
from playwright.sync_api import Browser, Page, expect

from bakong.client import set_account_status
from bakong.khqr import Options, generate_individual
from bakong.ledger.assets import Asset
from bakong.qrimage.render import render_png
from tests.browser import camera, harness
from tests.gateway.conftest import Core, RunningGateway
from tests.gateway.test_wallets import PIN, _code, auth, cash_in, register

WRONG_PIN = "590142"
KHMER = re.compile("[\u1780-\u17ff]")


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield client


def sign_in(page: Page, gateway: RunningGateway, phone: str, pin: str = PIN) -> None:
    page.goto(f"{gateway.url}/wallet/signin")
    page.get_by_label("Phone number").fill(phone)
    page.get_by_label("PIN").fill(pin)
    page.get_by_role("button", name="Sign in").click()


def signed_in(page: Page, gateway: RunningGateway, phone: str) -> None:
    sign_in(page, gateway, phone)
    expect(page).to_have_url(f"{gateway.url}/wallet/")
    expect(page.locator("#balance-KHR [data-amount]")).not_to_have_text("…")


def settle(gateway: RunningGateway, core: Core) -> None:
    gateway.wait_for_height(core.height)


def pay(http: httpx.Client, token: str, key: str, to: dict[str, str], amount: int) -> None:
    body = {"idempotency_key": key, "to": to, "amount": amount, "asset": "KHR"}
    answer = http.post("/v1/payments", headers=auth(token), json=body)
    assert answer.status_code == 200, answer.text


def checked(page: Page, name: str) -> None:
    """axe on what the page shows now, and its photograph."""
    harness.check_a11y(page)
    harness.shoot(page, name)


# -- signing up and in ------------------------------------------------------------------------


def test_sign_up_with_the_texted_code(page: Page, gateway: RunningGateway) -> None:
    page.goto(f"{gateway.url}/wallet/signup")
    checked(page, "wallet-signup-phone")
    page.get_by_label("Phone number").fill("012 300 101")
    page.get_by_role("button", name="Send me a code").click()
    code_field = page.get_by_label("Code from the SMS")
    expect(code_field).to_be_visible()
    checked(page, "wallet-signup-code")
    code_field.fill(_code(gateway, "+85512300101"))
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Choose a handle").fill("sokha_chan")
    page.get_by_label("Full name").fill("Sokha Chan")
    page.get_by_label("Date of birth").fill("1990-04-17")
    page.get_by_label("Choose a PIN").fill(PIN)
    page.get_by_label("PIN again").fill("482914")
    checked(page, "wallet-signup-details")
    page.get_by_role("button", name="Open my wallet").click()
    expect(page.get_by_role("alert")).to_have_text("The two PINs are not the same.")
    page.get_by_label("PIN again").fill(PIN)
    page.get_by_role("button", name="Open my wallet").click()
    expect(page).to_have_url(f"{gateway.url}/wallet/")
    expect(page.locator("#account")).to_have_text("Account sokha_chan@aclb")
    expect(page.locator("#balance-KHR [data-amount]")).to_have_text("0 ៛")
    expect(page.locator("#balance-USD [data-amount]")).to_have_text("$0.00")
    expect(page.locator("#recent-empty")).to_be_visible()
    checked(page, "wallet-home-empty")


def test_a_wrong_pin_says_the_tries_left(
    page: Page, gateway: RunningGateway, http: httpx.Client
) -> None:
    register(http, gateway, "+85512300201", "sokha_chan", "Sokha Chan")
    sign_in(page, gateway, "012 300 201", WRONG_PIN)
    alert = page.locator("#error")
    expect(alert).to_contain_text("4 tries left before the wallet locks for 15 minutes")
    checked(page, "wallet-signin-wrong-pin")
    page.get_by_label("PIN").fill(PIN)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{gateway.url}/wallet/")


def test_money_arriving_updates_the_open_home(
    page: Page, gateway: RunningGateway, core: Core, http: httpx.Client
) -> None:
    dara = register(http, gateway, "+85512300302", "dara_sok", "Dara Sok")
    register(http, gateway, "+85512300301", "sokha_chan", "Sokha Chan")
    cash_in(core, "dara_sok@aclb", 50_000)
    settle(gateway, core)
    signed_in(page, gateway, "+85512300301")
    expect(page.locator("main")).to_have_attribute("data-live", "open")
    page.evaluate("() => { window.notReloaded = true; }")
    pay(http, dara, "home-1", {"account": "sokha_chan@aclb"}, 12_500)
    expect(page.locator("#balance-KHR [data-amount]")).to_have_text("12,500 ៛")
    expect(page.locator("#live")).to_have_text("You received 12,500 ៛ from dara_sok@aclb.")
    expect(page.locator("#recent .entry")).to_have_count(1)
    assert page.evaluate("() => window.notReloaded") is True
    checked(page, "wallet-home")


# -- sending ----------------------------------------------------------------------------------


def test_send_to_a_handle_shows_the_name_before_the_pin(
    page: Page, gateway: RunningGateway, core: Core, http: httpx.Client
) -> None:
    register(http, gateway, "+85512300401", "sokha_chan", "Sokha Chan")
    dara = register(http, gateway, "+85512300402", "dara_sok", "Dara Sok")
    cash_in(core, "sokha_chan@aclb", 100_000)
    settle(gateway, core)
    signed_in(page, gateway, "+85512300401")
    page.get_by_role("link", name="Send", exact=True).first.click()
    checked(page, "wallet-send")
    page.get_by_label("To", exact=True).fill("dara_sok@aclb")
    page.get_by_label("Amount").fill("25,000")
    page.get_by_label("Note (optional)").fill("rice")
    page.get_by_role("button", name="Continue").click()
    confirm = page.locator("#confirm")
    expect(confirm.locator("#confirm-name")).to_have_text("Dara S.")
    expect(confirm.locator("#confirm-amount")).to_have_text("25,000 ៛")
    expect(page.get_by_label("Enter your PIN to pay")).to_be_visible()
    checked(page, "wallet-send-confirm")
    page.get_by_label("Enter your PIN to pay").fill(WRONG_PIN)
    page.get_by_role("button", name="Pay now").click()
    expect(page.locator("#confirm-error")).to_contain_text("Wrong PIN. 4 tries left")
    page.get_by_label("Enter your PIN to pay").fill(PIN)
    page.get_by_role("button", name="Pay now").click()
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#done-amount")).to_have_text("25,000 ៛")
    checked(page, "wallet-send-done")
    settle(gateway, core)
    answer = http.get("/v1/wallet", headers=auth(dara)).json()
    assert answer["balances"]["KHR"]["available"] == 25_000
    page.get_by_role("link", name="See the receipt").click()
    expect(page.locator("#receipt-amount")).to_have_text("−25,000 ៛")
    expect(page.locator("#receipt-counterparty")).to_have_text("dara_sok@aclb")
    expect(page.locator("#receipt-status")).to_have_text("Completed")
    expect(page.locator("#receipt-memo")).to_have_text("rice")
    checked(page, "wallet-receipt")


def test_refusals_a_person_understands(
    page: Page, gateway: RunningGateway, core: Core, http: httpx.Client
) -> None:
    register(http, gateway, "+85512300501", "sokha_chan", "Sokha Chan")
    register(http, gateway, "+85512300502", "dara_sok", "Dara Sok")
    cash_in(core, "sokha_chan@aclb", 1_000_000)
    settle(gateway, core)
    signed_in(page, gateway, "+85512300501")
    page.goto(f"{gateway.url}/wallet/send")

    def attempt(recipient: str, amount: str) -> None:
        page.get_by_label("To", exact=True).fill(recipient)
        page.get_by_label("Amount").fill(amount)
        page.get_by_role("button", name="Continue").click()

    attempt("nobody_here@aclb", "1000")
    expect(page.locator("#error")).to_have_text(
        "No wallet was found for this handle or phone number. Check it and try again."
    )
    attempt("099 999 999", "1000")  # a phone with no wallet: offered a claim (its own tests)
    expect(page.locator("#claim-offer-title")).to_have_text("No wallet has this number yet")
    page.get_by_role("button", name="Use another number").click()
    expect(page.get_by_label("To", exact=True)).to_be_focused()
    attempt("dara_sok@aclb", "1500000")
    page.get_by_label("Enter your PIN to pay").fill(PIN)
    page.get_by_role("button", name="Pay now").click()
    expect(page.locator("#confirm-error")).to_have_text(
        "There is not enough money in your wallet for this payment."
    )
    page.get_by_role("button", name="Cancel").click()
    cash_in(core, "sokha_chan@aclb", 2_000_000)
    settle(gateway, core)
    attempt("dara_sok@aclb", "2500000")
    page.get_by_label("Enter your PIN to pay").fill(PIN)
    page.get_by_role("button", name="Pay now").click()
    expect(page.locator("#confirm-error")).to_have_text(
        "Today's limit is reached: you may send 2,000,000 ៛ a day and 2,000,000 ៛ remain today."
    )
    checked(page, "wallet-send-refused")
    page.get_by_role("button", name="Cancel").click()
    page.context.set_offline(True)
    attempt("dara_sok@aclb", "1000")
    expect(page.locator("#error")).to_have_text(
        "The bank cannot be reached. Check your connection and try again."
    )
    page.context.set_offline(False)
    harness.guard_of(page).clear()  # Chromium logs the failed request: the page showed it
    frozen = set_account_status("sokha_chan@aclb", "frozen")
    core.commit([core.sandbox.transaction("aclb", [frozen])])
    settle(gateway, core)
    attempt("dara_sok@aclb", "1000")
    page.get_by_label("Enter your PIN to pay").fill(PIN)
    page.get_by_role("button", name="Pay now").click()
    expect(page.locator("#confirm-error")).to_have_text(
        "Your wallet is frozen. Please contact your bank."
    )


# -- scanning, my QR, history -----------------------------------------------------------------


def test_pay_a_photo_of_a_one_time_code(
    pages: Callable[..., Page], gateway: RunningGateway, core: Core, http: httpx.Client,
    tmp_path: Path,
) -> None:  # fmt: skip
    register(http, gateway, "+85512300601", "sokha_chan", "Sokha Chan")
    register(http, gateway, "+85512300602", "dara_sok", "Dara Sok")
    cash_in(core, "sokha_chan@aclb", 100_000)
    settle(gateway, core)
    payee = pages()
    signed_in(payee, gateway, "+85512300602")
    payee.get_by_role("link", name="My QR").first.click()
    expect(payee.locator("#static-qr")).to_be_visible()
    payee.get_by_role("textbox", name="Amount").fill("4,000")
    payee.get_by_role("button", name="Make a code").click()
    expect(payee.locator("#request-result")).to_be_visible()
    checked(payee, "wallet-my-qr")
    photo = tmp_path / "code.png"  # a photo of the payee's screen
    photo.write_bytes(payee.locator("#request-qr").screenshot())
    payer = pages()
    signed_in(payer, gateway, "+85512300601")
    payer.goto(f"{gateway.url}/wallet/scan")
    checked(payer, "wallet-scan")
    payer.get_by_label("Or choose a photo of the code").set_input_files(str(photo))
    confirm = payer.locator("#confirm")
    expect(confirm.locator("#confirm-merchant")).to_have_text("Dara S.")
    expect(confirm.locator("#confirm-amount")).to_have_text("4,000 ៛")
    expect(confirm.locator("#confirm-expiry")).to_have_text(re.compile(r"^[0-4]:[0-5]\d$"))
    checked(payer, "wallet-scan-confirm")
    payer.get_by_label("Enter your PIN to pay").fill(PIN)
    payer.get_by_role("button", name="Pay now").click()
    expect(payer.locator("#done")).to_be_visible()
    expect(payee.locator("#request-paid")).to_have_text("Paid: 4,000 ៛ from sokha_chan@aclb.")
    payer.goto(f"{gateway.url}/wallet/scan")  # the same code again
    payer.get_by_label("Or choose a photo of the code").set_input_files(str(photo))
    payer.get_by_label("Enter your PIN to pay").fill(PIN)
    payer.get_by_role("button", name="Pay now").click()
    expect(payer.locator("#confirm-error")).to_have_text("This code was already paid.")
    # A photo the page cannot read itself (Chromium decodes no TIFF) goes to the gateway.
    tiff = tmp_path / "code.tiff"
    with PIL.Image.open(photo) as image:
        image.save(tiff, format="TIFF")
    payer.goto(f"{gateway.url}/wallet/scan")
    with payer.expect_request(f"{gateway.url}/v1/payments/scan") as uploaded:
        payer.get_by_label("Or choose a photo of the code").set_input_files(str(tiff))
    assert uploaded.value.method == "POST"
    expect(payer.locator("#confirm-amount")).to_have_text("4,000 ៛")
    stale = tmp_path / "expired.png"
    stale.write_bytes(render_png(_expired_code("dara_sok@aclb")))
    payer.goto(f"{gateway.url}/wallet/scan")
    payer.get_by_label("Or choose a photo of the code").set_input_files(str(stale))
    expect(payer.locator("#error")).to_have_text("This code has expired. Ask for a new one.")


def test_pay_a_code_in_front_of_the_camera(
    camera_browser: Callable[[Path], Browser], pages: Callable[..., Page],
    gateway: RunningGateway, core: Core, http: httpx.Client, tmp_path: Path,
) -> None:  # fmt: skip
    register(http, gateway, "+85512300901", "sokha_chan", "Sokha Chan")
    dara = register(http, gateway, "+85512300902", "dara_sok", "Dara Sok")
    cash_in(core, "sokha_chan@aclb", 100_000)
    settle(gateway, core)
    asked = http.post(
        "/v1/wallet/request", headers=auth(dara), json={"amount": 1_500, "asset": "KHR"}
    ).json()
    video = camera.qr_video(tmp_path / "code.y4m", camera.qr_picture(asked["qr"]), angle=4.0)
    page = pages(on=camera_browser(video))
    signed_in(page, gateway, "+85512300901")
    page.goto(f"{gateway.url}/wallet/scan")
    page.get_by_role("button", name="Use the camera").click()
    confirm = page.locator("#confirm")
    expect(confirm.locator("#confirm-merchant")).to_have_text("Dara S.", timeout=20_000)
    expect(confirm.locator("#confirm-amount")).to_have_text("1,500 ៛")
    expect(page.locator("#camera")).to_be_hidden()
    assert page.evaluate("() => document.getElementById('camera').srcObject") is None
    page.get_by_label("Enter your PIN to pay").fill(PIN)
    page.get_by_role("button", name="Pay now").click()
    expect(page.locator("#done-amount")).to_have_text("1,500 ៛")
    settle(gateway, core)
    answer = http.get("/v1/wallet", headers=auth(dara)).json()
    assert answer["balances"]["KHR"]["available"] == 1_500


def test_without_a_camera_the_photo_remains(
    page: Page, gateway: RunningGateway, http: httpx.Client
) -> None:
    register(http, gateway, "+85512301001", "sokha_chan", "Sokha Chan")
    signed_in(page, gateway, "+85512301001")
    page.goto(f"{gateway.url}/wallet/scan")
    page.get_by_role("button", name="Use the camera").click()
    expect(page.locator("#error")).to_have_text(
        "This device has no camera. Choose a photo of the code instead."
    )
    expect(page.get_by_role("button", name="Use the camera")).to_be_visible()
    expect(page.get_by_label("Or choose a photo of the code")).to_be_enabled()


def _expired_code(account_id: str) -> str:
    """A one-time KHQR for `account_id` that expired a minute ago."""
    now_ms = time.time_ns() // 1_000_000
    options = Options(amount=1_000, expiration_timestamp=now_ms - 60_000)
    return generate_individual(account_id, "Dara S.", "Phnom Penh", options,
                               now_ms=now_ms - 120_000).qr  # fmt: skip


def test_history_filters_pages_and_receipts(
    page: Page, gateway: RunningGateway, core: Core, http: httpx.Client
) -> None:
    sokha = register(http, gateway, "+85512300701", "sokha_chan", "Sokha Chan")
    register(http, gateway, "+85512300702", "dara_sok", "Dara Sok")
    sandbox = core.sandbox
    core.commit([sandbox.transaction("nbc", [sandbox.issue("aclb", Asset.KHR, 10**6, "N-1")])])
    core.commit([
        sandbox.transaction("settlement@aclb", [
            sandbox.transfer("settlement@aclb", "sokha_chan@aclb", Asset.KHR, 1_000 + n)
        ])
        for n in range(22)
    ])  # fmt: skip
    settle(gateway, core)
    pay(http, sokha, "hist-1", {"account": "dara_sok@aclb"}, 700)
    settle(gateway, core)
    signed_in(page, gateway, "+85512300701")
    page.goto(f"{gateway.url}/wallet/history")
    entries = page.locator("#entries .entry")
    expect(entries).to_have_count(20)
    expect(page.get_by_role("button", name="Show more")).to_be_visible()
    checked(page, "wallet-history")
    page.get_by_role("button", name="Show more").click()
    expect(entries).to_have_count(23)
    expect(page.get_by_role("button", name="Show more")).to_be_hidden()
    page.get_by_label("Direction").select_option("out")
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text("To dara_sok@aclb")
    page.get_by_label("Currency").select_option("USD")
    expect(entries).to_have_count(0)
    expect(page.locator("#entries-empty")).to_be_visible()
    page.get_by_label("Currency").select_option("")
    page.get_by_label("Direction").select_option("")
    page.get_by_label("Day").fill("2001-01-01")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(entries).to_have_count(0)
    page.reload()  # the filters are in the query string
    expect(page.get_by_label("Day")).to_have_value("2001-01-01")


# -- Khmer and every page ---------------------------------------------------------------------


def test_the_language_switch_renders_khmer(page: Page, gateway: RunningGateway) -> None:
    page.goto(f"{gateway.url}/wallet/signin")
    page.get_by_role("link", name="ខ្មែរ").click()
    expect(page.locator("html")).to_have_attribute("lang", "km")
    expect(page.locator("h1")).to_have_text("ចូលកាបូប")
    assert KHMER.search(page.locator("label[for=phone]").inner_text())
    checked(page, "wallet-signin-km")
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("Sign in")


PAGES = ["", "send", "scan", "qr", "history", "signup"]


@pytest.mark.parametrize("lang", ["en", "km"])
def test_every_page_is_accessible(
    pages: Callable[..., Page], gateway: RunningGateway, core: Core, http: httpx.Client,
    lang: str,
) -> None:  # fmt: skip
    token = register(http, gateway, "+85512300801", "sokha_chan", "Sokha Chan")
    cash_in(core, "sokha_chan@aclb", 123_456)
    settle(gateway, core)
    entry = http.get("/v1/wallet/history", headers=auth(token)).json()["entries"][0]
    page = pages(lang=lang)
    page.goto(f"{gateway.url}/wallet/signin")
    checked(page, f"wallet-signin-{lang}")
    page.locator("#phone").fill("+85512300801")
    page.locator("#pin").fill(PIN)
    page.locator("#signin button[type=submit]").click()
    expect(page).to_have_url(f"{gateway.url}/wallet/")
    for name in [*PAGES, f"receipt/{entry['tx_hash']}"]:
        page.goto(f"{gateway.url}/wallet/{name}")
        expect(page.locator("html")).to_have_attribute("lang", lang)
        if lang == "km":
            assert KHMER.search(page.locator("h1").inner_text())
        if name.startswith("receipt"):
            expect(page.locator("#receipt-amount")).to_have_text("+123,456 ៛")
            name = "receipt"
        checked(page, f"wallet-{name or 'home'}-{lang}")


def test_amounts_phones_and_codes_are_read_exactly(page: Page, gateway: RunningGateway) -> None:
    page.goto(f"{gateway.url}/wallet/signin")
    now_ms = time.time_ns() // 1_000_000
    code = generate_individual(
        "dara_sok@aclb", "Dara S.", "Phnom Penh",
        Options(currency=840, amount=12.5, expiration_timestamp=now_ms + 60_000), now_ms=now_ms,
    ).qr  # fmt: skip
    found = page.evaluate(
        """async (code) => {
            const api = await import("/static/js/api.js");
            const wallet = await import("/static/js/wallet.js");
            const khqr = await import("/static/js/wallet-khqr.js");
            return {
                money: [api.money(1234567, "KHR"), api.money(5, "USD"), api.money(-125050, "USD")],
                parsed: ["12.5", "12,500", "0.001", "1.5", "0", "1e3", "9007199254740993"].map(
                    (text) => [api.parseAmount(text, "USD"), api.parseAmount(text, "KHR")]),
                phones: ["012 345 678", "+855 12 345 678", "85512345678", "0012025550123",
                         "12", "abc"].map(wallet.e164),
                code: khqr.readKhqr(code),
                notCode: [khqr.readKhqr("hello"), khqr.readKhqr(code.slice(0, -3))],
            };
        }""",
        code,
    )
    assert found["money"] == ["1,234,567 ៛", "$0.05", "−$1,250.50"]
    assert found["parsed"] == [
        [1250, None],
        [1250000, 12500],
        [None, None],
        [150, None],
        [None, None],
        [None, None],
        [None, None],
    ]
    assert found["phones"] == [
        "+85512345678",
        "+85512345678",
        "+85512345678",
        "+12025550123",
        None,
        None,
    ]
    assert found["code"] == {
        "account": "dara_sok@aclb",
        "merchant": "Dara S.",
        "asset": "USD",
        "amount": "12.50",
        "expiresMs": now_ms + 60_000,
    }
    assert found["notCode"] == [None, None]
