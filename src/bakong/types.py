"""Names for the scalar values that flow everywhere, so signatures say what they carry.

These are `NewType`s: free at run time, checked by mypy.
"""

from __future__ import annotations

from typing import NewType

__all__ = [
    "AccountId",
    "Amount",
    "ChainId",
    "Hash",
    "Height",
    "ParticipantCode",
    "PublicKey",
    "Round",
    "Signature",
    "TimeMs",
]

#: `name@participant`, at most 32 characters (the KHQR Bakong ID limit).
AccountId = NewType("AccountId", str)
#: 4-8 lower-case letters: `nbc`, `aclb`, `wing`.
ParticipantCode = NewType("ParticipantCode", str)
#: The chain's name, part of every domain-separation prefix.
ChainId = NewType("ChainId", str)
#: An integer amount in the asset's minor unit (riel, US cents). Never a float.
Amount = NewType("Amount", int)
#: A 32-byte SHA-256 digest.
Hash = NewType("Hash", bytes)
#: A 32-byte Ed25519 public key.
PublicKey = NewType("PublicKey", bytes)
#: A 64-byte Ed25519 signature.
Signature = NewType("Signature", bytes)
#: Milliseconds since the Unix epoch, UTC.
TimeMs = NewType("TimeMs", int)
Height = NewType("Height", int)
Round = NewType("Round", int)
