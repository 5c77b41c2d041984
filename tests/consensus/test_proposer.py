"""proposer(h, r): weighted round robin, checked against a brute-force definition."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from bakong.consensus.proposer import proposer
from bakong.ledger.validators import Validator, ValidatorSet

from .helpers import validator_set


def _brute_force(validators: ValidatorSet, height: int, round: int) -> bytes:
    """The module's definition, literally: sort every turn's ideal time, ties by key."""
    turns = sorted(
        (Fraction(2 * k + 1, 2 * v.power), v.public_key)
        for v in validators.validators
        for k in range(v.power)
    )
    return turns[(height + round) % len(turns)][1]


def test_equal_powers_rotate_in_key_order() -> None:
    validators, signers = validator_set([1, 1, 1, 1])
    order = [proposer(validators, height, 0) for height in range(8)]
    keys = [key.public_key for key in signers]
    assert order == keys + keys


def test_the_round_advances_the_rotation_like_the_height() -> None:
    validators, _ = validator_set([3, 1, 2, 5])
    for height in range(40):
        for round in range(5):
            assert proposer(validators, height, round) == proposer(validators, height + round, 0)


def test_matches_the_brute_force_definition() -> None:
    rng = random.Random(7)  # test-only randomness, seeded
    for _ in range(150):
        powers = [rng.choice([1, 2, 3, 5, rng.randint(1, 40)]) for _ in range(rng.randint(1, 7))]
        validators, _ = validator_set(powers)
        for slot in range(2 * validators.total_power):
            assert proposer(validators, slot, 0) == _brute_force(validators, slot, 0)


@pytest.mark.parametrize("powers", [[1, 2, 3, 4], [10, 10, 10, 1], [100, 1, 1, 1], [7, 13, 29]])
def test_fair_over_many_heights(powers: list[int]) -> None:
    validators, signers = validator_set(powers)
    total = validators.total_power
    periods = 5
    counts: dict[bytes, int] = {key.public_key: 0 for key in signers}
    for height in range(periods * total):
        counts[proposer(validators, height, 0)] += 1
    for key, power in zip(signers, powers, strict=True):
        assert counts[key.public_key] == periods * power


def test_turns_are_spread_evenly() -> None:
    """In every prefix of a period, each validator is within two turns of its share."""
    validators, signers = validator_set([1, 2, 3, 5, 8, 13])
    total = validators.total_power
    seen: dict[bytes, int] = {key.public_key: 0 for key in signers}
    for slot in range(total):
        seen[proposer(validators, slot, 0)] += 1
        for key, v in zip(signers, validators.validators, strict=True):
            share = Fraction((slot + 1) * v.power, total)
            assert abs(seen[key.public_key] - share) < 2


def test_deterministic_and_cheap_for_large_powers_and_heights() -> None:
    validators, _ = validator_set([999_983, 1, 500_000, 123_457] + [77] * 20)
    first = [proposer(validators, height, 1) for height in range(10**12, 10**12 + 200)]
    again = [proposer(validators, height, 1) for height in range(10**12, 10**12 + 200)]
    assert first == again
    assert len(set(first)) > 1


def test_a_single_validator_always_proposes() -> None:
    validators = ValidatorSet((Validator("solo", b"\x07" * 32, 5),))
    assert {proposer(validators, h, r) for h in range(10) for r in range(3)} == {b"\x07" * 32}
