"""The vote keeper: weighted thresholds, each emitted once; duplicates; evidence; bounds."""

from __future__ import annotations

from bakong import limits
from bakong.consensus.evidence import verify_vote_equivocation
from bakong.consensus.messages import VoteType
from bakong.consensus.round import PolkaAny, PolkaNil, PrecommitAny, SkipRound
from bakong.consensus.vote_keeper import (
    PolkaValue,
    PrecommitValue,
    VoteKeeper,
    VoteStatus,
    has_quorum,
    is_above_one_third,
)
from bakong.wire.keys import SigningKey

from .helpers import CHAIN, precommit, prevote, validator_set, value

V, W = value("v"), value("w")
# Powers 4, 3, 2, 1 (total 10): a quorum needs 7 (> 20/3), f+1 needs 4 (> 10/3).
VALIDATORS, (A, B, C, D) = validator_set([4, 3, 2, 1])


def _keeper() -> VoteKeeper:
    return VoteKeeper(1, VALIDATORS)


def test_thresholds_are_more_than_two_thirds_and_one_third() -> None:
    # n = 3f + 1 = 4 equal powers: 2f+1 = 3 votes, f+1 = 2 votes.
    assert [has_quorum(p, 4) for p in range(5)] == [False, False, False, True, True]
    assert [is_above_one_third(p, 4) for p in range(5)] == [False, False, True, True, True]
    assert not has_quorum(20, 30) and has_quorum(21, 30)
    assert not is_above_one_third(10, 30) and is_above_one_third(11, 30)


def test_polka_value_by_power_not_by_count() -> None:
    keeper = _keeper()
    assert keeper.add(prevote(C, 1, 0, V), 0).thresholds == ()  # 2
    assert keeper.add(prevote(D, 1, 0, V), 0).thresholds == ()  # 3
    assert keeper.add(prevote(B, 1, 0, V), 0).thresholds == ()  # 6 of 10: three of four, no polka
    result = keeper.add(prevote(A, 1, 0, V), 0)  # 10
    assert result.status is VoteStatus.ADDED
    assert result.thresholds == (PolkaValue(0, V.id), PolkaAny(0))
    assert keeper.has_polka_value(0, V.id) and keeper.has_polka_any(0)
    assert not keeper.has_polka_value(0, W.id) and not keeper.has_polka_nil(0)


def test_polka_any_without_a_value_then_each_threshold_once() -> None:
    keeper = _keeper()
    assert keeper.add(prevote(A, 1, 0, V), 0).thresholds == ()
    assert keeper.add(prevote(C, 1, 0, None), 0).thresholds == ()  # 6
    assert keeper.add(prevote(D, 1, 0, W), 0).thresholds == (PolkaAny(0),)  # 7, split
    assert keeper.add(prevote(B, 1, 0, V), 0).thresholds == (PolkaValue(0, V.id),)  # V: 7
    assert not keeper.has_polka_nil(0)


def test_polka_nil() -> None:
    keeper = _keeper()
    keeper.add(prevote(A, 1, 0, None), 0)
    result = keeper.add(prevote(B, 1, 0, None), 0)
    assert result.thresholds == (PolkaNil(0), PolkaAny(0))
    assert keeper.has_polka_nil(0)


def test_precommit_value_and_any() -> None:
    keeper = _keeper()
    keeper.add(precommit(A, 1, 2, V), 2)
    result = keeper.add(precommit(B, 1, 2, V), 2)
    assert result.thresholds == (PrecommitValue(2, V.id), PrecommitAny(2))
    assert keeper.has_precommit_value(2, V.id) and keeper.has_precommit_any(2)
    assert keeper.precommit_values() == [PrecommitValue(2, V.id)]
    assert [vote.validator for vote in keeper.votes_for(VoteType.PRECOMMIT, 2, V.id)] == [
        A.public_key,
        B.public_key,
    ]


def test_precommits_for_nil_reach_only_precommit_any() -> None:
    keeper = _keeper()
    keeper.add(precommit(A, 1, 0, None), 0)
    assert keeper.add(precommit(B, 1, 0, None), 0).thresholds == (PrecommitAny(0),)
    assert keeper.precommit_values() == []


def test_duplicates_count_once() -> None:
    keeper = _keeper()
    vote = prevote(A, 1, 0, V)
    assert keeper.add(vote, 0).status is VoteStatus.ADDED
    again = keeper.add(vote, 0)
    assert again.status is VoteStatus.DUPLICATE
    assert again.thresholds == () and again.evidence is None
    assert keeper.add(prevote(C, 1, 0, V), 0).thresholds == ()  # 6: A counted once
    assert keeper.add(prevote(D, 1, 0, V), 0).thresholds == (PolkaValue(0, V.id), PolkaAny(0))


def test_equivocation_is_evidence_and_counts_once_for_its_own_value() -> None:
    keeper = _keeper()
    keeper.add(prevote(A, 1, 0, V), 0)
    result = keeper.add(prevote(A, 1, 0, W), 0)
    assert result.status is VoteStatus.EQUIVOCATION
    assert result.evidence is not None and result.thresholds == ()
    assert {result.evidence.first.value_id, result.evidence.second.value_id} == {V.id, W.id}
    assert verify_vote_equivocation(CHAIN, result.evidence)
    assert keeper.evidence == [result.evidence]
    # A third different vote is refused, without new evidence; the second again is a duplicate.
    third = keeper.add(prevote(A, 1, 0, None), 0)
    assert third.status is VoteStatus.EQUIVOCATION and third.evidence is None
    assert keeper.add(prevote(A, 1, 0, W), 0).status is VoteStatus.DUPLICATE
    assert not keeper.has_polka_nil(0) and not keeper.has_polka_value(0, W.id)
    # A's second vote counts for W (4 + 3 = 7 of 10: a polka for W) but not again for "any":
    # B alone brings "any" from 4 to 7.
    assert keeper.add(prevote(B, 1, 0, W), 0).thresholds == (PolkaValue(0, W.id), PolkaAny(0))
    assert keeper.add(prevote(D, 1, 0, V), 0).thresholds == ()  # V: 4 + 1
    signers = [vote.validator for vote in keeper.votes_for(VoteType.PREVOTE, 0, W.id)]
    assert signers == sorted([A.public_key, B.public_key])


def test_regression_an_equivocator_cannot_hide_a_polka_from_correct_processes() -> None:
    # Found by the simulator (bakong sim, seed 10 before the fix): a Byzantine validator sent
    # its prevote for V to one correct process and its prevote for nil to the others. The
    # first locked on V with that vote; the others counted the nil vote first and, when the
    # V vote reached them too, did not count it, so they never saw the polka that L28 needs
    # to accept V re-proposed with vr = 0: no round could ever decide. Equal powers, n = 4.
    validators, (p, q, r, byzantine) = validator_set([1, 1, 1, 1])
    locked, other = VoteKeeper(1, validators), VoteKeeper(1, validators)
    for keeper, first in ((locked, V), (other, None)):
        keeper.add(prevote(p, 1, 0, V), 0)
        keeper.add(prevote(q, 1, 0, V), 0)
        keeper.add(prevote(r, 1, 0, None), 0)
        keeper.add(prevote(byzantine, 1, 0, first), 0)
    assert locked.has_polka_value(0, V.id)
    assert not other.has_polka_value(0, V.id)
    relayed = other.add(prevote(byzantine, 1, 0, V), 1)  # gossip delivers the other vote
    assert relayed.status is VoteStatus.EQUIVOCATION and relayed.evidence is not None
    assert relayed.thresholds == (PolkaValue(0, V.id),)
    assert other.has_polka_value(0, V.id)
    assert len(other.votes_for(VoteType.PREVOTE, 0, V.id)) == 3


def test_two_values_reach_a_quorum_in_one_round_only_with_more_than_f_equivocators() -> None:
    validators, (p, q, r, s) = validator_set([1, 1, 1, 1])
    keeper = VoteKeeper(1, validators)
    for signer in (p, q):  # two of four equivocate: more than f = 1
        keeper.add(precommit(signer, 1, 0, V), 0)
        keeper.add(precommit(signer, 1, 0, W), 0)
    keeper.add(precommit(r, 1, 0, V), 0)
    keeper.add(precommit(s, 1, 0, W), 0)
    assert len(keeper.precommit_values()) == 2  # the bound the keeper asserts


def test_evidence_is_the_same_whichever_vote_came_first() -> None:
    one, two = _keeper(), _keeper()
    one.add(prevote(A, 1, 0, V), 0)
    first = one.add(prevote(A, 1, 0, W), 0).evidence
    two.add(prevote(A, 1, 0, W), 0)
    second = two.add(prevote(A, 1, 0, V), 0).evidence
    assert first is not None and first == second


def test_a_prevote_and_a_precommit_are_not_equivocation() -> None:
    keeper = _keeper()
    keeper.add(prevote(A, 1, 0, V), 0)
    assert keeper.add(precommit(A, 1, 0, None), 0).status is VoteStatus.ADDED
    assert keeper.add(prevote(A, 1, 1, W), 0).status is VoteStatus.ADDED


def test_skip_round_on_f_plus_one_power_from_a_higher_round() -> None:
    keeper = _keeper()
    assert keeper.add(prevote(B, 1, 3, V), 0).thresholds == ()  # 3 of 10
    assert keeper.add(precommit(B, 1, 3, V), 0).thresholds == ()  # the same sender again
    assert keeper.add(precommit(D, 1, 3, None), 0).thresholds == (SkipRound(3),)  # 4 > 10/3
    assert keeper.skip_round(0) == 3
    assert keeper.skip_round(3) is None
    assert keeper.add(prevote(C, 1, 3, V), 0).thresholds == ()  # once


def test_skip_round_is_not_emitted_for_the_current_or_a_past_round() -> None:
    keeper = _keeper()
    keeper.add(prevote(A, 1, 2, V), 2)
    keeper.add(prevote(A, 1, 1, V), 2)
    assert keeper.skip_round(0) is None
    # The highest round with f+1 wins.
    keeper.add(prevote(A, 1, 5, V), 2)
    keeper.add(prevote(A, 1, 4, V), 2)
    assert keeper.skip_round(2) == 5


def test_bounds_unknown_validator_other_height_too_far_ahead() -> None:
    keeper = _keeper()
    stranger = SigningKey(b"\x09" * 32)
    assert VALIDATORS.power_of(stranger.public_key) == 0
    assert keeper.add(prevote(stranger, 1, 0, V), 0).status is VoteStatus.UNKNOWN_VALIDATOR
    assert keeper.add(prevote(A, 2, 0, V), 0).status is VoteStatus.WRONG_HEIGHT
    far = limits.rounds_ahead_max
    assert keeper.add(prevote(A, 1, far + 3, V), 3).status is VoteStatus.ADDED
    assert keeper.add(prevote(A, 1, far + 4, V), 3).status is VoteStatus.ROUND_TOO_FAR
    assert not keeper.has_polka_any(far + 4)


def test_a_round_holds_at_most_votes_per_round_max() -> None:
    validators, signers = validator_set([1] * 10)
    keeper = VoteKeeper(1, validators)
    for key in signers:
        for vote_type in (VoteType.PREVOTE, VoteType.PRECOMMIT):
            for v in (V, W, None):
                key_vote = prevote if vote_type is VoteType.PREVOTE else precommit
                keeper.add(key_vote(key, 1, 0, v), 0)
    assert len(keeper.evidence) == 2 * len(signers)  # one per validator and type
    assert 4 * len(signers) <= limits.votes_per_round_max
