"""Evidence of equivocation: two different signed messages for one height, round and kind.

Rules:
1. A correct validator signs at most one proposal per (height, round) and one vote per
   (height, round, type) (design section 4). Two different ones, both validly signed by the same
   key, prove a fault no matter who relays them.
2. The pair is stored in canonical order (by their encoded bytes), so every node that sees the
   same two messages builds byte-identical evidence.
3. `verify_*` re-checks everything, so evidence received from a peer or put in a block is
   trusted only after verification.
"""

from __future__ import annotations

import msgspec

from bakong.consensus.messages import Proposal, Vote, verify_proposal, verify_vote
from bakong.wire.codec import encode

__all__ = [
    "Evidence",
    "ProposalEquivocation",
    "VoteEquivocation",
    "proposal_equivocation",
    "verify_proposal_equivocation",
    "verify_vote_equivocation",
    "vote_equivocation",
]


class VoteEquivocation(msgspec.Struct, frozen=True, forbid_unknown_fields=True, array_like=True):
    first: Vote
    second: Vote


class ProposalEquivocation(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, array_like=True
):
    first: Proposal
    second: Proposal


Evidence = VoteEquivocation | ProposalEquivocation


def vote_equivocation(a: Vote, b: Vote) -> VoteEquivocation:
    """Evidence from two conflicting votes, in canonical order."""
    assert a.validator == b.validator
    assert (a.type, a.height, a.round) == (b.type, b.height, b.round)
    assert a.value_id != b.value_id
    first, second = sorted((a, b), key=encode)
    return VoteEquivocation(first, second)


def proposal_equivocation(a: Proposal, b: Proposal) -> ProposalEquivocation:
    """Evidence from two conflicting proposals, in canonical order."""
    assert a.proposer == b.proposer
    assert (a.height, a.round) == (b.height, b.round)
    assert a.body != b.body
    first, second = sorted((a, b), key=encode)
    return ProposalEquivocation(first, second)


def verify_vote_equivocation(chain_id: str, evidence: VoteEquivocation) -> bool:
    first, second = evidence.first, evidence.second
    return (
        first.validator == second.validator
        and (first.type, first.height, first.round) == (second.type, second.height, second.round)
        and first.value_id != second.value_id
        and encode(first) < encode(second)
        and verify_vote(chain_id, first)
        and verify_vote(chain_id, second)
    )


def verify_proposal_equivocation(chain_id: str, evidence: ProposalEquivocation) -> bool:
    first, second = evidence.first, evidence.second
    return (
        first.proposer == second.proposer
        and (first.height, first.round) == (second.height, second.round)
        and first.body != second.body
        and encode(first) < encode(second)
        and verify_proposal(chain_id, first)
        and verify_proposal(chain_id, second)
    )
