"""`bakong bench gateway`: payments through two participant gateways' wallet APIs, against the
same network driven directly with pre-signed transfers, measured in one run.

    bakong bench gateway --validators 4 --duration 20 --customers 50 --json

Method (everything in one temporary directory, removed at the end):
1. Before anything runs, the core workload of `bakong bench network` (`bakong.bench.workload`):
   the Ed25519 ceiling (only to size the pool: the saturation phase's share, times
   `pool_margin`), `--core-accounts` account keys and the pool of pre-signed transfers. Then
   a local network (`bakong.node.localnet`) of `--validators` validator processes, where those
   accounts are opened and funded through consensus.
2. Two gateway processes, `bakong gateway init` and `bakong gateway run` (SQLite in their
   homes; `bakong.gateway.processes`), for aclb and wing, with the localnet's keys of each.
3. `--customers` customers per gateway register through the wallet API exactly as a phone
   does: `POST /v1/register/start`, the one-time code read from the gateway's SMS outbox (the
   default SMS sink is a table of its database: the benchmark plays the SMS provider), then
   `POST /v1/register/finish` (argon2 PIN, custodial key, the account and alias on the ledger).
   The central bank issues riel to both settlement accounts and each bank funds its customers
   from its settlement account through the SDK, as its core banking would on a cash-in.
4. Every customer opens its `GET /v1/events` stream. Customers of each gateway pay customers of
   the other through `POST /v1/payments` (bearer session, custodial signing, a fresh
   idempotency key per payment, its sequence number in the memo): first at saturation
   (`--concurrency` requests in flight: each sender posts its next payment, from the next
   payer in turn, on the answer to its last), then paced at half the saturation throughput.
   Each phase has a warm-up it excludes. Meanwhile the gateways' CPU time is polled (psutil):
   `gateway_cpu_ms_per_payment` is both gateways' CPU over the two phases per payment sent.
   The client is `bakong.bench.http1` (kept-alive HTTP/1.1 over asyncio streams, on uvloop),
   a few percent of a core where httpx took half of one: it shares the cores it measures.
   `payments_per_s`: payments answered `committed` within the measured window of the
   saturation phase, per second (the gateway answers once the block holding the payment is
   committed). `notify_ms`: at half load, from just before the payer's request is sent to the
   arrival of the payee's server-sent event carrying its memo, for every payment sent in the
   measured window (nearest-rank percentiles; payments never notified are counted apart).
5. The gateways stop, and the load generator (`bakong.bench.loadgen`, its own process) drives
   the same network directly with the pre-signed transfers at saturation: `core_tps`. The
   gateways are stopped so that `core_tps` is the network's own capacity, the figure the
   gateways are held to: `ratio = payments_per_s / core_tps` (target >= 0.8, the gateway is not
   the bottleneck); `notify_ms.p99` targets <= 1,000 ms.

Nothing here asserts a time. Every wait has a deadline; every child process (validators,
gateways, load generator) is stopped in `finally`, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import msgspec
import uvloop

from bakong import limits
from bakong.bench import workload
from bakong.bench.http1 import Http1Connection, HttpClientError, Response
from bakong.bench.loadgen import LoadConfig, Percentiles, Phase, percentiles
from bakong.bench.network import Monitor, Progress, machine_info, run_loadgen
from bakong.client import Client, Committed, issue
from bakong.gateway.processes import GatewayProcess, prepare_gateways
from bakong.gateway.scripted import GatewayCalls, Person, cash_in, register
from bakong.keystore import read_key_file
from bakong.ledger.assets import Asset
from bakong.node.localnet import (
    CENTRAL_BANK,
    LOCAL_BLOCKS,
    LOCAL_MEMPOOL,
    PARTICIPANTS,
    Localnet,
    init_localnet,
)
from bakong.wire.keys import SigningKey

__all__ = ["GATEWAYS", "Options", "command", "run"]

#: The two banks whose gateways run; their customers pay each other.
GATEWAYS = ("aclb", "wing")
#: Registration details every benchmark customer shares but its phone and handle (none real).
CUSTOMER_PIN = "270418"
CUSTOMER_NAME = "Bench Customer"
CUSTOMER_BIRTH_DATE = "1990-01-01"
#: The core pool: the saturation phase's transfers, with a margin for a low ceiling sample.
pool_margin = 1.5


@dataclass(frozen=True)
class Options:
    validators: int = 4
    duration_s: float = 20.0
    customers: int = 50  # per gateway
    warmup_s: float = 3.0
    # Payment requests in flight at saturation, both gateways together: enough that the
    # machine, not the round trip, bounds the rate (64 gave 0.6-0.8 of what 256 did).
    concurrency: int = 256
    core_accounts: int = 3_000
    seed: int = 1
    mempool_txs: int = 4_000


@dataclass(frozen=True)
class Customer:
    gateway: str  # its bank's code
    url: str  # its gateway's base URL
    account_id: str
    token: str


@dataclass
class _Payment:
    sent: float  # monotonic, just before the request
    answered: float = math.nan
    outcome: str = ""  # "committed", "pending" (202), or the error code


@dataclass
class _Observed:
    """Every payment of the run by sequence number, and each payee notification's arrival."""

    payments: dict[int, _Payment] = field(default_factory=dict)
    notified: dict[int, float] = field(default_factory=dict)
    issued: int = 0  # the next payment's sequence number
    streams_open: int = 0


@contextmanager
def _gateways(work: Path) -> Iterator[dict[str, GatewayProcess]]:
    """Step 2: both gateways run inside this block (`bakong.gateway.processes`)."""
    homes = prepare_gateways(work / "net", list(GATEWAYS))
    running = {code: GatewayProcess(home) for code, home in homes.items()}
    try:
        for gateway in running.values():
            gateway.start()
        for gateway in running.values():
            gateway.wait_healthy()
        yield running
    finally:
        for gateway in running.values():
            gateway.stop()


# -- step 3: customers -------------------------------------------------------------------------


def _person(code: str, index: int) -> Person:
    return Person(
        participant=code, handle=f"bench{index}", name=CUSTOMER_NAME,
        phone=f"+855{GATEWAYS.index(code) + 1}{index:08d}", birth_date=CUSTOMER_BIRTH_DATE,
        pin=CUSTOMER_PIN,
    )  # fmt: skip


def _register_all(gateways: dict[str, GatewayProcess], count: int) -> dict[str, list[Customer]]:
    """Every customer through the wallet API, as a phone registers (step 3), a few at a time."""
    calls = {code: GatewayCalls(gateway.url) for code, gateway in gateways.items()}
    people = [_person(code, index) for code in GATEWAYS for index in range(count)]
    # Each phone registers from its own address, as customers do, so the gateway's
    # per-address limit on code requests and logins sees many clients, not one machine.
    addresses = {person.phone: f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i, person in
                 enumerate(people, start=1)}  # fmt: skip

    def one(person: Person) -> Customer:
        gateway = gateways[person.participant]
        token = register(
            calls[person.participant], gateway.home.database_url, person, addresses[person.phone]
        )
        return Customer(person.participant, gateway.url, person.account_id, token)

    workers = limits.bench_gateway_registrations_parallel_max
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="bench-register") as executor:
            made = list(executor.map(one, people))
    finally:
        for client in calls.values():
            client.close()
    return {code: [c for c in made if c.gateway == code] for code in GATEWAYS}


async def _fund(core_url: str, keys: Path, customers: dict[str, list[Customer]]) -> None:
    """The central bank issues riel to each settlement account, which cashes its customers in."""
    nbc = CENTRAL_BANK[0]
    admins = {code: read_key_file(keys / f"{code}-admin.json") for code in (nbc, *GATEWAYS)}
    async with Client(core_url, read_key_file(keys / f"{nbc}-gateway.json")) as core:
        for code, group in customers.items():
            total = workload.funding_khr * len(group)
            minted = (await core.builder(nbc)).add(
                issue(f"settlement@{code}", Asset.KHR, total, f"bench-gateway-{code}")
            )
            _check_ok(await core.submit_and_wait(minted.sign(admins[nbc])), "issue")
        cash = {Asset.KHR: workload.funding_khr}
        everyone = [customer for group in customers.values() for customer in group]
        for committed in await asyncio.gather(
            *(cash_in(core, admins[c.gateway], c.account_id, cash) for c in everyone)
        ):
            _check_ok(committed, "cash-in")


def _check_ok(committed: Committed, what: str) -> None:
    if not committed.ok:
        raise click.ClickException(f"setup ({what}) failed on the ledger: {committed.result}")


# -- step 4: payments and notifications --------------------------------------------------------


class _Connections:
    """Kept-alive connections to each gateway (`bakong.bench.http1`), lent one per request in
    flight: a request takes an idle one or opens one, and gives it back when answered."""

    timeout_s = limits.bench_gateway_request_timeout_s

    def __init__(self) -> None:
        self.idle: dict[str, list[Http1Connection]] = {}

    async def request(self, url: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        idle = self.idle.setdefault(url, [])
        connection = idle.pop() if idle else Http1Connection(url, self.timeout_s)
        answer = await connection.request("POST", path, headers, body)
        idle.append(connection)
        return answer

    async def aclose(self) -> None:
        for idle in self.idle.values():
            for connection in idle:
                await connection.aclose()
        self.idle.clear()


_EventData = msgspec.json.Decoder(dict[str, Any])


async def _listen(customer: Customer, observed: _Observed) -> None:
    """Record the arrival of every payment event on `customer`'s stream, until cancelled."""
    headers = {"authorization": f"Bearer {customer.token}"}
    # No timeout on the stream itself: it is quiet between payments (keepalive comments).
    stream = Http1Connection(customer.url, limits.bench_gateway_request_timeout_s)
    opened = False
    async for line in stream.lines("/v1/events", headers):
        if not opened:  # the gateway's first line (": open") follows its subscription
            opened = True
            observed.streams_open += 1
        if not line.startswith("data:"):
            continue
        arrived = time.monotonic()
        memo = str(_EventData.decode(line[5:]).get("memo", ""))
        if memo.startswith("bench-"):
            observed.notified.setdefault(int(memo[6:]), arrived)


_PaymentAnswer = msgspec.json.Decoder(dict[str, Any])


async def _pay(
    http: _Connections, observed: _Observed, payer: Customer, payee: Customer, amount: int
) -> None:
    seq = observed.issued
    observed.issued += 1
    body = msgspec.json.encode({
        "idempotency_key": f"bench-{seq}", "to": {"account": payee.account_id},
        "amount": amount, "asset": "KHR", "memo": f"bench-{seq}",
    })  # fmt: skip
    headers = {"authorization": f"Bearer {payer.token}", "content-type": "application/json"}
    payment = observed.payments[seq] = _Payment(time.monotonic())
    try:
        response = await http.request(payer.url, "/v1/payments", headers, body)
    except (HttpClientError, TimeoutError) as error:
        payment.answered, payment.outcome = time.monotonic(), type(error).__name__
        return
    payment.answered = time.monotonic()
    try:
        answer = _PaymentAnswer.decode(response.body)
    except msgspec.DecodeError:
        answer = {}
    if response.status == 200:
        payment.outcome = str(answer.get("state", "unknown"))
    elif response.status == 202:
        payment.outcome = "pending"
    else:
        problem = answer.get("error")
        code = problem.get("code") if isinstance(problem, dict) else None
        payment.outcome = str(code) if code else f"http_{response.status}"


@dataclass
class _PhaseWindow:
    name: str
    started: float
    measured_from: float
    ends: float
    first_seq: int = 0
    last_seq: int = 0  # exclusive
    rate: float = 0.0


class _Payers:
    """Payer/payee pairs: payers alternate between the gateways, payees are random customers
    of the other gateway (seeded), amounts 1..`bench_transfer_amount_max` riel."""

    def __init__(self, customers: dict[str, list[Customer]], seed: int) -> None:
        self.customers = customers
        self.random = random.Random(seed)
        self.turn = itertools.count()

    def next(self) -> tuple[Customer, Customer, int]:
        turn = next(self.turn)
        side = GATEWAYS[turn % 2]
        group = self.customers[side]
        payer = group[(turn // 2) % len(group)]
        payee = self.random.choice(self.customers[GATEWAYS[(turn + 1) % 2]])
        return payer, payee, self.random.randint(1, limits.bench_transfer_amount_max)


async def _saturate(
    http: _Connections, payers: _Payers, observed: _Observed, window: _PhaseWindow,
    concurrency: int,
) -> None:  # fmt: skip
    async def worker() -> None:
        while time.monotonic() < window.ends:
            await _pay(http, observed, *payers.next())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _paced(
    http: _Connections, payers: _Payers, observed: _Observed, window: _PhaseWindow,
    in_flight_max: int,
) -> None:  # fmt: skip
    in_flight: set[asyncio.Task[None]] = set()
    sent = 0
    while time.monotonic() < window.ends:
        due = int(window.rate * (time.monotonic() - window.started)) - sent
        while due > 0 and len(in_flight) < in_flight_max:
            task = asyncio.ensure_future(_pay(http, observed, *payers.next()))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            due -= 1
            sent += 1
        await asyncio.sleep(limits.loadgen_tick_s)
    if in_flight:
        await asyncio.gather(*in_flight)


async def _drain(observed: _Observed, window: _PhaseWindow) -> None:
    """Wait (at most `bench_gateway_drain_s`) for every committed payment's notification."""
    deadline = time.monotonic() + limits.bench_gateway_drain_s
    while time.monotonic() < deadline:
        waiting = any(
            observed.payments[seq].outcome in ("committed", "pending")
            and seq not in observed.notified
            for seq in range(window.first_seq, window.last_seq)
        )
        if not waiting:
            return
        await asyncio.sleep(0.1)


async def _phase(
    http: _Connections, payers: _Payers, observed: _Observed, options: Options,
    name: str, rate: float = 0.0,
) -> _PhaseWindow:  # fmt: skip
    """One phase: saturation when `rate` is 0, else paced at `rate` payments per second."""
    started = time.monotonic()
    measured_from = started + options.warmup_s
    window = _PhaseWindow(
        name, started, measured_from, measured_from + options.duration_s,
        first_seq=observed.issued, rate=rate,
    )  # fmt: skip
    if rate <= 0:
        await _saturate(http, payers, observed, window, options.concurrency)
    else:
        await _paced(http, payers, observed, window, 4 * options.concurrency)
    window.last_seq = observed.issued
    await _drain(observed, window)
    return window


def _latency(values: list[float]) -> dict[str, float]:
    found: Percentiles = percentiles(values)
    return {"p50": found.p50, "p95": found.p95, "p99": found.p99, "max": found.max}


def _phase_figures(observed: _Observed, window: _PhaseWindow) -> dict[str, Any]:
    """The phase's figures (module docstring, step 4)."""
    outcomes: Counter[str] = Counter()
    committed_in_window = unnotified = 0
    pay_ms: list[float] = []
    notify_ms: list[float] = []
    for seq in range(window.first_seq, window.last_seq):
        payment = observed.payments[seq]
        outcomes[payment.outcome] += 1
        sent_in_window = window.measured_from <= payment.sent <= window.ends
        committed = payment.outcome == "committed"
        if committed and window.measured_from <= payment.answered <= window.ends:
            committed_in_window += 1
        if committed and sent_in_window:
            pay_ms.append((payment.answered - payment.sent) * 1000)
        notified = observed.notified.get(seq)
        if sent_in_window and notified is not None:
            notify_ms.append((notified - payment.sent) * 1000)
        elif sent_in_window and committed:
            unnotified += 1
    seconds = window.ends - window.measured_from
    return {
        "payments_per_s": round(committed_in_window / seconds, 1),
        "rate_target": round(window.rate, 1),
        "submitted": window.last_seq - window.first_seq,
        "committed": outcomes["committed"],
        "outcomes": dict(outcomes),
        "pay_ms": _latency(pay_ms),
        "notify_ms": _latency(notify_ms),
        "latency_samples": len(notify_ms),
        "unnotified": unnotified,
    }


async def _open_streams(
    customers: dict[str, list[Customer]], observed: _Observed
) -> list[asyncio.Task[None]]:
    """Every customer's event stream, open (the gateway has subscribed it) on return."""
    everyone = [customer for group in customers.values() for customer in group]
    listeners = [asyncio.ensure_future(_listen(c, observed)) for c in everyone]
    deadline = time.monotonic() + limits.bench_gateway_start_timeout_s
    while observed.streams_open < len(listeners):
        failed = [task for task in listeners if task.done()]
        if failed:
            failed[0].result()  # raises what stopped it
            raise click.ClickException("an event stream ended before the benchmark began")
        if time.monotonic() > deadline:
            raise click.ClickException("the event streams did not open in time")
        await asyncio.sleep(0.05)
    return listeners


async def _payments(
    customers: dict[str, list[Customer]], options: Options, progress: Progress
) -> dict[str, dict[str, Any]]:
    """Step 4: saturation, then half load; each phase's figures."""
    observed = _Observed()
    http = _Connections()
    try:
        listeners = await _open_streams(customers, observed)
        try:
            payers = _Payers(customers, options.seed)
            progress.begin("payments at saturation")
            saturation = _phase_figures(
                observed, await _phase(http, payers, observed, options, "saturation")
            )
            rate = saturation["payments_per_s"] / 2
            if rate <= 0:
                raise click.ClickException(
                    f"no payment committed at saturation: {saturation['outcomes']}"
                )
            progress.begin("payments at half load")
            half = _phase_figures(
                observed, await _phase(http, payers, observed, options, "half_load", rate)
            )
        finally:
            for listener in listeners:
                listener.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)
    finally:
        await http.aclose()
    return {"saturation": saturation, "half_load": half}


def _through_gateways(
    gateways: dict[str, GatewayProcess], core_url: str, keys: Path, options: Options,
    progress: Progress,
) -> dict[str, Any]:  # fmt: skip
    """Steps 3 and 4."""
    progress.begin(f"registering {options.customers} customers per gateway")
    began = time.monotonic()
    customers = _register_all(gateways, options.customers)
    registered_s = time.monotonic() - began
    progress.begin("funding the customers")
    asyncio.run(_fund(core_url, keys, customers))
    # Whether the gateways are CPU-bound: their CPU time against the phases' wall time.
    monitor = Monitor({code: g.process.pid for code, g in gateways.items() if g.process})
    monitor.start()
    began = time.monotonic()
    try:
        # uvloop: the client's own event loop costs the machine less than asyncio's.
        phases = uvloop.run(_payments(customers, options, progress))
    finally:
        monitor.stop()
    return {
        "registration_s": round(registered_s, 1),
        "registrations_per_s": round(len(GATEWAYS) * options.customers / registered_s, 1),
        "phases": phases,
        "gateway_cpu_s": {code: round(cpu, 1) for code, cpu in monitor.cpu_s().items()},
        "gateway_rss_mb_max": {code: round(mb, 1) for code, mb in monitor.rss_max.items()},
        "payment_phases_s": round(time.monotonic() - began, 1),
    }


# -- steps 1 and 5: the core, driven directly --------------------------------------------------


@dataclass
class _Core:
    """The core workload: its accounts' keys, the pool's size, the verification ceiling."""

    public: list[bytes]
    pool_size: int
    verify_per_s: float
    cores: int


def _prepare_core(work: Path, options: Options, chain_id: str) -> _Core:
    with workload.new_executor() as executor:
        verify_per_s, cores = workload.verify_ceiling(limits.bench_verify_ceiling_s, executor)
        public = workload.public_keys(options.core_accounts, options.seed, executor, lambda: None)
        per_s = verify_per_s / options.validators * pool_margin
        pool_size = math.ceil(per_s * (options.warmup_s + options.duration_s))
        signed = workload.sign_pool(
            accounts=options.core_accounts, count=pool_size, seed=options.seed,
            chain_id=chain_id, executor=executor, tick=lambda: None,
        )  # fmt: skip
    (work / "pool.msgpack").write_bytes(msgspec.msgpack.encode(signed.pool))
    return _Core(public, pool_size, verify_per_s, cores)


def _core_setup(
    work: Path, urls: list[str], chain_id: str, core: _Core, progress: Progress
) -> None:
    """Open and fund the core workload's accounts through consensus; every result `ok`."""
    keys = work / "net" / "keys"
    codes = [CENTRAL_BANK[0], *(code for code, _ in PARTICIPANTS)]
    admins: dict[str, SigningKey] = {c: read_key_file(keys / f"{c}-admin.json") for c in codes}
    issued, opens, funds = workload.setup_transactions(chain_id, admins, core.public)
    (work / "setup.msgpack").write_bytes(msgspec.msgpack.encode([*issued, *opens, *funds]))
    opened, total = len(issued) + len(opens), len(issued) + len(opens) + len(funds)
    phases = [
        Phase("issue", "saturation", 0.0, 60.0, 0, len(issued)),
        Phase("open", "saturation", 0.0, 120.0, len(issued), opened),
        Phase("fund", "saturation", 0.0, 120.0, opened, total),
    ]
    config = LoadConfig(
        urls=urls, chain_id=chain_id, key_file=str(keys / "nbc-gateway.json"),
        pool_file=str(work / "setup.msgpack"), out_file=str(work / "setup-result.msgpack"),
        phases=phases, batch_txs=16, drain_s=120.0,
    )  # fmt: skip
    result = run_loadgen(work, "setup", config, 60.0, progress)
    for phase in result.phases:
        if not phase.pool_exhausted or phase.committed_ok != phase.submitted:
            raise click.ClickException(
                f"core setup phase {phase.name}: {phase.committed_ok} of {phase.submitted} ok, "
                f"failed {phase.failed}, rejected {phase.rejected}"
            )


def _core_load(
    work: Path, urls: list[str], chain_id: str, core: _Core, options: Options, progress: Progress
) -> dict[str, Any]:
    """Step 5: the pre-signed transfers at saturation; the phase's figures."""
    phase = Phase("core", "saturation", options.warmup_s, options.duration_s, 0, core.pool_size)
    config = LoadConfig(
        urls=urls, chain_id=chain_id, key_file=str(work / "net" / "keys" / "nbc-gateway.json"),
        pool_file=str(work / "pool.msgpack"), out_file=str(work / "load-result.msgpack"),
        phases=[phase],
    )  # fmt: skip
    expected_s = options.warmup_s + options.duration_s + 2
    figures = run_loadgen(work, "load", config, expected_s, progress).phases[0]
    return {
        "tps": figures.tps,
        "finality_ms": {"p50": figures.finality_ms.p50, "p95": figures.finality_ms.p95,
                        "p99": figures.finality_ms.p99, "max": figures.finality_ms.max},
        "submitted": figures.submitted,
        "committed_ok": figures.committed_ok,
        "failed": figures.failed,
        "rejected": figures.rejected,
        "uncommitted": figures.uncommitted,
        "pool_exhausted": figures.pool_exhausted,
    }  # fmt: skip


# -- the run ---------------------------------------------------------------------------------


@contextmanager
def _network(work: Path) -> Iterator[Localnet]:
    net = Localnet(work / "net")
    try:
        net.start()
        if not net.wait_for_height(1, limits.localnet_start_timeout_s):
            raise click.ClickException("the local network did not commit a block in time")
        yield net
    finally:
        net.stop()


def _measure(work: Path, options: Options, progress: Progress) -> dict[str, Any]:
    """Every step of the module docstring, inside the running network; the raw figures."""
    chain_id = Localnet(work / "net").genesis.chain_id
    progress.begin("pre-signing the core transfers")
    core = _prepare_core(work, options, chain_id)
    with _network(work) as net:
        urls = [child.api_url for child in net.children]
        progress.begin("opening the core accounts")
        _core_setup(work, urls, chain_id, core, progress)
        progress.begin("starting the gateways")
        with _gateways(work) as gateways:
            keys = work / "net" / "keys"
            through = _through_gateways(gateways, urls[0], keys, options, progress)
        progress.begin("the core driven directly")
        direct = _core_load(work, urls, chain_id, core, options, progress)
    return {"through": through, "direct": direct, "core": core}


def _assemble(options: Options, measured: dict[str, Any]) -> dict[str, Any]:
    through, direct, core = measured["through"], measured["direct"], measured["core"]
    saturation, half = through["phases"]["saturation"], through["phases"]["half_load"]
    payments_per_s, core_tps = saturation["payments_per_s"], direct["tps"]
    notify = half["notify_ms"]
    return {
        "payments_per_s": payments_per_s,
        "notify_ms": {"p50": notify["p50"], "p95": notify["p95"], "p99": notify["p99"]},
        "core_tps": core_tps,
        "ratio": round(payments_per_s / core_tps, 4) if core_tps else None,
        "validators": options.validators,
        "customers": options.customers,
        "gateways": list(GATEWAYS),
        "duration": options.duration_s,
        "warmup": options.warmup_s,
        "concurrency": options.concurrency,
        "cores": core.cores,
        "half_load_payments_per_s": half["payments_per_s"],
        "registration_s": through["registration_s"],
        "registrations_per_s": through["registrations_per_s"],
        "gateway_cpu_s": through["gateway_cpu_s"],
        "gateway_cpu_ms_per_payment": _cpu_ms_per_payment(through),
        "gateway_rss_mb_max": through["gateway_rss_mb_max"],
        "payment_phases_s": through["payment_phases_s"],
        "core_accounts": options.core_accounts,
        "verify_per_s": round(core.verify_per_s, 1),
        "phases": {**through["phases"], "core": direct},
        "machine": machine_info(core.cores),
    }


def _cpu_ms_per_payment(through: dict[str, Any]) -> float | None:
    sent = sum(phase["submitted"] for phase in through["phases"].values())
    cpu_s = sum(through["gateway_cpu_s"].values())
    return round(1000 * cpu_s / sent, 2) if sent else None


def run(options: Options, *, progress: bool = True, keep: bool = False) -> dict[str, Any]:
    """Every step of the module docstring; the figures."""
    stages = {
        "pre-signing the core transfers": 8.0,
        "opening the core accounts": 3 + options.core_accounts / 2_000,
        "starting the gateways": 5.0,
        f"registering {options.customers} customers per gateway": 2 + options.customers / 5,
        "funding the customers": 2.0,
        "payments at saturation": options.warmup_s + options.duration_s + 3,
        "payments at half load": options.warmup_s + options.duration_s + 3,
        "the core driven directly": options.warmup_s + options.duration_s + 3,
    }
    bar = Progress(stages, enabled=progress, label="bench gateway")
    work = Path(tempfile.mkdtemp(prefix="bakong-bench-gateway-"))
    try:
        mempool = msgspec.structs.replace(
            LOCAL_MEMPOOL, txs_max=max(options.mempool_txs, LOCAL_BLOCKS.txs_max)
        )
        init_localnet(work / "net", options.validators, mempool=mempool)
        figures = _assemble(options, _measure(work, options, bar))
        bar.finish()
    finally:
        if keep:
            click.echo(f"bench gateway: kept {work}", err=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return figures


def _human(figures: dict[str, Any]) -> str:
    f = figures
    notify, half = f["notify_ms"], f["phases"]["half_load"]
    return "\n".join([
        f"gateways {', '.join(f['gateways'])}: {f['customers']} customers each, "
        f"{f['validators']} validators, {f['cores']} cores",
        f"payments through the wallet API at saturation: {f['payments_per_s']:,}/s "
        f"(after {f['warmup']} s warm-up, over {f['duration']} s)",
        f"the core driven directly: {f['core_tps']:,} transfers/s;  ratio {f['ratio']} "
        "(target >= 0.8)",
        f"pay -> payee notified at half load ({f['half_load_payments_per_s']:,}/s): "
        f"p50 {notify['p50']} ms  p95 {notify['p95']} ms  p99 {notify['p99']} ms "
        f"(target p99 <= 1,000 ms; {half['latency_samples']} samples, "
        f"{half['unnotified']} not notified)",
        f"registration: {f['registrations_per_s']}/s;  outcomes at saturation: "
        f"{f['phases']['saturation']['outcomes']}",
    ])  # fmt: skip


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@click.command()
@click.option("--validators", default=4, show_default=True, type=click.IntRange(4, 10))
@click.option("--duration", default=20.0, show_default=True, type=click.FloatRange(1, 3_600),
              help="Seconds measured per phase, after the warm-up.")
@click.option("--customers", default=50, show_default=True, type=click.IntRange(2, 10_000),
              help="Customers registered at each of the two gateways.")
@click.option("--warmup", default=None, type=click.FloatRange(0, 600),
              help="Seconds excluded at the start of each phase [default: duration/6, 1-5 s].")
@click.option("--concurrency", default=256, show_default=True, type=click.IntRange(1, 4_096),
              help="Payment requests in flight at saturation.")
@click.option("--core-accounts", default=3_000, show_default=True,
              type=click.IntRange(10, 10**6), help="Accounts of the direct core workload.")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--keep", is_flag=True, help="Keep the temporary directory (logs) for debugging.")
@click.option("--json", "as_json", is_flag=True)
def command(validators: int, duration: float, customers: int, warmup: float | None,
            concurrency: int, core_accounts: int, seed: int, keep: bool,
            as_json: bool) -> None:
    """Payments through two gateways' wallet APIs, against the core driven directly."""
    options = Options(
        validators=validators, duration_s=duration, customers=customers,
        warmup_s=warmup if warmup is not None else min(5.0, max(1.0, duration / 6)),
        concurrency=concurrency, core_accounts=core_accounts, seed=seed,
    )  # fmt: skip
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so every child is stopped.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        figures = run(options, progress=not as_json or sys.stderr.isatty(), keep=keep)
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo(json.dumps(figures) if as_json else _human(figures))
