"""Commits: built from the deciding precommits, verified against a validator set."""

from __future__ import annotations

import msgspec

from bakong.consensus.commit import CommitStatus, build_commit, verify_commit
from bakong.consensus.messages import Vote, VoteBody, VoteType, sign_vote
from bakong.ledger.commit import Commit, CommitSignature
from bakong.wire.keys import SigningKey

from .helpers import CHAIN, precommit, prevote, validator_set, value

V, W = value("v"), value("w")
# Powers 4, 3, 2, 1 (total 10): more than two thirds is 7 or more.
VALIDATORS, (A, B, C, D) = validator_set([4, 3, 2, 1])


def _commit(signers: list[SigningKey], height: int = 5, round: int = 1) -> Commit:
    return build_commit(height, round, V.id, [precommit(key, height, round, V) for key in signers])


def _with(commit: Commit, signatures: list[CommitSignature]) -> Commit:
    return msgspec.structs.replace(commit, signatures=tuple(signatures))


def test_a_commit_with_more_than_two_thirds_of_the_power_verifies() -> None:
    commit = _commit([C, A, B])  # 9 of 10, built in any order
    signers = [s.validator for s in commit.signatures]
    assert signers == sorted(signers)
    assert verify_commit(CHAIN, commit, VALIDATORS) is CommitStatus.OK
    assert verify_commit(CHAIN, commit, VALIDATORS, height=5, block_hash=V.id) is CommitStatus.OK
    assert verify_commit(CHAIN, _commit([A, B]), VALIDATORS) is CommitStatus.OK  # 7 of 10


def test_insufficient_power_counts_power_not_signatures() -> None:
    assert verify_commit(CHAIN, _commit([A, C]), VALIDATORS) is CommitStatus.INSUFFICIENT_POWER
    assert verify_commit(CHAIN, _commit([B, C, D]), VALIDATORS) is CommitStatus.INSUFFICIENT_POWER
    assert verify_commit(CHAIN, _commit([]), VALIDATORS) is CommitStatus.INSUFFICIENT_POWER


def test_an_unknown_validator_is_refused() -> None:
    stranger = SigningKey(b"\x09" * 32)
    commit = _commit([A, B, C, stranger])
    assert verify_commit(CHAIN, commit, VALIDATORS) is CommitStatus.UNKNOWN_VALIDATOR


def test_a_duplicate_signer_is_refused() -> None:
    commit = _commit([A, B])
    doubled = _with(commit, [commit.signatures[0], *commit.signatures])
    assert verify_commit(CHAIN, doubled, VALIDATORS) is CommitStatus.DUPLICATE_SIGNER


def test_unsorted_signatures_are_refused() -> None:
    commit = _commit([A, B, C])
    reversed_ = _with(commit, list(reversed(commit.signatures)))
    assert verify_commit(CHAIN, reversed_, VALIDATORS) is CommitStatus.SIGNATURES_UNSORTED


def test_a_bad_signature_fails_the_whole_commit() -> None:
    commit = _commit([A, B, C])
    first = commit.signatures[0]
    flipped = bytes([first.signature[0] ^ 1]) + first.signature[1:]
    bad = _with(commit, [CommitSignature(first.validator, flipped), *commit.signatures[1:]])
    assert verify_commit(CHAIN, bad, VALIDATORS) is CommitStatus.SIGNATURE_INVALID


def test_wrong_height_round_or_hash_breaks_the_signatures() -> None:
    commit = _commit([A, B, C])
    for changed in (
        msgspec.structs.replace(commit, height=6),
        msgspec.structs.replace(commit, round=0),
        msgspec.structs.replace(commit, block_hash=W.id),
    ):
        assert verify_commit(CHAIN, changed, VALIDATORS) is CommitStatus.SIGNATURE_INVALID
    assert verify_commit("bakong-other", commit, VALIDATORS) is CommitStatus.SIGNATURE_INVALID


def test_the_expected_height_and_block_are_checked() -> None:
    commit = _commit([A, B, C])
    assert verify_commit(CHAIN, commit, VALIDATORS, height=4) is CommitStatus.HEIGHT_MISMATCH
    status = verify_commit(CHAIN, commit, VALIDATORS, block_hash=W.id)
    assert status is CommitStatus.BLOCK_HASH_MISMATCH


def test_prevote_signatures_are_not_a_commit() -> None:
    votes = [prevote(key, 5, 1, V) for key in (A, B, C)]
    forged = Commit(5, 1, V.id, tuple(CommitSignature(v.validator, v.signature) for v in votes))
    forged = _with(forged, sorted(forged.signatures, key=lambda s: s.validator))
    assert verify_commit(CHAIN, forged, VALIDATORS) is CommitStatus.SIGNATURE_INVALID


def test_malformed_commits() -> None:
    commit = _commit([A, B, C])
    short_hash = msgspec.structs.replace(commit, block_hash=b"\x01" * 31)
    assert verify_commit(CHAIN, short_hash, VALIDATORS) is CommitStatus.MALFORMED
    too_many = _with(commit, [*commit.signatures, *commit.signatures])
    assert verify_commit(CHAIN, too_many, VALIDATORS) is CommitStatus.MALFORMED
    negative = msgspec.structs.replace(commit, round=-1)
    assert verify_commit(CHAIN, negative, VALIDATORS) is CommitStatus.MALFORMED


def test_a_commit_signature_is_a_precommit_signature() -> None:
    """What a precommit signs is exactly what a commit signature covers (messages rule 3)."""
    vote: Vote = sign_vote(CHAIN, A, VoteBody(VoteType.PRECOMMIT, 5, 1, V.id))
    commit = _commit([A])
    assert commit.signatures == (CommitSignature(A.public_key, vote.signature),)
