"""Compact proposals: a proposal on the wire names its transactions by hash, not by their bytes.

Every validator already holds, verified, the transactions of a proposed block: they reached it
by gossip and admission put them in its mempool (`bakong.node.admission`). So an honest
proposer sends its block's header and the transactions' hashes (`CompactProposal`), and each
follower rebuilds the block from its mempool; what it lacks it fetches from the peer that sent
the proposal (`FetchTxs`, answered by `FetchedTxs`). What is signed, decided and stored does not
change: the proposal's signature covers `ProposalBody(height, round, value_id, pol_round)`
exactly as a full `consensus.messages.Proposal`'s does, and the value is the full block's
canonical bytes.

Rules:
1. A compact proposal carries the proposal's signed fields, the block header, the hashes of
   its transactions in block order, and the SHA-256 of the full block's canonical bytes
   (`value_digest`). Its signature is checked on receipt like a full proposal's, with the
   same body, so a compact and a full proposal of one value are one signed proposal.
2. The header must hash to `value_id`, else the message is malformed (the proposer signed an
   id its own header does not have: nothing to fetch for).
3. The follower rebuilds the block from transactions it holds (`assemble`); the rebuilt bytes
   must have `value_digest`, which pins each transaction's signatures too (a transaction's
   hash covers only its payload). The rebuilt proposal is then checked as valid(v) like a full
   one (`bakong.node.validity`), reusing admission's decoded transactions and hashes.
4. A fetch request names at most `fetch_hashes_max` hashes; an answer carries at most
   `fetch_answer_bytes_max` bytes of canonical transactions, each of which must decode and
   hash to a hash the follower asked for: anything else is a bad answer from a bad peer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated

import msgspec
from msgspec import Meta

from bakong import limits
from bakong.consensus.messages import (
    Proposal,
    ProposalBody,
    proposal_sign_bytes,
    value_id_size,
)
from bakong.errors import DecodeError, RemoteError
from bakong.ledger.block import Block, BlockHeader, block_hash
from bakong.ledger.transaction import Transaction, decode_transaction, transaction_hash
from bakong.wire.codec import decode_canonical, encode
from bakong.wire.keys import public_key_size, signature_size

__all__ = [
    "CompactProposal",
    "FetchTxs",
    "FetchedTxs",
    "assemble",
    "compact_proposal",
    "decode_compact_proposal",
    "decode_fetch",
    "decode_fetched",
    "encode_fetched",
    "value_digest",
]

_Hash32 = Annotated[bytes, Meta(min_length=32, max_length=32)]

#: The most a msgpack array or bytes header takes (a 32-bit length).
_length_header_size = 5

#: verify(public_key, message, signature), e.g. the run's memoised `Memo.verify`.
Verifier = Callable[[bytes, bytes, bytes], bool]


class CompactProposal(msgspec.Struct, frozen=True, forbid_unknown_fields=True, array_like=True):
    """A `Proposal` whose value is named by its header and transaction hashes (rule 1)."""

    height: int
    round: int
    value_id: bytes
    pol_round: int
    proposer: bytes
    signature: bytes
    header: BlockHeader
    tx_hashes: Annotated[tuple[_Hash32, ...], Meta(max_length=limits.block_txs_max)]
    value_digest: _Hash32

    @property
    def body(self) -> ProposalBody:
        return ProposalBody(self.height, self.round, self.value_id, self.pol_round)


class FetchTxs(msgspec.Struct, frozen=True, forbid_unknown_fields=True, array_like=True):
    """A follower's request for the transactions it lacks (rule 4)."""

    tx_hashes: Annotated[tuple[_Hash32, ...], Meta(max_length=limits.fetch_hashes_max)]


class FetchedTxs(msgspec.Struct, frozen=True, forbid_unknown_fields=True, array_like=True):
    """The answer: canonical transactions, each as its bytes (rule 4)."""

    transactions: tuple[bytes, ...]


def value_digest(value: bytes) -> bytes:
    """Rule 1: what pins the rebuilt block's bytes to the proposer's."""
    return hashlib.sha256(value).digest()


def compact_proposal(
    proposal: Proposal, header: BlockHeader, tx_hashes: tuple[bytes, ...]
) -> CompactProposal:
    """The compact form of `proposal`, whose value is a block with `header` and transactions
    whose hashes are `tx_hashes`."""
    return CompactProposal(
        height=proposal.height,
        round=proposal.round,
        value_id=proposal.value_id,
        pol_round=proposal.pol_round,
        proposer=proposal.proposer,
        signature=proposal.signature,
        header=header,
        tx_hashes=tx_hashes,
        value_digest=value_digest(proposal.value),
    )


def decode_compact_proposal(chain_id: str, data: bytes, verify: Verifier) -> CompactProposal:
    """Decode and authenticate a compact proposal (rules 1 and 2). Raises `DecodeError`, or
    `RemoteError` on a bad signature."""
    compact = decode_canonical(data, CompactProposal, bytes_max=limits.compact_proposal_bytes_max)
    body = compact.body
    if len(compact.proposer) != public_key_size or len(compact.signature) != signature_size:
        raise DecodeError("proposal_malformed", "key or signature has the wrong length")
    if len(body.value_id) != value_id_size:
        raise DecodeError("proposal_malformed", f"a value id is {value_id_size} bytes")
    if not -1 <= body.pol_round < body.round <= limits.round_max:
        raise DecodeError("proposal_malformed", "pol_round is not in [-1, round)")
    if not 0 <= body.height <= limits.height_max:
        raise DecodeError("proposal_malformed", "height is out of range")
    if compact.header.height != body.height or block_hash(compact.header) != body.value_id:
        raise DecodeError("proposal_malformed", "the header does not have the proposal's id")
    sign_bytes = proposal_sign_bytes(chain_id, body)
    if not verify(compact.proposer, sign_bytes, compact.signature):
        raise RemoteError("signature_invalid", "the proposal's signature does not verify")
    return compact


def assemble(
    compact: CompactProposal, held: Callable[[bytes], Transaction | None]
) -> tuple[Proposal, Block] | list[bytes]:
    """Rule 3: the full proposal and its block from the transactions `held(tx_hash)` finds,
    or the hashes still missing. Raises `RemoteError` when the rebuilt bytes are not the
    proposer's."""
    transactions: list[Transaction] = []
    missing: list[bytes] = []
    for tx_hash in compact.tx_hashes:
        transaction = held(tx_hash)
        if transaction is None:
            missing.append(tx_hash)
        else:
            transactions.append(transaction)
    if missing:
        return missing
    block = Block(header=compact.header, transactions=tuple(transactions))
    value = encode(block)
    if len(value) > limits.block_bytes_max or value_digest(value) != compact.value_digest:
        raise RemoteError("proposal_mismatch", "the rebuilt block is not the proposer's")
    proposal = Proposal(
        compact.height,
        compact.round,
        value,
        compact.value_id,
        compact.pol_round,
        compact.proposer,
        compact.signature,
    )
    return proposal, block


def decode_fetch(data: bytes) -> FetchTxs:
    """A fetch request (rule 4). Raises `DecodeError`."""
    return decode_canonical(data, FetchTxs, bytes_max=limits.fetch_request_bytes_max)


def encode_fetched(transactions: list[Transaction]) -> bytes | None:
    """An answer with as many of `transactions` as fit in `fetch_answer_bytes_max`, in order;
    None when there is none to send."""
    raws: list[bytes] = []
    size = _length_header_size
    for transaction in transactions:
        raw = encode(transaction)
        size += len(raw) + _length_header_size
        if size > limits.fetch_answer_bytes_max:
            break
        raws.append(raw)
    return encode(FetchedTxs(tuple(raws))) if raws else None


def decode_fetched(data: bytes) -> list[tuple[bytes, Transaction]]:
    """A fetch answer's transactions with their hashes (rule 4). Raises `DecodeError`."""
    answer = decode_canonical(data, FetchedTxs, bytes_max=limits.fetch_answer_bytes_max)
    transactions = [decode_transaction(raw) for raw in answer.transactions]
    return [(transaction_hash(transaction.payload), transaction) for transaction in transactions]
