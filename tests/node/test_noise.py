"""Noise_XX_25519_ChaChaPoly_SHA256: published test vectors, tampering, limits, identity binding."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import nacl.bindings
import pytest

from bakong.node import noise
from bakong.node.noise import CipherState, HandshakeState, NoiseError, Session
from bakong.wire.keys import SigningKey


@dataclass(frozen=True)
class Vector:
    source: str
    prologue: str
    init_static: str
    init_ephemeral: str
    resp_static: str
    resp_ephemeral: str
    handshake_hash: str | None
    messages: tuple[tuple[str, str], ...]  # (payload, ciphertext), initiator first, alternating


# The Noise_XX_25519_ChaChaPoly_SHA256 entries of the published vector files: cacophony
# (haskell-cryptography/cacophony, vectors/cacophony.txt) and snow (mcginty/snow,
# tests/vectors/snow.txt). Messages 0-2 are the handshake, the rest are transport messages.
VECTORS = (
    Vector(
        source="cacophony",
        prologue="4a6f686e2047616c74",
        init_static="e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
        init_ephemeral="893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
        resp_static="4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
        resp_ephemeral="bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
        handshake_hash="c8e5f64e846193be2a834104c2a009868d6c9f3bd3c186299888b488b2f1f58e",
        messages=(
            (
                "4c756477696720766f6e204d69736573",
                "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944"
                "4c756477696720766f6e204d69736573",
            ),
            (
                "4d757272617920526f746862617264",
                "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f14480884381cbad1f"
                "276e038c48378ffce2b65285e08d6b68aaa3629a5a8639392490e5b9bd5269c2f1e4f488"
                "ed8831161f19b7815528f8982ffe09be9b5c412f8a0db50f8814c7194e83f23dbd8d162c"
                "9326ad",
            ),
            (
                "462e20412e20486179656b",
                "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a80ae475b9"
                "df0f169ae80a89be0865b57f58c9fea0d4ec82a286427402f113e4b6ae769a1d95941d49"
                "b25030",
            ),
            ("4361726c204d656e676572", "96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df"),
            (
                "4a65616e2d426170746973746520536179",
                "3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5",
            ),
            (
                "457567656e2042f6686d20766f6e2042617765726b",
                "eb3f3515110702e047a6c9da4478b6ead94873c11c0f2d710ddb3f09fce024b3a58502ae3f",
            ),
        ),
    ),
    Vector(
        source="snow",
        prologue="5468657265206973206e6f20726967687420616e642077726f6e672e20546865726527"
        "73206f6e6c792066756e20616e6420626f72696e672e",
        init_static="7dec208517a3b81a2861d7a71266d5d6dc944c5a8816634a86fe63198a0148ee",
        init_ephemeral="a32daf21e93c0131495ce1d903181fde81cc46937daaeb990bae7c992709421e",
        resp_static="4d0aed5098e3b4ef20357e9f686ce66204c792b358da2e475017d6c485304881",
        resp_ephemeral="4eece0f195d026db035ff987597c429d3ad3bcc2944df37d649528951b2a27c5",
        handshake_hash=None,
        messages=(
            (
                "d03c489139e645d0711a3c9e810d776b46a84912463fafa87b884eebf242dc34",
                "f9fa868ba97ab8a2686deccfaad5a484ee10a5bb85e3d1dce015a84797f92818"
                "d03c489139e645d0711a3c9e810d776b46a84912463fafa87b884eebf242dc34",
            ),
            (
                "d8190a92f7dc0c93dbea9118ba8055751fb7c6590c416ffbd419964132b99a85",
                "8c4e6fdb7d09d501a86f7eca5c234522751706ed409182c05cdf5f827d4dae47b81c6c5f"
                "43b025692c24391eefee725c17d8cb0fbe3e4abb8aedf42c4fd2592d4ea48ac08989d6ae"
                "8b4adae08b2c34087c808c7aa55a63c02b0fab9e930612336bd43eaea04d3c670a0a1466"
                "91aa9cc9d357872320dc735dbc48580cffb553db",
            ),
            (
                "77891b19dcb92ef7c055b672c4a5aa7fdf1c84146b8b303459022729473ce254",
                "933ca6b5ed60df3df66121f0ab49a09e49efa45c613a86a3cecbf4c535cef2f83f72b428"
                "37b18e3572f2fdc2b74c331e2368a545cef54bdca081678ab0e9dd5348122459e0c034c8"
                "51984d88ce610963d43cde6cfe73a67fbd5a63e8bfca96d0",
            ),
            (
                "d7efdf988072881941db045a42882433817555128fbf5663e56081712ec7d212",
                "54ef0ff0629e1aaa7685a2806ab111cba76b52331f2642276736f415868eacb6"
                "9ab2577f3bda0cbf72f879685f6ed25f",
            ),
            (
                "dd7bf01a588bafb52c6cfba952e5d8fe35cc2b3f92b4730ae2474615157345ce",
                "356be70f110306d5c699bb834bb9d58d909e325924dfbec972e406e6f294dc63"
                "e1daebefe8a62a334facc8048ab4ad66",
            ),
        ),
    ),
)

PROLOGUE = b"bakong-p2p/1/test-chain"


def _key(index: int) -> SigningKey:
    return SigningKey(hashlib.sha256(b"noise-test-key-%d" % index).digest())


def _ephemeral(label: bytes) -> bytes:
    return hashlib.sha256(b"noise-test-ephemeral-" + label).digest()


def _pair(
    initiator_key: SigningKey,
    responder_key: SigningKey,
    *,
    initiator_prologue: bytes = PROLOGUE,
    responder_prologue: bytes = PROLOGUE,
) -> tuple[HandshakeState, HandshakeState]:
    initiator = HandshakeState(
        initiator=True,
        prologue=initiator_prologue,
        static_private=noise.static_private_from_ed25519(initiator_key),
        ephemeral_private=_ephemeral(b"initiator"),
    )
    responder = HandshakeState(
        initiator=False,
        prologue=responder_prologue,
        static_private=noise.static_private_from_ed25519(responder_key),
        ephemeral_private=_ephemeral(b"responder"),
    )
    return initiator, responder


def _handshake(initiator: HandshakeState, responder: HandshakeState) -> tuple[Session, Session]:
    assert responder.read_message(initiator.write_message(b"")) == b""
    assert initiator.read_message(responder.write_message(b"responder")) == b"responder"
    assert responder.read_message(initiator.write_message(b"initiator")) == b"initiator"
    return initiator.session(), responder.session()


def _flip(message: bytes, bit: int) -> bytes:
    copy = bytearray(message)
    copy[bit // 8] ^= 1 << (bit % 8)
    return bytes(copy)


@pytest.mark.parametrize("vector", VECTORS, ids=[v.source for v in VECTORS])
def test_published_vectors_match_byte_for_byte(vector: Vector) -> None:
    h = bytes.fromhex
    initiator = HandshakeState(
        initiator=True,
        prologue=h(vector.prologue),
        static_private=h(vector.init_static),
        ephemeral_private=h(vector.init_ephemeral),
    )
    responder = HandshakeState(
        initiator=False,
        prologue=h(vector.prologue),
        static_private=h(vector.resp_static),
        ephemeral_private=h(vector.resp_ephemeral),
    )
    for index, (payload, ciphertext) in enumerate(vector.messages[:3]):
        sender, receiver = (initiator, responder) if index % 2 == 0 else (responder, initiator)
        message = sender.write_message(h(payload))
        assert message.hex() == ciphertext
        assert receiver.read_message(message) == h(payload)
    assert initiator.complete and responder.complete
    sessions = initiator.session(), responder.session()
    assert sessions[0].handshake_hash == sessions[1].handshake_hash
    if vector.handshake_hash is not None:
        assert sessions[0].handshake_hash.hex() == vector.handshake_hash
    assert sessions[0].remote_static == noise.static_public(h(vector.resp_static))
    assert sessions[1].remote_static == noise.static_public(h(vector.init_static))
    for index, (payload, ciphertext) in enumerate(vector.messages[3:], start=3):
        sender_session, receiver_session = sessions if index % 2 == 0 else sessions[::-1]
        message = sender_session.send.encrypt(h(payload))
        assert message.hex() == ciphertext
        assert receiver_session.receive.decrypt(message) == h(payload)


def test_a_handshake_between_validator_keys_binds_their_ed25519_identities() -> None:
    alice, bob = _key(1), _key(2)
    initiator, responder = _pair(alice, bob)
    assert initiator.remote_static is None
    to_bob, to_alice = _handshake(initiator, responder)
    assert to_bob.remote_static == noise.static_public_from_ed25519(bob.public_key)
    assert to_alice.remote_static == noise.static_public_from_ed25519(alice.public_key)
    # A third key never converts to the same static key: the identity check refuses it.
    assert to_bob.remote_static != noise.static_public_from_ed25519(_key(3).public_key)
    assert to_bob.handshake_hash == to_alice.handshake_hash
    for index in range(5):
        ping, pong = b"ping %d" % index, b"pong %d" % index
        assert to_alice.receive.decrypt(to_bob.send.encrypt(ping)) == ping
        assert to_bob.receive.decrypt(to_alice.send.encrypt(pong)) == pong
    assert to_alice.receive.decrypt(to_bob.send.encrypt(b"")) == b""


def test_ed25519_keys_convert_to_consistent_x25519_keys() -> None:
    keys = [_key(index) for index in range(8)]
    for key in keys:
        private = noise.static_private_from_ed25519(key)
        public = noise.static_public_from_ed25519(key.public_key)
        assert public is not None and len(public) == noise.dh_bytes
        assert noise.static_public(private) == public
    # Diffie-Hellman agrees between converted keys, in both directions.
    a, b = keys[0], keys[1]
    a_public, b_public = (noise.static_public_from_ed25519(k.public_key) for k in (a, b))
    assert a_public is not None and b_public is not None
    shared_ab = nacl.bindings.crypto_scalarmult(noise.static_private_from_ed25519(a), b_public)
    shared_ba = nacl.bindings.crypto_scalarmult(noise.static_private_from_ed25519(b), a_public)
    assert shared_ab == shared_ba
    assert noise.static_public_from_ed25519(b"\x01" * 31) is None  # wrong length
    not_on_curve = bytes.fromhex("02" + "00" * 30 + "80")
    assert noise.static_public_from_ed25519(not_on_curve) is None


def test_a_different_prologue_fails_at_the_first_encrypted_field() -> None:
    initiator, responder = _pair(_key(1), _key(2), responder_prologue=b"bakong-p2p/1/another-chain")
    responder.read_message(initiator.write_message(b""))  # message 1 is in clear
    with pytest.raises(NoiseError) as raised:
        initiator.read_message(responder.write_message(b""))
    assert raised.value.code == "noise_decrypt_failed"
    assert not initiator.complete


def test_any_flipped_bit_in_handshake_messages_fails() -> None:
    alice, bob = _key(1), _key(2)
    initiator, responder = _pair(alice, bob)
    first = initiator.write_message(b"")
    responder.read_message(first)
    second = responder.write_message(b"responder")
    initiator.read_message(second)
    third = initiator.write_message(b"initiator")

    for bit in range(len(first) * 8):  # the ephemeral key in clear: caught at message 2
        fresh_initiator, fresh_responder = _pair(alice, bob)
        fresh_initiator.write_message(b"")
        fresh_responder.read_message(_flip(first, bit))
        with pytest.raises(NoiseError):
            fresh_initiator.read_message(fresh_responder.write_message(b"responder"))
    for bit in range(len(second) * 8):
        fresh_initiator, _ = _pair(alice, bob)
        fresh_initiator.write_message(b"")
        with pytest.raises(NoiseError):
            fresh_initiator.read_message(_flip(second, bit))
        assert not fresh_initiator.complete
    for bit in range(len(third) * 8):
        _, fresh_responder = _pair(alice, bob)
        fresh_responder.read_message(first)
        fresh_responder.write_message(b"responder")
        with pytest.raises(NoiseError):
            fresh_responder.read_message(_flip(third, bit))


def test_any_flipped_bit_in_a_transport_message_fails_without_using_the_nonce() -> None:
    to_bob, to_alice = _handshake(*_pair(_key(1), _key(2)))
    message = to_bob.send.encrypt(b"a payment, say")
    for bit in range(len(message) * 8):
        with pytest.raises(NoiseError) as raised:
            to_alice.receive.decrypt(_flip(message, bit))
        assert raised.value.code == "noise_decrypt_failed"
    assert to_alice.receive.nonce == 0
    later = to_bob.send.encrypt(b"later")
    with pytest.raises(NoiseError):
        to_alice.receive.decrypt(later)  # out of order: the wrong nonce
    assert to_alice.receive.decrypt(message) == b"a payment, say"
    assert to_alice.receive.decrypt(later) == b"later"
    with pytest.raises(NoiseError):
        to_alice.receive.decrypt(message)  # a replay


def test_a_failed_handshake_stays_failed() -> None:
    initiator, responder = _pair(_key(1), _key(2))
    responder.read_message(initiator.write_message(b""))
    second = responder.write_message(b"")
    with pytest.raises(NoiseError):
        initiator.read_message(_flip(second, 40 * 8))
    with pytest.raises(AssertionError):
        initiator.read_message(second)
    with pytest.raises(AssertionError):
        initiator.write_message(b"")


def test_short_oversized_and_small_order_messages_are_refused() -> None:
    initiator, responder = _pair(_key(1), _key(2))
    with pytest.raises(NoiseError) as raised:
        responder.read_message(b"\x01" * 31)
    assert raised.value.code == "noise_message_size"
    initiator, responder = _pair(_key(1), _key(2))
    with pytest.raises(NoiseError) as raised:
        responder.read_message(b"\x01" * (noise.message_bytes_max + 1))
    assert raised.value.code == "noise_message_size"
    initiator, responder = _pair(_key(1), _key(2))
    responder.read_message(bytes(noise.dh_bytes))  # the point of order 1 as an ephemeral key
    with pytest.raises(NoiseError) as raised:
        responder.write_message(b"")
    assert raised.value.code == "noise_bad_public_key"
    initiator, responder = _pair(_key(1), _key(2))
    responder.read_message(initiator.write_message(b""))
    with pytest.raises(NoiseError) as raised:
        initiator.read_message(responder.write_message(b"")[:60])  # cut inside the static key
    assert raised.value.code == "noise_message_size"


def test_turn_order_and_a_single_split_are_enforced() -> None:
    initiator, responder = _pair(_key(1), _key(2))
    with pytest.raises(AssertionError):
        responder.write_message(b"")
    with pytest.raises(AssertionError):
        initiator.read_message(b"")
    _handshake(initiator, responder)
    with pytest.raises(AssertionError):
        initiator.session()  # the sessions were taken: a second split would reuse nonces


def test_the_nonce_runs_out_before_the_reserved_value() -> None:
    key = bytes(range(32))
    sender, receiver = CipherState(key), CipherState(key)
    sender.set_nonce(noise.nonce_max - 1)
    receiver.set_nonce(noise.nonce_max - 1)
    assert receiver.decrypt(sender.encrypt(b"last")) == b"last"
    assert sender.nonce == receiver.nonce == noise.nonce_max
    with pytest.raises(NoiseError) as raised:
        sender.encrypt(b"one too many")
    assert raised.value.code == "noise_nonce_exhausted"
    with pytest.raises(NoiseError):
        receiver.decrypt(bytes(noise.tag_bytes))


def test_a_cipher_without_a_key_passes_handshake_fields_through() -> None:
    cipher = CipherState()
    assert not cipher.has_key()
    assert cipher.encrypt_with_ad(b"ad", b"clear") == b"clear"
    assert cipher.decrypt_with_ad(b"ad", b"clear") == b"clear"
    keyed = CipherState(bytes(32))
    sealed = keyed.encrypt_with_ad(b"ad", b"body")
    assert len(sealed) == len(b"body") + noise.tag_bytes
    with pytest.raises(NoiseError):
        CipherState(bytes(32)).decrypt_with_ad(b"other ad", sealed)
    assert CipherState(bytes(32)).decrypt_with_ad(b"ad", sealed) == b"body"
