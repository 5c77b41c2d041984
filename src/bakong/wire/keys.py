"""Ed25519 keys, signatures and the key file format (PyNaCl, i.e. libsodium).

Keys are made from a 32-byte seed; generating a seed needs randomness, which is I/O and lives
in `bakong.keystore`. Verification answers a bool and never raises on bad input: a wrong
length, a non-canonical point or a forged signature are all simply `False`.

Key file format (JSON, one object, written with permissions 0600):

    {"type": "ed25519", "seed": "<64 hex>", "public_key": "<64 hex>"}

`public_key` is redundant on purpose: reading the file re-derives it from the seed and
refuses a file where the two disagree (a truncated or hand-edited key).
"""

from __future__ import annotations

from collections import OrderedDict

import msgspec
import nacl.exceptions
import nacl.signing

from bakong import limits
from bakong.errors import KeyFileError, LocalError
from bakong.types import PublicKey, Signature

__all__ = [
    "KeyFile",
    "SigningKey",
    "VerifiedSignatures",
    "format_key_file",
    "parse_key_file",
    "public_key_size",
    "seed_size",
    "signature_checks",
    "signature_size",
    "verify",
]

seed_size = 32
public_key_size = 32
signature_size = 64


class SigningKey:
    """An Ed25519 private key made from a seed. Holds the libsodium key object."""

    __slots__ = ("_key", "public_key")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != seed_size:
            raise LocalError(f"an Ed25519 seed is {seed_size} bytes, got {len(seed)}")
        self._key = nacl.signing.SigningKey(seed)
        self.public_key = PublicKey(bytes(self._key.verify_key))

    @property
    def seed(self) -> bytes:
        return bytes(self._key)

    def sign(self, message: bytes) -> Signature:
        return Signature(self._key.sign(message).signature)

    def __repr__(self) -> str:
        return f"SigningKey(public_key={self.public_key.hex()})"


# Every Ed25519 check this process has run: the node exposes it as a counter, so that a
# benchmark can split a validator's CPU per transfer into signature checks and the rest.
_checks_run = 0


def signature_checks() -> int:
    """How many signatures `verify` has checked in this process (worker processes count their
    own)."""
    return _checks_run


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when `signature` is a valid Ed25519 signature of `message` by `public_key`."""
    if len(public_key) != public_key_size or len(signature) != signature_size:
        return False
    global _checks_run
    _checks_run += 1
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        return False
    return True


class VerifiedSignatures:
    """Signatures already verified once (by the mempool, on admission), so that executing a
    block does not pay for them again. Bounded: the oldest entries are forgotten first, and a
    forgotten signature is simply verified again. Use `verify` as the ledger's verifier."""

    def __init__(self, entries_max: int) -> None:
        assert entries_max > 0
        self.entries_max = entries_max
        # An OrderedDict, not a dict: deleting a dict's first entry again and again leaves a run
        # of holes that `next(iter(...))` walks, which made each eviction cost ~20 us when full.
        self._verified: OrderedDict[tuple[bytes, bytes, bytes], None] = OrderedDict()

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        entry = (public_key, message, signature)
        if entry in self._verified:
            return True
        if not verify(public_key, message, signature):
            return False
        self.remember(public_key, message, signature)
        return True

    def remember(self, public_key: bytes, message: bytes, signature: bytes) -> None:
        """Record a signature verified elsewhere (a worker process of the mempool)."""
        entry = (public_key, message, signature)
        if entry in self._verified:
            return
        if len(self._verified) >= self.entries_max:
            self._verified.popitem(last=False)
        self._verified[entry] = None

    def __contains__(self, check: tuple[bytes, bytes, bytes]) -> bool:
        """Whether (public key, message, signature) has been verified and is still known."""
        return check in self._verified

    def __len__(self) -> int:
        return len(self._verified)


class KeyFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    type: str
    seed: str
    public_key: str


def format_key_file(key: SigningKey) -> str:
    record = KeyFile(type="ed25519", seed=key.seed.hex(), public_key=key.public_key.hex())
    return msgspec.json.encode(record).decode() + "\n"


def parse_key_file(text: str | bytes) -> SigningKey:
    """Read a key file's contents. Raises `KeyFileError` on anything unexpected."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > limits.key_file_bytes_max:
        raise KeyFileError("key_file_malformed", "key file is too large")
    try:
        record = msgspec.json.decode(raw, type=KeyFile)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise KeyFileError("key_file_malformed", str(error)) from None
    if record.type != "ed25519":
        raise KeyFileError("key_file_malformed", f"unsupported key type {record.type!r}")
    try:
        seed = bytes.fromhex(record.seed)
    except ValueError:
        raise KeyFileError("key_file_malformed", "seed is not hex") from None
    if len(seed) != seed_size:
        raise KeyFileError("key_file_malformed", f"seed must be {seed_size} bytes")
    key = SigningKey(seed)
    if key.public_key.hex() != record.public_key.lower():
        raise KeyFileError("key_file_malformed", "public_key does not match the seed")
    return key
