"""`bakong bench network`: throughput and finality of a local network of validator processes,
against a central PostgreSQL ledger and the machine's Ed25519 ceiling, measured in one run.

    bakong bench network --validators 4 --duration 30 --json [--plot FILE]

Method (everything in one temporary directory, removed at the end):
1. `verify_per_s`: one process per core verifies pre-made Ed25519 signatures for the same
   two seconds (`bakong.bench.workload.verify_ceiling`), before anything else runs, and again
   after everything else: the higher of the two (both are in `verify_per_s_samples`), since
   a shared machine can only make a sample lower than the ceiling. Likewise
   `verify_one_core_per_s`, one process alone, whose inverse `signature_us_one_core` prices
   one signature check.
2. A local network (`bakong.node.localnet`) of `--validators` `bakong node run` processes,
   with a bounded mempool (`--mempool-txs`) so that saturation shows as `busy`, not as an
   ever longer queue. Four or more tolerate a fault (n = 3f + 1); `--validators 1` measures
   one validator alone on the machine, which is what each validator of a network does when it
   has a machine of its own: its work per transfer is a follower's in a network (it also
   takes every submission and proposes every block), without peers' share of the cores.
3. Pre-signed, before any timing: the setup transactions and a pool of transfers between
   random accounts (seeded; `bakong.bench.workload`). The pool holds 1.5 times as many
   transfers as the network could commit if verification were its only cost
   (`verify_per_s / validators` per second of each phase), and for each saturation phase
   what the validators' mempools hold, so it is not exhausted before a phase ends (if it
   were, the phase's window would end there, marked `pool_exhausted`).
4. Setup through consensus: the central bank issues riel, each participant opens its accounts
   and its settlement account funds them, in multi-command transactions at `--setup-rate`
   transactions per second (a block of 2,000 transactions of 32 commands would take longer to
   execute than the local propose timeout). Every result must be `ok`.
5. The load generator (`bakong.bench.loadgen`, its own process) submits the pool round-robin
   to every validator (two batches in flight per validator, eight at the least) at
   saturation, then at half the throughput it measured, and observes commits on the central
   bank's commit stream. Each phase has a warm-up it excludes.
   `tps` is the sustained committed rate at saturation; `finality_ms` the submit → commit
   latency of every transfer submitted in the measured window, at saturation and at half load.
   Meanwhile the validators' CPU time (with their verifier processes) and peak RSS are polled
   with psutil. The load generator also reads every validator's CPU and its
   `bakong_signature_checks_total` (`/metrics`) before each phase and after its drain, and
   samples its own requests in flight in the measured window (`bakong.bench.loadgen`):
   `validator_cpu` gives, per validator over the saturation phase, `cpu_us_per_transfer`
   (its CPU over the transfers the phase committed `ok`), `signature_checks_per_transfer`,
   `signature_us_per_transfer` (those checks at `signature_us_one_core`) and
   `other_us_per_transfer` (the rest), `signature_checks_on_event_loop_per_transfer` (those
   checks not run in its verifier workers), `main_process_cpu_us_per_transfer` (the validator's
   own process, its event loop: without its verifier workers and snapshot process; with
   `--verify-workers N` each validator verifies in N worker processes, which is what lets a
   validator with cores to spare take its signature checks off the loop), and `cpu_cores`
   in the window;
   `validators_saturation` the load's evidence in the window (in flight, backing off, the
   machine's idle share).
5b. With `--stream-compare` (the default), saturation once more with no stream follower: the
   load generator learns commits by fetching whole blocks from the last validator, so
   validator 0, which served the stream, serves nothing. `stream` compares `tps` and
   validator 0's CPU per transfer with the follower (step 5's saturation) and without.
6. The network stops; the central ledger (`bakong.bench.central_ledger`: one Python service,
   one PostgreSQL server in the temporary directory, seeded with the same accounts, signatories
   and balances) takes the same pre-signed transfers from the same load generator at
   saturation: `postgres_tps` (its POST answers after the commit: latency is response time).
   `postgres_saturation` shows it was saturated: the CPU cores the PostgreSQL server (the
   postmaster and every backend) and the service (with its verifier processes) kept busy,
   the load's requests in flight, and the machine's idle share, over the measured window.

Figures are ratios to baselines of the same run on the same machine, because the machines
are shared and noisy: `ratio_vs_postgres = tps / postgres_tps` (target >= 1),
`efficiency = tps * validators / verify_per_s` (every validator verifies every transfer once:
1.0 would mean the network does nothing but verify; target >= 0.6). Nothing here asserts a
time. Every wait has a deadline; child processes are stopped in `finally`, also on Ctrl-C.
"""

from __future__ import annotations

import itertools
import json
import math
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import msgspec
import psutil

from bakong import limits
from bakong.bench import workload
from bakong.bench.loadgen import (
    LoadConfig,
    LoadResult,
    Phase,
    PhaseFigures,
    Probe,
    WindowFigures,
)
from bakong.keystore import read_key_file
from bakong.node.home import MempoolSection
from bakong.node.localnet import (
    CENTRAL_BANK,
    LOCAL_BLOCKS,
    LOCAL_SNAPSHOTS,
    PARTICIPANTS,
    Localnet,
    init_localnet,
)

__all__ = ["Monitor", "Options", "Progress", "command", "machine_info", "run", "run_loadgen"]

#: The pool: the saturation phase's share is 1, the half-load phase's 0.55 (a little slack);
#: the saturation phase without a stream follower (`--stream-compare`) takes another 1.
pool_phases = 1.55
#: ... times this margin, in case `verify_per_s` was measured low on a busy machine.
pool_margin = 1.5


@dataclass(frozen=True)
class Options:
    validators: int = 4
    duration_s: float = 30.0
    accounts: int = 100_000
    warmup_s: float = 5.0
    seed: int = 1
    pool: int = 0  # 0: sized from the verification ceiling (module docstring, step 3)
    mempool_txs: int = 4_000
    setup_rate: float = 300.0
    batch_txs: int = 256
    postgres: bool = True
    stream_compare: bool = True
    snapshots: tuple[int, int] = LOCAL_SNAPSHOTS  # genesis's snapshot interval and lag
    verify_workers: int = 0  # each validator's `mempool.verify_workers`


class Progress:
    """A progress bar on stderr: stages with weights, each reporting a fraction done."""

    def __init__(
        self, stages: dict[str, float], enabled: bool = True, label: str = "bench network"
    ) -> None:
        self.stages = stages
        self.label = label
        self.total = sum(stages.values())
        self.done = 0.0
        self.stage = ""
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.last_shown = 0.0

    def begin(self, stage: str) -> None:
        if self.stage:
            self.done += self.stages[self.stage]
        self.stage = stage
        if self.enabled and not self.tty:
            click.echo(f"{self.label}: {stage}", err=True)
        self.update(0.0, force=True)

    def update(self, fraction: float, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or not self.tty or (not force and now - self.last_shown < 0.2):
            return
        self.last_shown = now
        part = self.stages.get(self.stage, 0.0) * min(1.0, max(0.0, fraction))
        share = (self.done + part) / self.total
        bar = "#" * int(share * 30)
        click.echo(f"\r[{bar:<30}] {share:4.0%} {self.stage:<40}", err=True, nl=False)

    def finish(self) -> None:
        if self.enabled and self.tty:
            click.echo(f"\r[{'#' * 30}] 100% {'done':<40}", err=True)


@dataclass
class Monitor:
    """Polls CPU time (with child processes) and RSS of each validator until stopped."""

    pids: dict[str, int]
    cpu: dict[int, float] = field(default_factory=dict)  # every process seen: its CPU time
    owner: dict[int, str] = field(default_factory=dict)
    rss_max: dict[str, float] = field(default_factory=dict)  # main process, MB
    rss_all_max: dict[str, float] = field(default_factory=dict)  # with its workers, MB
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    processes: dict[int, Any] = field(default_factory=dict)

    def _process(self, pid: int) -> Any:
        if pid not in self.processes:
            self.processes[pid] = psutil.Process(pid)
        return self.processes[pid]

    def sample(self) -> None:
        for name, pid in self.pids.items():
            try:
                main = self._process(pid)
                family = [main, *main.children(recursive=True)]
            except psutil.Error:
                continue
            rss_all = 0.0
            for process in family:
                try:
                    times = process.cpu_times()
                    rss = process.memory_info().rss / 2**20
                except psutil.Error:
                    continue
                self.cpu[process.pid] = times.user + times.system
                self.owner[process.pid] = name
                rss_all += rss
                if process.pid == pid:
                    self.rss_max[name] = max(self.rss_max.get(name, 0.0), rss)
            self.rss_all_max[name] = max(self.rss_all_max.get(name, 0.0), rss_all)

    def cpu_s(self) -> dict[str, float]:
        """Each validator's CPU seconds so far; safe while the polling thread runs (copies
        are taken whole, and a process not yet assigned an owner is left for later)."""
        totals = dict.fromkeys(self.pids, 0.0)
        owners = dict(self.owner)
        for pid, seconds in dict(self.cpu).items():
            if pid in owners:
                totals[owners[pid]] += seconds
        return totals

    def start(self) -> None:
        def loop() -> None:
            while not self.stopping.wait(limits.bench_monitor_interval_s):
                self.sample()

        self.sample()
        self.thread = threading.Thread(target=loop, name="bench-monitor", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.sample()
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(5.0)


def run_loadgen(
    work: Path, name: str, config: LoadConfig, expected_s: float, progress: Progress
) -> LoadResult:
    """Run the load generator process with `config`; its figures. Killed at the deadline."""
    config_path = work / f"{name}.json"
    config_path.write_bytes(msgspec.json.encode(config))
    log_path = work / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bakong.bench.loadgen", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us; we stop it in `finally`
        )
    try:
        began = time.monotonic()
        deadline = began + expected_s + limits.bench_loadgen_slack_s
        while process.poll() is None and time.monotonic() < deadline:
            progress.update((time.monotonic() - began) / max(expected_s, 1.0))
            time.sleep(0.1)
        if process.poll() is None:
            raise click.ClickException(f"the load generator ({name}) did not finish in time")
        if process.returncode != 0:
            tail = log_path.read_text(errors="replace")[-3_000:]
            raise click.ClickException(f"the load generator ({name}) failed:\n{tail}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10.0)
    return msgspec.msgpack.decode(Path(config.out_file).read_bytes(), type=LoadResult)


def _phase_seconds(phase: Phase) -> float:
    return phase.warmup_s + phase.duration_s


@dataclass
class _Run:
    """What one run accumulates, step by step."""

    options: Options
    work: Path
    progress: Progress
    figures: dict[str, Any] = field(default_factory=dict)
    result: LoadResult | None = None
    setup: LoadResult | None = None
    postgres: PhaseFigures | None = None
    monitor: Monitor | None = None
    pool_size: int = 0
    slice_ends: list[int] = field(default_factory=list)  # where each phase's slice ends
    public: list[bytes] = field(default_factory=list)
    verify_per_s: float = 0.0
    verify_one_core_per_s: float = 0.0
    cores: int = 0
    no_stream: PhaseFigures | None = None
    cpu_s: dict[str, float] = field(default_factory=dict)  # each validator's, to step 5's end


def _prepare(run: _Run, executor: ProcessPoolExecutor, chain_id: str) -> None:
    """Steps 1 and 3: the verification ceiling, keys, setup transactions and the pool."""
    options, progress = run.options, run.progress
    progress.begin("verify ceiling (all cores)")
    run.verify_per_s, run.cores = workload.verify_ceiling(limits.bench_verify_ceiling_s, executor)
    run.verify_one_core_per_s = workload.verify_one_core(limits.bench_verify_ceiling_s, executor)
    progress.begin(f"account keys ({options.accounts:,})")
    chunks = math.ceil(options.accounts / 10_000)
    ticks = iter(range(1, chunks + 1))
    run.public = workload.public_keys(
        options.accounts, options.seed, executor, lambda: progress.update(next(ticks) / chunks)
    )
    run.slice_ends = _pool_slices(options, run.verify_per_s)
    run.pool_size = run.slice_ends[-1]
    progress.begin(f"pre-signing {run.pool_size:,} transfers")
    chunks = math.ceil(run.pool_size / 2_000)
    ticks = iter(range(1, chunks + 1))
    signed = workload.sign_pool(
        accounts=options.accounts,
        count=run.pool_size,
        seed=options.seed,
        chain_id=chain_id,
        executor=executor,
        tick=lambda: progress.update(next(ticks) / chunks),
    )
    (run.work / "pool.msgpack").write_bytes(msgspec.msgpack.encode(signed.pool))
    run.figures["cross_participant_share"] = round(signed.cross_participant / run.pool_size, 3)


def _setup_config(run: _Run, urls: list[str], net_dir: Path) -> tuple[LoadConfig, float]:
    keys_dir = net_dir / "keys"
    admins = {
        code: read_key_file(keys_dir / f"{code}-admin.json")
        for code in [CENTRAL_BANK[0], *(code for code, _ in PARTICIPANTS)]
    }
    chain_id = Localnet(net_dir).genesis.chain_id
    issued, opens, funds = workload.setup_transactions(chain_id, admins, run.public)
    setup = [*issued, *opens, *funds]
    (run.work / "setup.msgpack").write_bytes(msgspec.msgpack.encode(setup))
    rate = run.options.setup_rate
    seconds = len(opens) / rate * 2 + 10
    opened = len(issued) + len(opens)
    phases = [
        Phase("issue", "saturation", 0.0, 60.0, 0, len(issued)),
        Phase("open", "rate", 0.0, seconds, len(issued), opened, rate=rate),
        Phase("fund", "rate", 0.0, seconds, opened, len(setup), rate=rate),
    ]
    config = LoadConfig(
        urls=urls,
        chain_id=chain_id,
        key_file=str(keys_dir / "nbc-gateway.json"),
        pool_file=str(run.work / "setup.msgpack"),
        out_file=str(run.work / "setup-result.msgpack"),
        phases=phases,
        batch_txs=64,
        drain_s=120.0,
    )
    return config, len(setup) / rate + 5


def _check_setup(result: LoadResult) -> None:
    for phase in result.phases:
        expected = phase.submitted
        complete = phase.pool_exhausted  # every transaction of the phase was submitted
        if not complete or phase.committed_ok != expected or phase.rejected_total:
            raise click.ClickException(
                f"setup phase {phase.name}: {phase.committed_ok} of {expected} ok, "
                f"failed {phase.failed}, rejected {phase.rejected}, "
                f"uncommitted {phase.uncommitted}, all submitted: {complete}"
            )


def _pool_slices(options: Options, verify_per_s: float) -> list[int]:
    """Where each phase's slice of the pool ends: saturation, half load, and saturation
    without a stream follower (`stream_compare`). A saturation slice also holds what the
    mempools take in, since saturation keeps them full; `options.pool` fixes the total."""
    per_phase = (
        verify_per_s / options.validators * pool_margin * (options.warmup_s + options.duration_s)
    )
    queued = options.validators * max(options.mempool_txs, LOCAL_BLOCKS.txs_max)
    shares = [per_phase + queued, per_phase * (pool_phases - 1)]
    if options.stream_compare:
        shares.append(per_phase + queued)
    if options.pool:
        shares = [share * options.pool / sum(shares) for share in shares]
    ends = list(itertools.accumulate(math.ceil(share) for share in shares))
    if options.pool:
        ends[-1] = options.pool
    return ends


def _probes(net: Localnet) -> list[Probe]:
    return [
        Probe(child.name, child.process.pid, child.api_url + "/metrics")
        for child in net.children
        if child.process is not None
    ]


def _batches_in_flight_per_url(validators: int) -> int:
    """Two per validator, and eight in all at the least: one validator alone (or two, or three)
    gets as many as four share, and as many as the baseline compared with it."""
    return max(2, -(-8 // validators))


def _load_config(run: _Run, net: Localnet) -> LoadConfig:
    options = run.options
    saturation_size, half_end = run.slice_ends[:2]
    phases = [
        Phase("saturation", "saturation", options.warmup_s, options.duration_s, 0,
              saturation_size),
        Phase("half_load", "rate", options.warmup_s, options.duration_s, saturation_size,
              half_end, rate_of="saturation", rate_factor=0.5),
    ]  # fmt: skip
    return LoadConfig(
        urls=[child.api_url for child in net.children],
        concurrency=_batches_in_flight_per_url(options.validators),
        chain_id=net.genesis.chain_id,
        key_file=str(net.directory / "keys" / "nbc-gateway.json"),
        pool_file=str(run.work / "pool.msgpack"),
        out_file=str(run.work / "load-result.msgpack"),
        phases=phases,
        batch_txs=options.batch_txs,
        probes=_probes(net),
    )


def _no_stream(run: _Run, net: Localnet) -> None:
    """Step 5b: saturation again with no stream follower at all; the load generator learns
    commits by fetching blocks from the last validator, so validator 0 serves nothing."""
    options = run.options
    first = run.slice_ends[1]
    phase = Phase("saturation_no_stream", "saturation", options.warmup_s, options.duration_s,
                  first, run.pool_size)  # fmt: skip
    config = msgspec.structs.replace(
        _load_config(run, net),
        out_file=str(run.work / "no-stream-result.msgpack"),
        phases=[phase],
        observe="blocks",
        observe_url=net.children[-1].api_url,
    )
    result = run_loadgen(run.work, "no-stream", config, _phase_seconds(phase) + 2, run.progress)
    run.no_stream = result.phases[0]


@contextmanager
def _network(run: _Run) -> Iterator[Localnet]:
    """Step 2: the validators run inside this block, and are stopped after it."""
    net_dir = run.work / "net"
    net = Localnet(net_dir)
    try:
        net.start()
        if not net.wait_for_height(1, limits.localnet_start_timeout_s):
            raise click.ClickException(
                "the local network did not commit a block in time" + _exited(net)
            )
        try:
            yield net
        except click.ClickException as error:
            raise click.ClickException(error.message + _exited(net)) from error
    finally:
        net.stop()


def _exited(net: Localnet) -> str:
    """The validators that had exited, each with the end of its output: why a step failed."""
    told = []
    for child in net.children:
        code = None if child.process is None else child.process.poll()
        if code is not None:
            output = (child.home / "stdout.log").read_text(errors="replace")
            told.append(f"\n{child.name} exited with {code}:\n{output[-1_500:]}")
    return "".join(told)


def _on_chain(run: _Run) -> None:
    """Steps 4, 5 and 5b."""
    net_dir = run.work / "net"
    options, progress = run.options, run.progress
    with _network(run) as net:
        urls = [child.api_url for child in net.children]
        setup_config, setup_s = _setup_config(run, urls, net_dir)
        progress.begin(f"setup: opening and funding {options.accounts:,} accounts")
        began = time.monotonic()
        run.setup = run_loadgen(run.work, "setup", setup_config, setup_s, progress)
        run.figures["setup_s"] = round(time.monotonic() - began, 1)
        _check_setup(run.setup)
        pids = {c.name: c.process.pid for c in net.children if c.process is not None}
        run.monitor = Monitor(pids)
        run.monitor.start()
        progress.begin("saturation, then half load")
        config = _load_config(run, net)
        expected = sum(_phase_seconds(p) + 2 for p in config.phases)
        try:
            run.result = run_loadgen(run.work, "load", config, expected, progress)
            run.cpu_s = run.monitor.cpu_s()  # what it was before step 5b existed
            if options.stream_compare:
                progress.begin("saturation without a stream follower")
                _no_stream(run, net)
        finally:
            run.monitor.stop()


def _postgres(run: _Run, chain_id: str) -> None:
    """Step 6: the central ledger on PostgreSQL, same accounts, same transfers."""
    from bakong.bench.central_ledger import SeedAccount, seed_ledger, start_central_ledger
    from bakong.bench.postgres import PostgresServer

    options, progress = run.options, run.progress
    progress.begin("baseline: central ledger on PostgreSQL")
    keys_dir = run.work / "net" / "keys"
    accounts = [
        SeedAccount(workload.account_name(i), (run.public[i],), {"KHR": workload.funding_khr})
        for i in range(options.accounts)
    ]
    for code, _ in PARTICIPANTS:  # what issuing and funding left on the settlement accounts
        admin = read_key_file(keys_dir / f"{code}-admin.json").public_key
        accounts.append(SeedAccount(f"settlement@{code}", (admin,), {"KHR": 0}))
    with PostgresServer() as server:  # its own temporary directory, owned by `postgres`
        seed_ledger(server.dsn, accounts)
        # The postmaster's pid is the first line of its pid file; its backends are children.
        server_pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
        with start_central_ledger(server.dsn, chain_id=chain_id, workdir=run.work) as handle:
            phase = Phase("postgres", "saturation", options.warmup_s, options.duration_s, 0,
                          run.pool_size)  # fmt: skip
            config = LoadConfig(
                urls=[handle.url],
                # As many batches in flight as the network gets, so that the baseline is
                # saturated like the network it is compared with.
                concurrency=options.validators * _batches_in_flight_per_url(options.validators),
                chain_id=chain_id,
                key_file=str(keys_dir / "nbc-gateway.json"),
                pool_file=str(run.work / "pool.msgpack"),
                out_file=str(run.work / "postgres-result.msgpack"),
                phases=[phase],
                observe="response",
                batch_txs=options.batch_txs,
                probes=[Probe("server", server_pid), Probe("service", handle.pid)],
            )
            result = run_loadgen(run.work, "postgres", config, _phase_seconds(phase), progress)
    run.postgres = result.phases[0]


def machine_info(cores: int) -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": cores,
        "cpu": model or platform.processor(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _latency(phase: PhaseFigures) -> dict[str, float]:
    p = phase.finality_ms
    return {"p50": p.p50, "p95": p.p95, "p99": p.p99, "max": p.max}


def _phase_summary(phase: PhaseFigures) -> dict[str, Any]:
    return {
        "tps": phase.tps,
        "rate_target": phase.rate_target,
        "finality_ms": _latency(phase),
        "latency_samples": phase.finality_ms.count,
        "submitted": phase.submitted,
        "committed_ok": phase.committed_ok,
        "failed": phase.failed,
        "rejected": phase.rejected,
        "uncommitted": phase.uncommitted,
        "http_errors": phase.http_errors,
        "pool_exhausted": phase.pool_exhausted,
    }


def _us_per_transfer(phase: PhaseFigures, name: str) -> float | None:
    """Probe `name`'s CPU over the whole phase (drain included) per transfer it committed."""
    if phase.costs is None or phase.committed_ok <= 0 or name not in phase.costs.probes:
        return None
    return round(phase.costs.probes[name].cpu_s * 1e6 / phase.committed_ok, 1)


def _cores(cpu_s: float, window: WindowFigures) -> float:
    """CPU seconds over the window's seconds: how many cores it kept busy on average."""
    return round(cpu_s / max(window.seconds, 1e-3), 3)


def _load_evidence(window: WindowFigures) -> dict[str, Any]:
    """How hard the load generator pushed, and how much of the machine was left idle."""
    return {
        "window_s": window.seconds,
        "committed_ok": window.committed_ok,
        "in_flight_mean": window.in_flight_mean,
        "in_flight_max": window.in_flight_max,
        "in_flight_limit": window.in_flight_limit,
        "backoff_fraction": window.backoff_fraction,
        "busy_answers": window.busy_answers,
        "pending_mean": window.pending_mean,
        "machine_cpu_idle_fraction": window.machine_cpu_idle_fraction,
        "machine_cpu_iowait_fraction": window.machine_cpu_iowait_fraction,
        "loadgen_cpu_cores": _cores(window.loadgen_cpu_s, window),
    }


def _validator_cpu(phase: PhaseFigures, verify_us: float) -> list[dict[str, Any]]:
    """Per validator over the saturation phase: CPU per committed transfer, split into its
    signature checks (counted by the node, priced at one core's verify) and the rest; and
    the cores it kept busy in the measured window."""
    assert phase.costs is not None
    rows = []
    for name, probe in phase.costs.probes.items():
        cpu_us = _us_per_transfer(phase, name)
        row: dict[str, Any] = {"name": name, "cpu_us_per_transfer": cpu_us}
        if cpu_us is not None:
            main_us = round(probe.main_cpu_s * 1e6 / phase.committed_ok, 1)
            row["main_process_cpu_us_per_transfer"] = main_us
        if phase.window is not None:
            row["cpu_cores"] = _cores(phase.window.cpu_s.get(name, 0.0), phase.window)
        if cpu_us is not None and probe.signature_checks is not None:
            per_transfer = probe.signature_checks / phase.committed_ok
            signature_us = round(per_transfer * verify_us, 1)
            row |= {
                "signature_checks_per_transfer": round(per_transfer, 3),
                "signature_us_per_transfer": signature_us,
                "other_us_per_transfer": round(cpu_us - signature_us, 1),
            }
            if probe.worker_signature_checks is not None:
                on_loop = probe.signature_checks - probe.worker_signature_checks
                row["signature_checks_on_event_loop_per_transfer"] = round(
                    on_loop / phase.committed_ok, 3
                )
        rows.append(row)
    return rows


def _validators_saturation(phase: PhaseFigures) -> dict[str, Any] | None:
    if phase.window is None:
        return None
    window = phase.window
    return {"cpu_cores": _cores(sum(window.cpu_s.values()), window), **_load_evidence(window)}


def _postgres_saturation(phase: PhaseFigures | None) -> dict[str, Any] | None:
    if phase is None or phase.window is None:
        return None
    window = phase.window
    return {
        "server_cpu_cores": _cores(window.cpu_s["server"], window),
        "service_cpu_cores": _cores(window.cpu_s["service"], window),
        "server_cpu_us_per_transfer": _us_per_transfer(phase, "server"),
        "service_cpu_us_per_transfer": _us_per_transfer(phase, "service"),
        **_load_evidence(window),
    }


def _stream_compare(run: _Run, saturation: PhaseFigures) -> dict[str, Any] | None:
    """Throughput, and the CPU per transfer of validator 0, which serves the stream, with the
    stream's follower (the main saturation phase) and without any (blocks fetched from the
    last validator instead)."""
    without = run.no_stream
    if without is None or without.costs is None or saturation.costs is None:
        return None
    serving = next(iter(saturation.costs.probes))
    polled = list(without.costs.probes)[-1]
    idle = without.window.machine_cpu_idle_fraction if without.window else None
    return {
        "serving_validator": serving,
        "blocks_fetched_from_without": polled,
        "tps_with_follower": saturation.tps,
        "tps_without": without.tps,
        "serving_cpu_us_per_transfer_with": _us_per_transfer(saturation, serving),
        "serving_cpu_us_per_transfer_without": _us_per_transfer(without, serving),
        "finality_ms_without": _latency(without),
        "machine_cpu_idle_fraction_without": idle,
    }


def _assemble(run: _Run) -> dict[str, Any]:
    options = run.options
    assert run.result is not None and run.monitor is not None and run.setup is not None
    saturation, half = run.result.phases
    tps = saturation.tps
    postgres_tps = run.postgres.tps if run.postgres is not None else None
    rejected = sum(
        sum(phase.failed.values()) + phase.rejected_total for phase in run.result.phases
    )
    rss = run.monitor.rss_max
    figures: dict[str, Any] = {
        "validators": options.validators,
        "accounts": options.accounts,
        "tps": tps,
        "finality_ms": _latency(saturation),
        "finality_half_load_ms": _latency(half),
        "half_load_tps": half.tps,
        "postgres_tps": postgres_tps,
        "postgres_latency_ms": _latency(run.postgres) if run.postgres is not None else None,
        "verify_per_s": round(run.verify_per_s, 1),
        "ratio_vs_postgres": round(tps / postgres_tps, 4) if postgres_tps else None,
        "efficiency": round(tps * options.validators / run.verify_per_s, 4),
        "rss_mb_max": round(max(rss.values()), 1),
        "rss_mb": {name: round(value, 1) for name, value in rss.items()},
        "rss_mb_with_workers": {k: round(v, 1) for k, v in run.monitor.rss_all_max.items()},
        "cpu_s": {name: round(value, 2) for name, value in run.cpu_s.items()},
        "loadgen_cpu_s": run.result.cpu_s,
        "rejected": rejected,
        "uncommitted": saturation.uncommitted + half.uncommitted,
        "duration_s": options.duration_s,
        "warmup_s": options.warmup_s,
        "snapshot_interval": options.snapshots[0],
        "verify_workers": options.verify_workers,
        "snapshot_lag": options.snapshots[1],
        "transfers_presigned": run.pool_size,
        **run.figures,
        "accounts_per_s": round(options.accounts / run.figures["setup_s"], 1),
        "phases": {phase.name: _phase_summary(phase) for phase in _drawn(run)},
        "machine": machine_info(run.cores),
        "verify_one_core_per_s": round(run.verify_one_core_per_s, 1),
        "signature_us_one_core": round(1e6 / run.verify_one_core_per_s, 2),
        "validator_cpu": None,
        "validators_saturation": None,
        "postgres_saturation": _postgres_saturation(run.postgres),
        "stream": _stream_compare(run, saturation),
    }
    if saturation.costs is not None:
        figures["validator_cpu"] = _validator_cpu(saturation, 1e6 / run.verify_one_core_per_s)
    figures["validators_saturation"] = _validators_saturation(saturation)
    return figures


def _drawn(run: _Run) -> list[PhaseFigures]:
    """Every phase run, in order: the network's, then the baseline's."""
    assert run.result is not None
    optional = [run.no_stream, run.postgres]
    return [*run.result.phases, *(phase for phase in optional if phase is not None)]


def run(
    options: Options, *, progress: bool = True, plot: Path | None = None, keep: bool = False
) -> dict[str, Any]:
    """Every step of the module docstring; the figures."""
    stages = {
        "verify ceiling (all cores)": 5.0,
        f"account keys ({options.accounts:,})": 1 + options.accounts / 50_000,
        "pre-signing": 8.0,
        f"setup: opening and funding {options.accounts:,} accounts": 5 + options.accounts / 5_000,
        "saturation, then half load": 2 * (options.warmup_s + options.duration_s) + 5,
        "saturation without a stream follower": (options.warmup_s + options.duration_s + 3)
        * options.stream_compare,
        "baseline: central ledger on PostgreSQL": options.warmup_s + options.duration_s + 10,
        "verify ceiling again": 5.0,
    }
    bar = _StageBar(stages, enabled=progress)
    work = Path(tempfile.mkdtemp(prefix="bakong-bench-network-"))
    try:
        mempool = MempoolSection(
            txs_max=max(options.mempool_txs, LOCAL_BLOCKS.txs_max),
            verify_workers=options.verify_workers,
        )
        init_localnet(
            work / "net", options.validators, mempool=mempool, snapshots=options.snapshots
        )
        chain_id = Localnet(work / "net").genesis.chain_id
        state = _Run(options, work, bar)
        with workload.new_executor() as executor:
            _prepare(state, executor, chain_id)
        _on_chain(state)
        if options.postgres:
            _postgres(state, chain_id)
        bar.begin("verify ceiling again")
        with workload.new_executor() as executor:
            again, _ = workload.verify_ceiling(limits.bench_verify_ceiling_s, executor)
            one_again = workload.verify_one_core(limits.bench_verify_ceiling_s, executor)
        state.figures["verify_per_s_samples"] = [round(state.verify_per_s, 1), round(again, 1)]
        state.verify_per_s = max(state.verify_per_s, again)
        state.figures["verify_one_core_per_s_samples"] = [
            round(state.verify_one_core_per_s, 1), round(one_again, 1)
        ]
        state.verify_one_core_per_s = max(state.verify_one_core_per_s, one_again)
        figures = _assemble(state)
        if plot is not None:
            from bakong.bench.plot import draw_network

            draw_network(plot, _drawn(state), title=_title(figures))
        bar.finish()
    finally:
        if keep:
            click.echo(f"bench network: kept {work}", err=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return figures


class _StageBar(Progress):
    """`Progress` whose stage names may carry a detail after the registered prefix."""

    def begin(self, stage: str) -> None:
        for name in self.stages:
            if stage.startswith(name):
                super().begin(name)
                if stage != name and self.enabled and not self.tty:
                    click.echo(f"  ({stage})", err=True)
                return
        super().begin(stage)


def _title(figures: dict[str, Any]) -> str:
    return (
        f"bakong bench network: {figures['validators']} validators, "
        f"{figures['accounts']:,} accounts, {figures['machine']['cores']} cores; "
        f"tps {figures['tps']:,}, postgres {figures['postgres_tps']}, "
        f"efficiency {figures['efficiency']}"
    )


def _human(figures: dict[str, Any]) -> str:
    f = figures
    sat, half = f["finality_ms"], f["finality_half_load_ms"]
    postgres = f"{f['postgres_tps']:,} tps" if f["postgres_tps"] is not None else "skipped"
    ratio = f["ratio_vs_postgres"]
    return "\n".join([
        f"network: {f['validators']} validators, {f['accounts']:,} accounts, "
        f"{f['machine']['cores']} cores ({f['machine']['cpu']})",
        f"throughput at saturation: {f['tps']:,} transfers/s (sustained, after "
        f"{f['warmup_s']} s warm-up, over {f['duration_s']} s)",
        f"finality at saturation:  p50 {sat['p50']} ms  p95 {sat['p95']} ms  "
        f"p99 {sat['p99']} ms  max {sat['max']} ms",
        f"finality at half load ({f['half_load_tps']:,} tps): p50 {half['p50']} ms  "
        f"p95 {half['p95']} ms  p99 {half['p99']} ms  max {half['max']} ms",
        f"central ledger on PostgreSQL: {postgres};  ratio_vs_postgres {ratio} (target >= 1)",
        f"ed25519 verify, all cores: {f['verify_per_s']:,}/s;  efficiency {f['efficiency']} "
        f"(target >= 0.6)",
        f"validators: peak RSS {f['rss_mb_max']} MB; CPU s " + ", ".join(
            f"{name} {seconds}" for name, seconds in f["cpu_s"].items()),
        f"rejected {f['rejected']}, uncommitted {f['uncommitted']}; setup {f['setup_s']} s "
        f"({f['accounts_per_s']:,} accounts/s)",
        *_human_cpu(f),
    ])  # fmt: skip


def _human_cpu(f: dict[str, Any]) -> list[str]:
    lines = [f"CPU us per committed transfer at saturation (one verify: "
             f"{f['signature_us_one_core']} us): name total = signatures (checks) + other"]
    for row in f["validator_cpu"] or []:
        lines.append(
            f"  {row['name']}: {row['cpu_us_per_transfer']} = "
            f"{row.get('signature_us_per_transfer')} ({row.get('signature_checks_per_transfer')})"
            f" + {row.get('other_us_per_transfer')}; its own process (the event loop) "
            f"{row.get('main_process_cpu_us_per_transfer')}, checks there "
            f"{row.get('signature_checks_on_event_loop_per_transfer')}"
        )
    for name, evidence in (("validators", f["validators_saturation"]),
                           ("postgres", f["postgres_saturation"])):
        if evidence:
            lines.append(
                f"{name} saturation: machine idle {evidence['machine_cpu_idle_fraction']}, "
                f"in flight mean {evidence['in_flight_mean']} max {evidence['in_flight_max']} "
                f"of {evidence['in_flight_limit']}, backing off {evidence['backoff_fraction']}"
            )
    if f["postgres_saturation"]:
        e = f["postgres_saturation"]
        lines.append(f"  postgres server {e['server_cpu_cores']} cores, service "
                     f"{e['service_cpu_cores']} cores")
    if f["stream"]:
        s = f["stream"]
        lines.append(
            f"stream: tps {s['tps_with_follower']:,} with a follower, {s['tps_without']:,} "
            f"without; {s['serving_validator']} CPU us per transfer "
            f"{s['serving_cpu_us_per_transfer_with']} with, "
            f"{s['serving_cpu_us_per_transfer_without']} without"
        )
    return lines


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@click.command()
@click.option("--validators", default=4, show_default=True, type=click.IntRange(1, 10))
@click.option("--duration", default=30.0, show_default=True, type=click.FloatRange(1, 3_600),
              help="Seconds measured per phase, after the warm-up.")
@click.option("--accounts", default=100_000, show_default=True, type=click.IntRange(10, 10**7))
@click.option("--warmup", default=None, type=click.FloatRange(0, 600),
              help="Seconds excluded at the start of each phase [default: duration/6, 1-5 s].")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--pool", default=0, type=click.IntRange(0, 10**7),
              help="Transfers to pre-sign [default: sized from the verification ceiling].")
@click.option("--mempool-txs", default=4_000, show_default=True,
              type=click.IntRange(2_000, 1_000_000))
@click.option("--setup-rate", default=300.0, show_default=True, type=click.FloatRange(1, 10_000),
              help="Setup transactions (32 commands each) per second.")
@click.option("--snapshot-interval", default=LOCAL_SNAPSHOTS[0], show_default=True,
              type=click.IntRange(2, 10**9), help="Genesis's snapshot interval, in heights.")
@click.option("--snapshot-lag", default=LOCAL_SNAPSHOTS[1], show_default=True,
              type=click.IntRange(1, 10**9),
              help="Heights from a snapshot to the block carrying its root.")
@click.option("--no-postgres", is_flag=True, help="Skip the PostgreSQL baseline.")
@click.option("--stream-compare/--no-stream-compare", default=True, show_default=True,
              help="Also run saturation with no stream follower (step 5b).")
@click.option("--verify-workers", default=0, show_default=True, type=click.IntRange(0, 64),
              help="Each validator's signature-verifying worker processes (0: inline).")
@click.option("--plot", "plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a PNG of throughput and latency over time.")
@click.option("--keep", is_flag=True, help="Keep the temporary directory (logs) for debugging.")
@click.option("--json", "as_json", is_flag=True)
def command(validators: int, duration: float, accounts: int, warmup: float | None, seed: int,
            pool: int, mempool_txs: int, setup_rate: float, snapshot_interval: int,
            snapshot_lag: int, no_postgres: bool, stream_compare: bool, verify_workers: int,
            plot: Path | None, keep: bool, as_json: bool) -> None:
    """Throughput and finality of a local network, against PostgreSQL and Ed25519."""
    if snapshot_lag > snapshot_interval:
        raise click.BadParameter("at most --snapshot-interval", param_hint="--snapshot-lag")
    options = Options(
        validators=validators, duration_s=duration, accounts=accounts,
        warmup_s=warmup if warmup is not None else min(5.0, max(1.0, duration / 6)),
        seed=seed, pool=pool, mempool_txs=mempool_txs, setup_rate=setup_rate,
        postgres=not no_postgres, stream_compare=stream_compare,
        snapshots=(snapshot_interval, snapshot_lag), verify_workers=verify_workers,
    )  # fmt: skip
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so every child is stopped.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        figures = run(options, plot=plot, keep=keep)
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo(json.dumps(figures) if as_json else _human(figures))
