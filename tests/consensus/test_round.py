"""Step tables for the round state machine alone: every arm of `apply`, and every guard.

Each row is (desc, state before, am I the proposer, input, state after, output). A row whose
input enables no rule expects the state unchanged and no output.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec
import pytest

from bakong.consensus.messages import ProposalBody, VoteBody, VoteType
from bakong.consensus.round import (
    BroadcastProposal,
    BroadcastVote,
    Decision,
    GetValue,
    Input,
    NewRound,
    Output,
    PolkaAny,
    PolkaNil,
    PrecommitAny,
    Proposal,
    ProposalAndPolkaCurrent,
    ProposalAndPolkaPrevious,
    ProposalAndPrecommitValue,
    ProposeValue,
    RoundInfo,
    RoundState,
    ScheduleTimeout,
    SkipRound,
    StartRound,
    Step,
    TimeoutKind,
    TimeoutPrecommit,
    TimeoutPrevote,
    TimeoutPropose,
    Timeouts,
    apply,
    timeout_ms,
)

from .helpers import keys, proposal, value

H = 3
V, W = value("v"), value("w")
KEY = keys(1)[0]


class Row(NamedTuple):
    desc: str
    before: RoundState
    proposer: bool
    input: Input
    after: RoundState | None  # None: unchanged
    output: Output | None


def state(round: int, step: Step, **fields: object) -> RoundState:
    return msgspec.structs.replace(RoundState(H), round=round, step=step, **fields)


def prevote(round: int, value_id: bytes | None) -> BroadcastVote:
    return BroadcastVote(VoteBody(VoteType.PREVOTE, H, round, value_id))


def precommit(round: int, value_id: bytes | None) -> BroadcastVote:
    return BroadcastVote(VoteBody(VoteType.PRECOMMIT, H, round, value_id))


U, PP, PV, PC, CM = Step.UNSTARTED, Step.PROPOSE, Step.PREVOTE, Step.PRECOMMIT, Step.COMMIT
LOCKED_V0 = {"locked_value": V, "locked_round": 0, "valid_value": V, "valid_round": 0}
LOCKED_W2 = {"locked_value": W, "locked_round": 2, "valid_value": W, "valid_round": 2}
p0, p1, p3 = proposal(KEY, H, 0, V), proposal(KEY, H, 1, V), proposal(KEY, H, 3, V)
p3_w = proposal(KEY, H, 3, W)
p3_v_vr1, p3_w_vr1 = proposal(KEY, H, 3, V, 1), proposal(KEY, H, 3, W, 1)

ROWS = [
    # L11-L21 StartRound
    Row("L21: not the proposer; schedule timeoutPropose", state(0, U), False, StartRound(0),
        state(0, PP), ScheduleTimeout(TimeoutKind.PROPOSE, H, 0, 3_000)),
    Row("L18: the proposer asks for a value (and schedules timeoutPropose, rule 6)",
        state(2, U), True, StartRound(2), state(2, PP), GetValue(H, 2, 4_000)),
    Row("L15-L16, L19: the proposer re-proposes its valid value", state(1, U, **LOCKED_V0),
        True, StartRound(1),
        state(1, PP, executed_once=frozenset({19}), **LOCKED_V0),
        BroadcastProposal(ProposalBody(H, 1, V.id, 0), V.data)),
    Row("StartRound of another round", state(1, U), False, StartRound(2), None, None),
    Row("StartRound when already started", state(1, PP), False, StartRound(1), None, None),
    # L18-L19 getValue() returned
    Row("L19: broadcast the proposal", state(0, PP), True, ProposeValue(0, V),
        state(0, PP, executed_once=frozenset({19})),
        BroadcastProposal(ProposalBody(H, 0, V.id, -1), V.data)),
    Row("L19 once per round", state(0, PP, executed_once=frozenset({19})), True,
        ProposeValue(0, W), None, None),
    Row("only the proposer proposes", state(0, PP), False, ProposeValue(0, V), None, None),
    Row("a value for another round", state(1, PP), True, ProposeValue(0, V), None, None),
    Row("a value after the propose step", state(0, PV), True, ProposeValue(0, V), None, None),
    # L22
    Row("L24: valid, not locked: prevote id(v)", state(0, PP), False, Proposal(p0, True),
        state(0, PV), prevote(0, V.id)),
    Row("L26: invalid: prevote nil", state(0, PP), False, Proposal(p0, False), state(0, PV),
        prevote(0, None)),
    Row("L24: locked on the same value", state(3, PP, **LOCKED_W2), False,
        Proposal(p3_w, True), state(3, PV, **LOCKED_W2), prevote(3, W.id)),
    Row("L26: locked on another value", state(3, PP, **LOCKED_W2), False,
        Proposal(p3, True), state(3, PV, **LOCKED_W2), prevote(3, None)),
    Row("L22 needs vr = -1", state(3, PP), False, Proposal(p3_v_vr1, True), None, None),
    Row("L22 needs step propose", state(0, PV), False, Proposal(p0, True), None, None),
    Row("L22 needs round_p", state(1, PP), False, Proposal(p0, True), None, None),
    # L28
    Row("L30: lockedRound <= vr", state(3, PP, **LOCKED_V0), False,
        ProposalAndPolkaPrevious(p3_w_vr1, True), state(3, PV, **LOCKED_V0), prevote(3, W.id)),
    Row("L30: lockedValue = v", state(3, PP, **LOCKED_W2), False,
        ProposalAndPolkaPrevious(proposal(KEY, H, 3, W, 1), True), state(3, PV, **LOCKED_W2),
        prevote(3, W.id)),
    Row("L32: locked later on another value", state(3, PP, **LOCKED_W2), False,
        ProposalAndPolkaPrevious(p3_v_vr1, True), state(3, PV, **LOCKED_W2), prevote(3, None)),
    Row("L32: invalid", state(3, PP), False, ProposalAndPolkaPrevious(p3_v_vr1, False),
        state(3, PV), prevote(3, None)),
    Row("L28 needs step propose", state(3, PV), False, ProposalAndPolkaPrevious(p3_v_vr1, True),
        None, None),
    Row("L28 needs vr >= 0", state(3, PP), False, ProposalAndPolkaPrevious(p3, True), None,
        None),
    # L34
    Row("L35: schedule timeoutPrevote", state(1, PV), False, PolkaAny(1),
        state(1, PV, executed_once=frozenset({34})),
        ScheduleTimeout(TimeoutKind.PREVOTE, H, 1, 1_500)),
    Row("L34 for the first time only", state(1, PV, executed_once=frozenset({34})), False,
        PolkaAny(1), None, None),
    Row("L34 needs step prevote", state(1, PP), False, PolkaAny(1), None, None),
    Row("L34 needs round_p", state(1, PV), False, PolkaAny(0), None, None),
    # L36
    Row("L37-L43: in prevote: lock, precommit id(v)", state(1, PV), False,
        ProposalAndPolkaCurrent(p1, True),
        state(1, PC, locked_value=V, locked_round=1, valid_value=V, valid_round=1,
              executed_once=frozenset({36})), precommit(1, V.id)),
    Row("L42-L43: in precommit: valid only", state(1, PC), False,
        ProposalAndPolkaCurrent(p1, True),
        state(1, PC, valid_value=V, valid_round=1, executed_once=frozenset({36})), None),
    Row("L36 for the first time only", state(1, PC, executed_once=frozenset({36})), False,
        ProposalAndPolkaCurrent(p1, True), None, None),
    Row("L36 needs valid(v)", state(1, PV), False, ProposalAndPolkaCurrent(p1, False), None,
        None),
    Row("L36 needs step >= prevote", state(1, PP), False, ProposalAndPolkaCurrent(p1, True),
        None, None),
    Row("L36 needs round_p", state(2, PV), False, ProposalAndPolkaCurrent(p1, True), None,
        None),
    # L44
    Row("L45: precommit nil", state(0, PV), False, PolkaNil(0), state(0, PC),
        precommit(0, None)),
    Row("L44 needs step prevote", state(0, PC), False, PolkaNil(0), None, None),
    Row("L44 needs round_p", state(1, PV), False, PolkaNil(0), None, None),
    # L47
    Row("L48: schedule timeoutPrecommit (in precommit)", state(2, PC), False, PrecommitAny(2),
        state(2, PC, executed_once=frozenset({47})),
        ScheduleTimeout(TimeoutKind.PRECOMMIT, H, 2, 2_000)),
    Row("L48: in propose too (no step in the guard)", state(0, PP), False, PrecommitAny(0),
        state(0, PP, executed_once=frozenset({47})),
        ScheduleTimeout(TimeoutKind.PRECOMMIT, H, 0, 1_000)),
    Row("L47 for the first time only", state(2, PC, executed_once=frozenset({47})), False,
        PrecommitAny(2), None, None),
    Row("L47 needs round_p", state(2, PC), False, PrecommitAny(1), None, None),
    Row("nothing after the decision", state(0, CM, decision=V), False, PrecommitAny(0), None,
        None),
    # L49
    Row("L51: decide on round_p", state(1, PC), False, ProposalAndPrecommitValue(p1, True),
        state(1, CM, decision=V), Decision(H, 1, V)),
    Row("L51: decide on a past round (r < round_p)", state(3, PV), False,
        ProposalAndPrecommitValue(p0, True), state(3, CM, decision=V), Decision(H, 0, V)),
    Row("L50: not on an invalid value", state(0, PC), False,
        ProposalAndPrecommitValue(p0, False), None, None),
    Row("L49: once (decision_p[h_p] = nil)", state(0, CM, decision=V), False,
        ProposalAndPrecommitValue(p0, True), None, None),
    # L55
    Row("L56: StartRound(round) for a higher round", state(0, PC, **LOCKED_V0), False,
        SkipRound(4), state(4, U, **LOCKED_V0), NewRound(H, 4)),
    Row("L55 needs round > round_p", state(4, PV), False, SkipRound(4), None, None),
    Row("L55 not after the decision", state(0, CM, decision=V), False, SkipRound(4), None,
        None),
    # L57
    Row("L59-L60: prevote nil", state(2, PP), False, TimeoutPropose(H, 2), state(2, PV),
        prevote(2, None)),
    Row("L58: stale round", state(2, PP), False, TimeoutPropose(H, 1), None, None),
    Row("L58: stale height", state(2, PP), False, TimeoutPropose(H - 1, 2), None, None),
    Row("L58: stale step", state(2, PV), False, TimeoutPropose(H, 2), None, None),
    # L61
    Row("L63-L64: precommit nil", state(2, PV), False, TimeoutPrevote(H, 2), state(2, PC),
        precommit(2, None)),
    Row("L62: stale round", state(2, PV), False, TimeoutPrevote(H, 1), None, None),
    Row("L62: stale height", state(2, PV), False, TimeoutPrevote(H + 1, 2), None, None),
    Row("L62: stale step", state(2, PC), False, TimeoutPrevote(H, 2), None, None),
    # L65
    Row("L67: StartRound(round_p + 1), locks kept", state(2, PC, **LOCKED_V0), False,
        TimeoutPrecommit(H, 2), state(3, U, **LOCKED_V0), NewRound(H, 3)),
    Row("L67: from any step of the round", state(2, PP), False, TimeoutPrecommit(H, 2),
        state(3, U), NewRound(H, 3)),
    Row("L66: stale round", state(2, PC), False, TimeoutPrecommit(H, 1), None, None),
    Row("L66: stale height", state(2, PC), False, TimeoutPrecommit(H + 1, 2), None, None),
    Row("L66: not after the decision", state(2, CM, decision=V), False,
        TimeoutPrecommit(H, 2), None, None),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.desc for row in ROWS])
def test_rule(row: Row) -> None:
    transition = apply(row.before, RoundInfo(row.proposer), row.input)
    assert transition.output == row.output
    assert transition.state == (row.before if row.after is None else row.after)


def test_every_input_kind_has_a_row() -> None:
    kinds = {type(row.input) for row in ROWS}
    assert len(kinds) == 13


def test_timeouts_grow_linearly_with_the_round() -> None:
    timeouts = Timeouts(propose_ms_base=100, prevote_ms_base=50, precommit_ms_base=60, delta_ms=7)
    assert [timeout_ms(timeouts, TimeoutKind.PROPOSE, r) for r in range(3)] == [100, 107, 114]
    assert timeout_ms(timeouts, TimeoutKind.PREVOTE, 10) == 120
    assert timeout_ms(timeouts, TimeoutKind.PRECOMMIT, 0) == 60
    info = RoundInfo(False, timeouts)
    transition = apply(state(4, U), info, StartRound(4))
    assert transition.output == ScheduleTimeout(TimeoutKind.PROPOSE, H, 4, 128)
