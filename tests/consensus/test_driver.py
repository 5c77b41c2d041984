"""Step tables through the real driver: every rule of Algorithm 1, as malachite's tests do.

Each table is a list of steps `(desc, input, expected outputs, expected state)`, fed one at a
time to one `Driver`. Four validators of power 1 (f = 1); at height 1 the proposers of rounds
0, 1, 2, 3 are B, C, D, A. The node's own signed votes and proposals come back as inputs, as
the host feeds them.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from bakong.consensus.commit import CommitStatus, verify_commit
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
from bakong.consensus.messages import ProposalBody, VoteBody, VoteType
from bakong.consensus.round import (
    BroadcastProposal,
    BroadcastVote,
    Decision,
    GetValue,
    NewRound,
    ScheduleTimeout,
    Step,
    TimeoutKind,
    Value,
)
from bakong.wire.keys import SigningKey

from .helpers import CHAIN, precommit, prevote, proposal, validator_set, value

H = 1
VALIDATORS, (A, B, C, D) = validator_set([1, 1, 1, 1])
V, W = value("v"), value("w")
PROPOSE, PREVOTE, PRECOMMIT = TimeoutKind.PROPOSE, TimeoutKind.PREVOTE, TimeoutKind.PRECOMMIT


class State(NamedTuple):
    round: int
    step: Step
    locked: tuple[Value, int] | None = None
    valid: tuple[Value, int] | None = None
    decision: Value | None = None


class Row(NamedTuple):
    desc: str
    input: DriverInput
    outputs: list[DriverOutput]
    state: State


# Inputs


def proposed(
    key: SigningKey, round: int, v: Value, pol: int = -1, valid: bool = True
) -> DriverInput:
    return ProposalReceived(proposal(key, H, round, v, pol), valid)


def prevoted(key: SigningKey, round: int, v: Value | None) -> DriverInput:
    return VoteReceived(prevote(key, H, round, v))


def precommitted(key: SigningKey, round: int, v: Value | None) -> DriverInput:
    return VoteReceived(precommit(key, H, round, v))


def elapsed(kind: TimeoutKind, round: int, height: int = H) -> DriverInput:
    return TimeoutElapsed(kind, height, round)


# Outputs


def cast_prevote(round: int, v: Value | None) -> BroadcastVote:
    return BroadcastVote(VoteBody(VoteType.PREVOTE, H, round, None if v is None else v.id))


def cast_precommit(round: int, v: Value | None) -> BroadcastVote:
    return BroadcastVote(VoteBody(VoteType.PRECOMMIT, H, round, None if v is None else v.id))


def schedule(kind: TimeoutKind, round: int) -> ScheduleTimeout:
    base = {PROPOSE: 3_000, PREVOTE: 1_000, PRECOMMIT: 1_000}[kind]
    return ScheduleTimeout(kind, H, round, base + 500 * round)


def broadcast_proposal(round: int, v: Value, pol: int = -1) -> BroadcastProposal:
    return BroadcastProposal(ProposalBody(H, round, v.id, pol), v.data)


def run(driver: Driver, steps: list[Row]) -> None:
    for number, step in enumerate(steps):
        outputs = driver.apply(step.input)
        assert outputs == step.outputs, f"step {number}: {step.desc}"
        s = driver.state
        locked = None if s.locked_value is None else (s.locked_value, s.locked_round)
        valid = None if s.valid_value is None else (s.valid_value, s.valid_round)
        actual = State(s.round, s.step, locked, valid, s.decision)
        assert actual == step.state, f"step {number}: {step.desc}"


def test_proposer_decides_in_round_0() -> None:
    driver = Driver(H, VALIDATORS, B.public_key)
    run(driver, [
        Row("L10-L18: B proposes at round 0 and asks for a value", Start(),
                 [schedule(PROPOSE, 0), GetValue(H, 0, 3_000)], State(0, Step.PROPOSE)),
        Row("L19: the value is ready; broadcast the proposal", ValueReady(H, 0, V),
                 [broadcast_proposal(0, V)], State(0, Step.PROPOSE)),
        Row("a second value is ignored: one proposal per round", ValueReady(H, 0, W),
                 [], State(0, Step.PROPOSE)),
        Row("L22-L24: our proposal comes back; prevote V", proposed(B, 0, V),
                 [cast_prevote(0, V)], State(0, Step.PREVOTE)),
        Row("our prevote comes back", prevoted(B, 0, V), [], State(0, Step.PREVOTE)),
        Row("A prevotes V", prevoted(A, 0, V), [], State(0, Step.PREVOTE)),
        Row("L36-L41: C makes a polka for V; lock and precommit V", prevoted(C, 0, V),
                 [cast_precommit(0, V)], State(0, Step.PRECOMMIT, (V, 0), (V, 0))),
        Row("L36 fires once: D's prevote changes nothing", prevoted(D, 0, V),
                 [], State(0, Step.PRECOMMIT, (V, 0), (V, 0))),
        Row("our precommit comes back", precommitted(B, 0, V),
                 [], State(0, Step.PRECOMMIT, (V, 0), (V, 0))),
        Row("A precommits V", precommitted(A, 0, V),
                 [], State(0, Step.PRECOMMIT, (V, 0), (V, 0))),
        Row("L49-L51: C makes 2f+1 precommits for V; decide", precommitted(C, 0, V),
                 [Decision(H, 0, V)], State(0, Step.COMMIT, (V, 0), (V, 0), V)),
        Row("nothing happens after the decision", elapsed(PRECOMMIT, 0),
                 [], State(0, Step.COMMIT, (V, 0), (V, 0), V)),
    ])
    commit = driver.commit()
    assert (commit.height, commit.round, commit.block_hash) == (H, 0, V.id)
    assert len(commit.signatures) == 3
    assert verify_commit(CHAIN, commit, VALIDATORS) is CommitStatus.OK


def test_timeouts_propose_prevote_precommit_and_their_stale_copies() -> None:
    driver = Driver(H, VALIDATORS, A.public_key)
    run(driver, [
        Row("L21: not the proposer; schedule timeoutPropose", Start(),
                 [schedule(PROPOSE, 0)], State(0, Step.PROPOSE)),
        Row("L57-L60: timeoutPropose; prevote nil", elapsed(PROPOSE, 0),
                 [cast_prevote(0, None)], State(0, Step.PREVOTE)),
        Row("L58: a second timeoutPropose is stale", elapsed(PROPOSE, 0),
                 [], State(0, Step.PREVOTE)),
        Row("our prevote comes back", prevoted(A, 0, None), [], State(0, Step.PREVOTE)),
        Row("B prevotes V", prevoted(B, 0, V), [], State(0, Step.PREVOTE)),
        Row("L34-L35: 2f+1 prevotes for anything; schedule timeoutPrevote",
                 prevoted(C, 0, None), [schedule(PREVOTE, 0)], State(0, Step.PREVOTE)),
        Row("L34 fires once", prevoted(D, 0, V), [], State(0, Step.PREVOTE)),
        Row("L61-L64: timeoutPrevote; precommit nil", elapsed(PREVOTE, 0),
                 [cast_precommit(0, None)], State(0, Step.PRECOMMIT)),
        Row("L62: a second timeoutPrevote is stale", elapsed(PREVOTE, 0),
                 [], State(0, Step.PRECOMMIT)),
        Row("our precommit comes back", precommitted(A, 0, None),
                 [], State(0, Step.PRECOMMIT)),
        Row("B precommits nil", precommitted(B, 0, None), [], State(0, Step.PRECOMMIT)),
        Row("L47-L48: 2f+1 precommits for anything; schedule timeoutPrecommit",
                 precommitted(C, 0, V), [schedule(PRECOMMIT, 0)], State(0, Step.PRECOMMIT)),
        Row("L47 fires once", precommitted(D, 0, None), [], State(0, Step.PRECOMMIT)),
        Row("L65-L67: timeoutPrecommit; StartRound(1), proposer C, so L21",
                 elapsed(PRECOMMIT, 0), [NewRound(H, 1), schedule(PROPOSE, 1)],
                 State(1, Step.PROPOSE)),
        Row("L66: timeoutPrecommit of round 0 is now stale", elapsed(PRECOMMIT, 0),
                 [], State(1, Step.PROPOSE)),
        Row("L58: timeoutPropose of round 0 is stale", elapsed(PROPOSE, 0),
                 [], State(1, Step.PROPOSE)),
        Row("L58: a timeout of another height is stale", elapsed(PROPOSE, 1, height=2),
                 [], State(1, Step.PROPOSE)),
        Row("L62: timeoutPrevote in step propose is stale", elapsed(PREVOTE, 1),
                 [], State(1, Step.PROPOSE)),
        Row("L57: timeoutPropose of round 1; prevote nil, timeout grows by delta",
                 elapsed(PROPOSE, 1), [cast_prevote(1, None)], State(1, Step.PREVOTE)),
    ])


def test_polka_nil_precommits_nil() -> None:
    driver = Driver(H, VALIDATORS, A.public_key)
    run(driver, [
        Row("L21", Start(), [schedule(PROPOSE, 0)], State(0, Step.PROPOSE)),
        Row("L26: an invalid proposal; prevote nil", proposed(B, 0, V, valid=False),
                 [cast_prevote(0, None)], State(0, Step.PREVOTE)),
        Row("our prevote", prevoted(A, 0, None), [], State(0, Step.PREVOTE)),
        Row("B prevotes nil", prevoted(B, 0, None), [], State(0, Step.PREVOTE)),
        Row("L44-L46: 2f+1 prevotes for nil; precommit nil (L34 is then moot)",
                 prevoted(C, 0, None), [cast_precommit(0, None)], State(0, Step.PRECOMMIT)),
        Row("L44 does not fire in step precommit", prevoted(D, 0, None),
                 [], State(0, Step.PRECOMMIT)),
    ])


def test_lock_then_unlock_with_a_later_polka_l28() -> None:
    driver = Driver(H, VALIDATORS, A.public_key)
    run(driver, [
        Row("L21", Start(), [schedule(PROPOSE, 0)], State(0, Step.PROPOSE)),
        Row("L22-L24: B proposes V", proposed(B, 0, V), [cast_prevote(0, V)],
                 State(0, Step.PREVOTE)),
        Row("our prevote", prevoted(A, 0, V), [], State(0, Step.PREVOTE)),
        Row("B prevotes V", prevoted(B, 0, V), [], State(0, Step.PREVOTE)),
        Row("L36-L43: polka for V; lock V at round 0", prevoted(C, 0, V),
                 [cast_precommit(0, V)], State(0, Step.PRECOMMIT, (V, 0), (V, 0))),
        Row("our precommit", precommitted(A, 0, V), [],
                 State(0, Step.PRECOMMIT, (V, 0), (V, 0))),
        Row("B precommits nil", precommitted(B, 0, None), [],
                 State(0, Step.PRECOMMIT, (V, 0), (V, 0))),
        Row("L47: 2f+1 precommits, no decision", precommitted(C, 0, None),
                 [schedule(PRECOMMIT, 0)], State(0, Step.PRECOMMIT, (V, 0), (V, 0))),
        Row("L65: round 1, proposer C", elapsed(PRECOMMIT, 0),
                 [NewRound(H, 1), schedule(PROPOSE, 1)], State(1, Step.PROPOSE, (V, 0), (V, 0))),
        Row("L22-L26: C proposes W fresh; locked on V, so prevote nil", proposed(C, 1, W),
                 [cast_prevote(1, None)], State(1, Step.PREVOTE, (V, 0), (V, 0))),
        Row("our prevote", prevoted(A, 1, None), [],
                 State(1, Step.PREVOTE, (V, 0), (V, 0))),
        Row("B prevotes W", prevoted(B, 1, W), [], State(1, Step.PREVOTE, (V, 0), (V, 0))),
        Row("L34: C prevotes W; 2f+1 prevotes", prevoted(C, 1, W),
                 [schedule(PREVOTE, 1)], State(1, Step.PREVOTE, (V, 0), (V, 0))),
        Row("L61: precommit nil", elapsed(PREVOTE, 1),
                 [cast_precommit(1, None)], State(1, Step.PRECOMMIT, (V, 0), (V, 0))),
        Row("L55: f+1 votes from round 2 (C, D); StartRound(2), proposer D",
                 prevoted(C, 2, None), [], State(1, Step.PRECOMMIT, (V, 0), (V, 0))),
        Row("L55: the second sender makes f+1", precommitted(D, 2, None),
                 [NewRound(H, 2), schedule(PROPOSE, 2)], State(2, Step.PROPOSE, (V, 0), (V, 0))),
        Row("L28: D proposes W with vr = 1, but there is no polka at round 1 yet",
                 proposed(D, 2, W, pol=1), [], State(2, Step.PROPOSE, (V, 0), (V, 0))),
        Row("L28-L30: D's late prevote makes the polka for W at round 1 > lockedRound; "
                 "prevote W", prevoted(D, 1, W),
                 [cast_prevote(2, W)], State(2, Step.PREVOTE, (V, 0), (V, 0))),
    ])


def test_polka_seen_in_precommit_updates_valid_value_which_is_reproposed() -> None:
    driver = Driver(H, VALIDATORS, D.public_key)
    run(driver, [
        Row("L21", Start(), [schedule(PROPOSE, 0)], State(0, Step.PROPOSE)),
        Row("L57: no proposal; prevote nil", elapsed(PROPOSE, 0),
                 [cast_prevote(0, None)], State(0, Step.PREVOTE)),
        Row("our prevote", prevoted(D, 0, None), [], State(0, Step.PREVOTE)),
        Row("A prevotes V", prevoted(A, 0, V), [], State(0, Step.PREVOTE)),
        Row("L34", prevoted(B, 0, V), [schedule(PREVOTE, 0)], State(0, Step.PREVOTE)),
        Row("polka for V, but no proposal: nothing", prevoted(C, 0, V), [],
                 State(0, Step.PREVOTE)),
        Row("L61: precommit nil", elapsed(PREVOTE, 0), [cast_precommit(0, None)],
                 State(0, Step.PRECOMMIT)),
        Row("L36, L42-L43: the proposal arrives in step precommit: valid, not locked",
                 proposed(B, 0, V), [], State(0, Step.PRECOMMIT, None, (V, 0))),
        Row("L55: f+1 from round 2", prevoted(A, 2, None), [],
                 State(0, Step.PRECOMMIT, None, (V, 0))),
        Row("L55-L56, L15-L16, L19: StartRound(2); D re-proposes V with vr = 0",
                 prevoted(B, 2, None), [NewRound(H, 2), broadcast_proposal(2, V, pol=0)],
                 State(2, Step.PROPOSE, None, (V, 0))),
        Row("L28-L30: our proposal comes back with its polka from round 0",
                 proposed(D, 2, V, pol=0), [cast_prevote(2, V)],
                 State(2, Step.PREVOTE, None, (V, 0))),
    ])


def test_decide_on_a_past_round_l49() -> None:
    driver = Driver(H, VALIDATORS, A.public_key)
    run(driver, [
        Row("L21", Start(), [schedule(PROPOSE, 0)], State(0, Step.PROPOSE)),
        Row("L22: B proposes V", proposed(B, 0, V), [cast_prevote(0, V)],
                 State(0, Step.PREVOTE)),
        Row("C is in round 1", prevoted(C, 1, None), [], State(0, Step.PREVOTE)),
        Row("L55: f+1 from round 1; proposer C", prevoted(D, 1, None),
                 [NewRound(H, 1), schedule(PROPOSE, 1)], State(1, Step.PROPOSE)),
        Row("B precommits V at round 0", precommitted(B, 0, V), [], State(1, Step.PROPOSE)),
        Row("C precommits V at round 0", precommitted(C, 0, V), [], State(1, Step.PROPOSE)),
        Row("L49 with r = 0 < round_p = 1: decide V", precommitted(D, 0, V),
                 [Decision(H, 0, V)], State(1, Step.COMMIT, decision=V)),
    ])
    assert driver.commit().round == 0
    assert verify_commit(CHAIN, driver.commit(), VALIDATORS) is CommitStatus.OK


def test_commit_before_its_proposal() -> None:
    driver = Driver(H, VALIDATORS, A.public_key)
    run(driver, [
        Row("L21", Start(), [schedule(PROPOSE, 0)], State(0, Step.PROPOSE)),
        Row("B precommits V", precommitted(B, 0, V), [], State(0, Step.PROPOSE)),
        Row("C precommits V", precommitted(C, 0, V), [], State(0, Step.PROPOSE)),
        Row("L47 in step propose: 2f+1 precommits but no proposal",
                 precommitted(D, 0, V), [schedule(PRECOMMIT, 0)], State(0, Step.PROPOSE)),
        Row("L49: the proposal arrives; decide (before L22)", proposed(B, 0, V),
                 [Decision(H, 0, V)], State(0, Step.COMMIT, decision=V)),
    ])


def test_no_decision_on_an_invalid_value() -> None:
    driver = Driver(H, VALIDATORS, A.public_key)
    run(driver, [
        Row("L21", Start(), [schedule(PROPOSE, 0)], State(0, Step.PROPOSE)),
        Row("L26: invalid", proposed(B, 0, V, valid=False), [cast_prevote(0, None)],
                 State(0, Step.PREVOTE)),
        Row("B precommits V", precommitted(B, 0, V), [], State(0, Step.PREVOTE)),
        Row("C precommits V", precommitted(C, 0, V), [], State(0, Step.PREVOTE)),
        Row("L49-L50: 2f+1 precommits for an invalid value: only L47",
                 precommitted(D, 0, V), [schedule(PRECOMMIT, 0)], State(0, Step.PREVOTE)),
    ])


def test_polka_before_the_proposal_then_l22_and_l36_in_one_input() -> None:
    driver = Driver(H, VALIDATORS, A.public_key)
    run(driver, [
        Row("L21", Start(), [schedule(PROPOSE, 0)], State(0, Step.PROPOSE)),
        Row("B prevotes V", prevoted(B, 0, V), [], State(0, Step.PROPOSE)),
        Row("C prevotes V", prevoted(C, 0, V), [], State(0, Step.PROPOSE)),
        Row("polka for V in step propose: L34 and L36 wait", prevoted(D, 0, V), [],
                 State(0, Step.PROPOSE)),
        Row("L22 then L36: prevote V, then lock and precommit V", proposed(B, 0, V),
                 [cast_prevote(0, V), cast_precommit(0, V)],
                 State(0, Step.PRECOMMIT, (V, 0), (V, 0))),
    ])


def test_polka_any_reached_in_propose_fires_l34_on_entering_prevote() -> None:
    driver = Driver(H, VALIDATORS, A.public_key)
    run(driver, [
        Row("L21", Start(), [schedule(PROPOSE, 0)], State(0, Step.PROPOSE)),
        Row("B prevotes nil", prevoted(B, 0, None), [], State(0, Step.PROPOSE)),
        Row("C prevotes V", prevoted(C, 0, V), [], State(0, Step.PROPOSE)),
        Row("2f+1 prevotes for anything, in step propose", prevoted(D, 0, None), [],
                 State(0, Step.PROPOSE)),
        Row("L57 then L34", elapsed(PROPOSE, 0),
                 [cast_prevote(0, None), schedule(PREVOTE, 0)], State(0, Step.PREVOTE)),
        Row("L44: our nil prevote makes a nil polka", prevoted(A, 0, None),
                 [cast_precommit(0, None)], State(0, Step.PRECOMMIT)),
    ])


def test_lock_holds_against_a_polka_older_than_the_lock() -> None:
    """L29: lockedRound <= vr fails and lockedValue != v: prevote nil."""
    driver = Driver(H, VALIDATORS, A.public_key)
    steps = [
        Row("L21", Start(), [schedule(PROPOSE, 0)], State(0, Step.PROPOSE)),
        Row("B prevotes W in round 0", prevoted(B, 0, W), [], State(0, Step.PROPOSE)),
        Row("C prevotes W in round 0", prevoted(C, 0, W), [], State(0, Step.PROPOSE)),
        Row("D prevotes W in round 0: polka for W at 0", prevoted(D, 0, W), [],
                 State(0, Step.PROPOSE)),
        Row("L55 to round 1 (C, D)", prevoted(C, 1, V), [], State(0, Step.PROPOSE)),
        Row("L55", prevoted(D, 1, V), [NewRound(H, 1), schedule(PROPOSE, 1)],
                 State(1, Step.PROPOSE)),
        Row("L22: C proposes V", proposed(C, 1, V), [cast_prevote(1, V)],
                 State(1, Step.PREVOTE)),
        Row("L36: polka for V at round 1 (A's own prevote); lock V at 1",
                 prevoted(A, 1, V), [cast_precommit(1, V)],
                 State(1, Step.PRECOMMIT, (V, 1), (V, 1))),
        Row("L55 to round 2 (A's own precommit is not needed)", prevoted(B, 2, None), [],
                 State(1, Step.PRECOMMIT, (V, 1), (V, 1))),
        Row("L55, proposer D", prevoted(C, 2, None),
                 [NewRound(H, 2), schedule(PROPOSE, 2)], State(2, Step.PROPOSE, (V, 1), (V, 1))),
        Row("L28-L32: D re-proposes W with vr = 0 < lockedRound = 1: prevote nil",
                 proposed(D, 2, W, pol=0), [cast_prevote(2, None)],
                 State(2, Step.PREVOTE, (V, 1), (V, 1))),
    ]
    run(driver, steps)


def test_equivocation_is_reported_once() -> None:
    driver = Driver(H, VALIDATORS, A.public_key)
    run(driver, [
        Row("L21", Start(), [schedule(PROPOSE, 0)], State(0, Step.PROPOSE)),
        Row("L22: B proposes V", proposed(B, 0, V), [cast_prevote(0, V)],
                 State(0, Step.PREVOTE)),
    ])
    second = proposed(B, 0, W)
    outputs = driver.apply(second)
    assert len(outputs) == 1 and isinstance(outputs[0], ProposalEquivocation)
    assert driver.apply(second) == []
    assert len(driver.proposals(0)) == 2  # kept: a polka or commit for W could still form
    assert driver.apply(proposed(B, 0, value("x"))) == []  # evidence once; memory bounded
    assert len(driver.proposals(0)) == 2
    driver.apply(prevoted(C, 0, V))
    outputs = driver.apply(prevoted(C, 0, W))
    assert len(outputs) == 1 and isinstance(outputs[0], VoteEquivocation)
    assert driver.apply(prevoted(C, 0, None)) == []


def test_a_proposal_from_anyone_but_the_proposer_is_ignored() -> None:
    driver = Driver(H, VALIDATORS, A.public_key)
    run(driver, [
        Row("L21", Start(), [schedule(PROPOSE, 0)], State(0, Step.PROPOSE)),
        Row("L22 needs proposer(h, r) = B", proposed(C, 0, V), [], State(0, Step.PROPOSE)),
        Row("another height", ProposalReceived(proposal(B, 2, 0, V), True), [],
                 State(0, Step.PROPOSE)),
    ])
    assert driver.proposals(0) == []


def test_a_late_value_is_dropped_after_timeout_propose() -> None:
    driver = Driver(H, VALIDATORS, B.public_key)
    run(driver, [
        Row("L18", Start(), [schedule(PROPOSE, 0), GetValue(H, 0, 3_000)],
                 State(0, Step.PROPOSE)),
        Row("L57: the host was too slow", elapsed(PROPOSE, 0), [cast_prevote(0, None)],
                 State(0, Step.PREVOTE)),
        Row("the value arrives late: ignored", ValueReady(H, 0, V), [],
                 State(0, Step.PREVOTE)),
    ])


@pytest.mark.parametrize("address", [None, b"\x05" * 32])
def test_a_non_validator_follows_without_voting(address: bytes | None) -> None:
    driver = Driver(H, VALIDATORS, address)
    run(driver, [
        Row("L21", Start(), [schedule(PROPOSE, 0)], State(0, Step.PROPOSE)),
        Row("L22: no vote leaves a follower", proposed(B, 0, V), [],
                 State(0, Step.PREVOTE)),
        Row("prevote", prevoted(B, 0, V), [], State(0, Step.PREVOTE)),
        Row("prevote", prevoted(C, 0, V), [], State(0, Step.PREVOTE)),
        Row("L36: locks, precommits nothing", prevoted(D, 0, V), [],
                 State(0, Step.PRECOMMIT, (V, 0), (V, 0))),
        Row("precommit", precommitted(B, 0, V), [],
                 State(0, Step.PRECOMMIT, (V, 0), (V, 0))),
        Row("precommit", precommitted(C, 0, V), [],
                 State(0, Step.PRECOMMIT, (V, 0), (V, 0))),
        Row("L49: the follower decides too", precommitted(D, 0, V), [Decision(H, 0, V)],
                 State(0, Step.COMMIT, (V, 0), (V, 0), V)),
    ])


def test_messages_before_start_are_kept() -> None:
    driver = Driver(H, VALIDATORS, A.public_key)
    assert driver.apply(proposed(B, 0, V)) == []
    assert driver.apply(prevoted(B, 0, V)) == []
    assert driver.apply(elapsed(PROPOSE, 0)) == []
    assert driver.apply(Start()) == [schedule(PROPOSE, 0), cast_prevote(0, V)]
