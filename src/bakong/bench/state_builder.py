"""Large world states written straight into a validator's LMDB store, not through consensus,
for `bakong bench scale` (memory and throughput against the number of accounts).

Opening 10^7 accounts through consensus would take hours (the network bench opens about 5,000
accounts per second); what the benchmark needs is the *state* a validator would hold after it.
`build_state` writes that state at height 0 into a new store:

1. `LmdbChain(path, genesis)` creates the store exactly as a node does: the genesis state, the
   genesis hash and the tip at height 0 with the genesis app hash.
2. Then the `state` database is rewritten, in one pass in key order, with the genesis entries
   merged with `accounts` bulk accounts `u<i>@<code>` (the names of `bakong.bench.workload`,
   spread over the sample participants). Every record is the ledger's own canonical bytes
   (`bakong.ledger.accounts.new_account`, encoded as the ledger encodes it); LMDB takes them
   with `cursor.putmulti(append=True)`, which only appends to the rightmost page, in write
   transactions of at most `limits.bench_state_batch_entries_max` entries (bounded dirty
   memory per transaction).
3. Money, and the conservation invariant: only the accounts named in `funded` (the sources of
   the pre-signed transfers the load will submit, with their real signing key) hold
   `funding_khr` riel each; the `Supply` record says that exactly that much was issued, so
   `bakong.ledger.invariants.check_store` holds on the built store. Every other bulk account
   holds zero and has one placeholder signatory (a fixed key: nobody spends from them, and a
   transfer may still credit them).

4. History (`history_txs`, default none): a chain that has run holds, besides its accounts, the
   replay window (a `SeenTransaction` under `s/<created_ms><hash>` for every transaction of the
   last day, created evenly over the day before genesis) and the transaction index
   (`bakong.node.tx_index`: hash -> height and index, one run of height 0). Each takes
   `history_txs` entries of random hashes, as if that many transactions had been committed (at
   height 0, which no lookup reaches: their hashes are no transaction's) and were not yet
   pruned. They are what a block's writes land among at production size: the window's new
   entries land after all of these, the index's new runs beside its run.

The tip still carries the genesis app hash: the bulk accounts are not part of the app-hash
chain, which is fine because every validator of the benchmark starts from a byte-identical
copy of the store (`copy_store`), so their states, and every later app hash, agree. A node
that replays from genesis would not have them: this is a benchmark state, not a chain.

Key order: account keys are `a/u<decimal>@<code>`; since '@' sorts after every digit, the
accounts in key order are a post-order walk of the decimal trie (`accounts_in_key_order`),
generated without sorting 10^7 strings in memory.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import lmdb
import msgspec

from bakong import limits
from bakong.bench.workload import account_name, funding_khr
from bakong.ledger.accounts import new_account
from bakong.ledger.genesis import GenesisFile
from bakong.ledger.records import Account, AccountKind, KycTier, SeenTransaction, Supply
from bakong.ledger.state import SUPPLY_KEY, decode_value, seen_key
from bakong.node.store import LmdbChain
from bakong.node.tx_index import TX_INDEX_DIRECTORY, run_entry, write_run
from bakong.wire import keys
from bakong.wire.codec import encode

__all__ = [
    "BuiltState",
    "accounts_in_key_order",
    "append_sorted",
    "build_state",
    "copy_store",
    "history_hashes",
    "placeholder_signatory",
]

#: The signatory of every unfunded bulk account (no one spends from them).
placeholder_signatory = keys.SigningKey(
    hashlib.sha256(b"bakong-bench-scale/placeholder").digest()
).public_key


@dataclass(frozen=True)
class BuiltState:
    accounts: int  # bulk accounts written
    funded: int  # of which hold money
    entries: int  # state entries in the store (genesis ones included)
    seconds: float  # time to write the state (steps 1 and 2)
    store_bytes: int  # size of the LMDB data file
    history_txs: int = 0  # transactions in the replay window and the index (step 4)


def accounts_in_key_order(count: int) -> Iterator[int]:
    """The indices 0..count-1 in the byte order of their account keys (module docstring)."""
    if count <= 0:
        return
    yield 0  # "u0@" precedes "u1..."; no other number starts with the digit 0
    for root in range(1, 10):
        if root >= count:
            return
        stack, digit = [root], [0]
        while stack:
            child = stack[-1] * 10 + digit[-1]
            if digit[-1] < 10 and child < count:
                digit[-1] += 1
                stack.append(child)
                digit.append(0)
            else:  # children exhausted (they grow with the digit): the number itself
                digit.pop()
                yield stack.pop()


def _template(account_id: str) -> tuple[bytes, bytes]:
    """(header, tail) of an unfunded bulk account's record around its fixstr account id.

    The record is a msgpack array whose first field is the account id; everything after it is
    the same for every unfunded bulk account, so it is encoded once (and checked below)."""
    raw = encode(_account(account_id, placeholder_signatory, 0))
    head = raw[:1]
    assert raw[1] == 0xA0 | len(account_id), "a short account id is a msgpack fixstr"
    return head, raw[2 + len(account_id) :]


def _account(account_id: str, signatory: bytes, khr: int) -> Account:
    account = new_account(account_id, AccountKind.personal, KycTier.full, (signatory,), 1)
    return msgspec.structs.replace(account, balances=(khr, 0)) if khr else account


def bulk_entries(count: int, funded: Mapping[int, bytes]) -> Iterator[tuple[bytes, bytes]]:
    """(key, record) of every bulk account, in key order (module step 2 and 3)."""
    head, tail = _template(account_name(0))
    for done, i in enumerate(accounts_in_key_order(count)):
        account_id = account_name(i)
        name = account_id.encode()
        signatory = funded.get(i)
        if signatory is not None:
            value = encode(_account(account_id, signatory, funding_khr))
        else:
            value = head + bytes([0xA0 | len(name)]) + name + tail
            if done < 16:  # the shortcut is the ledger's own encoding
                assert value == encode(_account(account_id, placeholder_signatory, 0))
        yield b"a/" + name, value


def _merged(
    genesis_entries: list[tuple[bytes, bytes]], bulk: Iterator[tuple[bytes, bytes]]
) -> Iterator[tuple[bytes, bytes]]:
    """Genesis entries and bulk entries, both in key order, into one ordered stream."""
    pending = iter(genesis_entries)
    nxt = next(pending, None)
    for key, value in bulk:
        while nxt is not None and nxt[0] < key:
            yield nxt
            nxt = next(pending, None)
        assert nxt is None or nxt[0] != key, key
        yield key, value
    while nxt is not None:
        yield nxt
        nxt = next(pending, None)


def _batches(
    entries: Iterable[tuple[bytes, bytes]], size: int
) -> Iterator[list[tuple[bytes, bytes]]]:
    batch: list[tuple[bytes, bytes]] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _supplied(entries: list[tuple[bytes, bytes]], issued_khr: int) -> list[tuple[bytes, bytes]]:
    """The genesis entries with `Supply` raised by what the funded accounts hold."""
    result = []
    for key, value in entries:
        if key == SUPPLY_KEY:
            supply = decode_value(key, value)
            assert isinstance(supply, Supply)
            issued = (supply.issued[0] + issued_khr, supply.issued[1])
            value = encode(msgspec.structs.replace(supply, issued=issued))
        result.append((key, value))
    return result


def history_hashes(count: int) -> list[bytes]:
    """`count` distinct transaction hashes, sorted, the same for every call (step 4)."""
    rng = random.Random(count)
    hashes: set[bytes] = set()
    while len(hashes) < count:
        hashes.add(rng.randbytes(32))
    return sorted(hashes)


def history_window_keys(history: Sequence[bytes], end_ms: int) -> Iterator[bytes]:
    """The replay-window keys of `history` (step 4), in key order: created evenly over the
    day before `end_ms`."""
    count, day_ms = len(history), limits.tx_past_ms_max
    for index, tx_hash in enumerate(history):
        yield seen_key(end_ms - day_ms + index * day_ms // count, tx_hash)


def build_state(
    path: Path,
    genesis: GenesisFile,
    accounts: int,
    funded: Mapping[int, bytes],
    history_txs: int = 0,
) -> BuiltState:
    """A new store at `path` holding the genesis state plus `accounts` bulk accounts, of which
    `funded` (index -> signatory) hold `funding_khr` riel, and the replay-window and index
    entries of `history_txs` committed transactions (module docstring)."""
    assert all(0 <= i < accounts for i in funded)
    started = time.perf_counter()
    LmdbChain(path, genesis).close()
    env = lmdb.open(
        str(path), map_size=limits.lmdb_map_bytes_default, max_dbs=8, sync=False, metasync=False
    )
    try:
        state_db = env.open_db(b"state")
        with env.begin() as txn:
            existing = [(bytes(k), bytes(v)) for k, v in txn.cursor(db=state_db)]
        genesis_entries = _supplied(existing, funding_khr * len(funded))
        with env.begin(write=True) as txn:
            txn.drop(state_db, delete=False)
        history = history_hashes(history_txs)
        seen = encode(SeenTransaction(height=0, code=0))
        end_ms = genesis.genesis_time_ms
        window = ((key, seen) for key in history_window_keys(history, end_ms))
        # Every bulk account key ("a/...") sorts before every replay-window key ("s/...").
        stream = _merged(genesis_entries, itertools.chain(bulk_entries(accounts, funded), window))
        written = append_sorted(env, state_db, stream)
        env.sync(True)
        entries = (run_entry(tx_hash, (0, 0)) for tx_hash in history)
        write_run(path / TX_INDEX_DIRECTORY, 0, 0, entries, len(history))
    finally:
        env.close()
    seconds = time.perf_counter() - started
    size = (path / "data.mdb").stat().st_size
    return BuiltState(accounts, len(funded), written, seconds, size, history_txs)


def append_sorted(
    env: lmdb.Environment, db: lmdb._Database, entries: Iterable[tuple[bytes, bytes]]
) -> int:
    """Write `entries`, in strictly increasing key order, at the end of `db`; their number."""
    written = 0
    for batch in _batches(entries, limits.bench_state_batch_entries_max):
        with env.begin(write=True) as txn:
            consumed, added = txn.cursor(db=db).putmulti(batch, append=True)
            assert consumed == added == len(batch), "keys arrive in strictly increasing order"
        written += len(batch)
    return written


def copy_store(source: Path, target: Path) -> None:
    """A byte-identical copy of a closed store (data file and snapshots), for another node."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "data.mdb", target / "data.mdb")  # in-kernel copy on Linux
    for directory in ("snapshots", TX_INDEX_DIRECTORY):
        if (source / directory).exists():
            shutil.copytree(source / directory, target / directory, dirs_exist_ok=True)
