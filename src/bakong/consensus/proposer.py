"""proposer(h, r) (Algorithm 1, L14, L22, L28, L36, L49): weighted round robin by voting power.

Rules:
1. The proposer depends only on the validator set, the height and the round: every node
   computes the same key with integer arithmetic, and nothing is carried between heights.
2. Slots are numbered `s = height + round`. Within every `P = total power` consecutive slots
   starting at a multiple of P, a validator of power `p` proposes exactly `p` times, and its
   turns are spread evenly: its k-th turn (k from 0) falls at the ideal time `(2k + 1) / 2p` of
   the period. Slot `s mod P` goes to the owner of the s-th smallest ideal time, ties broken by
   the smaller public key. This is the sequence of the Sainte-Laguë (Webster) divisor method,
   the same smooth weighted round robin that Tendermint's proposer priorities produce in
   spirit: no validator ever runs more than one turn ahead of or behind its share.
3. Tendermint's priority algorithm is stateful (priorities are carried from height to height)
   and computing its slot s from scratch costs O(s * n). Here the slot is found directly in
   O(n^2) steps (n validators): start at the ideal time of slot s, count the turns before it,
   then walk at most n/2 + 1 turns forward or back.
"""

from __future__ import annotations

from bakong.ledger.validators import ValidatorSet

__all__ = ["proposer"]

# A turn is (numerator, denominator, validator index): the ideal time num/den of the period.
_Turn = tuple[int, int, int]


def proposer(validator_set: ValidatorSet, height: int, round: int) -> bytes:
    """The public key of proposer(height, round)."""
    assert height >= 0
    assert round >= 0
    powers = [validator.power for validator in validator_set.validators]
    period = sum(powers)
    slot = (height + round) % period
    # Turns strictly before the ideal time (2 slot + 1) / (2 period), per validator.
    before = [_turns_before(2 * slot + 1, 2 * period, power) for power in powers]
    counted = sum(before)
    assert abs(counted - slot) <= len(powers) // 2 + 1, (counted, slot)
    if counted <= slot:
        index = _walk_forward(powers, before, slot - counted)
    else:
        index = _walk_back(powers, before, counted - 1 - slot)
    return validator_set.validators[index].public_key


def _turns_before(numerator: int, denominator: int, power: int) -> int:
    """How many k in [0, power) have (2k + 1) / (2 power) < numerator / denominator."""
    # (2k + 1) * denominator < numerator * 2 power  <=>  2k + 1 <= m
    m = (numerator * 2 * power - 1) // denominator
    count = min(power, max(0, (m + 1) // 2))
    assert 0 <= count <= power
    return count


def _earlier(a: _Turn, b: _Turn) -> bool:
    """Turn a comes before turn b: a smaller ideal time, or the same and a smaller key."""
    left, right = a[0] * b[1], b[0] * a[1]
    return left < right or (left == right and a[2] < b[2])


def _walk_forward(powers: list[int], before: list[int], steps: int) -> int:
    """Validator index of the turn `steps` places after the first turn not yet counted."""
    taken = list(before)
    chosen = -1
    for _ in range(steps + 1):
        best: _Turn | None = None
        for index, power in enumerate(powers):
            if taken[index] < power:
                turn = (2 * taken[index] + 1, 2 * power, index)
                if best is None or _earlier(turn, best):
                    best = turn
        assert best is not None, "a period has as many turns as slots"
        chosen = best[2]
        taken[chosen] += 1
    assert chosen >= 0
    return chosen


def _walk_back(powers: list[int], before: list[int], steps: int) -> int:
    """Validator index of the turn `steps` places before the last turn counted."""
    kept = list(before)
    chosen = -1
    for _ in range(steps + 1):
        best: _Turn | None = None
        for index, power in enumerate(powers):
            if kept[index] > 0:
                turn = (2 * kept[index] - 1, 2 * power, index)
                if best is None or _earlier(best, turn):
                    best = turn
        assert best is not None, "the counted turns are never exhausted"
        chosen = best[2]
        kept[chosen] -= 1
    assert chosen >= 0
    return chosen
