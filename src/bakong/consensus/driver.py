"""The driver: one height of consensus, from received messages to the host's next actions.

The driver owns the message log of Algorithm 1 for its height (proposals and the vote keeper),
the round state, and the mux. The host gives it one input at a time and performs the outputs:

| host input                            | what the driver does first                          |
|---------------------------------------|-----------------------------------------------------|
| `Start()`                             | L10: StartRound(0)                                  |
| `ProposalReceived(proposal, valid)`   | keeps it if from proposer(h, r); conflict: evidence |
| `VoteReceived(vote)`                  | counts it in the vote keeper; a conflict: evidence  |
| `TimeoutElapsed(kind, height, round)` | L57 / L61 / L65 (a stale timeout is a no-op)        |
| `ValueReady(height, round, value)`    | L18: the answer to `GetValue`                       |

Then the mux runs. It pairs what the log holds with the round state and offers the round
machine its inputs in this order (R is round_p; proposals count only from proposer(h, r));
the first one the machine accepts is applied, and the mux runs again until nothing more
applies (at most `limits.steps_per_input_max` times):

| step_p     | vote keeper has reached  | proposal kept        | round input                   |
|------------|--------------------------|----------------------|-------------------------------|
| unstarted  |                          |                      | L11 StartRound(R)             |
| not commit | PrecommitValue(r, id(v)) | (r, v, *), valid     | L49 ProposalAndPrecommitValue |
| not commit | SkipRound(r), r > R      |                      | L55 SkipRound(r)              |
| propose    |                          | the first (R, v, -1) | L22 Proposal(valid)           |
| propose    | PolkaValue(vr, id(v))    | the first (R, v, vr) | L28 ProposalAndPolkaPrevious  |
| prevote+   | PolkaValue(R, id(v))     | (R, v, *), valid     | L36 ProposalAndPolkaCurrent   |
| prevote    | PolkaNil(R)              |                      | L44 PolkaNil                  |
| prevote    | PolkaAny(R)              |                      | L34 PolkaAny                  |
| not commit | PrecommitAny(R)          |                      | L47 PrecommitAny              |

What each rule then does is in `bakong.consensus.round` and docs/consensus.md: L11 proposes,
asks for a value or schedules timeoutPropose; L22/L28 prevote id(v) or nil; L36 locks and
precommits id(v) (in prevote) or only updates the valid value (in precommit); L44 precommits
nil; L34/L47 schedule timeouts; L49 decides; L55 starts round r.

Rules:
1. The mux is level-triggered: it reads the thresholds the vote keeper has reached (each
   emitted once, when first reached) and the proposals kept, against the current state. A
   threshold reached before its rule could fire (a polka while still in propose, a commit
   before its proposal arrived, a polka for a future round) fires as soon as the step, round
   or proposal allows. "For the first time" is enforced by the round machine.
2. The host performs every output: `BroadcastProposal` / `BroadcastVote` (persist the signed
   step, sign with `messages.sign_proposal` / `sign_vote`, send, and feed the signed message
   back as `ProposalReceived(..., valid=True)` / `VoteReceived`), `ScheduleTimeout` (feed
   `TimeoutElapsed` later), `GetValue` (build a block, feed `ValueReady`), `Decision`
   (persist the block with `driver.commit()`, then start a driver for the next height with
   that height's validator set, L52-L54), evidence (keep and gossip it).
3. Before feeding a message, the host has checked its signature (`messages.decode_*`) and, for
   a proposal, that `value_id` is the hash of `value` and whether the value is valid (L23:
   re-execute the block). A value may be re-proposed in a later round by another proposer
   (L16), so validity must not tie a block to the proposer of the round that carries it.
   Messages for another height are ignored: the host keeps those for the next height
   (bounded) and feeds them to the next driver.
4. A driver with `address=None`, or whose address is not in the validator set, follows the
   height without voting or proposing.
5. The driver never emits two different votes for one round and type, nor two proposals for
   one round (asserted); across restarts the host guards this with its persisted last step.
"""

from __future__ import annotations

import msgspec

from bakong import limits
from bakong.consensus import round as machine
from bakong.consensus.commit import build_commit
from bakong.consensus.evidence import ProposalEquivocation, VoteEquivocation, proposal_equivocation
from bakong.consensus.messages import Proposal, Vote, VoteType
from bakong.consensus.proposer import proposer
from bakong.consensus.round import (
    RoundInfo,
    RoundState,
    Step,
    TimeoutKind,
    Timeouts,
    Value,
)
from bakong.consensus.vote_keeper import VoteKeeper
from bakong.ledger.commit import Commit
from bakong.ledger.validators import ValidatorSet

__all__ = [
    "Driver",
    "DriverInput",
    "DriverOutput",
    "ProposalReceived",
    "Start",
    "TimeoutElapsed",
    "ValueReady",
    "VoteReceived",
]


class Start(msgspec.Struct, frozen=True):
    """L10: upon start do StartRound(0)."""


class ProposalReceived(msgspec.Struct, frozen=True):
    proposal: Proposal
    valid: bool  # valid(v), decided by the host (rule 3)


class VoteReceived(msgspec.Struct, frozen=True):
    vote: Vote


class TimeoutElapsed(msgspec.Struct, frozen=True):
    kind: TimeoutKind
    height: int
    round: int


class ValueReady(msgspec.Struct, frozen=True):
    height: int
    round: int
    value: Value


DriverInput = Start | ProposalReceived | VoteReceived | TimeoutElapsed | ValueReady
DriverOutput = machine.Output | VoteEquivocation | ProposalEquivocation


class Driver:
    """Consensus for one height (module rules). Feed inputs with `apply`; perform the outputs."""

    __slots__ = (
        "_decided_round",
        "_own_votes",
        "_proposals",
        "_proposers",
        "_started",
        "address",
        "height",
        "state",
        "timeouts",
        "validator_set",
        "votes",
    )

    def __init__(
        self,
        height: int,
        validator_set: ValidatorSet,
        address: bytes | None,
        timeouts: Timeouts | None = None,
    ) -> None:
        assert 0 <= height <= limits.height_max
        self.height = height
        self.validator_set = validator_set
        self.address = address if address and validator_set.power_of(address) > 0 else None
        self.timeouts = timeouts if timeouts is not None else Timeouts()
        self.state = RoundState(height)
        self.votes = VoteKeeper(height, validator_set)
        self._proposals: dict[int, list[tuple[Proposal, bool]]] = {}
        self._proposers: dict[int, bytes] = {}
        self._own_votes: dict[tuple[int, VoteType], bytes | None] = {}
        self._decided_round = -1
        self._started = False
        assert self.state.step is Step.UNSTARTED

    @property
    def round(self) -> int:
        return self.state.round

    @property
    def decision(self) -> Value | None:
        return self.state.decision

    def proposer(self, round: int) -> bytes:
        """proposer(h, round), cached for this height."""
        key = self._proposers.get(round)
        if key is None:
            key = proposer(self.validator_set, self.height, round)
            if len(self._proposers) < limits.rounds_ahead_max * 4:
                self._proposers[round] = key
        return key

    def proposals(self, round: int) -> list[tuple[Proposal, bool]]:
        """The proposals kept for `round`, first received first, with their validity."""
        return list(self._proposals.get(round, ()))

    def commit(self) -> Commit:
        """The commit of the decided value: every precommit for it from the deciding round."""
        decision = self.state.decision
        assert decision is not None, "no decision yet"
        assert self._decided_round >= 0
        precommits = self.votes.votes_for(VoteType.PRECOMMIT, self._decided_round, decision.id)
        return build_commit(self.height, self._decided_round, decision.id, precommits)

    def apply(self, event: DriverInput) -> list[DriverOutput]:
        """Take one input; return the outputs for the host, in order."""
        assert self.state.height == self.height
        outputs: list[DriverOutput] = []
        match event:
            case Start():
                assert not self._started, "a driver starts once"
                self._started = True
            case ProposalReceived(proposal=proposal, valid=valid):
                self._keep_proposal(proposal, valid, outputs)
            case VoteReceived(vote=vote):
                result = self.votes.add(vote, self.state.round)
                if result.evidence is not None:
                    outputs.append(result.evidence)
            case TimeoutElapsed(kind=kind, height=height, round=round):
                if self._started:
                    self._step(_timeout_input(kind, height, round), outputs)
            case ValueReady(height=height, round=round, value=value):
                if self._started and height == self.height:
                    self._step(machine.ProposeValue(round, value), outputs)
        if self._started:
            self._settle(outputs)
        assert self.state.step is not Step.UNSTARTED or not self._started
        return outputs

    def _keep_proposal(self, proposal: Proposal, valid: bool, outputs: list[DriverOutput]) -> None:
        """Keep a proposal from proposer(h, r); two different ones from it are evidence."""
        if proposal.height != self.height or not 0 <= proposal.round <= limits.round_max:
            return
        if not -1 <= proposal.pol_round < proposal.round:
            return
        if proposal.round > self.state.round + limits.rounds_ahead_max:
            return
        if proposal.proposer != self.proposer(proposal.round):
            return
        kept = self._proposals.setdefault(proposal.round, [])
        if any(other.body == proposal.body for other, _ in kept):
            return
        if kept:
            if len(kept) == 1:  # the first conflict in this round is the evidence
                outputs.append(proposal_equivocation(kept[0][0], proposal))
            if len(kept) >= limits.proposals_per_round_max:
                return
        kept.append((proposal, valid))
        assert len(kept) <= limits.proposals_per_round_max
        assert all(other.round == proposal.round for other, _ in kept)

    def _settle(self, outputs: list[DriverOutput]) -> None:
        """Apply the mux's inputs until none is accepted (rule 1)."""
        for _ in range(limits.steps_per_input_max):
            if not any(self._step(candidate, outputs) for candidate in self._mux()):
                return
        raise AssertionError("the round machine did not settle")

    def _mux(self) -> list[machine.Input]:
        """The module's mux table, top to bottom: the inputs the log makes available now."""
        assert self._started
        here = self.state.round
        if self.state.step is Step.UNSTARTED:
            return [machine.StartRound(here)]
        candidates: list[machine.Input] = []
        for commit in self.votes.precommit_values():  # L49
            for proposal, valid in self._proposals.get(commit.round, ()):
                if proposal.value_id == commit.value_id:
                    candidates.append(machine.ProposalAndPrecommitValue(proposal, valid))
        skip = self.votes.skip_round(here)  # L55
        if skip is not None:
            candidates.append(machine.SkipRound(skip))
        kept = self._proposals.get(here, [])
        if kept:
            first, valid = kept[0]
            if first.pol_round == -1:  # L22
                candidates.append(machine.Proposal(first, valid))
            elif self.votes.has_polka_value(first.pol_round, first.value_id):  # L28
                candidates.append(machine.ProposalAndPolkaPrevious(first, valid))
        for proposal, valid in kept:  # L36
            if self.votes.has_polka_value(here, proposal.value_id):
                candidates.append(machine.ProposalAndPolkaCurrent(proposal, valid))
        if self.votes.has_polka_nil(here):  # L44
            candidates.append(machine.PolkaNil(here))
        if self.votes.has_polka_any(here):  # L34
            candidates.append(machine.PolkaAny(here))
        if self.votes.has_precommit_any(here):  # L47
            candidates.append(machine.PrecommitAny(here))
        assert len(candidates) <= 2 * len(self.votes.precommit_values()) + 5 + len(kept)
        return candidates

    def _step(self, event: machine.Input, outputs: list[DriverOutput]) -> bool:
        """Apply one round input; lift its output. True when a rule fired."""
        is_proposer = self.address is not None and self.proposer(self.state.round) == self.address
        info = RoundInfo(is_proposer, self.timeouts)
        transition = machine.apply(self.state, info, event)
        if transition.state == self.state and transition.output is None:
            return False
        assert transition.state.round >= self.state.round
        self.state = transition.state
        if transition.output is not None:
            self._lift(transition.output, outputs)
        return True

    def _lift(self, output: machine.Output, outputs: list[DriverOutput]) -> None:
        """Turn a round output into the host's outputs."""
        match output:
            case machine.GetValue(height=height, round=round, timeout_ms=duration):
                kind = TimeoutKind.PROPOSE
                outputs.append(machine.ScheduleTimeout(kind, height, round, duration))
                outputs.append(output)
            case machine.BroadcastVote(vote=body):
                if self.address is None:
                    return
                key = (body.round, body.type)
                assert self._own_votes.get(key, body.value_id) == body.value_id, "double vote"
                self._own_votes[key] = body.value_id
                outputs.append(output)
            case machine.BroadcastProposal():
                assert self.address is not None
                outputs.append(output)
            case machine.Decision(round=round):
                assert self._decided_round == -1
                self._decided_round = round
                outputs.append(output)
            case _:
                outputs.append(output)


def _timeout_input(kind: TimeoutKind, height: int, round: int) -> machine.Input:
    """OnTimeoutPropose (L57), OnTimeoutPrevote (L61), OnTimeoutPrecommit (L65)."""
    match kind:
        case TimeoutKind.PROPOSE:
            return machine.TimeoutPropose(height, round)
        case TimeoutKind.PREVOTE:
            return machine.TimeoutPrevote(height, round)
        case TimeoutKind.PRECOMMIT:
            return machine.TimeoutPrecommit(height, round)
