"""Wallet keys: custodial seeds sealed under the key-encryption key, and self-custody relays.

Rules:
- Custodial (the default): each wallet's Ed25519 seed is sealed with XSalsa20-Poly1305
  (libsodium's SecretBox) under a key derived from the KEK *and the account ID*, so a sealed
  seed copied onto another customer's row does not open. The seed is opened only to sign a
  payment after the customer has authenticated, and never leaves the process.
- Keys for other uses (the one-time code pepper) are derived from the KEK with a distinct
  label each (BLAKE2b keyed hashing), so one secret on disk serves them all independently.
- A seed that does not open under the configured KEK is an operator's mistake (wrong KEK, or
  a tampered database), raised as `ConfigError`; it is never guessed around.
- Self-custody: the customer's own public key is the wallet's signatory; the gateway relays
  only transactions created by that customer's own account, whose signature by that key
  verifies, and never holds the seed.
"""

from __future__ import annotations

import nacl.exceptions
import nacl.hash
import nacl.secret
from nacl.encoding import RawEncoder

from bakong.errors import ConfigError
from bakong.ledger.transaction import Transaction, signing_message, transaction_hash
from bakong.wire.keys import SigningKey, verify

__all__ = ["derive_key", "open_seed", "relay_problem", "seal_seed", "seal_nonce_size"]

seal_nonce_size = nacl.secret.SecretBox.NONCE_SIZE
_KEY_SIZE = nacl.secret.SecretBox.KEY_SIZE


def derive_key(kek: bytes, label: str) -> bytes:
    """A 32-byte key for one use, derived from the key-encryption key."""
    if len(kek) != _KEY_SIZE:
        raise ConfigError(f"the key-encryption key is {_KEY_SIZE} bytes, got {len(kek)}")
    message = b"bakong/gateway-key\x00" + label.encode()
    return nacl.hash.blake2b(message, digest_size=_KEY_SIZE, key=kek, encoder=RawEncoder)


def _account_box(kek: bytes, account_id: str) -> nacl.secret.SecretBox:
    return nacl.secret.SecretBox(derive_key(kek, "seed/" + account_id))


def seal_seed(kek: bytes, account_id: str, seed: bytes, nonce: bytes) -> bytes:
    """The seed sealed for storage (nonce, ciphertext and tag); `nonce` must be fresh random
    bytes of `seal_nonce_size`."""
    return bytes(_account_box(kek, account_id).encrypt(seed, nonce))


def open_seed(kek: bytes, account_id: str, sealed: bytes) -> SigningKey:
    """The wallet's signing key from its sealed seed."""
    try:
        seed = _account_box(kek, account_id).decrypt(sealed)
    except nacl.exceptions.CryptoError:
        raise ConfigError(
            "a sealed wallet key does not open under this gateway's key-encryption key"
        ) from None
    return SigningKey(seed)


def relay_problem(transaction: Transaction, account_id: str, public_key: bytes) -> str | None:
    """Why a self-custody customer's transaction may not be relayed, or None when it may: it
    must be created by the customer's own account and signed by the customer's key."""
    payload = transaction.payload
    if payload.creator != account_id:
        return "the transaction is not created by your account"
    message = signing_message(payload.chain_id, transaction_hash(payload))
    signed = any(
        entry.public_key == public_key and verify(public_key, message, entry.signature)
        for entry in transaction.signatures
    )
    if not signed:
        return "the transaction is not signed by your key"
    return None
