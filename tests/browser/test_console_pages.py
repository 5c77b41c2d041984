"""The central bank's console in headless Chromium, against a running console that follows a
real node API (the console tests' fixtures, on SQLite).

An operator signs in and proposes an issue to a bank's settlement account on the liquidity
page; a supervisor, in another browser, approves it in the queue and the bank's settlement
balance on the participants page changes; the same supervisor proposes a redemption and
cannot approve it (the refusal is read out); an auditor reads the audit log and searches for
the transaction, in Khmer; an account is proposed for freezing from its page. Every state is
checked by axe, photographed at 360 x 740, and no page may log a console error or send a
request off the machine (the harness).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from bakong.ledger.assets import Asset
from tests.browser import harness
from tests.console.console_harness import PASSWORD, RunningConsole, console, console_engine

__all__ = ["console", "console_engine"]

KHMER = re.compile("[\u1780-\u17ff]")


def checked(page: Page, name: str) -> None:
    harness.check_a11y(page)
    harness.shoot(page, name)


def sign_in(page: Page, console: RunningConsole, name: str) -> None:
    page.goto(console.url + "/")
    expect(page).to_have_url(re.compile(r"/signin$"))
    page.get_by_label(re.compile("Login name|ឈ្មោះចូល")).fill(name)
    page.get_by_label(re.compile("Password|ពាក្យសម្ងាត់")).fill(PASSWORD)
    page.locator("form.card button[type=submit]").click()
    expect(page.locator("#height")).to_be_visible()


def settlement_usd(page: Page, code: str) -> str:
    return page.locator(f"#participant-{code} td[data-asset=USD]").inner_text()


def test_an_operator_proposes_and_a_supervisor_approves(
    console: RunningConsole, pages: Callable[..., Page]
) -> None:
    operator, supervisor = pages(), pages()
    operator.goto(console.url + "/signin")
    checked(operator, "console-signin")
    sign_in(operator, console, "olga")
    checked(operator, "console-overview")

    sign_in(supervisor, console, "sam")
    supervisor.goto(console.url + "/participants")
    assert settlement_usd(supervisor, "aclb") == "0.00 USD"
    checked(supervisor, "console-participants")

    operator.goto(console.url + "/liquidity")
    operator.get_by_label("Participant").select_option("aclb")
    operator.get_by_label("Currency").select_option("USD")
    operator.get_by_label("Amount").fill("1,000.50")
    operator.get_by_label("Reserve entry reference").fill("reserve-2026-12-02")
    checked(operator, "console-liquidity")
    operator.get_by_role("button", name="Propose").click()
    expect(operator.locator("#done")).to_have_text("Proposal 1 is waiting for a supervisor.")
    expect(operator.locator("#proposal-1 .state")).to_have_text("waiting")
    checked(operator, "console-proposed")

    supervisor.goto(console.url + "/proposals")
    expect(supervisor.locator("#pending-1")).to_contain_text("1,000.50 USD")
    checked(supervisor, "console-queue")
    supervisor.locator("#approve-1").click()
    expect(supervisor.locator("#done")).to_contain_text("Proposal 1 was approved")
    console.wait_for_height(console.core.height)
    supervisor.goto(console.url + "/participants")
    assert settlement_usd(supervisor, "aclb") == "1,000.50 USD"

    # The supervisor's own proposal waits for someone else.
    supervisor.goto(console.url + "/liquidity")
    supervisor.get_by_label("Redeem").check()
    supervisor.get_by_label("Amount").fill("10")
    supervisor.get_by_label("Reserve entry reference").fill("reserve-2026-12-03")
    supervisor.get_by_role("button", name="Propose").click()
    expect(supervisor.locator("#done")).to_have_text("Proposal 2 is waiting for a supervisor.")
    supervisor.goto(console.url + "/proposals")
    supervisor.locator("#approve-2").click()
    alert = supervisor.get_by_role("alert")
    expect(alert).to_contain_text("You cannot approve or reject your own proposal")
    expect(supervisor.locator("#pending-2")).to_be_visible()
    checked(supervisor, "console-own-proposal")


def test_an_auditor_reads_in_khmer_and_an_operator_proposes_a_freeze(
    console: RunningConsole, pages: Callable[..., Page]
) -> None:
    chain = console.core.sandbox
    console.commit("aclb", chain.open_account("sokha@aclb"))
    height = console.commit("nbc", chain.issue("aclb", Asset.KHR, 40_000, "reserve-9"))
    console.wait_for_height(height)

    operator = pages()
    sign_in(operator, console, "olga")
    operator.goto(console.url + "/account?id=sokha%40aclb")
    expect(operator.locator("#account-status")).to_have_text("active")
    operator.get_by_label("Reason (recorded with the proposal)").fill("case 2026-41")
    checked(operator, "console-account")
    operator.get_by_role("button", name="Propose to freeze").click()
    expect(operator.locator("#done")).to_contain_text("is waiting for a supervisor")

    auditor = pages(lang="km")
    sign_in(auditor, console, "ada")
    auditor.goto(console.url + "/audit")
    expect(auditor.locator("#audit")).to_contain_text("propose")
    assert KHMER.search(auditor.locator("h1").inner_text())
    checked(auditor, "console-audit-km")
    auditor.goto(console.url + "/transactions?participant=aclb")
    expect(auditor.locator("#found")).to_be_visible()
    expect(auditor.locator("table.transactions")).to_contain_text("40,000 KHR")
    checked(auditor, "console-search-km")
