"""Smoke test of `bakong bench scale` (`bakong.bench.scale`) and its builders.

The builders are checked for what the benchmark relies on: accounts come in key order, a
state built directly keeps the ledger's conservation invariant, and a chain built offline has
valid commits and snapshot roots. The quick slice (`--quick --json`: real validator
processes, load, catch-up and restore) runs once; only that every figure is produced and the
figures agree with one another is checked, never a time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import lmdb
import pytest

from bakong.bench.chain_builder import build_chain
from bakong.bench.scale import accounts_ratio
from bakong.bench.state_builder import (
    accounts_in_key_order,
    build_state,
    history_hashes,
    history_window_keys,
)
from bakong.bench.workload import account_name
from bakong.consensus.commit import CommitStatus, verify_commit
from bakong.keystore import read_key_file
from bakong.ledger.genesis import genesis_validators
from bakong.ledger.invariants import check_store
from bakong.ledger.state import seen_key
from bakong.ledger.validators import ValidatorSet
from bakong.node.localnet import Localnet, init_localnet
from bakong.node.store import LmdbChain


def test_accounts_come_in_key_order() -> None:
    for count in (0, 1, 9, 10, 11, 101, 12_345):
        order = list(accounts_in_key_order(count))
        assert sorted(order) == list(range(count))
        keys = [f"a/{account_name(i)}".encode() for i in order]
        assert keys == sorted(keys)


def test_built_state_holds_every_account_and_conserves_money(tmp_path: Path) -> None:
    init_localnet(tmp_path / "net", 4)
    genesis = Localnet(tmp_path / "net").genesis
    funded = {7: bytes(range(32)), 4_321: bytes(32)}
    built = build_state(tmp_path / "store", genesis, 5_000, funded)
    assert built.accounts == 5_000 and built.funded == 2
    env = lmdb.open(str(tmp_path / "store"), max_dbs=8, readonly=True, lock=False)
    try:
        state_db = env.open_db(b"state", create=False)
        with env.begin() as txn:
            entries = [(bytes(k), bytes(v)) for k, v in txn.cursor(db=state_db)]
    finally:
        env.close()
    assert len(entries) == built.entries
    check_store(entries)  # conservation: Supply matches the funded balances
    chain = LmdbChain(tmp_path / "store", genesis)  # a node opens it as its own
    try:
        assert chain.tip().height == 0
    finally:
        chain.close()


def test_built_state_holds_a_days_history_when_asked(tmp_path: Path) -> None:
    init_localnet(tmp_path / "net", 4)
    genesis = Localnet(tmp_path / "net").genesis
    built = build_state(tmp_path / "store", genesis, 300, {}, history_txs=40)
    assert built.history_txs == 40
    history = history_hashes(40)
    assert len(set(history)) == 40 and history == sorted(history) == history_hashes(40)
    chain = LmdbChain(tmp_path / "store", genesis)
    try:
        reader = chain.reader()
        try:
            keys = list(history_window_keys(history, genesis.genesis_time_ms))
            assert all(reader.get(key) is not None for key in keys)
            assert reader.get(seen_key(genesis.genesis_time_ms, history[0])) is None
        finally:
            reader.close()
        assert all(chain.transaction_location(tx_hash) == (0, 0) for tx_hash in history)
        with chain.env.begin() as txn:
            state_db = chain.env.open_db(b"state", txn=txn)
            entries = [(bytes(k), bytes(v)) for k, v in txn.cursor(db=state_db)]
    finally:
        chain.close()
    assert len(entries) == built.entries
    check_store(entries)


def test_history_beyond_the_bound_is_refused_before_anything_runs() -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "bakong", "bench", "scale", "--history-txs", "-1", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "--history-txs" in refused.stderr


def test_built_chain_carries_commits_and_snapshot_roots(tmp_path: Path) -> None:
    import msgspec

    init_localnet(tmp_path / "net", 4)
    net = Localnet(tmp_path / "net")
    genesis = msgspec.structs.replace(net.genesis, snapshot_interval=5, snapshot_lag=2)
    keys = [read_key_file(child.home / "node_key.json") for child in net.children]
    built = build_chain(tmp_path / "store", genesis, net.directory / "keys", keys, blocks=9,
                        start_ms=genesis.genesis_time_ms + 1, spacing_ms=10)  # fmt: skip
    assert built.height == 9 and built.transactions == 1 + 4 + 8 * 4
    chain = LmdbChain(tmp_path / "store", genesis)
    try:
        validators = ValidatorSet(genesis_validators(genesis))
        for height in range(1, 10):
            stored = chain.stored_block(height)
            assert stored is not None
            status = verify_commit(genesis.chain_id, stored.commit, validators, height=height)
            assert status is CommitStatus.OK
        assert chain.snapshots.heights() == [5]
    finally:
        chain.close()


def _step(accounts: int, tps_rounds: list[float], disk: list[int | None]) -> dict[str, object]:
    return {
        "accounts": accounts,
        "tps_rounds": tps_rounds,
        "disk_bytes_per_transfer": disk[0],
        "disk_bytes_per_transfer_rounds": disk,
    }


def test_accounts_ratio_is_the_median_of_each_rounds_ratio() -> None:
    small = _step(10_000, [2_000.0, 2_500.0, 1_000.0], [27_000, 26_000, 28_000])
    large = _step(10**7, [1_800.0, 1_000.0, 900.0], [78_000, 80_000, None])
    small["tps_ratio_rounds"] = [1.0, 1.0, 1.0]
    large["tps_ratio_rounds"] = [0.9, 0.4, 0.9]  # what each round's neighbours gave
    ratio = accounts_ratio([small, _step(10**5, [1.0], [1]), large])
    assert (ratio["small"], ratio["large"]) == (10_000, 10**7)
    assert ratio["ratios"] == [0.9, 0.4, 0.9] and ratio["median"] == 0.9
    assert ratio["target"] == 0.8 and ratio["met"] is True
    disk = ratio["disk_bytes_per_transfer"]
    assert (disk["small"], disk["large"]) == (27_000, 78_000)
    assert disk["large_rounds"] == [78_000, 80_000, None]
    large["tps_ratio_rounds"] = [0.5, None, 0.7]  # a round whose smallest step committed none
    assert accounts_ratio([small, large])["median"] == 0.6
    assert accounts_ratio([small, large])["met"] is False


@pytest.mark.e2e
def test_quick_slice_produces_consistent_figures(tmp_path: Path) -> None:
    plot = tmp_path / "scale.png"
    command = [sys.executable, "-m", "bakong", "bench", "scale", "--quick", "--json",
               "--plot", str(plot)]  # fmt: skip
    # Its own process: the benchmark spawns worker processes and validators, and stops them.
    done = subprocess.run(command, capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr.decode()[-3_000:]
    figures = json.loads(done.stdout)
    assert figures["verify_per_s"] > 0
    for row in [*figures["sizes"], *figures["accounts"]]:
        assert row["tps"] > 0 and row["rss_mb_max"] > 0 and row["uss_mb_max"] > 0
        assert len(row["rss_mb"]) == row["validators"]
        assert row["failed"] == row["rejected"] == row["uncommitted"] == 0, row
        assert row["finality_ms"]["p50"] <= row["finality_ms"]["p99"] <= row["finality_ms"]["max"]
        assert row["state_entries"] > row["accounts"]  # the genesis entries too
    assert [row["validators"] for row in figures["sizes"]] == [4]
    assert "finality_half_load_ms" in figures["sizes"][0]
    assert [row["accounts"] for row in figures["accounts"]] == [1_000, 10_000]
    assert figures["accounts"][0]["tps_ratio_vs_smallest"] == 1.0
    for row in figures["accounts"]:
        assert row["committed_ok"] >= row["tps"] > 0
        written = (row["disk_written_mb"] or 0) * 2**20
        if written > 0:  # the machine's disks wrote something during the run
            per_transfer = row["disk_bytes_per_transfer"] * row["committed_ok"]
            assert per_transfer == pytest.approx(written, rel=0.01, abs=2**20)
    ratio = figures["accounts_ratio"]
    assert (ratio["small"], ratio["large"], ratio["target"]) == (1_000, 10_000, 0.8)
    assert ratio["ratios"] == figures["accounts"][-1]["tps_ratio_rounds"]
    assert ratio["median"] == ratio["ratios"][0] > 0  # --quick: one round
    catchup = figures["catchup"]
    assert catchup["blocks"] == 200 and catchup["catchup_s"] >= catchup["first_status_s"] > 0
    assert figures["catchup_trace"][-1][1] >= 200
    restore = figures["restore"]
    assert restore["height"] == 20 and restore["entries"] > restore["accounts"]
    assert restore["bytes"] > 0 and restore["chunks"] >= 1 and restore["rejoin_s"] is not None
    assert plot.stat().st_size > 0 and (tmp_path / "scale-4v-1000.png").exists()
