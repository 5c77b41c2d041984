"""The console's links page (issue 20) on SQLite and PostgreSQL, against a running console
following a real node API: a link account `fx@wing` (kind `link`) takes liquidity from its
bank, a wallet's hold toward it is posted (paid abroad), another voided and a third left to
expire (failed payments), and it pays a merchant of another bank (paid here). The page shows
each figure: liquidity per asset, the day's position (in, out, net), the corridor's volumes
each way, and the two failures, in English and in Khmer, to signed-in staff only."""

from __future__ import annotations

import datetime
import re
import time

import httpx

from bakong.client import hold, hold_id_for, post, void
from bakong.console import links
from bakong.ledger.assets import Asset
from bakong.ledger.policy import phnom_penh_day
from bakong.ledger.records import AccountKind, KycTier
from tests.console.console_harness import (
    PASSWORD,
    RunningConsole,
    console,
    console_engine,
    core,
    database_url,
    postgres_server,
)

__all__ = ["console", "console_engine", "core", "database_url", "postgres_server"]

LINK = "fx@wing"
PAYER = "dara@aclb"
SHOP = "shop@aclb"
LIQUIDITY, PAID_ABROAD, PAID_HERE = 500_000, 29_563, 12_000
VOIDED, EXPIRED = 11_830, 4_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def cross_border_day(console: RunningConsole) -> int:
    """A day of a link's traffic on the chain (see the module docstring); the last height."""
    chain = console.core.sandbox
    console.commit("nbc", chain.issue("wing", Asset.KHR, 1_000_000, "reserve-link"))
    console.commit("nbc", chain.issue("aclb", Asset.KHR, 1_000_000, "reserve-aclb"))
    console.commit("wing", chain.open_account(LINK, AccountKind.link, KycTier.institutional))
    console.commit("aclb", chain.open_account(PAYER),
                   chain.open_account(SHOP, AccountKind.merchant))  # fmt: skip
    console.commit("settlement@wing", chain.transfer("settlement@wing", LINK, Asset.KHR,
                                                     LIQUIDITY))  # fmt: skip
    console.commit("settlement@aclb", chain.transfer("settlement@aclb", PAYER, Asset.KHR,
                                                     100_000))  # fmt: skip
    holds = {}
    for e2e, amount, lifetime_ms in (("E2E-PAID", PAID_ABROAD, 120_000),
                                     ("E2E-VOID", VOIDED, 120_000),
                                     ("E2E-EXPIRE", EXPIRED, 1_200)):  # fmt: skip
        hold_id = hold_id_for(PAYER, e2e)
        holds[e2e] = hold_id
        console.commit(PAYER, hold(hold_id, PAYER, LINK, Asset.KHR, amount,
                                   expires_ms=now_ms() + lifetime_ms, poster=LINK,
                                   memo="foreign payment", reference=e2e))  # fmt: skip
    console.commit(LINK, post(holds["E2E-PAID"], PAID_ABROAD))
    console.commit(LINK, void(holds["E2E-VOID"]))
    time.sleep(1.5)  # the third hold's expiry passes; the next block's sweep returns it
    return console.commit(LINK, chain.transfer(LINK, SHOP, Asset.KHR, PAID_HERE))


def test_the_links_figures_from_the_store(console: RunningConsole) -> None:
    console.wait_for_height(cross_border_day(console))
    figures = links.links(console.services.engine, now_ms())
    assert [(b.account_id, b.participant, b.asset, b.available, b.held)
            for b in figures.balances] == [
        (LINK, "wing", "KHR", LIQUIDITY + PAID_ABROAD - PAID_HERE, 0)]  # fmt: skip
    today = figures.positions[0]
    assert (today.account_id, today.asset) == (LINK, "KHR")
    assert (today.paid_in, today.paid_out) == (LIQUIDITY + PAID_ABROAD, PAID_HERE)
    assert today.net == LIQUIDITY + PAID_ABROAD - PAID_HERE
    assert len(figures.positions) == 1  # everything happened today
    assert figures.corridors == [links.Corridor(LINK, "KHR", 1, PAID_ABROAD, 1, PAID_HERE)]
    assert [(f.kind, f.payer, f.amount, f.reference) for f in figures.failed] == [
        ("hold_expired", PAYER, EXPIRED, "E2E-EXPIRE"),
        ("hold_voided", PAYER, VOIDED, "E2E-VOID"),
    ]
    # A window that ends before today holds no position and no volume.
    before = links.links(console.services.engine, now_ms() - 8 * 86_400_000)
    assert before.positions == [] and before.corridors == []
    first = datetime.date(1970, 1, 1) + datetime.timedelta(days=phnom_penh_day(now_ms()) - 6)
    assert figures.since_day == first.isoformat()


def _row(text: str, row_id: str) -> str:
    start = text.index(f'id="{row_id}"')
    return text[start : text.index("</tr>", start)]


def test_the_links_page(console: RunningConsole) -> None:
    console.wait_for_height(cross_border_day(console))
    with httpx.Client(base_url=console.url, follow_redirects=False) as client:
        assert client.get("/links").headers["location"] == "/signin"
        signed = client.post("/signin", data={"name": "ada", "password": PASSWORD})
        assert signed.status_code == 303
        page = client.get("/links")
        assert page.status_code == 200
        text = page.text
        assert '<a href="/links" aria-current="page">Links</a>' in text
        liquidity = _row(text, f"liquidity-{LINK}-KHR")
        assert "517,563 KHR" in liquidity and ">wing<" in liquidity
        day = re.search(r'id="position-fx@wing-(\d{4}-\d{2}-\d{2})-KHR"', text)
        assert day is not None
        position = _row(text, f"position-{LINK}-{day.group(1)}-KHR")
        assert re.findall(r">([-\d,]+ KHR)<", position) == ["529,563 KHR", "12,000 KHR",
                                                          "517,563 KHR"]  # fmt: skip
        corridor = _row(text, f"corridor-{LINK}-KHR")
        assert re.findall(r'class="number">([^<]+)<', corridor) == [
            "1", "29,563 KHR", "1", "12,000 KHR"]  # fmt: skip
        failed = text[text.index('id="link-failed"') :]
        assert failed.count('class="failed-payment"') == 2
        assert "Refused (voided)" in failed and "Expired" in failed and "E2E-VOID" in failed
        client.cookies.set("lang", "km")
        khmer = client.get("/links").text
        assert "តំណទូទាត់ឆ្លងដែន" in khmer and "ផុតកំណត់" in khmer
