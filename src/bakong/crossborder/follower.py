"""The link's view of the ledger: its participant's verified stream, applied exactly once.

The link follows its participant's commit stream (`Client.follow`: every commit and Merkle
proof verified) and applies each block in ONE database transaction that also moves
`meta.last_height` from `height - 1` to `height` (a compare-and-set) and saves the trust
state, so after a crash it resumes at the next height with nothing missed or counted twice.
It writes, for the link's accounts (`<corridor>@<participant>`) only:
- `holds`: every hold placed toward a link account, and its end (posted, voided, or expired
  by the ledger's sweep at the start of a block whose time is past its expiry);
- `entries`: every movement of a link account of an ok transaction (transfers in and out,
  posted holds, issues, redeems), signed, with the block's time;
- `inbound`: a payout this link submitted is `completed` or `failed` as its block says.
A stream that fails is reopened from the last applied height after a backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import Any, cast

import httpx
import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakong import limits
from bakong.client import ApiError, Client, TrustState, VerificationError, VerifiedBlock
from bakong.client.responses import result_name
from bakong.crossborder import store
from bakong.ledger.commands import Issue, PlaceHold, PostHold, Redeem, Transfer, VoidHold
from bakong.ledger.genesis import GenesisFile
from bakong.ledger.identifiers import treasury_account
from bakong.ledger.result import ResultCode

__all__ = ["apply_block", "last_height", "load_trust", "run_follower"]

log = logging.getLogger(__name__)

LAST_HEIGHT, TRUST = "last_height", "trust"


def last_height(connection: Connection) -> int:
    value = connection.execute(
        sa.select(store.meta.c.value).where(store.meta.c.key == LAST_HEIGHT)
    ).scalar_one_or_none()
    return 0 if value is None else int(value)


def load_trust(engine: Engine, genesis: GenesisFile) -> TrustState:
    """The trust saved with the last applied block, or the genesis' before block 1."""
    with engine.connect() as connection:
        raw = connection.execute(
            sa.select(store.meta.c.value).where(store.meta.c.key == TRUST)
        ).scalar_one_or_none()
    if raw is None:
        return TrustState.from_genesis(genesis)
    return msgspec.json.decode(raw, type=TrustState)


def _advance(connection: Connection, height: int, trust: TrustState) -> bool:
    meta = store.meta
    encoded = msgspec.json.encode(trust).decode()
    if height == 1:
        if connection.execute(sa.select(meta.c.key).where(meta.c.key == LAST_HEIGHT)).first():
            return False
        connection.execute(meta.insert(), [{"key": LAST_HEIGHT, "value": "1"},
                                           {"key": TRUST, "value": encoded}])  # fmt: skip
        return True
    moved = connection.execute(
        meta.update()
        .where(meta.c.key == LAST_HEIGHT, meta.c.value == str(height - 1))
        .values(value=str(height))
    )
    if moved.rowcount != 1:
        return False
    connection.execute(meta.update().where(meta.c.key == TRUST).values(value=encoded))
    return True


def _entry(block: VerifiedBlock, item_hash: bytes, index: int, account: str, counterparty: str,
           kind: str, asset: str, amount: int, refs: tuple[str, str]) -> dict[str, object]:
    return {
        "height": block.height, "tx_hash": item_hash, "command_index": index,
        "account_id": account, "counterparty": counterparty, "kind": kind, "asset": asset,
        "amount": amount, "reference": refs[0], "external_ref": refs[1],
        "time_ms": block.header.time_ms,
    }  # fmt: skip


def _finish_hold(connection: Connection, hold_id: bytes, status: str, time_ms: int) -> Any:
    table = store.holds
    row = connection.execute(sa.select(table).where(table.c.hold_id == hold_id)).first()
    if row is not None:
        connection.execute(table.update().where(table.c.hold_id == hold_id)
                           .values(status=status, finished_ms=time_ms))  # fmt: skip
    return row


def _command(connection: Connection, block: VerifiedBlock, item_hash: bytes, index: int,
             command: object, ours: Callable[[str], bool], treasury: str,
             rows: list[dict[str, object]]) -> None:  # fmt: skip
    time_ms = block.header.time_ms
    if isinstance(command, Transfer):
        refs = (command.reference, command.external_ref)
        for account, other, sign in ((command.source, command.target, -1),
                                     (command.target, command.source, 1)):  # fmt: skip
            if ours(account):
                rows.append(_entry(block, item_hash, index, account, other, "transfer",
                                   command.asset.value, sign * command.amount, refs))  # fmt: skip
    elif isinstance(command, Issue | Redeem) and ours(command.account):
        kind, sign = ("issue", 1) if isinstance(command, Issue) else ("redeem", -1)
        rows.append(_entry(block, item_hash, index, command.account, treasury, kind,
                           command.asset.value, sign * command.amount,
                           (command.reserve_ref, "")))  # fmt: skip
    elif isinstance(command, PlaceHold) and ours(command.target):
        connection.execute(store.holds.insert().values(
            hold_id=command.hold_id, source=command.source, target=command.target,
            poster=command.poster, asset=command.asset.value, amount=command.amount,
            expires_ms=command.expires_ms, reference=command.reference, status="pending",
            placed_ms=time_ms))  # fmt: skip
    elif isinstance(command, PostHold):
        row = _finish_hold(connection, command.hold_id, "posted", time_ms)
        if row is not None:
            rows.append(_entry(block, item_hash, index, row.target, row.source, "post",
                               row.asset, command.amount, (row.reference, "")))  # fmt: skip
    elif isinstance(command, VoidHold):
        _finish_hold(connection, command.hold_id, "voided", time_ms)


def apply_block(connection: Connection, participant_accounts: Callable[[str], bool],
                central_bank: str, block: VerifiedBlock, trust: TrustState) -> bool:  # fmt: skip
    """Apply `block` inside the caller's transaction; False if it was applied before."""
    if not _advance(connection, block.height, trust):
        return False
    time_ms = block.header.time_ms
    holds = store.holds
    connection.execute(
        holds.update().where(holds.c.status == "pending", holds.c.expires_ms < time_ms)
        .values(status="expired", finished_ms=time_ms))  # fmt: skip
    rows: list[dict[str, object]] = []
    treasury = treasury_account(central_bank)
    for item in block.items:
        ok = item.result.code == ResultCode.ok
        if ok:
            for index, command in enumerate(item.transaction.payload.commands):
                _command(connection, block, item.tx_hash, index, command,
                         participant_accounts, treasury, rows)  # fmt: skip
        table = store.inbound
        connection.execute(
            table.update().where(table.c.tx_hash == item.tx_hash, table.c.state == "submitted")
            .values(state="completed" if ok else "failed",
                    reason=None if ok else result_name(item.result.code), finished_ms=time_ms)
        )  # fmt: skip
    if rows:
        connection.execute(store.entries.insert(), rows)
    return True


async def _follow(engine: Engine, core: Client, genesis: GenesisFile,
                  ours: Callable[[str], bool], applied: Callable[[], Awaitable[None]]) -> None:
    trust = await asyncio.to_thread(load_trust, engine, genesis)
    follower = core.follow(trust)
    stream = cast(AsyncGenerator[VerifiedBlock, None], follower.blocks())
    central_bank = genesis.central_bank.code

    def apply(block: VerifiedBlock, trust: TrustState) -> bool:
        with engine.begin() as connection:
            return apply_block(connection, ours, central_bank, block, trust)

    async with aclosing(stream) as blocks:
        async for block in blocks:
            if not await asyncio.to_thread(apply, block, follower.trust):
                log.warning("block already applied: resuming from the store",
                            extra={"height": block.height})  # fmt: skip
                return
            await applied()


async def run_follower(engine: Engine, core: Client, genesis: GenesisFile,
                       ours: Callable[[str], bool], applied: Callable[[], Awaitable[None]]) -> None:
    """Follow the stream for ever; `applied` is called after each block commits."""
    delay = limits.client_reconnect_delay_s_min
    while True:
        try:
            await _follow(engine, core, genesis, ours, applied)
            delay = limits.client_reconnect_delay_s_min
            continue
        except VerificationError as error:
            log.error("the core sent a block that does not verify", extra={"code": error.code})
        except (ApiError, httpx.TransportError, OSError) as error:
            log.warning("the commit stream failed", extra={"error": type(error).__name__})
        await asyncio.sleep(delay)
        delay = min(2 * delay, limits.gateway_projection_retry_s_max)
