"""The daily reconciliation of the ledger with the core bank's books (issue 18).

For one Asia/Phnom_Penh day it compares:
- the ledger's side, from the gateway's projection: the posted holds of bank transfers, the
  `history` rows of the participant's settlement account whose reference is `bank:<id>`
  (in: wallet to bank; out: bank to wallet), by block time;
- the core bank's side: its journal of the day on its Bakong GL accounts (`CoreBanking.journal`).

Each transfer id is looked for on both sides (the bank's posting id is `<code>.<id>`,
`transfers.posting_id`). The report lists, never absorbing any of them:
- `matched`: the same transfer with the same amount, currency and direction on both sides;
- `missing_in_bank`: on the ledger, not in the bank's journal of the day;
- `missing_on_ledger`: in the bank's journal (a gateway posting, or a teller's manual entry on
  the GL), not on the ledger of the day;
- `amount_mismatch`: on both, with another amount, currency or direction;
- `reversed`: a bank posting and its compensating reversal (a hold that expired after the bank
  posted, `transfers` rule 5): they cancel out and the ledger must show nothing for it; if it
  does, that is a difference too (`reversed_on_ledger`).
Totals per currency and direction are given for both sides. A transfer whose two sides fall
either side of midnight shows as missing on each day: the report says so, an officer looks.

`reconcile_day` builds a report; `store_report` keeps one per day (`db.bank_reconciliations`);
the worker stores the previous day's once it is over and the projection has applied all of
it (a gateway restarted after midnight replays the stream first); officers read them at
`GET /v1/officer/bank-reconciliation?day=YYYY-MM-DD`; `bakong gateway reconcile` prints one.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import re
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.client import settlement_account
from bakong.corebank.books import day_bounds_ms, day_of
from bakong.errors import ConfigError
from bakong.gateway import db, sessions
from bakong.gateway.corebanking.adapter import CoreBankingError
from bakong.gateway.corebanking.transfers import REFERENCE_PREFIX, posting_id
from bakong.gateway.problems import GatewayProblem, json_response
from bakong.gateway.projection import projection_height
from bakong.gateway.service import GatewayServices, Worker
from bakong.gateway.wallets import bind

__all__ = [
    "reconcile_day",
    "reconcile_from_home",
    "routes",
    "stored_report",
    "store_report",
    "workers",
]

log = logging.getLogger(__name__)

_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def ledger_movements(engine: Engine, participant: str, day: str) -> dict[str, dict[str, Any]]:
    """The ledger's bank-transfer movements of `day`, by transfer id."""
    start, end = day_bounds_ms(day)
    table = db.history
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.reference, table.c.direction, table.c.asset, table.c.amount)
            .where(
                table.c.account_id == settlement_account(participant),
                table.c.reference.startswith(REFERENCE_PREFIX), table.c.result == "ok",
                table.c.time_ms >= start, table.c.time_ms < end,
            ).order_by(table.c.id).limit(limits.reconcile_entries_max)
        ).all()  # fmt: skip
    return {
        row.reference[len(REFERENCE_PREFIX) :]: {
            "direction": "to_bank" if row.direction == "in" else "from_bank",
            "asset": row.asset, "amount": int(row.amount),
        }  # fmt: skip
        for row in rows
    }


def _bank_side(entry: dict[str, Any]) -> dict[str, Any]:
    # Money from a wallet debits the GL (the bank's position at Bakong grew).
    direction = "to_bank" if entry["gl_side"] == "debit" else "from_bank"
    return {"direction": direction, "asset": entry["currency"], "amount": int(entry["amount"])}


def _totals(sides: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for side in sides:
        per = totals.setdefault(side["asset"], {"to_bank": 0, "from_bank": 0})
        per[side["direction"]] += side["amount"]
    return totals


def compare(participant: str, day: str, ledger: dict[str, dict[str, Any]],
            journal: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """The report of `day` from both sides (module docstring)."""
    reversals = {e["reverses"]: e for e in journal if e.get("reverses")}
    bank = {e["posting_id"]: e for e in journal if not e.get("reverses")}
    unreversed = [_bank_side(e) for pid, e in bank.items() if pid not in reversals]
    items: dict[str, list[Any]] = {key: [] for key in (
        "matched", "missing_in_bank", "missing_on_ledger", "amount_mismatch", "reversed",
        "reversed_on_ledger")}  # fmt: skip
    for transfer_id, side in sorted(ledger.items()):
        pid = posting_id(participant, transfer_id)
        entry = bank.pop(pid, None)
        if pid in reversals:
            items["reversed_on_ledger"].append({"transfer_id": transfer_id, "ledger": side})
            continue
        if entry is None:
            items["missing_in_bank"].append({"transfer_id": transfer_id, "ledger": side})
        elif _bank_side(entry) != side:
            items["amount_mismatch"].append(
                {"transfer_id": transfer_id, "ledger": side, "bank": _bank_side(entry)})
        else:
            items["matched"].append(transfer_id)
    for pid, entry in sorted(bank.items()):
        if pid in reversals:
            items["reversed"].append({"posting_id": pid, "bank": _bank_side(entry)})
        else:
            items["missing_on_ledger"].append({"posting_id": pid, "kind": entry["kind"],
                                               "bank": _bank_side(entry)})  # fmt: skip
    for original, entry in sorted(reversals.items()):
        if original not in {item["posting_id"] for item in items["reversed"]}:
            items["missing_on_ledger"].append({"posting_id": entry["posting_id"],
                                               "kind": "reversal", "bank": _bank_side(entry)})
    differences = sum(len(items[key]) for key in (
        "missing_in_bank", "missing_on_ledger", "amount_mismatch", "reversed_on_ledger"))
    return {
        "day": day, "bank": participant, "matched": len(items["matched"]),
        "differences": differences, "items": items,
        "totals": {"ledger": _totals(list(ledger.values())),
                   "bank": _totals(unreversed)},
    }  # fmt: skip


async def reconcile_day(services: GatewayServices, day: str) -> dict[str, Any]:
    """Rebuild the report of `day` from the projection and the core bank's journal (raises
    `CoreBankingError` when the core bank does not answer)."""
    bank = services.core_banking
    assert bank is not None
    ledger = await services.db(ledger_movements, services.engine, services.participant, day)
    journal = await bank.journal(day)
    report = compare(services.participant, day, ledger, journal)
    report["generated_ms"] = services.clock_ms()
    return report


def store_report(engine: Engine, report: dict[str, Any]) -> None:
    table = db.bank_reconciliations
    with engine.begin() as connection:
        connection.execute(table.delete().where(table.c.day == report["day"]))
        connection.execute(table.insert().values(
            day=report["day"], bank=report["bank"], matched=report["matched"],
            differences=report["differences"], report=msgspec.json.encode(report).decode(),
            created_ms=report["generated_ms"],
        ))  # fmt: skip


def stored_report(engine: Engine, day: str) -> dict[str, Any] | None:
    table = db.bank_reconciliations
    with engine.connect() as connection:
        raw = connection.execute(
            sa.select(table.c.report).where(table.c.day == day)
        ).scalar_one_or_none()
    return None if raw is None else dict(msgspec.json.decode(raw))


def previous_day(now_ms: int) -> str:
    today = datetime.date.fromisoformat(day_of(now_ms))
    return (today - datetime.timedelta(days=1)).isoformat()


async def day_applied(services: GatewayServices, day: str) -> bool:
    """Whether the projection has applied every block of `day`: the core's head is a block
    of a later time, and the projection has applied the core's head."""
    status = await services.core.status()
    applied = await services.db(projection_height, services.engine)
    return status.block_time_ms >= day_bounds_ms(day)[1] and applied >= status.height


async def run_reconciliation(services: GatewayServices) -> None:
    """Once a day is over and the projection has applied all of it, its report is stored
    (checked every `limits.reconcile_run_s`)."""
    while True:
        pause = limits.reconcile_run_s
        try:
            day = previous_day(services.clock_ms())
            stored = await services.db(stored_report, services.engine, day)
            if stored is None and not await day_applied(services, day):
                pause = limits.reconcile_retry_s  # the projection is catching up
            elif stored is None:
                report = await reconcile_day(services, day)
                await services.db(store_report, services.engine, report)
                if report["differences"]:
                    log.warning("bank reconciliation found differences",
                                extra={"day": day, "differences": report["differences"]})
        except Exception as error:  # the core bank or the database is down: next round
            log.warning("reconciliation: round failed", extra={"error": type(error).__name__})
        await asyncio.sleep(pause)


def workers(services: GatewayServices) -> list[Worker]:
    if services.core_banking is None:
        return []
    return [lambda: run_reconciliation(services)]


async def officer_report(services: GatewayServices, request: Request) -> Response:
    """The reconciliation of a day (`day=YYYY-MM-DD`, default yesterday): the stored report,
    or one built now (stored once the day is over)."""
    await sessions.authenticate(services, request, "officer")
    day = request.query_params.get("day") or previous_day(services.clock_ms())
    if not _DAY.match(day):
        raise GatewayProblem(400, "bad_request", "day is YYYY-MM-DD")
    report = await services.db(stored_report, services.engine, day)
    if report is None:
        if services.core_banking is None:
            raise GatewayProblem(404, "core_banking_not_configured", "no core bank is linked")
        try:
            report = await reconcile_day(services, day)
        except ValueError:
            raise GatewayProblem(400, "bad_request", "day is not a date") from None
        except CoreBankingError as error:
            log.warning("reconciliation failed", extra={"code": error.code})
            raise GatewayProblem(503, "core_banking_unavailable",
                                 "the bank's core system did not answer") from None
        if day < day_of(services.clock_ms()):
            await services.db(store_report, services.engine, report)
    return json_response(report)


def reconcile_from_home(path: Path, database: str | None, day: str | None) -> dict[str, Any]:
    """`bakong gateway reconcile`: the report of `day` (default yesterday) for the gateway in
    `path`, built and stored (the gateway need not run; its projection must have applied the
    day). `ConfigError` without `[core_banking]`; `CoreBankingError` if the bank is down."""
    from bakong.gateway.home import load_home
    from bakong.gateway.service import services_from_home

    home = load_home(path)
    if not home.config.core_banking.configured:
        raise ConfigError(f"{path}: the config has no [core_banking] table")
    if day is not None and not _DAY.match(day):
        raise ConfigError("--day is YYYY-MM-DD")
    engine = db.engine_for(database or home.database_url)
    db.migrate(engine)
    services = services_from_home(home, engine)

    async def run() -> dict[str, Any]:
        try:
            report = await reconcile_day(services, day or previous_day(services.clock_ms()))
            await services.db(store_report, engine, report)
            return report
        finally:
            await services.aclose()

    return asyncio.run(run())


def routes(services: GatewayServices) -> list[BaseRoute]:
    return [Route("/v1/officer/bank-reconciliation", bind(services, officer_report),
                  methods=["GET"])]  # fmt: skip
