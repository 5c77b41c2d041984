"""The limits policy: KYC tier limits, institutional caps, participant caps, balance caps.

Central bank policy, stored on chain and changed by `set_limits` (design section 2). Amounts
are (KHR riel, USD cents) pairs. Published Bakong defaults (NBC circular of 26 March 2021):

| tier          | per day (KHR / USD)     |
|---------------|-------------------------|
| 0 basic       | 2,000,000 / 500         |
| 1 partial     | 12,000,000 / 3,000      |
| 2 full        | 40,000,000 / 10,000     |
| institutional | 200,000,000 / 50,000 per transfer |

The tier-0 balance cap is not published; our default is twice the tier-0 daily limit.
A participant cap lowers a tier's daily limit for one participant's customers (it can never
raise it). Days are Asia/Phnom_Penh calendar days (UTC+7 all year; Cambodia has no DST).
"""

from __future__ import annotations

from collections.abc import Set
from typing import Annotated

from msgspec import Meta

from bakong import limits
from bakong.ledger.records import KycTier
from bakong.wire.codec import Record

__all__ = [
    "DEFAULT_POLICY",
    "LimitsPolicy",
    "ParticipantCap",
    "daily_limit",
    "phnom_penh_day",
    "policy_is_valid",
]

AmountPair = tuple[int, int]
_phnom_penh_offset_ms = 7 * 60 * 60 * 1000
_ms_per_day = 24 * 60 * 60 * 1000


def phnom_penh_day(time_ms: int) -> int:
    """The Asia/Phnom_Penh calendar day of `time_ms`, as days since 1970-01-01 there."""
    return (time_ms + _phnom_penh_offset_ms) // _ms_per_day


class ParticipantCap(Record, frozen=True):
    participant: str
    tier: KycTier
    per_day: AmountPair


class LimitsPolicy(Record, frozen=True):
    per_day_by_tier: tuple[AmountPair, AmountPair, AmountPair]  # tiers basic, partial, full
    institutional_per_transfer: AmountPair
    basic_balance_max: AmountPair
    participant_caps: Annotated[
        tuple[ParticipantCap, ...], Meta(max_length=limits.participants_max * 3)
    ]


DEFAULT_POLICY = LimitsPolicy(
    per_day_by_tier=((2_000_000, 500_00), (12_000_000, 3_000_00), (40_000_000, 10_000_00)),
    institutional_per_transfer=(200_000_000, 50_000_00),
    basic_balance_max=(4_000_000, 1_000_00),
    participant_caps=(),
)


def policy_is_valid(policy: LimitsPolicy, participants: Set[str]) -> bool:
    """Amounts non-negative and bounded, caps sorted and unique, naming known participants."""
    pairs = [
        *policy.per_day_by_tier,
        policy.institutional_per_transfer,
        policy.basic_balance_max,
        *(cap.per_day for cap in policy.participant_caps),
    ]
    if any(not 0 <= amount <= limits.amount_max for pair in pairs for amount in pair):
        return False
    keys = [(cap.participant, int(cap.tier)) for cap in policy.participant_caps]
    if keys != sorted(set(keys)):
        return False
    return all(
        cap.participant in participants and cap.tier != KycTier.institutional
        for cap in policy.participant_caps
    )


def daily_limit(policy: LimitsPolicy, participant: str, tier: KycTier, asset_index: int) -> int:
    """The per-day outgoing limit for an account of `participant` at `tier`."""
    assert tier != KycTier.institutional
    limit = policy.per_day_by_tier[tier][asset_index]
    for cap in policy.participant_caps:
        if cap.participant == participant and cap.tier == tier:
            limit = min(limit, cap.per_day[asset_index])
    return limit
