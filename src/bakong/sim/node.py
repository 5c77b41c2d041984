"""A simulated validator host: the real driver and the real ledger, behind a simulated process.

The node does for the driver what `docs/consensus.md` ("the host's contract") asks of a host:

- `BroadcastProposal`, `BroadcastVote`: check and persist the double-sign guard (synced),
  sign, send, feed the signed message back (a proposal as valid);
- `ScheduleTimeout`: `TimeoutElapsed` later on the simulated clock (lost if the node crashes);
- `GetValue`: build and execute a block from the mempool (`build_block`), feed `ValueReady`;
- `Decision`: persist the block with its commit, apply its write set, start the next height.

Rules:
1. Every input is appended to the height's write-ahead log before the driver sees it. Before
   a signed message leaves, the guard and the message itself are written and everything is
   synced. After a crash the node rebuilds its state from the committed blocks on its disk,
   replays the log of the next height into a fresh driver (which restores its lock and valid
   value), feeds it its own signed messages of that height, and refuses to sign anything the
   guard says it may have signed before (`bakong.sim.signer`).
2. A proposal is fed with `valid(v)` (`bakong.sim.validity`), computed when the node reaches
   its height; messages for later heights wait in a bounded buffer, messages for earlier
   heights are dropped.
3. A node behind its peers catches up with blocks and commits (`bakong.sim.catchup`).
4. Gateways submit to the mempool (`check_tx`): decodable, this chain, signatures valid, not
   already committed. An accepted transaction is gossiped once to every peer.
5. The node's clock is the simulated clock plus its skew; block times come from it.
6. Gossip is reliable in the end, as Algorithm 1 assumes ("a message a correct process
   receives, every correct process eventually receives"): packets are lost, so while a
   height is taking long, every status interval an honest node relays to one peer at random
   every proposal and vote it holds of the rounds a peer may still need (the current and
   previous round, its locked and valid rounds, and the proof-of-lock round of the current
   proposal), its own and others' alike.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from bakong import limits
from bakong.consensus.driver import (
    Driver,
    DriverInput,
    DriverOutput,
    ProposalReceived,
    Start,
    TimeoutElapsed,
    ValueReady,
    VoteReceived,
)
from bakong.consensus.evidence import ProposalEquivocation, VoteEquivocation
from bakong.consensus.messages import (
    Proposal,
    ProposalBody,
    Vote,
    VoteBody,
    VoteType,
    proposal_sign_bytes,
    sign_proposal,
    sign_vote,
    vote_sign_bytes,
)
from bakong.consensus.round import (
    BroadcastProposal,
    BroadcastVote,
    Decision,
    GetValue,
    NewRound,
    ScheduleTimeout,
    Value,
)
from bakong.ledger.block import (
    Block,
    BlockOutcome,
    LedgerState,
    block_hash,
    build_block,
    chain_app_hash,
    decode_block,
)
from bakong.ledger.commit import Commit
from bakong.ledger.genesis import genesis_state
from bakong.ledger.records import ValidatorSchedule
from bakong.ledger.state import VALIDATORS_KEY, MemoryStore, decode_value, seen_key
from bakong.ledger.transaction import signing_message
from bakong.ledger.validators import ValidatorSet
from bakong.sim import byzantine
from bakong.sim.byzantine import Behaviour
from bakong.sim.catchup import (
    BlockRequest,
    BlockResponse,
    CommittedBlock,
    Status,
    SyncMessage,
    check_committed,
    decode_sync,
    encode_sync,
)
from bakong.sim.chain import (
    block_build_ms_max,
    block_txs_max,
    later_messages_max,
    status_interval_ms,
    sync_blocks_max,
    sync_request_timeout_ms,
    validators_max,
)
from bakong.sim.disk import Disk, StoredBlock
from bakong.sim.events import Timer, ValueBuilt
from bakong.sim.mempool import Mempool
from bakong.sim.network import Packet
from bakong.sim.signer import SignedStep, SignStep, may_sign
from bakong.sim.validity import Checked, Tip, check_block
from bakong.wire.codec import encode

if TYPE_CHECKING:
    from bakong.sim.world import World

__all__ = ["Node"]

mempool_capacity = 4_096
#: Messages kept per round for relaying: two votes and a conflicting pair per validator, and
#: the proposals (evidence included).
gossip_per_round_max = 4 * validators_max + limits.proposals_per_round_max
_vote_steps = {VoteType.PREVOTE: SignStep.PREVOTE, VoteType.PRECOMMIT: SignStep.PRECOMMIT}


class Node:
    """One validator host (module rules). `index` is its place in the run and its key."""

    def __init__(self, index: int, world: World, behaviour: Behaviour | None) -> None:
        self.index = index
        self.world = world
        self.key = world.chain.keys[index]
        self.behaviour = behaviour
        self.skew_ms = world.plan.skews_ms[index]
        self.disk = Disk()
        self.up = False
        self.epoch = 0
        self.crashes = 0
        self.refused = 0  # signatures the guard refused (after restarts)
        self.evidence = 0
        self.byzantine = byzantine.Memory()
        self._forget()

    @property
    def honest(self) -> bool:
        return self.behaviour is None

    def clock_ms(self) -> int:
        """Rule 5: the node's own idea of the time (Unix ms)."""
        return self.world.wall_ms() + self.skew_ms

    def _forget(self) -> None:
        """Drop everything a crash loses: the node is its genesis state plus its disk."""
        state, store = genesis_state(self.world.chain.genesis)
        self.store: MemoryStore = store
        self.state: LedgerState = state
        self.height = 0  # the last committed height
        self.tip_hash = self.world.chain.genesis_hash
        self.tip_time_ms = self.world.chain.genesis.genesis_time_ms
        self.blocks: list[StoredBlock] = []  # blocks[h - 1] is height h
        self.sets: dict[int, ValidatorSet] = {1: self._next_set(None)}
        self.driver: Driver | None = None
        self.later: list[Proposal | Vote] = []
        self.mempool = Mempool(mempool_capacity)
        self.signed: SignedStep | None = None
        self.checked: dict[tuple[bytes, bytes], Checked] = {}  # this height's valid(v)
        self.pending: deque[tuple[DriverInput, bool]] = deque()
        self.feeding = False
        self.replaying = False
        self.sync_request: tuple[int, int] | None = None  # (peer, when sent)
        self.height_started_ms = 0
        self.gossip: dict[int, dict[bytes, str]] = {}  # this height's messages by round (rule 6)

    # Life cycle: boot, crash, restart.

    def boot(self) -> None:
        assert not self.up and self.height == 0
        self.up = True
        self._begin_height([])

    def crash(self, kept: int | None = None) -> int:
        """The process dies: unsynced writes may be lost (all but `kept`, if given). Returns
        how many were."""
        assert self.up
        lost = self.disk.crash(self.world.rng, kept)
        self.up = False
        self.epoch += 1
        self.crashes += 1
        self._forget()
        return lost

    def restart(self) -> None:
        """Rebuild from the disk: committed blocks, the guard, the current height's log."""
        assert not self.up
        self.up = True
        self.epoch += 1
        image = self.disk.image()
        for height in range(1, len(image.blocks) + 1):
            stored = image.blocks.get(height)
            if stored is None:
                break
            self._reload(stored)
        self.signed = image.signed
        replay = image.wal if image.wal_height == self.height + 1 else []
        own = image.own if image.own_height == self.height + 1 else []
        self._begin_height(replay)
        self._feed_own(own)

    def _feed_own(self, own: list[tuple[str, bytes]]) -> None:
        """After a replay, our own signed messages of the height: those whose copy the log
        lost are fed now (the others are harmless duplicates)."""
        memo = self.world.memo
        for kind, data in own:
            if kind == "proposal":
                proposal = memo.proposal(data)
                assert proposal is not None and proposal.proposer == self.key.public_key
                if proposal.height == self.height + 1:
                    self._keep(kind, proposal.round, data)
                    self._feed(ProposalReceived(proposal, True))
            else:
                vote = memo.vote(data)
                assert vote is not None and vote.validator == self.key.public_key
                if vote.height == self.height + 1:
                    self._keep(kind, vote.round, data)
                    self._feed(VoteReceived(vote))

    def _reload(self, stored: StoredBlock) -> None:
        """Re-apply one stored block's write set, checking it against what was stored."""
        assert stored.height == self.height + 1
        header = decode_block(stored.block).header
        assert block_hash(header) == stored.block_hash
        assert header.previous_hash == self.tip_hash
        app_hash = chain_app_hash(self.world.chain.chain_id, self.state.app_hash, stored.write_set)
        assert app_hash == stored.app_hash == header.app_hash, "the disk returned what was written"
        self.store.apply(stored.write_set)
        self.state = LedgerState(self.store, app_hash)
        self._advance(stored, header.time_ms)

    # Heights.

    def _next_set(self, previous: ValidatorSet | None) -> ValidatorSet:
        """The set deciding the next height: `current` of the schedule in the committed state."""
        raw = self.store.get(VALIDATORS_KEY)
        assert raw is not None
        schedule = decode_value(VALIDATORS_KEY, raw)
        assert isinstance(schedule, ValidatorSchedule)
        if previous is not None and previous.validators == schedule.current:
            return previous
        return ValidatorSet(schedule.current)

    def _advance(self, stored: StoredBlock, time_ms: int) -> None:
        """Bookkeeping of a newly committed height (from consensus, catch-up or the disk)."""
        height = stored.height
        self.blocks.append(stored)
        assert len(self.blocks) == height
        self.height = height
        self.tip_hash = stored.block_hash
        self.tip_time_ms = time_ms
        self.sets[height + 1] = self._next_set(self.sets[height])
        self.sets.pop(height - 1, None)
        assert sorted(self.sets) == [height, height + 1]

    def tip(self) -> Tip:
        height = self.height + 1
        return Tip(
            chain_id=self.world.chain.chain_id,
            height=height,
            state=self.state,
            previous_hash=self.tip_hash,
            validator_set=self.sets[height],
            previous_set=self.sets.get(self.height) if self.height > 0 else None,
        )

    def _begin_height(self, replay: list[DriverInput]) -> None:
        """L52-L54 for the host: a driver for the next height, then what was waiting for it."""
        height = self.height + 1
        self.driver = Driver(
            height, self.sets[height], self.key.public_key, self.world.chain.timeouts
        )
        self.checked = {}
        self.gossip = {}
        self.pending.clear()
        self.height_started_ms = self.world.now_ms
        self.replaying = False  # a height the log decided while replaying is over
        if replay:
            self.replaying = True
            for event in replay:
                if self.height != height - 1:
                    break  # the log decided the height
                if isinstance(event, ProposalReceived):
                    self._keep("proposal", event.proposal.round, encode(event.proposal))
                elif isinstance(event, VoteReceived):
                    self._keep("vote", event.vote.round, encode(event.vote))
                self._feed(event, log=False)
            self.replaying = False
        else:
            self._feed(Start())
        if self.height != height - 1:
            return
        waiting, self.later = self.later, []
        for message in waiting:
            self._accept(message, None)

    def _commit(self, block: Block, data: bytes, commit: Commit, outcome: BlockOutcome) -> None:
        """Persist and apply a decided block (its write set in one disk write), then move on."""
        height = self.height + 1
        header = block.header
        assert header.height == height
        assert commit.height == height
        assert commit.block_hash == block_hash(header)
        stored = StoredBlock(
            height, data, commit.block_hash, commit, outcome.write_set, outcome.app_hash
        )
        self.disk.put_block(stored)
        self.store.apply(outcome.write_set)
        self.state = LedgerState(self.store, outcome.app_hash)
        self._advance(stored, header.time_ms)
        self.mempool.remove(outcome.tx_hashes)
        self.world.committed(self, stored, outcome)
        self._begin_height([])

    def _is_committed(self, tx_hash: bytes) -> bool:
        """In the committed replay window: executed (or refused after authentication)."""
        return self.store.get(seen_key(tx_hash)) is not None

    # The driver: inputs in, outputs performed.

    def _feed(self, event: DriverInput, log: bool = True) -> None:
        """Give the driver one input (queued if it is busy); perform its outputs (rule 1)."""
        self.pending.append((event, log))
        if self.feeding:
            return
        self.feeding = True
        try:
            while self.pending:
                event, log = self.pending.popleft()
                driver = self.driver
                assert driver is not None
                if log:
                    self.disk.append_wal(driver.height, event)
                self._perform(driver, driver.apply(event))
        finally:
            self.feeding = False

    def _perform(self, driver: Driver, outputs: list[DriverOutput]) -> None:
        for output in outputs:
            if self.driver is not driver:
                return  # a decision ended the height; the rest belongs to it
            match output:
                case BroadcastProposal(proposal=body, value=value):
                    self._propose(body, value)
                case BroadcastVote(vote=body):
                    self._vote(body)
                case ScheduleTimeout(kind=kind, height=height, round=round, duration_ms=ms):
                    timeout = TimeoutElapsed(kind, height, round)
                    self.world.after(ms, Timer(self.index, self.epoch, timeout))
                case GetValue(height=height, round=round):
                    self._build(height, round)
                case Decision(value=value):
                    self._decide(driver, value)
                case NewRound():
                    pass
                case VoteEquivocation() | ProposalEquivocation():
                    self.evidence += 1

    def _guard(self, step: SignedStep) -> bool:
        """The double-sign guard, written before the signature exists (synced with the signed
        message by `_persist_own`, before it leaves)."""
        if not may_sign(self.signed, step):
            self.refused += 1
            self.world.record(f"refuse {self.index} {step.height}/{step.round}/{int(step.step)}")
            return False
        self.signed = step
        self.disk.put_signed(step)
        return True

    def _propose(self, body: ProposalBody, value: bytes) -> None:
        chain_id = self.world.chain.chain_id
        sign_bytes = proposal_sign_bytes(chain_id, body)
        if not self._guard(SignedStep(body.height, body.round, SignStep.PROPOSE, sign_bytes)):
            return
        proposal = sign_proposal(chain_id, self.key, body, value)
        self._persist_own("proposal", body.height, encode(proposal))
        if self.behaviour is None:
            self._send("proposal", body.round, encode(proposal))
        else:
            byzantine.send_proposal(self, proposal)
        if not self.replaying:
            self._feed(ProposalReceived(proposal, True))

    def _vote(self, body: VoteBody) -> None:
        chain_id = self.world.chain.chain_id
        step = SignedStep(
            body.height, body.round, _vote_steps[body.type], vote_sign_bytes(chain_id, body)
        )
        if not self._guard(step):
            return
        vote = sign_vote(chain_id, self.key, body)
        self._persist_own("vote", body.height, encode(vote))
        if self.behaviour is None:
            self._send("vote", body.round, encode(vote))
        else:
            byzantine.send_vote(self, vote)
        if not self.replaying:
            self._feed(VoteReceived(vote))

    def _persist_own(self, kind: str, height: int, data: bytes) -> None:
        """Rule 1: the guard and the signed message are on disk (synced) before it leaves."""
        if not self.replaying:
            self.disk.append_own(height, kind, data)
        self.disk.sync()

    def _send(self, kind: str, round: int, data: bytes) -> None:
        """Broadcast one of our own messages, and keep it to relay (rule 6)."""
        self._keep(kind, round, data)
        self.world.network.broadcast(self.index, kind, data)

    def _keep(self, kind: str, round: int, data: bytes) -> None:
        kept = self.gossip.setdefault(round, {})
        if len(kept) < gossip_per_round_max:
            kept[data] = kind

    def _relay(self) -> None:
        """Rule 6: the messages of the rounds a peer may still need, to one peer at random."""
        driver = self.driver
        assert driver is not None
        state = driver.state
        rounds = {driver.round, driver.round - 1, state.valid_round, state.locked_round}
        rounds.update(proposal.pol_round for proposal, _ in driver.proposals(driver.round))
        peer = self.world.rng.randrange(self.world.network.size - 1)
        peer += peer >= self.index  # anyone but us
        network = self.world.network
        for round in sorted(rounds):
            for data, kind in self.gossip.get(round, {}).items():
                network.send(self.index, peer, kind, data)

    def _build(self, height: int, round: int) -> None:
        """L18 getValue(): a block from the mempool, executed; ready after a short while."""
        assert height == self.height + 1
        block, outcome = build_block(
            self.state,
            time_ms=max(self.clock_ms(), self.tip_time_ms + 1),
            proposer=self.key.public_key,
            previous_hash=self.tip_hash,
            last_commit=self.blocks[-1].commit if self.blocks else None,
            transactions=self.mempool.take(block_txs_max, self._is_committed),
            verify=self.world.memo.verify,
        )
        value = Value(block_hash(block.header), encode(block))
        self.checked[(value.id, value.data)] = Checked(None, block, outcome)
        ready = ValueReady(height, round, value)
        delay_ms = self.world.rng.randint(1, block_build_ms_max)
        self.world.after(delay_ms, ValueBuilt(self.index, self.epoch, ready))

    def _decide(self, driver: Driver, value: Value) -> None:
        """L49-L51: the value is decided; its commit is the precommits that decided it."""
        commit = driver.commit()
        checked = self.checked.get((value.id, value.data))
        if checked is None:  # decided while replaying the log after a restart
            checked = self._check(value.data, value.id, None)
        assert checked.block is not None, "L49 decides only a valid value"
        assert checked.outcome is not None
        self._commit(checked.block, value.data, commit, checked.outcome)

    def _check(self, data: bytes, value_id: bytes, now_ms: int | None) -> Checked:
        memo = self.world.memo
        return check_block(
            self.tip(),
            data,
            value_id,
            now_ms=now_ms,
            verify=memo.verify,
            verify_commit=memo.commit_status,
        )

    def _validity(self, proposal: Proposal) -> bool:
        """valid(v) for a proposal at the current height, remembered for the height."""
        key = (proposal.value_id, proposal.value)
        checked = self.checked.get(key)
        if checked is None:
            checked = self._check(proposal.value, proposal.value_id, self.clock_ms())
            if checked.reason != "time_future":  # the only verdict that can change
                self.checked[key] = checked
        return checked.valid

    # Messages from the network and the gateways.

    def receive(self, packet: Packet) -> None:
        assert self.up
        memo = self.world.memo
        if packet.kind == "proposal":
            proposal = memo.proposal(packet.data)
            if proposal is not None:
                self._accept(proposal, packet.source)
        elif packet.kind == "vote":
            vote = memo.vote(packet.data)
            if vote is not None:
                self._accept(vote, packet.source)
        elif packet.kind == "tx":
            self.check_tx(packet.data, gossip=False)
        else:
            assert packet.kind == "sync"
            message = decode_sync(packet.data)
            if message is not None:
                self._sync(packet.source, message)

    def _accept(self, message: Proposal | Vote, source: int | None) -> None:
        """Rule 2: feed a message of this height, keep one of a later height, drop the rest."""
        height = self.height + 1
        if message.height < height:
            return
        if message.height > height:
            if len(self.later) < later_messages_max:
                self.later.append(message)
            if source is not None and message.height > height + 1:
                self._ask_blocks(source)  # the sender committed at least two more heights
            return
        data = encode(message)
        if data in self.gossip.get(message.round, {}):
            return  # a copy (duplicated or relayed): the driver has it, and so has the log
        self._keep("proposal" if isinstance(message, Proposal) else "vote", message.round, data)
        if isinstance(message, Proposal):
            self._feed(ProposalReceived(message, self._validity(message)))
        else:
            self._feed(VoteReceived(message))

    def on_timer(self, timeout: TimeoutElapsed) -> None:
        if timeout.height == self.height + 1:
            self._feed(timeout)

    def on_value(self, ready: ValueReady) -> None:
        if ready.height == self.height + 1:
            self._feed(ready)

    def check_tx(self, data: bytes, gossip: bool = True) -> bool:
        """Rule 4: admit a transaction to the mempool; True when it is there."""
        memo = self.world.memo
        found = memo.transaction(data)
        if found is None:
            return False
        transaction, tx_hash = found
        if tx_hash in self.mempool:
            return True
        chain_id = self.world.chain.chain_id
        if transaction.payload.chain_id != chain_id or self._is_committed(tx_hash):
            return False
        message = signing_message(chain_id, tx_hash)
        for entry in transaction.signatures:
            if not memo.verify(entry.public_key, message, entry.signature):
                return False
        if not transaction.signatures or not self.mempool.add(tx_hash, transaction):
            return False
        if gossip:
            self.world.network.broadcast(self.index, "tx", data)
        return True

    # Catch-up and chores.

    def tick(self) -> None:
        """Every `status_interval_ms`: sync the disk (a periodic fsync), announce the height,
        and send our messages again if the height is taking long (rule 6)."""
        assert self.up
        self.disk.sync()
        status = encode_sync(Status(self.height))
        self.world.network.broadcast(self.index, "sync", status)
        if self.honest and self.world.now_ms - self.height_started_ms >= status_interval_ms:
            self._relay()

    def _sync(self, source: int, message: SyncMessage) -> None:
        match message:
            case Status(height=height):
                waited_ms = self.world.now_ms - self.height_started_ms
                if height > self.height and waited_ms >= status_interval_ms:
                    self._ask_blocks(source)
            case BlockRequest(first_height=first, count=count):
                stored = self.blocks[first - 1 : first - 1 + count] if first >= 1 else []
                if stored:
                    blocks = tuple(CommittedBlock(s.block, s.commit) for s in stored)
                    data = encode_sync(BlockResponse(blocks))
                    self.world.network.send(self.index, source, "sync", data)
            case BlockResponse(blocks=blocks):
                if self.sync_request is not None and self.sync_request[0] == source:
                    self.sync_request = None
                applied = self._apply_blocks(blocks)
                if applied == sync_blocks_max:
                    self._ask_blocks(source)

    def _ask_blocks(self, peer: int) -> None:
        """One outstanding request at a time, sent again once it times out."""
        now_ms = self.world.now_ms
        if self.sync_request is not None:
            if now_ms - self.sync_request[1] < sync_request_timeout_ms:
                return
        self.sync_request = (peer, now_ms)
        request = encode_sync(BlockRequest(self.height + 1, sync_blocks_max))
        self.world.network.send(self.index, peer, "sync", request)

    def _apply_blocks(self, blocks: tuple[CommittedBlock, ...]) -> int:
        """Rule 3: commit each received block that is next and verifies; stop at the first
        that does not."""
        memo = self.world.memo
        applied = 0
        for item in blocks:
            if item.commit.height != self.height + 1:
                continue
            checked = check_committed(
                self.tip(), item, verify=memo.verify, verify_commit=memo.commit_status
            )
            if checked.block is None or checked.outcome is None:
                self.world.refused_block(self, item.commit.height, checked.reason)
                return applied
            self._commit(checked.block, item.block, item.commit, checked.outcome)
            applied += 1
        return applied
