"""State snapshots: the LMDB store digests them beside the writer, the carrying block's header
must name their root (validity rule 7), and a new store restored from one verified snapshot
continues the chain with the same app hashes.

Method: a one-validator sandbox chain whose genesis takes a snapshot every 3 heights with a lag
of 2. Real blocks (accounts opened, money issued and moved) with real commits are committed
into an LMDB store and, in parallel, into the in-memory store the simulator uses; their roots
must agree. Then the offer a node would serve is checked, tampered with in each way a peer
could, and restored into a second store that must then accept the chain's next block.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import psutil
import pytest

from bakong import limits
from bakong.consensus.commit import CommitStatus, build_commit, verify_commit
from bakong.consensus.messages import VoteBody, VoteType, sign_vote
from bakong.errors import ConfigError, DecodeError
from bakong.ledger.assets import Asset
from bakong.ledger.block import SnapshotRoot, block_hash, build_block, decode_block
from bakong.ledger.commit import Commit
from bakong.ledger.genesis import GenesisFile, genesis_validators
from bakong.ledger.transaction import Transaction
from bakong.ledger.validators import Validator, ValidatorSet
from bakong.node.memory_chain import MemoryChain
from bakong.node.restore import RestoreError, checked_chunks, verify_offer
from bakong.node.service import StoredBlock
from bakong.node.signer import Horizon
from bakong.node.snapshot import (
    SnapshotOffer,
    chain_config,
    chunk_entries,
    decode_chunk,
    decode_manifest,
    due_snapshot,
    manifest_root,
)
from bakong.node.store import LmdbChain
from bakong.node.validity import Tip, check_block
from bakong.sandbox import Sandbox, sandbox_key
from bakong.wire import keys
from bakong.wire.codec import encode

INTERVAL, LAG = 3, 2
KEY = sandbox_key("validator-1")


def _genesis() -> GenesisFile:
    return msgspec.structs.replace(Sandbox().genesis, snapshot_interval=INTERVAL, snapshot_lag=LAG)


def _commit(chain_id: str, height: int, hash_: bytes) -> Commit:
    vote = sign_vote(chain_id, KEY, VoteBody(VoteType.PRECOMMIT, height, 0, hash_))
    return build_commit(height, 0, hash_, [vote])


class _Chain:
    """Both stores, fed the same blocks; the sandbox signs the transactions."""

    def __init__(self, tmp_path: Path) -> None:
        self.genesis = _genesis()
        self.sandbox = Sandbox()
        self.lmdb = LmdbChain(tmp_path / "a", self.genesis)
        self.memory = MemoryChain(self.genesis)
        self.validators = genesis_validators(self.genesis)

    def expected_root(self, height: int) -> SnapshotRoot | None:
        snapshot_height = due_snapshot(chain_config(self.memory.state.store), height)
        if snapshot_height is None:
            return None
        root = self.lmdb.snapshot_root(snapshot_height)
        assert root is not None and root == self.memory.snapshot_root(snapshot_height)
        return SnapshotRoot(snapshot_height, root)

    def commit(self, transactions: list[Transaction]) -> StoredBlock:
        tip = self.lmdb.tip()
        height = tip.height + 1
        block, outcome = build_block(
            tip.state,
            time_ms=tip.time_ms + 1_000,
            proposer=KEY.public_key,
            previous_hash=tip.block_hash,
            last_commit=tip.commit,
            transactions=transactions,
            snapshot=self.expected_root(height),
        )
        hash_ = block_hash(block.header)
        stored = StoredBlock(
            height,
            encode(block),
            _commit(self.genesis.chain_id, height, hash_),
            outcome.results,
            outcome.app_hash,
            self.validators,
        )
        assert all(result.code == 0 for result in outcome.results), outcome.results
        self.lmdb.put_block(stored, block.header, outcome.write_set)
        self.memory.put_block(stored, block.header, outcome.write_set)
        return stored

    def build(self, heights: int) -> None:
        sandbox = self.sandbox
        self.commit(
            [
                sandbox.transaction("nbc", [sandbox.issue("aclb", Asset.KHR, 10**9, "r-1")]),
                sandbox.transaction("aclb", [sandbox.open_account(f"a{i}@aclb") for i in range(9)]),
            ]
        )
        for index in range(heights - 1):
            transfer = sandbox.transfer("settlement@aclb", f"a{index % 9}@aclb", Asset.KHR, 100)
            self.commit([sandbox.transaction("settlement@aclb", [transfer])])


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[_Chain]:
    built = _Chain(tmp_path)
    built.build(8)
    yield built
    built.lmdb.close()


def _offer(chain: _Chain, height: int) -> SnapshotOffer:
    manifest = chain.lmdb.snapshots.manifest(height)
    base, carrier = chain.lmdb.stored_block(height), chain.lmdb.stored_block(height + LAG)
    assert manifest is not None and base is not None and carrier is not None
    return SnapshotOffer(encode(manifest), base, carrier)


def test_chunks_cut_at_the_size_target_and_decode_in_key_order() -> None:
    entries = [(bytes([i // 256, i % 256]), bytes(5_000)) for i in range(600)]
    chunks = list(chunk_entries(entries))
    assert len(chunks) == 3 and sum(count for _, count in chunks) == 600
    assert all(len(chunk) >= limits.snapshot_chunk_bytes for chunk, _ in chunks[:-1])
    first = decode_chunk(chunks[0][0], None)
    assert first == entries[: len(first)]
    with pytest.raises(DecodeError):
        decode_chunk(chunks[0][0], entries[-1][0])  # keys must continue to increase
    with pytest.raises(DecodeError):
        decode_chunk(encode([(b"b", b""), (b"a", b"")]), None)
    with pytest.raises(DecodeError):
        decode_chunk(b"\xc1", None)


def test_the_store_digests_snapshots_and_carrying_headers_hold_their_roots(chain: _Chain) -> None:
    assert chain.lmdb.snapshots.heights() == [3, 6]  # two kept
    for height in (3, 6):
        manifest = chain.lmdb.snapshots.manifest(height)
        assert manifest is not None
        assert manifest_root(manifest) == chain.memory.snapshot_root(height)
        stored = chain.lmdb.stored_block(height)
        assert stored is not None and manifest.block_hash == stored.commit.block_hash
    carriers = {}
    for height in range(1, 9):
        stored = chain.lmdb.stored_block(height)
        assert stored is not None
        snapshot = decode_block(stored.block).header.snapshot
        if snapshot is not None:
            carriers[height] = snapshot.height
    assert carriers == {5: 3, 8: 6}
    assert chain.lmdb.snapshot_root(4) is None  # not a snapshot height


def test_a_block_with_a_wrong_missing_or_unexpected_root_is_invalid(chain: _Chain) -> None:
    tip = chain.lmdb.tip()
    height = tip.height + 1  # 9: carries nothing
    assert tip.commit is not None and tip.validator_set is not None
    root = chain.lmdb.snapshot_root(6)
    assert root is not None

    def verdict(snapshot: SnapshotRoot | None, expected: int | None, known: bytes | None) -> str:
        block, _ = build_block(
            tip.state,
            time_ms=tip.time_ms + 1_000,
            proposer=KEY.public_key,
            previous_hash=tip.block_hash,
            last_commit=tip.commit,
            transactions=[],
            snapshot=snapshot,
        )
        at = Tip(
            chain.genesis.chain_id,
            height,
            tip.state,
            tip.block_hash,
            tip.validator_set,
            tip.validator_set,
            snapshot_height=expected,
            snapshot_root=known,
        )
        checked = check_block(
            at,
            encode(block),
            block_hash(block.header),
            now_ms=None,
            verify=keys.verify,
            verify_commit=lambda c, s, h, b: verify_commit(
                chain.genesis.chain_id, c, s, height=h, block_hash=b
            ),
        )
        return checked.reason or "valid"

    good = SnapshotRoot(6, root)
    assert verdict(None, None, None) == "valid"
    assert verdict(good, None, None) == "snapshot"  # not due
    assert verdict(None, 6, root) == "snapshot"  # due but missing
    assert verdict(SnapshotRoot(6, bytes(32)), 6, root) == "snapshot"  # wrong root
    assert verdict(SnapshotRoot(3, root), 6, root) == "snapshot"  # another height
    assert verdict(good, 6, root) == "valid"
    assert verdict(SnapshotRoot(6, bytes(32)), 6, None) == "valid"  # a node that lost its root


def test_a_restored_store_continues_the_chain(chain: _Chain, tmp_path: Path) -> None:
    offer = _offer(chain, 6)
    manifest = verify_offer(chain.genesis.chain_id, chain.validators, LAG, offer)
    fresh = LmdbChain(tmp_path / "b", chain.genesis)
    try:
        fetch = lambda index: chain.lmdb.snapshots.chunk(6, index) or b""  # noqa: E731
        fresh.restore(manifest, checked_chunks(manifest, fetch), offer.base, horizon=11)
        tip = fresh.tip()
        # The guard starts with the horizon, synced before any state was written.
        assert fresh.recover().horizon == Horizon(11, True) and fresh.recover().signed is None
        assert (tip.height, tip.block_hash) == (6, manifest.block_hash)
        assert tip.state.app_hash == manifest.app_hash
        assert fresh.stored_block(5) is None  # no history before the snapshot
        # The next block from the source chain applies on the restored state identically.
        stored = chain.lmdb.stored_block(7)
        assert stored is not None
        block = decode_block(stored.block)
        at = Tip(
            chain.genesis.chain_id,
            7,
            tip.state,
            tip.block_hash,
            ValidatorSet(chain.validators),
            tip.validator_set,
        )
        checked = check_block(
            at,
            stored.block,
            stored.commit.block_hash,
            now_ms=None,
            verify=keys.verify,
            verify_commit=lambda *_: CommitStatus.OK,  # the offer's commits were checked
        )
        assert checked.outcome is not None, checked.reason
        state = fresh.put_block(stored, block.header, checked.outcome.write_set)
        assert state.app_hash == stored.app_hash
    finally:
        fresh.close()
    reopened = LmdbChain(tmp_path / "b", chain.genesis)
    assert reopened.tip().height == 7
    reopened.close()


def test_every_way_a_peer_could_tamper_with_an_offer_is_refused(chain: _Chain) -> None:
    chain_id = chain.genesis.chain_id
    offer = _offer(chain, 6)
    manifest = decode_manifest(offer.manifest)

    def code(tampered: SnapshotOffer, trusted: tuple[Validator, ...] = chain.validators) -> str:
        with pytest.raises(RestoreError) as caught:
            verify_offer(chain_id, trusted, LAG, tampered)
        return caught.value.code

    other = msgspec.structs.replace(manifest, entries=manifest.entries + 1)
    assert code(msgspec.structs.replace(offer, manifest=encode(other))) == "root_mismatch"
    assert code(msgspec.structs.replace(offer, manifest=b"\x00")) == "malformed"
    older = _offer(chain, 3)
    assert code(msgspec.structs.replace(offer, base=older.base)) == "block_mismatch"
    assert code(msgspec.structs.replace(offer, carrier=older.carrier)) == "root_mismatch"
    unsigned = msgspec.structs.replace(
        offer.carrier, commit=msgspec.structs.replace(offer.carrier.commit, signatures=())
    )
    assert code(msgspec.structs.replace(offer, carrier=unsigned)) == "commit_invalid"
    stranger = (Validator("x", sandbox_key("stranger").public_key, 1),)
    assert code(offer, stranger) == "validator_set_untrusted"

    # A trusted carrier hash replaces the genesis validators' vouching, and only that block.
    carrier_hash = block_hash(decode_block(offer.carrier.block).header)
    assert verify_offer(chain_id, stranger, LAG, offer, carrier_hash) == manifest
    with pytest.raises(RestoreError) as caught:
        verify_offer(chain_id, chain.validators, LAG, offer, bytes(32))
    assert caught.value.code == "carrier_untrusted"
    with pytest.raises(RestoreError) as caught:  # its commit is checked all the same
        verify_offer(
            chain_id, stranger, LAG, msgspec.structs.replace(offer, carrier=unsigned), carrier_hash
        )
    assert caught.value.code == "commit_invalid"

    chunks = [chain.lmdb.snapshots.chunk(6, i) or b"" for i in range(len(manifest.chunk_hashes))]
    flipped = bytes([chunks[0][0] ^ 1]) + chunks[0][1:]
    with pytest.raises(RestoreError) as caught:
        list(checked_chunks(manifest, lambda index: flipped))
    assert caught.value.code == "chunk_mismatch"


def test_an_interrupted_restore_leaves_a_store_that_refuses_to_open(
    chain: _Chain, tmp_path: Path
) -> None:
    offer = _offer(chain, 6)
    manifest = verify_offer(chain.genesis.chain_id, chain.validators, LAG, offer)

    def batches() -> Iterator[list[tuple[bytes, bytes]]]:
        yield decode_chunk(chain.lmdb.snapshots.chunk(6, 0) or b"", None)[:5]
        raise RestoreError("peer_unreachable", "the peer went away")

    fresh = LmdbChain(tmp_path / "c", chain.genesis)
    with pytest.raises(RestoreError):
        fresh.restore(manifest, batches(), offer.base, horizon=11)
    fresh.close()
    with pytest.raises(ConfigError):
        LmdbChain(tmp_path / "c", chain.genesis)


def _transfer(chain: _Chain, index: int) -> None:
    sandbox = chain.sandbox
    transfer = sandbox.transfer("settlement@aclb", f"a{index % 9}@aclb", Asset.KHR, 100)
    chain.commit([sandbox.transaction("settlement@aclb", [transfer])])


def test_the_digest_process_is_replaced_when_it_dies_and_refuses_a_height_it_cannot_hold(
    chain: _Chain,
) -> None:
    process = chain.lmdb.snapshot_process
    assert process.pid is not None
    os.kill(process.pid, signal.SIGKILL)
    for index in range(3):  # 9 is a snapshot height, carried by 11 (`expected_root` checks it)
        _transfer(chain, index)
    assert chain.lmdb.snapshots.heights() == [6, 9]
    tip = chain.lmdb.tip()
    assert process.digest(tip.height, bytes(32), bytes(tip.state.app_hash)).result() is None
    done = process.digest(tip.height, tip.block_hash, bytes(tip.state.app_hash)).result()
    assert done is not None and done.height == tip.height == 11


def test_the_digest_process_takes_only_the_cpu_that_validators_leave(chain: _Chain) -> None:
    for index in range(3):  # 9 is a snapshot height: digested by the time 11 carries its root
        _transfer(chain, index)
    process = chain.lmdb.snapshot_process
    assert process.pid is not None and chain.lmdb.snapshots.heights() == [6, 9]
    assert psutil.Process(process.pid).nice() == limits.snapshot_process_nice


def test_the_digest_process_ends_when_its_validator_is_killed(
    chain: _Chain, tmp_path: Path
) -> None:
    script = (
        "import os, sys, time; from pathlib import Path; "
        "from bakong.node.snapshot_process import SnapshotProcess; "
        "p = SnapshotProcess(Path(sys.argv[1]), 2**30, 'x'); p.start(); "
        "exec('while p.pid is None: time.sleep(0.01)'); "
        "print(p.pid, flush=True); os._exit(0)"
    )
    parent = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "a")], capture_output=True, check=True
    )
    child = int(parent.stdout)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists(), "the orphaned digest process is still running"
