"""The context of one block's execution: the state view, block time, policy, and the signature
verifier passed in from outside (a node passes one backed by its mempool's cache)."""

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

__all__ = ["Context", "Creator", "SignatureVerifier"]

#: verify(public_key, message, signature) -> bool; must be a pure function of its arguments.
SignatureVerifier = Callable[[bytes, bytes, bytes], bool]


class Creator(NamedTuple):
    """Who created the transaction being executed, as the permission matrix sees it."""

    creator_id: str
    is_participant: bool


class Context:
    """Everything a command handler may consult; the only mutable part is `view`."""

    __slots__ = (
        "view",
        "chain_id",
        "central_bank",
        "height",
        "time_ms",
        "day",
        "policy",
        "verify",
        "_limits",
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
        self._limits: dict[tuple[str, int, int], int] = {}

    def account(self, account_id: str) -> Account | None:
        account: Account | None = self.view.read(account_key(account_id))
        return account

    def participant(self, code: str) -> Participant | None:
        participant: Participant | None = self.view.read(participant_key(code))
        return participant

    def account_is_active(self, account: Account) -> bool:
        """Active, and its participant is not suspended."""
        if account.status is not AccountStatus.active:
            return False
        participant = self.participant(account.account_id.rsplit("@", 1)[1])
        assert participant is not None, "every account's participant exists"
        return participant.status is ParticipantStatus.active

    def daily_limit(self, participant: str, tier: KycTier, asset_index: int) -> int:
        key = (participant, int(tier), asset_index)
        limit = self._limits.get(key)
        if limit is None:
            limit = daily_limit(self.policy, participant, tier, asset_index)
            self._limits[key] = limit
        return limit

    def set_policy(self, policy: LimitsPolicy) -> None:
        self.policy = policy
        self._limits.clear()
