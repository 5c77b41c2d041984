"""Phone-alias lookups: open to every participant, rate-limited, counted and audited.

A payer's bank must find the payee's account from a phone number's HMAC, so every
participant may resolve any alias (`GET /v1/aliases/{alias}`). What keeps that from becoming a
directory of every customer of every bank:

1. A token bucket per participant (`LookupLimiter`): it holds at most `burst` lookups and
   refills at `rate_per_s`; a lookup finding it empty is refused with 429 `rate_limited`.
   Tokens are counted in thousandths, so the arithmetic stays in integers. The clock is the
   API's injected one; a clock that steps back refills nothing.
2. Every answered lookup, found or not, is recorded in the node's store before it is answered
   (`NodeService.record_alias_lookup`): who asked (participant and key), when, which alias and
   what it resolved to. Only the central bank reads the trail
   (`GET /v1/audit/alias-lookups`). Refused lookups are not stored (a flood would fill the
   trail with nothing learned), only counted.
3. `/metrics` counts lookups per participant and outcome (`found`, `not_found`,
   `rate_limited`), labelled with the participant code, never the alias.

Participants are never deleted and at most `limits.participants_max` exist, so one bucket per
participant that ever asked is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

from bakong import limits

__all__ = ["LookupLimiter"]

_milli = 1_000  # thousandths of a token per token


@dataclass(slots=True)
class _Bucket:
    tokens_milli: int
    time_ms: int


class LookupLimiter:
    """A token bucket per participant (rule 1)."""

    def __init__(
        self,
        rate_per_s: int = limits.alias_lookups_per_s,
        burst: int = limits.alias_lookup_burst,
    ) -> None:
        assert 0 < rate_per_s <= burst
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def take(self, participant: str, now_ms: int) -> int:
        """Spend one lookup of `participant`'s bucket: 0, or the ms until one is available."""
        bucket = self._buckets.get(participant)
        if bucket is None:
            assert len(self._buckets) <= limits.participants_max, "one bucket per participant"
            bucket = self._buckets[participant] = _Bucket(self.burst * _milli, now_ms)
        # A token per second is a thousandth per ms: elapsed ms times the rate, in thousandths.
        elapsed_ms = max(0, now_ms - bucket.time_ms)
        refilled = bucket.tokens_milli + elapsed_ms * self.rate_per_s
        bucket.tokens_milli = min(self.burst * _milli, refilled)
        bucket.time_ms = max(bucket.time_ms, now_ms)
        if bucket.tokens_milli < _milli:
            missing = _milli - bucket.tokens_milli
            return -(-missing // self.rate_per_s)  # ceiling: the wait until a whole token
        bucket.tokens_milli -= _milli
        return 0
