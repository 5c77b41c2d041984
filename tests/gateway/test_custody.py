"""Wallet keys sealed under the KEK, bound to their account; self-custody relay checks."""

from __future__ import annotations

import pytest

from bakong.client import TransactionBuilder, transfer
from bakong.errors import ConfigError
from bakong.gateway import custody
from bakong.ledger.transaction import Transaction
from bakong.wire.keys import SigningKey

KEK = bytes(range(32))
NONCE = b"n" * custody.seal_nonce_size
SEED = b"s" * 32


def test_a_sealed_seed_opens_to_the_same_key() -> None:
    sealed = custody.seal_seed(KEK, "sokha@aclb", SEED, NONCE)
    assert SEED not in sealed
    key = custody.open_seed(KEK, "sokha@aclb", sealed)
    assert key.public_key == SigningKey(SEED).public_key


def test_a_sealed_seed_does_not_open_for_another_account_or_kek() -> None:
    sealed = custody.seal_seed(KEK, "sokha@aclb", SEED, NONCE)
    with pytest.raises(ConfigError):
        custody.open_seed(KEK, "dara@aclb", sealed)
    with pytest.raises(ConfigError):
        custody.open_seed(bytes(32), "sokha@aclb", sealed)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(ConfigError):
        custody.open_seed(KEK, "sokha@aclb", tampered)


def test_derived_keys_differ_by_label_and_need_a_full_kek() -> None:
    assert custody.derive_key(KEK, "otp") != custody.derive_key(KEK, "seed/sokha@aclb")
    assert len(custody.derive_key(KEK, "otp")) == 32
    with pytest.raises(ConfigError):
        custody.derive_key(KEK[:16], "otp")


def _payment(creator: str, key: SigningKey) -> Transaction:
    builder = TransactionBuilder(
        chain_id="bakong-test", creator=creator, created_ms=1_767_225_600_000, nonce=7
    ).add(transfer(creator, "dara@wing", "KHR", 5_000))
    return builder.sign(key)


def test_relay_only_the_customers_own_signed_transactions() -> None:
    own, other = SigningKey(b"a" * 32), SigningKey(b"b" * 32)
    tx = _payment("sokha@aclb", own)
    assert custody.relay_problem(tx, "sokha@aclb", bytes(own.public_key)) is None
    assert custody.relay_problem(tx, "dara@aclb", bytes(own.public_key)) is not None
    assert custody.relay_problem(tx, "sokha@aclb", bytes(other.public_key)) is not None
    forged = _payment("sokha@aclb", other)
    assert custody.relay_problem(forged, "sokha@aclb", bytes(own.public_key)) is not None
