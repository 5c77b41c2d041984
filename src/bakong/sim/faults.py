"""The options of a run and the fault plan each seed draws from its PRNG.

A seed chooses, before anything runs: the link faults (delay range, loss up to 30 %,
duplication, delay spikes that reorder), how often partitions start and how long they last,
how often an honest validator crashes and how long it stays down, each validator's clock skew,
which validators are Byzantine and how each misbehaves, the gateways' pace, and when the faults
stop (a height, or a time, whichever comes first). Each fault is off for some seeds, so
the swarm covers both each fault alone and all of them together (TigerBeetle's swarm testing).

A mutant run (`bakong.sim.mutants`) draws the fault mix that exposes its broken rule.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from bakong import limits
from bakong.sim.byzantine import Behaviour, choose_behaviour
from bakong.sim.network import LinkFaults

__all__ = ["FaultPlan", "Options", "choose_plan"]


@dataclass(frozen=True)
class Options:
    validators: int = 4
    byzantine: int = 1
    heights: int = 200
    mutant: str | None = None

    def __post_init__(self) -> None:
        assert limits.sim_validators_min <= self.validators <= limits.sim_validators_max
        assert 0 <= self.byzantine <= (self.validators - 1) // 3
        assert self.heights >= 10


@dataclass(frozen=True)
class FaultPlan:
    links: LinkFaults
    partition_per_tick: float
    partition_ms_max: int
    crash_per_tick: float
    down_ms_max: int
    skews_ms: tuple[int, ...]
    byzantine: tuple[int, ...]  # node indices, sorted
    behaviours: tuple[Behaviour, ...]  # one per Byzantine node
    calm_height: int  # the faults stop when the chain reaches this height ...
    calm_ms: int  # ... or at this time, whichever comes first
    transfer_every_ms: int  # each gateway's pace

    def summary(self) -> dict[str, object]:
        """The plan as JSON-ready data, for a replay's report."""
        data = asdict(self)
        data["behaviours"] = [asdict(behaviour) for behaviour in self.behaviours]
        return data


def _maybe(rng: random.Random, off: float, low: float, high: float) -> float:
    """0 with probability `off`, else uniform in [low, high], rounded (JSON-stable)."""
    if rng.random() < off:
        return 0.0
    return round(rng.uniform(low, high), 4)


def _links(rng: random.Random) -> LinkFaults:
    delay_ms_min = rng.randint(1, 10)
    delay_ms_max = delay_ms_min + rng.choice((5, 20, 60, 150))
    return LinkFaults(
        delay_ms_min=delay_ms_min,
        delay_ms_max=delay_ms_max,
        loss=_maybe(rng, 0.3, 0.0, limits.sim_loss_max),
        duplicate=_maybe(rng, 0.5, 0.0, 0.1),
        spike=_maybe(rng, 0.5, 0.0, 0.1),
        spike_ms_max=rng.randint(50, 1_000),
    )


def choose_plan(rng: random.Random, options: Options) -> FaultPlan:
    """The seed's fault plan (module docstring). Draws in a fixed order."""
    links = _links(rng)
    partition_per_tick = _maybe(rng, 0.4, 0.005, 0.05)
    partition_ms_max = rng.randint(500, 5_000)
    crash_per_tick = _maybe(rng, 0.4, 0.005, 0.04)
    down_ms_max = rng.randint(100, 3_000)
    skew_ms_max = rng.choice((0, 0, 50, 300, 1_000))
    skews_ms = tuple(rng.randint(-skew_ms_max, skew_ms_max) for _ in range(options.validators))
    byzantine = tuple(sorted(rng.sample(range(options.validators), options.byzantine)))
    behaviours = tuple(choose_behaviour(rng) for _ in byzantine)
    calm_height = max(5, options.heights * rng.randint(40, 80) // 100)
    plan = FaultPlan(
        links=links,
        partition_per_tick=partition_per_tick,
        partition_ms_max=partition_ms_max,
        crash_per_tick=crash_per_tick,
        down_ms_max=down_ms_max,
        skews_ms=skews_ms,
        byzantine=byzantine,
        behaviours=behaviours,
        calm_height=calm_height,
        calm_ms=calm_height * 2_000,
        transfer_every_ms=rng.randint(150, 600),
    )
    assert len(plan.skews_ms) == options.validators
    assert plan.calm_height < options.heights
    return plan
