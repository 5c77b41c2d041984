"""The load generator of `bakong bench network`: a separate process that submits pre-signed
transfers and times each one from submission to commit.

    python -m bakong.bench.loadgen CONFIG.json

`CONFIG.json` is a `LoadConfig`: the API URLs to submit to (round-robin), the chain id, the
key file that signs requests, a file of pre-signed transactions (a msgpack array of canonical
transaction bytes), the phases to run, and where to write the figures (a msgpack `LoadResult`).

Method:
- Submission is `POST /v1/transactions` exactly as the SDK sends it: a msgpack body of a batch
  of canonical transactions, signed with the three `X-Bakong-*` headers
  (`bakong.wire.request`). A transaction's submit time is taken just before the request
  that the node accepted it in is sent; a transaction answered `busy` goes back to the front of
  the queue and its sender backs off (10 ms doubling to 500 ms), so the generator never
  outruns what the nodes accept and never drops a transfer. A request that fails (transport
  error, HTTP 5xx other than 503) is counted in `http_errors` and resubmitted, which is safe
  because a payload applies at most once; its transfers keep the first attempt's submit time.
- A *saturation* phase keeps `concurrency` requests in flight per URL, as fast as the nodes
  accept them. A *rate* phase submits at a fixed rate, in batches every 10 ms; its rate may be
  a fraction of an earlier phase's measured throughput (`rate_of`, `rate_factor`).
- Commits are observed in one of three ways. `stream`: the central bank's
  `WS /v1/stream?format=msgpack` on one validator, decoded here without proof verification
  (this measures finality, not the SDK): the local arrival time of each block's message is
  the commit time of every transaction in it, and its result code says whether it applied.
  `blocks`: no stream follower at all; the generator polls `observe_url`'s `/v1/status` every
  `limits.loadgen_block_poll_s` and fetches each new block whole (the central bank's
  `GET /v1/blocks/{height}`), whose arrival time is the commit time of its transactions (so
  finality reads up to one poll interval later than on the stream).
  `response`: the answer to the POST itself means committed (the central-database baseline,
  which answers only after its commit); a result with status `committed` and code `ok` applied.
- Each phase runs `warmup_s + duration_s`, then stops submitting and waits (at most `drain_s`)
  for what it submitted to commit. Throughput is the transfers committed with result `ok`
  during the `duration_s` after the warm-up, divided by `duration_s` (the window ends early,
  and `pool_exhausted` is set, if the phase ran out of transfers). Latency (finality) is
  computed for every transfer submitted in that same window: p50/p95/p99 by nearest rank, and
  the maximum. Transfers that failed in their block or at admission are counted by code, never
  as throughput.

- Probes (`LoadConfig.probes`: processes, with the URL of their `/metrics` where they have
  one) are read twice per phase. Around the whole phase, from before its first submission
  until its drain ended (`PhaseCosts`): each probe's CPU time with its children's (psutil)
  and the increase of its `bakong_signature_checks_total` (and of the share of those that
  ran in its verifier workers, `bakong_signature_checks_in_workers_total`), so that every committed
  transfer's whole cost is inside, and the phase's `committed_ok` divides it. Around the
  measured window, from the end of the warm-up until submission stopped (`WindowFigures`):
  the probes' CPU and the machine's idle and I/O-wait share, this process's own CPU, and,
  sampled every `limits.loadgen_sample_interval_s`, the requests in flight, the workers
  backing off after a busy answer, and the transfers accepted but not yet seen committed:
  how hard the load pushed.

Every loop is bounded by the phase deadline, the drain deadline, or the pool's size.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from array import array
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import msgspec
import psutil
import websockets.asyncio.client
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bakong import limits
from bakong.errors import LocalError, RemoteError
from bakong.keystore import read_key_file
from bakong.wire.keys import SigningKey
from bakong.wire.request import sign_request

__all__ = [
    "LoadConfig",
    "LoadResult",
    "Phase",
    "PhaseFigures",
    "Percentiles",
    "PhaseCosts",
    "Probe",
    "ProbeFigures",
    "WindowFigures",
    "main",
    "percentiles",
    "run",
]

SUBMIT_PATH = "/v1/transactions"
MSGPACK = "application/msgpack"
SIGNATURE_CHECKS_METRIC = "bakong_signature_checks_total"
WORKER_CHECKS_METRIC = "bakong_signature_checks_in_workers_total"
#: The code recorded for a transfer whose POST answered a failure (mode "response").
response_failed_code = 10_000


class Phase(msgspec.Struct, frozen=True):
    name: str
    mode: Literal["saturation", "rate"]
    warmup_s: float
    duration_s: float
    first: int  # the pool slice this phase submits: [first, last)
    last: int
    rate: float = 0.0  # transfers per second (mode "rate"), or
    rate_of: str = ""  # ... this fraction of an earlier phase's throughput
    rate_factor: float = 0.5


class Probe(msgspec.Struct, frozen=True):
    """A process read at both edges of each measured window: its CPU with its children's, and
    the signature-check counter of its `/metrics` (`metrics_url`; empty: none)."""

    name: str
    pid: int
    metrics_url: str = ""


class LoadConfig(msgspec.Struct, frozen=True):
    urls: list[str]
    chain_id: str
    key_file: str
    pool_file: str
    out_file: str
    phases: list[Phase]
    observe: Literal["stream", "response", "blocks"] = "stream"
    observe_url: str = ""  # the node followed (modes stream, blocks); empty: `urls[0]`
    batch_txs: int = 256
    concurrency: int = 2
    drain_s: float = 30.0
    probes: list[Probe] = []


class Percentiles(msgspec.Struct, frozen=True):
    p50: float
    p95: float
    p99: float
    max: float
    count: int


class ProbeFigures(msgspec.Struct, frozen=True):
    cpu_s: float  # CPU seconds of the process and its children
    signature_checks: int | None  # the counter's increase; None without a `/metrics`
    main_cpu_s: float  # CPU seconds of the process alone (a validator's event loop)
    worker_signature_checks: int | None  # of `signature_checks`, those run in its workers


class PhaseCosts(msgspec.Struct, frozen=True):
    """Each probe's CPU and signature checks over the whole phase, from before its first
    submission until its drain ended: every committed transfer's admission, gossip and
    execution happened inside, so these over `committed_ok` are costs per transfer."""

    seconds: float
    probes: dict[str, ProbeFigures]


class WindowFigures(msgspec.Struct, frozen=True):
    """What happened in a phase's measured window (from its end of warm-up until submission
    stopped): how hard the load pushed, and how busy it kept the probes and the machine."""

    seconds: float
    committed_ok: int  # transfers committed `ok` in the window
    cpu_s: dict[str, float]  # each probe's CPU with its children's
    machine_cpu_idle_fraction: float  # idle share of every core's time
    machine_cpu_iowait_fraction: float  # waiting on I/O with nothing else to run
    loadgen_cpu_s: float
    in_flight_mean: float  # requests awaiting their answer
    in_flight_max: int
    in_flight_limit: int  # at most this many (saturation: one per worker)
    backoff_fraction: float  # mean share of the workers sleeping after a busy answer
    busy_answers: int  # requests answered busy (a full mempool, 429, 503)
    pending_mean: float  # transfers accepted, not yet seen committed (the nodes' queue)


class PhaseFigures(msgspec.Struct, frozen=True):
    name: str
    tps: float
    rate_target: float
    finality_ms: Percentiles
    submitted: int
    committed_ok: int
    failed: dict[str, int]  # committed with a result other than ok, by result code
    rejected: dict[str, int]  # refused at admission, by code
    rejected_total: int
    http_errors: dict[str, int]  # failed requests (resubmitted), by kind
    uncommitted: int  # submitted, not seen committed by the end of the drain
    pool_exhausted: bool
    warmup_s: float
    duration_s: float
    # One entry per second from the phase's start: ok commits, and the finality (ms) of the
    # transfers committed in that second (p50, p99; 0 when none).
    per_second_ok: list[int]
    per_second_p50_ms: list[float]
    per_second_p99_ms: list[float]
    window: WindowFigures | None = None  # None if the phase ended before its window began
    costs: PhaseCosts | None = None  # None without probes


class LoadResult(msgspec.Struct, frozen=True):
    phases: list[PhaseFigures]
    cpu_s: float  # this process's own CPU time
    # Each block seen on the stream: (seconds since the first phase started, height, txs).
    blocks: list[tuple[float, int, int]] = []


# -- the stream's messages, decoded as far as we need them (proofs are skipped) -------------


class _StreamResult(msgspec.Struct):
    code: int


class _StreamTx(msgspec.Struct):
    tx: bytes
    result: _StreamResult


class _StreamMessage(msgspec.Struct):
    height: int
    tx_count: int
    transactions: list[_StreamTx]


class _BlockAnswer(msgspec.Struct):
    height: int
    transactions: list[bytes]
    results: list[_StreamResult]


class _SubmitVerdict(msgspec.Struct):
    status: str
    code: str = ""


class _SubmitAnswer(msgspec.Struct):
    results: list[_SubmitVerdict] = []


_stream_decoder = msgspec.msgpack.Decoder(_StreamMessage)
_answer_decoder = msgspec.msgpack.Decoder(_SubmitAnswer)
_block_decoder = msgspec.msgpack.Decoder(_BlockAnswer)
_result_names: dict[int, str] = {}


def _result_name(code: int) -> str:
    if not _result_names:
        from bakong.ledger.result import ResultCode

        _result_names.update({member.value: member.name for member in ResultCode})
    return _result_names.get(code, f"code_{code}")


def percentiles(values: Sequence[float]) -> Percentiles:
    """p50/p95/p99 by nearest rank, and the maximum; zeros for no values."""
    if not values:
        return Percentiles(0.0, 0.0, 0.0, 0.0, 0)
    ordered = sorted(values)

    def rank(p: float) -> float:
        return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 2)

    return Percentiles(rank(50), rank(95), rank(99), round(ordered[-1], 2), len(ordered))


@dataclass
class _Tracker:
    """Per pool entry: submit time, commit time (monotonic s, NaN until known), result code."""

    pool: list[bytes]
    submit_t: array[float] = field(init=False)
    commit_t: array[float] = field(init=False)
    code: array[int] = field(init=False)  # -1 unknown, >= 0 result code, -2 admission refusal
    index: dict[bytes, int] = field(init=False)
    pending: bytearray = field(init=False)  # 1: accepted by a node, no verdict yet
    errored: bytearray = field(init=False)  # 1: a request carrying it failed (kept its time)
    waiting: int = 0  # how many are pending
    rejected: Counter[str] = field(default_factory=Counter)  # admission refusals, by code
    failed: Counter[str] = field(default_factory=Counter)  # failures named by a response
    http_errors: Counter[str] = field(default_factory=Counter)  # failed requests, by kind
    blocks: list[tuple[float, int, int]] = field(default_factory=list)  # (arrival, height, txs)

    def __post_init__(self) -> None:
        size = len(self.pool)
        self.submit_t = array("d", [math.nan]) * size
        self.commit_t = array("d", [math.nan]) * size
        self.code = array("i", [-1]) * size
        self.pending = bytearray(size)
        self.errored = bytearray(size)
        self.index = {raw: i for i, raw in enumerate(self.pool)}

    def accepted(self, i: int) -> None:
        if self.code[i] == -1 and not self.pending[i]:
            self.pending[i] = 1
            self.waiting += 1

    def committed(self, i: int, when: float, code: int) -> None:
        if self.code[i] != -1:
            return
        self.commit_t[i] = when
        self.code[i] = code
        if self.pending[i]:
            self.pending[i] = 0
            self.waiting -= 1


class _Sender:
    """Signs and posts batches; one monotonic request clock for every URL (no replays)."""

    def __init__(self, config: LoadConfig, key: SigningKey, tracker: _Tracker) -> None:
        self.config = config
        self.key = key
        self.tracker = tracker
        self.last_ms = 0
        self.node_keys: dict[str, bytes] = {}  # url -> the node's key, which requests name
        self.in_flight = 0  # POSTs awaiting their answer
        self.busy_answers = 0
        pool = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        self.http = httpx.AsyncClient(timeout=limits.loadgen_request_timeout_s, limits=pool)

    async def node_key(self, url: str) -> bytes:
        if url not in self.node_keys:
            status = (await self.http.get(url + "/v1/status")).json()
            # The central ledger baseline checks no request signature and names no key; the
            # request is signed all the same, so both sides pay the same client cost.
            self.node_keys[url] = bytes.fromhex(status.get("node_key", "00" * 32))
        return self.node_keys[url]

    def _time_ms(self) -> int:
        self.last_ms = max(time.time_ns() // 1_000_000, self.last_ms + 1)
        return self.last_ms

    async def post(self, url: str, batch: list[int]) -> list[int]:
        """Submit `batch` (pool indices) to `url`; the indices answered busy, to retry."""
        tracker = self.tracker
        body = msgspec.msgpack.encode({"transactions": [tracker.pool[i] for i in batch]})
        node_key = await self.node_key(url)
        headers = sign_request(
            self.config.chain_id, node_key, self.key, "POST", SUBMIT_PATH, body, self._time_ms()
        )
        headers.update({"content-type": MSGPACK, "accept": MSGPACK})
        sent = time.monotonic()
        self.in_flight += 1
        try:
            response = await self.http.post(url + SUBMIT_PATH, content=body, headers=headers)
        except httpx.TransportError as error:
            return self._failed(batch, sent, type(error).__name__)
        finally:
            self.in_flight -= 1
        answered = time.monotonic()
        try:
            verdicts = _answer_decoder.decode(response.content).results
        except msgspec.DecodeError:
            verdicts = []
        if len(verdicts) != len(batch):
            if response.status_code in (429, 503):
                self.busy_answers += 1
                return batch
            if response.status_code >= 500:
                return self._failed(batch, sent, f"http_{response.status_code}")
            raise RemoteError(f"http_{response.status_code}", f"{url}: {response.text[:200]}")
        return self._record(batch, verdicts, sent, answered)

    def _failed(self, batch: list[int], sent: float, what: str) -> list[int]:
        """The request failed (transport error, 5xx): the batch is resubmitted, which is safe
        (a payload applies at most once), and each transfer keeps this first submit time."""
        tracker = self.tracker
        tracker.http_errors[what] += 1
        for i in batch:
            if not tracker.errored[i]:
                tracker.errored[i] = 1
                tracker.submit_t[i] = sent
        return batch

    def _record(
        self, batch: list[int], verdicts: list[_SubmitVerdict], sent: float, answered: float
    ) -> list[int]:
        tracker = self.tracker
        by_response = self.config.observe == "response"
        busy: list[int] = []
        for i, verdict in zip(batch, verdicts, strict=True):
            if verdict.status == "busy":
                busy.append(i)
                continue
            if not tracker.errored[i]:
                tracker.submit_t[i] = sent
            if verdict.status == "rejected":
                tracker.code[i] = -2
                tracker.commit_t[i] = answered
                tracker.rejected[verdict.code] += 1
            elif by_response:
                ok = verdict.status == "committed" and verdict.code == "ok"
                if not ok:
                    tracker.failed[verdict.code or verdict.status] += 1
                tracker.committed(i, answered, 0 if ok else response_failed_code)
            else:
                tracker.accepted(i)
        self.busy_answers += 1 if busy else 0
        return busy

    async def get_block(self, url: str, height: int) -> _BlockAnswer:
        """Block `height`, whole, as the central bank reads it (a signed GET)."""
        target = f"/v1/blocks/{height}"
        node_key = await self.node_key(url)
        headers = sign_request(
            self.config.chain_id, node_key, self.key, "GET", target, b"", self._time_ms()
        )
        headers["accept"] = MSGPACK
        response = await self.http.get(url + target, headers=headers)
        if response.status_code != 200:
            raise RemoteError(f"http_{response.status_code}", f"{url}{target}")
        return _block_decoder.decode(response.content)


async def _observe_stream(
    config: LoadConfig, key: SigningKey, tracker: _Tracker, base: str
) -> None:
    """Record each committed block's arrival time against its transactions, forever."""
    async with httpx.AsyncClient(timeout=10.0) as http:
        status = (await http.get(base + "/v1/status")).json()
    height: int = status["height"]
    node_key = bytes.fromhex(status["node_key"])
    next_height = height + 1
    ws_base = "ws" + base.removeprefix("http")
    last_ms = 0
    for _ in range(limits.loadgen_stream_reconnects_max):
        target = f"/v1/stream?from_height={next_height}&format=msgpack"
        last_ms = max(time.time_ns() // 1_000_000, last_ms + 1)
        headers = sign_request(config.chain_id, node_key, key, "GET", target, b"", last_ms)
        try:
            async with websockets.asyncio.client.connect(
                ws_base + target,
                additional_headers=headers,
                max_size=limits.loadgen_stream_message_bytes_max,
            ) as socket:
                async for data in socket:
                    arrived = time.monotonic()
                    assert isinstance(data, bytes)
                    message = _stream_decoder.decode(data)
                    tracker.blocks.append((arrived, message.height, message.tx_count))
                    for item in message.transactions:
                        i = tracker.index.get(item.tx)
                        if i is not None:
                            tracker.committed(i, arrived, item.result.code)
                    next_height = message.height + 1
        except (ConnectionClosed, InvalidHandshake, OSError):
            await asyncio.sleep(0.2)
    raise RemoteError("stream_lost", "the commit stream closed too many times")


async def _observe_blocks(sender: _Sender, tracker: _Tracker, url: str) -> None:
    """Without a stream: poll `url`'s height and fetch each new block whole, forever."""
    next_height: int = (await sender.http.get(url + "/v1/status")).json()["height"] + 1
    failures = 0
    while failures < limits.loadgen_stream_reconnects_max:
        try:
            height: int = (await sender.http.get(url + "/v1/status")).json()["height"]
            while next_height <= height:
                block = await sender.get_block(url, next_height)
                arrived = time.monotonic()
                tracker.blocks.append((arrived, block.height, len(block.transactions)))
                for raw, result in zip(block.transactions, block.results, strict=True):
                    i = tracker.index.get(raw)
                    if i is not None:
                        tracker.committed(i, arrived, result.code)
                next_height += 1
            failures = 0
        except (httpx.TransportError, RemoteError):
            failures += 1
        await asyncio.sleep(limits.loadgen_block_poll_s)
    raise RemoteError("blocks_lost", "fetching committed blocks failed too many times")


@dataclass
class _PhaseRun:
    phase: Phase
    started: float
    ends: float
    queue: deque[int]
    rate: float = 0.0
    submitted: int = 0
    emptied: float = math.inf  # when the queue last ran empty (the pool was exhausted)
    backing_off: int = 0  # workers sleeping after a busy answer
    workers: int = 0  # workers (saturation) or the cap on requests in flight (rate)

    def take(self, count: int) -> list[int]:
        batch = [self.queue.popleft() for _ in range(min(count, len(self.queue)))]
        if not self.queue:
            self.emptied = time.monotonic()
        return batch


async def _saturate(sender: _Sender, run: _PhaseRun) -> None:
    """`concurrency` workers per URL, each posting the next batch as soon as it can."""
    config = sender.config

    async def worker(url: str) -> None:
        backoff = limits.loadgen_backoff_s_min
        while run.queue and time.monotonic() < run.ends:
            batch = run.take(config.batch_txs)
            busy = await sender.post(url, batch)
            run.submitted += len(batch) - len(busy)
            if busy:
                run.queue.extendleft(reversed(busy))
                run.backing_off += 1
                await asyncio.sleep(backoff)
                run.backing_off -= 1
                backoff = min(backoff * 2, limits.loadgen_backoff_s_max)
            else:
                backoff = limits.loadgen_backoff_s_min

    urls = [url for url in config.urls for _ in range(config.concurrency)]
    run.workers = len(urls)
    await asyncio.gather(*(worker(url) for url in urls))


async def _paced(sender: _Sender, run: _PhaseRun) -> None:
    """Submit at `run.rate` per second, in batches every `tick_s`, round-robin over URLs."""
    config = sender.config
    in_flight: set[asyncio.Task[None]] = set()
    in_flight_max = 4 * len(config.urls) * config.concurrency
    run.workers = in_flight_max
    due_total = 0
    turn = 0

    async def send(url: str, batch: list[int]) -> None:
        busy = await sender.post(url, batch)
        run.submitted += len(batch) - len(busy)
        run.queue.extendleft(reversed(busy))

    while run.queue and time.monotonic() < run.ends:
        due = int(run.rate * (time.monotonic() - run.started)) - due_total
        while due > 0 and run.queue and len(in_flight) < in_flight_max:
            batch = run.take(min(due, config.batch_txs))
            due -= len(batch)
            due_total += len(batch)
            task = asyncio.ensure_future(send(config.urls[turn % len(config.urls)], batch))
            turn += 1
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await asyncio.sleep(limits.loadgen_tick_s)
    if in_flight:
        await asyncio.gather(*in_flight)


@dataclass
class _Snapshot:
    """One probe: monotonic time, each probe's CPU by pid, its counter, the machine's CPU."""

    at: float
    cpu: dict[str, dict[int, float]]
    pids: dict[str, int]  # each probe's own process
    checks: dict[str, float | None]
    worker_checks: dict[str, float | None]
    machine: Any  # psutil's system-wide cpu_times
    own_cpu_s: float


@dataclass
class _Samples:
    """The sampled gauges of one window."""

    in_flight: list[int] = field(default_factory=list)
    backing_off: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)


@dataclass
class _Window:
    """A measured window's two snapshots and what was sampled between them."""

    first: _Snapshot
    last: _Snapshot
    samples: _Samples
    busy_answers: int
    workers: int


def _family_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of the process `pid` and each of its descendants, by pid."""
    try:
        main = psutil.Process(pid)
        family = [main, *main.children(recursive=True)]
    except psutil.Error:
        return {}
    seconds: dict[int, float] = {}
    for process in family:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        seconds[process.pid] = times.user + times.system
    return seconds


def _counter(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


async def _snapshot(sender: _Sender, *, metrics: bool) -> _Snapshot:
    """Every probe's CPU, and with `metrics` its counter (a node busy with a block may take
    a while to answer, so the window's probes, which time the window, read no counter)."""
    checks: dict[str, float | None] = {}
    worker_checks: dict[str, float | None] = {}
    for probe in sender.config.probes:
        checks[probe.name] = worker_checks[probe.name] = None
        if probe.metrics_url and metrics:
            try:
                text = (await sender.http.get(probe.metrics_url)).text
            except httpx.TransportError:
                continue
            checks[probe.name] = _counter(text, SIGNATURE_CHECKS_METRIC)
            worker_checks[probe.name] = _counter(text, WORKER_CHECKS_METRIC)
    probes = sender.config.probes
    cpu = {probe.name: _family_cpu(probe.pid) for probe in probes}
    pids = {probe.name: probe.pid for probe in probes}
    return _Snapshot(
        time.monotonic(), cpu, pids, checks, worker_checks, psutil.cpu_times(),
        time.process_time(),
    )  # fmt: skip


async def _watch(sender: _Sender, run: _PhaseRun, stopped: asyncio.Event) -> _Window | None:
    """Probe at the start of the measured window and when submission stops; sample the
    gauges in between. None if submission stopped before the window began."""
    begins = run.started + run.phase.warmup_s
    while time.monotonic() < begins:
        if stopped.is_set():
            return None
        await asyncio.sleep(min(limits.loadgen_tick_s, max(begins - time.monotonic(), 0.0)))
    first = await _snapshot(sender, metrics=False)
    busy_before = sender.busy_answers
    samples = _Samples()
    while not stopped.is_set():
        samples.in_flight.append(sender.in_flight)
        samples.backing_off.append(run.backing_off)
        samples.pending.append(sender.tracker.waiting)
        await asyncio.sleep(limits.loadgen_sample_interval_s)
    busy = sender.busy_answers - busy_before
    return _Window(first, await _snapshot(sender, metrics=False), samples, busy, run.workers)


def _machine_shares(first: Any, last: Any) -> tuple[float, float]:
    """(idle, iowait) shares of the machine's CPU time between two `psutil.cpu_times()`;
    guest time is already inside user time, so it is not counted twice."""
    spent = {name: getattr(last, name) - getattr(first, name) for name in last._fields}
    total = sum(spent.values()) - spent.get("guest", 0.0) - spent.get("guest_nice", 0.0)
    if total <= 0:
        return 0.0, 0.0
    return spent["idle"] / total, spent.get("iowait", 0.0) / total


def _mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0


def _increase(start: float | None, end: float | None) -> int | None:
    return None if start is None or end is None else int(end - start)


def _probe_figures(first: _Snapshot, last: _Snapshot) -> dict[str, ProbeFigures]:
    """Each probe's CPU and counter between two snapshots; a process that appeared in
    between counts from zero, one that ended in between is lost (psutil cannot read it)."""
    probes: dict[str, ProbeFigures] = {}
    for name, after in last.cpu.items():
        before = first.cpu.get(name, {})
        cpu = sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())
        main = last.pids[name]
        main_cpu = after.get(main, 0.0) - before.get(main, 0.0)
        probes[name] = ProbeFigures(
            round(cpu, 3),
            _increase(first.checks.get(name), last.checks.get(name)),
            round(main_cpu, 3),
            _increase(first.worker_checks.get(name), last.worker_checks.get(name)),
        )
    return probes


def _window_figures(tracker: _Tracker, phase: Phase, window: _Window) -> WindowFigures:
    first, last = window.first, window.last
    committed_ok = 0
    for i in range(phase.first, phase.last):
        if tracker.code[i] == 0 and first.at <= tracker.commit_t[i] <= last.at:
            committed_ok += 1
    probes = _probe_figures(first, last)
    idle, iowait = _machine_shares(first.machine, last.machine)
    samples = window.samples
    workers = max(window.workers, 1)
    return WindowFigures(
        seconds=round(last.at - first.at, 3),
        committed_ok=committed_ok,
        cpu_s={name: probe.cpu_s for name, probe in probes.items()},
        machine_cpu_idle_fraction=round(idle, 4),
        machine_cpu_iowait_fraction=round(iowait, 4),
        loadgen_cpu_s=round(last.own_cpu_s - first.own_cpu_s, 3),
        in_flight_mean=round(_mean(samples.in_flight), 2),
        in_flight_max=max(samples.in_flight, default=0),
        in_flight_limit=window.workers,
        backoff_fraction=round(_mean(samples.backing_off) / workers, 4),
        busy_answers=window.busy_answers,
        pending_mean=round(_mean(samples.pending), 1),
    )


async def _drain(tracker: _Tracker, deadline: float) -> None:
    """Wait until everything accepted so far has a verdict, or the deadline."""
    while tracker.waiting > 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def _per_second(tracker: _Tracker, first: int, last: int, started: float, seconds: int) -> tuple[
    list[int], list[float], list[float]
]:
    ok = [0] * seconds
    latencies: list[list[float]] = [[] for _ in range(seconds)]
    for i in range(first, last):
        committed = tracker.commit_t[i]
        if tracker.code[i] != 0 or committed != committed:
            continue
        second = int(committed - started)
        if 0 <= second < seconds:
            ok[second] += 1
            latencies[second].append((committed - tracker.submit_t[i]) * 1000)
    p50 = [percentiles(values).p50 for values in latencies]
    p99 = [percentiles(values).p99 for values in latencies]
    return ok, p50, p99


def _figures(
    tracker: _Tracker, run: _PhaseRun, window: _Window | None, costs: PhaseCosts | None
) -> PhaseFigures:
    phase = run.phase
    window_start = run.started + phase.warmup_s
    # The measured window ends with the phase, or earlier if the pool ran out.
    window_end = run.ends if run.queue else min(run.ends, run.emptied)
    ok_in_window = 0
    latencies: list[float] = []
    failed: Counter[str] = Counter()
    submitted = uncommitted = committed_ok = rejected_count = 0
    for i in range(phase.first, phase.last):
        sent, committed, code = tracker.submit_t[i], tracker.commit_t[i], tracker.code[i]
        if sent != sent:  # NaN: never submitted
            continue
        submitted += 1
        if code == -1:
            uncommitted += 1
        elif code == -2:
            rejected_count += 1
        elif code == response_failed_code:
            pass  # named in tracker.failed
        elif code > 0:
            failed[_result_name(code)] += 1
        else:
            committed_ok += 1
            if window_start <= committed <= window_end:
                ok_in_window += 1
            if window_start <= sent <= window_end:
                latencies.append((committed - sent) * 1000)
    seconds = math.ceil(run.ends - run.started)
    ok, p50, p99 = _per_second(tracker, phase.first, phase.last, run.started, seconds)
    return PhaseFigures(
        name=phase.name,
        tps=round(ok_in_window / max(window_end - window_start, 1e-3), 1),
        rate_target=round(run.rate, 1),
        finality_ms=percentiles(latencies),
        submitted=submitted,
        committed_ok=committed_ok,
        failed=dict(failed + tracker.failed),
        rejected=dict(tracker.rejected),
        rejected_total=rejected_count,
        http_errors=dict(tracker.http_errors),
        uncommitted=uncommitted,
        pool_exhausted=not run.queue,
        warmup_s=phase.warmup_s,
        duration_s=phase.duration_s,
        per_second_ok=ok,
        per_second_p50_ms=p50,
        per_second_p99_ms=p99,
        window=None if window is None else _window_figures(tracker, phase, window),
        costs=costs,
    )


def _measured_rate(figures: PhaseFigures) -> float:
    """The rate a phase reached: its window's, or, when a machine busy with other work let
    nothing commit inside that window, everything it committed over warmup and window."""
    if figures.tps > 0:
        return figures.tps
    return figures.committed_ok / max(figures.warmup_s + figures.duration_s, 1e-3)


async def _run_phase(
    sender: _Sender, phase: Phase, done: dict[str, PhaseFigures]
) -> PhaseFigures:
    sender.tracker.rejected.clear()
    sender.tracker.failed.clear()
    sender.tracker.http_errors.clear()
    sender.busy_answers = 0
    probed = sender.config.probes
    before = await _snapshot(sender, metrics=True) if probed else None
    started = time.monotonic()
    run = _PhaseRun(
        phase, started, started + phase.warmup_s + phase.duration_s,
        deque(range(phase.first, phase.last)),
    )
    stopped = asyncio.Event()
    watch = asyncio.ensure_future(_watch(sender, run, stopped))
    try:
        if phase.mode == "saturation":
            await _saturate(sender, run)
        else:
            run.rate = phase.rate or _measured_rate(done[phase.rate_of]) * phase.rate_factor
            if run.rate <= 0:
                raise LocalError(f"phase {phase.name}: no rate to submit at")
            await _paced(sender, run)
    finally:
        stopped.set()
    window = await watch
    await _drain(sender.tracker, time.monotonic() + sender.config.drain_s)
    costs = None
    if before is not None:
        after = await _snapshot(sender, metrics=True)
        costs = PhaseCosts(round(after.at - before.at, 3), _probe_figures(before, after))
    return _figures(sender.tracker, run, window, costs)


async def run(config: LoadConfig) -> LoadResult:
    """Run every phase in order; the figures of each."""
    pool = msgspec.msgpack.decode(Path(config.pool_file).read_bytes(), type=list[bytes])
    tracker = _Tracker(pool)
    key = read_key_file(Path(config.key_file))
    sender = _Sender(config, key, tracker)
    observer: asyncio.Task[None] | None = None
    followed = config.observe_url or config.urls[0]
    if config.observe == "stream":
        observer = asyncio.ensure_future(_observe_stream(config, key, tracker, followed))
        await asyncio.sleep(0.3)  # let the stream open before the first submission
    elif config.observe == "blocks":
        observer = asyncio.ensure_future(_observe_blocks(sender, tracker, followed))
    done: dict[str, PhaseFigures] = {}
    began = time.monotonic()
    try:
        for phase in config.phases:
            if observer is not None and observer.done():
                observer.result()  # raises what stopped it
            done[phase.name] = await _run_phase(sender, phase, done)
            print(f"phase {phase.name} done: {done[phase.name].tps} tps", flush=True)
    finally:
        if observer is not None:
            observer.cancel()
        await sender.http.aclose()
    cpu = time.process_time()
    blocks = [(round(t - began, 3), height, txs) for t, height, txs in tracker.blocks]
    return LoadResult(phases=list(done.values()), cpu_s=round(cpu, 2), blocks=blocks)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if len(arguments) != 1:
        print("usage: python -m bakong.bench.loadgen CONFIG.json", file=sys.stderr)
        return 2
    config = msgspec.json.decode(Path(arguments[0]).read_bytes(), type=LoadConfig)
    result = asyncio.run(run(config))
    Path(config.out_file).write_bytes(msgspec.msgpack.encode(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
