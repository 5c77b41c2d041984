"""The console's rules, alerts, settlement report and liquidity positions in headless Chromium,
against a running console that follows a real node API (the console tests' fixtures, SQLite).

A supervisor proposes a monitoring rule set and another approves it; a structuring pattern
committed on the node shows up as an alert with its evidence; an operator escalates the case
and a supervisor closes it with a note; the day's settlement report says the net positions sum
to zero, in English and in Khmer, and its CSV downloads; an operator sets a bank's low-balance
threshold and the crossing shows on the positions page. Every state is checked by axe,
photographed at 360 x 740, and no page may log a console error or send a request off the
machine (the harness).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from bakong.console import aml, store
from bakong.console.monitoring import StructuringRule
from bakong.console.settlement import TOTAL_ROW
from bakong.ledger.assets import Asset
from tests.browser import harness
from tests.browser.test_console_pages import KHMER, sign_in
from tests.console.console_harness import RunningConsole, console, console_engine

__all__ = ["console", "console_engine"]

RULES = (
    StructuringRule(
        name="khr-under-1m", asset=Asset.KHR, threshold=1_000_000, margin_percent=10, count=3,
        window_ms=60 * 60_000,
    ),
)  # fmt: skip


def checked(page: Page, name: str) -> None:
    harness.check_a11y(page)
    harness.shoot(page, name)


def _alert_ids(console: RunningConsole) -> list[str]:
    with console.services.engine.connect() as connection:
        return list(connection.execute(sa.select(store.aml_alerts.c.alert_id)).scalars())


def _traffic(console: RunningConsole) -> None:
    """Liquidity for ACLB, two customers, and Sokha's three payments just under 1,000,000 KHR."""
    chain = console.core.sandbox
    console.commit("nbc", chain.issue("aclb", Asset.KHR, 100_000_000, "reserve-khr"))
    console.commit("nbc", chain.issue("aclb", Asset.USD, 500_000, "reserve-usd"))
    console.commit("aclb", chain.open_account("sokha@aclb"))
    console.commit("wing", chain.open_account("dara@wing"))
    console.commit(
        "settlement@aclb", chain.transfer("settlement@aclb", "sokha@aclb", Asset.KHR, 5_000_000)
    )
    for amount in (950_000, 990_000, 960_000):
        console.commit("sokha@aclb", chain.transfer("sokha@aclb", "dara@wing", Asset.KHR, amount))
    console.wait_for_height(console.core.height)


def test_rules_alerts_and_a_case(console: RunningConsole, pages: Callable[..., Page]) -> None:
    sam, sara, olga = pages(), pages(), pages()
    sign_in(sam, console, "sam")
    sam.goto(console.url + "/monitoring/rules")
    checked(sam, "console-rules")
    sam.get_by_label("Rules (JSON)").fill(aml.rules_json(RULES))
    sam.get_by_role("button", name="Propose these rules").click()
    expect(sam.locator("#done")).to_contain_text("is waiting for another supervisor")
    checked(sam, "console-rules-proposed")

    sign_in(sara, console, "sara")
    sara.goto(console.url + "/monitoring/rules")
    sara.get_by_role("button", name="Approve").click()
    expect(sara.locator("#done")).to_contain_text("is now the active one")
    expect(sara.locator("#active-rules")).to_contain_text("khr-under-1m")

    _traffic(console)
    console.wait_until(lambda: len(_alert_ids(console)) == 1)
    (alert_id,) = _alert_ids(console)

    sign_in(olga, console, "olga")
    olga.goto(console.url + "/monitoring")
    expect(olga.locator(f"#alert-{alert_id}")).to_contain_text("sokha@aclb")
    checked(olga, "console-alerts")
    olga.locator(f"#alert-{alert_id} a").click()
    expect(olga.locator("#evidence tbody tr")).to_have_count(3)
    expect(olga.locator("#close-form")).to_have_count(0)  # an operator does not close
    checked(olga, "console-alert")
    olga.get_by_role("button", name="Escalate").click()
    expect(olga.locator("#done")).to_have_text("The case was escalated.")
    expect(olga.locator("#case-status")).to_have_text("escalated")

    sam.goto(console.url + f"/monitoring/alerts/{alert_id}")
    sam.get_by_role("button", name="Close the case").click()  # the note is required
    expect(sam.locator("#case-status")).to_have_text("escalated")
    sam.get_by_label("Note").fill("Reported to CAFIU")
    sam.get_by_role("button", name="Close the case").click()
    expect(sam.locator("#done")).to_have_text("The case was closed.")
    expect(sam.locator("#case-note")).to_contain_text("Reported to CAFIU")
    checked(sam, "console-alert-closed")
    with sam.expect_download() as download:
        sam.locator("#str-csv").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert [row["amount_minor"] for row in rows] == ["950000", "990000", "960000"]


def test_settlement_report_and_positions(
    console: RunningConsole, pages: Callable[..., Page]
) -> None:
    _traffic(console)
    olga = pages()
    sign_in(olga, console, "olga")
    olga.goto(console.url + "/reports/settlement")
    expect(olga.locator("#net-sum-KHR")).to_have_text(
        re.compile("KHR: the net positions sum to zero")
    )
    expect(olga.locator("#reconciled")).to_contain_text("agree with the ledger")
    expect(olga.locator("#position-aclb-KHR .net")).to_have_text("-2,900,000 KHR")
    checked(olga, "console-settlement")
    with olga.expect_download() as download:
        olga.locator("#download-csv").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert {row["net"] for row in rows if row["participant"] == TOTAL_ROW} == {"0", "0.00"}

    olga.goto(console.url + "/positions")
    checked(olga, "console-positions")
    olga.get_by_role("combobox", name="Participant").select_option("aclb")
    olga.get_by_label("Currency").select_option("USD")
    olga.get_by_label("Alert below").fill("10,000")
    olga.get_by_role("button", name="Save the threshold for the bank").click()
    expect(olga.locator("#done")).to_contain_text("The threshold was saved")
    console.wait_until(lambda: _shows_low_balance_alert(olga, console))
    expect(olga.locator("#low-balance-alerts")).to_contain_text("5,000.00 USD")
    checked(olga, "console-positions-alert")

    auditor = pages(lang="km")
    sign_in(auditor, console, "ada")
    auditor.goto(console.url + "/reports/settlement")
    assert KHMER.search(auditor.locator("#net-sum-USD").inner_text())
    checked(auditor, "console-settlement-km")


def _shows_low_balance_alert(page: Page, console: RunningConsole) -> bool:
    page.goto(console.url + "/positions")
    return page.locator("#low-balance-alerts").count() == 1
