"""The console's analytics: Parquet exported incrementally, figures DuckDB reads, `bakong stats`.

On SQLite and PostgreSQL, against a real node API and the console's follower: an export writes
every movement the store holds once, partitioned by day; a second export with nothing new
writes nothing, and one after more blocks writes only those blocks; an export stopped half way
is cleaned up by the next. The figures (per day and asset, channel, payer's tier, participant)
equal a direct count of the store's movements, and `bakong stats --json` prints them from a
console home.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from bakong.cli import main
from bakong.client.builders import hold, hold_id_for, post, set_kyc_tier
from bakong.console import analytics, store
from bakong.console.follower import stored_height
from bakong.console.home import ConsoleSection, init_home
from bakong.console.movements import MONEY_MOVING_KINDS
from bakong.errors import LocalError
from bakong.keystore import write_key_file
from bakong.ledger.assets import Asset
from bakong.ledger.genesis import encode_genesis
from bakong.ledger.records import AccountKind, KycTier
from bakong.sandbox import sandbox_key
from tests.console.console_harness import (
    RunningConsole,
    console,
    console_engine,
    core,
    database_url,
    postgres_server,
)

__all__ = ["console", "console_engine", "core", "database_url", "postgres_server"]

COUNTED = {kind.value for kind in MONEY_MOVING_KINDS}


def _first_traffic(console: RunningConsole) -> int:
    """Issues, customers of every kind, and payments through each channel; the last height."""
    chain = console.core.sandbox
    console.commit("nbc", chain.issue("aclb", Asset.KHR, 50_000_000, "reserve-1"))
    console.commit("nbc", chain.issue("wing", Asset.USD, 900_000, "reserve-2"))
    console.commit(
        "aclb",
        chain.open_account("sokha@aclb", tier=KycTier.basic),
        chain.open_account("agent1@aclb", AccountKind.agent, KycTier.full),
    )
    console.commit(
        "wing",
        chain.open_account("dara@wing", tier=KycTier.partial),
        chain.open_account("shop@wing", AccountKind.merchant, KycTier.full),
    )
    khr, usd = Asset.KHR, Asset.USD
    for source, target, asset, amount in [
        ("settlement@aclb", "agent1@aclb", khr, 900_000),
        ("agent1@aclb", "sokha@aclb", khr, 200_000),
        ("settlement@wing", "dara@wing", usd, 5_000),
        ("dara@wing", "shop@wing", usd, 1_250),
        ("sokha@aclb", "dara@wing", usd, 1),  # fails: sokha holds no dollars
        ("settlement@aclb", "settlement@wing", khr, 7_000),
    ]:
        height = console.commit(source, chain.transfer(source, target, asset, amount))
    return height


def _second_traffic(console: RunningConsole) -> int:
    chain = console.core.sandbox
    console.commit("aclb", set_kyc_tier("sokha@aclb", KycTier.full))
    held = hold_id_for("sokha@aclb", "one")
    far = chain.time_ms + 3_600_000
    console.commit(
        "sokha@aclb",
        hold(held, "sokha@aclb", "shop@wing", "KHR", 9_000, expires_ms=far, poster="shop@wing"),
    )
    console.commit("shop@wing", post(held, 6_000))
    back = chain.transfer("sokha@aclb", "agent1@aclb", Asset.KHR, 3_000)  # a cash-out
    return console.commit("sokha@aclb", back)


def _parquet_rows(directory: Path) -> list[tuple[int, int, int]]:
    files = str(directory / "day=*" / "*.parquet")
    with duckdb.connect() as duck:
        found = duck.execute(
            "SELECT height, tx_index, command_index FROM read_parquet(?, hive_partitioning = true)"
            " ORDER BY 1, 2, 3",
            [files],
        ).fetchall()
    return [(int(a), int(b), int(c)) for a, b, c in found]


def _store_rows(engine: Engine) -> list[tuple[int, int, int]]:
    moves = store.movements
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(moves.c.height, moves.c.tx_index, moves.c.command_index).order_by(
                moves.c.height, moves.c.tx_index, moves.c.command_index
            )
        ).all()
    return [(a, b, c) for a, b, c in found]


def test_an_export_adds_only_new_blocks(console: RunningConsole, tmp_path: Path) -> None:
    engine, directory = console.services.engine, tmp_path / "analytics"
    console.wait_for_height(_first_traffic(console))
    first = analytics.export(engine, directory)
    assert first.from_height == 1 and first.to_height == stored_height(engine)
    assert first.rows == len(_store_rows(engine)) > 0 and first.files >= 1
    assert _parquet_rows(directory) == _store_rows(engine)
    assert [path.parent.name[:4] for path in directory.glob("*/*.parquet")][0] == "day="

    again = analytics.export(engine, directory)
    assert (again.rows, again.files) == (0, 0) and again.from_height == first.to_height + 1

    console.wait_for_height(_second_traffic(console))
    before = set(directory.glob("*/*.parquet"))
    third = analytics.export(engine, directory)
    added = set(directory.glob("*/*.parquet")) - before
    assert third.from_height == first.to_height + 1 and len(added) == third.files >= 1
    assert all(path.name.startswith(f"h{third.from_height}-") for path in added)
    assert _parquet_rows(directory) == _store_rows(engine)  # every row once
    assert analytics.exported_height(directory) == stored_height(engine)


def test_an_export_stopped_half_way_is_done_again_once(
    console: RunningConsole, tmp_path: Path
) -> None:
    engine, directory = console.services.engine, tmp_path / "analytics"
    console.wait_for_height(_first_traffic(console))
    analytics.export(engine, directory)
    day = next(directory.glob("day=*"))
    # What a crash between moving a batch's files and recording its height leaves behind.
    leftover = day / f"h{stored_height(engine) + 1}-{stored_height(engine) + 9}_0.parquet"
    leftover.write_bytes(next(day.glob("*.parquet")).read_bytes())
    (directory / ".scratch").mkdir()
    console.wait_for_height(_second_traffic(console))
    analytics.export(engine, directory)
    assert not leftover.exists() and not (directory / ".scratch").exists()
    assert _parquet_rows(directory) == _store_rows(engine)


def _direct_counts(engine: Engine) -> dict[str, Counter[tuple[str, ...]]]:
    """The figures counted from the store's movements and accounts, without DuckDB."""
    moves, accounts = store.movements, store.accounts
    with engine.connect() as connection:
        tiers = dict(connection.execute(sa.select(accounts.c.account_id, accounts.c.tier)).all())
        kinds = dict(connection.execute(sa.select(accounts.c.account_id, accounts.c.kind)).all())
        rows = connection.execute(sa.select(moves).where(moves.c.result == "ok")).all()
    counts: dict[str, Counter[tuple[str, ...]]] = {
        name: Counter() for name in ("count", "value", "channel", "tier", "sent", "received")
    }
    for row in rows:
        if row.kind not in COUNTED:
            continue
        counts["count"][(row.asset,)] += 1
        counts["value"][(row.asset,)] += row.amount
        channel = analytics.channel_of(row.kind, kinds[row.source], kinds[row.target])
        counts["channel"][(channel, row.asset)] += row.amount
        counts["tier"][(tiers[row.source], row.asset)] += 1
        counts["sent"][(row.source_participant, row.asset)] += row.amount
        counts["received"][(row.target_participant, row.asset)] += 1
    return counts


def _figure_counts(found: analytics.Figures) -> dict[str, Counter[tuple[str, ...]]]:
    counts: dict[str, Counter[tuple[str, ...]]] = {
        name: Counter() for name in ("count", "value", "channel", "tier", "sent", "received")
    }
    for daily in found.daily:
        counts["count"][(daily.asset,)] += daily.count
        counts["value"][(daily.asset,)] += daily.value
    for by_channel in found.by_channel:
        counts["channel"][(by_channel.channel, by_channel.asset)] += by_channel.value
    for by_tier in found.by_tier:
        counts["tier"][(by_tier.tier, by_tier.asset)] += by_tier.count
    for person in found.by_participant:
        counts["sent"][(person.participant, person.asset)] += person.sent_value
        counts["received"][(person.participant, person.asset)] += person.received_count
    return {name: +counter for name, counter in counts.items()}  # + drops the zeros


def test_the_figures_equal_a_direct_count_of_the_store(
    console: RunningConsole, tmp_path: Path
) -> None:
    engine, directory = console.services.engine, tmp_path / "analytics"
    console.wait_for_height(_first_traffic(console))
    analytics.export(engine, directory)
    console.wait_for_height(_second_traffic(console))
    analytics.export(engine, directory)
    found = analytics.figures(directory, days=7)
    assert found == analytics.figures(directory, days=7) and found.days == 7
    assert _figure_counts(found) == _direct_counts(engine)
    channels = {row.channel for row in found.by_channel}
    assert channels == {"liquidity", "agent", "wallet", "merchant", "interbank"}
    assert {row.tier for row in found.by_tier} == {"institutional", "full", "partial"}
    assert all(isinstance(row.value, int) for row in found.daily)
    merchant = [row for row in found.by_channel if row.channel == "merchant"]
    assert {(row.asset, row.count, row.value) for row in merchant} == {
        ("USD", 1, 1_250), ("KHR", 1, 6_000)  # a payment, and a hold posted in part
    }  # fmt: skip


def test_the_channel_of_a_movement() -> None:
    assert analytics.channel_of("transfer", "link", "personal") == "cross_border"
    assert analytics.channel_of("transfer", "personal", "link") == "cross_border"
    assert analytics.channel_of("transfer", "agent", "personal") == "agent"
    assert analytics.channel_of("hold_posted", "personal", "merchant") == "merchant"
    assert analytics.channel_of("issue", "treasury", "settlement") == "liquidity"
    assert analytics.channel_of("transfer", "settlement", "settlement") == "interbank"
    assert analytics.channel_of("transfer", "personal", "personal") == "wallet"
    assert analytics.channel_of("transfer", "settlement", "personal") == "wallet"


def test_no_export_no_figures_and_bad_days(tmp_path: Path) -> None:
    empty = analytics.figures(tmp_path / "none")
    assert (empty.exported_height, empty.daily, empty.last_day) == (0, [], None)
    with pytest.raises(LocalError):
        analytics.figures(tmp_path, days=0)


def test_bakong_stats_prints_the_figures(
    console: RunningConsole, database_url: str, tmp_path: Path
) -> None:
    genesis, key = tmp_path / "genesis.json", tmp_path / "nbc-admin.json"
    genesis.write_bytes(encode_genesis(console.core.sandbox.genesis))
    write_key_file(key, sandbox_key("nbc/admin"))
    home = init_home(
        tmp_path / "console", ConsoleSection(console.core.url, database_url), genesis, key
    )
    console.wait_for_height(_first_traffic(console))
    runner = CliRunner()
    answer = runner.invoke(main, ["stats", "--home", str(home.path), "--days", "3", "--json"])
    assert answer.exit_code == 0, answer.output
    printed = json.loads(answer.output)
    expected = analytics.figures(home.analytics_dir, days=3)
    assert printed["exported_height"] == stored_height(console.services.engine) > 0
    assert printed["daily"] == [
        {"day": row.day, "asset": row.asset, "count": row.count, "value": row.value}
        for row in expected.daily
    ]
    assert len(printed["by_participant"]) == len(expected.by_participant) > 0
    plain = runner.invoke(main, ["stats", "--home", str(home.path)])
    assert plain.exit_code == 0 and f"payments {expected.daily[0].count}" in plain.output
    refused = runner.invoke(main, ["stats", "--home", str(home.path), "--days", "0"])
    assert refused.exit_code == 2
