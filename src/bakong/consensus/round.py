"""The round state machine: Algorithm 1 of Buchman, Kwon, Milosevic (2018), rule by rule.

`apply(state, info, input) -> Transition(state, output | None)` is pure. It holds every
upon-rule of the paper in ONE `match` statement, one arm per rule, each arm headed by the
paper's line number (L22 ... L65), in the paper's order; `docs/consensus.md` puts the
algorithm beside this file. Rules of this module:

1. Inputs are the paper's upon-conditions, already evaluated: the vote keeper turns votes into
   thresholds (`PolkaAny`, `PolkaNil`, `PrecommitAny`, `SkipRound` are its outputs, used here
   as they are) and the driver's mux pairs "proposal received" with a threshold into the
   compound inputs (L28, L36, L49). The machine checks the rest of each guard itself: step,
   round, lock, validity and "for the first time".
2. Every input carries the round it is about; `this_round` is `input.round == state.round`.
   Only L49 (decide) accepts any round of the height.
3. "For the first time" (L34, L36, L47) is kept in `state.executed_once`, the set of those line
   numbers already executed in this round; a new round empties it. So feeding the same
   threshold twice is harmless. Line 19 is there too: a proposer broadcasts one proposal per
   round, whatever the host answers (a second one would be equivocation).
4. An input that enables no rule returns the state unchanged and no output (stale timeouts,
   late proposals, votes from old rounds...).
5. StartRound (L11-L21) is itself an input: L55 and L65 only move to the new round with step
   `UNSTARTED` and say so (`NewRound`); the driver then feeds `StartRound` with `info` for the
   new round (am I its proposer?). L52-L54 (next height) belong to the host: a decided state
   stays in step `COMMIT` and accepts nothing more.
6. One deliberate addition, as in malachite: a proposer asking the host for a value (L18)
   also schedules timeoutPropose, so a host that is slow to build a block prevotes nil (L57)
   like everyone else instead of holding up its round.
7. `timeout(r) = base + r * delta`, per kind (L21, L35, L48), integer milliseconds.
"""

from __future__ import annotations

import enum

import msgspec

from bakong import limits
from bakong.consensus import messages
from bakong.consensus.messages import ProposalBody, VoteBody, VoteType

__all__ = [
    "BroadcastProposal",
    "BroadcastVote",
    "Decision",
    "GetValue",
    "Input",
    "NewRound",
    "Output",
    "PolkaAny",
    "PolkaNil",
    "PrecommitAny",
    "Proposal",
    "ProposalAndPolkaCurrent",
    "ProposalAndPolkaPrevious",
    "ProposalAndPrecommitValue",
    "ProposeValue",
    "RoundInfo",
    "RoundState",
    "ScheduleTimeout",
    "SkipRound",
    "StartRound",
    "Step",
    "TimeoutKind",
    "TimeoutPrecommit",
    "TimeoutPrevote",
    "TimeoutPropose",
    "Timeouts",
    "Transition",
    "Value",
    "apply",
    "timeout_ms",
]


class Step(enum.IntEnum):
    """step_p (L4), plus UNSTARTED (between rounds) and COMMIT (decided, L51)."""

    UNSTARTED = 0
    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3
    COMMIT = 4


class TimeoutKind(enum.IntEnum):
    PROPOSE = 1  # L21, L57
    PREVOTE = 2  # L35, L61
    PRECOMMIT = 3  # L48, L65


class Value(msgspec.Struct, frozen=True):
    """A value v: its id (the block hash) and its bytes (the canonical block)."""

    id: bytes
    data: bytes


class Timeouts(msgspec.Struct, frozen=True):
    """timeoutX(r) = X_ms_base + r * delta_ms (section "Semantics" of the paper)."""

    propose_ms_base: int = limits.timeout_propose_ms_base
    prevote_ms_base: int = limits.timeout_prevote_ms_base
    precommit_ms_base: int = limits.timeout_precommit_ms_base
    delta_ms: int = limits.timeout_ms_delta


def timeout_ms(timeouts: Timeouts, kind: TimeoutKind, round: int) -> int:
    assert round >= 0
    assert timeouts.delta_ms >= 0
    base = {
        TimeoutKind.PROPOSE: timeouts.propose_ms_base,
        TimeoutKind.PREVOTE: timeouts.prevote_ms_base,
        TimeoutKind.PRECOMMIT: timeouts.precommit_ms_base,
    }[kind]
    assert base > 0
    return base + round * timeouts.delta_ms


class RoundState(msgspec.Struct, frozen=True):
    """The variables of L2-L9 for one height; `executed_once` holds 19, 34, 36, 47 (rule 3)."""

    height: int
    round: int = 0
    step: Step = Step.UNSTARTED
    locked_value: Value | None = None
    locked_round: int = -1
    valid_value: Value | None = None
    valid_round: int = -1
    decision: Value | None = None
    executed_once: frozenset[int] = frozenset()


class RoundInfo(msgspec.Struct, frozen=True):
    """What the machine needs from outside: is p proposer(h_p, round_p)? (L14), timeouts."""

    is_proposer: bool
    timeouts: Timeouts = Timeouts()


# Inputs: one per upon-rule (plus StartRound and the value returned by getValue()).


class StartRound(msgspec.Struct, frozen=True):  # L11
    round: int


class ProposeValue(msgspec.Struct, frozen=True):  # L18: getValue() returned
    round: int
    value: Value


class Proposal(msgspec.Struct, frozen=True):  # L22
    proposal: messages.Proposal
    valid: bool


class ProposalAndPolkaPrevious(msgspec.Struct, frozen=True):  # L28
    proposal: messages.Proposal
    valid: bool


class PolkaAny(msgspec.Struct, frozen=True):  # L34: 2f+1 prevotes for anything
    round: int


class ProposalAndPolkaCurrent(msgspec.Struct, frozen=True):  # L36
    proposal: messages.Proposal
    valid: bool


class PolkaNil(msgspec.Struct, frozen=True):  # L44: 2f+1 prevotes for nil
    round: int


class PrecommitAny(msgspec.Struct, frozen=True):  # L47: 2f+1 precommits for anything
    round: int


class ProposalAndPrecommitValue(msgspec.Struct, frozen=True):  # L49, any round of the height
    proposal: messages.Proposal
    valid: bool


class SkipRound(msgspec.Struct, frozen=True):  # L55: f+1 messages from a higher round
    round: int


class TimeoutPropose(msgspec.Struct, frozen=True):  # L57
    height: int
    round: int


class TimeoutPrevote(msgspec.Struct, frozen=True):  # L61
    height: int
    round: int


class TimeoutPrecommit(msgspec.Struct, frozen=True):  # L65
    height: int
    round: int


Input = (
    StartRound
    | ProposeValue
    | Proposal
    | ProposalAndPolkaPrevious
    | PolkaAny
    | ProposalAndPolkaCurrent
    | PolkaNil
    | PrecommitAny
    | ProposalAndPrecommitValue
    | SkipRound
    | TimeoutPropose
    | TimeoutPrevote
    | TimeoutPrecommit
)

# Outputs: what the host must do.


class NewRound(msgspec.Struct, frozen=True):  # L56, L67: the driver feeds StartRound next
    height: int
    round: int


class BroadcastProposal(msgspec.Struct, frozen=True):  # L19: sign, send, feed back
    proposal: ProposalBody
    value: bytes


class BroadcastVote(msgspec.Struct, frozen=True):  # L24 ... L63: sign, send, feed back
    vote: VoteBody


class ScheduleTimeout(msgspec.Struct, frozen=True):  # L21, L35, L48
    kind: TimeoutKind
    height: int
    round: int
    duration_ms: int


class GetValue(msgspec.Struct, frozen=True):  # L18: build a block, answer with ProposeValue
    height: int
    round: int
    timeout_ms: int


class Decision(msgspec.Struct, frozen=True):  # L51
    height: int
    round: int
    value: Value


Output = NewRound | BroadcastProposal | BroadcastVote | ScheduleTimeout | GetValue | Decision


class Transition(msgspec.Struct, frozen=True):
    state: RoundState
    output: Output | None


def apply(state: RoundState, info: RoundInfo, event: Input) -> Transition:
    """Apply one input: the one upon-rule it enables, or nothing (rule 4)."""
    assert state.height >= 0
    assert state.round >= 0
    step, here, once = state.step, state.round, state.executed_once
    match event:
        # L11-L21 StartRound(round), entered from L10, L54, L56 and L67
        case StartRound(round=r) if step is Step.UNSTARTED and r == here:
            return _start_round(state, info)
        # L18-L19 proposal <- getValue(); broadcast <PROPOSAL, h_p, round_p, proposal, -1>
        case ProposeValue(round=r) if (
            step is Step.PROPOSE and r == here and info.is_proposer and 19 not in once
        ):
            return _propose(state, event.value, -1)
        # L22 upon <PROPOSAL, h_p, round_p, v, -1> while step_p = propose
        case Proposal(proposal=p) if step is Step.PROPOSE and p.round == here and p.pol_round == -1:
            acceptable = state.locked_round == -1 or _id(state.locked_value) == p.value_id  # L23
            return _prevote(state, p.value_id if event.valid and acceptable else None)
        # L28 upon <PROPOSAL, h_p, round_p, v, vr> AND 2f+1 <PREVOTE, h_p, vr, id(v)>
        #     while step_p = propose and (vr >= 0 and vr < round_p)
        case ProposalAndPolkaPrevious(proposal=p) if (
            step is Step.PROPOSE and p.round == here and 0 <= p.pol_round < here
        ):
            acceptable = state.locked_round <= p.pol_round or _id(state.locked_value) == p.value_id
            return _prevote(state, p.value_id if event.valid and acceptable else None)  # L29
        # L34 upon 2f+1 <PREVOTE, h_p, round_p, *> while step_p = prevote for the first time
        case PolkaAny(round=r) if step is Step.PREVOTE and r == here and 34 not in once:
            return _schedule(state, info, TimeoutKind.PREVOTE, 34)
        # L36 upon <PROPOSAL, h_p, round_p, v, *> AND 2f+1 <PREVOTE, h_p, round_p, id(v)>
        #     while valid(v) and step_p >= prevote for the first time
        case ProposalAndPolkaCurrent(proposal=p, valid=True) if (
            step in (Step.PREVOTE, Step.PRECOMMIT) and p.round == here and 36 not in once
        ):
            return _lock_or_update_valid(state, p)
        # L44 upon 2f+1 <PREVOTE, h_p, round_p, nil> while step_p = prevote
        case PolkaNil(round=r) if step is Step.PREVOTE and r == here:
            return _precommit(state, None)
        # L47 upon 2f+1 <PRECOMMIT, h_p, round_p, *> for the first time
        case PrecommitAny(round=r) if (
            Step.PROPOSE <= step <= Step.PRECOMMIT and r == here and 47 not in once
        ):
            return _schedule(state, info, TimeoutKind.PRECOMMIT, 47)
        # L49 upon <PROPOSAL, h_p, r, v, *> AND 2f+1 <PRECOMMIT, h_p, r, id(v)>
        #     while decision_p[h_p] = nil  (any round r)
        case ProposalAndPrecommitValue(proposal=p, valid=True) if state.decision is None:
            return _decide(state, p)
        # L55 upon f+1 <*, h_p, round, *, *> with round > round_p
        case SkipRound(round=r) if r > here and step is not Step.COMMIT:
            return _new_round(state, r)
        # L57 OnTimeoutPropose(height, round)
        case TimeoutPropose(height=h, round=r) if (
            h == state.height and r == here and step is Step.PROPOSE
        ):
            return _prevote(state, None)
        # L61 OnTimeoutPrevote(height, round)
        case TimeoutPrevote(height=h, round=r) if (
            h == state.height and r == here and step is Step.PREVOTE
        ):
            return _precommit(state, None)
        # L65 OnTimeoutPrecommit(height, round)
        case TimeoutPrecommit(height=h, round=r) if (
            h == state.height and r == here and Step.PROPOSE <= step <= Step.PRECOMMIT
        ):
            return _new_round(state, here + 1)
        case _:
            return Transition(state, None)


def _id(value: Value | None) -> bytes | None:
    return None if value is None else value.id


def _start_round(state: RoundState, info: RoundInfo) -> Transition:
    """L12-L21. round_p was already set (rule 5); step_p <- propose."""
    assert state.step is Step.UNSTARTED
    assert state.decision is None
    state = msgspec.structs.replace(state, step=Step.PROPOSE, executed_once=frozenset())
    duration = timeout_ms(info.timeouts, TimeoutKind.PROPOSE, state.round)
    if not info.is_proposer:  # L21
        timeout = ScheduleTimeout(TimeoutKind.PROPOSE, state.height, state.round, duration)
        return Transition(state, timeout)
    if state.valid_value is not None:  # L15-L16, L19
        return _propose(state, state.valid_value, state.valid_round)
    return Transition(state, GetValue(state.height, state.round, duration))  # L18, rule 6


def _propose(state: RoundState, value: Value, pol_round: int) -> Transition:
    """L19: broadcast <PROPOSAL, h_p, round_p, proposal, validRound_p>. The step stays propose
    until the proposal comes back as an input (L22 or L28), like everyone else's."""
    assert state.step is Step.PROPOSE
    assert -1 <= pol_round < state.round
    assert 19 not in state.executed_once, "one proposal per round: never equivocate"
    body = ProposalBody(state.height, state.round, value.id, pol_round)
    state = msgspec.structs.replace(state, executed_once=state.executed_once | {19})
    return Transition(state, BroadcastProposal(body, value.data))


def _prevote(state: RoundState, value_id: bytes | None) -> Transition:
    """L24/L26, L30/L32, L59: broadcast <PREVOTE, h_p, round_p, id|nil>; step_p <- prevote."""
    assert state.step is Step.PROPOSE
    vote = VoteBody(VoteType.PREVOTE, state.height, state.round, value_id)
    return Transition(msgspec.structs.replace(state, step=Step.PREVOTE), BroadcastVote(vote))


def _precommit(state: RoundState, value_id: bytes | None) -> Transition:
    """L45, L63 (nil) and L40: broadcast <PRECOMMIT, h_p, round_p, id|nil>; step <- precommit."""
    assert state.step is Step.PREVOTE
    vote = VoteBody(VoteType.PRECOMMIT, state.height, state.round, value_id)
    return Transition(msgspec.structs.replace(state, step=Step.PRECOMMIT), BroadcastVote(vote))


def _schedule(state: RoundState, info: RoundInfo, kind: TimeoutKind, line: int) -> Transition:
    """L35, L48: schedule a timeout, once per round (rule 3)."""
    assert line in (34, 47)
    assert line not in state.executed_once
    duration = timeout_ms(info.timeouts, kind, state.round)
    state = msgspec.structs.replace(state, executed_once=state.executed_once | {line})
    return Transition(state, ScheduleTimeout(kind, state.height, state.round, duration))


def _lock_or_update_valid(state: RoundState, proposal: messages.Proposal) -> Transition:
    """L37-L43."""
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
    state = msgspec.structs.replace(state, locked_value=value, locked_round=state.round)  # L38-L39
    transition = _precommit(state, value.id)  # L40-L41
    assert transition.state.locked_round == transition.state.valid_round == state.round
    return transition


def _decide(state: RoundState, proposal: messages.Proposal) -> Transition:
    """L50-L51: decision_p[h_p] <- v. L52-L54 (the next height) are the host's."""
    assert proposal.height == state.height
    assert state.decision is None
    value = Value(proposal.value_id, proposal.value)
    state = msgspec.structs.replace(state, decision=value, step=Step.COMMIT)
    return Transition(state, Decision(state.height, proposal.round, value))


def _new_round(state: RoundState, round: int) -> Transition:
    """L56, L67: StartRound(round); its body runs on the StartRound input (rule 5)."""
    assert round > state.round
    assert state.step is not Step.COMMIT
    state = msgspec.structs.replace(
        state, round=round, step=Step.UNSTARTED, executed_once=frozenset()
    )
    return Transition(state, NewRound(state.height, round))
