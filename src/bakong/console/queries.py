"""What the console's pages show, read from its own store (never from the node).

Every function takes the engine and returns plain values; every list is bounded
(`limits.console_page_rows_max`, `limits.console_search_rows_max`). Figures are integers in
minor units; the pages format them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong import limits
from bakong.console import store
from bakong.console.follower import last_height
from bakong.ledger.assets import ASSETS
from bakong.ledger.identifiers import settlement_account

__all__ = [
    "AccountView",
    "Overview",
    "ParticipantRow",
    "Search",
    "TransactionRow",
    "account_view",
    "overview",
    "participant_rows",
    "search",
]


@dataclass(frozen=True)
class Overview:
    height: int
    participants: int
    accounts: int
    issued: dict[str, int]  # per asset: issued minus redeemed, ok only
    transactions_last_window: int  # committed in the last `limits.console_rate_window_ms`
    pending_proposals: int


def _issued(connection: sa.Connection) -> dict[str, int]:
    moves = store.movements
    signed = sa.case((moves.c.kind == "issue", moves.c.amount), else_=-moves.c.amount)
    rows = connection.execute(
        sa.select(moves.c.asset, sa.func.sum(signed))
        .where(moves.c.kind.in_(("issue", "redeem")), moves.c.result == "ok")
        .group_by(moves.c.asset)
    ).all()
    issued = {asset.value: 0 for asset in ASSETS}
    issued.update({str(asset): int(total) for asset, total in rows})
    return issued


def overview(engine: Engine, now_ms: int) -> Overview:
    """The figures of the overview page."""
    since = now_ms - limits.console_rate_window_ms
    count = sa.func.count()
    with engine.connect() as connection:
        height = last_height(connection)
        people = connection.execute(sa.select(count).select_from(store.participants)).scalar()
        accounts = connection.execute(sa.select(count).select_from(store.accounts)).scalar()
        recent = connection.execute(
            sa.select(count).where(store.transactions.c.time_ms > since)
        ).scalar()
        pending = connection.execute(
            sa.select(count).where(store.proposals.c.state == "pending")
        ).scalar()
        issued = _issued(connection)
    return Overview(height, people or 0, accounts or 0, issued, recent or 0, pending or 0)


@dataclass(frozen=True)
class ParticipantRow:
    code: str
    name: str
    status: str
    gateway_url: str
    central_bank: bool
    settlement: dict[str, int]  # available per asset


def participant_rows(engine: Engine) -> list[ParticipantRow]:
    """Every participant with its settlement account's available balance per asset."""
    people, balances = store.participants, store.balances
    with engine.connect() as connection:
        rows = connection.execute(sa.select(people).order_by(people.c.code)).all()
        money = connection.execute(
            sa.select(balances.c.account_id, balances.c.asset, balances.c.available).where(
                balances.c.account_id.like("settlement@%")
            )
        ).all()
    held = {(str(account), str(asset)): int(amount) for account, asset, amount in money}
    return [
        ParticipantRow(
            row.code, row.name, row.status, row.gateway_url, bool(row.central_bank),
            {a.value: held.get((settlement_account(row.code), a.value), 0) for a in ASSETS},
        )
        for row in rows
    ]  # fmt: skip


@dataclass(frozen=True)
class TransactionRow:
    tx_hash: str  # hex
    height: int
    creator: str
    commands: str
    result: str
    time_ms: int
    legs: list[tuple[str, str, str, int]] = field(default_factory=list)  # source, target, asset


@dataclass(frozen=True)
class AccountView:
    account_id: str
    participant: str
    kind: str
    status: str
    balances: dict[str, tuple[int, int]]  # asset -> (available, held)
    recent: list[TransactionRow]


def account_view(engine: Engine, account_id: str) -> AccountView | None:
    """One account as the store knows it, with its latest transactions; None if unknown."""
    accounts, balances = store.accounts, store.balances
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(accounts).where(accounts.c.account_id == account_id)
        ).first()
        if row is None:
            return None
        money = connection.execute(
            sa.select(balances.c.asset, balances.c.available, balances.c.held).where(
                balances.c.account_id == account_id
            )
        ).all()
    amounts = {a.value: (0, 0) for a in ASSETS}
    amounts.update({str(asset): (int(free), int(held)) for asset, free, held in money})
    recent = search(engine, Search(account=account_id), limits.console_page_rows_max // 4)
    return AccountView(row.account_id, row.participant, row.kind, row.status, amounts, recent)


class Search(msgspec.Struct, frozen=True, kw_only=True):
    """A transaction search: every field given narrows it (times in Unix ms, amounts minor)."""

    tx_hash: bytes | None = None
    account: str = ""
    participant: str = ""
    since_ms: int | None = None
    until_ms: int | None = None
    amount_min: int | None = None
    amount_max: int | None = None
    result: str = ""  # "ok", or a result code's name; "failed": anything but ok


def _movement_filter(query: Search) -> list[sa.ColumnElement[bool]]:
    moves = store.movements
    where: list[sa.ColumnElement[bool]] = []
    if query.account:
        where.append(sa.or_(moves.c.source == query.account, moves.c.target == query.account))
    if query.amount_min is not None:
        where.append(moves.c.amount >= query.amount_min)
    if query.amount_max is not None:
        where.append(moves.c.amount <= query.amount_max)
    return where


def search(
    engine: Engine, query: Search, rows_max: int = limits.console_search_rows_max
) -> list[TransactionRow]:
    """Committed transactions matching `query`, newest first, at most `rows_max`."""
    txs, moves = store.transactions, store.movements
    select = sa.select(txs).order_by(txs.c.height.desc(), txs.c.tx_index.desc()).limit(rows_max)
    if query.tx_hash is not None:
        select = select.where(txs.c.tx_hash == query.tx_hash)
    if query.since_ms is not None:
        select = select.where(txs.c.time_ms >= query.since_ms)
    if query.until_ms is not None:
        select = select.where(txs.c.time_ms < query.until_ms)
    if query.result == "failed":
        select = select.where(txs.c.result != "ok")
    elif query.result:
        select = select.where(txs.c.result == query.result)
    if query.participant:
        touched = sa.select(moves.c.tx_hash).where(
            sa.or_(
                moves.c.source_participant == query.participant,
                moves.c.target_participant == query.participant,
            )
        )
        select = select.where(
            sa.or_(txs.c.creator == query.participant, txs.c.tx_hash.in_(touched))
        )
    money_filter = _movement_filter(query)
    if money_filter:
        select = select.where(txs.c.tx_hash.in_(sa.select(moves.c.tx_hash).where(*money_filter)))
    with engine.connect() as connection:
        rows = connection.execute(select).all()
        hashes = [row.tx_hash for row in rows]
        legs = connection.execute(
            sa.select(
                moves.c.tx_hash, moves.c.source, moves.c.target, moves.c.asset, moves.c.amount
            )
            .where(moves.c.tx_hash.in_(hashes))
            .order_by(moves.c.command_index)
        ).all()
    by_hash: dict[bytes, list[tuple[str, str, str, int]]] = {}
    for tx_hash, source, target, asset, amount in legs:
        by_hash.setdefault(bytes(tx_hash), []).append((source, target, asset, int(amount)))
    return [
        TransactionRow(
            bytes(row.tx_hash).hex(), row.height, row.creator, row.commands, row.result,
            row.time_ms, by_hash.get(bytes(row.tx_hash), []),
        )
        for row in rows
    ]  # fmt: skip
