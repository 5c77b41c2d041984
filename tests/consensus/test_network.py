"""Four real drivers over an in-memory link, deciding several heights (the pieces fit).

A minimal host per node does what `bakong.consensus.driver` asks of one: sign and send its
proposals and votes and feed them back to itself, run timers on a simulated clock, build a
value on `GetValue`, keep messages for a later height until it gets there, and start a new
driver for the next height after each decision. The links deliver every message after a delay
drawn from a seeded PRNG (test-only randomness); the whole run is deterministic.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from bakong.consensus.commit import CommitStatus, verify_commit
from bakong.consensus.driver import (
    Driver,
    DriverInput,
    ProposalReceived,
    Start,
    TimeoutElapsed,
    ValueReady,
    VoteReceived,
)
from bakong.consensus.messages import Proposal, Vote, sign_proposal, sign_vote
from bakong.consensus.round import (
    BroadcastProposal,
    BroadcastVote,
    Decision,
    GetValue,
    ScheduleTimeout,
    Timeouts,
    Value,
)
from bakong.ledger.validators import ValidatorSet
from bakong.wire.keys import SigningKey

from .helpers import CHAIN, validator_set

TIMEOUTS = Timeouts(propose_ms_base=300, prevote_ms_base=100, precommit_ms_base=100, delta_ms=50)
EVENTS_MAX = 200_000


@dataclass
class Node:
    key: SigningKey
    validators: ValidatorSet
    driver: Driver
    silent: bool = False
    decided: list[tuple[int, int, Value]] = field(default_factory=list)
    later: list[Proposal | Vote] = field(default_factory=list)  # messages for later heights


@dataclass(order=True)
class Event:
    at_ms: int
    sequence: int
    node: int = field(compare=False)
    input: DriverInput = field(compare=False)


class Network:
    def __init__(self, powers: list[int], seed: int, silent: set[int]) -> None:
        self.validators, keys = validator_set(powers)
        self.nodes = [
            Node(key, self.validators, self._driver(1, key), index in silent)
            for index, key in enumerate(keys)
        ]
        self.rng = random.Random(seed)
        self.queue: list[Event] = []
        self.now_ms = 0
        self.sequence = 0

    def _driver(self, height: int, key: SigningKey) -> Driver:
        return Driver(height, self.validators, key.public_key, TIMEOUTS)

    def _at(self, delay_ms: int, node: int, event: DriverInput) -> None:
        self.sequence += 1
        heapq.heappush(self.queue, Event(self.now_ms + delay_ms, self.sequence, node, event))

    def _send(self, sender: int, message: Proposal | Vote) -> None:
        for index in range(len(self.nodes)):
            delay = 0 if index == sender else self.rng.randint(1, 40)
            if isinstance(message, Proposal):
                self._at(delay, index, ProposalReceived(message, _is_valid(message)))
            else:
                self._at(delay, index, VoteReceived(message))

    def run(self, heights: int) -> None:
        for index, node in enumerate(self.nodes):
            if not node.silent:
                self._perform(index, node.driver.apply(Start()))
        for _ in range(EVENTS_MAX):
            if all(len(n.decided) >= heights for n in self.nodes if not n.silent):
                return
            event = heapq.heappop(self.queue)
            self.now_ms = event.at_ms
            self._deliver(event.node, event.input)
        raise AssertionError("the network did not decide in time")

    def _deliver(self, index: int, event: DriverInput) -> None:
        node = self.nodes[index]
        if node.silent:
            return
        message = _message(event)
        height = message.height if message is not None else _height(event)
        if height > node.driver.height and message is not None:
            node.later.append(message)
            assert len(node.later) < 10_000
        elif height == node.driver.height:
            self._perform(index, node.driver.apply(event))

    def _perform(self, index: int, outputs: Sequence[object]) -> None:
        node = self.nodes[index]
        for output in outputs:
            match output:
                case BroadcastProposal(proposal=body, value=data):
                    self._send(index, sign_proposal(CHAIN, node.key, body, data))
                case BroadcastVote(vote=body):
                    self._send(index, sign_vote(CHAIN, node.key, body))
                case ScheduleTimeout(kind=kind, height=height, round=round, duration_ms=ms):
                    self._at(ms, index, TimeoutElapsed(kind, height, round))
                case GetValue(height=height, round=round):
                    self._at(5, index, ValueReady(height, round, _value(height, round, index)))
                case Decision(height=height, round=round, value=value):
                    self._decide(index, height, round, value)
                    return  # the rest belongs to a finished height

    def _decide(self, index: int, height: int, round: int, value: Value) -> None:
        node = self.nodes[index]
        commit = node.driver.commit()
        status = verify_commit(CHAIN, commit, self.validators, height=height, block_hash=value.id)
        assert status is CommitStatus.OK
        node.decided.append((height, round, value))
        node.driver = self._driver(height + 1, node.key)
        self._perform(index, node.driver.apply(Start()))
        waiting, node.later = node.later, []
        for message in waiting:
            if isinstance(message, Proposal):
                self._deliver(index, ProposalReceived(message, _is_valid(message)))
            else:
                self._deliver(index, VoteReceived(message))


def _value(height: int, round: int, proposer: int) -> Value:
    data = b"block %d %d by %d" % (height, round, proposer)
    return Value(hashlib.sha256(data).digest(), data)


def _is_valid(proposal: Proposal) -> bool:
    return hashlib.sha256(proposal.value).digest() == proposal.value_id


def _message(event: DriverInput) -> Proposal | Vote | None:
    if isinstance(event, ProposalReceived):
        return event.proposal
    if isinstance(event, VoteReceived):
        return event.vote
    return None


def _height(event: DriverInput) -> int:
    assert isinstance(event, TimeoutElapsed | ValueReady)
    return event.height


def _check_agreement(network: Network, heights: int) -> None:
    honest = [node for node in network.nodes if not node.silent]
    for height in range(1, heights + 1):
        decided = {node.decided[height - 1][2] for node in honest}
        assert len(decided) == 1, f"disagreement at height {height}"
        assert all(node.decided[height - 1][0] == height for node in honest)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_four_validators_decide_several_heights(seed: int) -> None:
    network = Network([1, 1, 1, 1], seed, silent=set())
    network.run(heights=8)
    _check_agreement(network, 8)
    # With every message delivered, every height is decided in its first round.
    assert all(round == 0 for node in network.nodes for _, round, _ in node.decided)


@pytest.mark.parametrize("silent", [0, 3])
def test_one_silent_validator_costs_rounds_not_safety_or_liveness(silent: int) -> None:
    network = Network([1, 1, 1, 1], seed=11, silent={silent})
    network.run(heights=8)
    _check_agreement(network, 8)
    # The silent validator's turns as proposer are skipped by a round change.
    rounds = [round for _, round, _ in network.nodes[(silent + 1) % 4].decided]
    assert max(rounds) >= 1


def test_unequal_powers() -> None:
    network = Network([5, 3, 1, 1], seed=5, silent={3})
    network.run(heights=10)
    _check_agreement(network, 10)
    proposers = {value.data.rsplit(b" ", 1)[1] for _, _, value in network.nodes[0].decided}
    assert b"0" in proposers and b"1" in proposers


def test_the_run_is_deterministic() -> None:
    runs = []
    for _ in range(2):
        network = Network([1, 1, 1, 1], seed=9, silent={2})
        network.run(heights=5)
        runs.append([(n.decided, network.now_ms) for n in network.nodes])
    assert runs[0] == runs[1]
