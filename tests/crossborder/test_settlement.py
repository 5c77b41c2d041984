"""The daily settlement report: net positions in both currencies, the FX applied, and every
difference between the link's ledger account and the switch's statement."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from bakong.crossborder.messages import Statement, StatementEntry
from bakong.crossborder.settlement import day_window, reconcile, settlement
from tests.crossborder.conftest import RunningLink, clock_ms
from tests.crossborder.fakeswitch import FakeSwitch
from tests.crossborder.test_inbound import fund_link, merchant_qr, pacs008, send
from tests.crossborder.test_outbound import pay, quote


async def report_of(link: RunningLink, day: str) -> list[dict[str, Any]]:
    services = link.offline_services()
    try:
        return await settlement(services, day)
    finally:
        await services.aclose()


def test_a_day_is_a_phnom_penh_day() -> None:
    start, end = day_window("2026-12-02")
    assert end - start == 86_400_000
    assert datetime.datetime.fromtimestamp(start / 1000, datetime.UTC).isoformat() == (
        "2026-12-01T17:00:00+00:00")


def _statement(*entries: tuple[str, str, str, int]) -> Statement:
    rows = [StatementEntry(i + 1, e2e, kind, side, amount, 1)  # type: ignore[arg-type]
            for i, (e2e, kind, side, amount) in enumerate(entries)]
    return Statement("2026-12-02", "sw", "nostro", "THB", 0, 0, rows)


def test_reconciliation_lists_every_difference() -> None:
    moves = {"a": {"khr": 100, "foreign": -50}, "b": {"khr": -30, "foreign": 20},
             "c": {"khr": 10, "foreign": -5}}
    statement = _statement(("a", "pacs008", "debit", 50), ("b", "pacs008", "credit", 21),
                           ("d", "pacs008", "debit", 7), ("x", "funding", "credit", 999),
                           ("r", "pacs008", "debit", 9), ("r", "recall", "credit", 9))
    differences = reconcile(moves, statement)
    assert [(d["end_to_end_id"], d["kind"]) for d in differences] == [
        ("b", "amount_differs"), ("c", "missing_at_switch"), ("d", "missing_on_ledger")]
    assert reconcile(moves, None) == [{"kind": "statement_unavailable"}]
    assert reconcile({"a": {"khr": 100, "foreign": -50}},
                     _statement(("a", "pacs008", "debit", 50))) == []


def test_the_days_report_nets_both_directions_and_reconciles(
    link: RunningLink, switch: tuple[FakeSwitch, str]
) -> None:
    fake, _ = switch
    found = quote(link)
    pay(link, found, "set-out", link.place_hold(found, "set-out"))
    link.wait_until(lambda: link.state("set-out") == "completed")
    fund_link(link, 1_000_000)
    code = merchant_qr(None)
    send(link, "POST", "/iso/pacs008", pacs008("set-in", "THB", 5_000, code.md5))
    # The fake switch saw only the outbound payment; the inbound one is its own entry:
    fake._entry("set-in", "pacs008", "credit", 5_000)
    day = datetime.datetime.fromtimestamp(clock_ms() / 1000, datetime.timezone(
        datetime.timedelta(hours=7))).date().isoformat()
    [report] = asyncio.run(report_of(link, day))
    assert report["ledger"]["outbound_khr"] == 11_944
    assert report["ledger"]["inbound_khr"] == 5_853  # 50 THB at 118.25 less 1 %
    assert report["net"] == {"khr": 11_944 - 5_853, "foreign": 5_000 - 10_000}
    assert report["fx"]["outbound"] == "1 THB = 119.44 KHR"
    assert report["differences"] == [] and report["reconciled"]
    fake._entry("stray", "pacs008", "debit", 77)  # the switch books what the link never sent
    [report] = asyncio.run(report_of(link, day))
    assert report["differences"] == [{"end_to_end_id": "stray", "kind": "missing_on_ledger",
                                      "ledger_foreign": 0, "switch_foreign": -77}]
