"""Committed blocks as a caller may see them: filtered, with Merkle proofs (design section 3).

One message per committed block, the same for the commit stream (`WS /v1/stream`) and a
participant's `GET /v1/blocks/{height}`:

    {"height", "header": canonical BlockHeader bytes, "commit": canonical Commit bytes,
     "tx_count", "validators": [{"name", "public_key", "power"}],
     "transactions": [{"index", "tx": canonical Transaction bytes, "tx_proof": [hash...],
                       "result": {"code", "result", "command_index"}, "result_proof": [hash...]}]}

Rules:
1. The central bank gets every transaction of every block; a participant only those every
   command of which touches it, or that it created (`bakong.node.visibility`), but always the
   header and commit, so it follows the chain and sees how many transactions it was not shown.
2. `tx_proof` is the RFC 9162 inclusion proof of the transaction's hash (of its payload) at
   `index` in a tree of `tx_count` leaves under `header.tx_root`; `result_proof` that of
   `result_leaf(chain_id, TxResult(tx_hash, code, command_index))` under `header.result_root`.
3. `validators` is the set that decided the height, as the block store keeps it
   (`StoredBlock.validators`); its hash is `header.validators_hash` (asserted), so a gateway
   checks the commit against the header it already trusts.
4. A decoded block with its trees is computed once and kept in a small cache (`BlockCache`),
   because every subscriber needs the same block; who may see each of its transactions is
   worked out once too, when a participant first asks (the central bank, which sees every
   transaction, never needs it). The trees' leaves are the transaction hashes the stored
   results carry, checked against the header's root.
5. The feed is pull-based: it reads each block from the service's block store when it is due,
   so nothing is queued for a subscriber beyond the one message being sent. A subscriber that
   does not take a message within `limits.stream_send_timeout_s` is closed with 4408
   `slow_consumer`, never buffered.
6. Authorisation is checked again before every message against committed state, so a
   participant suspended, or whose key is rotated out, mid-stream is closed with 4403
   `forbidden` and receives nothing decided after that.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import anyio

from bakong import limits
from bakong.errors import RemoteError
from bakong.ledger.block import Block, BlockHeader, TxResult, decode_block, result_leaf
from bakong.ledger.records import Hold
from bakong.ledger.state import decode_value, hold_key
from bakong.ledger.validators import validator_set_hash
from bakong.node.auth import Caller
from bakong.node.service import NodeService, StoredBlock
from bakong.node.views import Tree, header_view, result_name, result_view, validators_view
from bakong.node.visibility import viewers
from bakong.types import Hash
from bakong.wire import merkle
from bakong.wire.codec import encode

__all__ = [
    "BlockCache",
    "BlockReader",
    "DecodedBlock",
    "StreamClosed",
    "stream_blocks",
]


class StreamClosed(RemoteError):
    """The feed ends: WebSocket `close_code` (4xxx mirror HTTP statuses) and `reason`, which is
    also the error's `code`."""

    def __init__(self, close_code: int, reason: str) -> None:
        super().__init__(reason, f"the stream closes with {close_code}")
        self.close_code = close_code
        self.reason = reason


@dataclass(slots=True)
class DecodedBlock:
    """A stored block decoded once, with its Merkle trees (rule 4)."""

    stored: StoredBlock
    block: Block
    tx_bytes: list[bytes]
    tx_levels: list[list[Hash]]
    result_levels: list[list[Hash]]
    viewers: list[frozenset[str]] | None = None  # who may see each transaction, once asked

    @property
    def header(self) -> BlockHeader:
        return self.block.header


def decode_stored(stored: StoredBlock) -> DecodedBlock:
    """Decode a stored block and compute its trees."""
    block = decode_block(stored.block)
    chain_id = block.header.chain_id
    transactions = block.transactions
    assert len(stored.results) == len(transactions), "one result per transaction"
    validators_hash = validator_set_hash(chain_id, stored.validators)
    assert validators_hash == block.header.validators_hash, "the set that decided the block"
    tx_levels = merkle.levels([result.tx_hash for result in stored.results]) if transactions else []
    assert not tx_levels or tx_levels[-1][0] == block.header.tx_root, "the results' hashes"
    leaves = [result_leaf(chain_id, result) for result in stored.results]
    return DecodedBlock(
        stored=stored,
        block=block,
        tx_bytes=[encode(tx) for tx in transactions],
        tx_levels=tx_levels,
        result_levels=merkle.levels(leaves) if leaves else [],
    )


class BlockCache:
    """The last few decoded blocks by height (rule 4)."""

    def __init__(self, entries_max: int = limits.decoded_blocks_cached_max) -> None:
        assert entries_max > 0
        self._entries: OrderedDict[int, DecodedBlock] = OrderedDict()
        self._entries_max = entries_max

    def get(self, height: int) -> DecodedBlock | None:
        entry = self._entries.get(height)
        if entry is not None:
            self._entries.move_to_end(height)
        return entry

    def put(self, height: int, entry: DecodedBlock) -> None:
        self._entries[height] = entry
        self._entries.move_to_end(height)
        while len(self._entries) > self._entries_max:
            self._entries.popitem(last=False)


class BlockReader:
    """Reads committed blocks from a service and shapes them for a caller (rules 1-4)."""

    def __init__(self, service: NodeService) -> None:
        self.service = service
        self.cache = BlockCache()

    def hold_parties(self, hold_id: bytes) -> tuple[str, ...]:
        if len(hold_id) != 16:
            return ()
        raw = self.service.read_state(hold_key(hold_id))
        if raw is None:
            return ()
        hold = decode_value(hold_key(hold_id), raw)
        assert isinstance(hold, Hold)
        return (hold.source, hold.target, hold.poster)

    def decoded(self, height: int) -> DecodedBlock | None:
        entry = self.cache.get(height)
        if entry is None:
            stored = self.service.stored_block(height)
            if stored is None:
                return None
            entry = decode_stored(stored)
            self.cache.put(height, entry)
        return entry

    def viewers(self, entry: DecodedBlock) -> list[frozenset[str]]:
        """The participants that may see each transaction of `entry` (rules 1 and 4)."""
        if entry.viewers is None:
            payloads = (transaction.payload for transaction in entry.block.transactions)
            entry.viewers = [viewers(payload, self.hold_parties) for payload in payloads]
        return entry.viewers

    def message(self, caller: Caller, height: int) -> Tree | None:
        """Block `height` as `caller` may see it (the module's message), or None if absent."""
        entry = self.decoded(height)
        if entry is None:
            return None
        if caller.is_central_bank:
            indices: Iterable[int] = range(len(entry.tx_bytes))
        else:
            seen_by = self.viewers(entry)
            indices = [i for i, codes in enumerate(seen_by) if caller.participant in codes]
        return {
            "height": height,
            "header": encode(entry.header),
            "commit": encode(entry.stored.commit),
            "tx_count": len(entry.tx_bytes),
            "validators": validators_view(entry.stored.validators),
            "transactions": [_transaction_view(entry, i) for i in indices],
        }

    def may_see(self, caller: Caller, height: int, index: int) -> bool:
        """Whether `caller` is shown transaction `index` of committed block `height` (rule 1)."""
        if caller.is_central_bank:
            return True
        entry = self.decoded(height)
        return entry is not None and caller.participant in self.viewers(entry)[index]

    def full_block(self, height: int) -> Tree | None:
        """Block `height` complete and decoded (the central bank's `GET /v1/blocks`)."""
        entry = self.decoded(height)
        if entry is None:
            return None
        stored = entry.stored
        return {
            "height": height,
            "block_hash": stored.commit.block_hash,
            "header": header_view(entry.header),
            "header_bytes": encode(entry.header),
            "commit": encode(stored.commit),
            "transactions": list(entry.tx_bytes),
            "results": [result_view(result) for result in stored.results],
            "app_hash": stored.app_hash,
        }


def _transaction_view(entry: DecodedBlock, index: int) -> Tree:
    result: TxResult = entry.stored.results[index]
    return {
        "index": index,
        "tx": entry.tx_bytes[index],
        "tx_proof": merkle.inclusion_proof(entry.tx_levels, index),
        "result": {
            "code": result.code,
            "result": result_name(result.code),
            "command_index": result.command_index,
        },
        "result_proof": merkle.inclusion_proof(entry.result_levels, index),
    }


Send = Callable[[Tree], Awaitable[None]]


async def stream_blocks(
    reader: BlockReader,
    caller: Caller,
    from_height: int,
    send: Send,
    *,
    recheck: Callable[[], Caller | None] | None = None,
    send_timeout_s: float = limits.stream_send_timeout_s,
    wait_s: float = limits.stream_wait_s,
) -> None:
    """Send every block from `from_height` on, in order, forever; raises `StreamClosed`.

    `recheck` answers who the caller's key belongs to now; when that is no longer `caller`
    (suspended, key rotated out) the stream ends before the next message (rule 6).
    """
    assert from_height >= 1
    height = from_height
    while True:
        committed = await reader.service.wait_for_height(height, wait_s)
        while height <= committed:
            if recheck is not None and recheck() != caller:
                raise StreamClosed(4403, "forbidden")
            message = reader.message(caller, height)
            if message is None:
                raise StreamClosed(4404, "block_not_found")
            try:
                with anyio.fail_after(send_timeout_s):
                    await send(message)
            except TimeoutError:
                raise StreamClosed(4408, "slow_consumer") from None
            height += 1
