"""Signed API requests: who calls the core API, and which node the call is for.

Design section 3: every call to the core API, except status, health and metrics, is signed by
a participant's gateway key or a central bank key. A request carries four headers:

    X-Bakong-Key:        the caller's Ed25519 public key, 64 hex digits
    X-Bakong-Node:       the receiving node's public key (its `/v1/status` `node_key`), 64 hex
    X-Bakong-Time:       the caller's clock, Unix milliseconds, decimal
    X-Bakong-Signature:  Ed25519 signature, 128 hex digits

The signature covers `digest(API_REQUEST, chain_id, canonical([node_key, method, target,
body_hash, time_ms]))` where `method` is upper case, `target` is the path with its query
string exactly as sent (for a WebSocket, the GET that opens it), and `body_hash` is SHA-256 of
the raw body (of the empty string when there is none). The chain id in the prefix means a
request signed for a test chain never authenticates on the production chain; the node key
means a request signed for one validator never authenticates on another.

Why the node's key and not the Host header: proxies and load balancers rewrite Host, one node
answers to several names (an IP, a DNS name, a tunnel), and two nodes behind one name would
share it. The node key is one per node, survives restarts and readdressing, and is public:
a client learns it from the unsigned status route once per node, or is configured with it.

A server checks, in this order, and refuses with the first failure's stable code:
1. the headers are present and well formed: 401 `unauthenticated`;
2. `X-Bakong-Node` is the server's own key: 401 `wrong_node` (signed for another node; a client
   that learned the key learns it again);
3. `|now - time_ms| <= request_skew_ms_max`: 401 `request_expired`;
4. the signature verifies over the server's own key: 401 `bad_signature`;
5. the replay window (`ReplayWindow`) has not accepted this signature: 401 `request_replayed`;
   has room for it: 503 `replay_window_full` (a full window refuses new requests rather than
   forget one still inside it, which could then be replayed); and still knows every request
   it accepted at that time: 503 `replay_window_lost` (`SeenRequests.refused_before_ms`).

`SeenRequests` is the window in memory; the node keeps it across restarts
(`bakong.node.seen_requests`). Who the key belongs to, and what it may do, is the server's
business (the participant index in the ledger state).
"""

from __future__ import annotations

import enum
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from bakong import limits
from bakong.wire import keys
from bakong.wire.codec import encode
from bakong.wire.hashing import Domain, digest

__all__ = [
    "KEY_HEADER",
    "NODE_HEADER",
    "SIGNATURE_HEADER",
    "TIME_HEADER",
    "ReplayWindow",
    "RequestProblem",
    "Seen",
    "SeenRequests",
    "check_request",
    "request_message",
    "sign_request",
]

KEY_HEADER = "x-bakong-key"
NODE_HEADER = "x-bakong-node"
TIME_HEADER = "x-bakong-time"
SIGNATURE_HEADER = "x-bakong-signature"


def request_message(
    chain_id: str, node_key: bytes, method: str, target: str, body: bytes, time_ms: int
) -> bytes:
    """The bytes a request signature covers (module docstring)."""
    body_hash = hashlib.sha256(body).digest()
    fields = [node_key, method.upper(), target, body_hash, time_ms]
    return digest(Domain.API_REQUEST, chain_id, encode(fields))


def sign_request(
    chain_id: str,
    node_key: bytes,
    key: keys.SigningKey,
    method: str,
    target: str,
    body: bytes,
    time_ms: int,
) -> dict[str, str]:
    """The four headers of a request signed for the node whose public key is `node_key`."""
    signature = key.sign(request_message(chain_id, node_key, method, target, body, time_ms))
    return {
        KEY_HEADER: key.public_key.hex(),
        NODE_HEADER: node_key.hex(),
        TIME_HEADER: str(time_ms),
        SIGNATURE_HEADER: signature.hex(),
    }


@dataclass(frozen=True, slots=True)
class RequestProblem:
    """Why a request does not authenticate: `code` is stable, `message` is for people;
    `status` is 401, or 503 when the same request may succeed later, re-signed."""

    code: str
    message: str
    status: int = 401


class Seen(enum.Enum):
    """A replay window's verdict on a signature."""

    NEW = "new"  # remembered now: accept the request
    REPLAYED = "replayed"  # accepted before, inside the window
    FULL = "full"  # no room, and nothing in the window may be forgotten
    LOST = "lost"  # signed while the window was lost (module docstring, rule 5)


class ReplayWindow(Protocol):
    """Where accepted signatures are remembered (`SeenRequests`, or the node's persisted one)."""

    def add(self, signature: bytes, time_ms: int, now_ms: int) -> Seen: ...


_problems = {
    Seen.REPLAYED: RequestProblem("request_replayed", "this signed request was already received"),
    Seen.FULL: RequestProblem(
        "replay_window_full", "too many signed requests in the last minutes: retry later", 503
    ),
    Seen.LOST: RequestProblem(
        "replay_window_lost", "the node lost its recent requests in a crash: retry later", 503
    ),
}


def _parse_hex(text: str | None, size: int) -> bytes | None:
    if text is None or len(text) != 2 * size:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def check_request(
    chain_id: str,
    node_key: bytes,
    method: str,
    target: str,
    body: bytes,
    headers: dict[str, str],
    now_ms: int,
    seen: ReplayWindow,
) -> bytes | RequestProblem:
    """The caller's public key, or why the request is refused (module docstring, rules 1-5).
    `node_key` is the server's own; `headers` has lower-case names."""
    public_key = _parse_hex(headers.get(KEY_HEADER), keys.public_key_size)
    addressed_to = _parse_hex(headers.get(NODE_HEADER), keys.public_key_size)
    signature = _parse_hex(headers.get(SIGNATURE_HEADER), keys.signature_size)
    time_text = headers.get(TIME_HEADER, "")
    if public_key is None or addressed_to is None or signature is None:
        return RequestProblem("unauthenticated", "sign the request (X-Bakong-* headers)")
    if (
        not time_text.isdigit()
        or len(time_text) > 16
        or len(target) > limits.request_target_chars_max
    ):
        return RequestProblem("unauthenticated", "bad X-Bakong-Time or request target too long")
    if addressed_to != node_key:
        return RequestProblem("wrong_node", f"signed for another node; this is {node_key.hex()}")
    time_ms = int(time_text)
    if abs(now_ms - time_ms) > limits.request_skew_ms_max:
        return RequestProblem("request_expired", "X-Bakong-Time is too far from the server clock")
    message = request_message(chain_id, node_key, method, target, body, time_ms)
    if not keys.verify(public_key, message, signature):
        return RequestProblem("bad_signature", "the request signature does not verify")
    verdict = seen.add(signature, time_ms, now_ms)
    return public_key if verdict is Seen.NEW else _problems[verdict]


class SeenRequests:
    """Signatures of accepted requests still inside the window, to refuse replays.

    `refused_before_ms`: requests signed before this time are refused (`Seen.LOST`), because
    the signatures accepted around then were lost; the persisted window sets it after a
    machine crash. Entries are kept while `time_ms >= now_ms - request_memory_ms`.
    """

    def __init__(
        self, entries_max: int = limits.seen_requests_max, refused_before_ms: int = 0
    ) -> None:
        assert entries_max > 0
        self._entries: OrderedDict[bytes, int] = OrderedDict()  # signature -> time_ms
        self._entries_max = entries_max
        self.refused_before_ms = refused_before_ms

    def add(self, signature: bytes, time_ms: int, now_ms: int) -> Seen:
        """`Seen.NEW` (and remembered) unless replayed, full or lost (class docstring)."""
        self._forget_before(now_ms - limits.request_memory_ms)
        if signature in self._entries:
            return Seen.REPLAYED
        if time_ms < self.refused_before_ms:
            return Seen.LOST
        if len(self._entries) >= self._entries_max:
            return Seen.FULL
        self._entries[signature] = time_ms
        return Seen.NEW

    def remember(self, signature: bytes, time_ms: int) -> None:
        """Take back an entry accepted before a restart (the persisted window loads them)."""
        self._entries[signature] = time_ms

    def _forget_before(self, cutoff_ms: int) -> None:
        # Entries arrive in server-clock order within the skew, so the oldest are first; one
        # out of order is kept a little longer, never forgotten early.
        while self._entries:
            signature, time_ms = next(iter(self._entries.items()))
            if time_ms >= cutoff_ms:
                return
            del self._entries[signature]

    def __len__(self) -> int:
        return len(self._entries)
