"""The console's analytics page in headless Chromium, against a console following a real node.

An auditor opens `/analytics` after a day of traffic (issues, a merchant payment, an agent's
cash-in, an interbank transfer): the totals, six charts (SVG with a title and a description,
each with its table), the figures in English and in Khmer, and a narrower window chosen in the
form. Every state is checked by axe, photographed at 360 x 740, and no page may log a console
error or send a request off the machine (the harness).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from bakong.ledger.assets import Asset
from bakong.ledger.records import AccountKind
from tests.browser import harness
from tests.browser.test_console_pages import KHMER, sign_in
from tests.console.console_harness import RunningConsole, console, console_engine

__all__ = ["console", "console_engine"]


def _traffic(console: RunningConsole) -> int:
    chain = console.core.sandbox
    console.commit("nbc", chain.issue("aclb", Asset.KHR, 8_000_000, "reserve-1"))
    console.commit("nbc", chain.issue("wing", Asset.USD, 100_000, "reserve-2"))
    console.commit(
        "wing",
        chain.open_account("dara@wing"),
        chain.open_account("shop@wing", AccountKind.merchant),
        chain.open_account("agent1@wing", AccountKind.agent),
    )
    for source, target, asset, amount in [
        ("settlement@wing", "dara@wing", Asset.USD, 2_000),
        ("dara@wing", "shop@wing", Asset.USD, 1_250),
        ("settlement@wing", "agent1@wing", Asset.USD, 5_000),
        ("agent1@wing", "dara@wing", Asset.USD, 500),
        ("settlement@aclb", "settlement@wing", Asset.KHR, 40_000),
    ]:
        height = console.commit(source, chain.transfer(source, target, asset, amount))
    return height


def test_an_auditor_reads_the_analytics(
    console: RunningConsole, pages: Callable[..., Page], tmp_path: Path
) -> None:
    auditor = pages()
    sign_in(auditor, console, "ada")
    auditor.goto(console.url + "/analytics")
    expect(auditor.locator("#analytics-none")).to_have_text(
        "This console has no analytics directory."
    )

    console.services.analytics_dir = tmp_path / "analytics"
    console.wait_for_height(_traffic(console))
    auditor.get_by_role("link", name="Analytics").click()
    expect(auditor.locator("#total-count-USD")).to_have_text("5")  # an issue and 4 payments
    expect(auditor.locator("#total-value-KHR")).to_have_text("8,040,000 KHR")
    charts = auditor.get_by_role("img")
    expect(charts).to_have_count(6)
    expect(auditor.get_by_role("img", name=re.compile("^Payments by channel"))).to_be_visible()
    channel = auditor.locator("figure", has_text="Payments by channel")
    channel.locator("summary").click()
    table = channel.get_by_role("table")
    for channel_name, count in [("Merchant", "1"), ("Interbank", "1"), ("Agent", "2"),
                                ("Wallet (app or USSD)", "1"), ("Issue and redemption", "2")]:
        row = table.get_by_role("row", name=re.compile(f"^{re.escape(channel_name)}"))
        expect(row.get_by_role("cell")).to_have_text(count)
    harness.check_a11y(auditor)
    harness.shoot(auditor, "console-analytics")

    auditor.get_by_label("Days (1 to 366)").fill("1")
    auditor.get_by_role("button", name="Show").click()
    expect(auditor).to_have_url(re.compile(r"/analytics\?days=1$"))
    expect(auditor.locator("#total-count-USD")).to_have_text("5")

    khmer = pages(lang="km")
    sign_in(khmer, console, "ada")
    khmer.goto(console.url + "/analytics")
    assert KHMER.search(khmer.locator("h1").inner_text())
    expect(khmer.get_by_role("img")).to_have_count(6)
    harness.check_a11y(khmer)
    harness.shoot(khmer, "console-analytics-km")
