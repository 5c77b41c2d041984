"""Liquidity in the console: each participant's settlement position per asset over the last days,
and the low-balance threshold a bank set for its settlement account, with its alerts.

Rules:
- A participant's position is its settlement account's balance (available and held) at the end
  of each Phnom Penh day. The latest is the store's balance; each earlier day's is the next
  day's minus what that day's movements did to the account (ok rows that moved money), so
  only the shown days' rows are read.
- A threshold is set per settlement account and asset by an operator or a supervisor on the
  bank's behalf (the audit log records who, and for which bank). `check_thresholds` compares
  each threshold with the account's AVAILABLE balance (what the bank can pay with): crossing
  below raises one alert (its id a hash of the account, asset and height: a pass repeated
  raises nothing new); rising back to the threshold or above re-arms it. The crossing state is
  saved with the alert in one database transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakong import limits
from bakong.console import audit_log, store
from bakong.console.follower import last_height
from bakong.console.movements import MONEY_MOVING_KINDS
from bakong.console.reports import MS_PER_DAY
from bakong.console.settlement import phnom_penh_date
from bakong.console.staff import Staff
from bakong.gateway.problems import GatewayProblem
from bakong.ledger.assets import ASSETS, Asset, format_amount
from bakong.ledger.identifiers import is_participant_code, settlement_account
from bakong.ledger.policy import phnom_penh_day

__all__ = [
    "LowBalanceAlert",
    "PositionRow",
    "Threshold",
    "check_thresholds",
    "low_balance_alerts",
    "positions",
    "set_threshold",
    "thresholds",
]

_MS_AHEAD_OF_UTC = 7 * 60 * 60_000
_MONEY = tuple(kind.value for kind in MONEY_MOVING_KINDS)
_SETTLEMENT = "settlement@%"


@dataclass(frozen=True)
class PositionRow:
    participant: str
    asset: str
    closing: list[int]  # minor units at the end of each day of `days`, oldest first


def _day_deltas(connection: Connection, first_day: int) -> dict[tuple[str, str, int], int]:
    """What each day's movements did to each settlement account, from `first_day` on."""
    moves = store.movements
    day = (moves.c.time_ms + _MS_AHEAD_OF_UTC) // MS_PER_DAY
    since = first_day * MS_PER_DAY - _MS_AHEAD_OF_UTC
    deltas: dict[tuple[str, str, int], int] = {}
    for account, sign in ((moves.c.target, 1), (moves.c.source, -1)):
        rows = connection.execute(
            sa.select(account, moves.c.asset, day, sa.func.sum(moves.c.amount))
            .where(
                moves.c.time_ms >= since, moves.c.result == "ok", moves.c.kind.in_(_MONEY),
                account.like(_SETTLEMENT),
            )
            .group_by(account, moves.c.asset, day)
        ).all()  # fmt: skip
        for name, asset, day_number, total in rows:
            key = (str(name), str(asset), int(day_number))
            deltas[key] = deltas.get(key, 0) + sign * int(total)
    return deltas


def positions(engine: Engine, now_ms: int) -> tuple[list[str], list[PositionRow]]:
    """The last `limits.console_position_days` days (ISO dates, oldest first) and every
    participant's settlement position per asset at the end of each."""
    today = phnom_penh_day(now_ms)
    days = list(range(today - limits.console_position_days + 1, today + 1))
    balances, people = store.balances, store.participants
    with engine.connect() as connection:
        codes = connection.execute(
            sa.select(people.c.code).where(people.c.central_bank == 0).order_by(people.c.code)
        ).scalars().all()  # fmt: skip
        current = {
            (str(account), str(asset)): int(amount)
            for account, asset, amount in connection.execute(
                sa.select(
                    balances.c.account_id, balances.c.asset,
                    balances.c.available + balances.c.held,
                ).where(balances.c.account_id.like(_SETTLEMENT))
            ).all()
        }  # fmt: skip
        deltas = _day_deltas(connection, days[0] + 1)
    rows = []
    for code in codes:
        account = settlement_account(code)
        for asset in ASSETS:
            closing = [current.get((account, asset.value), 0)]
            for day in reversed(days[1:]):  # the day before `day` closed before its movements
                closing.append(closing[-1] - deltas.get((account, asset.value, day), 0))
            rows.append(PositionRow(code, asset.value, list(reversed(closing))))
    return [phnom_penh_date(day * MS_PER_DAY) for day in days], rows


# -- thresholds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    account_id: str
    asset: str
    threshold: int
    below: bool
    set_by: str
    updated_ms: int


def set_threshold(
    engine: Engine, member: Staff, participant: str, asset: Asset, amount: int, now_ms: int
) -> None:
    """Set (or change) a settlement account's low-balance threshold for the bank."""
    if member.role not in ("operator", "supervisor"):
        raise GatewayProblem(403, "role_forbidden", "an auditor changes nothing")
    people, table = store.participants, store.liquidity_thresholds
    account = settlement_account(participant) if is_participant_code(participant) else ""
    with engine.begin() as connection:
        central = connection.execute(
            sa.select(people.c.central_bank).where(people.c.code == participant)
        ).scalar()
        if not account or central is None or central:
            raise GatewayProblem(400, "participant_invalid", "choose a participant")
        key = sa.and_(table.c.account_id == account, table.c.asset == asset.value)
        connection.execute(table.delete().where(key))
        connection.execute(
            table.insert().values(
                account_id=account, asset=asset.value, threshold=amount, below=0,
                set_by=member.id, updated_ms=now_ms,
            )
        )  # fmt: skip
        audit_log.record(
            connection, (member.id, member.name), "threshold_set",
            f"{account} alert below {format_amount(asset, amount)} (for {participant})",
            now_ms=now_ms,
        )  # fmt: skip


def thresholds(engine: Engine) -> list[Threshold]:
    table, people = store.liquidity_thresholds, store.staff
    query = (
        sa.select(table, people.c.name)
        .join(people, people.c.id == table.c.set_by)
        .order_by(table.c.account_id, table.c.asset)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        Threshold(r.account_id, r.asset, int(r.threshold), bool(r.below), r.name, r.updated_ms)
        for r in rows
    ]


@dataclass(frozen=True)
class LowBalanceAlert:
    alert_id: str
    account_id: str
    asset: str
    threshold: int
    balance: int
    height: int
    time_ms: int


def _alert_id(account: str, asset: str, height: int) -> str:
    return hashlib.sha256(f"{account}\x00{asset}\x00{height}".encode()).hexdigest()[:32]


def _check(connection: Connection, now_ms: int) -> int:
    table, balances = store.liquidity_thresholds, store.balances
    height = last_height(connection)
    rows = connection.execute(
        sa.select(table, sa.func.coalesce(balances.c.available, 0).label("available"))
        .outerjoin(
            balances,
            sa.and_(balances.c.account_id == table.c.account_id, balances.c.asset == table.c.asset),
        )
        # Locked until commit (PostgreSQL): two passes at once take turns, one alert a crossing.
        .with_for_update(of=table)
    ).all()
    raised = 0
    for row in rows:
        below = int(row.available) < int(row.threshold)
        if below == bool(row.below):
            continue
        key = sa.and_(table.c.account_id == row.account_id, table.c.asset == row.asset)
        connection.execute(table.update().where(key).values(below=int(below)))
        alert_id = _alert_id(row.account_id, row.asset, height)
        known = connection.execute(
            sa.select(sa.func.count()).where(store.liquidity_alerts.c.alert_id == alert_id)
        ).scalar_one()
        if below and not known:
            connection.execute(
                store.liquidity_alerts.insert().values(
                    alert_id=alert_id, account_id=row.account_id, asset=row.asset,
                    threshold=row.threshold, balance=row.available, height=height,
                    time_ms=now_ms,
                )
            )  # fmt: skip
            amount = format_amount(Asset(row.asset), int(row.available))
            audit_log.record(
                connection, None, "low_balance", f"{row.account_id} at {amount}", now_ms=now_ms
            )
            raised += 1
    return raised


def check_thresholds(engine: Engine, now_ms: int) -> int:
    """Compare every threshold with its account's available balance; alerts raised."""
    with engine.begin() as connection:
        return _check(connection, now_ms)


def low_balance_alerts(engine: Engine) -> list[LowBalanceAlert]:
    table = store.liquidity_alerts
    query = sa.select(table).order_by(table.c.time_ms.desc(), table.c.alert_id)
    with engine.connect() as connection:
        rows = connection.execute(query.limit(limits.console_page_rows_max)).all()
    return [
        LowBalanceAlert(
            r.alert_id, r.account_id, r.asset, int(r.threshold), int(r.balance), int(r.height),
            int(r.time_ms),
        )
        for r in rows
    ]  # fmt: skip
