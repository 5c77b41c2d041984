"""Smoke test of `python -m tools.store_pages`: a small slice produces consistent figures, and
the store it writes holds what a block write leaves (never a time is checked)."""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from bakong import limits
from bakong.node.tx_index import TX_INDEX_DIRECTORY, TransactionIndex
from tools.store_pages import _open, block_writes, build, measure, runs_cost

_root = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("window", "index"), [("time", "runs"), ("hash", "lmdb")])
def test_a_built_store_holds_the_accounts_and_the_index(
    tmp_path: Path, window: str, index: str
) -> None:
    build(tmp_path / "store", 300, 40, window, index)
    env = _open(tmp_path / "store")
    try:
        with env.begin() as txn:
            state_db = env.open_db(b"state", txn=txn)
            state = txn.stat(state_db)["entries"]
            txs = txn.stat(env.open_db(b"txs", txn=txn))["entries"]
            history = [k for k, _ in txn.cursor(db=state_db) if k.startswith(b"s/")]
        assert (state, txs) == (300 + 40, 40 if index == "lmdb" else 0)
        runs = TransactionIndex(tmp_path / "store" / TX_INDEX_DIRECTORY, 1, 0, lambda a, b: [])
        assert runs.runs == ([(0, 0, 40)] if index == "runs" else [])
        runs.close()
        writes, entries, record = block_writes(env, 300, 25, 1, random.Random(1), window)
    finally:
        env.close()
    keys = [key for key, _ in writes]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    window_keys = [key for key in keys if key.startswith(b"s/")]
    assert len(window_keys) == 25  # one replay entry per transfer
    assert {len(key) for key in window_keys + history} == {42 if window == "time" else 34}
    if window == "time":  # the block's entries come after the day's history
        assert max(history) < min(window_keys)
    assert 25 < sum(key.startswith(b"a/") for key in keys) <= 50  # two accounts per transfer
    assert len(entries) == 25 and len(record) > 0


def test_the_runs_cost_merges_and_searches_one_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "tx_index_flush_entries", 50)
    monkeypatch.setattr(limits, "tx_index_merge_width", 3)
    cost = runs_cost(tmp_path, lookups=40)
    assert (cost["runs_after_merge"], cost["runs_searched"]) == (1, 3)
    assert cost["write_and_merge_cpu_us_per_entry"] >= 0
    assert cost["lookup_us_present_in_oldest"] > 0 and cost["lookup_us_absent"] > 0


@pytest.mark.parametrize("index", ["runs", "lmdb"])
def test_each_block_is_written(tmp_path: Path, index: str) -> None:
    cost = measure(tmp_path, 500, 20, 3, 0, "time", index)
    assert cost.cpu_us_per_transfer > 0 and cost.wall_us_per_transfer > 0
    assert cost.disk_bytes_per_transfer >= 0
    assert not (tmp_path / f"store-500-time-{index}").exists(), "the scratch store is removed"


def test_the_command_reports_every_figure() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tools.store_pages", "--accounts", "300,3000"]
        + ["--blocks", "2", "--block-txs", "30", "--convoy", "--windows", "time,hash"]
        + [
            "--index-entries",
            "50",
            "--indexes",
            "runs,lmdb",
            "--maps",
            "pwrite,writemap",
            "--json",
        ],
        cwd=_root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    result = json.loads(out)
    rows = [
        tuple(row[k] for k in ("accounts", "window", "index", "map")) for row in result["sizes"]
    ]
    choices = list(itertools.product(("time", "hash"), ("runs", "lmdb"), ("pwrite", "writemap")))
    assert rows == [(n, *choice) for n in (300, 3000) for choice in choices]
    assert result["cpu_ratio_largest_vs_smallest"] > 0
    versus = result["time_vs_hash"]
    assert [row["accounts"] for row in versus] == [300, 3000]
    assert all(row["cpu_ratio"] > 0 and row["disk_ratio"] >= 0 for row in versus)
    for key in ("runs_vs_lmdb", "writemap_vs_pwrite"):
        assert [row["accounts"] for row in result[key]] == [300, 3000]
    convoy = result["convoy"]
    assert convoy["accounts"] == 3000 and convoy["write_alone_ms"] > 0
    # A writer that finishes before the loop's first turn leaves the loop a rate of 0.
    assert convoy["write_slowdown"] > 0 and convoy["loop_rate_beside_writer"] >= 0
