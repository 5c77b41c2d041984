"""The daily settlement report of a link: per corridor, per day (Asia/Phnom_Penh).

For each corridor it reports, from the link's store (the ledger as its stream showed it) and
the switch's statement of the link's nostro account (`GET /iso/statement/{day}`):
- the riel side: what the corridor's ledger account took in for payments abroad (posted
  holds), paid out to KHQR merchants (transfers), and other movements (liquidity);
- the foreign side: the statement's opening, funding, credits, debits and closing (the
  switch debits the nostro for each payment the link sent, credits it for each KHQR paid from
  abroad and each recall; `funding` is the nostro's top-ups, kept out of `credits`);
- the net position in both currencies (riel the ledger account gained, foreign currency the
  nostro gained: they move in opposite directions), and the FX applied each way (the riel per major
  unit the day's payments averaged, spread included);
- the reconciliation: every end-to-end id with a movement on either side is matched, and
  each difference is listed (`missing_at_switch`, `missing_on_ledger`, `amount_differs`,
  `statement_unavailable`), never netted away. `reconciled` is true only with none.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong.crossborder import store
from bakong.crossborder.messages import Statement
from bakong.crossborder.quote import rate_text
from bakong.crossborder.service import LinkServices
from bakong.crossborder.switch import SwitchRefused
from bakong.gateway.merchants import day_bounds_ms

__all__ = ["day_window", "ledger_side", "reconcile", "settlement"]


def day_window(day: str) -> tuple[int, int]:
    """The [start, end) instants of a Phnom Penh day `YYYY-MM-DD`; ValueError if not a day."""
    return day_bounds_ms(datetime.date.fromisoformat(day))


def ledger_side(engine: Engine, account: str, corridor: str, day: str) -> dict[str, Any]:
    """The day's movements of the corridor's account, each tied to its end-to-end id."""
    start, end = day_window(day)
    e, p, q, i = store.entries, store.payments, store.quotes, store.inbound
    with engine.connect() as connection:
        rows = connection.execute(sa.select(e).where(
            e.c.account_id == account, e.c.time_ms >= start, e.c.time_ms < end)).all()  # fmt: skip
        outbound = {row.end_to_end_id: row for row in connection.execute(
            sa.select(p.c.end_to_end_id, p.c.quote_id, q.c.foreign_amount, q.c.khr_amount)
            .select_from(p.join(q, p.c.quote_id == q.c.quote_id))
            .where(p.c.corridor == corridor)).all()}  # fmt: skip
        by_quote = {row.quote_id: row for row in outbound.values()}
        inbound = {row.end_to_end_id: row for row in connection.execute(
            sa.select(i).where(i.c.corridor == corridor, i.c.state == "completed")).all()}
    moves: dict[str, dict[str, int]] = {}
    totals: defaultdict[str, int] = defaultdict(int)
    for row in rows:
        paid = outbound.get(row.reference) or by_quote.get(row.reference)
        if row.kind == "post" and paid is not None:
            totals["outbound_khr"] += row.amount
            totals["outbound_foreign"] += int(paid.foreign_amount)
            moves[paid.end_to_end_id] = {"khr": int(row.amount),
                                         "foreign": -int(paid.foreign_amount)}  # fmt: skip
        elif row.kind == "transfer" and row.external_ref in inbound and row.amount < 0:
            found = inbound[row.external_ref]
            totals["inbound_khr"] += -row.amount
            totals["inbound_foreign"] += int(found.foreign_amount)
            moves[row.external_ref] = {"khr": int(row.amount),
                                       "foreign": int(found.foreign_amount)}  # fmt: skip
        else:
            totals["other_khr"] += row.amount
    return {"totals": dict(totals), "moves": moves}


def reconcile(moves: dict[str, dict[str, int]],
              statement: Statement | None) -> list[dict[str, Any]]:  # fmt: skip
    """Every difference between the ledger's movements and the switch's statement."""
    if statement is None:
        return [{"kind": "statement_unavailable"}]
    at_switch: dict[str, int] = defaultdict(int)
    for entry in statement.entries:
        if entry.kind == "funding":  # the link's own top-ups of its nostro: no payment
            continue
        at_switch[entry.end_to_end_id] += entry.amount if entry.side == "credit" else -entry.amount
    differences = []
    for e2e in sorted(set(moves) | set(at_switch)):
        ledger = moves.get(e2e, {}).get("foreign", 0)
        switch = at_switch.get(e2e, 0)
        if ledger == switch:
            continue
        kind = ("missing_at_switch" if switch == 0 else "missing_on_ledger" if ledger == 0
                else "amount_differs")  # fmt: skip
        differences.append({"end_to_end_id": e2e, "kind": kind, "ledger_foreign": ledger,
                            "switch_foreign": switch})  # fmt: skip
    return differences


def _fx(currency: str, exponent: int, khr: int, foreign: int) -> str | None:
    return None if foreign == 0 else rate_text(currency, exponent, Fraction(khr, foreign))


async def settlement(services: LinkServices, day: str) -> list[dict[str, Any]]:
    """The report of every corridor for `day`."""
    day_window(day)
    reports = []
    for name, corridor in sorted(services.config.corridors.items()):
        account = services.account(name)
        side = await services.db(ledger_side, services.engine, account, name, day)
        try:
            statement: Statement | None = await services.switches[name].statement(day)
        except SwitchRefused:
            statement = None
        totals = side["totals"]
        out_khr, in_khr = totals.get("outbound_khr", 0), totals.get("inbound_khr", 0)
        out_foreign = totals.get("outbound_foreign", 0)
        in_foreign = totals.get("inbound_foreign", 0)
        differences = reconcile(side["moves"], statement)
        switch = None if statement is None else {
            "opening": statement.opening, "closing": statement.closing,
            # Top-ups of the nostro are liquidity, not payments: apart, so that `credits`
            # nets against the riel paid out to KHQR merchants.
            "funding": sum(x.amount for x in statement.entries if x.kind == "funding"),
            "credits": sum(x.amount for x in statement.entries
                           if x.side == "credit" and x.kind != "funding"),
            "debits": sum(x.amount for x in statement.entries if x.side == "debit"),
        }  # fmt: skip
        reports.append({
            "corridor": name, "day": day, "account": account, "currency": corridor.currency,
            "ledger": {"outbound_khr": out_khr, "inbound_khr": in_khr,
                       "other_khr": totals.get("other_khr", 0)},
            "switch": switch,
            "net": {"khr": out_khr - in_khr, "foreign": in_foreign - out_foreign},
            "fx": {"outbound": _fx(corridor.currency, corridor.exponent, out_khr, out_foreign),
                   "inbound": _fx(corridor.currency, corridor.exponent, in_khr, in_foreign)},
            "differences": differences, "reconciled": not differences,
        })  # fmt: skip
    return reports
