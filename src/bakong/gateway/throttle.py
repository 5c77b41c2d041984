"""Per-client rate limits of the gateway's unauthenticated doors: login and code requests.

The per-wallet PIN lockout (`pins`) stops guessing one wallet's PIN and the per-phone quota
(`otp`) stops texting one phone; neither stops one machine trying a PIN against many wallets or
asking codes for many phones. A token bucket per client address does.

Rules:
- A bucket holds at most `burst` requests and refills at `per_min` a minute. A request that
  finds it empty is refused with 429 `rate_limited` and a `Retry-After` of the whole seconds
  until a request is available. Tokens are counted in 1/60,000ths, so one token per minute is
  one unit per millisecond and the arithmetic stays in integers. The clock is the caller's (the
  gateway's injected one); a clock that steps back refills nothing.
- The client address is the ASGI peer: behind a proxy, uvicorn's `--forwarded-allow-ips` makes
  it the forwarded address. A request with no peer shares one bucket ("unknown").
- At most `limits.client_addresses_tracked_max` buckets are kept; the least recently seen is
  forgotten first, so a flood of addresses costs bounded memory (a forgotten address starts
  over with a full bucket, as a new one does).
- Buckets live in the process, used from the event loop only (no lock needed). Addresses are
  not personal data under this module's use: they are never logged or exported.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from bakong import limits
from bakong.gateway.problems import json_response

__all__ = ["ClientLimiter", "client_address"]

_UNITS = 60_000  # units per token: a rate in tokens per minute is units per millisecond


@dataclass(slots=True)
class _Bucket:
    units: int
    time_ms: int


class ClientLimiter:
    """A token bucket per client address (module rules)."""

    def __init__(
        self,
        per_min: int,
        burst: int,
        what: str,
        tracked_max: int = limits.client_addresses_tracked_max,
    ) -> None:
        assert 0 < per_min and 0 < burst and 0 < tracked_max
        self.per_min = per_min
        self.burst = burst
        self.what = what
        self.tracked_max = tracked_max
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def wait_ms(self, address: str, now_ms: int) -> int:
        """Spend one request of `address`'s bucket: 0, or the ms until one is available."""
        bucket = self._buckets.get(address)
        if bucket is None:
            bucket = self._buckets[address] = _Bucket(self.burst * _UNITS, now_ms)
            while len(self._buckets) > self.tracked_max:
                self._buckets.popitem(last=False)
        self._buckets.move_to_end(address)
        elapsed_ms = max(0, now_ms - bucket.time_ms)
        bucket.units = min(self.burst * _UNITS, bucket.units + elapsed_ms * self.per_min)
        bucket.time_ms = max(bucket.time_ms, now_ms)
        if bucket.units < _UNITS:
            return -(-(_UNITS - bucket.units) // self.per_min)  # ceiling
        bucket.units -= _UNITS
        return 0

    def refusal(self, request: Request, now_ms: int) -> Response | None:
        """Spend one request of the caller's bucket: None, or the 429 answer to send instead
        (a response, not a raised problem, because it carries `Retry-After`)."""
        waiting_ms = self.wait_ms(client_address(request), now_ms)
        if not waiting_ms:
            return None
        retry_after_s = -(-waiting_ms // 1000)
        message = f"too many {self.what} from this address: try again in {retry_after_s} s"
        envelope = {"error": {"code": "rate_limited", "message": message}}
        return json_response(envelope, 429, {"Retry-After": str(retry_after_s)})

    @property
    def tracked(self) -> int:
        return len(self._buckets)


def client_address(request: Request) -> str:
    """The caller's address as the server sees it (module rules)."""
    return request.client.host if request.client is not None else "unknown"
