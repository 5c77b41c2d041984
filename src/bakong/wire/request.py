"""Signed API requests: how a gateway or the central bank proves who calls the core API.

Design section 3: every call to the core API, except status, health and metrics, is signed by
a participant's gateway key or a central bank key. A request carries three headers:

    X-Bakong-Key:        the caller's Ed25519 public key, 64 hex digits
    X-Bakong-Time:       the caller's clock, Unix milliseconds, decimal
    X-Bakong-Signature:  Ed25519 signature, 128 hex digits

The signature covers `digest(API_REQUEST, chain_id, canonical([method, target, body_hash,
time_ms]))` where `method` is upper case, `target` is the path with its query string exactly
as sent (for a WebSocket, the GET that opens it), and `body_hash` is SHA-256 of the raw body
(of the empty string when there is none). The chain id in the prefix means a request signed
for a test chain never authenticates on the production chain.

A server accepts a request when the signature verifies and `|now - time_ms|` is within
`request_skew_ms_max`; it then refuses the same signature again within that window (replay),
which `SeenRequests` remembers. Who the key belongs to, and what it may do, is the server's
business (the participant index in the ledger state).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from bakong.wire import keys
from bakong.wire.codec import encode
from bakong.wire.hashing import Domain, digest

__all__ = [
    "KEY_HEADER",
    "SIGNATURE_HEADER",
    "TIME_HEADER",
    "RequestProblem",
    "SeenRequests",
    "check_request",
    "request_message",
    "request_skew_ms_max",
    "sign_request",
]

KEY_HEADER = "x-bakong-key"
TIME_HEADER = "x-bakong-time"
SIGNATURE_HEADER = "x-bakong-signature"

#: A request's clock may differ from the server's by this much either way.
request_skew_ms_max = 60_000
#: Signatures remembered to refuse replays; more than a busy gateway sends in a window.
seen_requests_max = 1_000_000
_target_chars_max = 2_048


def request_message(chain_id: str, method: str, target: str, body: bytes, time_ms: int) -> bytes:
    """The bytes a request signature covers (module docstring)."""
    body_hash = hashlib.sha256(body).digest()
    fields = [method.upper(), target, body_hash, time_ms]
    return digest(Domain.API_REQUEST, chain_id, encode(fields))


def sign_request(
    chain_id: str, key: keys.SigningKey, method: str, target: str, body: bytes, time_ms: int
) -> dict[str, str]:
    """The three headers of a signed request."""
    signature = key.sign(request_message(chain_id, method, target, body, time_ms))
    return {
        KEY_HEADER: key.public_key.hex(),
        TIME_HEADER: str(time_ms),
        SIGNATURE_HEADER: signature.hex(),
    }


@dataclass(frozen=True, slots=True)
class RequestProblem:
    """Why a request does not authenticate: `code` is stable, `message` is for people."""

    code: str
    message: str


def _parse_hex(text: str | None, size: int) -> bytes | None:
    if text is None or len(text) != 2 * size:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def check_request(
    chain_id: str,
    method: str,
    target: str,
    body: bytes,
    headers: dict[str, str],
    now_ms: int,
    seen: SeenRequests,
) -> bytes | RequestProblem:
    """The caller's public key, or why the request is refused. `headers` has lower-case names."""
    public_key = _parse_hex(headers.get(KEY_HEADER), keys.public_key_size)
    signature = _parse_hex(headers.get(SIGNATURE_HEADER), keys.signature_size)
    time_text = headers.get(TIME_HEADER, "")
    if public_key is None or signature is None or not time_text.isdigit() or len(time_text) > 16:
        return RequestProblem("unauthenticated", "sign the request (X-Bakong-* headers)")
    if len(target) > _target_chars_max:
        return RequestProblem("unauthenticated", "request target too long")
    time_ms = int(time_text)
    if abs(now_ms - time_ms) > request_skew_ms_max:
        return RequestProblem("request_expired", "X-Bakong-Time is too far from the server clock")
    message = request_message(chain_id, method, target, body, time_ms)
    if not keys.verify(public_key, message, signature):
        return RequestProblem("bad_signature", "the request signature does not verify")
    if not seen.add(signature, time_ms, now_ms):
        return RequestProblem("request_replayed", "this signed request was already received")
    return public_key


class SeenRequests:
    """Signatures of accepted requests still inside the skew window, to refuse replays."""

    def __init__(self, entries_max: int = seen_requests_max) -> None:
        assert entries_max > 0
        self._entries: OrderedDict[bytes, int] = OrderedDict()  # signature -> time_ms
        self._entries_max = entries_max

    def add(self, signature: bytes, time_ms: int, now_ms: int) -> bool:
        """False when `signature` was seen within the window; remember it otherwise."""
        self._forget_before(now_ms - 2 * request_skew_ms_max)
        if signature in self._entries:
            return False
        if len(self._entries) >= self._entries_max:
            self._entries.popitem(last=False)
        self._entries[signature] = time_ms
        return True

    def _forget_before(self, cutoff_ms: int) -> None:
        # Entries arrive in server-clock order within the skew, so the oldest are first.
        while self._entries:
            signature, time_ms = next(iter(self._entries.items()))
            if time_ms >= cutoff_ms:
                return
            del self._entries[signature]

    def __len__(self) -> int:
        return len(self._entries)
