"""The settlement report of one Phnom Penh day, read from the console's store.

`console.settlement` computes positions from movements (a pure function); this module feeds it
from the store and adds what only the store knows. Rules:
- A day is `YYYY-MM-DD` in Asia/Phnom_Penh (UTC+7, no daylight saving): its movements are the
  stored rows with a block time in `[start, start + 1 day)`.
- The day opens with each participant's holdings before it, summed in the database from the
  earlier rows that count (the same rows `settlement` counts: ok money movements between
  participants, issues and redemptions), so the report reads one day's rows, not the chain.
- Everything is read in one database snapshot (REPEATABLE READ on PostgreSQL; SQLite's read
  transaction), so the movements and the balances agree while the follower writes.
- When no block after the day is stored yet, the day's closing figures must equal the ledger's
  holdings (each participant's balances, available and held): `ledger_problems` lists where
  they do not; it is None for an older day, which the current balances cannot check.
- Exports: CSV, camt.053.001.08 XML (`settlement.camt053`) and JSON (integers in minor units).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakong.console import store
from bakong.console.movements import MONEY_MOVING_KINDS, Movement, MovementKind
from bakong.console.settlement import (
    Position,
    SettlementDay,
    check_positions,
    participant_holdings,
    phnom_penh_date,
    reconcile,
    settlement_days,
)
from bakong.gateway.problems import GatewayProblem
from bakong.ledger.assets import Asset

__all__ = [
    "MS_PER_DAY",
    "SettlementReport",
    "day_bounds",
    "report_json",
    "settlement_report",
    "stored_movement",
    "today",
]

MS_PER_DAY = 24 * 60 * 60_000
_PHNOM_PENH = datetime.timezone(datetime.timedelta(hours=7))
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONEY = tuple(kind.value for kind in MONEY_MOVING_KINDS)


@dataclass(frozen=True)
class SettlementReport:
    day: SettlementDay
    last_height: int
    ledger_problems: list[str] | None  # None: the day is not the ledger's latest


def today(now_ms: int) -> str:
    """The Phnom Penh date of `now_ms`."""
    return phnom_penh_date(now_ms)


def day_bounds(text: str) -> tuple[int, int]:
    """The Unix ms bounds `[start, end)` of a Phnom Penh day; 400 `day_invalid` otherwise."""
    refusal = GatewayProblem(400, "day_invalid", "a day is written YYYY-MM-DD")
    if not _DAY.match(text):
        raise refusal
    try:
        start = datetime.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=_PHNOM_PENH)
    except ValueError:
        raise refusal from None
    start_ms = int(start.timestamp() * 1000)
    return start_ms, start_ms + MS_PER_DAY


def stored_movement(row: sa.Row[tuple[object, ...]]) -> Movement:
    """A `movements` row as the `Movement` it was stored from."""
    mapping = row._mapping
    return Movement(
        height=int(mapping["height"]), time_ms=int(mapping["time_ms"]),
        tx_index=int(mapping["tx_index"]), tx_hash=bytes(mapping["tx_hash"]),
        command_index=int(mapping["command_index"]), kind=MovementKind(mapping["kind"]),
        source=str(mapping["source"]), target=str(mapping["target"]),
        source_participant=str(mapping["source_participant"]),
        target_participant=str(mapping["target_participant"]), asset=Asset(mapping["asset"]),
        amount=int(mapping["amount"]), result=str(mapping["result"]),
        reference=str(mapping["reference"]), hold_id=bytes(mapping["hold_id"]),
    )  # fmt: skip


def _opening(connection: Connection, before_ms: int) -> dict[tuple[str, Asset], int]:
    """Each participant's holdings before `before_ms`, from the rows `settlement` counts."""
    moves = store.movements
    earlier = sa.and_(moves.c.result == "ok", moves.c.time_ms < before_ms)
    interbank = sa.and_(
        moves.c.kind.in_(("transfer", "hold_posted")),
        moves.c.source_participant != moves.c.target_participant,
    )
    sides = (
        (moves.c.target_participant, sa.or_(interbank, moves.c.kind == "issue"), 1),
        (moves.c.source_participant, sa.or_(interbank, moves.c.kind == "redeem"), -1),
    )
    holdings: dict[tuple[str, Asset], int] = {}
    for participant, which, sign in sides:
        rows = connection.execute(
            sa.select(participant, moves.c.asset, sa.func.sum(moves.c.amount))
            .where(earlier, which)
            .group_by(participant, moves.c.asset)
        ).all()
        for code, asset, total in rows:
            key = (str(code), Asset(asset))
            holdings[key] = holdings.get(key, 0) + sign * int(total)
    return holdings


def _quiet_day(day: str, opening: dict[tuple[str, Asset], int]) -> SettlementDay:
    """A day on which nothing counted: every known position carries over unchanged."""
    ordered = sorted(opening.items(), key=lambda item: (item[0][0], item[0][1].index))
    positions = [
        Position(
            day=day, participant=participant, asset=asset, opening=amount, sent=0, received=0,
            issued=0, redeemed=0, entries=0,
        )
        for (participant, asset), amount in ordered
    ]  # fmt: skip
    return SettlementDay(
        day=day, positions=tuple(positions), movements=(),
        imbalances=check_positions(day, positions),
    )  # fmt: skip


def _ledger_holdings(connection: Connection) -> dict[tuple[str, Asset], int]:
    balances = store.balances
    rows = connection.execute(
        sa.select(balances.c.account_id, balances.c.asset, balances.c.available + balances.c.held)
    ).all()
    return participant_holdings((str(a), Asset(asset), int(amount)) for a, asset, amount in rows)


def _read(connection: Connection, day: str, start_ms: int, end_ms: int) -> SettlementReport:
    moves = store.movements
    opening = _opening(connection, start_ms)
    rows = connection.execute(
        sa.select(moves)
        .where(
            moves.c.time_ms >= start_ms, moves.c.time_ms < end_ms, moves.c.result == "ok",
            moves.c.kind.in_(_MONEY),
        )
        .order_by(moves.c.height, moves.c.tx_index, moves.c.command_index)
    ).all()  # fmt: skip
    found = [
        d for d in settlement_days([stored_movement(r) for r in rows], opening) if d.day == day
    ]
    report_day = found[0] if found else _quiet_day(day, opening)
    height = int(
        connection.execute(
            sa.select(sa.func.coalesce(sa.func.max(store.blocks.c.height), 0))
        ).scalar_one()
    )
    later = connection.execute(
        sa.select(sa.func.count()).where(store.blocks.c.time_ms >= end_ms)
    ).scalar_one()
    problems = None if later else reconcile(report_day, _ledger_holdings(connection))
    return SettlementReport(report_day, height, problems)


def settlement_report(engine: Engine, day: str) -> SettlementReport:
    """The report of `day` (`YYYY-MM-DD`, Phnom Penh) from the store (module rules)."""
    start_ms, end_ms = day_bounds(day)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            return _read(connection, day, start_ms, end_ms)


class _JsonPosition(msgspec.Struct, frozen=True):
    participant: str
    asset: str
    opening: int
    gross_sent: int
    gross_received: int
    net: int
    issued: int
    redeemed: int
    closing: int
    entries: int


class _JsonReport(msgspec.Struct, frozen=True):
    day: str
    balanced: bool
    net_sums: dict[str, int]
    reconciled: bool | None
    ledger_problems: list[str]
    positions: list[_JsonPosition]


def report_json(report: SettlementReport) -> bytes:
    """The report as JSON: amounts in minor units, each asset's sum of net positions."""
    day = report.day
    net_sums: dict[str, int] = {}
    for position in day.positions:
        net_sums[position.asset.value] = net_sums.get(position.asset.value, 0) + position.net
    body = _JsonReport(
        day=day.day, balanced=day.balanced, net_sums=net_sums,
        reconciled=None if report.ledger_problems is None else not report.ledger_problems,
        ledger_problems=report.ledger_problems or [],
        positions=[
            _JsonPosition(
                p.participant, p.asset.value, p.opening, p.sent, p.received, p.net, p.issued,
                p.redeemed, p.closing, p.entries,
            )
            for p in day.positions
        ],
    )  # fmt: skip
    return msgspec.json.encode(body)
