"""The vote keeper: weighted tallies of one height's votes, per round and vote type.

It evaluates the vote-counting half of Algorithm 1's upon-conditions and emits each threshold
ONCE per round, the moment it is first reached (this is how "for the first time" starts):

| threshold          | condition (power of distinct validators, total power T)        | lines    |
|--------------------|-----------------------------------------------------------------|----------|
| PolkaValue(r, v)   | prevotes for id(v) in round r: power > 2T/3                     | L28, L36 |
| PolkaNil(r)        | prevotes for nil in round r: power > 2T/3                       | L44      |
| PolkaAny(r)        | prevotes for anything in round r: power > 2T/3                  | L34      |
| PrecommitValue(r,v)| precommits for id(v) in round r: power > 2T/3                   | L49      |
| PrecommitAny(r)    | precommits for anything in round r: power > 2T/3                | L47      |
| SkipRound(r)       | any vote in round r > the current round: power > T/3            | L55      |

Rules:
1. "2f+1" is more than two thirds of the total power and "f+1" more than one third, compared
   in integers (`3 * power > 2 * total`); with n = 3f + 1 equal powers these are the paper's
   counts.
2. A validator counts once per (round, type) towards "any" and towards round skips: its
   first vote. A second identical vote is a duplicate. A second different one is
   equivocation, kept as evidence (once per round, type and validator), and it also counts,
   once, towards the tally of the value it names: Algorithm 1 counts the messages a process
   has received, so a correct process that holds a Byzantine validator's prevote for v must
   count it for v. Counting only the first vote would let an equivocator split the correct
   processes for good: some lock on v with its vote, the others never see that polka, and
   L28 can then never unlock them (a liveness bug the simulator found). Safety is intact:
   two values reaching 2f+1 in one round still need f+1 validators voting for both. A third
   different vote is refused (memory stays bounded: one conflicting vote per validator).
3. Memory is bounded: votes from unknown validators, other heights, or rounds more than
   `limits.rounds_ahead_max` ahead of the current round are refused, so a round holds at most
   `limits.votes_per_round_max` votes. Past rounds are kept: L28 needs a polka from an earlier
   round and L49 decides on a commit from any round.
4. One vote can reach several thresholds; they are emitted in a fixed order: the value
   threshold, then the "any" threshold, then the round skip. SkipRound(r) is emitted only if r
   is above the current round when its threshold is reached.
5. Nothing iterates a set or an unsorted dict: the commit's precommits are sorted by key.
"""

from __future__ import annotations

import enum

import msgspec

from bakong import limits
from bakong.consensus.evidence import VoteEquivocation, vote_equivocation
from bakong.consensus.messages import Vote, VoteType
from bakong.consensus.round import PolkaAny, PolkaNil, PrecommitAny, SkipRound
from bakong.ledger.validators import ValidatorSet

__all__ = [
    "PolkaValue",
    "PrecommitValue",
    "Threshold",
    "VoteKeeper",
    "VoteResult",
    "VoteStatus",
    "has_quorum",
    "is_above_one_third",
]


class PolkaValue(msgspec.Struct, frozen=True):
    round: int
    value_id: bytes


class PrecommitValue(msgspec.Struct, frozen=True):
    round: int
    value_id: bytes


Threshold = PolkaValue | PolkaNil | PolkaAny | PrecommitValue | PrecommitAny | SkipRound


class VoteStatus(enum.Enum):
    ADDED = "added"
    DUPLICATE = "duplicate"
    EQUIVOCATION = "equivocation"
    UNKNOWN_VALIDATOR = "unknown_validator"
    WRONG_HEIGHT = "wrong_height"
    ROUND_TOO_FAR = "round_too_far"


class VoteResult(msgspec.Struct, frozen=True):
    status: VoteStatus
    thresholds: tuple[Threshold, ...] = ()
    evidence: VoteEquivocation | None = None  # only the first time it is found


def has_quorum(power: int, total: int) -> bool:
    """2f+1: more than two thirds of the total power (rule 1)."""
    assert 0 <= power <= total
    return 3 * power > 2 * total


def is_above_one_third(power: int, total: int) -> bool:
    """f+1: more than one third of the total power (rule 1)."""
    assert 0 <= power <= total
    return 3 * power > total


class _RoundVotes:
    """One round's votes: the first vote per (type, validator) and the power behind each value."""

    __slots__ = (
        "conflicting",
        "emitted",
        "first",
        "power_any",
        "power_for",
        "sender_power",
        "senders",
    )

    def __init__(self) -> None:
        self.first: dict[tuple[VoteType, bytes], Vote] = {}
        self.power_for: dict[tuple[VoteType, bytes | None], int] = {}
        self.power_any: dict[VoteType, int] = {VoteType.PREVOTE: 0, VoteType.PRECOMMIT: 0}
        self.senders: set[bytes] = set()  # validators with any vote in this round, for L55
        self.sender_power = 0
        self.conflicting: dict[tuple[VoteType, bytes], Vote] = {}  # the second vote (rule 2)
        self.emitted: set[Threshold] = set()

    def stored(self) -> int:
        return len(self.first) + len(self.conflicting)


class VoteKeeper:
    """All votes of one height, tallied by round (module rules)."""

    __slots__ = (
        "_powers",
        "_precommit_values",
        "_rounds",
        "_total",
        "evidence",
        "height",
        "validator_set",
    )

    def __init__(self, height: int, validator_set: ValidatorSet) -> None:
        assert height >= 0
        self.height = height
        self.validator_set = validator_set
        self._powers = {v.public_key: v.power for v in validator_set.validators}
        self._total = validator_set.total_power
        self._rounds: dict[int, _RoundVotes] = {}
        self._precommit_values: list[PrecommitValue] = []
        self.evidence: list[VoteEquivocation] = []
        assert self._total > 0

    def add(self, vote: Vote, current_round: int) -> VoteResult:
        """Count `vote` (already authenticated) and return the thresholds it newly reaches."""
        assert current_round >= 0
        power = self._powers.get(vote.validator, 0)
        if power == 0:
            return VoteResult(VoteStatus.UNKNOWN_VALIDATOR)
        if vote.height != self.height:
            return VoteResult(VoteStatus.WRONG_HEIGHT)
        if vote.round > current_round + limits.rounds_ahead_max:
            return VoteResult(VoteStatus.ROUND_TOO_FAR)
        votes = self._rounds.setdefault(vote.round, _RoundVotes())
        earlier = votes.first.get((vote.type, vote.validator))
        if earlier is not None:
            return self._add_again(votes, earlier, vote, current_round)
        votes.first[(vote.type, vote.validator)] = vote
        key = (vote.type, vote.value_id)
        votes.power_for[key] = votes.power_for.get(key, 0) + power
        votes.power_any[vote.type] += power
        if vote.validator not in votes.senders:
            votes.senders.add(vote.validator)
            votes.sender_power += power
        assert votes.power_any[vote.type] <= self._total
        assert votes.stored() <= limits.votes_per_round_max
        return VoteResult(VoteStatus.ADDED, self._emit(votes, vote, current_round))

    def _add_again(
        self, votes: _RoundVotes, earlier: Vote, vote: Vote, current_round: int
    ) -> VoteResult:
        """A second vote from one validator for one round and type: rule 2."""
        assert earlier.validator == vote.validator
        if earlier.value_id == vote.value_id:
            return VoteResult(VoteStatus.DUPLICATE)
        other = votes.conflicting.get((vote.type, vote.validator))
        if other is not None:
            same = other.value_id == vote.value_id
            return VoteResult(VoteStatus.DUPLICATE if same else VoteStatus.EQUIVOCATION)
        votes.conflicting[(vote.type, vote.validator)] = vote
        key = (vote.type, vote.value_id)
        votes.power_for[key] = votes.power_for.get(key, 0) + self._powers[vote.validator]
        assert votes.power_for[key] <= self._total
        assert votes.stored() <= limits.votes_per_round_max
        evidence = vote_equivocation(earlier, vote)
        self.evidence.append(evidence)
        thresholds = self._emit(votes, vote, current_round)
        return VoteResult(VoteStatus.EQUIVOCATION, thresholds, evidence)

    def _emit(self, votes: _RoundVotes, vote: Vote, current_round: int) -> tuple[Threshold, ...]:
        """The thresholds `vote` made true for the first time, in rule 4's order."""
        total, r = self._total, vote.round
        reached: list[Threshold] = []
        if has_quorum(votes.power_for[(vote.type, vote.value_id)], total):
            if vote.type is VoteType.PREVOTE:
                value_id = vote.value_id
                reached.append(PolkaNil(r) if value_id is None else PolkaValue(r, value_id))
            elif vote.value_id is not None:
                reached.append(PrecommitValue(r, vote.value_id))
        if has_quorum(votes.power_any[vote.type], total):
            reached.append(PolkaAny(r) if vote.type is VoteType.PREVOTE else PrecommitAny(r))
        if r > current_round and is_above_one_third(votes.sender_power, total):
            reached.append(SkipRound(r))
        fresh = tuple(threshold for threshold in reached if threshold not in votes.emitted)
        votes.emitted.update(fresh)
        self._precommit_values.extend(t for t in fresh if isinstance(t, PrecommitValue))
        assert len(fresh) <= 3
        return fresh

    # Queries, for the driver's mux: has this threshold been reached (whether or not emitted)?

    def has_polka_value(self, round: int, value_id: bytes) -> bool:
        return PolkaValue(round, value_id) in self._emitted(round)

    def has_polka_nil(self, round: int) -> bool:
        return PolkaNil(round) in self._emitted(round)

    def has_polka_any(self, round: int) -> bool:
        return PolkaAny(round) in self._emitted(round)

    def has_precommit_any(self, round: int) -> bool:
        return PrecommitAny(round) in self._emitted(round)

    def has_precommit_value(self, round: int, value_id: bytes) -> bool:
        return PrecommitValue(round, value_id) in self._emitted(round)

    def skip_round(self, current_round: int) -> int | None:
        """The highest round above `current_round` with f+1 power of senders (L55), if any."""
        best = None
        for round in sorted(self._rounds):
            if round > current_round and SkipRound(round) in self._rounds[round].emitted:
                best = round
        assert best is None or best > current_round
        return best

    def precommit_values(self) -> list[PrecommitValue]:
        """Every PrecommitValue reached at this height, by round (candidates for L49)."""
        found = sorted(self._precommit_values, key=lambda t: (t.round, t.value_id))
        # Each validator counts for at most two values in a round (rule 2), so at most two
        # values pass 2/3 of the power there (with f or fewer faulty validators, at most one).
        assert len(found) <= 2 * len(self._rounds)
        return found

    def votes_for(self, vote_type: VoteType, round: int, value_id: bytes | None) -> list[Vote]:
        """The counted votes of one kind for one value, sorted by validator key."""
        votes = self._rounds.get(round)
        if votes is None:
            return []
        counted = [*votes.first.values(), *votes.conflicting.values()]
        matching = sorted(
            (v for v in counted if v.type is vote_type and v.value_id == value_id),
            key=lambda vote: vote.validator,
        )
        # A validator's first and conflicting votes name different values: one each here.
        assert len({vote.validator for vote in matching}) == len(matching)
        assert all(vote.round == round for vote in matching)
        return matching

    def _emitted(self, round: int) -> set[Threshold]:
        votes = self._rounds.get(round)
        return set() if votes is None else votes.emitted
