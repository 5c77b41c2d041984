"""The validator set as the ledger records it: names, Ed25519 keys and voting power.

Changes made by `add_validator` / `remove_validator` in block h take effect at height h + 2
(design section 4), so consensus for a height always knows its set before that height starts.
The set is kept sorted by public key; its hash goes into every block header.
"""

from __future__ import annotations

from collections.abc import Sequence

from bakong import limits
from bakong.types import Hash
from bakong.wire.codec import Record, encode
from bakong.wire.hashing import Domain, digest

__all__ = ["Validator", "ValidatorSet", "validator_set_hash"]


class Validator(Record, frozen=True):
    name: str
    public_key: bytes
    power: int


class ValidatorSet(Record, frozen=True):
    """Validators sorted by public key, each key once, every power positive."""

    validators: tuple[Validator, ...]

    def __post_init__(self) -> None:
        keys = [validator.public_key for validator in self.validators]
        assert keys == sorted(keys), "validators are sorted by public key"
        assert len(set(keys)) == len(keys), "a validator appears once"
        assert 0 < len(keys) <= limits.validators_max
        assert all(0 < v.power <= limits.validator_power_max for v in self.validators)

    @property
    def total_power(self) -> int:
        return sum(validator.power for validator in self.validators)

    def power_of(self, public_key: bytes) -> int:
        for validator in self.validators:
            if validator.public_key == public_key:
                return validator.power
        return 0


def validator_set_hash(chain_id: str, validators: Sequence[Validator]) -> Hash:
    return digest(Domain.VALIDATOR_SET, chain_id, encode(tuple(validators)))
