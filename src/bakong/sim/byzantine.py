"""Byzantine validators: up to f of them, each with a behaviour drawn from the seed.

A Byzantine node runs the same host as an honest one (it follows the chain with the real
driver and ledger, so its lies are well-formed and timely) but corrupts what it sends:

- `silence`: the share of heights at which it sends no proposal and no vote at all;
- `equivocate`: as proposer, it sends one valid block to some of its peers and another valid
  block to the rest;
- `invalid`: as proposer, it sends a correctly signed proposal for a block that breaks a rule
  of `valid(v)` (app hash, time, previous hash, last commit, proposer, result root);
- `double_vote`: per vote, it sends the vote to some of its peers and a conflicting vote (nil,
  another proposal's block, or a block nobody proposed) to the rest;
- `ledger`: as proposer, it sends its block with a forged, replayed, expired or over-limit
  transaction added (of the kinds in `attacks`), under a true or a lying header
  (`bakong.sim.attacks`);
- `lie_sync`: the share of its catch-up answers whose first block or commit is false, and of
  its answers to fetches of a compact proposal's transactions (`bakong.node.compact`) that
  carry each transaction signed differently (the same hash, other bytes), a transaction
  nobody asked for, or bytes that are no transaction.

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

from bakong import limits
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
from bakong.ledger.transaction import Transaction, decode_transaction
from bakong.node.compact import FetchedTxs, compact_proposal
from bakong.node.envelope import MessageKind
from bakong.sandbox import sandbox_key
from bakong.sim.attacks import ATTACKS, LYING, SYNC_LIES, attack_block, false_answer
from bakong.wire.codec import decode_canonical, encode

if TYPE_CHECKING:
    from bakong.sim.node import Node

__all__ = [
    "Behaviour",
    "Memory",
    "choose_behaviour",
    "send_fetched",
    "send_proposal",
    "send_sync",
    "send_vote",
]

_fetch_lies = ("resigned", "unasked", "garbage")

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
    ledger_attacks: int = 0  # proposals sent with an attack transaction
    sync_lies: int = 0  # catch-up answers sent false


@dataclass(frozen=True)
class Behaviour:
    silence: float
    equivocate: float
    invalid: float
    double_vote: float
    ledger: float = 0.0
    lie_sync: float = 0.0
    attacks: tuple[str, ...] = ATTACKS

    def __post_init__(self) -> None:
        shares = (self.silence, self.equivocate, self.invalid, self.double_vote, self.ledger)
        for share in (*shares, self.lie_sync):
            assert 0.0 <= share <= 1.0
        assert self.equivocate + self.invalid + self.ledger <= 1.0
        assert self.attacks and set(self.attacks) <= set(ATTACKS)


def choose_behaviour(rng: random.Random) -> Behaviour:
    """A mix of the module's behaviours; each is off for some seeds."""
    silence = rng.choice((0.0, 0.0, 0.1, 0.5, 1.0))
    equivocate = rng.choice((0.0, 0.3, 0.6))
    invalid = rng.choice((0.0, 0.2, 0.4))
    double_vote = rng.choice((0.0, 0.3, 0.7))
    ledger = min(rng.choice((0.0, 0.3, 0.6)), round(1.0 - equivocate - invalid, 4))
    lie_sync = rng.choice((0.0, 0.5, 1.0))
    return Behaviour(silence, equivocate, invalid, double_vote, ledger, lie_sync)


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
        world.network.broadcast(node.index, MessageKind.PROPOSAL, _invalid(node, proposal, kind))
        world.record(f"byzantine {node.index} invalid {kind}")
    elif roll >= behaviour.invalid + behaviour.equivocate + behaviour.ledger:
        world.network.broadcast(node.index, *_compact(node, proposal))
    elif roll >= behaviour.invalid + behaviour.equivocate:
        attack = world.rng.choice(behaviour.attacks)
        lying = attack in LYING and world.rng.random() < 0.5
        attacked = attack_block(node, decode_block(proposal.value), attack, lying)
        sent = encode(proposal) if attacked is None else _signed(node, proposal, attacked.block, -1)
        world.network.broadcast(node.index, MessageKind.PROPOSAL, sent)
    else:
        first, second = _target_next_proposer(node, proposal.round)
        other_id, other = _another(node, proposal)
        memory.splits[proposal.round] = Split(first, second, other_id)
        world.network.broadcast(node.index, MessageKind.PROPOSAL, encode(proposal), first)
        world.network.broadcast(node.index, MessageKind.PROPOSAL, other, second)
        world.record(f"byzantine {node.index} equivocates")


def send_vote(node: Node, vote: Vote) -> None:
    """Send `vote` (already fed back to the node's own driver) as the behaviour says."""
    behaviour, world = node.behaviour, node.world
    assert behaviour is not None
    memory = _memory(node, vote.height)
    if memory.silent:
        return
    if world.rng.random() >= behaviour.double_vote:
        world.network.broadcast(node.index, MessageKind.VOTE, encode(vote))
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
    world.network.broadcast(node.index, MessageKind.VOTE, encode(vote), first)
    world.network.broadcast(node.index, MessageKind.VOTE, encode(conflicting), second)
    world.record(f"byzantine {node.index} double votes")


def send_sync(node: Node, data: bytes) -> bytes:
    """A catch-up message the node sends to one peer, made false as often as the behaviour
    says (`bakong.sim.attacks.false_answer`: only answers with blocks change)."""
    behaviour = node.behaviour
    assert behaviour is not None
    if behaviour.lie_sync and node.world.rng.random() < behaviour.lie_sync:
        return false_answer(node, data, node.world.rng.choice(SYNC_LIES))
    return data


def _compact(node: Node, proposal: Proposal) -> tuple[MessageKind, bytes]:
    """An unaltered proposal, compact as an honest proposer sends it when it holds the block
    (so that peers fetch from it and meet its `send_fetched`)."""
    checked = node.checked.get((proposal.value_id, proposal.value))
    if checked is None or checked.block is None or checked.outcome is None:
        return MessageKind.PROPOSAL, encode(proposal)
    compact = compact_proposal(proposal, checked.block.header, checked.outcome.tx_hashes)
    return MessageKind.PROPOSAL_COMPACT, encode(compact)


def send_fetched(node: Node, data: bytes) -> bytes:
    """An answer to a peer's fetch, made false as often as the behaviour says `lie_sync`."""
    behaviour, rng = node.behaviour, node.world.rng
    assert behaviour is not None
    if not behaviour.lie_sync or rng.random() >= behaviour.lie_sync:
        return data
    lie = rng.choice(_fetch_lies)
    node.world.record(f"byzantine {node.index} fetch answer {lie}")
    if lie == "garbage":
        return data[: len(data) // 2]
    answer = decode_canonical(data, FetchedTxs, bytes_max=limits.fetch_answer_bytes_max)
    transactions = [decode_transaction(raw) for raw in answer.transactions]
    if lie == "unasked":
        payment = replace(transactions[0].payload, nonce=transactions[0].payload.nonce + 1)
        transactions.append(Transaction(payment, transactions[0].signatures))
    else:  # each signature twice: the same payload and hash, other bytes
        transactions = [Transaction(t.payload, t.signatures * 2) for t in transactions]
    return encode(FetchedTxs(tuple(encode(transaction) for transaction in transactions)))


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
