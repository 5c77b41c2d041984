"""Names for the scalar values that flow everywhere, so signatures say what they carry.

These are `NewType`s: free at run time, checked by mypy. A name is kept here only while some
signature uses it; heights, rounds, times and amounts stay plain `int`s named by their
parameters (`height`, `time_ms`, `amount`), which is how the rest of the code says what they are.
"""

from __future__ import annotations

from typing import NewType

__all__ = [
    "AccountId",
    "Hash",
    "ParticipantCode",
    "PublicKey",
    "Signature",
]

#: `name@participant`, at most 32 characters (the KHQR Bakong ID limit).
AccountId = NewType("AccountId", str)
#: 3-8 lower-case letters: `nbc`, `aclb`, `wing`.
ParticipantCode = NewType("ParticipantCode", str)
#: A 32-byte SHA-256 digest.
Hash = NewType("Hash", bytes)
#: A 32-byte Ed25519 public key.
PublicKey = NewType("PublicKey", bytes)
#: A 64-byte Ed25519 signature.
Signature = NewType("Signature", bytes)
