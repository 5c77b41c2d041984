"""Money sent to a phone with no wallet, in the web wallet (issue 17), in headless Chromium
against a running gateway over a real node API: the payer is told plainly that the number has
no wallet and offered to send anyway (with the date the money comes back, and a secret for a
cash agent to pass on), confirms with the PIN and follows the claim; the payee signs up with
that phone, is told on the home that money waits, and claims it with the texted code (a wrong
code says the tries left); the payer's history and the claim's page then say "claimed". A
claim locked by wrong codes, one past its claim period and one returned are each told in
words. Every state is checked by axe; no request leaves the machine (the harness).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import httpx
import msgspec
import pytest
from playwright.sync_api import Page, expect

from bakong.gateway.cash_config import ClaimsConfig
from tests.browser import harness
from tests.browser.test_wallet_pages import settle, signed_in
from tests.gateway.conftest import Core, RunningGateway
from tests.gateway.test_claims import claim_code_for, send, wait_for
from tests.gateway.test_wallets import PIN, _code, auth, cash_in, register

PAYER = "+85512310001"
NEWCOMER = "+85512310077"
WRONG_CODE = "0000000000"
DATE = re.compile(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}")


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield client


def checked(page: Page, name: str) -> None:
    harness.check_a11y(page)
    harness.shoot(page, name)


def khr(http: httpx.Client, token: str) -> dict[str, int]:
    balance: dict[str, int] = http.get("/v1/wallet", headers=auth(token)).json()["balances"]["KHR"]
    return balance


def sign_up(page: Page, gateway: RunningGateway, typed: str, phone: str, handle: str) -> None:
    page.goto(f"{gateway.url}/wallet/signup")
    page.get_by_label("Phone number").fill(typed)
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_label("Code from the SMS")).to_be_visible()
    page.get_by_label("Code from the SMS").fill(_code(gateway, phone))
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Choose a handle").fill(handle)
    page.get_by_label("Full name").fill("Dara New")
    page.get_by_label("Date of birth").fill("1995-02-03")
    page.get_by_label("Choose a PIN").fill(PIN)
    page.get_by_label("PIN again").fill(PIN)
    page.get_by_role("button", name="Open my wallet").click()
    expect(page).to_have_url(f"{gateway.url}/wallet/")


def claim_with(page: Page, code: str) -> None:
    page.get_by_label("Claim code").fill(code)
    page.get_by_role("button", name="Claim the money").click()


def test_send_to_a_phone_with_no_wallet_then_the_payee_signs_up_and_claims_it(
    pages: Callable[..., Page], gateway: RunningGateway, core: Core, http: httpx.Client
) -> None:
    sokha = register(http, gateway, PAYER, "sokha_chan", "Sokha Chan")
    cash_in(core, "sokha_chan@aclb", 100_000)
    settle(gateway, core)
    payer = pages()
    payer.context.grant_permissions(["clipboard-read", "clipboard-write"])
    signed_in(payer, gateway, PAYER)
    payer.goto(f"{gateway.url}/wallet/send")
    payer.get_by_label("To", exact=True).fill("012 310 077")
    payer.get_by_label("Amount").fill("25,000")
    payer.get_by_role("button", name="Continue").click()

    offer = payer.locator("#claim-offer")
    expect(offer.get_by_role("heading")).to_have_text("No wallet has this number yet")
    expect(offer).to_contain_text(
        f"{NEWCOMER} has no wallet at any bank. You can send 25,000 ៛ anyway."
    )
    expect(payer.locator("#claim-offer-return")).to_have_text(re.compile(
        rf"^If nobody claims it by {DATE.pattern}, it comes back to your wallet\.$"
    ))  # fmt: skip
    expect(payer.locator("#error")).to_be_hidden()
    checked(payer, "wallet-claim-offer")
    payer.get_by_label("They may also take it as cash at an agent").check()
    payer.get_by_role("button", name="Send it anyway").click()

    confirm = payer.locator("#confirm")
    expect(confirm.locator("#confirm-name")).to_have_text(
        "No wallet yet: they claim it with a texted code"
    )
    expect(confirm.locator("#confirm-account")).to_have_text(NEWCOMER)
    expect(confirm.locator("#confirm-claim-until")).to_have_text(DATE)
    secret = confirm.locator("#confirm-secret").inner_text()
    assert re.fullmatch(r"[0-9]{6}", secret), secret
    checked(payer, "wallet-claim-confirm")
    payer.get_by_label("Enter your PIN to pay").fill(PIN)
    payer.get_by_role("button", name="Pay now").click()

    done = payer.locator("#done")
    expect(done.get_by_role("heading")).to_have_text("Money sent: it waits for them")
    expect(done.locator("#done-claim-state")).to_have_text(
        f"{NEWCOMER} was texted a code to claim it."
    )
    expect(done.locator("#done-secret-value")).to_have_text(secret)
    checked(payer, "wallet-claim-sent")
    done.get_by_role("button", name="Share the secret").click()
    if payer.evaluate("() => Boolean(navigator.share)"):
        expect(done.locator("#done-secret-status")).not_to_be_empty()
    else:
        expect(done.locator("#done-secret-status")).to_have_text(
            "The secret is copied. Paste it in a message to them."
        )
        assert secret in payer.evaluate("() => navigator.clipboard.readText()")
    settle(gateway, core)
    assert khr(http, sokha) == {"available": 75_000, "held": 25_000}

    done.get_by_role("link", name="See where it stands").click()
    expect(payer).to_have_url(re.compile(r"/wallet/sent/[0-9a-f]{32}$"))
    sent_page = payer.url
    expect(payer.locator("#sent-state")).to_have_text(
        "Waiting: they were texted a code to claim it."
    )
    expect(payer.locator("#sent-amount")).to_have_text("25,000 ៛")
    expect(payer.locator("#sent-to")).to_have_text("+855 *** 077")
    expect(payer.locator("#sent-agent")).to_have_text("Allowed, with your secret")
    checked(payer, "wallet-claim-waiting")
    payer.goto(f"{gateway.url}/wallet/history")
    row = payer.locator("#entries .entry").first
    expect(row).to_contain_text("To +855 *** 077")
    expect(row.locator(".claim-state")).to_have_text(
        re.compile(rf"^Waiting to be claimed until {DATE.pattern}$")
    )

    payee = pages()
    sign_up(payee, gateway, "012 310 077", NEWCOMER, "dara_new")
    waiting = payee.locator("#waiting")
    expect(waiting.get_by_role("heading")).to_have_text("Money waiting for you")
    expect(waiting.locator("li")).to_have_text(re.compile(
        rf"^25,000 ៛ from Sokha C\., held by .+\. Claim it by {DATE.pattern}\.$"
    ))  # fmt: skip
    checked(payee, "wallet-claim-home-waiting")
    waiting.get_by_role("link", name="Claim it with the code from the text").click()
    expect(payee.get_by_label("Bank named in the text")).to_have_value("aclb")
    expect(payee.locator("#waiting li")).to_have_count(1)
    claim_with(payee, WRONG_CODE)
    expect(payee.locator("#error")).to_have_text(
        "That code is not right. Check the text and try again: "
        "4 tries left before the money is locked."
    )
    expect(payee.get_by_label("Claim code")).to_have_attribute("aria-invalid", "true")
    checked(payee, "wallet-claim-wrong-code")
    claim_with(payee, claim_code_for(gateway, NEWCOMER))
    claimed = payee.locator("#claimed")
    expect(claimed.get_by_role("heading")).to_have_text("The money is in your wallet")
    expect(claimed.locator("#claimed-amount")).to_have_text("+25,000 ៛")
    checked(payee, "wallet-claim-claimed")
    payee.get_by_role("link", name="Back to my wallet").click()
    expect(payee.locator("#balance-KHR [data-amount]")).to_have_text("25,000 ៛")
    expect(payee.locator("#waiting")).to_be_hidden()

    settle(gateway, core)
    assert khr(http, sokha) == {"available": 75_000, "held": 0}
    payer.goto(f"{gateway.url}/wallet/history")
    row = payer.locator("#entries .entry").first
    expect(row).to_contain_text("To +855 *** 077")
    expect(row.locator(".claim-state")).to_have_text(re.compile(rf"^Claimed {DATE.pattern}$"))
    checked(payer, "wallet-claim-history-claimed")
    payer.goto(sent_page)
    expect(payer.locator("#sent-state")).to_have_text("Claimed: the money is in their wallet.")
    expect(payer.locator("#sent-finished")).to_have_text(DATE)
    expect(payer.locator("#sent-bank")).to_have_text("aclb")


def test_a_locked_an_expired_and_a_returned_claim_are_told_in_words(
    pages: Callable[..., Page], gateway: RunningGateway, core: Core, http: httpx.Client
) -> None:
    period_ms = 10_000  # inside the last 30 s from the start: claiming it is refused as late
    sokha = register(http, gateway, PAYER, "sokha_chan", "Sokha Chan")
    cash_in(core, "sokha_chan@aclb", 100_000)
    settle(gateway, core)
    locked = send(http, sokha, "gift-locked", "+85512310088", 5_000)
    assert locked.status_code == 200, locked.text
    dara = register(http, gateway, "+85512310088", "dara_new", "Dara New")
    for _ in range(4):
        wrong = {"bank": "aclb", "code": WRONG_CODE}
        assert http.post("/v1/wallet/claims", headers=auth(dara), json=wrong).status_code == 403
    payee = pages()
    signed_in(payee, gateway, "+85512310088")
    expect(payee.locator("#waiting li")).to_have_text(re.compile(
        rf"^5,000 ៛ from Sokha C\., held by .+\. Claim it by {DATE.pattern}\.$"
    ))  # fmt: skip
    payee.goto(f"{gateway.url}/wallet/claim?bank=aclb")
    claim_with(payee, WRONG_CODE)
    words = (
        "Too many wrong codes were tried, so this money is locked. "
        "It goes back to the sender when the claim period ends."
    )
    expect(payee.locator("#error")).to_have_text(words)
    claim_with(payee, claim_code_for(gateway, "+85512310088"))
    expect(payee.locator("#error")).to_have_text(words)
    expect(payee.locator("#waiting li")).to_have_text(
        re.compile(r"^5,000 ៛ from Sokha C\. is locked after too many wrong codes\.")
    )
    checked(payee, "wallet-claim-locked")

    gateway.services.config = msgspec.structs.replace(
        gateway.services.config, claims=ClaimsConfig(period_ms=period_ms)
    )
    late = send(http, sokha, "gift-late", "+85512310099", 7_000)
    assert late.status_code == 200, late.text
    claim_id = late.json()["claim"]["claim_id"]
    lena = register(http, gateway, "+85512310099", "lena_new", "Lena New")
    late_payee = pages()
    signed_in(late_payee, gateway, "+85512310099")
    late_payee.goto(f"{gateway.url}/wallet/claim?bank=aclb")
    claim_with(late_payee, claim_code_for(gateway, "+85512310099"))
    expect(late_payee.locator("#error")).to_have_text(
        "The time to claim this money is over. It goes back to the sender."
    )
    expect(late_payee.locator("#waiting")).to_be_hidden()  # too late to be offered
    checked(late_payee, "wallet-claim-expired")

    time.sleep(period_ms / 1000 + 0.5)
    core.commit([])  # the first block past the expiry returns the hold

    def returned() -> bool:
        answer = http.get(f"/v1/claims/{claim_id}", headers=auth(sokha)).json()
        return bool(answer["state"] == "returned")

    wait_for(returned, "the return")
    claim_with(late_payee, claim_code_for(gateway, "+85512310099"))
    expect(late_payee.locator("#error")).to_have_text(
        "This money has gone back to the sender. Ask them to send it again."
    )
    assert khr(http, lena)["available"] == 0
    payer = pages()
    signed_in(payer, gateway, PAYER)
    payer.goto(f"{gateway.url}/wallet/sent/{claim_id}")
    expect(payer.locator("#sent-state")).to_have_text("Came back to your wallet.")
    expect(payer.locator("#sent-explain")).to_have_text("Nobody claimed it in time.")
    expect(payer.locator("#sent-agent")).to_have_text("Not allowed")
    checked(payer, "wallet-claim-returned")
    payer.goto(f"{gateway.url}/wallet/history")
    expect(payer.locator("#entries .claim-state").first).to_have_text(
        re.compile(rf"^Came back to you {DATE.pattern}$")
    )


def test_money_waiting_in_khmer(
    pages: Callable[..., Page], gateway: RunningGateway, core: Core, http: httpx.Client
) -> None:
    sokha = register(http, gateway, PAYER, "sokha_chan", "Sokha Chan")
    cash_in(core, "sokha_chan@aclb", 100_000)
    settle(gateway, core)
    assert send(http, sokha, "gift-km", "+85512310066", 12_000).status_code == 200
    register(http, gateway, "+85512310066", "dara_new", "Dara New")
    page = pages(lang="km")
    page.goto(f"{gateway.url}/wallet/signin")
    page.locator("#phone").fill("+85512310066")
    page.locator("#pin").fill(PIN)
    page.locator("#signin button[type=submit]").click()
    waiting = page.locator("#waiting")
    expect(waiting.get_by_role("heading")).to_have_text("ប្រាក់កំពុងរង់ចាំអ្នក")
    expect(waiting.locator("li")).to_contain_text("12,000 ៛ ពី Sokha C.")
    checked(page, "wallet-claim-home-waiting-km")
    waiting.get_by_role("link").click()
    page.locator("#claim-code").fill(WRONG_CODE)
    page.locator("#claim-submit").click()
    expect(page.locator("#error")).to_contain_text("លេខកូដនោះមិនត្រឹមត្រូវទេ")
    checked(page, "wallet-claim-wrong-code-km")
