"""The console's governance and supervision pages in headless Chromium, against a running
console that follows a real node API (the console tests' fixtures, on SQLite).

An operator registers a microfinance institution; a supervisor opens the proposal from the
queue, reads the proposed record, approves it, and the participant's keys are listed as the
ledger holds them. A supervisor proposes a limits change, reads the diff against the policy in
force, cannot approve it (the refusal is read out); another supervisor approves it and the
form then shows the new policy. An auditor reads the supervision page in Khmer after a paid
and a declined payment. Every state is checked by axe, photographed at 360 x 740, and no page
may log a console error or send a request off the machine (the harness).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from bakong.console import governance
from bakong.ledger.assets import Asset
from bakong.sandbox import sandbox_key
from tests.browser import harness
from tests.console.console_harness import PASSWORD, RunningConsole, console, console_engine

__all__ = ["console", "console_engine"]

KHMER = re.compile("[\u1780-\u17ff]")
NEW_ADMIN = sandbox_key("mfik/admin").public_key.hex()


def checked(page: Page, name: str) -> None:
    harness.check_a11y(page)
    harness.shoot(page, name)


def sign_in(page: Page, console: RunningConsole, name: str) -> None:
    page.goto(console.url + "/signin")
    page.locator("input[name=name]").fill(name)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form.card button[type=submit]").click()
    expect(page.locator("#height")).to_be_visible()


def seeded(console: RunningConsole) -> None:
    engine = console.services.engine
    console.wait_until(lambda: "wing" in governance.participant_records(engine))


def test_a_participant_is_registered_through_maker_checker(
    console: RunningConsole, pages: Callable[..., Page]
) -> None:
    seeded(console)
    operator, supervisor = pages(), pages()
    sign_in(operator, console, "olga")
    operator.goto(console.url + "/governance")
    checked(operator, "console-governance")
    operator.locator("#register-code").fill("mfik")
    operator.locator("#register-name").fill("Kampot Microfinance")
    operator.get_by_label("Microfinance institution").check()
    operator.locator("#register-admin").fill(NEW_ADMIN)
    operator.locator("#register-url").fill("https://gateway.mfik.example")
    operator.locator("#register-reason").fill("licence 2026/21")
    operator.locator("#register-form button[type=submit]").click()
    expect(operator.locator("#done")).to_have_text("Proposal 1 is waiting for a supervisor.")
    expect(operator.locator("#compare")).to_contain_text("Kampot Microfinance")
    checked(operator, "console-register-proposed")

    sign_in(supervisor, console, "sam")
    supervisor.goto(console.url + "/proposals")
    supervisor.locator("#compare-1").click()
    expect(supervisor.locator("#compare")).to_contain_text(NEW_ADMIN)
    checked(supervisor, "console-register-review")
    supervisor.locator("#approve-1").click()
    expect(supervisor.locator("#done")).to_contain_text("Proposal 1 was approved")
    console.wait_for_height(console.core.height)
    supervisor.goto(console.url + "/governance")
    expect(supervisor.locator("#record-mfik")).to_contain_text(NEW_ADMIN)
    expect(supervisor.locator("#record-mfik .kind")).to_have_text("Microfinance institution")


def test_a_limits_change_is_reviewed_as_a_diff(
    console: RunningConsole, pages: Callable[..., Page]
) -> None:
    seeded(console)
    maker, checker = pages(), pages()
    sign_in(maker, console, "sam")
    maker.goto(console.url + "/governance")
    maker.locator("#limit-tier0-USD").fill("400.00")
    maker.locator("#limit-caps").fill("wing 1 5,000,000 1,250.00")
    maker.locator("#limits-reason").fill("circular 2026/3")
    maker.locator("#limits-form button[type=submit]").click()
    expect(maker.locator("#done")).to_have_text("Proposal 1 is waiting for a supervisor.")
    expect(maker.locator("#diff tr.changed")).to_have_count(3)
    expect(maker.locator("#diff tr.changed").first).to_contain_text("400.00 USD")
    checked(maker, "console-limits-diff")
    maker.locator("#approve-1").click()
    expect(maker.get_by_role("alert")).to_contain_text("your own proposal")
    checked(maker, "console-limits-own")

    sign_in(checker, console, "sara")
    checker.goto(console.url + "/governance/proposals/1")
    checker.locator("#approve-1").click()
    expect(checker.locator("#done")).to_contain_text("Proposal 1 was approved")
    console.wait_for_height(console.core.height)
    checker.goto(console.url + "/governance")
    expect(checker.locator("#limit-tier0-USD")).to_have_value("400.00")
    expect(checker.locator("#limit-caps")).to_have_value("wing 1 5,000,000 1,250.00")


def test_an_auditor_reads_supervision_in_khmer(
    console: RunningConsole, pages: Callable[..., Page]
) -> None:
    chain = console.core.sandbox
    console.commit("aclb", chain.open_account("sok@aclb"))
    console.commit("nbc", chain.issue("aclb", Asset.USD, 10_000, "reserve-1"))
    console.commit("settlement@aclb", chain.transfer("settlement@aclb", "sok@aclb", Asset.USD, 900))
    height = console.commit(
        "sok@aclb", chain.transfer("sok@aclb", "settlement@aclb", Asset.USD, 99_999)
    )
    console.wait_for_height(height)
    auditor = pages(lang="km")
    sign_in(auditor, console, "ada")
    auditor.goto(console.url + "/supervision")
    assert KHMER.search(auditor.locator("h1").inner_text())
    expect(auditor.locator("#payments")).to_have_text("2")
    expect(auditor.locator("#supervised-aclb")).to_contain_text("insufficient_funds: 1")
    expect(auditor.locator("svg rect")).to_have_count(2)
    checked(auditor, "console-supervision-km")
