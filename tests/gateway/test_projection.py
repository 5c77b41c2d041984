"""The projection: the verified stream applied exactly once, resumed after a restart.

A real core (node API over an in-memory chain, on loopback) commits payments among aclb, wing
and abaa customers; aclb's gateway follows its filtered stream. Balances must equal the
ledger's for every aclb account, history must hold each payment once, and nothing may change
when the projection is stopped and started again from the store, nor when a block is offered
twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import aclosing

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakong.client import Client, TrustState, VerifiedBlock
from bakong.gateway import db
from bakong.gateway.projection import (
    Payment,
    apply_block,
    load_trust,
    projection_height,
    run_projection,
)
from bakong.gateway.service import GatewayServices
from bakong.ledger.assets import Asset
from bakong.ledger.commands import PlaceHold, PostHold, Transfer
from bakong.ledger.records import AccountKind
from bakong.sandbox import sandbox_key
from tests.gateway.conftest import Core, make_services

KHR, USD = Asset.KHR, Asset.USD
SOKHA, CHAN, DARA, SHOP = "sokha@aclb", "chan@aclb", "dara@wing", "shop@abaa"
MD5 = "0f" * 16


def _pay(source: str, target: str, asset: Asset, amount: int, reference: str = "") -> Transfer:
    return Transfer(source, target, asset, amount, "lunch", reference, "")


def _opening_blocks(core: Core) -> None:
    sb = core.sandbox
    core.commit(
        [
            sb.transaction("nbc", [sb.issue("aclb", KHR, 5_000_000, "r1")]),
            sb.transaction("nbc", [sb.issue("aclb", USD, 100_000, "r2")]),
            sb.transaction("nbc", [sb.issue("wing", KHR, 5_000_000, "r3")]),
            sb.transaction("aclb", [sb.open_account(SOKHA), sb.open_account(CHAN)]),
            sb.transaction("wing", [sb.open_account(DARA)]),
            sb.transaction("abaa", [sb.open_account(SHOP, AccountKind.merchant)]),
        ]
    )
    core.commit(
        [
            sb.transaction("settlement@aclb", [_pay("settlement@aclb", SOKHA, KHR, 1_000_000)]),
            sb.transaction("settlement@aclb", [_pay("settlement@aclb", CHAN, USD, 5_000)]),
            sb.transaction("settlement@wing", [_pay("settlement@wing", DARA, KHR, 800_000)]),
        ]
    )
    core.commit(
        [
            sb.transaction(SOKHA, [_pay(SOKHA, DARA, KHR, 20_000)]),
            sb.transaction(DARA, [_pay(DARA, SOKHA, KHR, 7_000)]),
            sb.transaction(SOKHA, [_pay(SOKHA, CHAN, KHR, 3_000)]),
            sb.transaction(CHAN, [_pay(CHAN, SOKHA, USD, 6_000)]),  # insufficient funds
            sb.transaction(DARA, [_pay(DARA, "settlement@wing", KHR, 1_000)]),  # wing only
        ]
    )


def _ledger_balances(core: Core) -> dict[tuple[str, str], tuple[int, int]]:
    balances = {}
    for account_id in (SOKHA, CHAN, "settlement@aclb"):
        account = core.sandbox.account(account_id)
        assert account is not None
        for asset in Asset:
            available, held = account.balances[asset.index], account.held[asset.index]
            if available or held:
                balances[(account_id, asset.value)] = (available, held)
    return balances


def _projected_balances(engine: Engine) -> dict[tuple[str, str], tuple[int, int]]:
    b = db.balances
    with engine.connect() as connection:
        rows = connection.execute(sa.select(b.c.account_id, b.c.asset, b.c.available, b.c.held))
        return {(a, s): (v, h) for a, s, v, h in rows if v or h}


def _history(engine: Engine) -> list[tuple[str, str, str, int, str]]:
    h = db.history
    query = sa.select(h.c.account_id, h.c.direction, h.c.asset, h.c.amount, h.c.result)
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query.order_by(h.c.id))]  # type: ignore[misc]


def _project_until(services: GatewayServices, height: int) -> None:
    """Run the projection (as the app does) until it has applied `height`, then stop it."""

    async def run() -> None:
        task = asyncio.ensure_future(run_projection(services))
        try:
            for _ in range(2_000):
                if await services.db(projection_height, services.engine) >= height:
                    return
                assert not task.done(), task
                await asyncio.sleep(0.005)
            raise AssertionError(f"the projection did not reach height {height}")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await services.core.aclose()

    asyncio.run(run())


def test_balances_and_history_follow_the_ledger_across_a_restart(
    engine: Engine, core: Core
) -> None:
    _opening_blocks(core)
    _project_until(make_services(engine, core), core.height)
    assert _projected_balances(engine) == _ledger_balances(core)
    history = _history(engine)
    assert ("sokha@aclb", "in", "KHR", 1_000_000, "ok") in history
    assert ("sokha@aclb", "out", "KHR", 20_000, "ok") in history
    assert ("chan@aclb", "out", "USD", 6_000, "insufficient_funds") in history
    assert not any(row[0].endswith("@wing") for row in history)  # only aclb's own accounts
    assert len(history) == len(set(history)) == 12

    # A restart: a new process state over the same store, while the chain moves on.
    sb = core.sandbox
    core.commit([sb.transaction(DARA, [_pay(DARA, CHAN, KHR, 4_000)])])
    core.commit([sb.transaction(CHAN, [_pay(CHAN, SOKHA, KHR, 500)])])
    _project_until(make_services(engine, core), core.height)
    assert _projected_balances(engine) == _ledger_balances(core)
    assert len(_history(engine)) == 12 + 3
    assert load_trust(engine, core.sandbox.genesis).height == core.height


def _verified_blocks(core: Core, count: int) -> list[VerifiedBlock]:
    async def collect() -> list[VerifiedBlock]:
        client = Client(core.url, sandbox_key("aclb/gateway"), chain_id=core.sandbox.chain_id)
        blocks = []
        trust = TrustState.from_genesis(core.sandbox.genesis)
        async with client, aclosing(client.follow(trust).blocks()) as stream:
            async for block in stream:
                blocks.append(block)
                if len(blocks) == count:
                    return blocks
        raise AssertionError("the stream ended")

    return asyncio.run(collect())


def test_a_block_applies_once_and_only_in_order(engine: Engine, core: Core) -> None:
    _opening_blocks(core)
    blocks = _verified_blocks(core, 3)
    trust = TrustState.from_genesis(core.sandbox.genesis)
    hooks = make_services(engine, core).hooks

    def apply(block: VerifiedBlock) -> list[Payment] | None:
        with engine.begin() as connection:
            return apply_block(connection, "aclb", "nbc", block, trust, hooks)

    assert apply(blocks[1]) is None  # height 2 before height 1: refused
    assert apply(blocks[0]) is not None
    assert apply(blocks[0]) is None  # again: nothing
    assert apply(blocks[1]) is not None
    assert apply(blocks[2]) is not None
    assert apply(blocks[1]) is None
    assert _projected_balances(engine) == _ledger_balances(core)
    assert len(_history(engine)) == 12


def test_hooks_run_inside_the_transaction_and_a_dynamic_khqr_is_paid_once(
    engine: Engine, core: Core
) -> None:
    _opening_blocks(core)
    with engine.begin() as connection:
        connection.execute(
            db.khqr_codes.insert().values(
                md5=MD5, account_id=CHAN, qr="000201...", dynamic=1, amount=2_500,
                asset="KHR", bill_number="b1", expires_ms=core.sandbox.time_ms + 600_000,
                created_ms=0,
            )
        )  # fmt: skip
    services = make_services(engine, core)
    applied: list[tuple[str, str, int]] = []
    paid: list[tuple[str, bytes]] = []

    def on_payment(connection: Connection, payment: Payment) -> None:
        # A row written through the projection's own connection commits with the block.
        key = f"seen/{payment.tx_hash.hex()}/{payment.command_index}/{payment.account_id}"
        connection.execute(db.meta.insert().values(key=key, value=payment.direction))
        applied.append((payment.account_id, payment.direction, payment.amount))

    def on_paid(connection: Connection, md5: str, payment: Payment) -> None:
        paid.append((md5, payment.tx_hash))

    services.hooks.payment_applied.append(on_payment)
    services.hooks.khqr_paid.append(on_paid)
    sb = core.sandbox
    first = sb.transaction(SOKHA, [_pay(SOKHA, CHAN, KHR, 2_500, MD5)])
    wrong_amount = sb.transaction(SOKHA, [_pay(SOKHA, CHAN, KHR, 2_400, MD5)])
    core.commit([wrong_amount, first])
    core.commit([sb.transaction(SOKHA, [_pay(SOKHA, CHAN, KHR, 2_500, MD5)])])
    _project_until(services, core.height)
    assert len(paid) == 1
    with engine.connect() as connection:
        marked = connection.execute(sa.select(db.khqr_codes.c.paid_tx_hash)).scalar_one()
        seen = connection.execute(
            sa.select(sa.func.count()).where(db.meta.c.key.like("seen/%"))
        ).scalar_one()
    assert marked == paid[0][1] == bytes.fromhex(_hash_of(first))
    assert seen == len(applied) == len(set(applied)) + 2  # the repeated pay-ins look alike
    assert all(amount > 0 for _, _, amount in applied)


def _hash_of(transaction: object) -> str:
    from bakong.ledger.transaction import Transaction, transaction_hash

    assert isinstance(transaction, Transaction)
    return transaction_hash(transaction.payload).hex()


@pytest.mark.parametrize("posted", [3_000, 7_000])
def test_holds_move_available_and_held_as_the_ledger_does(
    engine: Engine, core: Core, posted: int
) -> None:
    _opening_blocks(core)
    sb = core.sandbox
    hold_id = bytes(range(16))
    place = PlaceHold(
        hold_id, SOKHA, SHOP, SHOP, KHR, 7_000, sb.time_ms + 60_000, "order 7", "ref-7"
    )
    core.commit([sb.transaction(SOKHA, [place])])
    _project_until(make_services(engine, core), core.height)
    assert _projected_balances(engine) == _ledger_balances(core)
    assert _projected_balances(engine)[(SOKHA, "KHR")][1] == 7_000
    core.commit([sb.transaction(SHOP, [PostHold(hold_id, posted)])])
    _project_until(make_services(engine, core), core.height)
    assert _projected_balances(engine) == _ledger_balances(core)
    assert (SOKHA, "out", "KHR", posted, "ok") in _history(engine)


def test_an_expired_hold_returns_at_the_next_block(engine: Engine, core: Core) -> None:
    _opening_blocks(core)
    sb = core.sandbox
    place = PlaceHold(b"\x09" * 16, SOKHA, SHOP, SHOP, KHR, 9_000, sb.time_ms + 1_500, "", "")
    core.commit([sb.transaction(SOKHA, [place])])
    sb.block_interval_ms = 120_000
    with core.service.lock:
        core.service.commit([])  # two minutes later: the ledger's sweep voids it
    _project_until(make_services(engine, core), core.height)
    assert _projected_balances(engine) == _ledger_balances(core)
    assert _projected_balances(engine)[(SOKHA, "KHR")][1] == 0


Check = Callable[[], bool]
