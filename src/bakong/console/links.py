"""The cross-border links as the console's store shows them (issue 20; page `/links`).

A link participant holds `link` accounts on the ledger, one per corridor (docs/crossborder.md).
For each such account this reads, from the followed chain only:
- its liquidity: available and held per asset (`balances`, as of the last applied block);
- its positions per Phnom Penh day over the last `limits.console_links_days` days: what came
  in and what went out by ok money-moving rows (`movements.MONEY_MOVING_KINDS`), and the net;
- its volumes as a corridor over the same days: outbound, the wallets' holds posted to it
  (a Cambodian paid abroad), and inbound, its transfers to another participant's account (a
  visitor paid a KHQR merchant); moves between the link's own accounts are liquidity, neither;
- its failed payments: holds toward it that were voided or expired (nothing moved), newest
  first, at most `limits.console_links_failed_max`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakong import limits
from bakong.console import store
from bakong.console.movements import MONEY_MOVING_KINDS, MovementKind
from bakong.ledger.policy import phnom_penh_day

__all__ = [
    "MS_PER_DAY",
    "PHNOM_PENH_UTC_HOURS",
    "Corridor",
    "DayPosition",
    "FailedPayment",
    "LinkBalance",
    "Links",
    "links",
]

MS_PER_DAY = 86_400_000
#: Cambodia is UTC+7 all year (`ledger.policy.phnom_penh_day`): days are grouped in SQL by it.
PHNOM_PENH_UTC_HOURS = 7
_MS_PER_HOUR = 3_600_000
_EPOCH = datetime.date(1970, 1, 1)
_MOVING = tuple(kind.value for kind in MONEY_MOVING_KINDS)
_FAILED = (MovementKind.hold_voided.value, MovementKind.hold_expired.value)


@dataclass(frozen=True)
class LinkBalance:
    account_id: str
    participant: str
    status: str
    asset: str
    available: int
    held: int


@dataclass(frozen=True)
class DayPosition:
    account_id: str
    day: str  # ISO date in Phnom Penh
    asset: str
    paid_in: int
    paid_out: int

    @property
    def net(self) -> int:
        return self.paid_in - self.paid_out


@dataclass(frozen=True)
class Corridor:
    account_id: str
    asset: str
    outbound_count: int
    outbound_value: int
    inbound_count: int
    inbound_value: int


@dataclass(frozen=True)
class FailedPayment:
    time_ms: int
    account_id: str  # the link's account the hold was toward
    payer: str  # the hold's source account
    asset: str
    amount: int
    kind: str  # hold_voided | hold_expired
    reference: str  # the end-to-end id


@dataclass(frozen=True)
class Links:
    since_day: str
    balances: list[LinkBalance]
    positions: list[DayPosition]
    corridors: list[Corridor]
    failed: list[FailedPayment]

    @property
    def accounts(self) -> list[str]:
        return sorted({balance.account_id for balance in self.balances})


def _iso_day(day: int) -> str:
    return (_EPOCH + datetime.timedelta(days=day)).isoformat()


def _balances(connection: Connection) -> list[LinkBalance]:
    accounts, balances = store.accounts, store.balances
    rows = connection.execute(
        sa.select(accounts.c.account_id, accounts.c.participant, accounts.c.status,
                  balances.c.asset, balances.c.available, balances.c.held)
        .select_from(accounts.outerjoin(balances, balances.c.account_id == accounts.c.account_id))
        .where(accounts.c.kind == "link")
        .order_by(accounts.c.account_id, balances.c.asset)
    ).all()  # fmt: skip
    return [
        LinkBalance(row.account_id, row.participant, row.status, row.asset or "",
                    int(row.available or 0), int(row.held or 0))
        for row in rows
    ]  # fmt: skip


def _in_window(window: tuple[int, int]) -> sa.ColumnElement[bool]:
    moves = store.movements
    return sa.and_(moves.c.result == "ok", moves.c.time_ms >= window[0],
                   moves.c.time_ms < window[1])  # fmt: skip


def _positions(connection: Connection, link_ids: list[str], window: tuple[int, int],
               ) -> list[DayPosition]:  # fmt: skip
    moves = store.movements
    shifted = moves.c.time_ms + PHNOM_PENH_UTC_HOURS * _MS_PER_HOUR
    day_start = (shifted - shifted % MS_PER_DAY).label("day_start")
    moving = sa.and_(_in_window(window), moves.c.kind.in_(_MOVING))
    figures: dict[tuple[str, int, str], list[int]] = {}
    for side, column in ((0, moves.c.target), (1, moves.c.source)):
        rows = connection.execute(
            sa.select(column.label("account_id"), day_start, moves.c.asset,
                      sa.func.sum(moves.c.amount))
            .where(moving, column.in_(link_ids))
            .group_by(column, day_start, moves.c.asset)
        ).all()  # fmt: skip
        for account_id, start, asset, total in rows:
            key = (str(account_id), int(start) // MS_PER_DAY, str(asset))
            figures.setdefault(key, [0, 0])[side] += int(total)
    return [
        DayPosition(account_id, _iso_day(day), asset, paid_in, paid_out)
        for (account_id, day, asset), (paid_in, paid_out) in sorted(
            figures.items(), key=lambda item: (item[0][0], -item[0][1], item[0][2])
        )
    ]


def _corridors(connection: Connection, link_ids: list[str], window: tuple[int, int],
               ) -> list[Corridor]:  # fmt: skip
    moves = store.movements
    recent = _in_window(window)
    outbound = connection.execute(
        sa.select(moves.c.target, moves.c.asset, sa.func.count(), sa.func.sum(moves.c.amount))
        .where(recent, moves.c.kind == MovementKind.hold_posted.value,
               moves.c.target.in_(link_ids))
        .group_by(moves.c.target, moves.c.asset)
    ).all()  # fmt: skip
    inbound = connection.execute(
        sa.select(moves.c.source, moves.c.asset, sa.func.count(), sa.func.sum(moves.c.amount))
        .where(recent, moves.c.kind == MovementKind.transfer.value,
               moves.c.source.in_(link_ids),
               moves.c.target_participant != moves.c.source_participant)
        .group_by(moves.c.source, moves.c.asset)
    ).all()  # fmt: skip
    figures: dict[tuple[str, str], list[int]] = {}
    for offset, rows in ((0, outbound), (2, inbound)):
        for account_id, asset, count, total in rows:
            found = figures.setdefault((str(account_id), str(asset)), [0, 0, 0, 0])
            found[offset], found[offset + 1] = int(count), int(total)
    return [Corridor(account_id, asset, *values)
            for (account_id, asset), values in sorted(figures.items())]  # fmt: skip


def _failed(connection: Connection, link_ids: list[str]) -> list[FailedPayment]:
    moves = store.movements
    rows = connection.execute(
        sa.select(moves.c.time_ms, moves.c.target, moves.c.source, moves.c.asset,
                  moves.c.amount, moves.c.kind, moves.c.reference)
        .where(moves.c.result == "ok", moves.c.kind.in_(_FAILED), moves.c.target.in_(link_ids))
        .order_by(moves.c.id.desc())
        .limit(limits.console_links_failed_max)
    ).all()  # fmt: skip
    return [FailedPayment(int(row.time_ms), row.target, row.source, row.asset, int(row.amount),
                          row.kind, row.reference) for row in rows]  # fmt: skip


def links(engine: Engine, now_ms: int) -> Links:
    """Every link account's liquidity, positions, volumes and failures (module rules), over
    the Phnom Penh days up to the one of `now_ms`."""
    last_day = phnom_penh_day(now_ms)
    first_day = last_day - limits.console_links_days + 1
    window = (first_day * MS_PER_DAY - PHNOM_PENH_UTC_HOURS * _MS_PER_HOUR,
              (last_day + 1) * MS_PER_DAY - PHNOM_PENH_UTC_HOURS * _MS_PER_HOUR)  # fmt: skip
    with engine.connect() as connection:
        balances = _balances(connection)
        link_ids = sorted({balance.account_id for balance in balances})
        return Links(
            since_day=_iso_day(first_day),
            balances=balances,
            positions=_positions(connection, link_ids, window),
            corridors=_corridors(connection, link_ids, window),
            failed=_failed(connection, link_ids),
        )
