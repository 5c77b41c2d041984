"""Measure what a block's write costs the validator's LMDB store, by the size of the state.

    python -m tools.store_pages [--accounts 1e4,1e7] [--block-txs 2000] [--blocks 30]
                                [--index-entries 0] [--windows time] [--indexes runs]
                                [--maps pwrite]
                                [--runs-cost] [--convoy] [--json]

Issue 21's 10^7 target (throughput at 10^7 accounts at least 0.8 of that at 10^4) asks where
the store's cost grows with the state. For each `--accounts` size a scratch store (a temporary
directory) is filled in key order with the bulk accounts `bakong bench scale` builds
(`bakong.bench.state_builder.bulk_entries`, the ledger's own records), plus `--index-entries`
replay-window and transaction-index entries already present (a chain that has run a while).
Then `--blocks` blocks, each one LMDB write transaction shaped as `LmdbChain.put_block` writes
a block of `--block-txs` transfers: two accounts re-encoded with new balances per transfer (the
source and a random target), one replay-window entry, one transaction-index entry, the block
record. The write sets are made before the clock starts; what is timed is the transaction:
`putmulti`, the commit, and the group sync that follows it in a thread of its own (the store's
own `GroupSync`). Reported per transfer: CPU (this process, the sync thread included) and the
bytes the machine's disks wrote (every process: run it on a quiet machine).

`--windows time,hash` measures each size with both replay-window layouts: `time`, the ledger's
(`s/` + the transaction's creation time + its hash: a block's entries, created within seconds
of each other, land after the day's older ones), and `hash`, the layout before it (`s/` + the
hash: one random page per entry).

`--indexes runs,lmdb` measures each size with both transaction-index layouts: `runs`, the
store's (`bakong.node.tx_index`: entries in memory, written behind the blocks as sorted runs,
timed until its worker has written them), and `lmdb`, the layout before it (a `txs` database
of the chain's environment, hash -> location, written in the block's write transaction).

`--maps pwrite,writemap` measures each with both ways LMDB can write the map: `pwrite`, the
store's (dirty pages copied in memory and written with pwrite), and `writemap` (MDB_WRITEMAP:
pages written in place in the shared map, flushed by msync), a lead on the accounts' leaves.

`--runs-cost` adds the sorted runs' own work, which a block's write no longer waits for: the
CPU per entry to write `limits.tx_index_merge_width` runs and merge them into one (paid once
per level an entry climbs; the merge's child process included), a look-up's time with that
many runs to search, and a Python loop's rate while such a merge runs in a thread of the
process (as before) and in a child process (as now), as a share of its rate alone.

`--convoy` adds why the write cannot simply move to a thread beside the event loop: py-lmdb
releases the GIL around each put, so a writer thread and a thread running Python take turns at
the interpreter's switch interval. One block's write is timed alone and in a thread while the
main thread runs a Python loop (the event loop's stand-in), and the loop's rate alone and
beside the writer: both as ratios to their own baseline in the same run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import lmdb
import msgspec
import psutil

from bakong import limits
from bakong.bench.state_builder import (
    append_sorted,
    bulk_entries,
    history_hashes,
    history_window_keys,
)
from bakong.bench.workload import account_name
from bakong.ledger.records import Account, SeenTransaction
from bakong.ledger.state import decode_value, seen_key
from bakong.node.store import GroupSync
from bakong.node.tx_index import (
    TX_INDEX_DIRECTORY,
    TransactionIndex,
    merge_runs,
    run_entry,
    write_run,
)
from bakong.wire.codec import encode

_map_bytes = 1 << 36
_block_bytes_per_tx = 250  # a transfer's share of the stored block, about
_start_ms = 1_780_000_000_000  # the first block's time; the blocks are a second apart
_layouts = ("time", "hash")
_indexes = ("runs", "lmdb")
_maps = ("writemap", "pwrite")
# Each compared choice: (the one measured against, the baseline) and the key of its ratios.
_compared = {
    "window": (_layouts, "time_vs_hash"),
    "index": (_indexes, "runs_vs_lmdb"),
    "map": (_maps, "writemap_vs_pwrite"),
}
Writes = list[tuple[bytes, bytes]]


def _open(path: Path, writemap: bool = False) -> lmdb.Environment:
    path.mkdir(parents=True, exist_ok=True)
    return lmdb.open(
        str(path), map_size=_map_bytes, max_dbs=4, sync=False, metasync=False, writemap=writemap
    )


def _seen(window: str, created_ms: int, tx_hash: bytes) -> bytes:
    return seen_key(created_ms, tx_hash) if window == "time" else b"s/" + tx_hash


def build(path: Path, accounts: int, index_entries: int, window: str, index: str = "runs") -> None:
    """A scratch store at `path`: the bulk accounts, and the replay-window (in the `window`
    layout) and index entries (in the `index` layout) of `index_entries` transactions
    (`bakong.bench.state_builder` steps 2 and 4)."""
    env = _open(path)
    state, txs = env.open_db(b"state"), env.open_db(b"txs")
    history = history_hashes(index_entries)
    seen_value = encode(SeenTransaction(height=1, code=0))

    def ordered() -> Iterator[tuple[bytes, bytes]]:
        yield from bulk_entries(accounts, {})  # 'a/' keys sort before 's/' ones
        if window == "time":
            keys: Iterable[bytes] = history_window_keys(history, _start_ms)
        else:
            keys = (b"s/" + tx_hash for tx_hash in history)
        for key in keys:
            yield key, seen_value

    append_sorted(env, state, ordered())
    if index == "lmdb":
        location = struct.pack(">QI", 0, 0)
        append_sorted(env, txs, ((tx_hash, location) for tx_hash in history))
    else:
        runs = path / TX_INDEX_DIRECTORY
        runs.mkdir()
        entries = (run_entry(tx_hash, (0, 0)) for tx_hash in history)
        write_run(runs, 0, 0, entries, len(history))
    env.sync(True)
    env.close()


def _credited(value: bytes, amount: int) -> bytes:
    account = decode_value(b"a/", value)
    assert isinstance(account, Account)
    available, other = account.balances
    return encode(msgspec.structs.replace(account, balances=(available + amount, other)))


def block_writes(
    env: lmdb.Environment,
    accounts: int,
    txs: int,
    height: int,
    rng: random.Random,
    window: str = "time",
) -> tuple[Writes, Writes, bytes]:
    """A block's state writes (sorted), its transaction-index entries and its record (its
    transactions created within the 5 s before its time)."""
    time_ms = _start_ms + height * 1000
    state = env.open_db(b"state")
    writes: dict[bytes, bytes] = {}
    seen_value = encode(SeenTransaction(height=height, code=0))
    with env.begin(buffers=False) as txn:
        for _ in range(txs):
            for _ in range(2):
                key = b"a/" + account_name(rng.randrange(accounts)).encode()
                value = writes.get(key) or txn.get(key, db=state)
                assert value is not None
                writes[key] = _credited(value, rng.randrange(1, 10**6))
            created_ms = time_ms - rng.randrange(5000)
            writes[_seen(window, created_ms, rng.randbytes(32))] = seen_value
    index = [(rng.randbytes(32), struct.pack(">QI", height, i)) for i in range(txs)]
    return sorted(writes.items()), index, rng.randbytes(txs * _block_bytes_per_tx)


def _write(
    env: lmdb.Environment,
    height: int,
    block: tuple[Writes, Writes, bytes],
    runs: TransactionIndex | None = None,
) -> None:
    """A block's write transaction; its index entries go to `runs`, or with the block."""
    writes, index, record = block
    # Handles of databases already open: opening one inside a write transaction would wait
    # for the writer's own lock.
    state, blocks, txs = (env.open_db(name) for name in (b"state", b"blocks", b"txs"))
    with env.begin(write=True) as txn:
        txn.cursor(db=state).putmulti(writes)
        txn.put(struct.pack(">Q", height), record, db=blocks)
        if runs is None:
            txn.cursor(db=txs).putmulti(index)
    if runs is not None:
        runs.add(height, [tx_hash for tx_hash, _ in index])


def _disk_written() -> int:
    counters = psutil.disk_io_counters(perdisk=False)
    return 0 if counters is None else int(counters.write_bytes)


@dataclass(frozen=True)
class StoreCost:
    accounts: int
    window: str
    index: str
    map: str
    index_entries: int
    block_txs: int
    blocks: int
    build_s: float
    cpu_us_per_transfer: float
    wall_us_per_transfer: float
    disk_bytes_per_transfer: int


def measure(
    work: Path,
    accounts: int,
    block_txs: int,
    blocks: int,
    index_entries: int,
    window: str,
    index: str = "runs",
    map_writes: str = "pwrite",
) -> StoreCost:
    """One state size, window and index layout and way of writing the map: CPU and disk bytes
    per transfer of `blocks` block writes."""
    path = work / f"store-{accounts}-{window}-{index}-{map_writes}"
    started = time.perf_counter()
    build(path, accounts, index_entries, window, index)
    build_s = time.perf_counter() - started
    env = _open(path, writemap=map_writes == "writemap")
    rng = random.Random(accounts)
    prepared = [
        block_writes(env, accounts, block_txs, h, rng, window) for h in range(1, blocks + 1)
    ]
    syncer = GroupSync(env)
    runs = None if index == "lmdb" else TransactionIndex(path / TX_INDEX_DIRECTORY, 1, 0, _none)
    disk = _disk_written()
    cpu, wall = time.process_time(), time.perf_counter()
    for height, block in enumerate(prepared, start=1):
        _write(env, height, block, runs)
        syncer.ask()
    syncer.close()
    if runs is not None:
        runs.wait()
        runs.close()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    written = _disk_written() - disk
    transfers = blocks * block_txs
    env.close()
    shutil.rmtree(path)
    return StoreCost(
        accounts=accounts,
        window=window,
        index=index,
        map=map_writes,
        index_entries=index_entries,
        block_txs=block_txs,
        blocks=blocks,
        build_s=round(build_s, 1),
        cpu_us_per_transfer=round(cpu / transfers * 1e6, 1),
        wall_us_per_transfer=round(wall / transfers * 1e6, 1),
        disk_bytes_per_transfer=round(written / transfers),
    )


def _none(first: int, last: int) -> list[tuple[int, list[bytes]]]:
    return []  # a scratch store has no stored blocks to index again


def runs_cost(work: Path, lookups: int = 100_000) -> dict[str, object]:
    """The sorted runs' own work: CPU per entry to write `width` runs and merge them into one
    (the worker's share, once per level an entry climbs), and a look-up's time when `width`
    runs must all be searched (the deepest a level holds before it merges)."""
    per_run, width = limits.tx_index_flush_entries, limits.tx_index_merge_width
    rng = random.Random(7)
    hashes = [rng.randbytes(32) for _ in range(per_run * (2 * width - 1))]
    blocks = [hashes[start : start + per_run] for start in range(0, len(hashes), per_run)]
    index = TransactionIndex(work / "runs-cost", 1, 0, _none)
    cpu = _cpu_with_children()
    for height, block in enumerate(blocks[:width], start=1):
        index.add(height, block)
    index.wait()
    merge_cpu = _cpu_with_children() - cpu
    merged = index.runs
    for height, block in enumerate(blocks[width:], start=width + 1):
        index.add(height, block)
    index.wait()
    present = rng.sample(hashes[: per_run * width], lookups)  # in the oldest, merged run
    absent = [rng.randbytes(32) for _ in range(lookups)]
    timed = {}
    for name, wanted in (("present", present), ("absent", absent)):
        began = time.perf_counter()
        for tx_hash in wanted:
            index.location(tx_hash)
        timed[name] = round((time.perf_counter() - began) / lookups * 1e6, 2)
    runs = index.runs
    index.close()
    return {
        "flush_entries": per_run,
        "merge_width": width,
        "runs_after_merge": len(merged),
        "write_and_merge_cpu_us_per_entry": round(merge_cpu / (per_run * width) * 1e6, 2),
        "runs_searched": len(runs),
        "lookup_us_present_in_oldest": timed["present"],
        "lookup_us_absent": timed["absent"],
        **_merge_beside_loop(work / "merge-beside", blocks[:width]),
    }


def _cpu_with_children() -> float:
    """CPU seconds of this process and of its children that have ended (the merges)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _merge_beside_loop(directory: Path, blocks: list[list[bytes]]) -> dict[str, object]:
    """A Python loop's rate (the event loop's stand-in) while `width` runs merge, as a share of
    its rate alone: the merge in a thread of this process (as the index did before) and in a
    child process (`python -m bakong.node.tx_index`, as it does now)."""
    directory.mkdir()
    paths = []
    for height, block in enumerate(blocks, start=1):
        entries = sorted(run_entry(tx_hash, (height, i)) for i, tx_hash in enumerate(block))
        path = write_run(directory, height, height, entries, len(entries))
        assert path is not None
        paths.append(path)
    last = len(blocks)

    def in_thread() -> None:
        merge_runs(directory, 1, last, paths, lambda: False)

    def in_child() -> None:
        arguments = [str(os.getpid()), str(directory), "1", str(last), *map(str, paths)]
        subprocess.run([sys.executable, "-m", "bakong.node.tx_index", *arguments], check=True)

    loop_alone = _spin_for(0.5)
    figures: dict[str, object] = {"merge_entries": sum(map(len, blocks))}
    for name, merge in (("thread", in_thread), ("process", in_child)):
        done = threading.Event()

        def merging(merge: Callable[[], None] = merge, done: threading.Event = done) -> None:
            merge()
            done.set()

        thread = threading.Thread(target=merging)
        began = time.perf_counter()
        thread.start()
        loop_beside = _spin(done)
        figures[f"merge_in_{name}_ms"] = round((time.perf_counter() - began) * 1000, 1)
        thread.join()
        figures[f"loop_rate_beside_merge_in_{name}"] = round(loop_beside / loop_alone, 2)
    return figures


def _spin(stop: threading.Event) -> float:
    """Iterations per second of a Python loop that runs until `stop` is set."""
    count, began = 0, time.perf_counter()
    while not stop.is_set():
        count += 1
    return count / (time.perf_counter() - began)


def _spin_for(seconds: float) -> float:
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)  # asleep until then: no turn at the GIL
    timer.start()
    rate = _spin(stop)
    timer.join()
    return rate


def convoy(work: Path, accounts: int, block_txs: int) -> dict[str, object]:
    """One block's write alone and in a thread beside a busy Python loop (module docstring)."""
    path = work / f"convoy-{accounts}"
    build(path, accounts, 0, "time")
    env = _open(path)
    rng = random.Random(1)
    alone_block, beside_block = (block_writes(env, accounts, block_txs, h, rng) for h in (1, 2))
    began = time.perf_counter()
    _write(env, 1, alone_block)
    write_alone_s = time.perf_counter() - began
    loop_alone = _spin_for(max(write_alone_s, 0.5))
    done = threading.Event()

    def writer() -> None:
        _write(env, 2, beside_block)
        done.set()

    thread = threading.Thread(target=writer)
    began = time.perf_counter()
    thread.start()
    loop_beside = _spin(done)
    write_beside_s = time.perf_counter() - began
    thread.join()
    env.close()
    shutil.rmtree(path)
    return {
        "accounts": accounts,
        "block_txs": block_txs,
        "write_alone_ms": round(write_alone_s * 1000, 1),
        "write_beside_loop_ms": round(write_beside_s * 1000, 1),
        "write_slowdown": round(write_beside_s / write_alone_s, 1),
        "loop_rate_beside_writer": round(loop_beside / loop_alone, 2),
    }


def _versus(rows: list[StoreCost], accounts: int, field: str) -> dict[str, object]:
    """One choice's cost as ratios to its baseline's, at one size, where the rows differ in
    `field` (a key of `_compared`) only."""
    new_value, old_value = _compared[field][0]
    at_size = [row for row in rows if row.accounts == accounts]
    new = next(row for row in at_size if getattr(row, field) == new_value)
    old = next(
        row
        for row in at_size
        if getattr(row, field) == old_value
        and all(getattr(row, f) == getattr(new, f) for f in _compared if f != field)
    )
    return {
        "accounts": accounts,
        "cpu_ratio": round(new.cpu_us_per_transfer / old.cpu_us_per_transfer, 2),
        "disk_ratio": round(new.disk_bytes_per_transfer / max(old.disk_bytes_per_transfer, 1), 2),
    }


def _counts(text: str) -> list[int]:
    return [int(float(part)) for part in text.split(",") if part]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", default="1e4,1e7")
    parser.add_argument("--block-txs", type=int, default=2000)
    parser.add_argument("--blocks", type=int, default=30)
    parser.add_argument("--index-entries", type=float, default=0)
    parser.add_argument("--windows", default="time", help="time, hash or time,hash")
    parser.add_argument("--indexes", default="runs", help="runs, lmdb or runs,lmdb")
    parser.add_argument("--maps", default="pwrite", help="pwrite, writemap or both")
    parser.add_argument("--runs-cost", action="store_true")
    parser.add_argument("--convoy", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    chosen = {}
    for field, option in (("window", "windows"), ("index", "indexes"), ("map", "maps")):
        values = [value for value in getattr(args, option).split(",") if value]
        if not values or any(value not in _compared[field][0] for value in values):
            new, old = _compared[field][0]
            parser.error(f"--{option} takes {new}, {old} or both, comma-separated")
        chosen[field] = values
    with tempfile.TemporaryDirectory(prefix="store-pages-") as directory:
        work = Path(directory)
        sizes = _counts(args.accounts)
        rows = [
            measure(work, n, args.block_txs, args.blocks, int(args.index_entries), *choice)
            for n in sizes
            for choice in itertools.product(*chosen.values())
        ]
        result: dict[str, object] = {"sizes": [asdict(row) for row in rows]}
        firsts = tuple(values[0] for values in chosen.values())
        first = [row for row in rows if (row.window, row.index, row.map) == firsts]
        if len(first) > 1:
            small, large = first[0].cpu_us_per_transfer, first[-1].cpu_us_per_transfer
            result["cpu_ratio_largest_vs_smallest"] = round(large / small, 2)
        for field, (_, key) in _compared.items():
            if len(chosen[field]) == 2:
                result[key] = [_versus(rows, n, field) for n in sizes]
        if args.runs_cost:
            result["runs_cost"] = runs_cost(work)
        if args.convoy:
            result["convoy"] = convoy(work, sizes[-1], args.block_txs)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for row in rows:
        print(
            f"{row.accounts:>12,} accounts, {row.index_entries:,} index entries "
            f"({row.window} window, {row.index} index, {row.map}): "
            f"{row.cpu_us_per_transfer} µs CPU and "
            f"{row.disk_bytes_per_transfer:,} disk bytes per transfer"
        )
    if "runs_cost" in result:
        print("sorted runs:", result["runs_cost"])
    if "convoy" in result:
        print("convoy:", result["convoy"])


if __name__ == "__main__":
    main()
