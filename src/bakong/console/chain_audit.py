"""Re-verifying a whole chain from its genesis file, trusting nothing a node or a store says.

`bakong audit verify` (docs/audit.md). Blocks come from a source: a validator's home (its LMDB
store opened read-only, everything read in one read transaction, so one committed height) or a
node's API as the central bank (`GET /v1/blocks/{h}`, complete blocks). Each block at height h
is checked against the state this module re-executed up to h - 1, in this order; the first
check that fails is the audit's `first_failure` (height, reason) and the audit stops there:

1. `block_missing`: the source has no block at h; `decode`: its bytes do not decode
   canonically (a stored block, its commit, results, or the block inside it).
2. `chain_id`, `height`: the header names this chain and height; `previous_hash`: it links to
   the hash of block h - 1 (of the genesis file at h = 1).
3. `block_hash`: the commit is for another block hash (the header was changed after it was
   signed); `commit_signature`: a precommit signature does not verify; `commit_quorum`: the
   signers are not more than 2/3 of the power of the set in force at h (the `current` set of
   the schedule in the state after h - 1), or one is not in it; `commit_malformed`: the commit
   is for another height, or its signers are duplicated or unsorted.
4. `last_commit`: the header's commit of h - 1 does not verify against the set of h - 1 (none
   at h = 1); `proposer`: the proposer is not in the set; `validators_hash`: the header does
   not commit to the set; `validators`: the set stored beside the block is another.
5. `tx_root`: the Merkle root of the transactions' hashes is not the header's;
   `result_root`: the results the source recorded do not name the transactions in order, or
   their root is not the header's.
6. `tx_signature`: a transaction whose recorded result says it passed the ladder's signature
   rung (its code is `ok` or after `signature_invalid`) carries a signature that does not
   verify, or one recorded as `signature_invalid` carries none that fails.
7. `snapshot_root`: the header carries a snapshot root where none is due, none where one is,
   or another root than the one computed here from the re-executed state.
8. `execution`: re-executing the block with the ledger's own `apply_block` on the state after
   h - 1 fails; `results`: it gives other results than those recorded; `app_hash`: another app
   hash than the header's (or the store's record of it).
9. Once every block verified, from a home only: `tip`: the store's tip record is not the last
   block; `state_mismatch`: the stored state differs from the re-executed one (the first
   differing key is named), reported at the last height.

Memory stays bounded whatever the length of the chain: blocks are read one at a time, and the
re-executed state lives in a scratch LMDB environment in a temporary directory (the state's
size on disk, a bounded cache of decoded records in memory), compared with the stored state
by walking both in key order.
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lmdb
import msgspec

from bakong import limits
from bakong.client import Client, SyncClient
from bakong.client.errors import ApiError, NotFound
from bakong.consensus.commit import CommitStatus, verify_commit
from bakong.errors import DecodeError, LocalError
from bakong.ledger.block import (
    Block,
    BlockOutcome,
    LedgerState,
    TxResult,
    apply_block,
    block_hash,
    decode_block,
    result_leaf,
)
from bakong.ledger.commit import Commit
from bakong.ledger.genesis import GenesisFile, genesis_hash, genesis_state
from bakong.ledger.records import ValidatorSchedule
from bakong.ledger.result import ResultCode
from bakong.ledger.state import VALIDATORS_KEY, DecodedRecords
from bakong.ledger.transaction import Transaction, signing_message, transaction_hash
from bakong.ledger.validators import Validator, ValidatorSet, validator_set_hash
from bakong.node.chain_env import state_items
from bakong.node.service import StoredBlock
from bakong.node.snapshot import (
    build_manifest,
    chain_config,
    due_snapshot,
    is_snapshot_height,
    manifest_root,
)
from bakong.node.store import StateReadTxn
from bakong.wire import keys, merkle
from bakong.wire.codec import decode_canonical
from bakong.wire.keys import SigningKey

__all__ = [
    "AuditReport",
    "Failure",
    "HomeChain",
    "NodeChain",
    "SourcedBlock",
    "verify_chain",
]

_Item = tuple[bytes, bytes]


@dataclass(frozen=True, slots=True)
class Failure:
    height: int
    reason: str
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"height": self.height, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class SourcedBlock:
    """One block as a source gives it, nothing of it trusted yet."""

    height: int
    block: Block
    commit: Commit
    results: tuple[TxResult, ...]  # as the source recorded them
    app_hash: bytes | None = None  # the store's record beside the block (a home only)
    validators: tuple[Validator, ...] | None = None  # likewise


@dataclass
class AuditReport:
    ok: bool
    verified_height: int
    first_failure: Failure | None
    tip_height: int
    source: str
    transactions: int = 0
    snapshot_roots: int = 0  # snapshot roots carried by headers and found right

    def as_json(self) -> dict[str, Any]:
        failure = None if self.first_failure is None else self.first_failure.as_json()
        return {
            "ok": self.ok,
            "verified_height": self.verified_height,
            "first_failure": failure,
            "tip_height": self.tip_height,
            "transactions": self.transactions,
            "snapshot_roots": self.snapshot_roots,
            "source": self.source,
        }


# -- sources ----------------------------------------------------------------------------------


class HomeChain:
    """A validator home's store, opened read-only; every read in one read transaction."""

    def __init__(self, home: Path) -> None:
        data = home / "data"
        if not (data / "data.mdb").is_file():
            raise LocalError(f"{home} holds no validator store (data/data.mdb)")
        self.source = f"home:{home}"
        self._env = lmdb.open(
            str(data),
            readonly=True,
            lock=True,
            max_dbs=limits.audit_store_dbs_max,
            map_size=limits.lmdb_map_bytes_default,
        )
        self._txn = self._env.begin(buffers=False)
        try:
            self._dbs = {
                name: self._env.open_db(name.encode(), txn=self._txn, create=False)
                for name in ("state", "blocks", "meta")
            }
            raw_tip = self._txn.get(b"tip", db=self._dbs["meta"])
        except lmdb.Error as error:
            self.close()
            raise LocalError(f"{home}: not a validator's store ({error})") from None
        if raw_tip is None:
            self.close()
            raise LocalError(f"{home}: the store has no tip")
        # The store's tip record (`bakong.node.store`): height, block hash, time, app hash.
        self.tip_height, self.tip_hash, _, self.tip_app_hash = msgspec.msgpack.decode(
            raw_tip, type=tuple[int, bytes, int, bytes]
        )
        self.genesis_hash = self._txn.get(b"genesis", db=self._dbs["meta"])

    def __enter__(self) -> HomeChain:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._txn.abort()
        self._env.close()

    def blocks(self) -> Iterator[SourcedBlock | Failure]:
        for height in range(1, self.tip_height + 1):
            raw = self._txn.get(struct.pack(">Q", height), db=self._dbs["blocks"])
            if raw is None:
                yield Failure(height, "block_missing", "the store holds no block at this height")
                return
            try:
                stored = decode_canonical(raw, StoredBlock, bytes_max=limits.stored_block_bytes_max)
                block = decode_block(stored.block)
            except DecodeError as error:
                yield Failure(height, "decode", str(error))
                return
            yield SourcedBlock(
                height, block, stored.commit, stored.results, stored.app_hash, stored.validators
            )

    def state_items(self) -> Iterator[_Item]:
        try:  # a store written before it kept every write in `state`
            writes = self._env.open_db(b"writes", txn=self._txn, create=False)
        except lmdb.NotFoundError:
            writes = None
        yield from state_items(self._txn, self._dbs["state"], writes)


class NodeChain:
    """A node's complete blocks, read as the central bank, up to its height when opened."""

    def __init__(self, url: str, key: SigningKey, chain_id: str | None = None) -> None:
        self.source = f"node:{url}"
        self._client = SyncClient(Client(url, key, chain_id=chain_id))
        try:
            self.tip_height = self._client.status().height
        except BaseException:
            self._client.close()
            raise

    def __enter__(self) -> NodeChain:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def blocks(self) -> Iterator[SourcedBlock | Failure]:
        for height in range(1, self.tip_height + 1):
            try:
                info = self._client.block(height)
            except NotFound:
                yield Failure(height, "block_missing", "the node has no block at this height")
                return
            except ApiError as error:
                if error.code != "bad_response":
                    raise  # the node refused us (a key, a busy node): no verdict on the chain
                yield Failure(height, "decode", str(error))
                return
            if info.validators is not None:  # a participant's filtered, stream-shaped answer
                raise LocalError("the node sends filtered blocks: give the central bank's key")
            if not info.complete or info.height != height:
                yield Failure(height, "decode", "the node sent part of the block, or another")
                return
            transactions = tuple(item.transaction for item in info.transactions)
            results = tuple(item.result for item in info.transactions)
            yield SourcedBlock(height, Block(info.header, transactions), info.commit, results)


# -- the re-executed state ----------------------------------------------------------------------


class ScratchState:
    """The state re-executed here, in an LMDB environment of a temporary directory."""

    def __init__(self, genesis: GenesisFile) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="bakong-audit-")
        self._env = lmdb.open(
            self._directory.name,
            map_size=limits.lmdb_map_bytes_default,
            max_dbs=1,
            sync=False,
            metasync=False,
        )
        self._db = self._env.open_db(b"state")
        state, store = genesis_state(genesis)
        with self._env.begin(write=True) as txn:
            txn.cursor(db=self._db).putmulti(list(store.items()))
        self._decoded = DecodedRecords()
        self._reader = StateReadTxn(self._env.begin(buffers=False), self._db, self._decoded)
        self.ledger = LedgerState(self._reader, state.app_hash)

    def apply(self, outcome: BlockOutcome) -> None:
        self._reader.close()
        with self._env.begin(write=True) as txn:
            txn.cursor(db=self._db).putmulti(
                [(key, value) for key, value in outcome.write_set if value is not None]
            )
            for key, value in outcome.write_set:
                if value is None:
                    txn.delete(key, db=self._db)
        self._decoded.update(outcome.written)
        self._reader = StateReadTxn(self._env.begin(buffers=False), self._db, self._decoded)
        self.ledger = LedgerState(self._reader, outcome.app_hash)

    def schedule(self) -> ValidatorSchedule:
        schedule = self._reader.record(VALIDATORS_KEY)
        assert isinstance(schedule, ValidatorSchedule)
        return schedule

    def items(self) -> Iterator[_Item]:
        with self._env.begin(buffers=False) as txn:
            yield from txn.cursor(db=self._db).iternext()

    def close(self) -> None:
        self._reader.close()
        self._env.close()
        self._directory.cleanup()


# -- the checks ---------------------------------------------------------------------------------


_commit_reasons = {
    CommitStatus.BLOCK_HASH_MISMATCH: "block_hash",
    CommitStatus.SIGNATURE_INVALID: "commit_signature",
    CommitStatus.UNKNOWN_VALIDATOR: "commit_quorum",
    CommitStatus.INSUFFICIENT_POWER: "commit_quorum",
}
# Codes of the rungs before the signature rung: a transaction refused there had its
# signatures never checked, so they may be anything.
_before_signatures = frozenset(range(1, int(ResultCode.signature_invalid)))


@dataclass
class _Tip:
    """What is verified so far: the state after `height` and what block `height + 1` needs."""

    height: int
    previous_hash: bytes
    previous_set: ValidatorSet | None
    snapshot_roots: dict[int, bytes] = field(default_factory=dict)


class _Auditor:
    def __init__(self, genesis: GenesisFile, scratch: ScratchState) -> None:
        self.chain_id = genesis.chain_id
        self.scratch = scratch
        self.config = chain_config(scratch.ledger.store)
        self.tip = _Tip(0, genesis_hash(genesis), None)
        self.snapshot_roots = 0

    def check(self, item: SourcedBlock) -> Failure | None:
        """Checks 2-8 of the module docstring for the next block; on success, apply it."""
        height = self.tip.height + 1
        assert item.height == height
        validator_set = ValidatorSet(self.scratch.schedule().current)
        reason = (
            self._header_problem(item, validator_set)
            or self._roots_problem(item)
            or _signature_problem(self.chain_id, item)
            or self._snapshot_problem(item)
        )
        if reason is not None:
            return Failure(height, *reason)
        try:
            outcome = apply_block(self.scratch.ledger, item.block)
        except (LocalError, AssertionError) as error:  # an invariant broken is a failure too
            return Failure(height, "execution", f"{type(error).__name__}: {error}")
        header = item.block.header
        if outcome.results != item.results:
            return Failure(height, "results", "re-execution gives other results")
        if outcome.app_hash != header.app_hash:
            return Failure(height, "app_hash", "re-execution gives another app hash")
        if item.app_hash is not None and item.app_hash != header.app_hash:
            return Failure(height, "app_hash", "the store's app hash is not the header's")
        self.scratch.apply(outcome)
        hash_of_block = block_hash(header)
        if is_snapshot_height(self.config, height):
            manifest = build_manifest(
                self.chain_id, height, hash_of_block, outcome.app_hash, self.scratch.items()
            )
            self.tip.snapshot_roots[height] = manifest_root(manifest)
        self.tip = _Tip(height, hash_of_block, validator_set, self.tip.snapshot_roots)
        return None

    def _header_problem(
        self, item: SourcedBlock, validator_set: ValidatorSet
    ) -> tuple[str, str] | None:
        header, tip, height = item.block.header, self.tip, self.tip.height + 1
        if header.chain_id != self.chain_id:
            return "chain_id", f"the header names chain {header.chain_id!r}"
        if header.height != height:
            return "height", f"the header is for height {header.height}"
        if header.previous_hash != tip.previous_hash:
            return "previous_hash", "the header does not link to the previous block"
        status = verify_commit(
            self.chain_id, item.commit, validator_set, height=height, block_hash=block_hash(header)
        )
        if status is not CommitStatus.OK:
            return _commit_reasons.get(status, "commit_malformed"), f"commit: {status.value}"
        if not self._last_commit_verifies(header.last_commit):
            return "last_commit", "the header's commit of the previous block does not verify"
        if validator_set.power_of(header.proposer) == 0:
            return "proposer", "the proposer is not a validator of this height"
        if header.validators_hash != validator_set_hash(self.chain_id, validator_set.validators):
            return "validators_hash", "the header does not commit to the set in force"
        if item.validators is not None and item.validators != validator_set.validators:
            return "validators", "the store names another validator set"
        return None

    def _last_commit_verifies(self, last_commit: Commit | None) -> bool:
        tip = self.tip
        if tip.previous_set is None:
            return last_commit is None  # block 1 has no previous block
        if last_commit is None:
            return False
        status = verify_commit(
            self.chain_id,
            last_commit,
            tip.previous_set,
            height=tip.height,
            block_hash=tip.previous_hash,
        )
        return status is CommitStatus.OK

    def _roots_problem(self, item: SourcedBlock) -> tuple[str, str] | None:
        header, transactions = item.block.header, item.block.transactions
        tx_hashes = [transaction_hash(transaction.payload) for transaction in transactions]
        if merkle.root(tx_hashes) != header.tx_root:
            return "tx_root", "the transactions are not those the header commits to"
        recorded = [result.tx_hash for result in item.results]
        leaves = [result_leaf(self.chain_id, result) for result in item.results]
        if recorded != tx_hashes or merkle.root(leaves) != header.result_root:
            return "result_root", "the recorded results are not those the header commits to"
        return None

    def _snapshot_problem(self, item: SourcedBlock) -> tuple[str, str] | None:
        carried = item.block.header.snapshot
        due = due_snapshot(self.config, item.height)
        if due is None:
            return None if carried is None else ("snapshot_root", "a snapshot root not due")
        root = self.tip.snapshot_roots.pop(due, None)
        if carried is None or carried.height != due or carried.root != root:
            return "snapshot_root", f"the root of snapshot {due} is not the state's"
        self.snapshot_roots += 1
        return None


def _signature_problem(chain_id: str, item: SourcedBlock) -> tuple[str, str] | None:
    for index, (transaction, result) in enumerate(
        zip(item.block.transactions, item.results, strict=True)
    ):
        if result.code in _before_signatures:
            continue
        failing = _failing_signatures(chain_id, transaction)
        if result.code == ResultCode.signature_invalid:
            if not failing:
                return "tx_signature", f"transaction {index} is recorded as badly signed"
        elif failing:
            return "tx_signature", f"a signature of transaction {index} does not verify"
    return None


def _failing_signatures(chain_id: str, transaction: Transaction) -> int:
    message = signing_message(chain_id, transaction_hash(transaction.payload))
    return sum(
        1
        for entry in transaction.signatures
        if not keys.verify(entry.public_key, message, entry.signature)
    )


def _first_difference(ours: Iterable[_Item], stored: Iterable[_Item]) -> bytes | None:
    """The first key (in key order) whose value differs between two sorted item streams."""
    ours_iter, stored_iter = iter(ours), iter(stored)
    mine, theirs = next(ours_iter, None), next(stored_iter, None)
    while mine is not None or theirs is not None:
        if mine is None or theirs is None or mine[0] != theirs[0]:
            candidates = [entry[0] for entry in (mine, theirs) if entry is not None]
            return min(candidates)
        if mine[1] != theirs[1]:
            return mine[0]
        mine, theirs = next(ours_iter, None), next(stored_iter, None)
    return None


def describe_key(key: bytes) -> str:
    """A state key for a report: its prefix and identifier, text where it is text (account
    IDs and participant codes are handles, never personal data), hex otherwise."""
    prefix, _, identifier = key.partition(b"/")
    if key[:1] in (b"a", b"p", b"e"):
        return key.decode(errors="replace")
    return prefix.decode(errors="replace") + ("/" + identifier.hex() if identifier else "")


# -- the audit ----------------------------------------------------------------------------------

Progress = Callable[[int, int], None]


def verify_chain(
    genesis: GenesisFile, source: HomeChain | NodeChain, progress: Progress | None = None
) -> AuditReport:
    """Verify every block `source` holds from `genesis` (module docstring)."""
    report = AuditReport(False, 0, None, source.tip_height, source.source)
    if isinstance(source, HomeChain) and source.genesis_hash != genesis_hash(genesis):
        report.first_failure = Failure(0, "genesis", "the store holds another chain")
        return report
    scratch = ScratchState(genesis)
    try:
        auditor = _Auditor(genesis, scratch)
        for item in source.blocks():
            failure = item if isinstance(item, Failure) else auditor.check(item)
            if failure is not None:
                report.first_failure = failure
                return report
            assert isinstance(item, SourcedBlock)
            report.verified_height = item.height
            report.transactions += len(item.block.transactions)
            report.snapshot_roots = auditor.snapshot_roots
            if progress is not None and (
                item.height % limits.audit_progress_blocks == 0 or item.height == source.tip_height
            ):
                progress(item.height, source.tip_height)
        if isinstance(source, HomeChain):
            report.first_failure = _store_problem(source, auditor, scratch)
    finally:
        scratch.close()
    report.ok = report.first_failure is None
    return report


def _store_problem(source: HomeChain, auditor: _Auditor, scratch: ScratchState) -> Failure | None:
    """Check 9: the store's tip record and its state, after the last block."""
    height = auditor.tip.height
    if (source.tip_height, source.tip_hash) != (height, auditor.tip.previous_hash) or (
        source.tip_app_hash != scratch.ledger.app_hash
    ):
        return Failure(height, "tip", "the store's tip record is not its last block")
    key = _first_difference(scratch.items(), source.state_items())
    if key is not None:
        return Failure(height, "state_mismatch", f"state {describe_key(key)} differs")
    return None
