"""The node API's answers as typed, frozen structs, parsed from JSON or msgpack bodies.

Pure: functions here take a decoded body (dicts, lists, str, int) and return structs.

Rules:
- A response is input from outside: every field is type-checked, and anything unexpected is an
  `ApiError(status, "bad_response", ...)`, never a `KeyError` or a half-filled struct.
- Byte fields are lower-case hex in JSON and bin in msgpack; both are accepted.
- Fields the SDK does not know are ignored, so a newer node can add some.
- Nothing here is proof of anything: these are a node's claims. The stream follower
  (`bakong.client.follower`) is the part that verifies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import msgspec

from bakong import limits
from bakong.client.errors import ApiError
from bakong.errors import DecodeError
from bakong.ledger.assets import Asset
from bakong.ledger.block import BlockHeader, TxResult, block_hash
from bakong.ledger.commit import Commit
from bakong.ledger.records import AccountKind, AccountStatus, KycTier, ParticipantStatus
from bakong.ledger.result import ResultCode
from bakong.ledger.transaction import Transaction, decode_transaction, transaction_hash
from bakong.ledger.validators import Validator
from bakong.wire.codec import decode_canonical

__all__ = [
    "AccountInfo",
    "AliasInfo",
    "AliasLookup",
    "AliasLookupPage",
    "BlockInfo",
    "BlockTransaction",
    "Committed",
    "Fields",
    "ParticipantInfo",
    "Peer",
    "Status",
    "SubmitResult",
    "TransactionStatus",
    "parse_account",
    "parse_alias",
    "parse_alias_lookups",
    "parse_block",
    "parse_participant",
    "parse_participants",
    "parse_status",
    "parse_submit",
    "parse_transaction_status",
    "result_name",
]

T = TypeVar("T")


def result_name(code: int) -> str:
    """The name of a result code (`insufficient_funds`), or `code_<n>` for one this SDK
    predates."""
    try:
        return ResultCode(code).name
    except ValueError:
        return f"code_{code}"


class Fields:
    """Type-checked access to one object of a response body."""

    __slots__ = ("_data", "_what", "status")

    def __init__(self, data: object, status: int, what: str) -> None:
        if not isinstance(data, Mapping):
            raise ApiError(status, "bad_response", f"{what}: expected an object")
        self._data: Mapping[str, Any] = data
        self.status = status
        self._what = what

    def _bad(self, name: str, expected: str) -> ApiError:
        return ApiError(self.status, "bad_response", f"{self._what}.{name}: expected {expected}")

    def get(self, name: str) -> object:
        return self._data.get(name)

    def has(self, name: str) -> bool:
        return name in self._data

    def sub(self, name: str) -> Fields:
        return Fields(self._data.get(name), self.status, f"{self._what}.{name}")

    def items(self, name: str) -> list[Any]:
        value = self._data.get(name)
        if not isinstance(value, list):
            raise self._bad(name, "a list")
        return value

    def text(self, name: str) -> str:
        value = self._data.get(name)
        if not isinstance(value, str):
            raise self._bad(name, "a string")
        return value

    def optional_text(self, name: str) -> str | None:
        return None if self._data.get(name) is None else self.text(name)

    def integer(self, name: str) -> int:
        value = self._data.get(name)
        if type(value) is not int:
            raise self._bad(name, "an integer")
        return value

    def optional_integer(self, name: str) -> int | None:
        return None if self._data.get(name) is None else self.integer(name)

    def flag(self, name: str) -> bool:
        value = self._data.get(name)
        if not isinstance(value, bool):
            raise self._bad(name, "true or false")
        return value

    def raw(self, name: str) -> bytes:
        return self.raw_of(self._data.get(name), name)

    def optional_raw(self, name: str) -> bytes | None:
        return None if self._data.get(name) is None else self.raw(name)

    def raw_of(self, value: object, name: str) -> bytes:
        if isinstance(value, bytes):
            return value
        if isinstance(value, str) and value == value.lower():
            try:
                return bytes.fromhex(value)
            except ValueError:
                pass
        raise self._bad(name, "lower-case hex")


class SubmitResult(msgspec.Struct, frozen=True):
    """The node's verdict on one submitted transaction."""

    tx_hash: bytes | None  # None when the bytes did not even decode
    status: str  # "accepted" | "committed" | "busy" | "rejected"
    code: str  # "ok", or why: a decode error or admission code such as "bad_signature"
    message: str


class TransactionStatus(msgspec.Struct, frozen=True):
    tx_hash: bytes
    state: str  # "pending" | "committed" | "rejected" | "unknown"
    height: int | None
    index: int | None
    code: int | None  # committed: the result code (0 is ok)
    result: str | None  # committed: its name
    command_index: int | None  # committed and failed: which command
    reason: str | None  # rejected: why


class Committed(msgspec.Struct, frozen=True):
    """A transaction in a committed block, with its result. `code` 0 is `ok`; any other code
    is a business rejection that changed nothing, and the payload can never apply again."""

    tx_hash: bytes
    height: int
    index: int | None
    code: int
    result: str
    command_index: int | None

    @property
    def ok(self) -> bool:
        return self.code == ResultCode.ok


class Peer(msgspec.Struct, frozen=True):
    public_key: bytes
    address: str
    connected: bool


class Status(msgspec.Struct, frozen=True):
    chain_id: str
    node_key: bytes  # the node's public key: what signed requests to it name
    height: int
    app_hash: bytes
    block_time_ms: int
    validators: tuple[Validator, ...]  # the set deciding the next height (a claim, not a proof)
    peers: tuple[Peer, ...]
    mempool_txs: int
    catching_up: bool


class AccountInfo(msgspec.Struct, frozen=True):
    account_id: str
    kind: AccountKind
    tier: KycTier
    status: AccountStatus
    balances: dict[Asset, int]  # available, in minor units
    held: dict[Asset, int]  # set aside in pending holds
    signatories: tuple[bytes, ...]
    quorum: int
    height: int  # the committed height this was read at


class ParticipantInfo(msgspec.Struct, frozen=True):
    """A participant's public record: who signs its API requests, and where its gateway is."""

    code: str
    name: str
    status: ParticipantStatus
    gateway_keys: tuple[bytes, ...]
    gateway_url: str | None  # as the central bank published it (`set_participant_endpoint`)


class AliasInfo(msgspec.Struct, frozen=True):
    alias: bytes
    account_id: str


class AliasLookup(msgspec.Struct, frozen=True):
    """One alias lookup a node answered, from its audit trail (the central bank's to read)."""

    sequence: int  # numbered from 1 by the node, in the order it answered
    time_ms: int  # the node's clock
    participant: str  # who asked
    public_key: bytes  # the key that signed the request
    alias: bytes
    account_id: str | None  # None: no account had the alias


class AliasLookupPage(msgspec.Struct, frozen=True):
    lookups: tuple[AliasLookup, ...]
    next_after: int | None  # pass as `after` for the next page; None: this was the last


class BlockTransaction(msgspec.Struct, frozen=True):
    index: int  # position in the block
    tx_hash: bytes
    transaction: Transaction
    result: TxResult


class BlockInfo(msgspec.Struct, frozen=True):
    """A committed block as the node reports it: unverified (the follower verifies).

    The central bank gets every transaction; a participant only those touching its accounts
    (`tx_count` says how many there are in all), with the validators that decided the block.
    """

    height: int
    header: BlockHeader
    commit: Commit
    tx_count: int
    transactions: tuple[BlockTransaction, ...]
    validators: tuple[Validator, ...] | None  # in a participant's (stream-shaped) answer

    @property
    def block_hash(self) -> bytes:
        return block_hash(self.header)

    @property
    def complete(self) -> bool:
        return len(self.transactions) == self.tx_count


def parse_submit(body: object, status: int) -> list[SubmitResult]:
    results = []
    for index, item in enumerate(Fields(body, status, "body").items("results")):
        fields = Fields(item, status, f"results[{index}]")
        results.append(
            SubmitResult(
                tx_hash=fields.optional_raw("tx_hash"),
                status=fields.text("status"),
                code=fields.text("code"),
                message=fields.text("message"),
            )
        )
    return results


def parse_transaction_status(body: object, status: int) -> TransactionStatus:
    fields = Fields(body, status, "body")
    return TransactionStatus(
        tx_hash=fields.raw("tx_hash"),
        state=fields.text("state"),
        height=fields.optional_integer("height"),
        index=fields.optional_integer("index"),
        code=fields.optional_integer("code"),
        result=fields.optional_text("result"),
        command_index=fields.optional_integer("command_index"),
        reason=fields.optional_text("reason"),
    )


def parse_status(body: object, status: int) -> Status:
    fields = Fields(body, status, "body")
    peers = []
    for index, item in enumerate(fields.items("peers") if fields.get("peers") is not None else []):
        entry = Fields(item, status, f"peers[{index}]")
        peers.append(Peer(entry.raw("public_key"), entry.text("address"), entry.flag("connected")))
    return Status(
        chain_id=fields.text("chain_id"),
        node_key=fields.raw("node_key"),
        height=fields.integer("height"),
        app_hash=fields.raw("app_hash"),
        block_time_ms=fields.integer("block_time_ms"),
        validators=_validators(fields, "validators"),
        peers=tuple(peers),
        mempool_txs=fields.integer("mempool_txs"),
        catching_up=fields.flag("catching_up"),
    )


def _enum_field(fields: Fields, name: str, convert: Callable[[Any], T], status: int) -> T:
    value = fields.get(name)
    try:
        return convert(value)
    except (KeyError, TypeError, ValueError):
        raise ApiError(status, "bad_response", f"body.{name}: unknown value {value!r}") from None


def _tier(value: object) -> KycTier:
    # A tier is 0-3 on the wire; a server may also name it ("basic"). Anything else (a bool or
    # a float equal to a tier's number, say) is looked up as the empty name, which is no tier.
    if type(value) is int:
        return KycTier(value)
    return KycTier[value if isinstance(value, str) else ""]


def _amounts(fields: Fields, name: str) -> dict[Asset, int]:
    amounts = fields.sub(name)
    return {asset: amounts.integer(asset.value) for asset in Asset}


def parse_account(body: object, status: int) -> AccountInfo:
    fields = Fields(body, status, "body")
    signatories = fields.items("signatories")
    return AccountInfo(
        account_id=fields.text("account_id"),
        kind=_enum_field(fields, "kind", AccountKind, status),
        tier=_enum_field(fields, "tier", _tier, status),
        status=_enum_field(fields, "status", AccountStatus, status),
        balances=_amounts(fields, "balances"),
        held=_amounts(fields, "held"),
        signatories=tuple(fields.raw_of(key, "signatories") for key in signatories),
        quorum=fields.integer("quorum"),
        height=fields.integer("height"),
    )


def parse_alias(body: object, status: int) -> AliasInfo:
    fields = Fields(body, status, "body")
    return AliasInfo(alias=fields.raw("alias"), account_id=fields.text("account_id"))


def parse_alias_lookups(body: object, status: int) -> AliasLookupPage:
    fields = Fields(body, status, "body")
    lookups = []
    for index, item in enumerate(fields.items("lookups")):
        entry = Fields(item, status, f"lookups[{index}]")
        lookups.append(
            AliasLookup(
                sequence=entry.integer("sequence"),
                time_ms=entry.integer("time_ms"),
                participant=entry.text("participant"),
                public_key=entry.raw("public_key"),
                alias=entry.raw("alias"),
                account_id=entry.optional_text("account_id"),
            )
        )
    return AliasLookupPage(tuple(lookups), fields.optional_integer("next_after"))


def _participant(fields: Fields, status: int) -> ParticipantInfo:
    keys = fields.items("gateway_keys")
    return ParticipantInfo(
        code=fields.text("code"),
        name=fields.text("name"),
        status=_enum_field(fields, "status", ParticipantStatus, status),
        gateway_keys=tuple(fields.raw_of(key, "gateway_keys") for key in keys),
        gateway_url=fields.optional_text("gateway_url"),
    )


def parse_participant(body: object, status: int) -> ParticipantInfo:
    return _participant(Fields(body, status, "body"), status)


def parse_participants(body: object, status: int) -> tuple[ParticipantInfo, ...]:
    fields = Fields(body, status, "body")
    return tuple(
        _participant(Fields(item, status, f"participants[{index}]"), status)
        for index, item in enumerate(fields.items("participants"))
    )


def _decoded(fields: Fields, name: str, record_type: type[T], bytes_max: int) -> T:
    try:
        return decode_canonical(fields.raw(name), record_type, bytes_max=bytes_max)
    except DecodeError as error:
        raise ApiError(fields.status, "bad_response", f"body.{name}: {error}") from None


def _validators(fields: Fields, name: str) -> tuple[Validator, ...]:
    validators = []
    for index, item in enumerate(fields.items(name)):
        entry = Fields(item, fields.status, f"{name}[{index}]")
        validators.append(
            Validator(entry.text("name"), entry.raw("public_key"), entry.integer("power"))
        )
    return tuple(validators)


def _full_block_transactions(fields: Fields) -> tuple[BlockTransaction, ...]:
    """The central bank's shape: `transactions` (canonical bytes) beside `results`."""
    raws, results = fields.items("transactions"), fields.items("results")
    if len(raws) != len(results) or len(raws) > limits.block_txs_max:
        raise ApiError(fields.status, "bad_response", "body: one result per transaction")
    entries = []
    for index, (raw, item) in enumerate(zip(raws, results, strict=True)):
        try:
            transaction = decode_transaction(fields.raw_of(raw, f"transactions[{index}]"))
        except DecodeError as error:
            raise ApiError(
                fields.status, "bad_response", f"transactions[{index}]: {error}"
            ) from None
        result = Fields(item, fields.status, f"results[{index}]")
        tx_hash = transaction_hash(transaction.payload)
        code, command_index = result.integer("code"), result.integer("command_index")
        entries.append(
            BlockTransaction(index, tx_hash, transaction, TxResult(tx_hash, code, command_index))
        )
    return tuple(entries)


def _visible_transactions(fields: Fields) -> tuple[BlockTransaction, ...]:
    """A participant's shape, the stream message: `[{index, tx, result: {code, ...}}]`."""
    entries = []
    for position, item in enumerate(fields.items("transactions")):
        entry = Fields(item, fields.status, f"transactions[{position}]")
        try:
            transaction = decode_transaction(entry.raw("tx"))
        except DecodeError as error:
            raise ApiError(fields.status, "bad_response", f"transactions: {error}") from None
        result = entry.sub("result")
        tx_hash = transaction_hash(transaction.payload)
        code, command_index = result.integer("code"), result.integer("command_index")
        entries.append(
            BlockTransaction(
                entry.integer("index"),
                tx_hash,
                transaction,
                TxResult(tx_hash, code, command_index),
            )
        )
    return tuple(entries)


def parse_block(body: object, status: int) -> BlockInfo:
    """`GET /v1/blocks/{height}`: the central bank's full block (`header_bytes`,
    `transactions`, `results`) or a participant's stream-shaped message (docs/api.md)."""
    fields = Fields(body, status, "body")
    commit = _decoded(fields, "commit", Commit, limits.client_commit_bytes_max)
    if fields.has("header_bytes"):
        header = _decoded(fields, "header_bytes", BlockHeader, limits.client_header_bytes_max)
        transactions = _full_block_transactions(fields)
        tx_count, validators = len(transactions), None
    else:
        header = _decoded(fields, "header", BlockHeader, limits.client_header_bytes_max)
        transactions = _visible_transactions(fields)
        tx_count, validators = fields.integer("tx_count"), _validators(fields, "validators")
    return BlockInfo(
        height=fields.integer("height"),
        header=header,
        commit=commit,
        tx_count=tx_count,
        transactions=transactions,
        validators=validators,
    )
