"""The world state as a key-value store, and the overlays that make execution atomic.

Rules:
1. State is bytes keys to canonical record bytes. The store behind it is a `StateReader`: a
   dict in tests and the simulator, LMDB in a node. The ledger only ever asks `get(key)` and
   `record(key)`, the same value decoded, which a store may keep between blocks
   (`DecodedRecords`).
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
| `e/`   | ParticipantEndpoint| participant code                    |
| `a/`   | Account            | account ID                          |
| `h/`   | Hold               | 16-byte hold ID                     |
| `x/`   | HoldExpiryBucket   | minute of expiry, 8 bytes big-endian |
| `l/`   | Alias              | 32-byte HMAC                        |
| `s/`   | SeenTransaction    | created_ms, 8 bytes big-endian, and the 32-byte transaction hash |
| `b/`   | SeenBlock          | height, 8 bytes big-endian          |

Every prefixed key is one character and a slash, so a key's record type is found by its
first byte.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, TypeVar

import msgspec

from bakong import limits
from bakong.ledger.policy import LimitsPolicy
from bakong.ledger.records import (
    Account,
    Alias,
    ChainConfig,
    Head,
    Hold,
    HoldExpiryBucket,
    Participant,
    ParticipantEndpoint,
    ParticipantIndex,
    SeenBlock,
    SeenTransaction,
    Supply,
    ValidatorSchedule,
)
from bakong.wire.codec import Record, encode

__all__ = [
    "CHAIN_KEY",
    "DecodedRecords",
    "HEAD_KEY",
    "PARTICIPANTS_KEY",
    "POLICY_KEY",
    "SUPPLY_KEY",
    "VALIDATORS_KEY",
    "LayeredStore",
    "MemoryStore",
    "StateReader",
    "StateView",
    "ViewParts",
    "WriteSet",
    "WrittenRecords",
    "account_key",
    "alias_key",
    "decode_value",
    "endpoint_key",
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


def endpoint_key(code: str) -> bytes:
    return b"e/" + code.encode()


def account_key(account: str) -> bytes:
    return b"a/" + account.encode()


def hold_key(hold_id: bytes) -> bytes:
    return b"h/" + hold_id


def hold_expiry_key(minute: int) -> bytes:
    return b"x/" + minute.to_bytes(8, "big")


def alias_key(alias: bytes) -> bytes:
    return b"l/" + alias


def seen_key(created_ms: int, tx_hash: bytes) -> bytes:
    """A replay entry's key: the transaction's own creation time first, so that a block's
    entries, created within moments of each other, land in a few adjacent pages of the store
    instead of one random page each (and are pruned the same way); a replay has the same
    payload, so the same time and the same key."""
    return b"s/" + created_ms.to_bytes(8, "big") + tx_hash


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
    ord("e"): ParticipantEndpoint,
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
_seen_byte = ord("s")
_encode = encode
# Singleton keys are one byte that no prefix starts with, so the first byte names every type.
_type_by_first_byte: dict[int, type[Record]] = {
    **{key[0]: record_type for key, record_type in _singletons.items()},
    **_prefixed,
}
_decoder_by_first_byte: dict[int, Callable[[bytes], Any]] = {
    first: _decoders[record_type] for first, record_type in _prefixed.items()
}


def decode_value(key: bytes, value: bytes) -> Record:
    """Decode a stored value; the store is ours, so its bytes are trusted to be canonical."""
    if len(key) == 1:
        single: Record = _decoders[_singletons[key]](value)
        return single
    record: Record = _decoder_by_first_byte[key[0]](value)
    return record


class StateReader(Protocol):
    """What the ledger needs of a store: its bytes, and its records decoded."""

    def get(self, key: bytes) -> bytes | None: ...

    def record(self, key: bytes) -> Any:
        """The decoded record at `key`, or None; a store may serve it from `DecodedRecords`."""
        ...

    def records(self, keys: Sequence[bytes]) -> list[Any]:
        """`record` of each of `keys`, in order (one call for a block's reads)."""
        ...


#: (key, record or None for a deletion) of every key a block wrote; see `DecodedRecords`.
WrittenRecords = tuple[tuple[bytes, Record | None], ...]


# Replay-protection records (`seen_key`, `seen_block_key`) are written once and read back only
# to find them absent, so `DecodedRecords` does not keep them.
_replay_bytes = frozenset({ord("s"), ord("b")})
_replay_first_bytes = bytes(sorted(_replay_bytes))


class DecodedRecords:
    """Decoded records of a store's committed state, kept between blocks.

    A block decodes each key it reads once; without this, a busy account is decoded again in
    every block. The owner of a store keeps it coherent: whenever it persists a block's write
    set it calls `update` with the same block's written records (or `forget` with the keys).
    Records are immutable, so sharing one between blocks is safe. Bounded: the entry inserted
    longest ago is evicted first (a busy account evicted is decoded again on its next read).
    Replay-protection records are never kept."""

    __slots__ = ("_records", "_entries_max")

    def __init__(self, entries_max: int = limits.decoded_records_max) -> None:
        assert entries_max > 0
        self._entries_max = entries_max
        # OrderedDict: evicting a plain dict's first entry walks the holes earlier evictions left.
        self._records: OrderedDict[bytes, Record] = OrderedDict()

    def record(self, key: bytes, get: Callable[[bytes], bytes | None]) -> Any:
        """The record at `key`, decoded from `get(key)` on a miss (absent keys are not kept)."""
        return self.records((key,), get)[0]

    def records(self, keys: Sequence[bytes], get: Callable[[bytes], bytes | None]) -> list[Any]:
        """`record` of each key, in order: a block's prefetch is one call, not one per key."""
        if _compiled_records is not None:
            return _compiled_records(
                self._records, keys, get, decode_value, _replay_first_bytes, self._insert
            )
        cached = self._records
        unkept = _replay_bytes
        found: list[Any] = []
        append = found.append
        for key in keys:
            value = cached.get(key)
            if value is None:
                raw = get(key)
                if raw is not None:
                    value = decode_value(key, raw)
                    if key[0] not in unkept:
                        self._insert(key, value)
            append(value)
        return found

    def _insert(self, key: bytes, value: Record) -> None:
        records = self._records
        if len(records) >= self._entries_max:
            records.popitem(last=False)
        records[key] = value

    def update(self, written: WrittenRecords) -> None:
        records = self._records
        unkept = _replay_bytes
        for key, value in written:
            if key[0] in unkept:
                continue
            if value is None:
                records.pop(key, None)
            elif key in records:
                records[key] = value  # keeps its place: eviction is by first insertion
            else:
                self._insert(key, value)

    def forget(self, write_set: WriteSet) -> None:
        for key, _ in write_set:
            self._records.pop(key, None)

    def __len__(self) -> int:
        return len(self._records)


class MemoryStore:
    """A dict-backed store, for tests, the simulator and the benchmarks."""

    def __init__(self, items: Mapping[bytes, bytes] | None = None) -> None:
        self._items: dict[bytes, bytes] = dict(items or {})
        self._decoded = DecodedRecords()

    def get(self, key: bytes) -> bytes | None:
        return self._items.get(key)

    def record(self, key: bytes) -> Any:
        return self._decoded.record(key, self._items.get)

    def records(self, keys: Sequence[bytes]) -> list[Any]:
        return self._decoded.records(keys, self._items.get)

    def apply(self, write_set: WriteSet, written: WrittenRecords | None = None) -> None:
        """Persist `write_set`; `written` is the same block's records (`BlockOutcome.written`),
        kept decoded for the next block."""
        for key, value in write_set:
            if value is None:
                self._items.pop(key, None)
            else:
                self._items[key] = value
        if written is None:
            self._decoded.forget(write_set)
        else:
            self._decoded.update(written)

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

    def record(self, key: bytes) -> Any:
        if key in self.writes:
            raw = self.writes[key]
            return None if raw is None else decode_value(key, raw)
        return self.base.record(key)

    def records(self, keys: Sequence[bytes]) -> list[Any]:
        return [self.record(key) for key in keys]


_missing: Any = object()


_Changes = Callable[
    [dict[bytes, Any], set[bytes], dict[int, Any], Callable[[object], bytes], int],
    tuple[WriteSet, WrittenRecords],
]
_Deltas = Callable[
    [set[bytes], dict[bytes, Any], dict[bytes, Any], int], tuple[int, int, Any] | None
]
_Records = Callable[
    [
        OrderedDict[bytes, Record],
        Sequence[bytes],
        Callable[[bytes], bytes | None],
        Callable[[bytes, bytes], Record],
        bytes,
        Callable[[bytes, Record], None],
    ],
    list[Any],
]


def _compiled() -> tuple[_Changes, _Deltas, _Records] | tuple[None, None, None]:
    """`StateView.changes`, `StateView.account_deltas` and `DecodedRecords.records` compiled
    (`_lane.c`), where it was built; the Python methods run where it is not, and
    `tests/ledger/test_state_compiled.py` compares them."""
    try:
        from bakong.ledger._lane import account_deltas, cached_records, changes
    except ImportError:
        return None, None, None
    return changes, account_deltas, cached_records


_compiled_changes, _compiled_deltas, _compiled_records = _compiled()


class ViewParts(NamedTuple):
    """A `StateView`'s containers, by name: the compiled transfer lane's interface to a view
    (`StateView.parts`). The lane reads a key as `StateView.read` does and writes one only as
    `StateView.put` does, so these hold, between its calls:

    - `block`: every record the block has read or committed (None for an absent key);
    - `written`: the keys the block changed; `original`: each one's record before the block;
    - `tx`: the open transaction's writes (the lane runs only while it is empty);
    - `base`: the store under the view (its `records` is the block's one prefetch read).
    """

    base: StateReader
    block: dict[bytes, Record | None]
    written: set[bytes]
    original: dict[bytes, Record | None]
    tx: dict[bytes, Record | None]


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
                value = self._block[key] = self._base.record(key)
        return value

    def prefetch(self, keys: Sequence[bytes]) -> None:
        """Read `keys` from the store now, in one call, for transactions about to read them
        (reading a key is not writing it: the write set is unchanged)."""
        block = self._block
        missing = [key for key in keys if key not in block]
        block.update(zip(missing, self._base.records(missing), strict=True))

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

    def put(self, key: bytes, value: Record) -> None:
        """Write `value` at `key`, committed at once, outside any transaction (the block's
        replay entries; the compiled lane does the same through `parts`). `key` has been
        read."""
        assert not self._tx, "a transaction is open"
        if key not in self._original:
            self._original[key] = self._block[key]
        self._written.add(key)
        self._block[key] = value

    def parts(self) -> ViewParts:
        """The view's containers, for the compiled transfer lane (`ViewParts`)."""
        return ViewParts(self._base, self._block, self._written, self._original, self._tx)

    def rollback_transaction(self) -> None:
        self._tx.clear()

    def read_base(self, key: bytes) -> Any:
        """The record at `key` before this block (for keys not yet written: as read)."""
        if key in self._original:
            return self._original[key]
        value = self._block.get(key, _missing)
        if value is _missing or key in self._written:
            value = self._base.record(key)
        return value

    def write_set(self) -> WriteSet:
        """This block's writes as canonical bytes, sorted by key; each checked for its type."""
        return self.changes()[0]

    def changes(self) -> tuple[WriteSet, WrittenRecords]:
        """The write set, and the same writes as records (for `DecodedRecords.update`)."""
        assert not self._tx, "a transaction is still open"
        if _compiled_changes is not None:
            return _compiled_changes(
                self._block, self._written, _type_by_first_byte, _encode, _seen_byte
            )
        block = self._block
        type_of = _type_by_first_byte
        encode_value = _encode
        entries: list[tuple[bytes, bytes | None]] = []
        append = entries.append
        written = tuple([(key, block[key]) for key in sorted(self._written)])
        # A block's replay entries share one record per result code: encoded once each.
        shared: dict[int, bytes] = {}
        for key, value in written:
            if value is None:
                append((key, None))
                continue
            first = key[0]
            assert type(value) is type_of[first], key
            if first == _seen_byte:
                data = shared.get(id(value))
                if data is None:
                    data = shared[id(value)] = encode_value(value)
                append((key, data))
            else:
                append((key, encode_value(value)))
        return tuple(entries), written

    def account_deltas(self) -> tuple[int, int, Any]:
        """Over the accounts this block wrote: the change of KHR and of USD held in them
        (available plus held), and the first written account with a negative amount (or None),
        for the invariant checks."""
        if _compiled_deltas is not None:
            deltas = _compiled_deltas(self._written, self._block, self._original, _account_byte)
            if deltas is not None:  # None: an amount beyond 64 bits, which only Python sums
                return deltas
        block, original = self._block, self._original
        khr_delta = usd_delta = 0
        negative = None
        for key in self._written:
            if key[0] != _account_byte:
                continue
            old: Any = original[key]
            new: Any = block[key]
            if new is not None:
                (khr, usd), (khr_held, usd_held) = new.balances, new.held
                if negative is None and min(khr, usd, khr_held, usd_held) < 0:
                    negative = new
                khr_delta += khr + khr_held
                usd_delta += usd + usd_held
            if old is not None:
                (khr, usd), (khr_held, usd_held) = old.balances, old.held
                khr_delta -= khr + khr_held
                usd_delta -= usd + usd_held
        return khr_delta, usd_delta, negative

    def original(self, key: bytes) -> Any:
        """The record at `key` before this block."""
        if key in self._original:
            return self._original[key]
        return self.read_base(key)
