"""The console's links page (issue 20) in headless Chromium, against a console following a real
node: after a link's day (liquidity in, a payment abroad posted, one voided, one expired, a
payment to a merchant here), an auditor follows the nav's "Links" and reads the link account's
liquidity, its day's position, its corridor's volumes and the two failed payments, in English
and in Khmer. Every state is checked by axe, photographed at 360 x 740, and no page may log a
console error or send a request off the machine (the harness).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser import harness
from tests.browser.test_console_pages import KHMER, sign_in
from tests.console.console_harness import RunningConsole, console, console_engine
from tests.console.test_console_links import LINK, cross_border_day

__all__ = ["console", "console_engine"]


def test_an_auditor_reads_the_links(console: RunningConsole, pages: Callable[..., Page]) -> None:
    auditor = pages()
    sign_in(auditor, console, "ada")
    auditor.goto(console.url + "/links")
    expect(auditor.locator("#links-none")).to_have_text("No link account on the ledger yet.")
    harness.check_a11y(auditor)

    console.wait_for_height(cross_border_day(console))
    auditor.goto(console.url + "/")
    auditor.get_by_role("link", name="Links", exact=True).click()
    expect(auditor).to_have_url(re.compile(r"/links$"))
    expect(auditor.get_by_role("heading", level=1)).to_have_text("Cross-border links")
    liquidity = auditor.locator(f'[id="liquidity-{LINK}-KHR"]')
    expect(liquidity.locator("td.number").first).to_have_text("517,563 KHR")
    position = auditor.locator("#link-positions tbody tr").first
    expect(position.locator("td.number")).to_have_text(
        ["529,563 KHR", "12,000 KHR", "517,563 KHR"])  # fmt: skip
    corridor = auditor.locator(f'[id="corridor-{LINK}-KHR"]')
    expect(corridor.locator("td.number")).to_have_text(["1", "29,563 KHR", "1", "12,000 KHR"])
    failed = auditor.locator("#link-failed tr.failed-payment")
    expect(failed).to_have_count(2)
    expect(failed.first).to_contain_text("Expired")
    expect(failed.nth(1)).to_contain_text("Refused (voided)")
    harness.check_a11y(auditor)
    harness.shoot(auditor, "console-links")

    khmer = pages(lang="km")
    sign_in(khmer, console, "ada")
    khmer.goto(console.url + "/links")
    assert KHMER.search(khmer.locator("h1").inner_text())
    expect(khmer.locator("#link-failed tr.failed-payment")).to_have_count(2)
    harness.check_a11y(khmer)
    harness.shoot(khmer, "console-links-km")
