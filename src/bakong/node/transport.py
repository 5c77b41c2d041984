"""The validator peer transport: authenticated, encrypted TCP links between nodes (design 7).

Wire format (one TCP connection per link; all integers big-endian):
- Handshake: `Noise_XX_25519_ChaChaPoly_SHA256` (`bakong.node.noise`) with prologue
  `b"bakong-p2p/1/" + chain_id`, so links never cross chains or protocol versions. Each of the
  three handshake messages travels as `u32 length || message` (at most
  `limits.handshake_message_bytes_max`). Message 1 has an empty payload; the payloads of
  messages 2 (responder) and 3 (initiator) are the sender's 32-byte Ed25519 public key, which
  must convert to the Noise static key the handshake proved. The initiator checks it is the
  key it dialled; the responder checks its `allowed` predicate (or that it dials that key
  itself).
- Frames: `u32 L || c_1 || ... || c_k`. The c_i are Noise transport messages (empty associated
  data, one nonce each) whose plaintexts concatenate to `u32 n || payload` with `n` the payload
  length; every c_i but the last is exactly 65535 bytes. `n` is inside the encryption, so an
  attacker cannot split or join frames at chunk boundaries. `n <= frame_bytes_max`; a frame
  with `n == 0` is a keepalive and is not delivered.

Rules:
- Exactly one link per pair of peers. Both sides may dial; when two links to one peer exist,
  a link from the same initiator as the old one replaces it (the peer reconnected), otherwise
  the link initiated by the lower public key wins. Both ends apply the same rule.
- Every bound is in `TransportLimits`. A frame longer than the limit, a malformed or
  undecryptable frame closes the link at once and lowers the peer's score; so does a failed
  handshake with a peer we dialled (an inbound peer has no identity until the handshake ends,
  so failures there are only counted). `penalise` lowers the score too. A score at or below
  `score_ban_threshold` bans the peer for `ban_ms`: its link is closed, it is neither dialled
  nor accepted, and when the ban ends its score starts again from zero.
- `send` never blocks and never grows memory past the per-peer queue bounds: a frame that does
  not fit is dropped and counted. Delivery is best effort (a link can drop with frames queued);
  the consensus layer above tolerates loss.
- Each side sends a keepalive at link start and after `keepalive_ms` of silence; a link that
  receives nothing for `idle_ms_max` is closed. A dropped link to a dialled peer is redialled
  with exponential backoff and jitter (`reconnect_delay_ms`), reset once a link carried a
  frame from the peer.
- `on_message` runs on the event loop; an exception from it is logged and counted, never fatal.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
import secrets
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from bakong import limits as system_limits
from bakong.errors import RemoteError
from bakong.node import noise
from bakong.wire.keys import SigningKey, public_key_size

__all__ = [
    "LinkError",
    "PeerStat",
    "Transport",
    "TransportLimits",
    "TransportStats",
    "chunk_plaintext_bytes_max",
    "frame_ciphertext_bytes",
    "length_prefix_bytes",
    "open_frame",
    "prologue",
    "reconnect_delay_ms",
    "seal_frame",
]

log = logging.getLogger(__name__)

length_prefix_bytes = 4
chunk_plaintext_bytes_max = noise.message_bytes_max - noise.tag_bytes
# The frame bound (`limits.frame_bytes_max`) with the chunk tags must fit the `u32 L` prefix.
assert system_limits.frame_bytes_max < 2**32 - 2**20


class LinkError(RemoteError):
    """A peer broke the wire format: an oversized, malformed or unexpected frame or message."""


@dataclass(frozen=True, slots=True)
class TransportLimits:
    frame_bytes_max: int = system_limits.frame_bytes_max  # payload bytes of one frame
    handshake_ms_max: int = 5_000  # connect and the whole handshake
    send_queue_frames_max: int = 1_024  # per peer
    send_queue_bytes_max: int = 32 * 1024 * 1024  # per peer (payload bytes)
    reconnect_delay_ms_min: int = 200
    reconnect_delay_ms_max: int = 30_000
    keepalive_ms: int = 5_000  # an empty frame after this long without sending
    idle_ms_max: int = 20_000  # close a link that received nothing for this long
    frame_read_ms_max: int = 60_000  # one frame's body, once its length has arrived
    write_ms_max: int = 30_000  # a peer that takes longer to accept our bytes is dropped
    inbound_handshakes_max: int = 64  # concurrent unauthenticated connections
    extra_peers_max: int = 256  # records of keys we accept but do not dial (full nodes)
    score_ban_threshold: int = -100
    score_penalty_protocol: int = 50  # an oversized, malformed or undecryptable frame
    score_penalty_handshake: int = 25  # a peer we dialled failed the handshake
    score_penalty_invalid: int = 10  # `penalise`: the node found a message invalid
    ban_ms: int = 60_000

    def __post_init__(self) -> None:
        assert 0 < self.frame_bytes_max <= system_limits.frame_bytes_max
        assert self.send_queue_frames_max > 0
        assert self.send_queue_bytes_max >= self.frame_bytes_max  # the largest frame fits
        assert 0 < self.reconnect_delay_ms_min <= self.reconnect_delay_ms_max
        assert 0 < self.keepalive_ms < self.idle_ms_max
        assert self.handshake_ms_max > 0 and self.frame_read_ms_max > 0 and self.write_ms_max > 0
        assert self.inbound_handshakes_max > 0 and self.extra_peers_max > 0
        assert self.score_ban_threshold < 0 and self.ban_ms > 0
        assert min(self.score_penalty_protocol, self.score_penalty_handshake) > 0
        assert self.score_penalty_invalid > 0


@dataclass(frozen=True, slots=True)
class PeerStat:
    public_key: bytes
    address: str  # the live link's remote "host:port", else the address we dial, else ""
    local_address: str  # our end of the live link, "" when not connected
    connected: bool
    outbound: bool | None  # True when we opened the live link; None when not connected
    dialling: bool  # we are connecting to this peer right now
    score: int
    banned: bool
    frames_in: int  # delivered payloads (keepalives not counted)
    frames_out: int  # payloads written to the socket
    bytes_in: int  # wire bytes, keepalives and framing included
    bytes_out: int
    drops: int  # payloads refused because the send queue was full
    queued_frames: int
    queued_bytes: int
    links: int  # links established with this peer so far
    handler_errors: int  # exceptions raised by `on_message` for this peer's payloads
    last_reason: str  # why the last link closed, or the last penalty


@dataclass(frozen=True, slots=True)
class TransportStats:
    handshakes_failed: int  # timed out, bad bytes, wrong identity or chain, cut short
    refused: int  # authenticated, then refused: not allowed, banned or no room
    duplicates: int  # links closed because another link to the same peer won
    handler_errors: int


def prologue(chain_id: str) -> bytes:
    return b"bakong-p2p/1/" + chain_id.encode()


def reconnect_delay_ms(attempt: int, limits: TransportLimits, rng: random.Random) -> int:
    """Exponential backoff with jitter: uniform in [base/2, base], base = min * 2**attempt."""
    assert attempt >= 0
    base = min(limits.reconnect_delay_ms_max, limits.reconnect_delay_ms_min << min(attempt, 32))
    return max(1, round(base * (0.5 + 0.5 * rng.random())))


def frame_ciphertext_bytes(payload_bytes: int) -> int:
    """L for a payload of this size: the inner length, the payload and one tag per chunk."""
    stream = length_prefix_bytes + payload_bytes
    chunks = -(-stream // chunk_plaintext_bytes_max)
    return stream + chunks * noise.tag_bytes


def _check_frame_length(length: int, payload_bytes_max: int) -> None:
    if length > frame_ciphertext_bytes(payload_bytes_max):
        raise LinkError("frame_oversized", f"a frame of {length} bytes")
    chunks = -(-length // noise.message_bytes_max)
    payload_bytes = length - chunks * noise.tag_bytes - length_prefix_bytes
    if payload_bytes < 0 or frame_ciphertext_bytes(payload_bytes) != length:
        raise LinkError("frame_malformed", f"no frame has {length} bytes")


def seal_frame(cipher: noise.CipherState, payload: bytes) -> bytes:
    """The bytes of one frame, `u32 L` included."""
    stream = len(payload).to_bytes(length_prefix_bytes, "big") + payload
    step = chunk_plaintext_bytes_max
    body = b"".join(cipher.encrypt(stream[i : i + step]) for i in range(0, len(stream), step))
    return len(body).to_bytes(length_prefix_bytes, "big") + body


def open_frame(cipher: noise.CipherState, body: bytes, payload_bytes_max: int) -> bytes:
    """The payload of a frame body (the L bytes after `u32 L`). Raises `RemoteError`."""
    _check_frame_length(len(body), payload_bytes_max)
    step = noise.message_bytes_max
    stream = b"".join(cipher.decrypt(body[i : i + step]) for i in range(0, len(body), step))
    if int.from_bytes(stream[:length_prefix_bytes], "big") != len(stream) - length_prefix_bytes:
        raise LinkError("frame_malformed", "the inner length disagrees with the frame")
    return stream[length_prefix_bytes:]


def _address(pair: Any) -> str:
    if isinstance(pair, tuple) and len(pair) >= 2:
        return f"{pair[0]}:{pair[1]}"
    return ""


class _Link:
    """One authenticated TCP connection, live until `reason` is set."""

    __slots__ = (
        "confirmed",
        "done",
        "local",
        "outbound",
        "queue",
        "queue_bytes",
        "ready",
        "reason",
        "reader",
        "remote",
        "session",
        "writer",
    )

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session: noise.Session,
        outbound: bool,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.session = session
        self.outbound = outbound
        self.local = _address(writer.get_extra_info("sockname"))
        self.remote = _address(writer.get_extra_info("peername"))
        self.queue: deque[bytes] = deque()
        self.queue_bytes = 0
        self.ready = asyncio.Event()  # the queue has a payload
        self.done = asyncio.Event()  # the link is over and forgotten
        self.reason: str | None = None
        self.confirmed = False  # a frame arrived: the peer kept this link

    def close(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        # abort, not close: a peer that stopped reading would hold a graceful close forever.
        self.writer.transport.abort()


class _Peer:
    """What we know about one public key; outlives its links."""

    __slots__ = (
        "banned_until",
        "bytes_in",
        "bytes_out",
        "dial_address",
        "dialling",
        "drops",
        "frames_in",
        "frames_out",
        "handler_errors",
        "key",
        "last_reason",
        "link",
        "links",
        "score",
    )

    def __init__(self, key: bytes, dial_address: tuple[str, int] | None) -> None:
        self.key = key
        self.dial_address = dial_address
        self.dialling = False  # a connection or handshake to this peer is in progress
        self.link: _Link | None = None
        self.score = 0
        self.banned_until = 0.0  # event-loop time; 0 when not banned
        self.frames_in = self.frames_out = self.bytes_in = self.bytes_out = 0
        self.drops = self.links = self.handler_errors = 0
        self.last_reason = ""

    def live(self) -> _Link | None:
        link = self.link
        return link if link is not None and link.reason is None else None


async def _read_handshake_message(reader: asyncio.StreamReader) -> bytes:
    length = int.from_bytes(await reader.readexactly(length_prefix_bytes), "big")
    if length > system_limits.handshake_message_bytes_max:
        raise LinkError("handshake_oversized", f"a handshake message of {length} bytes")
    return await reader.readexactly(length)


def _write_handshake_message(writer: asyncio.StreamWriter, message: bytes) -> None:
    writer.write(len(message).to_bytes(length_prefix_bytes, "big") + message)


def _identity(state: noise.HandshakeState, payload: bytes) -> bytes:
    """The Ed25519 key in a handshake payload, checked against the proven Noise static key."""
    remote_static = state.remote_static
    converted = noise.static_public_from_ed25519(payload)
    if converted is None or remote_static is None or len(payload) != public_key_size:
        raise LinkError("identity_malformed", "the handshake payload is not an Ed25519 key")
    if not hmac.compare_digest(converted, remote_static):
        raise LinkError("identity_mismatch", "the Ed25519 key is not the Noise static key")
    return payload


class Transport:
    """Links to peers: dials `peers`, accepts keys that `allowed` approves (see module doc)."""

    def __init__(
        self,
        *,
        chain_id: str,
        key: SigningKey,
        listen: tuple[str, int],
        peers: Mapping[bytes, tuple[str, int]],
        allowed: Callable[[bytes], bool],
        on_message: Callable[[bytes, bytes], None],
        limits: TransportLimits | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.chain_id = chain_id
        self.public_key = bytes(key.public_key)
        self.limits = limits or TransportLimits()
        self._static_private = noise.static_private_from_ed25519(key)
        self._prologue = prologue(chain_id)
        self._listen = listen
        self._allowed = allowed
        self._on_message = on_message
        self._rng = rng or random.Random()
        self._peers: dict[bytes, _Peer] = {}
        self._diallers: dict[bytes, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._started = False
        self._closing = False
        self._inbound_handshakes = 0
        self._handshakes_failed = self._refused = self._duplicates = self._handler_errors = 0
        self._initial_peers = dict(peers)

    # -- public interface -------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the listener and start dialling every peer."""
        assert not self._started, "start() is called once"
        self._started = True
        host, port = self._listen
        self._server = await asyncio.start_server(self._on_accept, host, port)
        self.set_peers(self._initial_peers)

    async def close(self) -> None:
        """Stop listening, close every link, and wait until no task of ours is left."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        for peer in self._peers.values():
            if peer.link is not None:
                peer.link.close("transport_closed")
        while self._tasks:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self._diallers.clear()
        if self._server is not None:
            await self._server.wait_closed()
        await asyncio.sleep(0)  # let aborted sockets run their connection_lost callbacks

    def set_peers(self, peers: Mapping[bytes, tuple[str, int]]) -> None:
        """Replace the set of peers we dial (the validator set changed). A peer left out is no
        longer dialled and the link we opened to it closes; a link it opened stays up while
        `allowed` accepts its key (`disconnect` closes it)."""
        assert self._started, "start() first"
        for key in sorted(self._diallers.keys() - peers.keys()):
            self._diallers.pop(key).cancel()
            self._peers[key].dial_address = None
        for key, address in sorted(peers.items()):
            assert len(key) == public_key_size
            if key == self.public_key or self._closing:
                continue
            peer = self._peers.get(key)
            if peer is None:
                peer = self._peers[key] = _Peer(key, address)
            peer.dial_address = address
            if key not in self._diallers:
                self._diallers[key] = self._spawn(self._dial_loop(peer))

    def send(self, peer: bytes, payload: bytes) -> bool:
        """Queue `payload` (1..frame_bytes_max bytes) for `peer`. Never blocks. False when the
        peer has no live link, or its queue is full (the payload is dropped and counted)."""
        assert 0 < len(payload) <= self.limits.frame_bytes_max
        record = self._peers.get(peer)
        link = record.live() if record is not None else None
        if record is None or link is None:
            return False
        if (
            len(link.queue) >= self.limits.send_queue_frames_max
            or link.queue_bytes + len(payload) > self.limits.send_queue_bytes_max
        ):
            record.drops += 1
            return False
        link.queue.append(payload)
        link.queue_bytes += len(payload)
        link.ready.set()
        return True

    def broadcast(self, payload: bytes) -> int:
        """Send to every connected peer; how many queued it."""
        return sum(self.send(peer, payload) for peer in self.connected())

    def connected(self) -> list[bytes]:
        return sorted(key for key, peer in self._peers.items() if peer.live() is not None)

    def penalise(self, peer: bytes, reason: str) -> None:
        """The node found a message from `peer` invalid: lower its score (maybe ban it)."""
        record = self._peers.get(peer)
        if record is not None:
            self._punish(record, self.limits.score_penalty_invalid, reason)

    def disconnect(self, peer: bytes, reason: str = "disconnected") -> bool:
        """Close the live link to `peer`, if any. A dialled peer is redialled after a delay."""
        record = self._peers.get(peer)
        link = record.live() if record is not None else None
        if record is None or link is None:
            return False
        link.close(reason)
        record.last_reason = reason
        return True

    def peer_stats(self) -> list[PeerStat]:
        now = asyncio.get_running_loop().time()
        return [self._stat(self._peers[key], now) for key in sorted(self._peers)]

    def stats(self) -> TransportStats:
        return TransportStats(
            handshakes_failed=self._handshakes_failed,
            refused=self._refused,
            duplicates=self._duplicates,
            handler_errors=self._handler_errors,
        )

    @property
    def listen_port(self) -> int:
        assert self._server is not None and self._server.sockets, "start() first"
        port = self._server.sockets[0].getsockname()[1]
        assert isinstance(port, int)
        return port

    # -- peers, scores and bans -------------------------------------------------------------

    def _stat(self, peer: _Peer, now: float) -> PeerStat:
        link = peer.live()
        dial = f"{peer.dial_address[0]}:{peer.dial_address[1]}" if peer.dial_address else ""
        return PeerStat(
            public_key=peer.key,
            address=link.remote if link is not None else dial,
            local_address=link.local if link is not None else "",
            connected=link is not None,
            outbound=link.outbound if link is not None else None,
            dialling=peer.dialling,
            score=peer.score,
            banned=peer.banned_until > now,
            frames_in=peer.frames_in,
            frames_out=peer.frames_out,
            bytes_in=peer.bytes_in,
            bytes_out=peer.bytes_out,
            drops=peer.drops,
            queued_frames=len(link.queue) if link is not None else 0,
            queued_bytes=link.queue_bytes if link is not None else 0,
            links=peer.links,
            handler_errors=peer.handler_errors,
            last_reason=peer.last_reason,
        )

    def _punish(self, peer: _Peer, penalty: int, reason: str) -> None:
        peer.score -= penalty
        peer.last_reason = reason
        if peer.score > self.limits.score_ban_threshold:
            return
        loop = asyncio.get_running_loop()
        peer.banned_until = loop.time() + self.limits.ban_ms / 1000
        log.warning("banned peer %s (score %d, %s)", peer.key.hex()[:16], peer.score, reason)
        if peer.link is not None:
            peer.link.close("banned")

    def _banned(self, peer: _Peer, now: float) -> bool:
        if peer.banned_until > now:
            return True
        if peer.banned_until:  # the ban is over: start again from a clean score
            peer.banned_until = 0.0
            peer.score = 0
        return False

    def _record_for_inbound(self, key: bytes) -> _Peer | None:
        """The record of an authenticated inbound key, made if needed; None when we refuse it."""
        peer = self._peers.get(key)
        if peer is not None:
            return peer if peer.dial_address is not None or self._allows(key) else None
        if key == self.public_key or not self._allows(key):
            return None
        extra = [p for p in self._peers.values() if p.dial_address is None]
        if len(extra) >= self.limits.extra_peers_max:
            now = asyncio.get_running_loop().time()
            idle = [p for p in extra if p.link is None and not self._banned(p, now)]
            if not idle:
                return None
            del self._peers[idle[0].key]  # the oldest idle record
        peer = self._peers[key] = _Peer(key, None)
        return peer

    def _allows(self, key: bytes) -> bool:
        try:
            return bool(self._allowed(key))
        except Exception:  # the node's predicate failed: refuse rather than lose the task
            log.exception("allowed() failed for %s", key.hex()[:16])
            return False

    def _admit(self, peer: _Peer, link: _Link) -> bool:
        """Make `link` the peer's link, unless the one-link rule keeps the existing one."""
        if self._closing or self._banned(peer, asyncio.get_running_loop().time()):
            self._refused += 1
            return False
        existing = peer.live()
        if existing is not None:
            lower_initiated = link.outbound == (self.public_key < peer.key)
            if existing.outbound != link.outbound:  # both ends dialled: a tie to break
                self._duplicates += 1
                if not lower_initiated:
                    return False
            existing.close("replaced")  # by the winner of the tie, or by the peer's new link
            # What the old link had not written yet goes out on the new one, in order; what
            # was already in its socket is lost with it.
            link.queue, link.queue_bytes = existing.queue, existing.queue_bytes
            existing.queue, existing.queue_bytes = deque(), 0
            if link.queue:
                link.ready.set()
        peer.link = link
        peer.links += 1
        return True

    # -- tasks ------------------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _on_accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._closing or self._inbound_handshakes >= self.limits.inbound_handshakes_max:
            self._refused += 1
            writer.transport.abort()
            return
        self._inbound_handshakes += 1
        self._spawn(self._accept(reader, writer))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                session, key = await self._handshake(reader, writer, initiator=False)
            finally:
                self._inbound_handshakes -= 1
            peer = self._record_for_inbound(key)
            if peer is None:
                self._refused += 1
                return
            link = _Link(reader, writer, session, outbound=False)
            if self._admit(peer, link):
                await self._serve(peer, link)
        except (RemoteError, TimeoutError, OSError, asyncio.IncompleteReadError) as error:
            self._handshakes_failed += 1
            log.debug("inbound handshake failed: %r", error)
        finally:
            writer.transport.abort()

    async def _dial_loop(self, peer: _Peer) -> None:
        attempt = 0
        loop = asyncio.get_running_loop()
        while not self._closing:
            now = loop.time()
            if self._banned(peer, now):
                await asyncio.sleep(peer.banned_until - now)
                continue
            link = peer.live()
            if link is not None:
                await link.done.wait()
                confirmed = link.confirmed
            else:
                confirmed = await self._dial_once(peer)
            attempt = 0 if confirmed else min(attempt + 1, system_limits.reconnect_doublings_max)
            delay = reconnect_delay_ms(attempt, self.limits, self._rng)
            await asyncio.sleep(delay / 1000)

    async def _dial_once(self, peer: _Peer) -> bool:
        """Connect, handshake and serve one outbound link; True if the peer kept it."""
        address = peer.dial_address
        assert address is not None
        writer: asyncio.StreamWriter | None = None
        peer.dialling = True
        try:
            async with asyncio.timeout(self.limits.handshake_ms_max / 1000):
                reader, writer = await asyncio.open_connection(address[0], address[1])
            session, _ = await self._handshake(reader, writer, initiator=True, expected=peer.key)
            link = _Link(reader, writer, session, outbound=True)
            peer.dialling = False
            if not self._admit(peer, link):
                return False
            await self._serve(peer, link)
            return link.confirmed
        except RemoteError as error:  # the peer we dialled failed the handshake
            self._handshakes_failed += 1
            log.info("handshake with %s failed: %s", peer.key.hex()[:16], error)
            if error.code != "unexpected_identity":  # someone else answers: not this peer's fault
                self._punish(peer, self.limits.score_penalty_handshake, error.code)
            return False
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as error:
            self._handshakes_failed += writer is not None
            log.debug("dial %s failed: %r", peer.key.hex()[:16], error)
            return False
        finally:
            peer.dialling = False
            if writer is not None:
                writer.transport.abort()

    async def _handshake(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        initiator: bool,
        expected: bytes | None = None,
    ) -> tuple[noise.Session, bytes]:
        """Run XX within `handshake_ms_max`; the session and the peer's Ed25519 key."""
        state = noise.HandshakeState(
            initiator=initiator,
            prologue=self._prologue,
            static_private=self._static_private,
            ephemeral_private=secrets.token_bytes(noise.dh_bytes),
        )
        async with asyncio.timeout(self.limits.handshake_ms_max / 1000):
            if initiator:
                _write_handshake_message(writer, state.write_message(b""))
                key = _identity(state, state.read_message(await _read_handshake_message(reader)))
                if key != expected:  # stop before our identity goes to the wrong peer
                    raise LinkError("unexpected_identity", "not the key we dialled")
                _write_handshake_message(writer, state.write_message(self.public_key))
            else:
                if state.read_message(await _read_handshake_message(reader)):
                    raise LinkError("handshake_malformed", "message 1 has a payload")
                _write_handshake_message(writer, state.write_message(self.public_key))
                key = _identity(state, state.read_message(await _read_handshake_message(reader)))
            await writer.drain()
        return state.session(), key

    # -- a live link ------------------------------------------------------------------------

    async def _serve(self, peer: _Peer, link: _Link) -> None:
        """Run one admitted link until it closes, then forget it."""
        writer_task = self._spawn(self._write_loop(peer, link))
        try:
            await self._read_loop(peer, link)
        except RemoteError as error:
            link.close(error.code)
            self._punish(peer, self.limits.score_penalty_protocol, error.code)
        except TimeoutError:
            link.close("idle_timeout")
        except asyncio.IncompleteReadError:
            link.close("closed_by_peer")
        except OSError:
            link.close("connection_lost")
        finally:
            link.close("closed")
            writer_task.cancel()
            if peer.link is link:
                peer.link = None
            peer.last_reason = link.reason or ""
            link.done.set()
            log.info("link to %s closed: %s", peer.key.hex()[:16], link.reason)

    async def _read_loop(self, peer: _Peer, link: _Link) -> None:
        limits = self.limits
        while link.reason is None:
            async with asyncio.timeout(limits.idle_ms_max / 1000):
                header = await link.reader.readexactly(length_prefix_bytes)
            length = int.from_bytes(header, "big")
            _check_frame_length(length, limits.frame_bytes_max)
            async with asyncio.timeout(limits.frame_read_ms_max / 1000):
                body = await link.reader.readexactly(length)
            payload = open_frame(link.session.receive, body, limits.frame_bytes_max)
            link.confirmed = True
            peer.bytes_in += length_prefix_bytes + length
            if payload and link.reason is None:
                peer.frames_in += 1
                self._deliver(peer, payload)

    def _deliver(self, peer: _Peer, payload: bytes) -> None:
        try:
            self._on_message(peer.key, payload)
        except Exception:
            peer.handler_errors += 1
            self._handler_errors += 1
            log.exception("on_message failed for a payload from %s", peer.key.hex()[:16])

    async def _write_loop(self, peer: _Peer, link: _Link) -> None:
        try:
            await self._write_frames(peer, link)
        except TimeoutError:
            link.close("write_timeout")
        except OSError:
            link.close("connection_lost")

    async def _write_frames(self, peer: _Peer, link: _Link) -> None:
        keepalive_s = self.limits.keepalive_ms / 1000
        payload = b""  # a keepalive first: it tells the peer we kept this link
        while link.reason is None:
            frame = seal_frame(link.session.send, payload)
            link.writer.write(frame)
            peer.bytes_out += len(frame)
            peer.frames_out += bool(payload)
            async with asyncio.timeout(self.limits.write_ms_max / 1000):
                await link.writer.drain()
            payload = b""
            if not link.queue:
                link.ready.clear()
                try:
                    async with asyncio.timeout(keepalive_s):
                        await link.ready.wait()
                except TimeoutError:
                    continue  # silent for keepalive_ms: send an empty frame
            if link.queue:
                payload = link.queue.popleft()
                link.queue_bytes -= len(payload)
