"""Byzantine validators: up to f of them, each with a behaviour drawn from the seed.

A Byzantine node runs the same host as an honest one (it follows the chain with the real
driver and ledger, so its lies are well-formed and timely) but corrupts what it sends:

- `silence`: the share of heights at which it sends no proposal and no vote at all;
- `equivocate`: as proposer, it sends one valid block to some of its peers and another valid
  block to the rest;
- `invalid`: as proposer, it sends a correctly signed proposal for a block that breaks a rule
  of `valid(v)` (app hash, time, previous hash, last commit, proposer, result root);
- `double_vote`: per vote, it sends the vote to some of its peers and a conflicting vote (nil,
  another proposal's block, or a block nobody proposed) to the rest.

The lies are coordinated within a round, as in the classic attack on locking: when it
equivocates as proposer, only the next round's proposer is shown the second block (so that it
will propose a fresh block next round), its prevotes follow its two proposals (each group is
told the block it was shown), and its precommit for its own block goes to a single peer, so
that at most one correct process can decide while the others are left to move on.

It skips the double-sign guard and its own driver never sees the corrupted messages (so the
driver's own assertions, which hold for an honest host, still hold). The checker ignores
what Byzantine nodes commit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from msgspec.structs import replace

from bakong.consensus.messages import (
    Proposal,
    ProposalBody,
    Vote,
    VoteBody,
    VoteType,
    sign_proposal,
    sign_vote,
)
from bakong.ledger.block import Block, block_hash, build_block, decode_block
from bakong.sandbox import sandbox_key
from bakong.wire.codec import encode

if TYPE_CHECKING:
    from bakong.sim.node import Node

__all__ = ["Behaviour", "Memory", "choose_behaviour", "send_proposal", "send_vote"]

_invalid_kinds = ("app_hash", "time", "previous_hash", "last_commit", "proposer", "result_root")


@dataclass
class Split:
    """A round in which the node equivocated: who was shown which block."""

    first: list[int]  # shown the block the node's own driver has
    second: list[int]  # shown `other`
    other: bytes


@dataclass
class Memory:
    """What a Byzantine node remembers of the current height, to keep its lies coherent."""

    height: int = 0
    silent: bool = False
    splits: dict[int, Split] = field(default_factory=dict)


@dataclass(frozen=True)
class Behaviour:
    silence: float
    equivocate: float
    invalid: float
    double_vote: float

    def __post_init__(self) -> None:
        for share in (self.silence, self.equivocate, self.invalid, self.double_vote):
            assert 0.0 <= share <= 1.0
        assert self.equivocate + self.invalid <= 1.0


def choose_behaviour(rng: random.Random) -> Behaviour:
    """A mix of the module's behaviours; each is off for some seeds."""
    silence = rng.choice((0.0, 0.0, 0.1, 0.5, 1.0))
    equivocate = rng.choice((0.0, 0.3, 0.6))
    invalid = rng.choice((0.0, 0.2, 0.4))
    double_vote = rng.choice((0.0, 0.3, 0.7))
    return Behaviour(silence, equivocate, invalid, double_vote)


def _memory(node: Node, height: int) -> Memory:
    """The node's memory of `height` (silence is drawn once per height)."""
    behaviour, memory = node.behaviour, node.byzantine
    assert behaviour is not None
    if memory.height != height:
        memory.height = height
        memory.silent = node.world.rng.random() < behaviour.silence
        memory.splits.clear()
    return memory


def _halves(node: Node) -> tuple[list[int], list[int]]:
    """The node's peers split at random into two non-empty groups."""
    peers = [index for index in range(node.world.network.size) if index != node.index]
    node.world.rng.shuffle(peers)
    cut = node.world.rng.randint(1, len(peers) - 1)
    return peers[:cut], peers[cut:]


def _target_next_proposer(node: Node, round: int) -> tuple[list[int], list[int]]:
    """Peers split for an equivocation: the next round's proposer alone is shown the other
    block, so that it proposes a fresh block next round rather than the locked one."""
    assert node.driver is not None
    following = node.world.index_of[node.driver.proposer(round + 1)]
    if following == node.index:
        return _halves(node)
    peers = [index for index in range(node.world.network.size) if index != node.index]
    return [peer for peer in peers if peer != following], [following]


def send_proposal(node: Node, proposal: Proposal) -> None:
    """Send `proposal` (already fed back to the node's own driver) as the behaviour says."""
    behaviour, world = node.behaviour, node.world
    assert behaviour is not None
    memory = _memory(node, proposal.height)
    if memory.silent:
        return
    roll = world.rng.random()
    if roll < behaviour.invalid:
        kind = world.rng.choice(_invalid_kinds)
        world.network.broadcast(node.index, "proposal", _invalid(node, proposal, kind))
        world.record(f"byzantine {node.index} invalid {kind}")
    elif roll < behaviour.invalid + behaviour.equivocate:
        first, second = _target_next_proposer(node, proposal.round)
        other_id, other = _another(node, proposal)
        memory.splits[proposal.round] = Split(first, second, other_id)
        world.network.broadcast(node.index, "proposal", encode(proposal), first)
        world.network.broadcast(node.index, "proposal", other, second)
        world.record(f"byzantine {node.index} equivocates")
    else:
        world.network.broadcast(node.index, "proposal", encode(proposal))


def send_vote(node: Node, vote: Vote) -> None:
    """Send `vote` (already fed back to the node's own driver) as the behaviour says."""
    behaviour, world = node.behaviour, node.world
    assert behaviour is not None
    memory = _memory(node, vote.height)
    if memory.silent:
        return
    if world.rng.random() >= behaviour.double_vote:
        world.network.broadcast(node.index, "vote", encode(vote))
        return
    split = memory.splits.get(vote.round)
    if split is None:
        first, second = _halves(node)
        other = _conflicting_id(node, vote)
    elif vote.type is VoteType.PREVOTE:
        first, second, other = split.first, split.second, split.other
    else:  # one peer may decide; everyone else is told something else
        first, second, other = split.first[:1], split.first[1:] + split.second, split.other
    body = VoteBody(vote.type, vote.height, vote.round, other)
    conflicting = sign_vote(node.world.chain.chain_id, node.key, body)
    world.network.broadcast(node.index, "vote", encode(vote), first)
    world.network.broadcast(node.index, "vote", encode(conflicting), second)
    world.record(f"byzantine {node.index} double votes")


def _conflicting_id(node: Node, vote: Vote) -> bytes | None:
    """Another value id for the same vote: nil, another proposal's block, or an unknown one."""
    assert node.driver is not None
    proposed = [p.value_id for p, _ in node.driver.proposals(vote.round)]
    others = [value_id for value_id in proposed if value_id != vote.value_id]
    if others:
        return others[0]
    if vote.value_id is not None:
        return None
    return node.world.rng.randbytes(32)


def _signed(node: Node, proposal: Proposal, block: Block, pol_round: int) -> bytes:
    """A proposal for `block` at the proposal's height and round, signed by the node."""
    body = ProposalBody(proposal.height, proposal.round, block_hash(block.header), pol_round)
    return encode(sign_proposal(node.world.chain.chain_id, node.key, body, encode(block)))


def _another(node: Node, proposal: Proposal) -> tuple[bytes, bytes]:
    """A second valid block for the same height (no transactions, a millisecond later): its
    id and the signed proposal carrying it."""
    block = decode_block(proposal.value)
    header = block.header
    other, _ = build_block(
        node.state,
        time_ms=header.time_ms + 1,
        proposer=node.key.public_key,
        previous_hash=header.previous_hash,
        last_commit=header.last_commit,
        transactions=(),
        snapshot=header.snapshot,
        verify=node.world.memo.verify,
    )
    other_id = block_hash(other.header)
    assert other_id != proposal.value_id
    return other_id, _signed(node, proposal, other, -1)


def _invalid(node: Node, proposal: Proposal, kind: str) -> bytes:
    """The proposal's block with one rule of `valid(v)` broken, correctly signed."""
    block = decode_block(proposal.value)
    header = block.header
    junk = node.world.rng.randbytes(32)
    match kind:
        case "app_hash":
            header = replace(header, app_hash=junk)
        case "time":
            header = replace(header, time_ms=header.time_ms + 3_600_000)
        case "previous_hash":
            header = replace(header, previous_hash=junk)
        case "last_commit" if header.last_commit is not None:
            commit = header.last_commit
            header = replace(header, last_commit=replace(commit, signatures=commit.signatures[:1]))
        case "proposer":
            header = replace(header, proposer=sandbox_key("sim/intruder").public_key)
        case _:
            header = replace(header, result_root=junk)
    return _signed(node, proposal, replace(block, header=header), -1)
