"""Consensus messages on the wire: proposals and votes, signed with domain separation.

Algorithm 1 (Buchman, Kwon, Milosevic 2018) exchanges three messages:
⟨PROPOSAL, h, r, v, vr⟩ (L19), ⟨PREVOTE, h, r, id(v)|nil⟩ (L24, L26, L30, L32, L59) and
⟨PRECOMMIT, h, r, id(v)|nil⟩ (L40, L45, L63). Rules:

1. A value is opaque to consensus: the canonical bytes of a block (`value`) plus its id, the
   block hash (`value_id`, 32 bytes). Proposals carry the whole value; votes carry only the id,
   or `None` for nil.
2. A signature covers `prefix(domain, chain_id) + encode(body)`, where the body is every
   field except the signer and the signature: `VoteBody(type, height, round, value_id)` under
   `Domain.VOTE`, `ProposalBody(height, round, value_id, pol_round)` under `Domain.PROPOSAL`.
   A proposal signs the value's id, not its bytes; the host checks `value_id` against the
   block it carries before feeding the proposal in (see `bakong.consensus.driver`).
3. A block's commit (`bakong.ledger.commit.Commit`) is a list of precommit signatures: each
   is a signature over `VoteBody(PRECOMMIT, height, round, block_hash)`, so a commit can be
   checked without the votes it came from (`bakong.consensus.commit.verify_commit`).
4. On receipt: size limit, canonical decode, shape checks, then the signature (design section 8,
   rule 5). Whether the signer belongs to the validator set is the driver's business.
"""

from __future__ import annotations

import enum

import msgspec

from bakong import limits
from bakong.errors import DecodeError, RemoteError
from bakong.wire.codec import decode_canonical, encode
from bakong.wire.hashing import Domain, prefix
from bakong.wire.keys import SigningKey, public_key_size, signature_size, verify

__all__ = [
    "Proposal",
    "ProposalBody",
    "Vote",
    "VoteBody",
    "VoteType",
    "decode_proposal",
    "decode_vote",
    "proposal_sign_bytes",
    "sign_proposal",
    "sign_vote",
    "value_id_size",
    "verify_proposal",
    "verify_vote",
    "vote_sign_bytes",
]

#: A value id is a SHA-256 block hash.
value_id_size = 32


class VoteType(enum.IntEnum):
    """The two kinds of vote. Values are on the wire."""

    PREVOTE = 1
    PRECOMMIT = 2


class VoteBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True, array_like=True):
    """What a vote's signature covers (rule 2)."""

    type: VoteType
    height: int
    round: int
    value_id: bytes | None


class Vote(msgspec.Struct, frozen=True, forbid_unknown_fields=True, array_like=True):
    """⟨PREVOTE|PRECOMMIT, h, r, id(v)|nil⟩, signed by `validator`."""

    type: VoteType
    height: int
    round: int
    value_id: bytes | None  # None is nil
    validator: bytes  # Ed25519 public key
    signature: bytes

    @property
    def body(self) -> VoteBody:
        return VoteBody(self.type, self.height, self.round, self.value_id)


class ProposalBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True, array_like=True):
    """What a proposal's signature covers (rule 2)."""

    height: int
    round: int
    value_id: bytes
    pol_round: int


class Proposal(msgspec.Struct, frozen=True, forbid_unknown_fields=True, array_like=True):
    """⟨PROPOSAL, h, r, v, vr⟩ (L19), signed by `proposer`; `pol_round` is vr, -1 for none."""

    height: int
    round: int
    value: bytes  # the canonical block, opaque here
    value_id: bytes  # its hash
    pol_round: int
    proposer: bytes  # Ed25519 public key
    signature: bytes

    @property
    def body(self) -> ProposalBody:
        return ProposalBody(self.height, self.round, self.value_id, self.pol_round)


def vote_sign_bytes(chain_id: str, body: VoteBody) -> bytes:
    """The bytes a vote's (and a commit's) signature covers."""
    assert body.value_id is None or len(body.value_id) == value_id_size
    return prefix(Domain.VOTE, chain_id) + encode(body)


def proposal_sign_bytes(chain_id: str, body: ProposalBody) -> bytes:
    """The bytes a proposal's signature covers."""
    assert len(body.value_id) == value_id_size
    return prefix(Domain.PROPOSAL, chain_id) + encode(body)


def sign_vote(chain_id: str, key: SigningKey, body: VoteBody) -> Vote:
    assert _vote_shape_error(body) is None, _vote_shape_error(body)
    signature = key.sign(vote_sign_bytes(chain_id, body))
    vote = Vote(body.type, body.height, body.round, body.value_id, key.public_key, signature)
    assert vote.body == body
    return vote


def sign_proposal(chain_id: str, key: SigningKey, body: ProposalBody, value: bytes) -> Proposal:
    assert _proposal_shape_error(body) is None, _proposal_shape_error(body)
    assert len(value) <= limits.block_bytes_max
    signature = key.sign(proposal_sign_bytes(chain_id, body))
    return Proposal(
        body.height, body.round, value, body.value_id, body.pol_round, key.public_key, signature
    )


def verify_vote(chain_id: str, vote: Vote) -> bool:
    """True when `vote` is well formed and signed by its `validator`."""
    if _vote_shape_error(vote.body) is not None or len(vote.validator) != public_key_size:
        return False
    return verify(vote.validator, vote_sign_bytes(chain_id, vote.body), vote.signature)


def verify_proposal(chain_id: str, proposal: Proposal) -> bool:
    """True when `proposal` is well formed and signed by its `proposer`."""
    if _proposal_shape_error(proposal.body) is not None:
        return False
    if len(proposal.proposer) != public_key_size or len(proposal.value) > limits.block_bytes_max:
        return False
    body = proposal_sign_bytes(chain_id, proposal.body)
    return verify(proposal.proposer, body, proposal.signature)


def decode_vote(chain_id: str, data: bytes) -> Vote:
    """Decode and authenticate a vote. Raises `DecodeError`, or `RemoteError` on a bad signature."""
    vote = decode_canonical(data, Vote, bytes_max=limits.vote_bytes_max)
    error = _vote_shape_error(vote.body)
    if error is not None:
        raise DecodeError("vote_malformed", error)
    if len(vote.validator) != public_key_size or len(vote.signature) != signature_size:
        raise DecodeError("vote_malformed", "key or signature has the wrong length")
    if not verify(vote.validator, vote_sign_bytes(chain_id, vote.body), vote.signature):
        raise RemoteError("signature_invalid", "the vote's signature does not verify")
    return vote


def decode_proposal(chain_id: str, data: bytes) -> Proposal:
    """Decode and authenticate a proposal. Raises like `decode_vote`.

    The caller still checks that `value_id` is the hash of `value` (rule 2).
    """
    proposal = decode_canonical(data, Proposal, bytes_max=limits.proposal_bytes_max)
    error = _proposal_shape_error(proposal.body)
    if error is not None:
        raise DecodeError("proposal_malformed", error)
    if len(proposal.proposer) != public_key_size or len(proposal.signature) != signature_size:
        raise DecodeError("proposal_malformed", "key or signature has the wrong length")
    if len(proposal.value) > limits.block_bytes_max:
        raise DecodeError("proposal_malformed", "the value is larger than a block may be")
    body = proposal_sign_bytes(chain_id, proposal.body)
    if not verify(proposal.proposer, body, proposal.signature):
        raise RemoteError("signature_invalid", "the proposal's signature does not verify")
    return proposal


def _height_round_error(height: int, round: int) -> str | None:
    if not 0 <= height <= limits.height_max:
        return f"height {height} is out of range"
    if not 0 <= round <= limits.round_max:
        return f"round {round} is out of range"
    return None


def _vote_shape_error(body: VoteBody) -> str | None:
    if body.value_id is not None and len(body.value_id) != value_id_size:
        return f"a value id is {value_id_size} bytes"
    return _height_round_error(body.height, body.round)


def _proposal_shape_error(body: ProposalBody) -> str | None:
    if len(body.value_id) != value_id_size:
        return f"a value id is {value_id_size} bytes"
    if not -1 <= body.pol_round < body.round:
        return f"pol_round {body.pol_round} is not in [-1, round)"
    return _height_round_error(body.height, body.round)
