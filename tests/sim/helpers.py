"""Shared helpers for the simulator's tests: small runs, and worlds stepped by hand."""

from __future__ import annotations

import dataclasses
import random

from bakong.sim.faults import FaultPlan, Options, choose_plan
from bakong.sim.network import LinkFaults
from bakong.sim.run import Run
from bakong.sim.world import World


def calm_plan(seed: int, options: Options) -> FaultPlan:
    """The seed's plan with every fault switched off."""
    plan = choose_plan(random.Random(seed), options)
    return dataclasses.replace(
        plan,
        links=LinkFaults(1, 20, 0.0, 0.0, 0.0, 0),
        partition_per_tick=0.0,
        crash_per_tick=0.0,
        skews_ms=tuple(0 for _ in plan.skews_ms),
    )


def stepped_run(seed: int, options: Options, plan: FaultPlan) -> Run:
    """A started run, to be advanced with `run.step()`."""
    world = World(seed, options, plan, random.Random(seed), events_max=1_000_000)
    run = Run(world)
    run.start()
    return run
