"""Compact proposals (`bakong.node.compact`, host rule 9): a proposal names its transactions by
hash, a follower rebuilds the block from its mempool and fetches what it lacks.

Method: step a fault-free simulated network by hand until a proposer has built a block with
transactions, then (a) check the compact form against the full one, and what a follower does
with bytes that are not the proposer's; (b) take some of the block's transactions away from a
follower before the proposal reaches it and check that it fetches them from the proposer and
commits the same block as everyone; (c) feed a node fetch answers a bad peer would send.
"""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from bakong.consensus.messages import Proposal, ProposalBody, sign_proposal
from bakong.errors import DecodeError, RemoteError
from bakong.ledger.block import block_hash, decode_block
from bakong.ledger.transaction import Transaction, transaction_hash
from bakong.node.compact import (
    CompactProposal,
    FetchedTxs,
    FetchTxs,
    assemble,
    compact_proposal,
    decode_compact_proposal,
)
from bakong.node.envelope import MessageKind
from bakong.node.validity import Checked
from bakong.sim.faults import Options
from bakong.sim.node import Node
from bakong.sim.run import Run
from bakong.wire.codec import encode

from .helpers import calm_plan, stepped_run

OPTIONS = Options(validators=4, byzantine=0, heights=30)


def _own_block(node: Node) -> Checked | None:
    """The block `node` built for its current height, once it has transactions."""
    for checked in node.checked.values():
        block = checked.block
        if block is not None and block.header.proposer == node.key.public_key:
            if len(block.transactions) >= 2:
                return checked
    return None


def _built(run: Run) -> tuple[Node, Checked]:
    """Step until some node has built a block of at least two transactions."""
    for _ in range(200_000):
        assert run.step()
        for node in run.world.nodes:
            checked = _own_block(node)
            if checked is not None:
                return node, checked
    raise AssertionError("no block with transactions was built")


def _signed(node: Node, checked: Checked) -> tuple[Proposal, CompactProposal]:
    """`node`'s round-0 proposal of the block `checked` holds, full and compact."""
    assert checked.block is not None and checked.outcome is not None
    block = checked.block
    value = encode(block)
    body = ProposalBody(block.header.height, 0, block_hash(block.header), -1)
    proposal = sign_proposal(node.chain_id, node.key, body, value)
    return proposal, compact_proposal(proposal, block.header, checked.outcome.tx_hashes)


def test_the_compact_form_rebuilds_the_proposal_and_pins_its_bytes() -> None:
    run = stepped_run(4, OPTIONS, calm_plan(4, OPTIONS))
    node, checked = _built(run)
    assert checked.block is not None
    block = checked.block
    proposal, compact = _signed(node, checked)
    data = encode(compact)
    assert len(data) < len(encode(proposal))
    assert decode_compact_proposal(node.chain_id, data, node.memo.verify) == compact
    tx_hashes = compact.tx_hashes
    held = dict(zip(tx_hashes, block.transactions, strict=True))
    assert assemble(compact, held.get) == (proposal, block)
    # What a follower lacks is named in block order.
    partial = {h: tx for h, tx in held.items() if h not in (tx_hashes[0], tx_hashes[-1])}
    assert assemble(compact, partial.get) == [tx_hashes[0], tx_hashes[-1]]
    # A transaction held with other signatures hashes the same, but is not the proposer's.
    first = block.transactions[0]
    variant = Transaction(first.payload, (*first.signatures, first.signatures[0]))
    assert transaction_hash(variant.payload) == tx_hashes[0]
    with pytest.raises(RemoteError):
        assemble(compact, {**held, tx_hashes[0]: variant}.get)


def test_a_compact_proposal_with_a_foreign_header_or_signature_is_refused() -> None:
    run = stepped_run(4, OPTIONS, calm_plan(4, OPTIONS))
    node, checked = _built(run)
    _, compact = _signed(node, checked)
    verify = node.memo.verify
    later = replace(compact.header, time_ms=compact.header.time_ms + 1)
    with pytest.raises(DecodeError):  # the header does not hash to the signed id
        decode_compact_proposal(node.chain_id, encode(replace(compact, header=later)), verify)
    signature = bytes([compact.signature[0] ^ 1]) + compact.signature[1:]
    with pytest.raises(RemoteError):
        bad = replace(compact, signature=signature)
        decode_compact_proposal(node.chain_id, encode(bad), verify)
    # The same signed proposal for another chain does not verify there.
    with pytest.raises(RemoteError):
        decode_compact_proposal("another-chain", encode(compact), verify)


def _has_proposal(node: Node) -> bool:
    driver = node.driver
    return driver is not None and bool(driver.proposals(driver.round))


def _deliveries(run: Run, kind: MessageKind, source: int, target: int) -> int:
    lines = run.world.scheduler.lines
    assert lines is not None
    return sum(f" deliver {source}>{target} {kind}:" in line for line in lines)


def test_a_follower_lacking_transactions_fetches_them_and_commits_the_same_block() -> None:
    run = stepped_run(11, OPTIONS, calm_plan(11, OPTIONS))
    run.world.scheduler.lines = []
    proposer, checked = _built(run)
    assert checked.block is not None and checked.outcome is not None
    height = checked.block.header.height
    follower = next(
        node
        for node in run.world.nodes
        if node is not proposer and node.height + 1 == height and not _has_proposal(node)
    )
    lacking = checked.outcome.tx_hashes[::2]  # every other one: dropped, or never gossiped
    follower.mempool.remove(lacking)
    for tx_hash in lacking:
        follower.known.pop(tx_hash, None)
    assert all(follower.mempool.get(tx_hash) is None for tx_hash in lacking)
    while follower.height < height:
        assert run.step()
    stored = follower.chain.stored_block(height)
    decided = proposer.chain.stored_block(height)
    assert stored is not None and decided is not None
    assert stored.commit.block_hash == decided.commit.block_hash
    assert stored.block == decided.block  # the same bytes, signatures and all
    committed = decode_block(stored.block).transactions
    assert {transaction_hash(tx.payload) for tx in committed} >= set(lacking)
    asked = _deliveries(run, MessageKind.FETCH_TXS, follower.index, proposer.index)
    answered = _deliveries(run, MessageKind.FETCHED_TXS, proposer.index, follower.index)
    assert asked >= 1 and answered >= 1
    while run.step():
        pass
    run.finish()
    assert run.world.checker.violations == []


def test_a_bad_fetch_answer_is_a_bad_peer_never_a_crash() -> None:
    run = stepped_run(4, OPTIONS, calm_plan(4, OPTIONS))
    run.world.scheduler.lines = []
    proposer, checked = _built(run)
    assert checked.block is not None and checked.outcome is not None
    node = run.world.nodes[(proposer.index + 1) % len(run.world.nodes)]
    peer = proposer.key.public_key
    transaction, tx_hash = checked.block.transactions[0], checked.outcome.tx_hashes[0]
    raw = encode(transaction)
    receive = node.replica.receive
    assert not receive(peer, MessageKind.FETCHED_TXS, b"\x93not an answer")
    assert not receive(peer, MessageKind.FETCHED_TXS, encode(FetchedTxs((raw + b"\x00",))))
    node.asked.pop(tx_hash, None)
    assert not receive(peer, MessageKind.FETCHED_TXS, encode(FetchedTxs((raw,))))  # unasked
    node.asked[tx_hash] = None
    assert receive(peer, MessageKind.FETCHED_TXS, encode(FetchedTxs((raw,))))
    assert not receive(peer, MessageKind.FETCH_TXS, b"\x91\xc4\x01x")  # a hash is 32 bytes
    # A request is answered with what the node holds of it, to the peer that asked.
    assert receive(peer, MessageKind.FETCH_TXS, encode(FetchTxs((tx_hash, bytes(32)))))
    for _ in range(10_000):
        if _deliveries(run, MessageKind.FETCHED_TXS, node.index, proposer.index):
            break
        assert run.step()
    else:
        raise AssertionError("the request was not answered")
    while run.step():
        pass
    run.finish()
    assert run.world.checker.violations == []


def test_only_the_round_proposers_compact_proposal_waits_for_transactions() -> None:
    run = stepped_run(4, OPTIONS, calm_plan(4, OPTIONS))
    proposer, checked = _built(run)
    assert checked.block is not None and checked.outcome is not None
    header, tx_hashes = checked.block.header, checked.outcome.tx_hashes
    node = next(
        other
        for other in run.world.nodes
        if other is not proposer and other.height + 1 == header.height and not _has_proposal(other)
    )
    driver = node.driver
    assert driver is not None
    round = next(
        r
        for r in range(driver.round, driver.round + 4)
        if driver.proposer(r) != node.key.public_key
    )
    round_proposer = next(m for m in run.world.nodes if m.key.public_key == driver.proposer(round))
    outsider = next(m for m in run.world.nodes if m not in (node, round_proposer))
    node.mempool.remove(tx_hashes[:1])
    node.known.pop(tx_hashes[0], None)

    def offer(member: Node) -> int:
        """Packets `node` sends when `member` offers it a compact proposal it lacks one
        transaction of."""
        body = ProposalBody(header.height, round, block_hash(header), -1)
        signed = sign_proposal(node.chain_id, member.key, body, encode(checked.block))
        data = encode(compact_proposal(signed, header, tx_hashes))
        sent = run.world.network.sent
        assert node.replica.receive(member.key.public_key, MessageKind.PROPOSAL_COMPACT, data)
        return run.world.network.sent - sent

    assert offer(outsider) == 0  # not the round's proposer: not kept, nothing fetched
    assert node.incomplete == {}
    assert offer(round_proposer) == 1  # its fetch request
    assert len(node.incomplete) == 1
