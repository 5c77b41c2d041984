"""A claim as the store holds it, and the small facts about claims that both `claims` (the
bank holding the money) and `claim_history` (the payer's history) need: its states, its
escrow account, its ledger reference, how its amounts and phone are shown.

States (`claims`, rules 1-5): `placing` (the hold on its way), `refused` (the ledger refused
the hold: nothing moved), `pending_claim`, `claiming`, `returning` (a refund on its way),
`claimed`, `returned`. Nothing here touches the database or the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bakong.ledger.assets import Asset

__all__ = [
    "CLAIMED",
    "CLAIMING",
    "ESCROW_NAME",
    "PENDING",
    "PLACING",
    "REFERENCE_PREFIX",
    "REFUSED",
    "RETURNED",
    "RETURNING",
    "Claim",
    "claim_from_row",
    "claim_reference",
    "escrow_account",
    "mask_phone",
    "money",
]

ESCROW_NAME = "claims_escrow"
PLACING, REFUSED, PENDING, CLAIMING = "placing", "refused", "pending_claim", "claiming"
RETURNING, CLAIMED, RETURNED = "returning", "claimed", "returned"
REFERENCE_PREFIX = "claim:"


def escrow_account(participant: str) -> str:
    """The participant's claims escrow: where claimed money passes on its way."""
    return f"{ESCROW_NAME}@{participant}"


def claim_reference(claim_id: str) -> str:
    """The `reference` of the hold, its post and the escrow's transfers of one claim."""
    return REFERENCE_PREFIX + claim_id


def money(asset: str, amount: int) -> str:
    """An amount for a text message: `25,000 KHR`, `12.50 USD`."""
    if asset == Asset.USD.value:
        return f"{amount // 100:,}.{amount % 100:02d} USD"
    return f"{amount:,} KHR"


def mask_phone(phone: str) -> str:
    """A phone as the payer is shown it: the country code and the last three digits."""
    return phone[:4] + " *** " + phone[-3:]


@dataclass(frozen=True)
class Claim:
    id: int
    claim_id: str
    payer_id: int
    idempotency_key: str
    payer_account: str
    phone: str
    alias: bytes
    asset: str
    amount: int
    memo: str
    expires_ms: int
    secret_hash: str | None
    attempts: int
    state: str
    reason: str | None
    claimant: str | None
    claimant_kind: str | None
    created_ms: int
    finished_ms: int | None

    @property
    def hold_id(self) -> bytes:
        return bytes.fromhex(self.claim_id)

    def payer_view(self) -> dict[str, Any]:
        """What the payer is shown (never the code, never the whole phone)."""
        bank = None if self.claimant is None else self.claimant.rpartition("@")[2]
        return {
            "claim_id": self.claim_id, "state": self.state, "phone": mask_phone(self.phone),
            "asset": self.asset, "amount": self.amount, "memo": self.memo,
            "expires_ms": self.expires_ms, "claimant_bank": bank, "reason": self.reason,
            "agent_secret": self.secret_hash is not None, "created_ms": self.created_ms,
            "finished_ms": self.finished_ms,
        }  # fmt: skip


def claim_from_row(row: Any) -> Claim:
    """A `db.claims` row (it may carry more columns) as a `Claim`."""
    values = {name: getattr(row, name) for name in Claim.__dataclass_fields__}
    values["alias"] = bytes(values["alias"])
    return Claim(**values)
