"""`bakong bench scale`: how throughput, finality, memory, catch-up and restore change with the
number of validators, the number of accounts and the length of the chain (issue 6, "Scale").

    bakong bench scale --json [--plot FILE] [--quick] [--history-txs N]

Everything runs in one temporary directory, removed at the end (each experiment's own
directory is removed as soon as it is done, to bound the disk used). Method, per experiment:

0. `verify_per_s`: the machine's Ed25519 verification ceiling with every core
   (`bakong.bench.workload.verify_ceiling`), measured first; it sizes the transfer pools (as in
   `bakong bench network`) and gives each size its `efficiency`.
1. **Validators** (`--sizes 4,7,10`): for each size, a local network of that many `bakong
   node run` processes whose state holds `--size-accounts` accounts, then the load generator
   of `bakong bench network` (`bakong.bench.loadgen`, its own process) submits pre-signed
   transfers round-robin to every validator at saturation, then at half the throughput it
   measured, each for `--duration` seconds after a warm-up. `tps` is the committed rate at
   saturation; `finality_ms` (submit -> commit on the central bank's commit stream,
   p50/p95/p99/max) at saturation and at half load; `efficiency = tps * validators /
   verify_per_s`; CPU and peak RSS per validator polled with psutil.
2. **Accounts** (`--accounts-steps 1e4,1e5,1e6,1e7`, on `--accounts-validators` validators):
   the same load at saturation only, with N accounts in state. The state is built directly,
   not through consensus (`bakong.bench.state_builder`: canonical account records appended to
   one validator's LMDB store at height 0, then the store file copied to every other
   validator, so they all start from identical state). Only the accounts that the pre-signed
   transfers send from hold money (and their real keys), and `Supply` says exactly that much
   was issued: conservation holds. Transfers pick random sources and targets over all N
   accounts, so the store is read all over its key space. Per validator after the load:
   peak RSS of the main process (`rss_mb`; it counts the LMDB pages the process has touched,
   which are file-backed page cache, reclaimable), with its verifier processes
   (`rss_mb_with_workers`), and `uss_mb` / `anon_mb` (psutil `memory_full_info`: memory only
   this process holds, and RSS minus file-backed pages: what the process itself allocated);
   `disk_written_mb`: what the machine's block devices wrote during the load run.
   With `--rounds R` (default 3), the first round runs every step and each further round the
   smallest and then the largest only, interleaved (1e4, ..., 1e7, 1e4, 1e7, 1e4, 1e7); a
   step's row is its median-tps run, with `tps_rounds` and `tps_ratio_rounds` (each round's
   tps over the smallest step's in the same round). `accounts_ratio` is the target's figure:
   the largest step's per-round ratios and their median, with `disk_bytes_per_transfer` at
   both sizes: `disk_written_mb` over the transfers the run committed `ok` (every phase,
   warm-up included, as the disk figure is).
   `tps_ratio_vs_smallest` is each step's tps over the smallest step's (target: >= 0.8 at
   10^7 against 10^4; memory target: <= 4 GB per validator at 10^7). The genesis snapshot
   interval is raised above the run's length there, so no background snapshot digest of the
   whole state competes for the CPU during the measurement (experiment 4 measures snapshots).
   `state_build_s` is the time to write the state, `copy_s` to copy it to the other stores.
   `--history-txs N` (default 0) gives every load's state the replay-window and
   transaction-index entries of N transactions committed within the last day
   (`state_builder` step 4): a chain at production size, whose blocks write among them.
3. **Catch-up** (`--catchup-blocks 10000`): a chain of real blocks (transfers in each, signed
   commits, snapshot roots where due) built offline by `bakong.bench.chain_builder` into one
   store, with block times in the past; the store is copied to validators 0..n-2 and the last
   validator starts on an empty store with the others. `catchup_s` is from its process start
   to its answering a height >= the chain's; `blocks_per_s` is blocks over that time
   (`blocks_per_s_after_up`: from its first status answer, without process start-up).
4. **Restore** (`--restore-accounts 1e6`): a state of that many accounts built directly, then
   `restore_interval + restore_lag` blocks built on it with a genesis snapshot interval and
   lag chosen so that the chain passes one snapshot height and its carrier (the builder's
   store digests the snapshot, which the carrier's header names). Validators 0..n-2 run on
   copies; `bakong node restore --home DIR --from URL --json` fills the last validator's empty
   store from validator 0: its own report (seconds, entries, chunks, bytes), `entries_per_s`,
   and `wall_s` with process start-up. Then that validator is started and `rejoin_s` is the
   time until it answers the network's height.

Nothing here asserts a time. Every wait has a deadline; child processes are stopped in
`finally` (also on Ctrl-C) and temporary directories are removed.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import httpx
import msgspec
import psutil

from bakong import limits
from bakong.bench import workload
from bakong.bench.chain_builder import build_chain
from bakong.bench.loadgen import LoadConfig, LoadResult, Phase, PhaseFigures
from bakong.bench.network import Monitor, Progress, machine_info, run_loadgen
from bakong.bench.state_builder import build_state, copy_store
from bakong.keystore import read_key_file
from bakong.ledger.genesis import encode_genesis
from bakong.ledger.transaction import Transaction
from bakong.node.localnet import LOCAL_BLOCKS, LOCAL_MEMPOOL, Localnet, init_localnet
from bakong.wire.keys import SigningKey

__all__ = ["Options", "accounts_ratio", "command", "run"]

#: Pool headroom: a phase never runs dry unless the network verifies at the machine's ceiling.
pool_factor_saturation = 1.3
pool_factor_half = 0.65
#: Issue 6's target: throughput at the largest accounts step within 20 % of the smallest's.
accounts_ratio_target = 0.8


@dataclass(frozen=True)
class Options:
    sizes: tuple[int, ...] = (4, 7, 10)
    size_accounts: int = 10_000
    accounts_steps: tuple[int, ...] = (10**4, 10**5, 10**6, 10**7)
    accounts_validators: int = 4
    accounts_rounds: int = 3
    duration_s: float = 20.0
    warmup_s: float = 5.0
    catchup_blocks: int = 10_000
    catchup_validators: int = 4
    catchup_spacing_ms: int = 100
    transfers_per_block: int = 4
    restore_accounts: int = 10**6
    history_txs: int = 0  # replay-window and index entries in each load's state
    restore_interval: int = 100
    restore_lag: int = 10
    seed: int = 1
    mempool_txs: int = 10_000
    batch_txs: int = 256
    verify_s: float = limits.bench_verify_ceiling_s


QUICK = Options(
    sizes=(4,),
    size_accounts=10_000,
    accounts_steps=(1_000, 10_000),
    duration_s=5.0,  # 3 s once measured nothing committed on a loaded CI machine
    warmup_s=3.0,
    catchup_blocks=200,
    restore_accounts=10_000,
    restore_interval=20,
    restore_lag=3,
    verify_s=0.5,
    accounts_rounds=1,
)


class _Bar(Progress):
    """The network bench's progress bar, named for this benchmark on a log (non-tty)."""

    def begin(self, stage: str) -> None:
        if self.stage:
            self.done += self.stages.get(self.stage, 0.0)
        self.stage = stage
        if self.enabled and not self.tty:
            click.echo(f"bench scale: {stage}", err=True)
        self.update(0.0, force=True)


@dataclass
class _Context:
    options: Options
    work: Path
    executor: ProcessPoolExecutor
    bar: _Bar
    plot: Path | None
    verify_per_s: float = 0.0
    cores: int = 0
    loads: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    catchup_trace: list[tuple[float, int]] = field(default_factory=list)


# -- networks -------------------------------------------------------------------------------


def _init_net(
    directory: Path, validators: int, mempool_txs: int, **genesis_changes: int
) -> Localnet:
    """A new local network; `genesis_changes` replace genesis fields before any store exists
    (every node reads its own copy of genesis.json, so each copy is rewritten)."""
    mempool = msgspec.structs.replace(
        LOCAL_MEMPOOL, txs_max=max(mempool_txs, LOCAL_BLOCKS.txs_max)
    )
    init_localnet(directory, validators, mempool=mempool)
    if genesis_changes:
        genesis = Localnet(directory).genesis
        data = encode_genesis(msgspec.structs.replace(genesis, **genesis_changes))
        for path in [directory / "genesis.json", *directory.glob("validator-*/genesis.json")]:
            path.write_bytes(data)
    return Localnet(directory)


def _node_keys(net: Localnet) -> list[SigningKey]:
    return [read_key_file(child.home / "node_key.json") for child in net.children]


@contextmanager
def _running(net: Localnet, indices: list[int]) -> Iterator[Localnet]:
    """Validators `indices` run inside this block; every started process is stopped after."""
    try:
        for index in indices:
            net.start_validator(index)
        yield net
    finally:
        net.stop()


def _copy_to_others(net: Localnet, indices: list[int]) -> float:
    began = time.perf_counter()
    source = net.children[0].home / "data"
    for index in indices:
        copy_store(source, net.children[index].home / "data")
    # The copies on disk before any load: else their write-back (gigabytes at 10^7) would
    # count in the load's disk bytes and queue ahead of the validators' syncs.
    os.sync()
    return time.perf_counter() - began


# -- experiments 1 and 2: load against a state of N accounts --------------------------------


def _pool(
    ctx: _Context, work: Path, validators: int, accounts: int, half: bool, chain_id: str
) -> tuple[int, int, dict[int, bytes]]:
    """Pre-sign the transfers (written to `work/pool.msgpack`); (saturation slice, pool size,
    the funded accounts: each source of a transfer with its public key). The saturation
    slice also holds what the mempools take in, since saturation keeps them full: without it
    a fast network absorbed a pool sized from a low verification sample within the warm-up,
    which left the measured window empty."""
    options = ctx.options
    per_phase = ctx.verify_per_s / validators * (options.warmup_s + options.duration_s)
    queued = validators * max(options.mempool_txs, LOCAL_BLOCKS.txs_max)
    saturation = math.ceil(per_phase * pool_factor_saturation) + queued
    count = saturation + (math.ceil(per_phase * pool_factor_half) if half else 0)
    signed = workload.sign_pool(
        accounts=accounts,
        count=count,
        seed=options.seed,
        chain_id=chain_id,
        executor=ctx.executor,
        tick=lambda: None,
    )
    (work / "pool.msgpack").write_bytes(msgspec.msgpack.encode(signed.pool))
    decoder = msgspec.msgpack.Decoder(Transaction)
    funded: dict[int, bytes] = {}
    for raw in signed.pool:  # each source account, with the key that signed for it
        transaction = decoder.decode(raw)
        index = int(transaction.payload.creator.split("@")[0][1:])
        funded[index] = transaction.signatures[0].public_key
    return saturation, count, funded


def _phases(options: Options, saturation: int, pool: int, half: bool) -> list[Phase]:
    phases = [
        Phase("saturation", "saturation", options.warmup_s, options.duration_s, 0, saturation)
    ]
    if half:
        phases.append(
            Phase(
                "half_load",
                "rate",
                options.warmup_s,
                options.duration_s,
                saturation,
                pool,
                rate_of="saturation",
                rate_factor=0.5,
            )
        )
    return phases


def _memory(pids: dict[str, int]) -> dict[str, dict[str, float]]:
    """USS and anonymous memory (RSS minus file-backed pages) of each validator's main process
    and, summed, of its verifier workers, in MB."""
    figures: dict[str, dict[str, float]] = {}
    for name, pid in pids.items():
        try:
            main = psutil.Process(pid)
            family = [main, *main.children(recursive=True)]
            infos = [process.memory_full_info() for process in family]
        except psutil.Error:
            continue
        own = infos[0]
        figures[name] = {
            "uss_mb": round(own.uss / 2**20, 1),
            "anon_mb": round((own.rss - own.shared) / 2**20, 1),
            "file_mb": round(own.shared / 2**20, 1),
            "uss_mb_with_workers": round(sum(info.uss for info in infos) / 2**20, 1),
        }
    return figures


def _disk_written() -> int | None:
    """Bytes the machine's block devices have written so far (every process: the validators
    and anything else). A process's own `io_counters().write_bytes` is no measure of an LMDB
    store's writes: it counts each page written into the page cache, and measured with LMDB's
    page reuse it counted 7 times what reached the device (1,309 MB against 191 MB for ten
    2,000-transfer blocks on a 10^6-key store)."""
    counters = psutil.disk_io_counters(perdisk=False)
    return None if counters is None else int(counters.write_bytes)


def _latency(phase: PhaseFigures) -> dict[str, float]:
    p = phase.finality_ms
    return {"p50": p.p50, "p95": p.p95, "p99": p.p99, "max": p.max}


def _load_figures(
    ctx: _Context,
    result: LoadResult,
    monitor: Monitor,
    memory: dict[str, dict[str, float]],
    validators: int,
    accounts: int,
) -> dict[str, Any]:
    saturation = result.phases[0]
    rss = monitor.rss_max
    figures: dict[str, Any] = {
        "validators": validators,
        "accounts": accounts,
        "tps": saturation.tps,
        "finality_ms": _latency(saturation),
        "efficiency": round(saturation.tps * validators / ctx.verify_per_s, 4),
        "rss_mb_max": round(max(rss.values(), default=0.0), 1),
        "rss_mb": {name: round(value, 1) for name, value in rss.items()},
        "rss_mb_with_workers_max": round(max(monitor.rss_all_max.values(), default=0.0), 1),
        "uss_mb_max": max((m["uss_mb"] for m in memory.values()), default=0.0),
        "anon_mb_max": max((m["anon_mb"] for m in memory.values()), default=0.0),
        "memory": memory,
        "cpu_s": {name: round(value, 2) for name, value in monitor.cpu_s().items()},
        "submitted": sum(p.submitted for p in result.phases),
        "failed": sum(sum(p.failed.values()) for p in result.phases),
        "rejected": sum(p.rejected_total for p in result.phases),
        "rejected_codes": dict(sum((Counter(p.rejected) for p in result.phases), Counter())),
        "uncommitted": sum(p.uncommitted for p in result.phases),
        "pool_exhausted": any(p.pool_exhausted for p in result.phases),
    }
    if len(result.phases) > 1:
        half = result.phases[1]
        figures["half_load_tps"] = half.tps
        figures["finality_half_load_ms"] = _latency(half)
    return figures


def _load(
    ctx: _Context, validators: int, accounts: int, half: bool, reuse: bool = True
) -> dict[str, Any]:
    """One network of `validators` over a state of `accounts` accounts, under load (`reuse`:
    the figures of an earlier run of the same experiment, when there was one)."""
    options = ctx.options
    key = (validators, accounts)
    if reuse and key in ctx.loads and ("half_load_tps" in ctx.loads[key] or not half):
        return dict(ctx.loads[key])  # the same experiment already ran (a size and a step)
    work = ctx.work / f"load-{validators}v-{accounts}"
    work.mkdir()
    try:
        net = _init_net(
            work / "net", validators, options.mempool_txs, snapshot_interval=10**9, snapshot_lag=1
        )
        chain_id = net.genesis.chain_id
        ctx.bar.begin(f"{validators} validators, {accounts:,} accounts: pre-signing")
        saturation, pool, funded = _pool(ctx, work, validators, accounts, half, chain_id)
        ctx.bar.begin(f"{validators} validators, {accounts:,} accounts: building the state")
        built = build_state(
            net.children[0].home / "data", net.genesis, accounts, funded, options.history_txs
        )
        copy_s = _copy_to_others(net, list(range(1, validators)))
        ctx.bar.begin(f"{validators} validators, {accounts:,} accounts: load")
        phases = _phases(options, saturation, pool, half)
        result, monitor, memory, disk_bytes = _measure(ctx, work, net, phases)
        figures = _load_figures(ctx, result, monitor, memory, validators, accounts)
        committed = sum(phase.committed_ok for phase in result.phases)
        figures.update(
            {
                "state_build_s": round(built.seconds, 2),
                "state_entries": built.entries,
                "history_txs": built.history_txs,
                "funded_accounts": built.funded,
                "store_mb": round(built.store_bytes / 2**20, 1),
                "copy_s": round(copy_s, 2),
                "disk_written_mb": None if disk_bytes is None else round(disk_bytes / 2**20, 1),
                "committed_ok": committed,
                "disk_bytes_per_transfer": (
                    None if disk_bytes is None or not committed else round(disk_bytes / committed)
                ),
                "transfers_presigned": pool,
            }
        )
        _plot_load(ctx, result, figures)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ctx.loads[key] = figures
    return dict(figures)


def _measure(
    ctx: _Context, work: Path, net: Localnet, phases: list[Phase]
) -> tuple[LoadResult, Monitor, dict[str, dict[str, float]], int | None]:
    """Run `phases` of the load generator against the running network; memory at the end,
    and the bytes the machine's disks wrote meanwhile."""
    with _running(net, list(range(len(net.children)))):
        if not net.wait_for_height(1, limits.localnet_start_timeout_s):
            raise click.ClickException("the local network did not commit a block in time")
        pids = {c.name: c.process.pid for c in net.children if c.process is not None}
        monitor = Monitor(pids)
        monitor.start()
        written = _disk_written()
        config = LoadConfig(
            urls=[child.api_url for child in net.children],
            chain_id=net.genesis.chain_id,
            key_file=str(net.directory / "keys" / "nbc-gateway.json"),
            pool_file=str(work / "pool.msgpack"),
            out_file=str(work / "load-result.msgpack"),
            phases=phases,
            batch_txs=ctx.options.batch_txs,
        )
        expected = sum(p.warmup_s + p.duration_s + 2 for p in phases)
        try:
            result = run_loadgen(work, "load", config, expected, ctx.bar)
        finally:
            monitor.stop()
        memory = _memory(pids)  # while the validators still hold what the load made them hold
        total = _disk_written()
        disk_bytes = None if written is None or total is None else total - written
    return result, monitor, memory, disk_bytes


def _plot_load(ctx: _Context, result: LoadResult, figures: dict[str, Any]) -> None:
    if ctx.plot is None:
        return
    from bakong.bench.plot import draw_network

    name = f"{ctx.plot.stem}-{figures['validators']}v-{figures['accounts']}{ctx.plot.suffix}"
    title = (
        f"bakong bench scale: {figures['validators']} validators, {figures['accounts']:,} "
        f"accounts; tps {figures['tps']:,}, RSS max {figures['rss_mb_max']} MB"
    )
    draw_network(ctx.plot.with_name(name), result.phases, title=title)


# -- experiment 3: catch-up -----------------------------------------------------------------


def _poll_height(client: httpx.Client, url: str) -> int | None:
    try:
        height: int = client.get(url + "/v1/status").json()["height"]
        return height
    except (httpx.HTTPError, ValueError, KeyError):
        return None


def _wait_height(
    url: str,
    height: int,
    timeout_s: float,
    trace: list[tuple[float, int]],
    began: float,
    tick: Callable[[float], None],
) -> float | None:
    """Seconds from `began` until the node at `url` answers a height >= `height` (None at the
    deadline); `trace` gets (seconds, height) samples, the first answer first."""
    deadline = began + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            answered = _poll_height(client, url)
            now = time.monotonic()
            if answered is not None:
                trace.append((round(now - began, 3), answered))
                tick(answered / max(height, 1))
                if answered >= height:
                    return now - began
            time.sleep(0.1)
    return None


def _catchup(ctx: _Context) -> dict[str, Any]:
    options = ctx.options
    blocks, size = options.catchup_blocks, options.catchup_validators
    work = ctx.work / "catchup"
    span_ms = blocks * options.catchup_spacing_ms
    genesis_ms = time.time_ns() // 1_000_000 - span_ms - 60_000  # the chain ends a minute ago
    try:
        net = _init_net(work / "net", size, options.mempool_txs, genesis_time_ms=genesis_ms)
        ctx.bar.begin(f"catch-up: building {blocks:,} blocks offline")
        built = build_chain(
            net.children[0].home / "data",
            net.genesis,
            net.directory / "keys",
            _node_keys(net),
            blocks=blocks,
            start_ms=genesis_ms + options.catchup_spacing_ms,
            spacing_ms=options.catchup_spacing_ms,
            transfers_per_block=options.transfers_per_block,
            seed=options.seed,
            tick=lambda done: ctx.bar.update(done / blocks),
        )
        _copy_to_others(net, list(range(1, size - 1)))
        ctx.bar.begin(f"catch-up: validator-{size - 1} from an empty store")
        with _running(net, list(range(size))):
            began = time.monotonic()
            seconds = _wait_height(
                net.children[-1].api_url,
                blocks,
                60 + blocks / 20,
                ctx.catchup_trace,
                began,
                ctx.bar.update,
            )
        if seconds is None:
            raise click.ClickException(f"the last validator did not reach height {blocks}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    up_s = ctx.catchup_trace[0][0]
    return {
        "validators": size,
        "blocks": blocks,
        "transactions": built.transactions,
        "build_s": round(built.seconds, 2),
        "build_blocks_per_s": round(blocks / built.seconds, 1),
        "catchup_s": round(seconds, 2),
        "first_status_s": up_s,
        "blocks_per_s": round(blocks / seconds, 1),
        "blocks_per_s_after_up": round(blocks / max(seconds - up_s, 1e-3), 1),
    }


# -- experiment 4: restore from a snapshot --------------------------------------------------


def _restore_process(net: Localnet) -> tuple[dict[str, Any], float]:
    """`bakong node restore` for the last validator from validator 0; (its report, wall s)."""
    command = [
        sys.executable,
        "-m",
        "bakong",
        "node",
        "restore",
        "--json",
        "--home",
        str(net.children[-1].home),
        "--from",
        net.children[0].api_url,
    ]
    began = time.monotonic()
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            timeout=limits.bench_restore_timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise click.ClickException("bakong node restore did not finish in time") from None
    wall = time.monotonic() - began
    if done.returncode != 0:
        raise click.ClickException(f"bakong node restore failed: {done.stderr.decode()[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report, wall


def _restore_state(ctx: _Context, net: Localnet) -> tuple[float, float]:
    """The state and the chain over it on validator 0, copied to 1..n-2; (state s, chain s)."""
    options = ctx.options
    data = net.children[0].home / "data"
    built = build_state(data, net.genesis, options.restore_accounts, {})
    chain = build_chain(
        data,
        net.genesis,
        net.directory / "keys",
        _node_keys(net),
        blocks=options.restore_interval + options.restore_lag,
        start_ms=net.genesis.genesis_time_ms + 1_000,
        spacing_ms=1_000,
        transfers_per_block=options.transfers_per_block,
        seed=options.seed,
    )
    _copy_to_others(net, list(range(1, len(net.children) - 1)))
    return built.seconds, chain.seconds


def _restore(ctx: _Context) -> dict[str, Any]:
    options = ctx.options
    size = options.catchup_validators
    work = ctx.work / "restore"
    blocks = options.restore_interval + options.restore_lag
    genesis_ms = time.time_ns() // 1_000_000 - (blocks + 60) * 1_000
    try:
        net = _init_net(
            work / "net",
            size,
            options.mempool_txs,
            genesis_time_ms=genesis_ms,
            snapshot_interval=options.restore_interval,
            snapshot_lag=options.restore_lag,
        )
        ctx.bar.begin(f"restore: {options.restore_accounts:,} accounts, chain and snapshot")
        state_s, chain_s = _restore_state(ctx, net)
        ctx.bar.begin("restore: bakong node restore")
        with _running(net, list(range(size - 1))):
            if not net.wait_for_height(blocks, limits.localnet_start_timeout_s, count=1):
                raise click.ClickException("the restore network did not answer in time")
            report, wall = _restore_process(net)
            net.start_validator(size - 1)
            began = time.monotonic()
            with httpx.Client(timeout=2.0) as client:
                target = _poll_height(client, net.children[0].api_url) or blocks
            rejoin = _wait_height(
                net.children[-1].api_url,
                target,
                limits.localnet_start_timeout_s,
                [],
                began,
                lambda _: None,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "accounts": options.restore_accounts,
        "state_build_s": round(state_s, 2),
        "chain_build_s": round(chain_s, 2),
        "snapshot_interval": options.restore_interval,
        **report,
        "entries_per_s": round(report["entries"] / max(report["seconds"], 1e-3), 1),
        "mb_per_s": round(report["bytes"] / 2**20 / max(report["seconds"], 1e-3), 2),
        "wall_s": round(wall, 2),
        "rejoin_s": None if rejoin is None else round(rejoin, 2),
    }


# -- the whole run --------------------------------------------------------------------------


def _accounts_steps(ctx: _Context) -> list[dict[str, Any]]:
    """The first round runs every step; each further round (`accounts_rounds`) runs only the
    smallest step and then the largest, so that a drifting machine moves both alike and each
    round's ratio compares neighbours. One row per step: the run of median tps, with every
    round's tps and, per round, its tps over the smallest step's in the same round."""
    options = ctx.options
    steps = options.accounts_steps
    runs: dict[int, list[tuple[int, dict[str, Any]]]] = {n: [] for n in steps}
    for repeat in range(options.accounts_rounds):
        for accounts in steps if repeat == 0 else sorted({steps[0], steps[-1]}):
            run = _load(ctx, options.accounts_validators, accounts, False, reuse=repeat == 0)
            runs[accounts].append((repeat, run))
    smallest = dict(runs[steps[0]]) if steps else {}
    rows = []
    for step_runs in runs.values():
        figures = [f for _, f in step_runs]
        row = dict(sorted(figures, key=lambda f: f["tps"])[(len(figures) - 1) // 2])
        row["tps_rounds"] = [f["tps"] for f in figures]
        row["disk_bytes_per_transfer_rounds"] = [f["disk_bytes_per_transfer"] for f in figures]
        row["tps_ratio_rounds"] = [
            round(f["tps"] / smallest[repeat]["tps"], 3) if smallest[repeat]["tps"] else None
            for repeat, f in step_runs
        ]
        rows.append(row)
    return rows


def accounts_ratio(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The largest step's throughput over the smallest's: each round's ratio (the two ran
    back to back), their median, and disk bytes per committed transfer at each size (the
    median-tps run's, and every round's)."""
    small, large = rows[0], rows[-1]
    ratios = [ratio for ratio in large["tps_ratio_rounds"] if ratio is not None]
    return {
        "small": small["accounts"],
        "large": large["accounts"],
        "ratios": large["tps_ratio_rounds"],
        "median": round(statistics.median(ratios), 3) if ratios else None,
        "target": accounts_ratio_target,
        "met": bool(ratios) and statistics.median(ratios) >= accounts_ratio_target,
        "disk_bytes_per_transfer": {
            "small": small["disk_bytes_per_transfer"],
            "large": large["disk_bytes_per_transfer"],
            "small_rounds": small["disk_bytes_per_transfer_rounds"],
            "large_rounds": large["disk_bytes_per_transfer_rounds"],
        },
    }


def _accounts_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Each step's (median) tps against the smallest step's, and the issue's two targets."""
    if not rows:
        return {}
    smallest, largest = rows[0], rows[-1]
    for row in rows:
        base = smallest["tps"]
        row["tps_ratio_vs_smallest"] = round(row["tps"] / base, 3) if base else None
    ratio = largest["tps_ratio_vs_smallest"]
    return {
        "smallest": smallest["accounts"],
        "largest": largest["accounts"],
        "rounds": len(largest["tps_rounds"]),
        "tps_ratio_largest_vs_smallest": ratio,
        "tps_ratio_largest_vs_smallest_rounds": largest["tps_ratio_rounds"],
        "tps_within_20_percent": ratio is not None and ratio >= accounts_ratio_target,
        "rss_mb_max_largest": largest["rss_mb_max"],
        "rss_mb_with_workers_max_largest": largest["rss_mb_with_workers_max"],
        "memory_within_4_gb": largest["rss_mb_with_workers_max"] <= 4096,
    }


def _experiments(ctx: _Context) -> dict[str, Any]:
    options = ctx.options
    ctx.bar.begin("verify ceiling (all cores)")
    ctx.verify_per_s, ctx.cores = workload.verify_ceiling(options.verify_s, ctx.executor)
    sizes = [_load(ctx, size, options.size_accounts, half=True) for size in options.sizes]
    steps = _accounts_steps(ctx) if options.accounts_steps else []
    summary = _accounts_summary(steps)
    catchup = _catchup(ctx) if options.catchup_blocks > 0 else None
    restore = _restore(ctx) if options.restore_accounts > 0 else None
    return {
        "verify_per_s": round(ctx.verify_per_s, 1),
        "duration_s": options.duration_s,
        "warmup_s": options.warmup_s,
        "history_txs": options.history_txs,
        "sizes": sizes,
        "accounts": steps,
        "accounts_summary": summary,
        "accounts_ratio": accounts_ratio(steps) if steps else None,
        "catchup": catchup,
        "catchup_trace": ctx.catchup_trace,
        "restore": restore,
    }


def run(options: Options, *, progress: bool = True, plot: Path | None = None) -> dict[str, Any]:
    """Every experiment of the module docstring; the figures."""
    rounds = len(options.accounts_steps) + 2 * (options.accounts_rounds - 1)
    loads = len(options.sizes) * 2 + rounds
    load_s = options.warmup_s + options.duration_s + 8
    stages = {"verify ceiling (all cores)": 3.0}
    bar = _Bar(stages | {"load": loads * load_s}, enabled=progress)
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="bakong-bench-scale-"))
    try:
        with workload.new_executor() as executor:
            ctx = _Context(options, work, executor, bar, plot)
            figures = _experiments(ctx)
        figures["machine"] = machine_info(ctx.cores)
        figures["total_s"] = round(time.monotonic() - began, 1)
        if plot is not None:
            from bakong.bench.scale_plot import draw_scale

            draw_scale(plot, figures)
        bar.finish()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return figures


def _row(cells: list[object], widths: list[int]) -> str:
    return "  ".join(f"{cell!s:>{width}}" for cell, width in zip(cells, widths, strict=True))


_size_columns = [
    ("validators", lambda r: r["validators"]),
    ("accounts", lambda r: r["accounts"]),
    ("tps", lambda r: r["tps"]),
    ("p50 ms", lambda r: r["finality_ms"]["p50"]),
    ("p99 ms", lambda r: r["finality_ms"]["p99"]),
    ("half tps", lambda r: r.get("half_load_tps")),
    ("half p50", lambda r: r.get("finality_half_load_ms", {}).get("p50")),
    ("half p99", lambda r: r.get("finality_half_load_ms", {}).get("p99")),
    ("efficiency", lambda r: r["efficiency"]),
    ("RSS MB", lambda r: r["rss_mb_max"]),
]
_step_columns = [
    ("accounts", lambda r: r["accounts"]),
    ("tps", lambda r: r["tps"]),
    ("ratio", lambda r: r["tps_ratio_vs_smallest"]),
    ("p50 ms", lambda r: r["finality_ms"]["p50"]),
    ("RSS MB", lambda r: r["rss_mb_max"]),
    ("+workers MB", lambda r: r["rss_mb_with_workers_max"]),
    ("USS MB", lambda r: r["uss_mb_max"]),
    ("anon MB", lambda r: r["anon_mb_max"]),
    ("disk MB", lambda r: r.get("disk_written_mb")),
    ("disk B/tx", lambda r: r.get("disk_bytes_per_transfer")),
    ("build s", lambda r: r["state_build_s"]),
    ("store MB", lambda r: r["store_mb"]),
]


def _table(
    title: str, columns: list[tuple[str, Callable[[Any], Any]]], rows: list[Any]
) -> list[str]:
    widths = [max(9, len(name)) for name, _ in columns]
    lines = ["", title, _row([name for name, _ in columns], widths)]
    lines += [_row([cell(row) for _, cell in columns], widths) for row in rows]
    return lines


def _human(figures: dict[str, Any]) -> str:
    f = figures
    lines = [
        f"machine: {f['machine']['cores']} cores ({f['machine']['cpu']}); ed25519 verify "
        f"{f['verify_per_s']:,}/s; {f['duration_s']} s per phase after {f['warmup_s']} s"
    ]
    lines += _table(
        "throughput and finality by validators (saturation; half load)", _size_columns, f["sizes"]
    )
    lines += _table("memory and throughput by accounts in state", _step_columns, f["accounts"])
    s = f["accounts_summary"]
    if s:
        lines.append(
            f"target: tps at {s['largest']:,} / at {s['smallest']:,} = "
            f"{s['tps_ratio_largest_vs_smallest']} (>= 0.8: {s['tps_within_20_percent']}; "
            f"medians of {s['rounds']} rounds, each round's ratio: "
            f"{s['tps_ratio_largest_vs_smallest_rounds']}); "
            f"memory {s['rss_mb_with_workers_max_largest']} MB (<= 4096: "
            f"{s['memory_within_4_gb']})"
        )
    a = f["accounts_ratio"]
    if a:
        disk = a["disk_bytes_per_transfer"]
        lines.append(
            f"accounts ratio {a['large']:,} / {a['small']:,}: median {a['median']} of rounds "
            f"{a['ratios']} (target >= {a['target']}: {a['met']}); disk bytes per transfer "
            f"{disk['small']} / {disk['large']}"
        )
    c, r = f["catchup"], f["restore"]
    if c:
        lines += [
            "",
            f"catch-up: {c['blocks']:,} blocks ({c['transactions']:,} transactions) "
            f"in {c['catchup_s']} s = {c['blocks_per_s']} blocks/s "
            f"({c['blocks_per_s_after_up']} after start-up); built in {c['build_s']} s",
        ]
    if r:
        lines += [
            "",
            f"restore: {r['entries']:,} entries, {r['bytes']:,} bytes in {r['chunks']} "
            f"chunks, {r['seconds']} s ({r['entries_per_s']:,} entries/s, "
            f"{r['mb_per_s']} MB/s; {r['wall_s']} s with start-up); rejoined in "
            f"{r['rejoin_s']} s",
        ]
    lines.append(f"\ntotal {f['total_s']} s")
    return "\n".join(lines)


def _counts(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(float(part)) for part in text.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of numbers") from None


@click.command()
@click.option(
    "--quick",
    is_flag=True,
    help="A smoke slice: 4 validators, 10^3 and 10^4 "
    "accounts, 200 blocks of catch-up, a small restore, 3 s phases.",
)
@click.option("--sizes", default=None, help="Validator counts [default: 4,7,10].")
@click.option(
    "--accounts-steps", default=None, help="Accounts in state [default: 1e4,1e5,1e6,1e7]."
)
@click.option(
    "--rounds",
    default=None,
    type=click.IntRange(1, 20),
    help="Rounds of the smallest and largest accounts steps, interleaved; medians are "
    "reported [default: 3; --quick: 1].",
)
@click.option(
    "--duration",
    default=None,
    type=click.FloatRange(1, 3_600),
    help="Seconds measured per phase, after the warm-up [default: 20].",
)
@click.option(
    "--catchup-blocks",
    default=None,
    type=click.IntRange(0, 10**6),
    help="Blocks to catch up [default: 10000]; 0 skips.",
)
@click.option(
    "--restore-accounts",
    default=None,
    type=float,
    help="Accounts in the restored state [default: 1e6]; 0 skips.",
)
@click.option(
    "--history-txs",
    default=None,
    type=float,
    help="Transactions of the last day in each load's state: their replay-window and "
    "transaction-index entries [default: 0].",
)
@click.option(
    "--plot",
    "plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a PNG summary to FILE, and one PNG per load run beside it.",
)
@click.option("--json", "as_json", is_flag=True)
def command(
    quick: bool,
    sizes: str | None,
    accounts_steps: str | None,
    rounds: int | None,
    duration: float | None,
    catchup_blocks: int | None,
    restore_accounts: float | None,
    history_txs: float | None,
    plot: Path | None,
    as_json: bool,
) -> None:
    """Throughput, finality and memory by validators and accounts; catch-up; restore."""
    options = QUICK if quick else Options()
    changes: dict[str, Any] = {}
    if sizes is not None:
        changes["sizes"] = _counts(sizes)
        if not all(4 <= size <= 10 for size in changes["sizes"]):
            raise click.BadParameter("a local network has 4 to 10 validators")
    if accounts_steps is not None:
        changes["accounts_steps"] = tuple(sorted(set(_counts(accounts_steps))))
    if rounds is not None:
        changes["accounts_rounds"] = rounds
    if duration is not None:
        changes.update(duration_s=duration, warmup_s=min(5.0, max(3.0, duration / 4)))
    if catchup_blocks is not None:
        changes["catchup_blocks"] = catchup_blocks
    if restore_accounts is not None:
        changes["restore_accounts"] = int(restore_accounts)
    if history_txs is not None:
        if not 0 <= history_txs <= limits.bench_history_txs_max:
            raise click.BadParameter(
                f"0 to {limits.bench_history_txs_max:.0e}", param_hint="--history-txs"
            )
        changes["history_txs"] = int(history_txs)
    options = dataclasses.replace(options, **changes)
    figures = run(options, plot=plot)
    click.echo(json.dumps(figures) if as_json else _human(figures))
