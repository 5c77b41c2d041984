"""The records of the world state (design section 2). Each is a frozen, canonical struct.

The state is a key-value store (`bakong.ledger.state`); these are its values. Records hold no
personal data: account names are handles chosen at onboarding, aliases are HMACs of phone
numbers, and participants are institutions.

Balances, held amounts and daily outgoing totals are tuples indexed by `Asset.index`
(KHR, USD). Holds move money out of `balances` into `held` until posted or voided, so the
conservation invariant is: for each asset, the sum of `balances + held` over all accounts
equals issued minus redeemed (`Supply`).
"""

from __future__ import annotations

import enum

from bakong.ledger.assets import Asset
from bakong.ledger.validators import Validator
from bakong.wire.codec import Record

__all__ = [
    "Account",
    "AccountKind",
    "AccountStatus",
    "Alias",
    "ChainConfig",
    "Head",
    "Hold",
    "HoldExpiryBucket",
    "HoldStatus",
    "INSTITUTIONAL_KINDS",
    "KycTier",
    "Participant",
    "ParticipantEndpoint",
    "ParticipantIndex",
    "ParticipantStatus",
    "SeenBlock",
    "SeenTransaction",
    "Supply",
    "ValidatorSchedule",
]


class AccountKind(enum.Enum):
    personal = "personal"
    merchant = "merchant"
    agent = "agent"  # a cash-in/cash-out point
    settlement = "settlement"  # a participant's liquidity account, one per participant
    link = "link"  # a cross-border link's account
    treasury = "treasury"  # the central bank's issuing account


INSTITUTIONAL_KINDS = frozenset({AccountKind.settlement, AccountKind.link, AccountKind.treasury})


class KycTier(enum.IntEnum):
    basic = 0  # phone number only
    partial = 1  # selfie and ID photo checked
    full = 2  # the participant's own full KYC
    institutional = 3  # settlement, link and treasury accounts


class AccountStatus(enum.Enum):
    active = "active"
    frozen = "frozen"
    closed = "closed"


class ParticipantStatus(enum.Enum):
    """A participant's standing. `suspended` stops everything its accounts do (ladder rung 7);
    `send_only` and `receive_only` restrict only the direction money moves through its
    accounts (the transfer and hold rungs `target_participant_send_only` and
    `source_participant_receive_only`). Encoded by value: adding a status changes no record."""

    active = "active"
    suspended = "suspended"
    send_only = "send_only"  # its accounts may pay and place holds, never be paid
    receive_only = "receive_only"  # its accounts may be paid, never pay or place holds


class HoldStatus(enum.Enum):
    pending = "pending"
    posted = "posted"
    voided = "voided"
    expired = "expired"


class ChainConfig(Record, frozen=True):
    chain_id: str
    central_bank: str
    genesis_time_ms: int
    snapshot_interval: int  # a state snapshot at every height that is a multiple of this
    snapshot_lag: int  # the block this many heights later carries the snapshot's root


class Head(Record, frozen=True):
    """Where the chain is: the last applied height and its time, plus housekeeping cursors."""

    height: int
    time_ms: int
    seen_prune_height: int  # lowest height whose replay-protection entries are still kept
    hold_expiry_minute: int  # next expiry bucket (minute of Unix time) not yet swept
    holds_pending: int  # pending holds in the whole ledger; 0 lets the sweep skip ahead


class Participant(Record, frozen=True):
    code: str
    name: str
    status: ParticipantStatus
    admin_keys: tuple[bytes, ...]  # sorted; sign participant-level transactions
    admin_quorum: int
    gateway_keys: tuple[bytes, ...]  # sorted; sign API requests (issue 4), never transactions


class ParticipantEndpoint(Record, frozen=True):
    """Where a participant's gateway answers other gateways (party lookup), as the central
    bank published it; a record of its own so that `Participant`'s encoding never changes."""

    gateway_url: str


class ParticipantIndex(Record, frozen=True):
    """Every participant code, sorted: bounds `participants_max` without scanning the store."""

    codes: tuple[str, ...]


class Account(Record, frozen=True):
    account_id: str
    kind: AccountKind
    tier: KycTier
    status: AccountStatus
    signatories: tuple[bytes, ...]  # sorted Ed25519 public keys
    quorum: int
    balances: tuple[int, int]  # available, per asset
    held: tuple[int, int]  # in pending holds from this account, per asset
    holds_pending: int
    day: int  # Asia/Phnom_Penh calendar day of `outgoing`, as days since 1970-01-01
    outgoing: tuple[int, int]  # sent today, per asset, for the KYC tier limits


class Hold(Record, frozen=True):
    """A pending transfer: money set aside from `source` until posted, voided or expired."""

    hold_id: bytes
    source: str
    target: str
    poster: str  # the account that may post or void it
    asset: Asset
    amount: int
    expires_ms: int
    status: HoldStatus
    posted_amount: int


class HoldExpiryBucket(Record, frozen=True):
    hold_ids: tuple[bytes, ...]  # sorted; holds whose expiry falls in this minute


class Alias(Record, frozen=True):
    account_id: str  # the account a phone alias (an HMAC, the key) resolves to


class Supply(Record, frozen=True):
    issued: tuple[int, int]
    redeemed: tuple[int, int]


class SeenTransaction(Record, frozen=True):
    """An authentic transaction already in a block; it may not apply again (replay window)."""

    height: int
    code: int


class SeenBlock(Record, frozen=True):
    """The replay-protection entries a block added (their keys), so they can be pruned after
    24 h."""

    time_ms: int
    keys: tuple[bytes, ...]


class ValidatorSchedule(Record, frozen=True):
    """`current` decides the next height; `next` the one after (changes wait two heights)."""

    current: tuple[Validator, ...]
    next: tuple[Validator, ...]
