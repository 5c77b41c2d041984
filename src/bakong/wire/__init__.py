"""Canonical wire format, domain-separated hashing, Ed25519 and Merkle trees (pure)."""

from bakong.wire.codec import decode_canonical, encode
from bakong.wire.hashing import Domain, digest
from bakong.wire.keys import SigningKey, verify

__all__ = ["Domain", "SigningKey", "decode_canonical", "digest", "encode", "verify"]
