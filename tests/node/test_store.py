"""The LMDB store: blocks and state in one write, a reopened store resumes its tip, and the
consensus log keeps exactly one height.

Method: commit real blocks built by the ledger (`build_block` over the sandbox genesis) into a
store in a temporary directory, close it, open it again, and compare; write log entries across
heights and read them back as a restart would.
"""

from __future__ import annotations

import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import lmdb
import msgspec
import pytest

from bakong.consensus.driver import Start
from bakong.errors import ConfigError
from bakong.ledger.block import block_hash, build_block
from bakong.ledger.commit import Commit
from bakong.ledger.state import HEAD_KEY
from bakong.ledger.validators import Validator
from bakong.node.envelope import MessageKind
from bakong.node.service import AliasLookup, StoredBlock
from bakong.node.signer import SignedStep, SignStep
from bakong.node.store import LmdbChain
from bakong.sandbox import Sandbox
from bakong.wire.codec import encode


def _commit_empty_block(
    chain: LmdbChain,
    validator: Validator,
    extra_writes: Callable[[int], dict[bytes, bytes | None]] | None = None,
) -> StoredBlock:
    """Store the next real empty block; with `extra_writes(height)` added to its write set."""
    tip = chain.tip()
    block, outcome = build_block(
        tip.state,
        time_ms=tip.time_ms + 1_000,
        proposer=validator.public_key,
        previous_hash=tip.block_hash,
        last_commit=tip.commit,
        transactions=[],
    )
    commit = Commit(block.header.height, 0, block_hash(block.header), ())
    stored = StoredBlock(
        block.header.height, encode(block), commit, outcome.results, outcome.app_hash, (validator,)
    )
    write_set = outcome.write_set
    if extra_writes is not None:
        extra = extra_writes(block.header.height)
        write_set = tuple(sorted({**dict(write_set), **extra}.items()))
    state = chain.put_block(stored, block.header, write_set)
    assert state.app_hash == outcome.app_hash
    return stored


def test_a_reopened_store_resumes_at_its_tip_with_the_same_state(tmp_path: Path) -> None:
    sandbox = Sandbox()
    chain = LmdbChain(tmp_path, sandbox.genesis)
    first = sandbox.genesis.validators[0]
    validator = Validator(first.name, bytes.fromhex(first.public_key), first.power)
    stored = [_commit_empty_block(chain, validator) for _ in range(3)]
    before = chain.tip()
    head = before.state.store.get(HEAD_KEY)
    chain.close()
    reopened = LmdbChain(tmp_path, sandbox.genesis)
    after = reopened.tip()
    assert (after.height, after.block_hash, after.time_ms) == (3, before.block_hash, before.time_ms)
    assert after.state.app_hash == stored[-1].app_hash
    assert after.state.store.get(HEAD_KEY) == head
    assert reopened.stored_block(2) == stored[1]
    assert reopened.stored_block(4) is None
    reopened.close()


def test_a_store_refuses_another_chains_genesis(tmp_path: Path) -> None:
    LmdbChain(tmp_path, Sandbox().genesis).close()
    other = Sandbox(chain_id="another-chain").genesis
    with pytest.raises(ConfigError, match="another chain"):
        LmdbChain(tmp_path, other)


def test_the_log_keeps_one_height_and_the_guard(tmp_path: Path) -> None:
    genesis = Sandbox().genesis
    chain = LmdbChain(tmp_path, genesis)
    chain.append_wal(1, Start())
    chain.append_own(1, MessageKind.VOTE, b"first")
    chain.append_wal(2, Start())
    chain.append_wal(2, Start())
    chain.append_own(2, MessageKind.VOTE, b"second")
    step = SignedStep(2, 0, SignStep.PREVOTE, b"sign bytes")
    chain.put_signed(step)
    chain.sync()
    chain.close()
    image = LmdbChain(tmp_path, genesis).recover()
    assert (image.wal_height, len(image.wal), image.own_height) == (2, 2, 2)
    assert image.own == [(MessageKind.VOTE, b"second")]
    assert image.own[0][0] is MessageKind.VOTE
    assert image.signed == step


def test_alias_lookups_survive_a_restart_and_keep_the_newest(tmp_path: Path) -> None:
    sandbox = Sandbox()
    chain = LmdbChain(tmp_path, sandbox.genesis)

    def lookup(n: int) -> AliasLookup:
        return AliasLookup(n, "wing", b"k" * 32, n.to_bytes(32, "big"), "" if n % 2 else "a@aclb")

    assert [chain.append_alias_lookup(lookup(n), retained_max=3) for n in (1, 2)] == [1, 2]
    chain.close()
    chain = LmdbChain(tmp_path, sandbox.genesis)
    assert chain.alias_lookups(0, 10) == [(1, lookup(1)), (2, lookup(2))]
    assert [chain.append_alias_lookup(lookup(n), retained_max=3) for n in (3, 4, 5)] == [3, 4, 5]
    assert chain.alias_lookups(0, 10) == [(3, lookup(3)), (4, lookup(4)), (5, lookup(5))]
    assert chain.alias_lookups(3, 1) == [(4, lookup(4))]
    assert chain.alias_lookups(5, 10) == []
    chain.close()


def test_block_commits_are_synced_as_a_group_and_the_log_apart(tmp_path: Path) -> None:
    sandbox = Sandbox()
    chain = LmdbChain(tmp_path, sandbox.genesis)
    first = sandbox.genesis.validators[0]
    validator = Validator(first.name, bytes.fromhex(first.public_key), first.power)
    for _ in range(20):
        _commit_empty_block(chain, validator)
    # The thread syncs at least once after the last ask; never more often than asked.
    chain.block_sync.close()
    assert 0 <= chain.block_sync.syncs <= 20
    assert (tmp_path / "consensus" / "data.mdb").is_file()
    chain.put_signed(SignedStep(21, 0, SignStep.PREVOTE, b"sign bytes"))
    chain.sync()
    with chain.env.begin() as txn:  # the guard is not in the chain's environment
        assert txn.get(b"signed", db=chain._db["meta"]) is None
    chain._reader.close()
    chain.env.close()
    chain.log_env.close()
    reopened = LmdbChain(tmp_path, sandbox.genesis)
    assert reopened.tip().height == 20
    assert reopened.recover().signed == SignedStep(21, 0, SignStep.PREVOTE, b"sign bytes")
    reopened.close()


def test_a_store_of_the_single_environment_layout_keeps_its_guard_and_log(tmp_path: Path) -> None:
    """Rule 8: the log an older store kept beside its blocks moves to its own environment."""
    genesis = Sandbox().genesis
    LmdbChain(tmp_path, genesis).close()
    shutil.rmtree(tmp_path / "consensus")
    env = lmdb.open(str(tmp_path), max_dbs=8)
    guard = encode([7, 1, int(SignStep.PRECOMMIT), b"old sign bytes"])
    with env.begin(write=True) as txn:
        txn.put(b"signed", guard, db=env.open_db(b"meta", txn=txn))
        txn.put(struct.pack(">QQ", 7, 0), bytes([0]) + msgspec.msgpack.encode(Start()),
                db=env.open_db(b"wal", txn=txn))  # fmt: skip
        txn.put(struct.pack(">QQ", 7, 0), encode([MessageKind.VOTE, b"old vote"]),
                db=env.open_db(b"own", txn=txn))  # fmt: skip
    env.close()
    chain = LmdbChain(tmp_path, genesis)
    image = chain.recover()
    assert image.signed == SignedStep(7, 1, SignStep.PRECOMMIT, b"old sign bytes")
    assert (image.wal_height, image.wal) == (7, [Start()])
    assert image.own == [(MessageKind.VOTE, b"old vote")]
    chain.close()
    again = LmdbChain(tmp_path, genesis).recover()  # adopted once, not twice
    assert (again.signed, len(again.wal), len(again.own)) == (image.signed, 1, 1)


_COMMIT_FOREVER = """
import sys
from pathlib import Path
from bakong.ledger.validators import Validator
from bakong.node.store import LmdbChain
from bakong.sandbox import Sandbox
from tests.node.test_store import _commit_empty_block

sandbox = Sandbox()
chain = LmdbChain(Path(sys.argv[1]), sandbox.genesis)
first = sandbox.genesis.validators[0]
validator = Validator(first.name, bytes.fromhex(first.public_key), first.power)
print("open", flush=True)
while True:
    _commit_empty_block(chain, validator)
"""


def test_a_store_killed_while_committing_blocks_reopens_at_a_consistent_tip(
    tmp_path: Path,
) -> None:
    """kill -9 at an arbitrary instant of a run of block commits and group syncs: the store
    opens at its last committed height with that height's block and state, every time."""
    sandbox = Sandbox()
    root = Path(__file__).resolve().parents[2]
    heights = []
    for delay_s in (0.3, 0.45, 0.6):
        with subprocess.Popen([sys.executable, "-c", _COMMIT_FOREVER, str(tmp_path)],
                              cwd=root, stdout=subprocess.PIPE, text=True) as child:  # fmt: skip
            assert child.stdout is not None and child.stdout.readline() == "open\n"
            time.sleep(delay_s)
            child.send_signal(signal.SIGKILL)
        chain = LmdbChain(tmp_path, sandbox.genesis)
        tip = chain.tip()
        stored = chain.stored_block(tip.height)
        assert stored is not None and stored.app_hash == tip.state.app_hash
        assert chain.stored_block(tip.height + 1) is None
        assert tip.state.store.get(HEAD_KEY) is not None
        heights.append(tip.height)
        chain.close()
    assert heights == sorted(heights) and heights[-1] > heights[0] > 0
