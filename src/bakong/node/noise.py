"""The Noise Protocol Framework (revision 34), pattern `Noise_XX_25519_ChaChaPoly_SHA256`, sans-I/O.

Peers authenticate each other and encrypt every byte between them with this handshake:

    XX:
      -> e
      <- e, ee, s, es
      -> s, se

Rules (section numbers are the Noise specification's):
- Sans-I/O: `HandshakeState` turns payloads into handshake messages and back, as bytes. The
  caller moves the bytes and supplies the ephemeral private key (32 random bytes), so the same
  inputs give the same messages; the published test vectors check exactly that.
- Section 5.1 `CipherState`: ChaCha20-Poly1305 (IETF) with nonce = 4 zero bytes || 64-bit
  little-endian counter. The counter advances only when encryption or decryption succeeds; the
  nonce 2**64 - 1 is reserved, so a state whose counter reaches it refuses to work (a link must
  be re-established long before; at a million messages a second that takes 584,000 years).
- Section 5.2 `SymmetricState` and section 4.3 HKDF: HMAC-SHA256 as the spec defines it.
- Section 5.3 `HandshakeState`: the prologue is mixed into the handshake hash first, so two
  parties with different prologues fail at the first encrypted field. Any failure (a forged
  tag, a short message, an invalid public key) ends the handshake: every later call raises.
- Every message is at most `message_bytes_max` (65535) bytes (section 3).
- Identity: a node's Noise static key is its Ed25519 validator key converted to X25519
  (`static_private_from_ed25519`, `static_public_from_ed25519`); the caller checks the remote
  static key it learns against the conversion of the Ed25519 keys it accepts.
- Errors from outside (bad bytes) raise `NoiseError`, a `RemoteError` with a stable code;
  misuse by our own caller (writing out of turn, splitting twice) fails an assertion.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions

from bakong.errors import RemoteError
from bakong.wire.keys import SigningKey

__all__ = [
    "CipherState",
    "HandshakeState",
    "NoiseError",
    "Session",
    "dh_bytes",
    "hash_bytes",
    "message_bytes_max",
    "nonce_max",
    "protocol_name",
    "static_private_from_ed25519",
    "static_public",
    "static_public_from_ed25519",
    "tag_bytes",
]

protocol_name = b"Noise_XX_25519_ChaChaPoly_SHA256"
dh_bytes = 32
hash_bytes = 32
key_bytes = 32
tag_bytes = 16
message_bytes_max = 65535
nonce_max = 2**64 - 1  # reserved (section 5.1): never used to encrypt a message
assert len(protocol_name) <= hash_bytes  # so h starts as the name padded with zeros (5.2)

# The XX pattern: (initiator sends?, tokens) per message, in order.
_pattern: tuple[tuple[bool, tuple[str, ...]], ...] = (
    (True, ("e",)),
    (False, ("e", "ee", "s", "es")),
    (True, ("s", "se")),
)


class NoiseError(RemoteError):
    """A handshake or transport message failed: forged, truncated, oversized or out of keys."""


def _dh(private_key: bytes, public_key: bytes) -> bytes:
    try:
        return nacl.bindings.crypto_scalarmult(private_key, public_key)
    except nacl.exceptions.CryptoError:
        # libsodium refuses a public key of small order (the shared secret would be zero).
        raise NoiseError("noise_bad_public_key", "DH with an invalid public key") from None


def static_public(private_key: bytes) -> bytes:
    """The X25519 public key of a 32-byte X25519 private key."""
    assert len(private_key) == dh_bytes
    return nacl.bindings.crypto_scalarmult_base(private_key)


def static_private_from_ed25519(key: SigningKey) -> bytes:
    """A node's Noise static private key: its Ed25519 key converted to X25519 (RFC 7748)."""
    return nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(key.seed + key.public_key)


def static_public_from_ed25519(public_key: bytes) -> bytes | None:
    """The X25519 form of an Ed25519 public key; None when it is not a valid curve point."""
    if len(public_key) != 32:
        return None
    try:
        return nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(public_key)
    except nacl.exceptions.CryptoError:
        return None


def _hkdf(chaining_key: bytes, input_key_material: bytes) -> tuple[bytes, bytes]:
    """Section 4.3 HKDF with two outputs (all this pattern needs)."""
    temp_key = hmac.digest(chaining_key, input_key_material, "sha256")
    output1 = hmac.digest(temp_key, b"\x01", "sha256")
    output2 = hmac.digest(temp_key, output1 + b"\x02", "sha256")
    return output1, output2


class CipherState:
    """Section 5.1: a key and a message counter. Without a key it passes plaintext through."""

    __slots__ = ("_key", "nonce")

    def __init__(self, key: bytes | None = None) -> None:
        assert key is None or len(key) == key_bytes
        self._key = key
        self.nonce = 0

    def has_key(self) -> bool:
        return self._key is not None

    def set_nonce(self, nonce: int) -> None:
        assert 0 <= nonce <= nonce_max
        self.nonce = nonce

    def _nonce_bytes(self) -> bytes:
        if self.nonce >= nonce_max:
            raise NoiseError("noise_nonce_exhausted", "this cipher state has used every nonce")
        return b"\x00\x00\x00\x00" + self.nonce.to_bytes(8, "little")

    def encrypt_with_ad(self, ad: bytes, plaintext: bytes) -> bytes:
        if self._key is None:
            return plaintext
        assert len(plaintext) + tag_bytes <= message_bytes_max
        nonce = self._nonce_bytes()
        ciphertext = nacl.bindings.crypto_aead_chacha20poly1305_ietf_encrypt(
            plaintext, ad, nonce, self._key
        )
        self.nonce += 1
        return ciphertext

    def decrypt_with_ad(self, ad: bytes, ciphertext: bytes) -> bytes:
        if self._key is None:
            return ciphertext
        if not tag_bytes <= len(ciphertext) <= message_bytes_max:
            raise NoiseError("noise_message_size", f"ciphertext of {len(ciphertext)} bytes")
        nonce = self._nonce_bytes()
        try:
            plaintext = nacl.bindings.crypto_aead_chacha20poly1305_ietf_decrypt(
                ciphertext, ad, nonce, self._key
            )
        except nacl.exceptions.CryptoError:
            raise NoiseError("noise_decrypt_failed", "authentication tag mismatch") from None
        self.nonce += 1
        return plaintext

    def encrypt(self, plaintext: bytes) -> bytes:
        """A transport message: EncryptWithAd with zero-length associated data (section 5)."""
        assert self._key is not None
        return self.encrypt_with_ad(b"", plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        assert self._key is not None
        return self.decrypt_with_ad(b"", ciphertext)


class _SymmetricState:
    """Section 5.2: the chaining key, the handshake hash and the current cipher."""

    __slots__ = ("chaining_key", "cipher", "handshake_hash")

    def __init__(self) -> None:
        self.handshake_hash = protocol_name.ljust(hash_bytes, b"\x00")
        self.chaining_key = self.handshake_hash
        self.cipher = CipherState()

    def mix_key(self, input_key_material: bytes) -> None:
        self.chaining_key, temp_key = _hkdf(self.chaining_key, input_key_material)
        self.cipher = CipherState(temp_key)

    def mix_hash(self, data: bytes) -> None:
        self.handshake_hash = hashlib.sha256(self.handshake_hash + data).digest()

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        ciphertext = self.cipher.encrypt_with_ad(self.handshake_hash, plaintext)
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        plaintext = self.cipher.decrypt_with_ad(self.handshake_hash, ciphertext)
        self.mix_hash(ciphertext)
        return plaintext

    def split(self) -> tuple[CipherState, CipherState]:
        key1, key2 = _hkdf(self.chaining_key, b"")
        return CipherState(key1), CipherState(key2)


@dataclass(frozen=True, slots=True)
class Session:
    """A finished handshake: one cipher per direction, as seen by this party."""

    send: CipherState
    receive: CipherState
    handshake_hash: bytes  # identical on both sides: a channel binding (section 11.2)
    remote_static: bytes  # the peer's X25519 static public key, proven by the handshake


class HandshakeState:
    """Section 5.3 for the XX pattern. Call `write_message` / `read_message` in turn (the
    initiator writes first), then `session()` once the third message has passed."""

    __slots__ = (
        "_ephemeral_private",
        "_failed",
        "_index",
        "_remote_ephemeral",
        "_remote_static",
        "_split",
        "_static_private",
        "_symmetric",
        "initiator",
    )

    def __init__(
        self, *, initiator: bool, prologue: bytes, static_private: bytes, ephemeral_private: bytes
    ) -> None:
        assert len(static_private) == dh_bytes and len(ephemeral_private) == dh_bytes
        self.initiator = initiator
        self._static_private = static_private
        self._ephemeral_private = ephemeral_private
        self._remote_ephemeral: bytes | None = None
        self._remote_static: bytes | None = None
        self._symmetric = _SymmetricState()
        self._symmetric.mix_hash(prologue)
        self._index = 0  # the next message of the pattern
        self._failed = False
        self._split = False

    @property
    def complete(self) -> bool:
        return self._index == len(_pattern) and not self._failed

    @property
    def remote_static(self) -> bytes | None:
        """The peer's static key once its `s` token has been read (message 2 or 3)."""
        return self._remote_static

    def my_turn(self) -> bool:
        return self._index < len(_pattern) and _pattern[self._index][0] == self.initiator

    def _dh_for(self, token: str) -> bytes:
        re, rs = self._remote_ephemeral, self._remote_static
        assert re is not None
        if token == "ee":
            return _dh(self._ephemeral_private, re)
        if token == "es":  # the initiator's ephemeral with the responder's static
            if self.initiator:
                assert rs is not None
                return _dh(self._ephemeral_private, rs)
            return _dh(self._static_private, re)
        assert token == "se"  # the initiator's static with the responder's ephemeral
        if self.initiator:
            return _dh(self._static_private, re)
        assert rs is not None
        return _dh(self._ephemeral_private, rs)

    def write_message(self, payload: bytes) -> bytes:
        """The next handshake message, carrying `payload` (encrypted once a key exists).
        Raises `NoiseError`, which ends the handshake, when the peer's ephemeral key is bad."""
        assert not self._failed and self.my_turn(), "not this party's turn to write"
        try:
            return self._write(payload)
        except NoiseError:
            self._failed = True
            raise

    def _write(self, payload: bytes) -> bytes:
        tokens = _pattern[self._index][1]
        parts: list[bytes] = []
        for token in tokens:
            if token == "e":
                ephemeral_public = static_public(self._ephemeral_private)
                parts.append(ephemeral_public)
                self._symmetric.mix_hash(ephemeral_public)
            elif token == "s":
                parts.append(self._symmetric.encrypt_and_hash(static_public(self._static_private)))
            else:
                self._symmetric.mix_key(self._dh_for(token))
        parts.append(self._symmetric.encrypt_and_hash(payload))
        message = b"".join(parts)
        assert len(message) <= message_bytes_max
        self._index += 1
        return message

    def read_message(self, message: bytes) -> bytes:
        """The payload of the peer's next message. Raises `NoiseError`, which ends the
        handshake, on anything that does not authenticate."""
        assert not self._failed and not self.my_turn(), "not this party's turn to read"
        try:
            return self._read(message)
        except NoiseError:
            self._failed = True
            raise

    def _read(self, message: bytes) -> bytes:
        if len(message) > message_bytes_max:
            raise NoiseError("noise_message_size", f"handshake message of {len(message)} bytes")
        tokens = _pattern[self._index][1]
        rest = message
        for token in tokens:
            if token == "e":  # ephemeral keys travel in clear (section 5.3)
                if len(rest) < dh_bytes:
                    raise NoiseError("noise_message_size", "handshake message is truncated")
                self._remote_ephemeral, rest = rest[:dh_bytes], rest[dh_bytes:]
                self._symmetric.mix_hash(self._remote_ephemeral)
            elif token == "s":
                size = dh_bytes + (tag_bytes if self._symmetric.cipher.has_key() else 0)
                if len(rest) < size:
                    raise NoiseError("noise_message_size", "handshake message is truncated")
                self._remote_static = self._symmetric.decrypt_and_hash(rest[:size])
                rest = rest[size:]
            else:
                self._symmetric.mix_key(self._dh_for(token))
        payload = self._symmetric.decrypt_and_hash(rest)
        self._index += 1
        return payload

    def session(self) -> Session:
        """Section 5.2 Split: the first cipher carries initiator-to-responder messages."""
        assert self.complete, "the handshake is not complete"
        assert self._remote_static is not None
        # A second split would hand out the same keys with the counters back at zero.
        assert not self._split, "session() was already called"
        self._split = True
        initiator_to_responder, responder_to_initiator = self._symmetric.split()
        if self.initiator:
            send, receive = initiator_to_responder, responder_to_initiator
        else:
            send, receive = responder_to_initiator, initiator_to_responder
        return Session(
            send=send,
            receive=receive,
            handshake_hash=self._symmetric.handshake_hash,
            remote_static=self._remote_static,
        )
