"""The consensus host: the driver's inputs fed and its outputs performed, height by height.

The host does for the driver what `docs/consensus.md` ("the host's contract") asks of it, and
is shared by the real validator runtime (`bakong.node.runtime`) and the simulator
(`bakong.sim.node`). It performs no I/O itself: the chain store, the consensus log, the clock,
timers and the network are handed to it (`ChainStore`, `ConsensusLog`, `HostIO`).

A validator's other concerns sit above it and call into it, never the reverse
(`bakong.node.replica` wires them): catch-up (`bakong.node.catchup`) commits verified blocks
through `commit_block`; admission (`bakong.node.admission`) fills the mempool the host builds
blocks from; the replica routes peer messages to `accept` and relays what the host keeps
(`bakong.node.relay`).

- `BroadcastProposal`, `BroadcastVote`: check and persist the double-sign guard, sign, write
  the signed message to the log, sync, send, feed it back (a proposal as valid);
- `ScheduleTimeout`: `TimeoutElapsed` later (lost if the process dies);
- `GetValue`: build and execute a block from the mempool (`build_block`), feed `ValueReady`;
- `Decision`: persist the block with its commit and apply its write set in one store write,
  then start the next height.

Rules:
1. Every input is appended to the height's log before the driver sees it. Before a signed
   message leaves, the guard and the message itself are written and everything is synced.
   After a restart the host starts from the committed state in its store, replays the log of
   the next height into a fresh driver (which restores its lock and valid value), feeds it
   its own signed messages of that height, and refuses to sign anything the guard says it may
   have signed before (`bakong.node.signer`). Up to the guard's horizon (a restored store's,
   which cannot know what the validator signed before it) it proposes nothing and votes only
   nil; blocks committed by catch-up move an open horizon on, and the first height decided by
   consensus at or above it closes it.
2. A proposal is fed with `valid(v)` (`bakong.node.validity`), computed when the host reaches
   its height; messages for later heights wait in a bounded buffer, messages for earlier
   heights are dropped.
3. A host behind its peers catches up with blocks and commits (`bakong.node.catchup`), which
   checks each block against `tip()` and hands it to `commit_block`.
4. Blocks are built from the mempool, which admission fills (`bakong.node.admission`); a
   committed block's transactions leave it.
5. Block times come from `io.clock_ms()`, never earlier than the previous block's time + 1.
6. Gossip is reliable in the end, as Algorithm 1 assumes: the host keeps every proposal and
   vote of the height it feeds or sends (`relays`), which the replica sends again while a
   height is taking long (`bakong.node.relay`).
7. After a commit the I/O may hold the next height back (`defer_height`) until it calls
   `resume`: a real node waits for transactions (or the heartbeat) instead of deciding empty
   blocks back to back. A consensus message for that height resumes it at once, so a node
   never holds up a height its peers have started.
8. The store takes a state snapshot at every snapshot height; the block `snapshot_lag`
   heights later carries its root (`bakong.node.snapshot`). The host asks the store for the
   root when it reaches that height (the store may take a moment to finish the digest); a
   proposer that lost its root does not propose that height.
9. Proposals travel compact (`bakong.node.compact`): the host sends its own as the header and
   transaction hashes, and rebuilds a peer's from its mempool and the transactions fetched
   for it. A proposal it lacks transactions for waits (the round proposer's only, at most
   `incomplete_proposals_max` for the height) while the host asks the peer that sent it
   (`fetches`, which the replica sends) and, on each relayed copy, the peer that relayed it;
   one never completed is one that never arrived (the round's timeout handles it). Only a
   complete proposal is logged, fed (as the full `Proposal`, which the log keeps, so a
   restart replays it without the mempool) and kept to relay, so a peer that relays one can
   answer for its transactions. A full proposal is still accepted.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Protocol

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
    Timeouts,
    Value,
)
from bakong.errors import RemoteError
from bakong.ledger.block import (
    Block,
    BlockHeader,
    BlockOutcome,
    LedgerState,
    SnapshotRoot,
    block_hash,
    build_block,
)
from bakong.ledger.commit import Commit
from bakong.ledger.records import ValidatorSchedule
from bakong.ledger.state import (
    VALIDATORS_KEY,
    WriteSet,
    WrittenRecords,
    decode_value,
    seen_key,
)
from bakong.ledger.transaction import Transaction
from bakong.ledger.validators import ValidatorSet
from bakong.limits import (
    fetch_asked_remembered_max,
    fetch_hashes_max,
    fetched_txs_max,
    incomplete_proposals_max,
    proposals_per_round_max,
    rounds_ahead_max,
    tx_past_ms_max,
)
from bakong.node.compact import CompactProposal, assemble, compact_proposal
from bakong.node.envelope import MessageKind
from bakong.node.memo import Memo
from bakong.node.mempool import Mempool
from bakong.node.relay import Relays
from bakong.node.service import StoredBlock
from bakong.node.signer import Horizon, SignedStep, SignStep, amnesiac_vote, may_sign
from bakong.node.snapshot import chain_config, due_snapshot
from bakong.node.validity import Checked, Tip, check_block
from bakong.wire.codec import encode
from bakong.wire.keys import SigningKey

__all__ = [
    "ChainStore",
    "CommittedTip",
    "ConsensusLog",
    "Host",
    "HostIO",
    "HostLimits",
    "LogImage",
]

_vote_steps = {VoteType.PREVOTE: SignStep.PREVOTE, VoteType.PRECOMMIT: SignStep.PRECOMMIT}


@dataclass(frozen=True, slots=True)
class HostLimits:
    block_txs_max: int  # transactions a proposer puts in one block
    mempool_txs_max: int
    mempool_bytes_max: int
    later_messages_max: int  # consensus messages kept for heights not reached yet
    status_interval_ms: int  # height announcements and relays
    sync_request_timeout_ms: int  # an unanswered catch-up request may be sent again
    gossip_per_round_max: int  # messages kept per round for relaying (rule 6)

    def __post_init__(self) -> None:
        assert 0 < self.block_txs_max <= self.mempool_txs_max
        assert self.sync_request_timeout_ms >= self.status_interval_ms > 0


@dataclass(frozen=True, slots=True)
class CommittedTip:
    """What a store says about its last committed height (0: only genesis)."""

    height: int
    state: LedgerState
    block_hash: bytes  # the genesis hash at height 0
    time_ms: int
    commit: Commit | None  # the commit of `height`
    validator_set: ValidatorSet | None  # the set that decided `height`


class ChainStore(Protocol):
    """Committed blocks and the state after the last of them, written together."""

    def tip(self) -> CommittedTip: ...

    def put_block(
        self,
        stored: StoredBlock,
        header: BlockHeader,
        write_set: WriteSet,
        written: WrittenRecords | None = None,
    ) -> LedgerState:
        """Persist `stored` (whose block has `header`) and apply `write_set` in one atomic
        write; the new state. `written` is the same writes as records, which the store may
        keep decoded for the next block (`DecodedRecords`)."""
        ...

    def stored_block(self, height: int) -> StoredBlock | None: ...

    def snapshot_root(self, height: int) -> bytes | None:
        """The root of the snapshot taken at `height` (waiting for its digest to finish),
        or None when this store lost it (rule 8)."""
        ...


@dataclass(slots=True)
class _Incomplete:
    """A compact proposal of this height waiting for transactions (rule 9)."""

    compact: CompactProposal
    source: bytes | None  # the last peer that sent it: it holds the whole block
    fetch_all: bool = False  # rebuilt once with bytes that were not the proposer's
    fetched: bool = False  # some of its transactions were asked for


@dataclass(slots=True)
class LogImage:
    """The consensus log as a restart reads it."""

    signed: SignedStep | None = None
    horizon: Horizon = field(default_factory=Horizon)  # rule 1
    wal_height: int = 0
    wal: list[DriverInput] = field(default_factory=list)
    own_height: int = 0
    own: list[tuple[MessageKind, bytes]] = field(default_factory=list)  # (kind, message)


class ConsensusLog(Protocol):
    """The double-sign guard and the current height's inputs and own messages (rule 1)."""

    def put_signed(self, signed: SignedStep) -> None: ...

    def put_horizon(self, horizon: Horizon) -> None: ...

    def append_wal(self, height: int, event: DriverInput) -> None: ...

    def append_own(self, height: int, kind: MessageKind, message: bytes) -> None: ...

    def sync(self) -> None: ...


class HostIO(Protocol):
    """The host's clock, timers and network (its own proposals and votes leave through
    `broadcast`)."""

    def clock_ms(self) -> int:
        """The wall clock, Unix ms (block times)."""
        ...

    def now_ms(self) -> int:
        """A monotonic clock, ms (how long a height has taken)."""
        ...

    def schedule_timeout(self, delay_ms: int, timeout: TimeoutElapsed) -> None: ...

    def value_built(self, ready: ValueReady) -> None:
        """Feed `ready` back through `Host.on_value` (at once or later)."""
        ...

    def broadcast(self, kind: MessageKind, data: bytes) -> None: ...

    def defer_height(self) -> bool:
        """After a commit: True to wait for `Host.resume` before starting the next height
        (rule 7); False to start it at once."""
        ...

    def committed(self, stored: StoredBlock, outcome: BlockOutcome) -> None: ...

    def record(self, line: str) -> None: ...


class Host:
    """One validator's consensus host (module rules)."""

    def __init__(
        self,
        *,
        key: SigningKey,
        chain_id: str,
        timeouts: Timeouts,
        limits: HostLimits,
        memo: Memo,
        store: ChainStore,
        log: ConsensusLog,
        io: HostIO,
    ) -> None:
        self.key = key
        self.chain_id = chain_id
        self.timeouts = timeouts
        self.limits = limits
        self.memo = memo
        self.chain_store = store
        self.log = log
        self.io = io
        self.refused = 0  # signatures the guard refused (after restarts)
        self.evidence = 0
        self.mempool = Mempool(limits.mempool_txs_max, limits.mempool_bytes_max)
        tip = store.tip()
        self.state: LedgerState = tip.state
        self.height = tip.height  # the last committed height
        self.tip_hash = tip.block_hash
        self.tip_time_ms = tip.time_ms
        self.last_commit: Commit | None = tip.commit
        self.sets: dict[int, ValidatorSet] = {}
        if tip.validator_set is not None:
            self.sets[tip.height] = tip.validator_set
        self.sets[tip.height + 1] = self._next_set(tip.validator_set)
        self.driver: Driver | None = None
        self.waiting = False  # rule 7: the next height is held back
        self.later: list[tuple[Proposal | Vote | CompactProposal, bytes | None]] = []
        self.incomplete: dict[bytes, _Incomplete] = {}  # rule 9, by the compact bytes
        # Transactions of this height's valid blocks and fetched for its proposals (rule 9).
        self.known: dict[bytes, Transaction] = {}
        self.asked: OrderedDict[bytes, None] = OrderedDict()  # hashes fetched lately
        self.fetches: list[tuple[bytes, list[bytes]]] = []  # (peer, hashes) to ask for
        self.compact_counts = {"proposals_rebuilt": 0, "proposals_fetched": 0, "txs_fetched": 0}
        self.signed: SignedStep | None = None
        self.horizon = Horizon()  # rule 1
        self.checked: dict[tuple[bytes, bytes], Checked] = {}  # this height's valid(v)
        self.pending: deque[tuple[DriverInput, bool]] = deque()
        self.feeding = False
        self.replaying = False
        self.height_started_ms = 0
        self.relays = Relays(limits.gossip_per_round_max)  # this height's messages (rule 6)
        self.chain_config = chain_config(tip.state.store)
        self.snapshot_due: tuple[int, SnapshotRoot | None] | None = None  # (height, root)

    # Life cycle.

    def start(self, image: LogImage | None = None) -> None:
        """Begin the next height: fresh, or from the log a restart read (rule 1)."""
        if image is None:
            self._begin_height([])
            return
        self.signed = image.signed
        self.horizon = image.horizon
        replay = image.wal if image.wal_height == self.height + 1 else []
        own = image.own if image.own_height == self.height + 1 else []
        self._begin_height(replay)
        self._feed_own(own)

    def _feed_own(self, own: list[tuple[MessageKind, bytes]]) -> None:
        """After a replay, our own signed messages of the height: those whose copy the log
        lost are fed now (the others are harmless duplicates)."""
        for kind, data in own:
            if kind is MessageKind.PROPOSAL:
                proposal = self.memo.proposal(data)
                assert proposal is not None and proposal.proposer == self.key.public_key
                if proposal.height == self.height + 1:
                    self.relays.keep(kind, proposal.round, data)
                    self._feed(ProposalReceived(proposal, True))
            else:
                assert kind is MessageKind.VOTE
                vote = self.memo.vote(data)
                assert vote is not None and vote.validator == self.key.public_key
                if vote.height == self.height + 1:
                    self.relays.keep(kind, vote.round, data)
                    self._feed(VoteReceived(vote))

    # Heights.

    def _next_set(self, previous: ValidatorSet | None) -> ValidatorSet:
        """The set deciding the next height: `current` of the schedule in the committed state."""
        raw = self.state.store.get(VALIDATORS_KEY)
        assert raw is not None
        schedule = decode_value(VALIDATORS_KEY, raw)
        assert isinstance(schedule, ValidatorSchedule)
        if previous is not None and previous.validators == schedule.current:
            return previous
        return ValidatorSet(schedule.current)

    def _advance(self, stored: StoredBlock, time_ms: int) -> None:
        """Bookkeeping of a newly committed height (from consensus or catch-up)."""
        height = stored.height
        assert height == self.height + 1
        self.height = height
        self.tip_hash = stored.commit.block_hash
        self.tip_time_ms = time_ms
        self.last_commit = stored.commit
        self.sets[height + 1] = self._next_set(self.sets[height])
        self.sets.pop(height - 1, None)
        assert sorted(self.sets) == [height, height + 1]

    def _snapshot(self, height: int) -> tuple[int | None, SnapshotRoot | None]:
        """Rule 8: the snapshot height block `height` carries, and its root if we have it."""
        snapshot_height = due_snapshot(self.chain_config, height)
        if snapshot_height is None:
            return None, None
        if self.snapshot_due is None or self.snapshot_due[0] != height:
            root = self.chain_store.snapshot_root(snapshot_height)
            carried = None if root is None else SnapshotRoot(snapshot_height, root)
            self.snapshot_due = (height, carried)
        return snapshot_height, self.snapshot_due[1]

    def tip(self) -> Tip:
        height = self.height + 1
        snapshot_height, carried = self._snapshot(height)
        return Tip(
            chain_id=self.chain_id,
            height=height,
            state=self.state,
            previous_hash=self.tip_hash,
            validator_set=self.sets[height],
            previous_set=self.sets.get(self.height) if self.height > 0 else None,
            snapshot_height=snapshot_height,
            snapshot_root=None if carried is None else carried.root,
        )

    def _begin_height(self, replay: list[DriverInput]) -> None:
        """L52-L54 for the host: a driver for the next height, then what was waiting for it."""
        height = self.height + 1
        self.driver = Driver(height, self.sets[height], self.key.public_key, self.timeouts)
        self.checked = {}
        self.incomplete = {}
        self.known = {}
        self.relays.clear()
        self.pending.clear()
        self.height_started_ms = self.io.now_ms()
        self.replaying = False  # a height the log decided while replaying is over
        if replay:
            self.replaying = True
            for event in replay:
                if self.height != height - 1:
                    break  # the log decided the height
                if isinstance(event, ProposalReceived):
                    proposal = event.proposal
                    self.relays.keep(MessageKind.PROPOSAL, proposal.round, encode(proposal))
                elif isinstance(event, VoteReceived):
                    self.relays.keep(MessageKind.VOTE, event.vote.round, encode(event.vote))
                self._feed(event, log=False)
            self.replaying = False
        else:
            self._feed(Start())
        if self.height != height - 1:
            return
        waiting, self.later = self.later, []
        for message, source in waiting:
            self.accept(message, source)

    def commit_block(
        self,
        block: Block,
        data: bytes,
        commit: Commit,
        outcome: BlockOutcome,
        *,
        caught_up: bool = False,
    ) -> None:
        """Persist and apply a decided block (one store write), then move on. `outcome` is the
        block executed on our state: by us (`valid(v)`, `build_block`) or by catch-up
        (`caught_up`, which moves an open horizon on: rule 1)."""
        height = self.height + 1
        if caught_up:
            self._set_horizon(self.horizon.caught_up(height))
        header = block.header
        assert header.height == height
        assert commit.height == height
        assert commit.block_hash == block_hash(header)
        stored = StoredBlock(
            height=height,
            block=data,
            commit=commit,
            results=outcome.results,
            app_hash=outcome.app_hash,
            validators=self.sets[height].validators,
        )
        self.state = self.chain_store.put_block(stored, header, outcome.write_set, outcome.written)
        assert self.state.app_hash == outcome.app_hash
        self._advance(stored, header.time_ms)
        self.mempool.remove(outcome.tx_hashes)
        self.io.committed(stored, outcome)
        if self.io.defer_height():
            self.driver = None
            self.waiting = True
            self.height_started_ms = self.io.now_ms()
        else:
            self._begin_height([])

    def resume(self) -> None:
        """Rule 7: start the held-back height."""
        if self.waiting:
            self.waiting = False
            self._begin_height([])

    def is_committed(self, created_ms: int, tx_hash: bytes) -> bool:
        """In the committed replay window: executed (or refused after authentication)."""
        return self.state.store.get(seen_key(created_ms, tx_hash)) is not None

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
                    self.log.append_wal(driver.height, event)
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
                    self.io.schedule_timeout(ms, TimeoutElapsed(kind, height, round))
                case GetValue(height=height, round=round):
                    self._build(height, round)
                case Decision(value=value):
                    self._decide(driver, value)
                case NewRound():
                    pass
                case VoteEquivocation() | ProposalEquivocation():
                    self.evidence += 1

    def _set_horizon(self, horizon: Horizon) -> None:
        """Rule 1; on disk with the guard, before the next signature leaves."""
        if horizon != self.horizon:
            self.horizon = horizon
            self.log.put_horizon(horizon)

    def _within_horizon(self, height: int) -> bool:
        """Rule 1: no proposal up to the horizon."""
        if height > self.horizon.height:
            return False
        self.io.record(f"horizon {self.horizon.height}: not proposing {height}")
        return True

    def _guard(self, step: SignedStep) -> bool:
        """The double-sign guard, written before the signature exists (synced with the signed
        message by `_persist_own`, before it leaves)."""
        if not may_sign(self.signed, step):
            self.refused += 1
            self.io.record(f"refuse {step.height}/{step.round}/{int(step.step)}")
            return False
        self.signed = step
        self.log.put_signed(step)
        return True

    def _propose(self, body: ProposalBody, value: bytes) -> None:
        if self._within_horizon(body.height):  # a valid value proposed again, not built
            return
        sign_bytes = proposal_sign_bytes(self.chain_id, body)
        if not self._guard(SignedStep(body.height, body.round, SignStep.PROPOSE, sign_bytes)):
            return
        proposal = sign_proposal(self.chain_id, self.key, body, value)
        data = encode(proposal)
        self._persist_own(MessageKind.PROPOSAL, body.height, data)
        self.send_proposal(proposal, data)
        if not self.replaying:
            self._feed(ProposalReceived(proposal, True))

    def _vote(self, body: VoteBody) -> None:
        body = amnesiac_vote(body, self.horizon)
        sign_bytes = vote_sign_bytes(self.chain_id, body)
        step = SignedStep(body.height, body.round, _vote_steps[body.type], sign_bytes)
        if not self._guard(step):
            return
        vote = sign_vote(self.chain_id, self.key, body)
        data = encode(vote)
        self._persist_own(MessageKind.VOTE, body.height, data)
        self.send_vote(vote, data)
        if not self.replaying:
            self._feed(VoteReceived(vote))

    def send_proposal(self, proposal: Proposal, data: bytes) -> None:
        """Broadcast our own proposal, compact (rule 9) when we hold its block (the
        simulator's Byzantine nodes replace this)."""
        checked = self.checked.get((proposal.value_id, proposal.value))
        if checked is None or checked.block is None or checked.outcome is None:
            self._send(MessageKind.PROPOSAL, proposal.round, data)
            return
        compact = compact_proposal(proposal, checked.block.header, checked.outcome.tx_hashes)
        self._send(MessageKind.PROPOSAL_COMPACT, proposal.round, encode(compact))

    def send_vote(self, vote: Vote, data: bytes) -> None:
        """Broadcast our own vote (the simulator's Byzantine nodes replace this)."""
        self._send(MessageKind.VOTE, vote.round, data)

    def _persist_own(self, kind: MessageKind, height: int, data: bytes) -> None:
        """Rule 1: the guard and the signed message are on disk (synced) before it leaves."""
        if not self.replaying:
            self.log.append_own(height, kind, data)
        self.log.sync()

    def _send(self, kind: MessageKind, round: int, data: bytes) -> None:
        """Broadcast one of our own messages, and keep it to relay (rule 6)."""
        self.relays.keep(kind, round, data)
        self.io.broadcast(kind, data)

    def _build(self, height: int, round: int) -> None:
        """L18 getValue(): a block from the mempool, executed; fed back by the I/O."""
        assert height == self.height + 1
        if self._within_horizon(height):
            return
        snapshot_height, carried = self._snapshot(height)
        if snapshot_height is not None and carried is None:
            self.io.record(f"no root for snapshot {snapshot_height}: not proposing {height}")
            return
        time_ms = max(self.io.clock_ms(), self.tip_time_ms + 1)
        transactions, tx_hashes = self.mempool.take(
            self.limits.block_txs_max, self.is_committed, time_ms - tx_past_ms_max
        )
        block, outcome = build_block(
            self.state,
            time_ms=time_ms,
            proposer=self.key.public_key,
            previous_hash=self.tip_hash,
            last_commit=self.last_commit,
            transactions=transactions,
            snapshot=carried,
            verify=self.memo.verify,
            tx_hashes=tx_hashes,
        )
        value = Value(block_hash(block.header), encode(block))
        checked = self.checked[(value.id, value.data)] = Checked(None, block, outcome)
        self._know(checked)
        self.io.value_built(ValueReady(height, round, value))

    def _decide(self, driver: Driver, value: Value) -> None:
        """L49-L51: the value is decided; its commit is the precommits that decided it."""
        commit = driver.commit()
        checked = self.checked.get((value.id, value.data))
        if checked is None:  # decided while replaying the log after a restart
            checked = self._check(value.data, value.id, None)
        assert checked.block is not None, "L49 decides only a valid value"
        assert checked.outcome is not None
        self._set_horizon(self.horizon.decided(self.height + 1))
        self.commit_block(checked.block, value.data, commit, checked.outcome)

    def _check(
        self,
        data: bytes,
        value_id: bytes,
        now_ms: int | None,
        decoded: tuple[Block, tuple[bytes, ...]] | None = None,
    ) -> Checked:
        return check_block(
            self.tip(),
            data,
            value_id,
            now_ms=now_ms,
            verify=self.memo.verify,
            verify_commit=self.memo.commit_status,
            decoded=decoded,
        )

    def _validity(
        self, proposal: Proposal, decoded: tuple[Block, tuple[bytes, ...]] | None = None
    ) -> bool:
        """valid(v) for a proposal at the current height, remembered for the height;
        `decoded` as in `check_block`."""
        key = (proposal.value_id, proposal.value)
        checked = self.checked.get(key)
        if checked is None:
            checked = self._check(proposal.value, proposal.value_id, self.io.clock_ms(), decoded)
            if checked.reason != "time_future":  # the only verdict that can change
                self.checked[key] = checked
            self._know(checked)
        return checked.valid

    # Messages from peers (`bakong.node.replica` decodes and routes them).

    def accept(
        self, message: Proposal | Vote | CompactProposal, source: bytes | None = None
    ) -> None:
        """Rule 2: feed a message of this height, keep one of a later height, drop the rest.
        `source` is the peer that sent it (rule 9 asks it for missing transactions)."""
        height = self.height + 1
        if message.height < height:
            return
        if message.height > height:
            if len(self.later) < self.limits.later_messages_max:
                self.later.append((message, source))
            return
        if self.waiting:
            self.resume()  # rule 7: a peer has started this height
            if self.height != height - 1:
                return
        data = encode(message)
        if self.relays.holds(message.round, data):
            return  # a copy (duplicated or relayed): the driver has it, and so has the log
        if isinstance(message, CompactProposal):
            self._accept_compact(message, data, source)
        elif isinstance(message, Proposal):
            self.relays.keep(MessageKind.PROPOSAL, message.round, data)
            self._feed(ProposalReceived(message, self._validity(message)))
        else:
            self.relays.keep(MessageKind.VOTE, message.round, data)
            self._feed(VoteReceived(message))

    # Compact proposals (rule 9).

    def _accept_compact(self, compact: CompactProposal, data: bytes, source: bytes | None) -> None:
        pending = self.incomplete.get(data)
        if pending is None:
            if not self._may_wait(compact):
                self.io.record(f"compact proposal {compact.round} not kept waiting")
                return
            pending = self.incomplete[data] = _Incomplete(compact, source)
        pending.source = source or pending.source
        self._complete(data, pending, source)

    def _may_wait(self, compact: CompactProposal) -> bool:
        """Whether a compact proposal may wait for its transactions (rule 9): only the
        round's proposer's, at most `proposals_per_round_max` per round (the driver keeps no
        more), and when `incomplete_proposals_max` wait, only in place of a lower round's."""
        driver = self.driver
        if driver is None or compact.proposer != driver.proposer(compact.round):
            return False
        if compact.round > driver.round + rounds_ahead_max:
            return False
        rounds = [pending.compact.round for pending in self.incomplete.values()]
        if rounds.count(compact.round) >= proposals_per_round_max:
            return False
        if len(rounds) < incomplete_proposals_max:
            return True
        lowest = min(self.incomplete, key=lambda data: self.incomplete[data].compact.round)
        if self.incomplete[lowest].compact.round >= compact.round:
            return False
        del self.incomplete[lowest]
        return True

    def _know(self, checked: Checked) -> None:
        """Keep a valid block's transactions for the height: a later round's proposal may
        carry them again, and a peer may fetch them (rule 9)."""
        if checked.block is None or checked.outcome is None:
            return
        room = fetched_txs_max - len(self.known)
        pairs = zip(checked.outcome.tx_hashes, checked.block.transactions, strict=True)
        self.known.update(itertools.islice(pairs, max(room, 0)))

    def _held(self, tx_hash: bytes) -> Transaction | None:
        fetched = self.known.get(tx_hash)
        return self.mempool.get(tx_hash) if fetched is None else fetched

    def _complete(self, data: bytes, pending: _Incomplete, source: bytes | None) -> None:
        """Feed `pending` if it is complete now, else ask `source` for what it lacks."""
        compact = pending.compact
        try:
            assembled = assemble(compact, self.known.get if pending.fetch_all else self._held)
        except RemoteError:
            if pending.fetch_all:
                del self.incomplete[data]
                self.io.record(f"proposal {compact.round} does not rebuild: dropped")
                return
            pending.fetch_all = True  # some transaction we hold is signed differently
            for tx_hash in compact.tx_hashes:
                self.known.pop(tx_hash, None)
            assembled = list(compact.tx_hashes)
            source = pending.source
        if isinstance(assembled, list):
            if source is not None:
                pending.fetched = True
                self._ask(source, assembled)
            return
        del self.incomplete[data]
        self.compact_counts["proposals_rebuilt"] += 1
        self.compact_counts["proposals_fetched"] += pending.fetched
        proposal, block = assembled
        self.relays.keep(MessageKind.PROPOSAL_COMPACT, proposal.round, data)
        valid = self._validity(proposal, (block, compact.tx_hashes))
        self._feed(ProposalReceived(proposal, valid))

    def _ask(self, peer: bytes, tx_hashes: list[bytes]) -> None:
        asked = self.asked
        for tx_hash in tx_hashes:
            asked[tx_hash] = None
            asked.move_to_end(tx_hash)
        while len(asked) > fetch_asked_remembered_max:
            asked.popitem(last=False)
        self.fetches.append((peer, tx_hashes[:fetch_hashes_max]))

    def take_fetches(self) -> list[tuple[bytes, list[bytes]]]:
        """The fetch requests to send, each (peer, hashes) (rule 9): the replica sends them."""
        fetches, self.fetches = self.fetches, []
        return fetches

    def supply(self, transactions: list[tuple[bytes, Transaction]]) -> bool:
        """Fetched transactions, each with its hash, for the incomplete proposals (rule 9).
        False when one was never asked for: the peer that sent it answers wrongly."""
        asked_all = True
        for tx_hash, transaction in transactions:
            if tx_hash not in self.asked:
                asked_all = False
            elif len(self.known) < fetched_txs_max:
                self.known[tx_hash] = transaction
                self.compact_counts["txs_fetched"] += 1
        self.retry_incomplete()
        return asked_all

    def retry_incomplete(self) -> None:
        """Complete what the transactions that arrived (fetched or admitted) complete."""
        height = self.height
        for data, pending in list(self.incomplete.items()):
            if self.height != height:
                break  # a completed proposal decided the height
            if data in self.incomplete:
                self._complete(data, pending, None)

    def lookup(self, tx_hashes: tuple[bytes, ...]) -> list[Transaction]:
        """The transactions we hold of `tx_hashes`, to answer a peer's fetch (rule 9)."""
        held = (self._held(tx_hash) for tx_hash in tx_hashes)
        return [transaction for transaction in held if transaction is not None]

    def on_timer(self, timeout: TimeoutElapsed) -> None:
        if timeout.height == self.height + 1:
            self._feed(timeout)

    def on_value(self, ready: ValueReady) -> None:
        if ready.height == self.height + 1:
            self._feed(ready)

    def waited_ms(self) -> int:
        """How long the current height has taken (or the next one has been held back)."""
        return self.io.now_ms() - self.height_started_ms
