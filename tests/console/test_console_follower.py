"""The console's follower: the central bank's complete stream into the store, exactly once.

On SQLite and PostgreSQL, against a real node API: every committed block lands in `blocks`,
every transaction in `transactions`, and the balances the store derives from the movements
equal the ledger's own accounts (issues, transfers, holds posted in part and voided, a failed
transfer that moved nothing); participants and accounts follow their commands; a block
applied twice changes nothing; a console stopped and started again resumes after its last
height with no gap and no double.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong.client import Client, TrustState, VerifiedBlock
from bakong.client.builders import hold, hold_id_for, post, set_account_status, void
from bakong.console import store
from bakong.console.app import create_app
from bakong.console.follower import apply_block
from bakong.ledger.assets import ASSETS, Asset
from bakong.ledger.commands import SetParticipantEndpoint
from bakong.ledger.records import AccountStatus
from bakong.sandbox import sandbox_key
from tests.console.console_harness import (
    RunningConsole,
    console,
    console_engine,
    core,
    database_url,
    make_console_services,
    postgres_server,
)
from tests.gateway.conftest import Core
from tests.gateway.loopback import serve

__all__ = ["console", "console_engine", "core", "database_url", "postgres_server"]


def _traffic(console: RunningConsole) -> int:
    """Blocks of every kind of money command; the last height."""
    chain = console.core.sandbox
    console.commit("nbc", chain.issue("aclb", Asset.KHR, 10_000_000, "reserve-1"))
    console.commit("nbc", chain.issue("wing", Asset.USD, 500_000, "reserve-2"))
    console.commit("aclb", chain.open_account("sokha@aclb"))
    console.commit("wing", chain.open_account("dara@wing"))
    console.commit(
        "settlement@aclb", chain.transfer("settlement@aclb", "sokha@aclb", Asset.KHR, 40_000)
    )
    console.commit(
        "settlement@wing", chain.transfer("settlement@wing", "dara@wing", Asset.USD, 2_500)
    )
    first, second = hold_id_for("sokha@aclb", "one"), hold_id_for("sokha@aclb", "two")
    far = chain.time_ms + 3_600_000
    console.commit(
        "sokha@aclb",
        hold(
            first,
            "sokha@aclb",
            "settlement@aclb",
            "KHR",
            9_000,
            expires_ms=far,
            poster="settlement@aclb",
        ),
    )
    console.commit("settlement@aclb", post(first, 6_000))
    console.commit(
        "sokha@aclb",
        hold(second, "sokha@aclb", "dara@wing", "KHR", 1_000, expires_ms=far, poster="dara@wing"),
    )
    console.commit("dara@wing", void(second))
    console.commit(
        "dara@wing", chain.transfer("dara@wing", "sokha@aclb", Asset.USD, 999_999)
    )  # fails
    console.commit("nbc", set_account_status("dara@wing", AccountStatus.frozen))
    endpoint = SetParticipantEndpoint(code="wing", gateway_url="https://wing.example")
    return console.commit("nbc", endpoint)


def _balances(engine: Engine) -> dict[tuple[str, str], tuple[int, int]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(store.balances)).all()
    return {(r.account_id, r.asset): (r.available, r.held) for r in rows}


def _assert_matches_ledger(console: RunningConsole) -> None:
    stored = _balances(console.services.engine)
    for account_id in ("settlement@aclb", "settlement@wing", "sokha@aclb", "dara@wing"):
        account = console.core.sandbox.account(account_id)
        assert account is not None
        for asset in ASSETS:
            ledger = (account.balances[asset.index], account.held[asset.index])
            assert stored.get((account_id, asset.value), (0, 0)) == ledger, (account_id, asset)


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)


def test_the_store_mirrors_the_ledger(console: RunningConsole) -> None:
    height = _traffic(console)
    console.wait_for_height(height)
    engine = console.services.engine
    _assert_matches_ledger(console)
    assert _count(engine, store.blocks) == height
    assert _count(engine, store.transactions) == 13
    with engine.connect() as connection:
        failed = (
            connection.execute(
                sa.select(store.transactions.c.result).where(store.transactions.c.result != "ok")
            )
            .scalars()
            .all()
        )
        status = connection.execute(
            sa.select(store.accounts.c.status).where(store.accounts.c.account_id == "dara@wing")
        ).scalar_one()
        wing = connection.execute(
            sa.select(store.participants).where(store.participants.c.code == "wing")
        ).one()
        holds_left = connection.execute(
            sa.select(sa.func.count()).select_from(store.holds)
        ).scalar()
    assert failed == ["insufficient_funds"]
    assert status == "frozen"
    assert wing.gateway_url == "https://wing.example" and wing.status == "active"
    assert holds_left == 0


async def _verified_blocks(core: Core, count: int) -> list[tuple[VerifiedBlock, TrustState]]:
    """The first `count` blocks of the central bank's stream, verified, with the trust after."""
    genesis = core.sandbox.genesis
    found: list[tuple[VerifiedBlock, TrustState]] = []
    async with Client(core.url, sandbox_key("nbc/admin"), chain_id=genesis.chain_id) as client:
        follower = client.follow(TrustState.from_genesis(genesis), complete=True)
        async with aclosing(follower.blocks()) as blocks:  # type: ignore[type-var]
            async for block in blocks:
                found.append((block, follower.trust))
                if len(found) == count:
                    break
    return found


def test_a_block_applied_again_changes_nothing(console: RunningConsole) -> None:
    height = _traffic(console)
    console.wait_for_height(height)
    engine = console.services.engine
    before = _balances(engine)
    genesis = console.core.sandbox.genesis
    for block, trust in asyncio.run(_verified_blocks(console.core, 3)):
        with engine.begin() as connection:
            assert apply_block(connection, genesis, block, trust) is False
    assert _balances(engine) == before
    assert _count(engine, store.blocks) == height
    assert _count(engine, store.movements) == 9


def test_a_restarted_console_resumes_without_gap_or_double(
    console_engine: Engine, core: Core
) -> None:
    chain = core.sandbox

    def commit(creator: str, *commands: object) -> int:
        return core.commit([chain.transaction(creator, commands)]).height  # type: ignore[arg-type]

    services = make_console_services(console_engine, core)
    with serve(create_app(services)) as _url:
        height = commit("nbc", chain.issue("aclb", Asset.KHR, 1_000, "r-1"))
        running = RunningConsole("", services, None, core, {})  # type: ignore[arg-type]
        running.wait_for_height(height)
    # Stopped: blocks commit while nobody follows.
    for number in range(5):
        commit("nbc", chain.issue("aclb", Asset.KHR, 1_000, f"r-{number + 2}"))
    services = make_console_services(console_engine, core)
    with serve(create_app(services)) as _url:
        last = commit("nbc", chain.issue("aclb", Asset.KHR, 1_000, "r-last"))
        running = RunningConsole("", services, None, core, {})  # type: ignore[arg-type]
        running.wait_for_height(last)
    assert _count(console_engine, store.blocks) == last
    with console_engine.connect() as connection:
        heights = (
            connection.execute(sa.select(store.blocks.c.height).order_by(store.blocks.c.height))
            .scalars()
            .all()
        )
        issues = connection.execute(
            sa.select(sa.func.count()).where(store.movements.c.kind == "issue")
        ).scalar()
    assert heights == list(range(1, last + 1))
    assert issues == 7
    assert _balances(console_engine)[("settlement@aclb", "KHR")] == (7_000, 0)
