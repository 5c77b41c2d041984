"""Signed transactions: payload, hash, signatures, canonical decoding (design sections 2, 8).

- The payload is: chain id, creator, `created_ms`, a nonce, and one or more commands.
- The creator is either an account ID (the account's signatories sign) or a participant code
  (the participant's admin keys sign; the central bank is the participant `central_bank`).
- The transaction hash is SHA-256 under the `tx` domain of the canonical payload. Signatures are
  not part of it, so the same payload signed by a different subset of keys is the same
  transaction and can never apply twice.
- Each signature is Ed25519 over `prefix(tx-sig, chain_id) || tx_hash`.
- Decoding checks size, then canonical form, before anything looks at a signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from msgspec import Meta

from bakong import limits
from bakong.ledger.commands import Command
from bakong.ledger.fields import (
    AccountIdText,
    ChainIdText,
    PublicKeyBytes,
    SignatureBytes,
    TimeMsInt,
)
from bakong.types import Hash
from bakong.wire.codec import Record, decode_canonical, encode
from bakong.wire.hashing import Domain, digest, prefix
from bakong.wire.keys import SigningKey

__all__ = [
    "SignatureEntry",
    "Transaction",
    "TransactionPayload",
    "decode_transaction",
    "sign_transaction",
    "signing_message",
    "transaction_hash",
]


class TransactionPayload(Record, frozen=True):
    chain_id: ChainIdText
    creator: AccountIdText
    created_ms: TimeMsInt
    nonce: Annotated[int, Meta(ge=0, le=2**63 - 1)]  # int64: every SDK holds it natively
    commands: Annotated[
        tuple[Command, ...], Meta(min_length=1, max_length=limits.commands_per_tx_max)
    ]


class SignatureEntry(Record, frozen=True):
    public_key: PublicKeyBytes
    signature: SignatureBytes


class Transaction(Record, frozen=True):
    payload: TransactionPayload
    signatures: Annotated[tuple[SignatureEntry, ...], Meta(max_length=limits.signatures_per_tx_max)]


def transaction_hash(payload: TransactionPayload) -> Hash:
    return digest(Domain.TRANSACTION, payload.chain_id, encode(payload))


def signing_message(chain_id: str, tx_hash: bytes) -> bytes:
    """The exact bytes each signature of a transaction covers."""
    assert len(tx_hash) == 32
    return prefix(Domain.TRANSACTION_SIGNATURE, chain_id) + tx_hash


def sign_transaction(payload: TransactionPayload, keys: Sequence[SigningKey]) -> Transaction:
    """Sign `payload` with each key; signatures are sorted by public key."""
    assert keys, "at least one key signs"
    message = signing_message(payload.chain_id, transaction_hash(payload))
    entries = sorted(
        (SignatureEntry(public_key=key.public_key, signature=key.sign(message)) for key in keys),
        key=lambda entry: entry.public_key,
    )
    return Transaction(payload=payload, signatures=tuple(entries))


def decode_transaction(data: bytes) -> Transaction:
    """Decode a transaction from outside. Raises `DecodeError` (oversized, malformed,
    non_canonical); never checks signatures, which is the ladder's job."""
    return decode_canonical(data, Transaction, bytes_max=limits.tx_bytes_max)
