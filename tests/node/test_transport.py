"""The peer transport over real sockets on 127.0.0.1: mesh, limits, misbehaving peers, backoff.

Every scenario runs in its own event loop under a deadline, closes every transport it made,
and then checks that no task is left behind. Waits poll a condition under a timeout; nothing
asserts on how long something took.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bakong import limits as system_limits
from bakong.node import noise
from bakong.node.noise import CipherState, HandshakeState, NoiseError
from bakong.node.transport import (
    LinkError,
    PeerStat,
    Transport,
    TransportLimits,
    chunk_plaintext_bytes_max,
    frame_ciphertext_bytes,
    open_frame,
    prologue,
    reconnect_delay_ms,
    seal_frame,
)
from bakong.wire.keys import SigningKey

CHAIN = "test-chain"
LOCALHOST = "127.0.0.1"
FAST = TransportLimits(
    reconnect_delay_ms_min=20,
    reconnect_delay_ms_max=200,
    handshake_ms_max=3_000,
    keepalive_ms=500,
    idle_ms_max=10_000,
)
SCENARIO_S_MAX = 30.0
WAIT_S_MAX = 10.0


def _key(index: int) -> SigningKey:
    return SigningKey(hashlib.sha256(b"transport-test-key-%d" % index).digest())


class Node:
    """A transport and the payloads it delivered."""

    def __init__(
        self,
        key: SigningKey,
        *,
        chain: str = CHAIN,
        limits: TransportLimits = FAST,
        allowed: Callable[[bytes], bool] = lambda key: True,
        on_message: Callable[[bytes, bytes], None] | None = None,
    ) -> None:
        self.key = key
        self.inbox: list[tuple[bytes, bytes]] = []
        self.transport = Transport(
            chain_id=chain,
            key=key,
            listen=(LOCALHOST, 0),
            peers={},
            allowed=allowed,
            on_message=on_message or (lambda peer, payload: self.inbox.append((peer, payload))),
            limits=limits,
            rng=random.Random(7),
        )

    @property
    def public_key(self) -> bytes:
        return bytes(self.key.public_key)

    @property
    def address(self) -> tuple[str, int]:
        return (LOCALHOST, self.transport.listen_port)

    def stat(self, peer: bytes) -> PeerStat:
        return next(s for s in self.transport.peer_stats() if s.public_key == peer)

    def received(self, peer: bytes) -> list[bytes]:
        return [payload for sender, payload in self.inbox if sender == peer]


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        async with asyncio.timeout(SCENARIO_S_MAX):
            await scenario()
        assert asyncio.all_tasks() == {asyncio.current_task()}, "a task was left behind"

    asyncio.run(main())


@contextlib.asynccontextmanager
async def started(*nodes: Node) -> AsyncIterator[None]:
    try:
        for node in nodes:
            await node.transport.start()
        yield
    finally:
        for node in nodes:
            await node.transport.close()


def mesh(*nodes: Node) -> None:
    """Every node dials every other node."""
    for node in nodes:
        node.transport.set_peers(
            {other.public_key: other.address for other in nodes if other is not node}
        )


async def eventually(condition: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(WAIT_S_MAX):
            while not condition():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting until {what}") from None


def _linked(a: Node, b: Node) -> bool:
    return b.public_key in a.transport.connected() and a.public_key in b.transport.connected()


def _settled(*nodes: Node) -> bool:
    """Every pair shares one link, and it is final: the same TCP connection at both ends, and
    no dial in flight that could still win the tie against it. (Until then, what is in flight
    on a link that loses the tie is lost: the transport is best effort.)"""
    for node in nodes:
        for other in nodes:
            if other is node:
                continue
            if not _linked(node, other):
                return False
            mine, theirs = node.stat(other.public_key), other.stat(node.public_key)
            if not (
                mine.local_address == theirs.address
                and mine.address == theirs.local_address
                and mine.outbound is not theirs.outbound
                and not mine.dialling
                and not theirs.dialling
            ):
                return False
    return True


# -- a raw peer speaking the wire format by hand -----------------------------------------------


async def _read_message(reader: asyncio.StreamReader) -> bytes:
    length = int.from_bytes(await reader.readexactly(4), "big")
    return await reader.readexactly(length)


def _write_message(writer: asyncio.StreamWriter, message: bytes) -> None:
    writer.write(len(message).to_bytes(4, "big") + message)


@contextlib.asynccontextmanager
async def raw_peer(
    node: Node, key: SigningKey, *, chain: str = CHAIN
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter, noise.Session]]:
    """A hand-made initiator: connect to `node` and run the handshake as `key`."""
    reader, writer = await asyncio.open_connection(*node.address)
    try:
        state = HandshakeState(
            initiator=True,
            prologue=prologue(chain),
            static_private=noise.static_private_from_ed25519(key),
            ephemeral_private=os.urandom(noise.dh_bytes),
        )
        _write_message(writer, state.write_message(b""))
        assert state.read_message(await _read_message(reader)) == node.public_key
        _write_message(writer, state.write_message(bytes(key.public_key)))
        await writer.drain()
        yield reader, writer, state.session()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def until_closed(reader: asyncio.StreamReader) -> int:
    """Read until the other end closes the connection; how many bytes came before the close."""
    received = 0
    try:
        async with asyncio.timeout(WAIT_S_MAX):
            while chunk := await reader.read(1 << 16):
                received += len(chunk)
    except ConnectionError:
        pass  # the transport aborts links: a reset is a close too
    return received


# -- frames and backoff (pure) -----------------------------------------------------------------


def _ciphers() -> tuple[CipherState, CipherState]:
    key = hashlib.sha256(b"frame-test").digest()
    return CipherState(key), CipherState(key)


@pytest.mark.parametrize(
    "size",
    [0, 1, chunk_plaintext_bytes_max - 4, chunk_plaintext_bytes_max - 3]
    + [2 * chunk_plaintext_bytes_max - 4, 2 * chunk_plaintext_bytes_max + 1, 300_001],
)
def test_frames_round_trip_across_chunk_boundaries(size: int) -> None:
    send, receive = _ciphers()
    payload = os.urandom(size)
    frame = seal_frame(send, payload)
    length = int.from_bytes(frame[:4], "big")
    assert length == len(frame) - 4 == frame_ciphertext_bytes(size)
    chunks = -(-length // noise.message_bytes_max)
    assert send.nonce == chunks  # full 65535-byte messages, then the rest
    assert open_frame(receive, frame[4:], system_limits.frame_bytes_max) == payload
    assert receive.nonce == send.nonce


def test_frames_that_are_oversized_malformed_split_or_tampered_are_refused() -> None:
    send, receive = _ciphers()
    with pytest.raises(LinkError) as raised:
        open_frame(receive, seal_frame(send, b"x" * 101)[4:], 100)
    assert raised.value.code == "frame_oversized"
    with pytest.raises(LinkError) as raised:  # a last chunk too short to hold a tag
        open_frame(receive, bytes(noise.message_bytes_max + 5), system_limits.frame_bytes_max)
    assert raised.value.code == "frame_malformed"
    with pytest.raises(LinkError) as raised:
        open_frame(receive, bytes(3), system_limits.frame_bytes_max)
    assert raised.value.code == "frame_malformed"

    send, receive = _ciphers()
    body = seal_frame(send, os.urandom(chunk_plaintext_bytes_max + 100))[4:]
    first_chunk_alone = body[: noise.message_bytes_max]
    with pytest.raises(LinkError) as raised:  # decrypts, but the inner length says otherwise
        open_frame(receive, first_chunk_alone, system_limits.frame_bytes_max)
    assert raised.value.code == "frame_malformed"

    send, receive = _ciphers()
    body = bytearray(seal_frame(send, b"a vote")[4:])
    body[3] ^= 0x10
    with pytest.raises(NoiseError):
        open_frame(receive, bytes(body), system_limits.frame_bytes_max)


def test_the_frame_limit_covers_a_block_and_its_envelope() -> None:
    assert (
        system_limits.frame_bytes_max
        > system_limits.proposal_bytes_max
        > system_limits.block_bytes_max
    )
    assert TransportLimits().frame_bytes_max == system_limits.frame_bytes_max
    with pytest.raises(AssertionError):
        TransportLimits(send_queue_bytes_max=system_limits.frame_bytes_max - 1)


def test_reconnect_delays_grow_exponentially_with_jitter_up_to_the_maximum() -> None:
    limits = TransportLimits(reconnect_delay_ms_min=100, reconnect_delay_ms_max=5_000)
    rng = random.Random(1)
    for attempt in range(40):
        base = min(5_000, 100 * 2**attempt)
        delays = {reconnect_delay_ms(attempt, limits, rng) for _ in range(20)}
        assert all(base / 2 <= delay <= base for delay in delays)
        assert len(delays) > 1  # jittered, so peers that fail together retry apart
    again = [reconnect_delay_ms(3, limits, random.Random(9)) for _ in range(2)]
    assert again[0] == again[1]  # the injected random source makes it reproducible


# -- links between real transports ---------------------------------------------------------------


def test_four_nodes_form_one_full_mesh_and_exchange_messages_both_ways() -> None:
    nodes = [Node(_key(index)) for index in range(4)]

    async def scenario() -> None:
        async with started(*nodes):
            mesh(*nodes)
            await eventually(lambda: _settled(*nodes), "one final link per pair")
            for node in nodes:
                for other in nodes:
                    if other is not node:
                        assert node.transport.send(other.public_key, b"hello from " + node.key.seed)
                assert node.transport.broadcast(b"all from " + node.key.seed) == 3
            await eventually(lambda: all(len(n.inbox) == 6 for n in nodes), "all delivered")
            for node in nodes:
                for other in nodes:
                    if other is node:
                        continue
                    assert node.received(other.public_key) == [
                        b"hello from " + other.key.seed,
                        b"all from " + other.key.seed,
                    ]
                    mine = node.stat(other.public_key)
                    assert mine.frames_in == 2 and mine.frames_out == 2 and mine.score == 0
                    # Both ends dialled at once, so the tie went to the lower key's link.
                    assert mine.outbound is (node.public_key < other.public_key)
            assert _settled(*nodes)  # nothing was replaced while messages flowed
            assert all(
                n.transport.connected() == sorted(o.public_key for o in nodes if o is not n)
                for n in nodes
            )

    run(scenario)


def test_a_payload_at_the_frame_limit_round_trips() -> None:
    a, b = Node(_key(1)), Node(_key(2))
    big = os.urandom(system_limits.frame_bytes_max)

    async def scenario() -> None:
        async with started(a, b):
            mesh(a, b)
            await eventually(lambda: _settled(a, b), "linked")
            assert a.transport.send(b.public_key, big)
            assert b.transport.send(a.public_key, big[::-1])
            await eventually(lambda: bool(a.inbox and b.inbox), "delivered")
            assert b.received(a.public_key) == [big]
            assert a.received(b.public_key) == [big[::-1]]
            with pytest.raises(AssertionError):
                a.transport.send(b.public_key, big + b"!")

    run(scenario)


def test_a_dropped_link_is_redialled() -> None:
    a, b = Node(_key(1)), Node(_key(2))

    async def scenario() -> None:
        async with started(a, b):
            mesh(a, b)
            await eventually(lambda: _settled(a, b), "linked")
            links = a.stat(b.public_key).links
            assert a.transport.disconnect(b.public_key)
            assert b.public_key not in a.transport.connected()
            assert a.stat(b.public_key).last_reason == "disconnected"
            await eventually(
                lambda: _settled(a, b) and a.stat(b.public_key).links > links, "a new link"
            )
            assert a.transport.send(b.public_key, b"after the drop")
            await eventually(lambda: b.received(a.public_key) == [b"after the drop"], "delivery")

    run(scenario)


def test_garbage_before_the_handshake_is_dropped_and_good_links_survive() -> None:
    a, b = Node(_key(1)), Node(_key(2))

    async def scenario() -> None:
        async with started(a, b):
            mesh(a, b)
            await eventually(lambda: _settled(a, b), "linked")
            for garbage in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", bytes(4) + os.urandom(200)):
                reader, writer = await asyncio.open_connection(*a.address)
                writer.write(garbage)
                await until_closed(reader)
                writer.close()
                await writer.wait_closed()
            # A plausible first message, then a third message that does not authenticate.
            reader, writer = await asyncio.open_connection(*a.address)
            _write_message(writer, os.urandom(32))
            await _read_message(reader)
            _write_message(writer, os.urandom(96))
            await until_closed(reader)
            writer.close()
            await writer.wait_closed()
            await eventually(lambda: a.transport.stats().handshakes_failed >= 3, "counted")
            assert a.transport.connected() == [b.public_key]
            assert b.transport.send(a.public_key, b"still here")
            await eventually(lambda: a.received(b.public_key) == [b"still here"], "delivery")

    run(scenario)


def test_an_authenticated_peer_sending_bad_frames_is_dropped_scored_and_banned() -> None:
    limits = TransportLimits(reconnect_delay_ms_min=20, reconnect_delay_ms_max=200)
    a, b, intruder = Node(_key(1), limits=limits), Node(_key(2), limits=limits), _key(3)
    key = bytes(intruder.public_key)

    async def scenario() -> None:
        async with started(a, b):
            mesh(a, b)
            await eventually(lambda: _settled(a, b), "linked")
            async with raw_peer(a, intruder) as (reader, writer, _):
                await eventually(lambda: key in a.transport.connected(), "the intruder is in")
                oversized = frame_ciphertext_bytes(limits.frame_bytes_max) + 1
                writer.write(oversized.to_bytes(4, "big"))
                await until_closed(reader)
            assert a.stat(key).score == -limits.score_penalty_protocol
            assert a.stat(key).last_reason == "frame_oversized"
            async with raw_peer(a, intruder) as (reader, writer, _):
                writer.write((100).to_bytes(4, "big") + os.urandom(100))  # undecryptable
                await until_closed(reader)
            assert a.stat(key).last_reason == "noise_decrypt_failed"
            assert a.stat(key).score <= limits.score_ban_threshold and a.stat(key).banned
            refused = a.transport.stats().refused
            async with raw_peer(a, intruder) as (reader, _, _):
                assert await until_closed(reader) == 0  # banned: refused after the handshake
            assert a.transport.stats().refused == refused + 1
            assert a.transport.connected() == [b.public_key]
            assert a.stat(b.public_key).score == 0
            assert b.transport.send(a.public_key, b"unharmed")
            await eventually(lambda: a.received(b.public_key) == [b"unharmed"], "delivery")

    run(scenario)


def test_unknown_keys_and_other_chains_are_refused() -> None:
    a = Node(_key(1), allowed=lambda key: key == bytes(_key(2).public_key))
    b, stranger, elsewhere = Node(_key(2)), _key(3), Node(_key(4), chain="another-chain")

    async def scenario() -> None:
        async with started(a, b, elsewhere):
            b.transport.set_peers({a.public_key: a.address})  # b is allowed, though not dialled
            await eventually(lambda: _linked(a, b), "linked")
            async with raw_peer(a, stranger) as (reader, _, _):
                assert await until_closed(reader) == 0  # refused after the handshake
            assert a.transport.stats().refused == 1
            elsewhere.transport.set_peers({a.public_key: a.address})
            await eventually(lambda: a.transport.stats().handshakes_failed >= 1, "refused")
            await eventually(lambda: elsewhere.stat(a.public_key).score < 0, "scored")
            assert elsewhere.stat(a.public_key).last_reason == "noise_decrypt_failed"
            # Dialling an address where another key answers fails without blaming that key.
            a.transport.set_peers({stranger.public_key: b.address})
            await eventually(lambda: a.transport.stats().handshakes_failed >= 2, "mismatch")
            assert a.stat(bytes(stranger.public_key)).score == 0
            assert a.transport.connected() == [b.public_key]
            assert elsewhere.transport.connected() == []

    run(scenario)


def test_a_peer_that_stops_reading_gets_its_frames_dropped_not_queued() -> None:
    limits = TransportLimits(
        frame_bytes_max=1 << 20,
        send_queue_frames_max=4,
        send_queue_bytes_max=1 << 20,
        write_ms_max=60_000,
    )
    a, sleeper = Node(_key(1), limits=limits), _key(2)
    key, payload = bytes(sleeper.public_key), os.urandom(256 * 1024)

    async def scenario() -> None:
        async with started(a), raw_peer(a, sleeper):  # never reads a byte
            await eventually(lambda: key in a.transport.connected(), "linked")
            accepted = 0
            for _ in range(4_000):
                if not a.transport.send(key, payload):
                    break
                accepted += 1
                await asyncio.sleep(0)  # the writer drains into the socket until it is full
            stat = a.stat(key)
            assert stat.drops == 1 and stat.connected
            assert stat.queued_frames <= limits.send_queue_frames_max
            assert stat.queued_bytes <= limits.send_queue_bytes_max
            assert not a.transport.send(key, payload)
            assert a.stat(key).drops == 2

    run(scenario)


def test_a_failing_handler_is_counted_and_delivery_goes_on() -> None:
    delivered: list[bytes] = []

    def on_message(peer: bytes, payload: bytes) -> None:
        if payload == b"poison":
            raise ValueError("the node could not handle it")
        delivered.append(payload)

    a, b = Node(_key(1), on_message=on_message), Node(_key(2))

    async def scenario() -> None:
        async with started(a, b):
            mesh(a, b)
            await eventually(lambda: _settled(a, b), "linked")
            assert b.transport.send(a.public_key, b"poison")
            assert b.transport.send(a.public_key, b"fine")
            await eventually(lambda: delivered == [b"fine"], "delivery after the error")
            assert a.transport.stats().handler_errors == 1
            assert a.stat(b.public_key).handler_errors == 1
            assert _linked(a, b)

    run(scenario)


def test_penalties_ban_a_peer_until_the_ban_ends() -> None:
    limits = TransportLimits(
        reconnect_delay_ms_min=20, reconnect_delay_ms_max=100, ban_ms=1_500, score_ban_threshold=-30
    )
    a, b = Node(_key(1), limits=limits), Node(_key(2), limits=limits)

    async def scenario() -> None:
        async with started(a, b):
            mesh(a, b)
            await eventually(lambda: _settled(a, b), "linked")
            a.transport.penalise(b.public_key, "invalid_vote")
            a.transport.penalise(b.public_key, "invalid_vote")
            assert a.stat(b.public_key).score == -20 and _linked(a, b)  # scored, still linked
            a.transport.penalise(b.public_key, "invalid_vote")
            assert a.stat(b.public_key).banned
            assert a.transport.connected() == []
            # While the ban lasts, a refuses b right after the handshake, without a frame.
            async with raw_peer(a, b.key) as (reader, _, _):
                assert await until_closed(reader) == 0
            assert a.transport.stats().refused >= 1
            await eventually(lambda: _linked(a, b), "linked again after the ban")
            assert a.stat(b.public_key).score == 0 and not a.stat(b.public_key).banned

    run(scenario)


def test_a_silent_link_is_closed() -> None:
    limits = TransportLimits(keepalive_ms=100, idle_ms_max=400)
    a, mute = Node(_key(1), limits=limits), _key(2)
    key = bytes(mute.public_key)

    async def scenario() -> None:
        async with started(a), raw_peer(a, mute) as (reader, _, session):
            await eventually(lambda: key in a.transport.connected(), "linked")
            # a's keepalives arrive and decrypt; the raw peer sends nothing back.
            keepalive = await _read_message(reader)  # frames share the u32 length prefix
            assert open_frame(session.receive, keepalive, limits.frame_bytes_max) == b""
            await until_closed(reader)
            assert a.stat(key).last_reason == "idle_timeout"
            assert a.stat(key).score == 0  # silence is not misbehaviour

    run(scenario)


def test_stalled_handshakes_are_bounded_and_time_out() -> None:
    limits = TransportLimits(handshake_ms_max=500, inbound_handshakes_max=2)
    a, late = Node(_key(1), limits=limits), _key(2)

    async def scenario() -> None:
        async with started(a):
            silent = [await asyncio.open_connection(*a.address) for _ in range(3)]
            try:
                # Two wait in the handshake, the third finds no room; then the two time out.
                for reader, _ in silent:
                    assert await until_closed(reader) == 0
                assert a.transport.stats().refused == 1
                assert a.transport.stats().handshakes_failed == 2
            finally:
                for _, writer in silent:
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
            async with raw_peer(a, late):
                await eventually(lambda: bytes(late.public_key) in a.transport.connected(), "in")

    run(scenario)
