"""The follower: the central bank's complete, verified stream applied to the console's store.

The console follows the stream through `bakong.client` with `complete=True`: every header's
commit, every transaction's proofs, and that the message carries all of the block's
transactions are verified before a block is yielded. Each block is applied in ONE database
transaction that also advances `meta.last_height` (a compare-and-set from `height - 1`) and
saves the follower's trust state, so after a crash or a restart the console resumes at the
next height with nothing missed and nothing counted twice; a block seen again changes nothing.

What a block writes (`store` tables):
- `blocks` and `transactions`: one row each, ok or failed, with the result code;
- `movements`: `console.movements.block_movements` of the block, given the pending holds the
  block's sweep may expire and its commands name (from `holds`, which it then updates);
- `balances`: moved by the ok movements: a transfer and a posted hold from source to target,
  an issue credits and a redeem debits the settlement account (the treasury issues against
  reserves held off the ledger, so it has no balance here), a placed hold moves money from
  available to held, a voided or expired one back, a post releases what it did not pay;
- `proposals`: a signed proposal whose transaction the block carries is finished
  (`proposals.finish_in_block`), in the block's database transaction;
- `participants` and `accounts`: the genesis' (`seed_genesis`, once, before block 1), then
  every ok
  `register_participant`, `update_participant`, `set_participant_endpoint`,
  `create_account`, `set_account_status` and `set_kyc_tier` (an account's tier);
- `meta.limits_policy`: the policy of the last ok `set_limits` (`console.governance`).
A stream that fails is reopened from the last applied height after a backoff; a verification
failure is logged as an error (the node sent what its validators did not sign).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Iterable
from contextlib import aclosing
from typing import Any, cast

import httpx
import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine

from bakong import limits
from bakong.client import ApiError, TrustState, VerificationError, VerifiedBlock
from bakong.console import governance, store
from bakong.console.home import ConsoleServices
from bakong.console.movements import (
    Movement,
    MovementKind,
    PendingHold,
    block_movements,
    hold_ids_named,
    result_name,
)
from bakong.console.proposals import finish_in_block
from bakong.ledger.assets import Asset
from bakong.ledger.commands import (
    CreateAccount,
    RegisterParticipant,
    SetAccountStatus,
    SetKycTier,
    SetLimits,
    SetParticipantEndpoint,
    UpdateParticipant,
)
from bakong.ledger.genesis import GenesisFile
from bakong.ledger.identifiers import participant_of, settlement_account, treasury_account
from bakong.ledger.result import ResultCode

__all__ = [
    "apply_block",
    "last_height",
    "load_trust",
    "run_follower",
    "seed_genesis",
    "stored_height",
]

log = logging.getLogger(__name__)

LAST_HEIGHT = "last_height"
TRUST = "trust"
SEEDED = "genesis_seeded"


# -- meta: the last applied height and the follower's trust ------------------------------------


def last_height(connection: Connection) -> int:
    value = connection.execute(
        sa.select(store.meta.c.value).where(store.meta.c.key == LAST_HEIGHT)
    ).scalar_one_or_none()
    return 0 if value is None else int(value)


def stored_height(engine: Engine) -> int:
    """The last height applied to the store."""
    with engine.connect() as connection:
        return last_height(connection)


def load_trust(engine: Engine, genesis: GenesisFile) -> TrustState:
    """The trust state saved with the last applied block, or the genesis' before block 1."""
    with engine.connect() as connection:
        raw = connection.execute(
            sa.select(store.meta.c.value).where(store.meta.c.key == TRUST)
        ).scalar_one_or_none()
    if raw is None:
        return TrustState.from_genesis(genesis)
    trust = msgspec.json.decode(raw, type=TrustState)
    assert trust.chain_id == genesis.chain_id, "the store belongs to another chain"
    return trust


def _advance(connection: Connection, height: int, trust: TrustState) -> bool:
    """Move `last_height` from `height - 1` to `height`; False if it was not there."""
    meta = store.meta
    encoded = msgspec.json.encode(trust).decode()
    if height == 1:
        present = connection.execute(sa.select(meta.c.key).where(meta.c.key == LAST_HEIGHT))
        if present.first() is not None:
            return False
        connection.execute(meta.insert().values(key=LAST_HEIGHT, value="1"))
        connection.execute(meta.insert().values(key=TRUST, value=encoded))
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


# -- participants and accounts -----------------------------------------------------------------


def _add_account(
    connection: Connection, account: str, kind: str, height: int, tier: str = "institutional"
) -> None:
    connection.execute(
        store.accounts.insert().values(
            account_id=account, participant=participant_of(account), kind=kind, tier=tier,
            status="active", created_height=height, updated_height=height,
        )
    )  # fmt: skip


def seed_genesis(engine: Engine, genesis: GenesisFile) -> None:
    """The participants and accounts the genesis made (height 0), once: before block 1, so a
    console of a chain that has committed nothing yet shows them too."""
    with engine.begin() as connection:
        present = connection.execute(sa.select(store.meta.c.key).where(store.meta.c.key == SEEDED))
        if present.first() is None:
            connection.execute(store.meta.insert().values(key=SEEDED, value=genesis.chain_id))
            _seed(connection, genesis)


def _seed(connection: Connection, genesis: GenesisFile) -> None:
    central = genesis.central_bank
    for party in (central, *genesis.participants):
        connection.execute(
            store.participants.insert().values(
                code=party.code, name=party.name, status="active", gateway_url="",
                central_bank=int(party is central), admin_keys=",".join(party.admin_keys),
                admin_quorum=party.admin_quorum, gateway_keys=",".join(party.gateway_keys),
                updated_height=0,
            )
        )  # fmt: skip
        _add_account(connection, settlement_account(party.code), "settlement", 0)
    _add_account(connection, treasury_account(central.code), "treasury", 0)


def _keys(command: RegisterParticipant | UpdateParticipant) -> dict[str, object]:
    return {
        "admin_keys": ",".join(key.hex() for key in command.admin_keys),
        "admin_quorum": command.admin_quorum,
        "gateway_keys": ",".join(key.hex() for key in command.gateway_keys),
    }


def _register_effects(connection: Connection, command: object, height: int) -> None:
    """What an ok command does to `participants` and `accounts` (others: nothing)."""
    people, accounts = store.participants, store.accounts
    if isinstance(command, RegisterParticipant):
        connection.execute(
            people.insert().values(
                code=command.code, name=command.name, status="active", gateway_url="",
                central_bank=0, updated_height=height, **_keys(command),
            )
        )  # fmt: skip
        _add_account(connection, settlement_account(command.code), "settlement", height)
    elif isinstance(command, UpdateParticipant):
        connection.execute(
            people.update()
            .where(people.c.code == command.code)
            .values(
                name=command.name,
                status=command.status.value,
                updated_height=height,
                **_keys(command),
            )  # fmt: skip
        )
    elif isinstance(command, SetParticipantEndpoint):
        connection.execute(
            people.update()
            .where(people.c.code == command.code)
            .values(gateway_url=command.gateway_url, updated_height=height)
        )
    elif isinstance(command, SetLimits):
        governance.save_policy(connection, command.policy)
    elif isinstance(command, CreateAccount):
        _add_account(connection, command.account, command.kind.value, height, command.tier.name)
    elif isinstance(command, SetKycTier):
        connection.execute(
            accounts.update()
            .where(accounts.c.account_id == command.account)
            .values(tier=command.tier.name, updated_height=height)
        )
    elif isinstance(command, SetAccountStatus):
        connection.execute(
            accounts.update()
            .where(accounts.c.account_id == command.account)
            .values(status=command.status.value, updated_height=height)
        )


# -- money -------------------------------------------------------------------------------------

#: (account, asset, change of available, change of held)
Change = tuple[str, str, int, int]


def _changes(movement: Movement, held_amounts: dict[bytes, int]) -> list[Change]:
    """How one ok movement changes balances (module rules); `held_amounts` by hold id."""
    asset, amount, kind = movement.asset.value, movement.amount, movement.kind
    source, target = movement.source, movement.target
    if kind is MovementKind.transfer:
        return [(source, asset, -amount, 0), (target, asset, amount, 0)]
    if kind is MovementKind.issue:
        return [(target, asset, amount, 0)]
    if kind is MovementKind.redeem:
        return [(source, asset, -amount, 0)]
    if kind is MovementKind.hold_placed:
        return [(source, asset, -amount, amount)]
    if kind is MovementKind.hold_posted:
        held = held_amounts[movement.hold_id]
        return [(source, asset, held - amount, -held), (target, asset, amount, 0)]
    assert kind in (MovementKind.hold_voided, MovementKind.hold_expired), kind
    return [(source, asset, amount, -amount)]


def _upsert_balance(insert: Callable[[sa.Table], Any]) -> Any:
    statement = insert(store.balances)
    return statement.on_conflict_do_update(
        index_elements=[store.balances.c.account_id, store.balances.c.asset],
        set_={
            "available": store.balances.c.available + statement.excluded.available,
            "held": store.balances.c.held + statement.excluded.held,
        },
    )


_UPSERT_BALANCE = {
    "sqlite": _upsert_balance(sqlite_dialect.insert),
    "postgresql": _upsert_balance(postgresql_dialect.insert),
}


def _add_to_balances(connection: Connection, changes: Iterable[Change], treasury: str) -> None:
    sums: dict[tuple[str, str], list[int]] = {}
    for account, asset, available, held in changes:
        if account == treasury:
            continue
        total = sums.setdefault((account, asset), [0, 0])
        total[0] += available
        total[1] += held
    if sums:
        connection.execute(
            _UPSERT_BALANCE[connection.dialect.name],
            [
                {"account_id": account, "asset": asset, "available": available, "held": held}
                for (account, asset), (available, held) in sums.items()
            ],
        )


def _known_holds(connection: Connection, block: VerifiedBlock) -> dict[bytes, PendingHold]:
    """The pending holds the block may end: due before its time, or named by its commands."""
    table = store.holds
    named = list(hold_ids_named(block.items))
    rows = connection.execute(
        sa.select(table).where(
            sa.or_(table.c.expires_ms < block.header.time_ms, table.c.hold_id.in_(named))
        )
    ).all()
    return {
        row.hold_id: PendingHold(
            hold_id=row.hold_id, source=row.source, target=row.target, asset=Asset(row.asset),
            amount=row.amount, expires_ms=row.expires_ms, reference=row.reference,
        )
        for row in rows
    }  # fmt: skip


def _movement_row(movement: Movement) -> dict[str, object]:
    return {
        "height": movement.height, "time_ms": movement.time_ms, "tx_index": movement.tx_index,
        "tx_hash": movement.tx_hash, "command_index": movement.command_index,
        "kind": movement.kind.value, "source": movement.source, "target": movement.target,
        "source_participant": movement.source_participant,
        "target_participant": movement.target_participant, "asset": movement.asset.value,
        "amount": movement.amount, "result": movement.result, "reference": movement.reference,
        "hold_id": movement.hold_id,
    }  # fmt: skip


def _apply_money(connection: Connection, central_bank: str, block: VerifiedBlock) -> None:
    holds = _known_holds(connection, block)
    moved = block_movements(block.header, block.items, holds, central_bank=central_bank)
    if moved.movements:
        connection.execute(store.movements.insert(), [_movement_row(m) for m in moved.movements])
    treasury = treasury_account(central_bank)
    # A post may end a hold placed earlier in the same block, which `holds` does not hold.
    held_amounts = {hold_id: hold.amount for hold_id, hold in holds.items()}
    changes: list[Change] = []
    for movement in moved.movements:
        if movement.ok and movement.kind is MovementKind.hold_placed:
            held_amounts[movement.hold_id] = movement.amount
        if movement.ok:
            changes.extend(_changes(movement, held_amounts))
    _add_to_balances(connection, changes, treasury)
    if moved.holds_finished:
        connection.execute(
            store.holds.delete().where(store.holds.c.hold_id.in_(list(moved.holds_finished)))
        )
    if moved.holds_placed:
        connection.execute(
            store.holds.insert(),
            [
                {"hold_id": h.hold_id, "source": h.source, "target": h.target,
                 "asset": h.asset.value, "amount": h.amount, "expires_ms": h.expires_ms,
                 "reference": h.reference}
                for h in moved.holds_placed
            ],
        )  # fmt: skip


# -- one block, in one database transaction ---------------------------------------------------


def apply_block(
    connection: Connection, genesis: GenesisFile, block: VerifiedBlock, trust: TrustState
) -> bool:
    """Apply `block` inside the caller's transaction; False if it was applied before."""
    if not _advance(connection, block.height, trust):
        return False
    time_ms = block.header.time_ms
    connection.execute(
        store.blocks.insert().values(
            height=block.height, time_ms=time_ms, tx_count=len(block.items)
        )
    )
    rows = []
    for item in block.items:
        commands = item.transaction.payload.commands
        rows.append({
            "tx_hash": item.tx_hash, "height": block.height, "tx_index": item.index,
            "creator": item.transaction.payload.creator,
            "commands": ",".join(str(type(c).__struct_config__.tag) for c in commands),
            "result": result_name(item.result.code), "time_ms": time_ms,
        })  # fmt: skip
        if item.result.code == ResultCode.ok:
            for command in commands:
                _register_effects(connection, command, block.height)
    if rows:
        connection.execute(store.transactions.insert(), rows)
        results = [(item.tx_hash, result_name(item.result.code)) for item in block.items]
        finish_in_block(connection, results, block.height, time_ms)
    _apply_money(connection, genesis.central_bank.code, block)
    return True


def _apply(services: ConsoleServices, block: VerifiedBlock, trust: TrustState) -> bool:
    with services.engine.begin() as connection:
        return apply_block(connection, services.genesis, block, trust)


async def _follow(services: ConsoleServices) -> None:
    """Apply blocks from the last applied height until the stream fails or is overtaken."""
    await services.db(seed_genesis, services.engine, services.genesis)
    trust = await services.db(load_trust, services.engine, services.genesis)
    follower = services.node.follow(trust, complete=True)
    stream = cast(AsyncGenerator[VerifiedBlock, None], follower.blocks())
    services.following = True
    try:
        async with aclosing(stream) as blocks:
            async for block in blocks:
                if not await services.db(_apply, services, block, follower.trust):
                    log.warning("block already applied: resuming", extra={"height": block.height})
                    return
    finally:
        services.following = False


async def run_follower(services: ConsoleServices) -> None:
    """Follow the central bank's stream for ever. Cancel the task to stop it."""
    delay = limits.client_reconnect_delay_s_min
    while True:
        try:
            await _follow(services)
            delay = limits.client_reconnect_delay_s_min
            continue
        except VerificationError as error:
            log.error("the node sent a block that does not verify", extra={"code": error.code})
        except (ApiError, httpx.TransportError, OSError) as error:
            log.warning("the commit stream failed", extra={"error": type(error).__name__})
        await asyncio.sleep(delay)
        delay = min(2 * delay, limits.console_follow_retry_s_max)
