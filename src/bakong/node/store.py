"""The validator's LMDB store: blocks, state, the transaction index and the consensus log.

Design section 5. Two LMDB environments: the chain's in the store's directory and the
consensus log's in its `consensus/` subdirectory, so that syncing one does not flush the other.

| env | db | key | value |
|---|---|---|---|
| chain | `state` | ledger state key (`bakong.ledger.state`) | canonical record bytes |
| chain | `writes` | height, 8 bytes big-endian | its block's write set until checkpointed (9) |
| chain | `blocks` | height, 8 bytes big-endian | `StoredBlock` |
| chain | `meta` | `tip`, `genesis`, `state_base` | the tip, the genesis hash, the state base (9) |
| chain | `aliases` | sequence, 8 bytes big-endian | one alias lookup the API answered |
| consensus | `meta` | `signed` | the last signed step (the double-sign guard) |
| consensus | `meta` | `horizon` | the guard's horizon: height, open (`bakong.node.signer`) |
| consensus | `wal` | height + sequence | one consensus input of that height (host rule 1) |
| consensus | `own` | height + sequence | a proposal or vote this validator signed then |

Beside them, `snapshots/` holds the state snapshots (`bakong.node.snapshot_files`) and
`txindex/` the transaction index (`bakong.node.tx_index`: hash -> height and index in the
block), derived from the blocks and kept out of their write transactions.

Rules:
1. A committed block is one write transaction: the block with its commit, results and app
   hash, its write set (rule 9) and the new tip. Its transactions' index entries
   follow in memory (`bakong.node.tx_index`, which reads them again from the blocks if lost).
   State can never run ahead of the block store, and after `kill -9` at any instant the store
   opens at the last committed height, consistent.
2. Both environments are opened without a sync per transaction; the syncs are for power loss
   (a killed process loses nothing LMDB committed: the pages are in the kernel).
   - `ConsensusLog.sync`, which the host calls before every signed message leaves, syncs the
     consensus environment only: a few pages, never the blocks' thousands.
   - Block commits are synced as a group (`GroupSync`): a thread syncs the chain environment
     whenever a block was committed since its last sync began, so one sync covers every block
     committed while the previous one ran, and the event loop never waits for the disk. After
     a power loss the chain may lack its last blocks while the log is ahead; a decided block is
     final by its commit and is fetched again from peers (`bakong.node.catchup`), and the guard
     still refuses to sign anything it may have signed before (`bakong.node.signer`).
   - That reading holds where the file system keeps writes in order: LMDB without a sync per
     commit promises integrity through a system crash only there (its `MDB_NOSYNC`), and ext4
     does not promise it. Elsewhere an environment written after its last completed sync may
     be unreadable after a power loss (LMDB reports corrupted or missing pages), and the
     operator restores the node (`bakong node restore`). A killed process is never that case.
3. The log keeps one height: writing the first entry of a new height deletes the older ones.
4. Readers get a consistent view of one committed height (`reader()`); LMDB lets them run
   beside the writer.
5. At a snapshot height the store has the state just committed digested in a process of its
   own, which writes the snapshot's files (`bakong.node.snapshot_process`: the next block is
   written once that process holds the height's state; `snapshot_root` waits for the digest).
   A store opened at a snapshot height whose snapshot is missing digests it again; one opened
   past it has lost it.
6. `restore` fills an empty store from a verified snapshot (`bakong.node.restore`): the
   guard's horizon in the consensus environment, synced, then the state in batches of write
   transactions under a `restoring` mark, then the snapshot height's block and the tip in one
   last transaction that removes the mark, synced. A log without a horizon (a store created
   from genesis, or written before horizons existed) has a closed one at 0. A store opened
   with the mark still set refuses to start: the restore was interrupted and must be run again.
7. Alias lookups (the central bank's audit trail) are numbered from 1, one write transaction
   each, synced with the blocks (rule 2: a killed process keeps them; a power loss may lose
   the last ones). The newest `alias_lookups_retained_max` are kept: each append past that
   deletes the oldest. The trail is the node's own, not the chain's: a restored store starts a
   new one.
8. A store written before the log had its own environment kept the log in the chain's: the
   first open moves the guard and the log into the consensus environment.
9. A block's write set goes into `state` later, in key order, with other blocks' writes
   (`bakong.node.pending_state`, whose rules these are): it is kept in `writes` and in memory,
   and each block's write transaction also writes its slice of the writes frozen at the last
   checkpoint; the one that completes them moves `state_base` and deletes the write sets up to
   it. A store opened replays the kept write sets into memory; a store written before them has
   its state base at its tip, and so has a store closed cleanly, which writes them all first
   (up to `limits.state_close_written_entries_max`: more would outlast the stop grace).
"""

from __future__ import annotations

import logging
import shutil
import struct
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, cast

import lmdb
import msgspec

from bakong import limits
from bakong.consensus.driver import (
    DriverInput,
    ProposalReceived,
    Start,
    TimeoutElapsed,
    ValueReady,
    VoteReceived,
)
from bakong.errors import ConfigError
from bakong.ledger.block import BlockHeader, LedgerState, block_hash, decode_block
from bakong.ledger.genesis import GenesisFile, genesis_hash, genesis_state
from bakong.ledger.state import DecodedRecords, WriteSet, WrittenRecords, decode_value
from bakong.ledger.validators import ValidatorSet
from bakong.node.chain_env import (
    CHAIN_DBS,
    CHAIN_DBS_MAX,
    STATE_BASE_KEY,
    TIP_KEY,
    ChainTip,
    decode_write_set,
    encode_write_set,
    read_tip,
)
from bakong.node.envelope import MessageKind
from bakong.node.host import CommittedTip, LogImage
from bakong.node.pending_state import NOT_PENDING, PendingState
from bakong.node.service import AliasLookup, StoredBlock
from bakong.node.signer import Horizon, SignedStep, SignStep
from bakong.node.snapshot import Manifest, chain_config, is_snapshot_height, manifest_root
from bakong.node.snapshot_files import SnapshotFiles
from bakong.node.snapshot_process import SnapshotProcess
from bakong.node.tx_index import TX_INDEX_DIRECTORY, TransactionIndex
from bakong.types import Hash
from bakong.wire.codec import decode_canonical, encode

__all__ = ["GroupSync", "LmdbChain", "StateReadTxn"]

_log_dbs = (b"meta", b"wal", b"own")
_consensus_directory = "consensus"
_genesis_key, _signed_key, _horizon_key = b"genesis", b"signed", b"horizon"
_restoring_key = b"restoring"
_log = logging.getLogger(__name__)
_event_types: tuple[type[DriverInput], ...] = (
    Start,
    ProposalReceived,
    VoteReceived,
    TimeoutElapsed,
    ValueReady,
)


def _height_key(height: int) -> bytes:
    return struct.pack(">Q", height)


def _log_key(height: int, sequence: int) -> bytes:
    return struct.pack(">QQ", height, sequence)


def _lookup_key(sequence: int) -> bytes:
    return struct.pack(">Q", sequence)


def _sequence(key: bytes) -> int:
    sequence: int = struct.unpack(">Q", key)[0]
    return sequence


class StateReadTxn:
    """A `StateReader` over one LMDB read transaction: one committed height, consistently.
    The chain's own reader of its tip shares the chain's `DecodedRecords`; others decode. A
    store's reader looks in its pending writes first (rule 9), which are the tip's: such a
    reader is for the tip, read before the next block is stored."""

    __slots__ = ("_txn", "_db", "_decoded", "_pending")

    def __init__(
        self,
        txn: lmdb.Transaction,
        db: lmdb._Database,
        decoded: DecodedRecords | None = None,
        pending: PendingState | None = None,
    ) -> None:
        self._txn = txn
        self._db = db
        self._decoded = decoded
        self._pending = pending

    def get(self, key: bytes) -> bytes | None:
        if self._pending is not None:
            pending = self._pending.get(key)
            if pending is not NOT_PENDING:
                return pending
        value = self._txn.get(key, db=self._db)
        assert value is None or isinstance(value, bytes)  # buffers=False
        return value

    def record(self, key: bytes) -> Any:
        if self._decoded is not None:
            return self._decoded.record(key, self.get)
        raw = self.get(key)
        return None if raw is None else decode_value(key, raw)

    def records(self, keys: Sequence[bytes]) -> list[Any]:
        if self._decoded is not None:
            return self._decoded.records(keys, self.get)
        return [self.record(key) for key in keys]

    def close(self) -> None:
        self._txn.abort()


class GroupSync:
    """Syncs an LMDB environment in a thread of its own whenever asked (rule 2): one sync
    covers every commit asked for since the previous sync began."""

    def __init__(self, env: lmdb.Environment) -> None:
        self._env = env
        self._asked = threading.Event()
        self._closing = False
        self.syncs = 0
        self._thread = threading.Thread(target=self._run, name="block-sync", daemon=True)
        self._thread.start()

    def ask(self) -> None:
        self._asked.set()

    def _run(self) -> None:
        while True:
            self._asked.wait()
            self._asked.clear()
            if self._closing:
                return
            self._env.sync(True)
            self.syncs += 1

    def close(self) -> None:
        """Stop the thread and sync what is left, in the caller's thread."""
        self._closing = True
        self._asked.set()
        self._thread.join()
        self._env.sync(True)


def _open_env(path: Path, map_bytes: int, dbs: int) -> lmdb.Environment:
    path.mkdir(parents=True, exist_ok=True)
    return lmdb.open(str(path), map_size=map_bytes, max_dbs=dbs, sync=False, metasync=False)


class LmdbChain:
    """`ChainStore` and `ConsensusLog` over two LMDB environments (module rules)."""

    def __init__(
        self,
        path: Path,
        genesis: GenesisFile,
        map_bytes: int = limits.lmdb_map_bytes_default,
        checkpoint_blocks: int = limits.state_checkpoint_blocks,
    ):
        # CHAIN_DBS_MAX: a store of the single-environment layout keeps its log in `wal` and
        # `own` (rule 8).
        self.env = _open_env(path, map_bytes, CHAIN_DBS_MAX)
        self._db = {name.decode(): self.env.open_db(name) for name in CHAIN_DBS}
        self.log_env = _open_env(path / _consensus_directory, limits.lmdb_log_map_bytes, 4)
        self._log_db = {name.decode(): self.log_env.open_db(name) for name in _log_dbs}
        self.chain_id = genesis.chain_id
        self._genesis_time_ms = genesis.genesis_time_ms
        self._log_next = {"wal": (0, 0), "own": (0, 0)}  # db -> (height, next sequence)
        self._init_genesis(genesis)
        self._adopt_single_environment_log()
        self.block_sync = GroupSync(self.env)
        self._checkpoint_blocks = checkpoint_blocks
        self._pending = self._open_pending()
        # Decoded records of the tip's state, coherent because only `put_block` (which
        # updates them) and `restore` (which replaces them) change the state.
        self._decoded = DecodedRecords()
        self._reader = self._open_reader(self._decoded)
        self.snapshots = SnapshotFiles(path / "snapshots")
        self._path = path
        self.tx_index = self._open_tx_index()
        self._config = chain_config(self._reader)
        self.snapshot_process = SnapshotProcess(path, map_bytes, self.chain_id)
        self._digests: dict[int, Future[Manifest | None]] = {}
        with self.env.begin() as txn:
            tip = self._tip(txn)
            lookups = txn.cursor(db=self._db["aliases"])
            self._lookups_next = _sequence(lookups.key()) + 1 if lookups.last() else 1
        if is_snapshot_height(self._config, tip.height):
            if self.snapshots.manifest(tip.height) is None:
                self._start_digest(tip.height, tip.block_hash, tip.app_hash)

    def _init_genesis(self, genesis: GenesisFile) -> None:
        expected = genesis_hash(genesis)
        with self.env.begin(write=True) as txn:
            stored = txn.get(_genesis_key, db=self._db["meta"])
            if stored is not None:
                if stored != expected:
                    raise ConfigError("this store holds another chain (genesis hash differs)")
                if txn.get(_restoring_key, db=self._db["meta"]) is not None:
                    raise ConfigError(
                        "a snapshot restore into this store was interrupted: "
                        "delete the store and restore again"
                    )
                return
            state, store = genesis_state(genesis)
            for key, value in store.items():
                txn.put(key, value, db=self._db["state"])
            tip = ChainTip(0, expected, genesis.genesis_time_ms, state.app_hash)
            txn.put(TIP_KEY, encode(tip), db=self._db["meta"])
            txn.put(_genesis_key, expected, db=self._db["meta"])
        self.env.sync(True)

    def _open_reader(self, decoded: DecodedRecords | None = None) -> StateReadTxn:
        txn = self.env.begin(buffers=False)
        return StateReadTxn(txn, self._db["state"], decoded, self._pending)

    def _new_pending(self, txn: lmdb.Transaction, base: int) -> PendingState:
        entries = self._checkpoint_entries(txn)
        return PendingState(
            self._checkpoint_blocks, entries, limits.state_pending_entries_max, height=base
        )

    def _checkpoint_entries(self, txn: lmdb.Transaction) -> int:
        """Rule 9: a checkpoint's keys grow with the state (`limits.state_checkpoint_share`)."""
        entries: int = txn.stat(self._db["state"])["entries"]
        share = max(entries // limits.state_checkpoint_share, limits.state_checkpoint_entries)
        return min(share, limits.state_pending_entries_max // 2)

    def _open_pending(self) -> PendingState:
        """Rule 9: the kept write sets, replayed; a store without a state base gets its tip."""
        with self.env.begin(write=True, buffers=False) as txn:
            tip = self._tip(txn).height
            raw_base = txn.get(STATE_BASE_KEY, db=self._db["meta"])
            if raw_base is None:
                txn.put(STATE_BASE_KEY, _height_key(tip), db=self._db["meta"])
                return self._new_pending(txn, tip)
            pending = self._new_pending(txn, _sequence(raw_base))
            for key, raw in txn.cursor(db=self._db["writes"]):
                assert _sequence(key) == pending.height + 1, "kept write sets follow the base"
                pending.replay(decode_write_set(raw))
            assert pending.height == tip, "a write set is kept for every block past the base"
        return pending

    def _write_pending(self) -> None:
        """Rule 9 (pending state rule 5): `state` becomes the tip's, and no write set is kept."""
        with self.env.begin(write=True) as txn:
            tip = self._tip(txn).height
            if txn.get(STATE_BASE_KEY, db=self._db["meta"]) == _height_key(tip):
                return
            if self._pending.height != tip:  # a block stored, not advanced: replay at the open
                return
            keys, values = self._pending.unwritten()
            if len(keys) > limits.state_close_written_entries_max:
                return
            self._write_state(txn, keys, values)
            txn.put(STATE_BASE_KEY, _height_key(tip), db=self._db["meta"])
            txn.drop(self._db["writes"], delete=False)
        self.env.sync(True)

    def _write_state(
        self, txn: lmdb.Transaction, keys: list[bytes], values: list[bytes | None]
    ) -> None:
        """Each of `values` into `state` at its key, None deleting it (pending rules 2 and 5)."""
        state_db = self._db["state"]
        puts: Iterable[tuple[bytes, bytes]]
        if None not in values:  # as almost always: zip's pairs are not kept, nor collected
            puts = zip(keys, cast("list[bytes]", values), strict=True)
        else:
            for key, value in zip(keys, values, strict=True):
                if value is None:
                    txn.delete(key, db=state_db)
            pairs = zip(keys, values, strict=True)
            puts = ((key, value) for key, value in pairs if value is not None)
        # putmulti loops in C, over thousands of keys a block.
        txn.cursor(db=state_db).putmulti(puts)

    def _adopt_single_environment_log(self) -> None:
        """Rule 8: move a log kept in the chain's environment into the consensus one."""
        with self.env.begin() as txn:  # named databases are keys of the main one
            if txn.get(_signed_key, db=self._db["meta"]) is None and all(
                txn.get(name) is None for name in (b"wal", b"own")
            ):
                return
        with self.env.begin(write=True) as txn:
            legacy = {name: self._legacy_db(txn, name) for name in ("wal", "own")}
            signed = txn.get(_signed_key, db=self._db["meta"])
            if signed is None and all(db is None for db in legacy.values()):
                return
            with self.log_env.begin(write=True) as log_txn:
                if signed is not None:
                    log_txn.put(_signed_key, signed, db=self._log_db["meta"])
                for name, db in legacy.items():
                    if db is not None:
                        log_txn.cursor(db=self._log_db[name]).putmulti(
                            [(bytes(k), bytes(v)) for k, v in txn.cursor(db=db)]
                        )
                        txn.drop(db, delete=True)
            self.log_env.sync(True)
            txn.delete(_signed_key, db=self._db["meta"])
        self.env.sync(True)

    def _legacy_db(self, txn: lmdb.Transaction, name: str) -> lmdb._Database | None:
        try:
            return self.env.open_db(name.encode(), txn=txn, create=False)
        except lmdb.NotFoundError:
            return None

    def close(self) -> None:
        self.tx_index.close()
        self.snapshot_process.close()
        self.block_sync.close()
        self._reader.close()
        self._write_pending()
        self.env.close()
        self.log_env.close()

    # ChainStore.

    def _tip(self, txn: lmdb.Transaction) -> ChainTip:
        return read_tip(txn, self._db["meta"])

    def tip(self) -> CommittedTip:
        with self.env.begin() as txn:
            tip = self._tip(txn)
        state = LedgerState(self._reader, Hash(tip.app_hash))
        if tip.height == 0:
            return CommittedTip(0, state, tip.block_hash, tip.time_ms, None, None)
        stored = self.stored_block(tip.height)
        assert stored is not None and stored.commit.block_hash == tip.block_hash
        validators = ValidatorSet(stored.validators)
        commit = stored.commit
        return CommittedTip(tip.height, state, tip.block_hash, tip.time_ms, commit, validators)

    def put_block(
        self,
        stored: StoredBlock,
        header: BlockHeader,
        write_set: WriteSet,
        written: WrittenRecords | None = None,
    ) -> LedgerState:
        """Rule 1: everything of one block in one write transaction; synced as a group (rule 2)."""
        assert block_hash(header) == stored.commit.block_hash
        assert header.app_hash == stored.app_hash
        if -stored.height % self._config.snapshot_interval <= self._config.snapshot_lag:
            self.snapshot_process.start()  # its start-up is over by the snapshot height
        self.snapshot_process.wait_opened()
        with self.env.begin(write=True) as txn:
            tip = self._tip(txn)
            assert stored.height == tip.height + 1, "blocks are stored in order"
            assert header.previous_hash == tip.block_hash
            step = self._pending.next_step(len(write_set))
            self._write_state(txn, step.keys, step.values)
            writes_db = self._db["writes"]
            if step.base is not None:
                txn.put(STATE_BASE_KEY, _height_key(step.base), db=self._db["meta"])
                kept = txn.cursor(db=writes_db)
                while kept.first() and _sequence(kept.key()) <= step.base:
                    kept.delete()
                self._pending.checkpoint_entries = self._checkpoint_entries(txn)
            txn.put(_height_key(stored.height), encode_write_set(write_set), db=writes_db)
            txn.put(_height_key(stored.height), encode(stored), db=self._db["blocks"])
            new_tip = ChainTip(
                stored.height, stored.commit.block_hash, header.time_ms, stored.app_hash
            )
            txn.put(TIP_KEY, encode(new_tip), db=self._db["meta"])
        self.block_sync.ask()
        self._pending.advance(step, stored.height, write_set)
        self.tx_index.add(stored.height, [result.tx_hash for result in stored.results])
        self._reader.close()
        if written is None:
            self._decoded.forget(write_set)
        else:
            self._decoded.update(written)
        self._reader = self._open_reader(self._decoded)
        if is_snapshot_height(self._config, stored.height):
            self._start_digest(stored.height, stored.commit.block_hash, stored.app_hash)
        return LedgerState(self._reader, Hash(stored.app_hash))

    # Snapshots (rules 5 and 6).

    def _start_digest(self, height: int, block_hash: bytes, app_hash: bytes) -> None:
        # A finished digest is on disk too: drop its future unless it is the newest.
        self._digests = {h: f for h, f in self._digests.items() if not f.done()}
        self._digests[height] = self.snapshot_process.digest(height, block_hash, app_hash)

    def snapshot_root(self, height: int) -> bytes | None:
        future = self._digests.pop(height, None)
        manifest = future.result() if future is not None else self.snapshots.manifest(height)
        return None if manifest is None else manifest_root(manifest)

    def restore(
        self,
        manifest: Manifest,
        batches: Iterable[list[tuple[bytes, bytes]]],
        base: StoredBlock,
        horizon: int,
    ) -> None:
        """Rule 6: an empty store takes the verified snapshot `manifest`, whose entries come
        in `batches` in key order, and `base`, the stored block of its height; the guard takes
        `horizon` (`bakong.node.signer`)."""
        header = decode_block(base.block).header
        assert base.height == manifest.height == header.height
        assert base.commit.block_hash == block_hash(header) == manifest.block_hash
        assert base.app_hash == header.app_hash == manifest.app_hash
        meta, state_db = self._db["meta"], self._db["state"]
        self._reader.close()
        with self.env.begin(write=True) as txn:
            if self._tip(txn).height != 0:
                raise ConfigError("restore needs an empty store")
            txn.put(_restoring_key, b"1", db=meta)
            txn.drop(state_db, delete=False)
            txn.drop(self._db["writes"], delete=False)
        self.put_horizon(Horizon(horizon, True))
        self.log_env.sync(True)
        for batch in batches:
            with self.env.begin(write=True) as txn:
                txn.cursor(db=state_db).putmulti(batch, append=True)
        with self.env.begin(write=True) as txn:
            txn.put(_height_key(base.height), encode(base), db=self._db["blocks"])
            tip = ChainTip(base.height, base.commit.block_hash, header.time_ms, base.app_hash)
            txn.put(TIP_KEY, encode(tip), db=meta)
            txn.put(STATE_BASE_KEY, _height_key(base.height), db=meta)
            txn.delete(_restoring_key, db=meta)
        self.env.sync(True)
        self.tx_index.close()
        shutil.rmtree(self._path / TX_INDEX_DIRECTORY)
        self.tx_index = self._open_tx_index()
        with self.env.begin() as txn:
            self._pending = self._new_pending(txn, base.height)
        self._decoded = DecodedRecords()
        self._reader = self._open_reader(self._decoded)

    def stored_block(self, height: int) -> StoredBlock | None:
        with self.env.begin() as txn:
            raw = txn.get(_height_key(height), db=self._db["blocks"])
        if raw is None:
            return None
        return decode_canonical(raw, StoredBlock, bytes_max=limits.stored_block_bytes_max)

    def transaction_location(self, tx_hash: bytes) -> tuple[int, int] | None:
        """(height, index) of a committed transaction."""
        return self.tx_index.location(tx_hash)

    def _stored_hashes(self, first: int, last: int) -> Iterator[tuple[int, list[bytes]]]:
        """The transaction hashes of the stored blocks `first` to `last`, for the index."""
        for height in range(first, last + 1):
            stored = self.stored_block(height)
            assert stored is not None, height
            yield height, [result.tx_hash for result in stored.results]

    def _open_tx_index(self) -> TransactionIndex:
        with self.env.begin() as txn:
            tip = self._tip(txn).height
            blocks = txn.cursor(db=self._db["blocks"])
            first = struct.unpack(">Q", blocks.key())[0] if blocks.first() else tip + 1
        directory = self._path / TX_INDEX_DIRECTORY
        return TransactionIndex(directory, first, tip, self._stored_hashes)

    def reader(self) -> StateReadTxn:
        """A consistent reader of the committed state (rule 4); close it when done."""
        return self._open_reader()

    # The alias-lookup audit trail (rule 7).

    def append_alias_lookup(
        self, lookup: AliasLookup, retained_max: int = limits.alias_lookups_retained_max
    ) -> int:
        """Keep `lookup`, dropping the oldest beyond `retained_max`; its sequence number."""
        sequence = self._lookups_next
        with self.env.begin(write=True) as txn:
            db = self._db["aliases"]
            txn.put(_lookup_key(sequence), encode(lookup), db=db)
            if sequence > retained_max:
                txn.delete(_lookup_key(sequence - retained_max), db=db)
        self._lookups_next = sequence + 1
        return sequence

    def alias_lookups(self, after: int, count: int) -> list[tuple[int, AliasLookup]]:
        """Up to `count` kept lookups numbered above `after`, oldest first."""
        found: list[tuple[int, AliasLookup]] = []
        with self.env.begin() as txn:
            cursor = txn.cursor(db=self._db["aliases"])
            if not cursor.set_range(_lookup_key(after + 1)):
                return found
            bytes_max = limits.alias_lookup_bytes_max
            for key, value in cursor:
                if len(found) == count:
                    break
                found.append(
                    (_sequence(key), decode_canonical(value, AliasLookup, bytes_max=bytes_max))
                )
        return found

    # ConsensusLog.

    def put_signed(self, signed: SignedStep) -> None:
        record = encode([signed.height, signed.round, int(signed.step), signed.sign_bytes])
        with self.log_env.begin(write=True) as txn:
            txn.put(_signed_key, record, db=self._log_db["meta"])

    def put_horizon(self, horizon: Horizon) -> None:
        with self.log_env.begin(write=True) as txn:
            txn.put(_horizon_key, encode([horizon.height, horizon.open]), db=self._log_db["meta"])

    def append_wal(self, height: int, event: DriverInput) -> None:
        tag = _event_types.index(type(event))
        self._append("wal", height, bytes([tag]) + msgspec.msgpack.encode(event))

    def append_own(self, height: int, kind: MessageKind, message: bytes) -> None:
        self._append("own", height, encode([kind, message]))

    def _append(self, db_name: str, height: int, value: bytes) -> None:
        """Rule 3: a new height's first entry empties the log."""
        log_height, sequence = self._log_next[db_name]
        if height != log_height:
            sequence = 0
        with self.log_env.begin(write=True) as txn:
            db = self._log_db[db_name]
            if sequence == 0:
                txn.drop(db, delete=False)
            txn.put(_log_key(height, sequence), value, db=db)
        self._log_next[db_name] = (height, sequence + 1)

    def sync(self) -> None:
        self.log_env.sync(True)

    def recover(self) -> LogImage:
        """The log as the last run left it."""
        image = LogImage()
        with self.log_env.begin() as txn:
            raw = txn.get(_signed_key, db=self._log_db["meta"])
            if raw is not None:
                height, round, step, sign_bytes = msgspec.msgpack.decode(raw)
                image.signed = SignedStep(height, round, SignStep(step), sign_bytes)
            horizon = txn.get(_horizon_key, db=self._log_db["meta"])
            if horizon is not None:
                height, open_ = msgspec.msgpack.decode(horizon, type=tuple[int, bool])
                image.horizon = Horizon(height, open_)
            for key, value in txn.cursor(db=self._log_db["wal"]):
                height, _ = struct.unpack(">QQ", key)
                image.wal_height = height
                event_type = _event_types[value[0]]
                image.wal.append(msgspec.msgpack.decode(value[1:], type=event_type))
            for key, value in txn.cursor(db=self._log_db["own"]):
                height, _ = struct.unpack(">QQ", key)
                image.own_height = height
                kind, message = msgspec.msgpack.decode(value)
                image.own.append((MessageKind(kind), message))
        self._log_next = {
            "wal": (image.wal_height, len(image.wal)),
            "own": (image.own_height, len(image.own)),
        }
        return image
