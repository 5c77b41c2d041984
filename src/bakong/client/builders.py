"""Building and signing transactions: one function per command, a builder, and co-signing.

Pure: nothing here reads a clock, draws randomness or does I/O. The caller (or
`bakong.client.http.Client.builder`) supplies `created_ms` and the nonce.

Rules:
- One function per command in `bakong.ledger.commands`, named after the command's wire tag
  (`transfer`, `hold`, `post`, `void`, `create_account`, ...), returning the ledger's own struct.
  They accept friendly inputs (an `Asset` or `"KHR"`, a public key or a `SigningKey`) and
  refuse what can never be right locally with `LocalError`: a float or bool amount, a key or
  hold id of the wrong length. Rules that depend on the chain (balances, permissions, limits)
  are the ledger's, and come back as result codes.
- Key lists are sorted, as the ledger stores them, so the same request builds the same bytes.
- `TransactionBuilder` is immutable: `add` returns a new builder. `payload()` and `sign()`
  check the result against the wire limits by a canonical round trip, so a transaction this
  module returns is one every node decodes. Whether its commands touch the same participants
  (`participants_mixed` otherwise) is left to the ledger: a `post` or `void` touches the
  parties of its hold, which only the chain knows, and the central bank, which is left out,
  is the chain's to name.
- The transaction hash covers the payload only. Co-signing (`cosign`) adds signatures for the
  same hash, so the signers of a multisignature account can sign on different machines.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

import msgspec

from bakong import limits
from bakong.errors import DecodeError, LocalError
from bakong.ledger.assets import Asset
from bakong.ledger.commands import (
    AddSignatory,
    AddValidator,
    Command,
    CreateAccount,
    Issue,
    PlaceHold,
    PostHold,
    Redeem,
    RegisterAlias,
    RegisterParticipant,
    RemoveAlias,
    RemoveSignatory,
    RemoveValidator,
    ReplaceSignatories,
    SetAccountStatus,
    SetKycTier,
    SetLimits,
    SetParticipantEndpoint,
    SetQuorum,
    Transfer,
    UpdateParticipant,
    VoidHold,
)
from bakong.ledger.identifiers import is_gateway_url
from bakong.ledger.policy import LimitsPolicy
from bakong.ledger.records import AccountKind, AccountStatus, KycTier, ParticipantStatus
from bakong.ledger.transaction import (
    SignatureEntry,
    Transaction,
    TransactionPayload,
    decode_transaction,
    sign_transaction,
    signing_message,
    transaction_hash,
)
from bakong.types import Hash
from bakong.wire.codec import decode_canonical, encode
from bakong.wire.hashing import chain_id_is_valid
from bakong.wire.keys import SigningKey, public_key_size

__all__ = [
    "KeyLike",
    "TransactionBuilder",
    "add_signatory",
    "add_validator",
    "alias_hash",
    "cosign",
    "create_account",
    "hold",
    "hold_id_for",
    "issue",
    "post",
    "redeem",
    "register_alias",
    "register_participant",
    "remove_alias",
    "remove_signatory",
    "remove_validator",
    "replace_signatories",
    "set_account_status",
    "set_kyc_tier",
    "set_limits",
    "set_participant_endpoint",
    "set_quorum",
    "sign",
    "transaction_bytes",
    "transfer",
    "update_participant",
    "void",
]

#: A public key as bytes, or the signing key whose public key is meant.
KeyLike = bytes | SigningKey

hold_id_size = 16
alias_hash_size = 32
_hold_id_domain = b"bakong-sdk/hold-id\x00"


# -- inputs ---------------------------------------------------------------------------------


def _public_key(key: KeyLike) -> bytes:
    raw = key.public_key if isinstance(key, SigningKey) else key
    if not isinstance(raw, bytes) or len(raw) != public_key_size:
        raise LocalError(f"a public key is {public_key_size} bytes")
    return bytes(raw)


def _public_keys(keys: Iterable[KeyLike]) -> tuple[bytes, ...]:
    return tuple(sorted(_public_key(key) for key in keys))


def _amount(amount: int) -> int:
    # bool is an int subclass and a float is never money: both are caller bugs.
    if type(amount) is not int:
        raise LocalError(f"amounts are integers in minor units, got {type(amount).__name__}")
    return amount


def _count(value: int, what: str) -> int:
    if type(value) is not int:
        raise LocalError(f"{what} is an integer, got {type(value).__name__}")
    return value


def _asset(asset: Asset | str) -> Asset:
    try:
        return Asset(asset)
    except ValueError:
        raise LocalError(f"unknown asset {asset!r}; use KHR or USD") from None


def _fixed_bytes(value: bytes, size: int, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        raise LocalError(f"{what} is {size} bytes")
    return value


def alias_hash(alias_key: bytes, phone_number: str) -> bytes:
    """The on-chain form of a phone alias: HMAC-SHA256(alias_key, E.164 number)."""
    if not phone_number.startswith("+") or not phone_number[1:].isdigit():
        raise LocalError("a phone alias is an E.164 number such as +85512345678")
    return hmac.new(alias_key, phone_number.encode(), hashlib.sha256).digest()


def hold_id_for(source: str, reference: str) -> bytes:
    """A hold id derived from the gateway's own reference, so a retried hold keeps its id.

    A convention of this SDK, not of the ledger: any 16 unique bytes will do.
    """
    data = _hold_id_domain + source.encode() + b"\x00" + reference.encode()
    return hashlib.sha256(data).digest()[:hold_id_size]


# -- central bank commands ------------------------------------------------------------------


def register_participant(
    code: str,
    name: str,
    admin_keys: Iterable[KeyLike],
    *,
    admin_quorum: int = 1,
    gateway_keys: Iterable[KeyLike] = (),
) -> RegisterParticipant:
    return RegisterParticipant(
        code=code,
        name=name,
        admin_keys=_public_keys(admin_keys),
        admin_quorum=_count(admin_quorum, "admin_quorum"),
        gateway_keys=_public_keys(gateway_keys),
    )


def update_participant(
    code: str,
    name: str,
    admin_keys: Iterable[KeyLike],
    *,
    status: ParticipantStatus | str = ParticipantStatus.active,
    admin_quorum: int = 1,
    gateway_keys: Iterable[KeyLike] = (),
) -> UpdateParticipant:
    return UpdateParticipant(
        code=code,
        name=name,
        status=ParticipantStatus(status),
        admin_keys=_public_keys(admin_keys),
        admin_quorum=_count(admin_quorum, "admin_quorum"),
        gateway_keys=_public_keys(gateway_keys),
    )


def set_participant_endpoint(code: str, gateway_url: str) -> SetParticipantEndpoint:
    """Publish `code`'s gateway URL for other gateways (central bank); "" withdraws it."""
    if gateway_url and not is_gateway_url(gateway_url):
        raise LocalError(
            "gateway_url: http(s)://host[:port][/path], lower-case host, no user, query or "
            f"fragment, at most {limits.gateway_url_chars_max} characters"
        )
    return SetParticipantEndpoint(code=code, gateway_url=gateway_url)


def add_validator(name: str, public_key: KeyLike, power: int = 1) -> AddValidator:
    return AddValidator(name=name, public_key=_public_key(public_key), power=_count(power, "power"))


def remove_validator(public_key: KeyLike) -> RemoveValidator:
    return RemoveValidator(public_key=_public_key(public_key))


def set_limits(policy: LimitsPolicy) -> SetLimits:
    return SetLimits(policy=policy)


def issue(account: str, asset: Asset | str, amount: int, reserve_ref: str) -> Issue:
    """Credit settlement `account` with `amount` minor units against reserve entry `reserve_ref`."""
    return Issue(
        account=account, asset=_asset(asset), amount=_amount(amount), reserve_ref=reserve_ref
    )


def redeem(account: str, asset: Asset | str, amount: int, reserve_ref: str) -> Redeem:
    return Redeem(
        account=account, asset=_asset(asset), amount=_amount(amount), reserve_ref=reserve_ref
    )


# -- participant commands -------------------------------------------------------------------


def create_account(
    account: str,
    signatories: Iterable[KeyLike],
    *,
    kind: AccountKind | str = AccountKind.personal,
    tier: KycTier | int = KycTier.basic,
    quorum: int = 1,
) -> CreateAccount:
    return CreateAccount(
        account=account,
        kind=AccountKind(kind),
        tier=KycTier(tier),
        signatories=_public_keys(signatories),
        quorum=_count(quorum, "quorum"),
    )


def set_kyc_tier(account: str, tier: KycTier | int) -> SetKycTier:
    return SetKycTier(account=account, tier=KycTier(tier))


def set_account_status(account: str, status: AccountStatus | str) -> SetAccountStatus:
    return SetAccountStatus(account=account, status=AccountStatus(status))


def replace_signatories(
    account: str, signatories: Iterable[KeyLike], *, quorum: int = 1
) -> ReplaceSignatories:
    return ReplaceSignatories(
        account=account, signatories=_public_keys(signatories), quorum=_count(quorum, "quorum")
    )


def register_alias(alias: bytes, account: str) -> RegisterAlias:
    """Map `alias` (from `alias_hash`) to `account`."""
    return RegisterAlias(
        alias=_fixed_bytes(alias, alias_hash_size, "an alias hash"), account=account
    )


def remove_alias(alias: bytes) -> RemoveAlias:
    return RemoveAlias(alias=_fixed_bytes(alias, alias_hash_size, "an alias hash"))


# -- account commands -----------------------------------------------------------------------


def set_quorum(account: str, quorum: int) -> SetQuorum:
    return SetQuorum(account=account, quorum=_count(quorum, "quorum"))


def add_signatory(account: str, public_key: KeyLike) -> AddSignatory:
    return AddSignatory(account=account, public_key=_public_key(public_key))


def remove_signatory(account: str, public_key: KeyLike) -> RemoveSignatory:
    return RemoveSignatory(account=account, public_key=_public_key(public_key))


def transfer(
    source: str,
    target: str,
    asset: Asset | str,
    amount: int,
    *,
    memo: str = "",
    reference: str = "",
    external_ref: str = "",
) -> Transfer:
    """Move `amount` minor units (riel, US cents) of `asset` from `source` to `target`."""
    return Transfer(
        source=source,
        target=target,
        asset=_asset(asset),
        amount=_amount(amount),
        memo=memo,
        reference=reference,
        external_ref=external_ref,
    )


def hold(
    hold_id: bytes,
    source: str,
    target: str,
    asset: Asset | str,
    amount: int,
    *,
    expires_ms: int,
    poster: str | None = None,
    memo: str = "",
    reference: str = "",
) -> PlaceHold:
    """Set `amount` aside from `source` for `target` until posted, voided or `expires_ms`.

    The poster (the account that may post or void) defaults to the source.
    """
    return PlaceHold(
        hold_id=_fixed_bytes(hold_id, hold_id_size, "a hold id"),
        source=source,
        target=target,
        poster=source if poster is None else poster,
        asset=_asset(asset),
        amount=_amount(amount),
        expires_ms=_count(expires_ms, "expires_ms"),
        memo=memo,
        reference=reference,
    )


def post(hold_id: bytes, amount: int) -> PostHold:
    """Complete a hold for `amount` (at most the held amount; the rest returns to the source)."""
    return PostHold(
        hold_id=_fixed_bytes(hold_id, hold_id_size, "a hold id"), amount=_amount(amount)
    )


def void(hold_id: bytes) -> VoidHold:
    return VoidHold(hold_id=_fixed_bytes(hold_id, hold_id_size, "a hold id"))


# -- transactions ---------------------------------------------------------------------------


class TransactionBuilder(msgspec.Struct, frozen=True, kw_only=True):
    """An unsigned transaction being put together; `add` returns a new builder."""

    chain_id: str
    creator: str  # an account ID, or a participant code (its admin keys sign)
    created_ms: int  # Unix ms; valid while block_time - 24 h <= created_ms <= block_time + 5 min
    nonce: int  # 0..2^63-1, unique per payload: it makes a retried payment the same payload
    commands: tuple[Command, ...] = ()

    def add(self, *commands: Command) -> TransactionBuilder:
        return msgspec.structs.replace(self, commands=(*self.commands, *commands))

    def payload(self) -> TransactionPayload:
        """The payload, checked against the wire limits. Raises `LocalError`."""
        if not self.commands:
            raise LocalError("a transaction carries at least one command")
        if not 0 <= _count(self.nonce, "nonce") < 2**63:
            raise LocalError("a nonce is in 0..2^63-1")
        if not chain_id_is_valid(self.chain_id):
            raise LocalError(f"chain id {self.chain_id!r} is not [a-z0-9-], 1-32 characters")
        payload = TransactionPayload(
            chain_id=self.chain_id,
            creator=self.creator,
            created_ms=_count(self.created_ms, "created_ms"),
            nonce=_count(self.nonce, "nonce"),
            commands=self.commands,
        )
        try:
            decode_canonical(encode(payload), TransactionPayload, bytes_max=limits.tx_bytes_max)
        except DecodeError as error:
            raise LocalError(f"no node would accept this payload: {error.message}") from None
        return payload

    def tx_hash(self) -> Hash:
        """The transaction's identity: what `submit` and the status endpoint report."""
        return transaction_hash(self.payload())

    def sign(self, *keys: SigningKey) -> Transaction:
        """Sign with each key (the creator's signatories, at least its quorum)."""
        return sign(self.payload(), *keys)


def _checked(transaction: Transaction) -> Transaction:
    try:
        decode_transaction(encode(transaction))
    except DecodeError as error:
        raise LocalError(f"no node would accept this transaction: {error.message}") from None
    return transaction


def sign(payload: TransactionPayload, *keys: SigningKey) -> Transaction:
    """`payload` signed by `keys`; signatures sorted by public key, one per key."""
    if not keys:
        raise LocalError("sign with at least one key")
    if len({key.public_key for key in keys}) != len(keys):
        raise LocalError("each key signs once")
    return _checked(sign_transaction(payload, list(keys)))


def cosign(transaction: Transaction, *keys: SigningKey) -> Transaction:
    """`transaction` with signatures by `keys` added; a key that already signed is skipped."""
    payload = transaction.payload
    message = signing_message(payload.chain_id, transaction_hash(payload))
    entries = {entry.public_key: entry for entry in transaction.signatures}
    for key in keys:
        if key.public_key not in entries:
            entries[key.public_key] = SignatureEntry(key.public_key, key.sign(message))
    ordered = tuple(entries[public_key] for public_key in sorted(entries))
    return _checked(Transaction(payload=payload, signatures=ordered))


def transaction_bytes(transaction: Transaction) -> bytes:
    """The canonical bytes a node accepts (what `submit` sends, hex in JSON)."""
    return encode(transaction)
