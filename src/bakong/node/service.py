"""What a running node offers its API: the seam between the HTTP layer and the runtime.

The HTTP API (`bakong.node.api`) sees a node only through `NodeService`. The validator runtime
implements it over its LMDB store, mempool and consensus loop; tests use an in-memory
implementation over one sandbox chain. All reads answer from committed state only: a reader
never sees a block that is not final.

Records here are what the runtime stores and serves:
- `StoredBlock`: a committed block as stored (canonical block bytes, the commit that decided
  it, each transaction's result, the app hash after it);
- `Admission`: the mempool's verdict on one submitted transaction;
- `TxStatus`: where a transaction is (pending, committed with height, index and result code,
  rejected on admission with a reason, or unknown);
- `AliasLookup`: one phone-alias resolution the API answered, kept in the node's store for the
  central bank's audit (`bakong.node.alias_lookups`), numbered from 1 in the order answered.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bakong.ledger.block import TxResult
from bakong.ledger.commit import Commit
from bakong.ledger.validators import Validator
from bakong.wire.codec import Record

__all__ = [
    "Admission",
    "AliasLookup",
    "AdmissionStatus",
    "Metric",
    "NodeService",
    "NodeStatus",
    "PeerInfo",
    "StoredBlock",
    "TxState",
    "TxStatus",
    "ValidatorInfo",
]


class StoredBlock(Record, frozen=True):
    height: int
    block: bytes  # canonical `Block` bytes; its hash is `commit.block_hash`
    commit: Commit  # 2f+1 precommits for this block
    results: tuple[TxResult, ...]  # one per transaction, in block order
    app_hash: bytes  # state commitment after this block (equals the header's)
    validators: tuple[Validator, ...]  # the set that decided this height (header.validators_hash)


class AliasLookup(Record, frozen=True):
    time_ms: int  # the node's clock when it answered
    participant: str  # who asked
    public_key: bytes  # the key that signed the request
    alias: bytes  # the HMAC asked about
    account_id: str  # what it resolved to; empty when no account has the alias


class AdmissionStatus(enum.Enum):
    ACCEPTED = "accepted"  # in the mempool now (also when it already was: idempotent)
    COMMITTED = "committed"  # already in a committed block
    BUSY = "busy"  # the mempool is full: try again later (HTTP 503)
    REJECTED = "rejected"  # will never be accepted as sent: `code` says why


@dataclass(frozen=True, slots=True)
class Admission:
    tx_hash: bytes | None  # None when the bytes do not even decode
    status: AdmissionStatus
    code: str  # "ok", or a decode error code / result code name, e.g. "bad_signature"
    message: str


class TxState(enum.Enum):
    PENDING = "pending"
    COMMITTED = "committed"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class TxStatus:
    tx_hash: bytes
    state: TxState
    height: int | None = None  # committed: the block
    index: int | None = None  # committed: position in the block
    code: int | None = None  # committed: the `ResultCode` (0 is ok); rejected: None
    command_index: int | None = None  # committed and failed: the failing command
    reason: str | None = None  # rejected: why (an admission code)


@dataclass(frozen=True, slots=True)
class ValidatorInfo:
    name: str
    public_key: bytes
    power: int


@dataclass(frozen=True, slots=True)
class PeerInfo:
    public_key: bytes
    address: str  # host:port
    connected: bool


@dataclass(frozen=True, slots=True)
class NodeStatus:
    chain_id: str
    height: int  # last committed height (0 before the first block)
    app_hash: bytes
    block_time_ms: int  # time of the last committed block (genesis time at height 0)
    validators: tuple[ValidatorInfo, ...]  # the set deciding the next height
    peers: tuple[PeerInfo, ...]
    mempool_txs: int
    catching_up: bool


@dataclass(frozen=True, slots=True)
class Metric:
    """One Prometheus sample: `kind` is "counter" or "gauge"."""

    name: str  # bakong_..., with the unit last
    kind: str
    help: str
    value: float


class NodeService(Protocol):
    @property
    def chain_id(self) -> str: ...

    def status(self) -> NodeStatus: ...

    async def submit(self, transactions: Sequence[bytes]) -> list[Admission]:
        """Admit raw canonical transactions (one verdict each, in order)."""
        ...

    def transaction_status(self, tx_hash: bytes) -> TxStatus: ...

    def read_state(self, key: bytes) -> bytes | None:
        """A committed state value by its `bakong.ledger.state` key."""
        ...

    def stored_block(self, height: int) -> StoredBlock | None: ...

    def snapshot_heights(self) -> list[int]:
        """The state snapshots this node holds (`bakong.node.snapshot`), oldest first."""
        ...

    def snapshot_manifest(self, height: int) -> bytes | None:
        """The canonical manifest of the snapshot at `height`."""
        ...

    def snapshot_chunk(self, height: int, index: int) -> bytes | None: ...

    async def wait_for_height(self, height: int, timeout_s: float) -> int:
        """Wait until `height` is committed (or the timeout); return the committed height."""
        ...

    def metrics(self) -> list[Metric]: ...

    def record_alias_lookup(self, lookup: AliasLookup) -> int:
        """Keep `lookup` in the audit trail, surviving a restart; its sequence number."""
        ...

    def alias_lookups(self, after: int, count: int) -> list[tuple[int, AliasLookup]]:
        """Up to `count` audited lookups numbered above `after`, oldest first."""
        ...
