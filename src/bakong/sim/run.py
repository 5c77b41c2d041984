"""One seed to one run, and many seeds to a summary.

A run, all from `random.Random(seed)`:
1. draw the fault plan (`bakong.sim.faults`; a mutant's plan from `bakong.sim.mutants`);
2. boot every validator at time 0, start their periodic chores, the gateways and the faults;
3. process events in order until the run is over, checking after every one
   (`bakong.sim.checker`); the first violation ends the run;
4. faults (partitions, crashes, lossy links) stop at the plan's height or time: crashed nodes
   restart, partitions heal, links stop losing packets; from then on liveness is checked;
5. at the target height the gateways stop signing new transfers; the run is over when every
   transaction they signed is committed and every honest node has reached the target
   height, or, failing that, after `limits.sim_drain_ms_max` (a liveness violation).

Every loop is bounded: events per run (`events_max`), simulated time (`sim_ms_max`).
"""

from __future__ import annotations

import hashlib
import random
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from bakong import limits
from bakong.node.service import AdmissionStatus
from bakong.sim import mutants
from bakong.sim.checker import Violation
from bakong.sim.events import (
    Deliver,
    Event,
    FaultTick,
    Heal,
    Restart,
    Submit,
    Tick,
    Timer,
    ValueBuilt,
    WorkloadTick,
    describe,
)
from bakong.sim.faults import FaultPlan, Options, choose_plan
from bakong.sim.node import Node
from bakong.sim.workload import Workload
from bakong.sim.world import World

__all__ = ["RunResult", "Summary", "run_seed", "run_seeds"]


@dataclass(frozen=True)
class RunResult:
    seed: int
    heights: int
    transactions: int
    violations: tuple[Violation, ...]
    trace_hash: str
    plan: FaultPlan
    stats: dict[str, int]

    def as_json(self) -> dict[str, object]:
        return {
            "seeds": 1,
            "heights": self.heights,
            "transactions": self.transactions,
            "violations": len(self.violations),
            "first_failing_seed": self.seed if self.violations else None,
            "violation_kinds": dict(Counter(violation.kind for violation in self.violations)),
            "seed": self.seed,
            "trace_hash": self.trace_hash,
            "violation": [violation.as_json() for violation in self.violations],
            "stats": self.stats,
            "plan": self.plan.summary(),
        }


class Run:
    """The loop of one seed (module steps 2-5)."""

    def __init__(self, world: World) -> None:
        self.world = world
        plan = world.plan
        behaviours = dict(zip(plan.byzantine, plan.behaviours, strict=True))
        world.nodes = [
            Node(index, world, behaviours.get(index)) for index in range(world.options.validators)
        ]
        self.workload = Workload(world.rng, world.options.validators, world.wall_ms)
        self.calm = False
        self.partitions = 0
        self.target_height = world.options.heights
        self.target_ms: int | None = None  # when the chain reached the target height
        self.settled = False
        self.sim_ms_max = plan.calm_ms + liveness_budget_ms(world.options.heights)

    def start(self) -> None:
        """Module step 2."""
        world = self.world
        for node in world.nodes:
            node.boot()
            world.after(world.rng.randint(1, limits.sim_status_interval_ms), Tick(node.index))
        world.after(0, WorkloadTick())
        world.after(limits.sim_fault_tick_ms, FaultTick())

    def step(self) -> bool:
        """Process one event and check; False once the run is over (module steps 3-5)."""
        world = self.world
        scheduler, checker = world.scheduler, world.checker
        if self.settled or checker.violations:
            return False
        event = scheduler.pop()
        if event is None:
            checker.violate("liveness", world.now_ms, None, "no event left to process")
            return False
        scheduler.record(describe(event))
        try:
            self._dispatch(event)
        except AssertionError as error:  # an invariant of the real code (or ours) fired
            checker.violate("crash", world.now_ms, None, _where(error))
            return False
        checker.step(world.now_ms)
        self._advance()
        over_budget = scheduler.events >= scheduler.events_max or world.now_ms >= self.sim_ms_max
        return not over_budget and not self.settled and not checker.violations

    def run(self) -> None:
        self.start()
        while self.step():
            pass
        self.finish()

    def finish(self) -> None:
        world = self.world
        honest = [node.height for node in world.nodes if node.honest]
        world.checker.finish(world.now_ms, honest, self.target_height, self.settled)

    def _dispatch(self, event: Event) -> None:
        world = self.world
        nodes = world.nodes
        match event:
            case Deliver(packet=packet):
                target = nodes[packet.target]
                if target.up and world.network.connected(packet.source, packet.target):
                    source = world.chain.keys[packet.source].public_key
                    target.receive(source, packet.kind, packet.data)
            case Timer(node=index, epoch=epoch, timeout=timeout):
                if nodes[index].up and nodes[index].epoch == epoch:
                    nodes[index].on_timer(timeout)
            case ValueBuilt(node=index, epoch=epoch, ready=ready):
                if nodes[index].up and nodes[index].epoch == epoch:
                    nodes[index].on_value(ready)
            case Tick(node=index):
                if nodes[index].up:
                    nodes[index].tick()
                world.after(limits.sim_status_interval_ms, event)
            case WorkloadTick():
                self.workload.tick(world.now_ms, world.checker.is_committed, self._submit)
                world.after(world.plan.transfer_every_ms, event)
            case Submit(node=index, tx_hash=tx_hash, data=data):
                node = nodes[index]  # a Byzantine node admits too, but acknowledges nothing
                accepted = node.up and node.submit(data).status is AdmissionStatus.ACCEPTED
                if accepted and node.honest:
                    world.checker.acknowledge(world.now_ms, tx_hash)
            case FaultTick():
                if not self.calm:
                    self._faults()
                    world.after(limits.sim_fault_tick_ms, event)
            case Heal(partition=partition):
                if partition == self.partitions and not self.calm:
                    world.network.heal()
            case Restart(node=index):
                if not nodes[index].up:
                    nodes[index].restart()

    def _submit(self, node: int, tx_hash: bytes, data: bytes) -> None:
        delay_ms = self.world.rng.randint(1, limits.sim_submit_ms_max)
        self.world.after(delay_ms, Submit(node, tx_hash, data))

    def _faults(self) -> None:
        """One draw of partitions and crashes (the links' own faults act per packet)."""
        world = self.world
        rng, plan, network = world.rng, world.plan, world.network
        if network.groups is None and rng.random() < plan.partition_per_tick:
            size = network.size
            order = list(range(size))
            rng.shuffle(order)
            cut = rng.randint(1, size - 1)
            groups = [0] * size
            for index in order[cut:]:
                groups[index] = 1
            network.partition(groups)
            self.partitions += 1
            world.record(f"partition {self.partitions} {groups}")
            world.after(rng.randint(100, plan.partition_ms_max), Heal(self.partitions))
        if rng.random() < plan.crash_per_tick:
            nodes = world.nodes
            honest_up = [node.index for node in nodes if node.up and node.honest]
            honest_down = sum(1 for node in nodes if node.honest and not node.up)
            if honest_up and honest_down < max(1, world.options.byzantine):
                index = rng.choice(honest_up)
                lost = nodes[index].crash()
                world.record(f"crash {index} lost {lost}")
                world.after(rng.randint(50, plan.down_ms_max), Restart(index))

    def _advance(self) -> None:
        """Module steps 4 and 5: stop the faults, stop the transfers, notice the end."""
        world = self.world
        checker, now_ms = world.checker, world.now_ms
        plan = world.plan
        if not self.calm and (checker.height >= plan.calm_height or now_ms >= plan.calm_ms):
            self._calm()
        if self.target_ms is None and checker.height >= self.target_height:
            self.target_ms = now_ms
            self.workload.draining = True
        if self.target_ms is None or self.workload.pending:
            return
        if all(node.height >= self.target_height for node in world.nodes if node.honest):
            self.settled = True
        elif now_ms - self.target_ms > limits.sim_drain_ms_max:
            self.sim_ms_max = now_ms  # give up: `finish` reports the lagging nodes

    def _calm(self) -> None:
        world = self.world
        self.calm = True
        world.network.calm()
        for node in world.nodes:
            if not node.up:
                node.restart()
        world.checker.calm(world.now_ms)
        world.record("calm")


def liveness_budget_ms(heights: int) -> int:
    """Simulated time a run may take after its faults stop."""
    return heights * 2_000 + limits.sim_drain_ms_max


def _where(error: AssertionError) -> str:
    """The assertion and the line that raised it (file name only: stable across machines)."""
    frame = traceback.extract_tb(error.__traceback__)[-1]
    return f"{type(error).__name__} at {PurePath(frame.filename).name}:{frame.lineno}: {error}"


def _stats(world: World, run: Run) -> dict[str, int]:
    nodes, checker = world.nodes, world.checker
    return {
        "events": world.scheduler.events,
        "sim_ms": world.now_ms,
        "packets_sent": world.network.sent,
        "packets_dropped": world.network.dropped,
        "packets_duplicated": world.network.duplicated,
        "partitions": run.partitions,
        "crashes": sum(node.crashes for node in nodes),
        "signatures_refused": sum(node.refused for node in nodes),
        "evidence": sum(node.evidence for node in nodes),
        "ledger_attacks": sum(node.byzantine.ledger_attacks for node in nodes),
        "attack_transactions_refused": world.checker.attacks_refused,
        "sync_lies": sum(node.byzantine.sync_lies for node in nodes),
        "sync_refused": world.sync_refused,
        "transactions_signed": run.workload.signed,
        "transactions_acknowledged": len(world.checker.acknowledged),
        # The gateways' (a Byzantine over-limit transfer executes too, refused by a limit).
        "transactions_executed": sum(1 for tx in checker.executed if tx not in checker.attacks),
    }


def run_seed(seed: int, options: Options) -> RunResult:
    """Module steps 1-5 for one seed. Deterministic: the same seed gives the same result."""
    rng = random.Random(seed)
    plan = choose_plan(rng, options)
    if options.mutant is not None:
        plan = mutants.fault_plan(options.mutant, rng, plan)
    events_max = 50_000 + options.heights * options.validators * 1_000
    with mutants.applied(options.mutant):
        world = World(seed, options, plan, rng, events_max)
        run = Run(world)
        run.run()
    checker = world.checker
    return RunResult(
        seed=seed,
        heights=checker.height,
        transactions=checker.transactions,
        violations=tuple(checker.violations),
        trace_hash=world.scheduler.trace_hash(),
        plan=plan,
        stats=_stats(world, run),
    )


@dataclass
class Summary:
    """Totals over seeds; `trace_hash` chains every seed's trace hash in order."""

    seeds: int = 0
    heights: int = 0
    transactions: int = 0
    violations: int = 0
    violation_kinds: Counter[str] = field(default_factory=Counter)  # failing seeds by kind
    first_failing_seed: int | None = None
    failures: list[tuple[int, Violation]] = field(default_factory=list)
    traces: Any = field(default_factory=hashlib.sha256)

    def add(self, result: RunResult) -> None:
        self.traces.update(result.trace_hash.encode())
        self.seeds += 1
        self.heights += result.heights
        self.transactions += result.transactions
        if result.violations:
            self.violations += 1
            self.violation_kinds[result.violations[0].kind] += 1
            if self.first_failing_seed is None:
                self.first_failing_seed = result.seed
            self.failures.append((result.seed, result.violations[0]))

    def as_json(self) -> dict[str, object]:
        return {
            "seeds": self.seeds,
            "heights": self.heights,
            "transactions": self.transactions,
            "violations": self.violations,
            "first_failing_seed": self.first_failing_seed,
            "violation_kinds": dict(sorted(self.violation_kinds.items())),
            "trace_hash": self.traces.hexdigest(),
            "failures": [
                {"seed": seed, **violation.as_json()} for seed, violation in self.failures[:20]
            ],
        }


def run_seeds(
    seeds: Iterable[int],
    options: Options,
    *,
    stop_at_first: bool = False,
    progress: Callable[[Summary, RunResult], None] | None = None,
) -> Summary:
    """Run each seed in turn; `stop_at_first` ends at the first failing seed."""
    summary = Summary()
    for seed in seeds:
        result = run_seed(seed, options)
        summary.add(result)
        if progress is not None:
            progress(summary, result)
        if stop_at_first and result.violations:
            break
    return summary
