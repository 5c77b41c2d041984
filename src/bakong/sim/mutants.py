"""Mutants: deliberately broken consensus rules, to prove that the checkers can fail.

A mutant replaces one module-level function of `bakong.consensus` for the duration of a run
(`applied(name)` patches it and always restores it) and gives the run a fault mix that
exposes it:

- `no-lock`: L36-L43 without L38-L39, so a validator precommits a value without locking on
  it and may prevote for another value in a later round; expected violation: `agreement`;
- `weak-quorum`: "2f+1" becomes 2f votes (`has_quorum`, in the vote keeper and in commit
  verification); expected violation: `agreement`.

Nothing else in the package refers to this module: only the simulator's `--mutant` does.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace as replace_dataclass
from types import ModuleType

import msgspec

from bakong.consensus import commit as commit_module
from bakong.consensus import messages, vote_keeper
from bakong.consensus import round as round_module
from bakong.consensus.round import RoundState, Step, Transition, Value
from bakong.sim.byzantine import Behaviour
from bakong.sim.faults import FaultPlan
from bakong.sim.network import LinkFaults

__all__ = ["MUTANTS", "applied", "fault_plan"]


def _lock_or_update_valid_without_lock(
    state: RoundState, proposal: messages.Proposal
) -> Transition:
    """L37-L43 with L38-L39 (lockedValue_p <- v, lockedRound_p <- round_p) left out."""
    assert proposal.round == state.round
    value = Value(proposal.value_id, proposal.value)
    state = msgspec.structs.replace(
        state,
        valid_value=value,  # L42
        valid_round=state.round,  # L43
        executed_once=state.executed_once | {36},
    )
    if state.step is not Step.PREVOTE:  # L37
        return Transition(state, None)
    return round_module._precommit(state, value.id)  # L40-L41, and no lock


def _has_weak_quorum(power: int, total: int) -> bool:
    """2f votes count as a quorum, f = (total - 1) // 3 (the correct rule needs 2f + 1)."""
    assert 0 <= power <= total
    return power >= 2 * ((total - 1) // 3)


Patch = tuple[ModuleType, str, Callable[..., object]]

MUTANTS: dict[str, list[Patch]] = {
    "no-lock": [(round_module, "_lock_or_update_valid", _lock_or_update_valid_without_lock)],
    "weak-quorum": [
        (vote_keeper, "has_quorum", _has_weak_quorum),
        (commit_module, "has_quorum", _has_weak_quorum),
    ],
}


@contextmanager
def applied(name: str | None) -> Iterator[None]:
    """Run the body with mutant `name` in place (nothing when None); always restore."""
    if name is None:
        yield
        return
    patches = MUTANTS[name]
    originals = [
        (module, attribute, getattr(module, attribute)) for module, attribute, _ in patches
    ]
    try:
        for module, attribute, replacement in patches:
            setattr(module, attribute, replacement)
        yield
    finally:
        for module, attribute, original in originals:
            setattr(module, attribute, original)


def fault_plan(name: str, rng: random.Random, plan: FaultPlan) -> FaultPlan:
    """The seed's plan, turned into the classic attack on locking, which exposes both
    mutants: every Byzantine validator equivocates whenever it proposes and coordinates its
    double votes with its two blocks (`bakong.sim.byzantine`), links lose a few packets, and
    there are no partitions or crashes (they give the correct processes time to catch up)."""
    assert name in MUTANTS
    links = plan.links
    loss = round(rng.uniform(0.05, 0.1), 4)
    lossy = LinkFaults(links.delay_ms_min, links.delay_ms_max, loss, 0.0, 0.0, 0)
    attack = Behaviour(silence=0.0, equivocate=1.0, invalid=0.0, double_vote=1.0)
    return replace_dataclass(
        plan,
        links=lossy,
        partition_per_tick=0.0,
        crash_per_tick=0.0,
        behaviours=tuple(attack for _ in plan.behaviours),
    )
