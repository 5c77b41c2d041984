"""Commands: what a transaction asks the ledger to do (design section 2, the command table).

Each command is a tagged record; on the wire it is an array whose first element is the tag.
A transaction carries one or more and they apply all-or-nothing. Who may sign each command is
data in `bakong.ledger.permissions`; what each does and how it is refused is in
`bakong.ledger.execute`.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from bakong import limits
from bakong.ledger.assets import Asset
from bakong.ledger.fields import (
    AccountIdText,
    AliasHash,
    AmountInt,
    CountInt,
    HoldId,
    MemoText,
    NameText,
    ParticipantCodeText,
    PublicKeyBytes,
    PublicKeys,
    ReferenceText,
    TimeMsInt,
)
from bakong.ledger.policy import LimitsPolicy
from bakong.ledger.records import AccountKind, AccountStatus, KycTier, ParticipantStatus
from bakong.wire.codec import Record

__all__ = [
    "COMMAND_TYPES",
    "AddSignatory",
    "AddValidator",
    "Command",
    "CreateAccount",
    "Issue",
    "PlaceHold",
    "PostHold",
    "Redeem",
    "RegisterAlias",
    "RegisterParticipant",
    "RemoveAlias",
    "RemoveSignatory",
    "RemoveValidator",
    "ReplaceSignatories",
    "SetAccountStatus",
    "SetKycTier",
    "SetLimits",
    "SetParticipantEndpoint",
    "SetQuorum",
    "Transfer",
    "UpdateParticipant",
    "VoidHold",
]

_ValidatorName = Annotated[str, Meta(max_length=limits.validator_name_chars_max)]
_Power = Annotated[int, Meta(ge=-(2**31), le=2**31 - 1)]
_ReserveRef = Annotated[str, Meta(max_length=limits.reserve_ref_chars_max)]
_ExternalRef = Annotated[str, Meta(max_length=limits.external_ref_chars_max)]
_GatewayUrl = Annotated[str, Meta(max_length=limits.gateway_url_chars_max)]
_GatewayKeys = Annotated[
    tuple[PublicKeyBytes, ...], Meta(max_length=limits.keys_per_participant_max)
]


class RegisterParticipant(Record, frozen=True, tag="register_participant"):
    """Add a bank, MFI or PSP with its keys; creates its `settlement@code` account."""

    code: ParticipantCodeText
    name: NameText
    admin_keys: PublicKeys
    admin_quorum: CountInt
    gateway_keys: _GatewayKeys


class UpdateParticipant(Record, frozen=True, tag="update_participant"):
    """Replace a participant's name, status and keys (suspend, rotate keys)."""

    code: ParticipantCodeText
    name: NameText
    status: ParticipantStatus
    admin_keys: PublicKeys
    admin_quorum: CountInt
    gateway_keys: _GatewayKeys


class AddValidator(Record, frozen=True, tag="add_validator"):
    """Add a validator, or change its power; takes effect at height + 2."""

    name: _ValidatorName
    public_key: PublicKeyBytes
    power: _Power


class RemoveValidator(Record, frozen=True, tag="remove_validator"):
    public_key: PublicKeyBytes


class SetLimits(Record, frozen=True, tag="set_limits"):
    policy: LimitsPolicy


class Issue(Record, frozen=True, tag="issue"):
    """Credit a settlement account against reserves debited in the central bank's books."""

    account: AccountIdText
    asset: Asset
    amount: AmountInt
    reserve_ref: _ReserveRef


class Redeem(Record, frozen=True, tag="redeem"):
    account: AccountIdText
    asset: Asset
    amount: AmountInt
    reserve_ref: _ReserveRef


class CreateAccount(Record, frozen=True, tag="create_account"):
    account: AccountIdText
    kind: AccountKind
    tier: KycTier
    signatories: PublicKeys
    quorum: CountInt


class SetKycTier(Record, frozen=True, tag="set_kyc_tier"):
    account: AccountIdText
    tier: KycTier


class SetAccountStatus(Record, frozen=True, tag="set_account_status"):
    account: AccountIdText
    status: AccountStatus


class ReplaceSignatories(Record, frozen=True, tag="replace_signatories"):
    """Key recovery after a lost phone, by the account's participant."""

    account: AccountIdText
    signatories: PublicKeys
    quorum: CountInt


class SetQuorum(Record, frozen=True, tag="set_quorum"):
    account: AccountIdText
    quorum: CountInt


class AddSignatory(Record, frozen=True, tag="add_signatory"):
    account: AccountIdText
    public_key: PublicKeyBytes


class RemoveSignatory(Record, frozen=True, tag="remove_signatory"):
    account: AccountIdText
    public_key: PublicKeyBytes


class Transfer(Record, frozen=True, tag="transfer"):
    source: AccountIdText
    target: AccountIdText
    asset: Asset
    amount: AmountInt
    memo: MemoText
    reference: ReferenceText  # e.g. the md5 of the KHQR that was paid
    external_ref: _ExternalRef


class PlaceHold(Record, frozen=True, tag="hold"):
    """Set money aside from `source` for `target` until `poster` posts or voids it, or expiry."""

    hold_id: HoldId
    source: AccountIdText
    target: AccountIdText
    poster: AccountIdText
    asset: Asset
    amount: AmountInt
    expires_ms: TimeMsInt
    memo: MemoText
    reference: ReferenceText


class PostHold(Record, frozen=True, tag="post"):
    """Complete a hold for `amount` (at most the held amount); the rest returns to the source."""

    hold_id: HoldId
    amount: AmountInt


class VoidHold(Record, frozen=True, tag="void"):
    hold_id: HoldId


class RegisterAlias(Record, frozen=True, tag="register_alias"):
    """Map a phone alias, HMAC-SHA256(alias_key, E.164 number), to an account."""

    alias: AliasHash
    account: AccountIdText


class RemoveAlias(Record, frozen=True, tag="remove_alias"):
    alias: AliasHash


class SetParticipantEndpoint(Record, frozen=True, tag="set_participant_endpoint"):
    """Publish where a participant's gateway answers other gateways; "" withdraws it."""

    code: ParticipantCodeText
    gateway_url: _GatewayUrl


Command = (
    RegisterParticipant
    | UpdateParticipant
    | AddValidator
    | RemoveValidator
    | SetLimits
    | Issue
    | Redeem
    | CreateAccount
    | SetKycTier
    | SetAccountStatus
    | ReplaceSignatories
    | SetQuorum
    | AddSignatory
    | RemoveSignatory
    | Transfer
    | PlaceHold
    | PostHold
    | VoidHold
    | RegisterAlias
    | RemoveAlias
    | SetParticipantEndpoint
)

COMMAND_TYPES: tuple[type[Command], ...] = (
    RegisterParticipant,
    UpdateParticipant,
    AddValidator,
    RemoveValidator,
    SetLimits,
    Issue,
    Redeem,
    CreateAccount,
    SetKycTier,
    SetAccountStatus,
    ReplaceSignatories,
    SetQuorum,
    AddSignatory,
    RemoveSignatory,
    Transfer,
    PlaceHold,
    PostHold,
    VoidHold,
    RegisterAlias,
    RemoveAlias,
    SetParticipantEndpoint,
)
