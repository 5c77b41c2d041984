"""The world state as a key-value store, and the overlays that make execution atomic.

Rules:
1. State is bytes keys to canonical record bytes. The store behind it is a `StateReader`: a
   dict in tests and the simulator, LMDB in a node. The ledger only ever asks `get(key)`.
2. Executing a block never writes to the store. Reads go through `StateView`, which keeps the
   block's writes (decoded records) in a dict, and each transaction's tentative writes in a
   second dict that is merged on success and dropped on rejection (all-or-nothing).
3. A block's result is its write set: every written key with its new bytes (or None for a
   deletion), sorted by key. The caller persists it in one transaction (issue 4: LMDB).

Key layout (prefix, then the identifier):

| prefix | record             | identifier                          |
|--------|--------------------|-------------------------------------|
| `c`    | ChainConfig        | (single)                            |
| `H`    | Head               | (single)                            |
| `L`    | LimitsPolicy       | (single)                            |
| `V`    | ValidatorSchedule  | (single)                            |
| `$`    | Supply             | (single)                            |
| `P`    | ParticipantIndex   | (single)                            |
| `p/`   | Participant        | participant code                    |
| `a/`   | Account            | account ID                          |
| `h/`   | Hold               | 16-byte hold ID                     |
| `x/`   | HoldExpiryBucket   | minute of expiry, 8 bytes big-endian |
| `l/`   | Alias              | 32-byte HMAC                        |
| `s/`   | SeenTransaction    | 32-byte transaction hash            |
| `b/`   | SeenBlock          | height, 8 bytes big-endian          |

Every prefixed key is one character and a slash, so a key's record type is found by its
first byte.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

import msgspec

from bakong.ledger.policy import LimitsPolicy
from bakong.ledger.records import (
    Account,
    Alias,
    ChainConfig,
    Head,
    Hold,
    HoldExpiryBucket,
    Participant,
    ParticipantIndex,
    SeenBlock,
    SeenTransaction,
    Supply,
    ValidatorSchedule,
)
from bakong.wire.codec import Record, encode

__all__ = [
    "CHAIN_KEY",
    "HEAD_KEY",
    "PARTICIPANTS_KEY",
    "POLICY_KEY",
    "SUPPLY_KEY",
    "VALIDATORS_KEY",
    "LayeredStore",
    "MemoryStore",
    "StateReader",
    "StateView",
    "WriteSet",
    "account_key",
    "alias_key",
    "decode_value",
    "hold_expiry_key",
    "hold_key",
    "participant_key",
    "seen_block_key",
    "seen_key",
]

WriteSet = tuple[tuple[bytes, bytes | None], ...]
R = TypeVar("R", bound=Record)

CHAIN_KEY = b"c"
HEAD_KEY = b"H"
POLICY_KEY = b"L"
VALIDATORS_KEY = b"V"
SUPPLY_KEY = b"$"
PARTICIPANTS_KEY = b"P"


def participant_key(code: str) -> bytes:
    return b"p/" + code.encode()


def account_key(account: str) -> bytes:
    return b"a/" + account.encode()


def hold_key(hold_id: bytes) -> bytes:
    return b"h/" + hold_id


def hold_expiry_key(minute: int) -> bytes:
    return b"x/" + minute.to_bytes(8, "big")


def alias_key(alias: bytes) -> bytes:
    return b"l/" + alias


def seen_key(tx_hash: bytes) -> bytes:
    return b"s/" + tx_hash


def seen_block_key(height: int) -> bytes:
    return b"b/" + height.to_bytes(8, "big")


_singletons: dict[bytes, type[Record]] = {
    CHAIN_KEY: ChainConfig,
    HEAD_KEY: Head,
    POLICY_KEY: LimitsPolicy,
    VALIDATORS_KEY: ValidatorSchedule,
    SUPPLY_KEY: Supply,
    PARTICIPANTS_KEY: ParticipantIndex,
}
_prefixed: dict[int, type[Record]] = {
    ord("p"): Participant,
    ord("a"): Account,
    ord("h"): Hold,
    ord("x"): HoldExpiryBucket,
    ord("l"): Alias,
    ord("s"): SeenTransaction,
    ord("b"): SeenBlock,
}
assert not {key[0] for key in _singletons} & set(_prefixed), "prefixes are distinct"
_decoders: dict[type[Record], Callable[[bytes], Any]] = {
    record_type: msgspec.msgpack.Decoder(record_type).decode
    for record_type in (*_singletons.values(), *_prefixed.values())
}
_account_byte = ord("a")
_encode = encode
_decoder_by_first_byte: dict[int, Callable[[bytes], Any]] = {
    first: _decoders[record_type] for first, record_type in _prefixed.items()
}


def record_type_of(key: bytes) -> type[Record]:
    if len(key) == 1:
        return _singletons[key]
    assert key[1:2] == b"/", key
    return _prefixed[key[0]]


def decode_value(key: bytes, value: bytes) -> Record:
    """Decode a stored value; the store is ours, so its bytes are trusted to be canonical."""
    if len(key) == 1:
        single: Record = _decoders[_singletons[key]](value)
        return single
    record: Record = _decoder_by_first_byte[key[0]](value)
    return record


class StateReader(Protocol):
    """The one thing the ledger needs of a store."""

    def get(self, key: bytes) -> bytes | None: ...


class MemoryStore:
    """A dict-backed store, for tests, the simulator and the benchmarks."""

    def __init__(self, items: Mapping[bytes, bytes] | None = None) -> None:
        self._items: dict[bytes, bytes] = dict(items or {})

    def get(self, key: bytes) -> bytes | None:
        return self._items.get(key)

    def apply(self, write_set: WriteSet) -> None:
        for key, value in write_set:
            if value is None:
                self._items.pop(key, None)
            else:
                self._items[key] = value

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every item in key order (deterministic, for snapshots and invariant scans)."""
        for key in sorted(self._items):
            yield key, self._items[key]

    def __len__(self) -> int:
        return len(self._items)


class LayeredStore:
    """A store seen through a write set that is not yet persisted (a block being decided)."""

    def __init__(self, base: StateReader, write_set: WriteSet) -> None:
        self.base = base
        self.writes: dict[bytes, bytes | None] = dict(write_set)

    def get(self, key: bytes) -> bytes | None:
        if key in self.writes:
            return self.writes[key]
        return self.base.get(key)


_missing: Any = object()


class StateView:
    """Reads and writes of one block's execution, with per-transaction atomicity.

    `_block` holds every record this block has read or committed, so a key costs one decode
    per block; `_written` names the keys the block changed and `_original` their values before
    the block (for the invariant checks). `_tx` holds the open transaction's writes.
    """

    __slots__ = ("_base", "_block", "_written", "_original", "_tx")

    def __init__(self, base: StateReader) -> None:
        self._base = base
        self._block: dict[bytes, Record | None] = {}
        self._written: set[bytes] = set()
        self._original: dict[bytes, Record | None] = {}
        self._tx: dict[bytes, Record | None] = {}

    def read(self, key: bytes) -> Any:
        """The record at `key` (or None), as the current transaction sees it."""
        value = self._tx.get(key, _missing)
        if value is _missing:
            value = self._block.get(key, _missing)
            if value is _missing:
                raw = self._base.get(key)
                value = None if raw is None else decode_value(key, raw)
                self._block[key] = value
        return value

    def write(self, key: bytes, value: Record | None) -> None:
        self._tx[key] = value

    def commit_transaction(self) -> None:
        block, original, tx = self._block, self._original, self._tx
        for key in tx:
            if key not in original:
                # Not yet written in this block, so the block's cache holds the base value.
                value = block.get(key, _missing)
                original[key] = self.read_base(key) if value is _missing else value
        self._written.update(tx)
        block.update(tx)
        tx.clear()

    def rollback_transaction(self) -> None:
        self._tx.clear()

    def read_base(self, key: bytes) -> Any:
        """The record at `key` before this block (for keys not yet written: as read)."""
        if key in self._original:
            return self._original[key]
        value = self._block.get(key, _missing)
        if value is _missing or key in self._written:
            raw = self._base.get(key)
            value = None if raw is None else decode_value(key, raw)
        return value

    def write_set(self) -> WriteSet:
        """This block's writes as canonical bytes, sorted by key; each checked for its type."""
        assert not self._tx, "a transaction is still open"
        block = self._block
        entries: list[tuple[bytes, bytes | None]] = []
        for key in sorted(self._written):
            value = block[key]
            if value is None:
                entries.append((key, None))
            else:
                assert type(value) is record_type_of(key), key
                entries.append((key, _encode(value)))
        return tuple(entries)

    def account_changes(self) -> Iterator[tuple[Any, Any]]:
        """(before the block, now) for every account this block wrote."""
        block, original = self._block, self._original
        for key in self._written:
            if key[0] == _account_byte:
                yield original[key], block[key]

    def original(self, key: bytes) -> Any:
        """The record at `key` before this block."""
        if key in self._original:
            return self._original[key]
        return self.read_base(key)
