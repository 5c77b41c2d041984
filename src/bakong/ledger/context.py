"""The context of one block's execution: the state view, block time, policy, and the signature
verifier passed in from outside (a node passes one backed by its mempool's cache).

The compiled transfer lane (`bakong.ledger.transfer_lane`) reads a context through its public
attributes and methods only; the memos it shares with Python (`daily_limits`,
`participant_statuses`) are public for that reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from bakong.ledger.policy import LimitsPolicy, daily_limit
from bakong.ledger.records import (
    Account,
    AccountStatus,
    KycTier,
    Participant,
    ParticipantStatus,
)
from bakong.ledger.state import StateView, account_key, participant_key
from bakong.wire.hashing import Domain, prefix

__all__ = ["Context", "Creator", "SignatureVerifier"]

#: verify(public_key, message, signature) -> bool; must be a pure function of its arguments.
SignatureVerifier = Callable[[bytes, bytes, bytes], bool]


# Module constants: an Enum class attribute is a slow lookup.
_active = AccountStatus.active
_suspended = ParticipantStatus.suspended


class Creator(NamedTuple):
    """Who created the transaction being executed, as the permission matrix sees it."""

    creator_id: str
    is_participant: bool


class Context:
    """Everything a command handler may consult; the mutable parts are `view`, the block's
    replay entries (`seen_in_block`) and its memos."""

    __slots__ = (
        "view",
        "chain_id",
        "central_bank",
        "height",
        "time_ms",
        "day",
        "policy",
        "verify",
        "signature_prefix",
        "seen_in_block",
        "daily_limits",
        "participant_statuses",
    )

    def __init__(
        self,
        *,
        view: StateView,
        chain_id: str,
        central_bank: str,
        height: int,
        time_ms: int,
        day: int,
        policy: LimitsPolicy,
        verify: SignatureVerifier,
    ) -> None:
        assert height >= 1
        assert time_ms >= 0
        self.view = view
        self.chain_id = chain_id
        self.central_bank = central_bank
        self.height = height
        self.time_ms = time_ms
        self.day = day
        self.policy = policy
        self.verify = verify
        self.signature_prefix = prefix(Domain.TRANSACTION_SIGNATURE, chain_id)
        # Authentic transactions of this block, in order, with their result codes; written to
        # the replay window once, at the end of the block.
        self.seen_in_block: dict[bytes, int] = {}
        # Memos of `daily_limit` by (participant, tier, asset index) and of participants'
        # status by code, for this block. Public because the compiled lane reads them too.
        self.daily_limits: dict[tuple[str, int, int], int] = {}
        self.participant_statuses: dict[str, ParticipantStatus] = {}

    def account(self, account_id: str) -> Account | None:
        account: Account | None = self.view.read(account_key(account_id))
        return account

    def participant(self, code: str) -> Participant | None:
        participant: Participant | None = self.view.read(participant_key(code))
        return participant

    def account_is_active(self, account: Account) -> bool:
        """Active, and its participant is not suspended (a send-only or receive-only one is
        active: `account_participant_status` says which way its money may move)."""
        if account.status is not _active:
            return False
        return self.account_participant_status(account.account_id) is not _suspended

    def account_participant_status(self, account_id: str) -> ParticipantStatus:
        """The status of the participant whose domain holds `account_id`, memoised per block."""
        code = account_id[account_id.index("@") + 1 :]
        status = self.participant_statuses.get(code)
        if status is None:
            participant = self.participant(code)
            assert participant is not None, "every account's participant exists"
            status = participant.status
            self.participant_statuses[code] = status
        return status

    def participants_changed(self) -> None:
        """Forget cached participant statuses (after a participant is added or updated)."""
        self.participant_statuses.clear()

    def daily_limit(self, account_id: str, tier: KycTier, asset_index: int) -> int:
        """The per-day limit of `account_id` at `tier`, memoised per block by participant."""
        participant = account_id[account_id.index("@") + 1 :]
        key = (participant, tier._value_, asset_index)  # an int hashes in C, an Enum does not
        limit = self.daily_limits.get(key)
        if limit is None:
            limit = daily_limit(self.policy, participant, tier, asset_index)
            self.daily_limits[key] = limit
        return limit

    def set_policy(self, policy: LimitsPolicy) -> None:
        self.policy = policy
        self.daily_limits.clear()
