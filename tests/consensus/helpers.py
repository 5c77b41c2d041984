"""Shared fixtures for the consensus tests: keys, validator sets, values and signed messages."""

from __future__ import annotations

import hashlib

from bakong.consensus.messages import (
    Proposal,
    ProposalBody,
    Vote,
    VoteBody,
    VoteType,
    sign_proposal,
    sign_vote,
)
from bakong.consensus.round import Value
from bakong.ledger.validators import Validator, ValidatorSet
from bakong.wire.keys import SigningKey

CHAIN = "bakong-test"


def keys(count: int) -> list[SigningKey]:
    """`count` deterministic keys, sorted by public key (the validator set's order)."""
    made = [SigningKey(hashlib.sha256(b"validator %d" % i).digest()) for i in range(count)]
    return sorted(made, key=lambda key: key.public_key)


def validator_set(powers: list[int]) -> tuple[ValidatorSet, list[SigningKey]]:
    signers = keys(len(powers))
    validators = tuple(
        Validator(f"v{i}", key.public_key, power)
        for i, (key, power) in enumerate(zip(signers, powers, strict=True))
    )
    return ValidatorSet(validators), signers


def value(label: str) -> Value:
    data = b"block " + label.encode()
    return Value(hashlib.sha256(data).digest(), data)


def proposal(key: SigningKey, height: int, round: int, v: Value, pol_round: int = -1) -> Proposal:
    body = ProposalBody(height, round, v.id, pol_round)
    return sign_proposal(CHAIN, key, body, v.data)


def vote(
    key: SigningKey, vote_type: VoteType, height: int, round: int, v: Value | None
) -> Vote:
    body = VoteBody(vote_type, height, round, None if v is None else v.id)
    return sign_vote(CHAIN, key, body)


def prevote(key: SigningKey, height: int, round: int, v: Value | None) -> Vote:
    return vote(key, VoteType.PREVOTE, height, round, v)


def precommit(key: SigningKey, height: int, round: int, v: Value | None) -> Vote:
    return vote(key, VoteType.PRECOMMIT, height, round, v)
