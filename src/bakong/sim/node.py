"""A simulated validator: the real consensus host (`bakong.node.host`) in a simulated process.

The host, its replica (`bakong.node.replica`: routing, catch-up, relays) and its admission
(`bakong.node.admission`) are the same code the real validator runs; the simulation supplies
their I/O:

- its chain store is a `MemoryChain` journalled to a simulated `Disk`, and its consensus log
  is that disk too: a crash loses the unsynced writes, a restart rebuilds the host from what
  the disk kept (`crash`, `restart`);
- its clock is the simulated clock plus the node's skew; timers and block builds are events
  on the world's scheduler, tagged with the node's epoch so a crash cancels them;
- its network is the world's simulated network, peers named by their keys;
- a gateway's transaction reaches it through `submit` (its API) and a peer's through `receive`:
  both are admitted by the real admission rules against the node's own clock, verifying
  signatures inline; a transaction pooled from `submit` is gossiped to every peer;
- a Byzantine node sends its own proposals and votes, and its catch-up answers, through
  `bakong.sim.byzantine`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bakong import limits
from bakong.consensus.driver import TimeoutElapsed, ValueReady
from bakong.consensus.messages import Proposal, Vote
from bakong.ledger.block import BlockOutcome
from bakong.ledger.state import MemoryStore
from bakong.node.admission import Admitter
from bakong.node.envelope import MessageKind
from bakong.node.host import Host, HostLimits
from bakong.node.memory_chain import MemoryChain
from bakong.node.replica import Replica
from bakong.node.service import Admission, AdmissionStatus, StoredBlock
from bakong.sim import byzantine
from bakong.sim.byzantine import Behaviour
from bakong.sim.disk import Disk
from bakong.sim.events import Timer, ValueBuilt

if TYPE_CHECKING:
    from bakong.sim.world import World

__all__ = ["Node"]

SIM_LIMITS = HostLimits(
    block_txs_max=limits.sim_block_txs_max,
    mempool_txs_max=limits.sim_mempool_txs_max,
    mempool_bytes_max=limits.sim_mempool_txs_max * limits.tx_bytes_max,
    later_messages_max=limits.later_messages_max,
    status_interval_ms=limits.sim_status_interval_ms,
    sync_request_timeout_ms=limits.sim_sync_request_timeout_ms,
    gossip_per_round_max=4 * limits.sim_validators_max + limits.proposals_per_round_max,
)


class Node(Host):
    """One validator host (module docstring). `index` is its place in the run and its key."""

    def __init__(self, index: int, world: World, behaviour: Behaviour | None) -> None:
        self.index = index
        self.world = world
        self.behaviour = behaviour
        self.skew_ms = world.plan.skews_ms[index]
        self.disk = Disk()
        self.up = False
        self.epoch = 0
        self.crashes = 0
        self.byzantine = byzantine.Memory()
        self._forget(MemoryChain(world.chain.genesis, self.disk.put_block))

    def _forget(self, chain: MemoryChain) -> None:
        """Everything but the disk is lost: the host restarts from `chain`."""
        refused, evidence = getattr(self, "refused", 0), getattr(self, "evidence", 0)
        self.chain = chain
        setup = self.world.chain
        Host.__init__(
            self,
            key=setup.keys[self.index],
            chain_id=setup.chain_id,
            timeouts=setup.timeouts,
            limits=SIM_LIMITS,
            memo=self.world.memo,
            store=chain,
            log=self.disk,
            io=self,
        )
        self.refused, self.evidence = refused, evidence
        self.replica = Replica(self, self)
        self.admitter = Admitter(
            setup.chain_id, self.mempool, committed=self.is_committed, clock_ms=self.clock_ms
        )

    @property
    def honest(self) -> bool:
        return self.behaviour is None

    @property
    def store(self) -> MemoryStore:
        return self.chain.store

    # Life cycle: boot, crash, restart.

    def boot(self) -> None:
        assert not self.up and self.height == 0
        self.up = True
        self.start()

    def crash(self, kept: int | None = None) -> int:
        """The process dies: unsynced writes may be lost (all but `kept`, if given). Returns
        how many were."""
        assert self.up
        lost = self.disk.crash(self.world.rng, kept)
        self.up = False
        self.epoch += 1
        self.crashes += 1
        self._forget(MemoryChain(self.world.chain.genesis, self.disk.put_block))
        return lost

    def restart(self) -> None:
        """Rebuild from the disk: committed blocks, the guard, the current height's log."""
        assert not self.up
        self.up = True
        self.epoch += 1
        image = self.disk.image()
        genesis = self.world.chain.genesis
        self._forget(MemoryChain.rebuild(genesis, image.blocks, self.disk.put_block))
        self.start(image)

    # HostIO.

    def clock_ms(self) -> int:
        return self.world.wall_ms() + self.skew_ms

    def now_ms(self) -> int:
        return self.world.now_ms

    def schedule_timeout(self, delay_ms: int, timeout: TimeoutElapsed) -> None:
        self.world.after(delay_ms, Timer(self.index, self.epoch, timeout))

    def value_built(self, ready: ValueReady) -> None:
        delay_ms = self.world.rng.randint(1, limits.sim_block_build_ms_max)
        self.world.after(delay_ms, ValueBuilt(self.index, self.epoch, ready))

    def broadcast(self, kind: MessageKind, data: bytes) -> None:
        self.world.network.broadcast(self.index, kind, data)

    def send(self, peer: bytes, kind: MessageKind, data: bytes) -> None:
        if self.behaviour is not None and kind is MessageKind.SYNC:
            data = byzantine.send_sync(self, data)
        elif self.behaviour is not None and kind is MessageKind.FETCHED_TXS:
            data = byzantine.send_fetched(self, data)
        self.world.network.send(self.index, self.world.index_of[peer], kind, data)

    def defer_height(self) -> bool:
        return False

    def relay_peer(self) -> bytes | None:
        if not self.honest:
            return None
        peer = self.world.rng.randrange(self.world.network.size - 1)
        peer += peer >= self.index  # anyone but us
        return self.world.chain.keys[peer].public_key

    def committed(self, stored: StoredBlock, outcome: BlockOutcome) -> None:
        self.world.committed(self, stored, outcome)

    def refused_block(self, height: int, reason: str | None) -> None:
        self.world.refused_block(self, height, reason)

    def record(self, line: str) -> None:
        self.world.record(f"node {self.index} {line}")

    # Peers and gateways.

    def receive(self, source: bytes, kind: MessageKind, data: bytes) -> bool:
        """A peer's message; False when it does not decode (a real node scores the peer)."""
        if kind is MessageKind.TX:
            self._admit(data, gossip=False)
            return True
        return self.replica.receive(source, kind, data)

    def submit(self, data: bytes) -> Admission:
        """A gateway's transaction at the node's API."""
        return self._admit(data, gossip=True)

    def _admit(self, data: bytes, gossip: bool) -> Admission:
        """Admission with the signatures verified inline; a transaction pooled just now is
        gossiped if it came from a gateway (as the runtime does)."""
        checked = self.admitter.precheck(data)
        if isinstance(checked, Admission):
            return checked
        verify = self.world.memo.verify
        verdict = self.admitter.conclude(checked, all(verify(*c) for c in checked.checks))
        if verdict.status is AdmissionStatus.ACCEPTED:
            if gossip:
                self.broadcast(MessageKind.TX, data)
            if self.incomplete:  # a compact proposal may have waited for it, as in the runtime
                self.retry_incomplete()
        return verdict

    # Byzantine senders, and the simulation's chores.

    def send_proposal(self, proposal: Proposal, data: bytes) -> None:
        if self.behaviour is None:
            super().send_proposal(proposal, data)
        else:
            byzantine.send_proposal(self, proposal)

    def send_vote(self, vote: Vote, data: bytes) -> None:
        if self.behaviour is None:
            super().send_vote(vote, data)
        else:
            byzantine.send_vote(self, vote)

    def tick(self) -> None:
        """Every `status_interval_ms`: sync the disk (a periodic fsync), then the replica's
        chores (height announcement, catch-up, relays)."""
        assert self.up
        self.disk.sync()
        self.replica.tick()
