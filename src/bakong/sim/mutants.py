"""Mutants: deliberately broken rules, to prove that every checker can fail.

A mutant replaces module-level functions of `bakong.consensus`, `bakong.ledger` or
`bakong.node` for the duration of a run (`applied(name)` patches them and always restores
them), gives the run a fault mix that exposes it (`fault_plan`), and names the checker it must
trip (`expected`, a kind of `bakong.sim.checker`); `tests/sim/test_mutants.py` requires that
violation within the first seeds.

- `no-lock`: L36-L43 without L38-L39, a validator precommits a value without locking on it
  (`agreement`);
- `weak-quorum`: "2f+1" becomes 2f votes, in the vote keeper and in commit verification
  (`commit`);
- `double-apply`: rung 4 looks a hash up in its block only, never in the replay window, so a
  replayed transaction applies twice (`executed_twice`);
- `credit-without-debit`: a transfer credits its target and leaves its source as it was
  (`conservation`);
- `node-order`: the write set leaves in an order that depends on the node (`app_hash`);
- `hold-never-expires`: a block never voids the holds past their expiry (`hold_expiry`);
- `forgery-accepted`: rung 8 counts a signature that does not verify (`attack_executed`);
- `lost-ack`: the mempool answers that it added a transaction and keeps nothing
  (`not_committed`);
- `no-propose-after-heal`: a proposer proposes in round 0 only, so after a partition heals, a
  height it left in a later round never gets a proposal (`liveness`).

Ledger mutants turn the compiled transfer lane off for the run (its rungs are C), so every
transaction takes the general path, the specification they patch. `credit-without-debit`
also switches off the ledger's own per-block conservation assertion, which would otherwise
stop the node first (a `crash`): the point is that the simulator's checker sees it.
`node-order` stands for what iterating an unsorted set would do on nodes with different hash
seeds: the first node store of the run (node 0's) writes its keys in reverse, the others
sorted; its plan keeps node 0 honest and the Byzantine nodes voting, so the others decide
without it and node 0, catching up, finds their blocks do not re-execute to their headers.

Nothing else in the package refers to this module: only the simulator's `--mutant` does.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import replace as replace_dataclass
from typing import Any

import msgspec

from bakong.consensus import commit as commit_module
from bakong.consensus import messages, vote_keeper
from bakong.consensus import round as round_module
from bakong.consensus.round import RoundInfo, RoundState, Step, Transition, Value
from bakong.ledger import block as block_module
from bakong.ledger import ladder, money
from bakong.ledger.context import Context
from bakong.ledger.records import Account
from bakong.ledger.result import ResultCode
from bakong.ledger.state import StateView, WriteSet, WrittenRecords
from bakong.node.mempool import Mempool
from bakong.sim.byzantine import Behaviour
from bakong.sim.faults import FaultPlan
from bakong.sim.network import LinkFaults

__all__ = ["MUTANTS", "Mutant", "applied", "fault_plan"]

#: (module or class, attribute, replacement): one function replaced for a run.
Patch = tuple[object, str, Any]
Plan = Callable[[random.Random, FaultPlan], FaultPlan]


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


def _never_seen(created_ms: int, tx_hash: bytes) -> bytes:
    """Rung 4's replay-window key, pointing nowhere: a replay is found only within its block."""
    return b"s/" + bytes(8 + len(tx_hash))


def _debit_nothing(
    context: Context, account: Account, index: int, amount: int
) -> tuple[ResultCode, Account]:
    """`money.debit` that takes nothing (and counts nothing towards the daily limit)."""
    return ResultCode.ok, account


def _no_block_check(view: StateView) -> None:
    """The ledger's per-block conservation assertion, switched off."""


def _no_sweep(context: Context) -> None:
    """A block that voids no expired hold."""


_start_round = round_module._start_round
_check_signatures = ladder._check_signatures
_changes = StateView.changes


def _start_round_proposing_in_round_zero(state: RoundState, info: RoundInfo) -> Transition:
    """L11-L21, where p is taken for the proposer of round 0 only (a broken L14)."""
    if state.round > 0:
        info = msgspec.structs.replace(info, is_proposer=False)
    return _start_round(state, info)


def _accept_any(public_key: bytes, message: bytes, signature: bytes) -> bool:
    return True


def _check_signatures_unverified(context: Context, *arguments: Any) -> ResultCode:
    """Rungs 8-11 with a verifier that accepts any signature (rung 8 gone)."""
    verify = context.verify
    context.verify = _accept_any
    try:
        code: ResultCode = _check_signatures(context, *arguments)
    finally:
        context.verify = verify
    return code


def _add_nothing(self: Mempool, tx_hash: bytes, transaction: object, size: int) -> bool:
    """`Mempool.add` that answers "added" and keeps nothing."""
    return True


def _node_order() -> list[Patch]:
    """`StateView.changes` reversed on the run's first store (module docstring); fresh for
    each run, so the first store is this run's."""
    first: list[object] = []

    def changes(view: StateView) -> tuple[WriteSet, WrittenRecords]:
        write_set, written = _changes(view)
        base = view.parts().base
        if not first:
            first.append(base)
        if base is first[0]:
            return write_set[::-1], written[::-1]
        return write_set, written

    return [(StateView, "changes", changes)]


_lane_off: Patch = (block_module, "native_execute_transactions", None)


def _seed_plan(rng: random.Random, plan: FaultPlan) -> FaultPlan:
    return plan


def _attack_on_locking(rng: random.Random, plan: FaultPlan) -> FaultPlan:
    """The classic attack on locking, which exposes both consensus mutants: every Byzantine
    validator equivocates whenever it proposes and coordinates its double votes with its two
    blocks (`bakong.sim.byzantine`), links lose a few packets, and there are no partitions or
    crashes (they give the correct processes time to catch up)."""
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


def _attacking(*attacks: str) -> Plan:
    """The seed's plan, its Byzantine validators putting `attacks` in every proposal."""

    def plan_for(rng: random.Random, plan: FaultPlan) -> FaultPlan:
        attack = Behaviour(0.0, 0.0, 0.0, 0.0, ledger=1.0, attacks=attacks)
        return replace_dataclass(plan, behaviours=tuple(attack for _ in plan.behaviours))

    return plan_for


def _node_zero_diverges(rng: random.Random, plan: FaultPlan) -> FaultPlan:
    """No faults; the Byzantine validators are the last ones and vote as honest ones do."""
    size = len(plan.skews_ms)
    calm = LinkFaults(plan.links.delay_ms_min, plan.links.delay_ms_max, 0.0, 0.0, 0.0, 0)
    quiet = Behaviour(0.0, 0.0, 0.0, 0.0)
    return replace_dataclass(
        plan,
        links=calm,
        partition_per_tick=0.0,
        crash_per_tick=0.0,
        byzantine=tuple(range(size - len(plan.byzantine), size)),
        behaviours=tuple(quiet for _ in plan.behaviours),
    )


def _partitioned(rng: random.Random, plan: FaultPlan) -> FaultPlan:
    """Frequent partitions, which leave heights in later rounds."""
    return replace_dataclass(plan, partition_per_tick=0.05, partition_ms_max=3_000)


@dataclass(frozen=True)
class Mutant:
    expected: str  # the checker's violation kind it must cause
    patches: Callable[[], list[Patch]]  # made afresh for each run
    plan: Plan = _seed_plan


MUTANTS: dict[str, Mutant] = {
    "no-lock": Mutant(
        "agreement",
        lambda: [(round_module, "_lock_or_update_valid", _lock_or_update_valid_without_lock)],
        _attack_on_locking,
    ),
    "weak-quorum": Mutant(
        "commit",
        lambda: [
            (vote_keeper, "has_quorum", _has_weak_quorum),
            (commit_module, "has_quorum", _has_weak_quorum),
        ],
        _attack_on_locking,
    ),
    "double-apply": Mutant(
        "executed_twice",
        lambda: [_lane_off, (ladder, "seen_key", _never_seen)],
        _attacking("replayed"),
    ),
    "credit-without-debit": Mutant(
        "conservation",
        lambda: [
            _lane_off,
            (money, "debit", _debit_nothing),
            (block_module, "check_block", _no_block_check),
        ],
    ),
    "node-order": Mutant("app_hash", lambda: [_lane_off, *_node_order()], _node_zero_diverges),
    "hold-never-expires": Mutant(
        "hold_expiry", lambda: [_lane_off, (block_module, "sweep_expired_holds", _no_sweep)]
    ),
    "forgery-accepted": Mutant(
        "attack_executed",
        lambda: [_lane_off, (ladder, "_check_signatures", _check_signatures_unverified)],
        _attacking("forged"),
    ),
    "lost-ack": Mutant("not_committed", lambda: [(Mempool, "add", _add_nothing)]),
    "no-propose-after-heal": Mutant(
        "liveness",
        lambda: [(round_module, "_start_round", _start_round_proposing_in_round_zero)],
        _partitioned,
    ),
}


@contextmanager
def applied(name: str | None) -> Iterator[None]:
    """Run the body with mutant `name` in place (nothing when None); always restore."""
    if name is None:
        yield
        return
    patches = MUTANTS[name].patches()
    originals = [(target, name, getattr(target, name)) for target, name, _ in patches]
    try:
        for target, attribute, replacement in patches:
            setattr(target, attribute, replacement)
        yield
    finally:
        for target, attribute, original in reversed(originals):
            setattr(target, attribute, original)


def fault_plan(name: str, rng: random.Random, plan: FaultPlan) -> FaultPlan:
    """The seed's plan, turned into the fault mix that exposes mutant `name`."""
    return MUTANTS[name].plan(rng, plan)
