"""The world of one run: the clock, the PRNG, the network, the memo, the checker and the nodes.

Nodes reach everything outside themselves through the world: they schedule their timers on
its clock, send through its network, verify through its memo and report their commits to its
checker. The world records what it is told in the trace.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from bakong import limits
from bakong.ledger.block import BlockOutcome
from bakong.node.memo import Memo
from bakong.node.service import StoredBlock
from bakong.sim.chain import GENESIS_TIME_MS, chain_setup
from bakong.sim.checker import Checker
from bakong.sim.events import Deliver, Event
from bakong.sim.faults import FaultPlan, Options
from bakong.sim.network import Network, Packet
from bakong.sim.scheduler import Scheduler

if TYPE_CHECKING:
    from bakong.sim.node import Node

__all__ = ["World"]


class World:
    def __init__(
        self, seed: int, options: Options, plan: FaultPlan, rng: random.Random, events_max: int
    ) -> None:
        self.seed = seed
        self.options = options
        self.plan = plan
        self.rng = rng
        self.chain = chain_setup(options.validators)
        self.index_of: dict[bytes, int] = {
            key.public_key: index for index, key in enumerate(self.chain.keys)
        }
        self.scheduler: Scheduler[Event] = Scheduler(events_max)
        self.memo = Memo(self.chain.chain_id)
        self.network = Network(options.validators, plan.links, rng, self._deliver_after)
        honest = [index not in plan.byzantine for index in range(options.validators)]
        self.checker = Checker(
            honest, limits.sim_liveness_ms, self.chain.chain_id, self.memo.verify
        )
        self.checker.sets[1] = self.chain.validator_set
        self.nodes: list[Node] = []
        self.sync_refused = 0  # catch-up answers honest nodes refused

    @property
    def now_ms(self) -> int:
        return self.scheduler.now_ms

    def wall_ms(self) -> int:
        """The simulated wall clock: Unix milliseconds, starting at the genesis time."""
        return GENESIS_TIME_MS + self.scheduler.now_ms

    def after(self, delay_ms: int, event: Event) -> None:
        self.scheduler.after(delay_ms, event)

    def record(self, line: str) -> None:
        self.scheduler.record(line)

    def _deliver_after(self, delay_ms: int, packet: Packet) -> None:
        self.scheduler.after(delay_ms, Deliver(packet))

    def committed(self, node: Node, stored: StoredBlock, outcome: BlockOutcome) -> None:
        """A node committed a block: the checker judges it (an honest node's state, or a
        Byzantine node's commit)."""
        height, checker = stored.height, self.checker
        self.record(f"commit {node.index} {height} {stored.commit.block_hash.hex()}")
        if not node.honest:
            checker.certify(self.now_ms, node.index, stored.commit)
            return
        checker.sets.setdefault(height + 1, node.sets[height + 1])
        checker.commit(
            self.now_ms,
            node.index,
            stored.commit,
            stored.app_hash,
            outcome.results,
            outcome.write_set,
            node.store,
        )

    def refused_block(self, node: Node, height: int, reason: str | None) -> None:
        """A block that arrived with a valid-looking commit did not check out."""
        self.record(f"sync-refused {node.index} {height} {reason}")
        self.sync_refused += node.honest
        if node.honest and reason == "header":
            detail = f"height {height}: a block with a valid commit does not re-execute"
            self.checker.violate("app_hash", self.now_ms, node.index, detail)
