"""Blocks and `apply_block`: the deterministic state transition of the whole ledger.

A block's header carries: chain id, height, time (ms), proposer, previous block hash (the
genesis hash at height 1), Merkle root of the transaction hashes, Merkle root of the results,
the app hash *after* this block, the hash of the validator set that decides it, the root of
an earlier state snapshot when this height carries one, and the previous block's commit. The
proposer executes the block to fill in the roots; every validator re-executes it and compares
(`check_header`). The snapshot root is not the ledger's business: the node computes it from its
store and checks it (`bakong.node.snapshot`).

Executing a block at time T, in order:
1. The validator schedule moves on: the set chosen two heights ago becomes current.
2. Pending holds that expired before T are voided (`holds.sweep_expired_holds`).
3. Each transaction, in order, through the ladder and its commands, all-or-nothing.
4. Replay-protection entries older than the window are pruned, a bounded number of blocks'
   worth per block.
5. The head records the new height and time.
The write set is every written key with its new canonical bytes, sorted; the app hash is
`H(app-hash, previous app hash || H(write-set, write set))`, so any divergence between two
replicas shows in the next header.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from msgspec import Meta
from msgspec.structs import replace

from bakong import limits
from bakong.errors import LocalError
from bakong.ledger.commands import Transfer
from bakong.ledger.commit import Commit
from bakong.ledger.context import Context, SignatureVerifier
from bakong.ledger.execute import execute_transaction
from bakong.ledger.fields import ChainIdText, PublicKeyBytes, TimeMsInt
from bakong.ledger.holds import sweep_expired_holds
from bakong.ledger.invariants import check_block
from bakong.ledger.policy import LimitsPolicy, phnom_penh_day
from bakong.ledger.records import ChainConfig, Head, SeenBlock, SeenTransaction, ValidatorSchedule
from bakong.ledger.result import ResultCode
from bakong.ledger.state import (
    CHAIN_KEY,
    HEAD_KEY,
    POLICY_KEY,
    VALIDATORS_KEY,
    LayeredStore,
    StateReader,
    StateView,
    WriteSet,
    WrittenRecords,
    seen_block_key,
    seen_key,
)
from bakong.ledger.transaction import Transaction, transaction_hash
from bakong.ledger.transfer_lane import native_execute_transactions
from bakong.ledger.validators import validator_set_hash
from bakong.types import Hash
from bakong.wire import keys, merkle
from bakong.wire.codec import Record, decode_canonical, encode
from bakong.wire.hashing import Domain, digest

__all__ = [
    "Block",
    "BlockHeader",
    "BlockOutcome",
    "LedgerState",
    "SnapshotRoot",
    "TxResult",
    "apply_block",
    "block_hash",
    "build_block",
    "chain_app_hash",
    "check_header",
    "decode_block",
    "execute_block",
    "result_leaf",
]

_Hash32 = Annotated[bytes, Meta(min_length=32, max_length=32)]


class SnapshotRoot(Record, frozen=True):
    """The root of the state snapshot taken after `height` (`bakong.node.snapshot`)."""

    height: Annotated[int, Meta(ge=1, le=2**63 - 1)]
    root: _Hash32


class BlockHeader(Record, frozen=True):
    chain_id: ChainIdText
    height: Annotated[int, Meta(ge=1, le=2**63 - 1)]
    time_ms: TimeMsInt
    proposer: PublicKeyBytes
    previous_hash: _Hash32
    tx_root: _Hash32
    result_root: _Hash32
    app_hash: _Hash32
    validators_hash: _Hash32
    snapshot: SnapshotRoot | None
    last_commit: Commit | None


class Block(Record, frozen=True):
    header: BlockHeader
    transactions: Annotated[tuple[Transaction, ...], Meta(max_length=limits.block_txs_max)]


class TxResult(Record, frozen=True):
    """What became of one transaction: its code and, if a command failed, which one."""

    tx_hash: bytes
    code: int
    command_index: int


@dataclass(frozen=True, slots=True)
class LedgerState:
    """The world state after some height: a store plus the app hash that commits to it."""

    store: StateReader
    app_hash: Hash


@dataclass(frozen=True, slots=True)
class BlockOutcome:
    state: LedgerState
    results: tuple[TxResult, ...]
    write_set: WriteSet
    written: WrittenRecords  # the write set as records, for the store's `DecodedRecords`
    app_hash: Hash
    tx_hashes: tuple[bytes, ...]
    validators_hash: Hash


def block_hash(header: BlockHeader) -> Hash:
    return digest(Domain.BLOCK_HEADER, header.chain_id, encode(header))


def result_leaf(chain_id: str, result: TxResult) -> Hash:
    return digest(Domain.RESULT, chain_id, encode(result))


def decode_block(data: bytes) -> Block:
    return decode_canonical(data, Block, bytes_max=limits.block_bytes_max)


def _read_chain(view: StateView) -> tuple[ChainConfig, Head, LimitsPolicy, ValidatorSchedule]:
    chain: ChainConfig | None = view.read(CHAIN_KEY)
    head: Head | None = view.read(HEAD_KEY)
    policy: LimitsPolicy | None = view.read(POLICY_KEY)
    schedule: ValidatorSchedule | None = view.read(VALIDATORS_KEY)
    if chain is None or head is None or policy is None or schedule is None:
        raise LocalError("the store holds no genesis state")
    return chain, head, policy, schedule


def execute_block(
    state: LedgerState,
    *,
    height: int,
    time_ms: int,
    transactions: Sequence[Transaction],
    verify: SignatureVerifier = keys.verify,
    tx_hashes: Sequence[bytes] | None = None,
) -> BlockOutcome:
    """Execute `transactions` as block `height` at `time_ms` on top of `state`.

    `tx_hashes`, when given, are the transactions' hashes as admission computed them (a
    mempool hashes each transaction once, to check its signatures); otherwise they are
    computed here."""
    view = StateView(state.store)
    chain, head, policy, schedule = _read_chain(view)
    if height != head.height + 1:
        raise LocalError(f"block {height} does not follow height {head.height}")
    if time_ms <= head.time_ms:
        raise LocalError(f"block time {time_ms} is not after {head.time_ms}")
    if len(transactions) > limits.block_txs_max:
        raise LocalError(f"{len(transactions)} transactions exceed block_txs_max")
    if tx_hashes is None:
        tx_hashes = [transaction_hash(transaction.payload) for transaction in transactions]
    elif len(tx_hashes) != len(transactions):
        raise LocalError(f"{len(tx_hashes)} hashes for {len(transactions)} transactions")
    validators_hash = validator_set_hash(chain.chain_id, schedule.current)
    context = Context(
        view=view,
        chain_id=chain.chain_id,
        central_bank=chain.central_bank,
        height=height,
        time_ms=time_ms,
        day=phnom_penh_day(time_ms),
        policy=policy,
        verify=verify,
    )
    if schedule.current != schedule.next:
        view.write(VALIDATORS_KEY, replace(schedule, current=schedule.next))
        view.commit_transaction()
    sweep_expired_holds(context)
    results = _execute_transactions(context, transactions, tx_hashes)
    created_ms = {
        tx_hash: transaction.payload.created_ms
        for transaction, tx_hash in zip(transactions, tx_hashes, strict=True)
    }
    _finish_block(context, created_ms)
    check_block(view)
    write_set, written = view.changes()
    app_hash = chain_app_hash(chain.chain_id, state.app_hash, write_set)
    return BlockOutcome(
        state=LedgerState(store=LayeredStore(state.store, write_set), app_hash=app_hash),
        results=results,
        write_set=write_set,
        written=written,
        app_hash=app_hash,
        tx_hashes=tuple(tx_hashes),
        validators_hash=validators_hash,
    )


def _keys_read(transactions: Sequence[Transaction], tx_hashes: Sequence[bytes]) -> list[bytes]:
    """The keys the transactions' envelopes and transfers will read first: their replay
    entries, creators' accounts and transfer targets (prefetched in one call)."""
    keys = [
        seen_key(transaction.payload.created_ms, tx_hash)
        for transaction, tx_hash in zip(transactions, tx_hashes, strict=True)
    ]
    append = keys.append
    for transaction in transactions:
        payload = transaction.payload
        append(b"a/" + payload.creator.encode())
        for command in payload.commands:
            if type(command) is Transfer:
                append(b"a/" + command.target.encode())
    return keys


def _execute_transactions(
    context: Context, transactions: Sequence[Transaction], tx_hashes: Sequence[bytes]
) -> tuple[TxResult, ...]:
    if native_execute_transactions is not None:  # the same, compiled, prefetch included
        native: tuple[TxResult, ...] = native_execute_transactions(
            context, transactions, tx_hashes, _execute_general, TxResult
        )
        return native
    context.view.prefetch(_keys_read(transactions, tx_hashes))
    return tuple(
        [
            _execute_general(context, transaction, tx_hash)
            for transaction, tx_hash in zip(transactions, tx_hashes, strict=True)
        ]
    )


def _execute_general(context: Context, transaction: Transaction, tx_hash: bytes) -> TxResult:
    """One transaction through the general path: every transaction where the lane is not
    compiled, and the ones it does not take where it is."""
    code, index, remembered = execute_transaction(context, transaction, tx_hash)
    assert remembered or code is not ResultCode.ok
    return TxResult(tx_hash, code._value_, index)


def _finish_block(context: Context, created_ms: Mapping[bytes, int]) -> None:
    """Record this block's replay entries (`created_ms`: each transaction's, by hash), prune
    expired ones, and move the head."""
    view = context.view
    if context.seen_in_block:
        entries: dict[int, SeenTransaction] = {}  # one record per result code, shared
        keys = []
        for tx_hash, code in context.seen_in_block.items():
            entry = entries.get(code)
            if entry is None:
                entry = entries[code] = SeenTransaction(height=context.height, code=code)
            key = seen_key(created_ms[tx_hash], tx_hash)
            view.put(key, entry)  # the ladder read it, and found it absent
            keys.append(key)
        view.write(seen_block_key(context.height), SeenBlock(context.time_ms, tuple(keys)))
    head: Head = view.read(HEAD_KEY)
    horizon_ms = context.time_ms - limits.tx_past_ms_max - limits.tx_future_ms_max
    prune_height = head.seen_prune_height
    for _ in range(limits.seen_prune_blocks_per_block_max):
        if prune_height >= context.height:
            break
        seen_block: SeenBlock | None = view.read(seen_block_key(prune_height))
        if seen_block is not None:
            if seen_block.time_ms >= horizon_ms:
                break
            for key in seen_block.keys:
                view.write(key, None)
            view.write(seen_block_key(prune_height), None)
        prune_height += 1
    view.write(
        HEAD_KEY,
        replace(
            head, height=context.height, time_ms=context.time_ms, seen_prune_height=prune_height
        ),
    )
    view.commit_transaction()


def chain_app_hash(chain_id: str, previous: bytes, write_set: WriteSet) -> Hash:
    write_set_hash = digest(Domain.WRITE_SET, chain_id, encode(write_set))
    return digest(Domain.APP_HASH, chain_id, previous + write_set_hash)


def apply_block(
    state: LedgerState, block: Block, verify: SignatureVerifier = keys.verify
) -> BlockOutcome:
    """Execute a decided block: `(state, results, write_set, app_hash)` in the outcome."""
    return execute_block(
        state,
        height=block.header.height,
        time_ms=block.header.time_ms,
        transactions=block.transactions,
        verify=verify,
    )


def build_block(
    state: LedgerState,
    *,
    time_ms: int,
    proposer: bytes,
    previous_hash: bytes,
    last_commit: Commit | None,
    transactions: Sequence[Transaction],
    snapshot: SnapshotRoot | None = None,
    verify: SignatureVerifier = keys.verify,
    tx_hashes: Sequence[bytes] | None = None,
) -> tuple[Block, BlockOutcome]:
    """What a proposer does: execute the transactions, then fill in the header (`tx_hashes`
    as in `execute_block`)."""
    view = StateView(state.store)
    head: Head | None = view.read(HEAD_KEY)
    chain: ChainConfig | None = view.read(CHAIN_KEY)
    if head is None or chain is None:
        raise LocalError("the store holds no genesis state")
    outcome = execute_block(
        state,
        height=head.height + 1,
        time_ms=time_ms,
        transactions=transactions,
        verify=verify,
        tx_hashes=tx_hashes,
    )
    header = BlockHeader(
        chain_id=chain.chain_id,
        height=head.height + 1,
        time_ms=time_ms,
        proposer=proposer,
        previous_hash=previous_hash,
        tx_root=merkle.root(outcome.tx_hashes),
        result_root=merkle.root([result_leaf(chain.chain_id, r) for r in outcome.results]),
        app_hash=outcome.app_hash,
        validators_hash=outcome.validators_hash,
        snapshot=snapshot,
        last_commit=last_commit,
    )
    return Block(header=header, transactions=tuple(transactions)), outcome


def check_header(block: Block, outcome: BlockOutcome) -> list[str]:
    """The header fields that disagree with the block's re-execution (empty when valid)."""
    header = block.header
    chain_id = header.chain_id
    problems = []
    if header.tx_root != merkle.root(outcome.tx_hashes):
        problems.append("tx_root")
    if header.result_root != merkle.root([result_leaf(chain_id, r) for r in outcome.results]):
        problems.append("result_root")
    if header.app_hash != outcome.app_hash:
        problems.append("app_hash")
    if header.validators_hash != outcome.validators_hash:
        problems.append("validators_hash")
    return problems
