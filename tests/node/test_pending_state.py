"""The state's pending writes (`bakong.node.pending_state`, store rule 9): checkpoints spread
over the next blocks in key order, the state base moved by the block that completes one, the
tip's state read the same from memory and from disk, after a reopen and after `kill -9` at any
instant of a run of blocks and checkpoints.

Method: real blocks built by the ledger over the sandbox genesis, each stored with extra writes
(`zz/` keys, written and deleted) that are a function of the height alone, so a model knows the
state any tip must have; a checkpoint every 2 or 3 blocks, so that a run crosses many.
"""

from __future__ import annotations

import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import lmdb
import pytest

from bakong import limits
from bakong.ledger.state import HEAD_KEY
from bakong.ledger.validators import Validator
from bakong.node.chain_env import CHAIN_DBS_MAX, STATE_BASE_KEY, state_items
from bakong.node.pending_state import NOT_PENDING, FlushStep, PendingState
from bakong.node.store import LmdbChain
from bakong.sandbox import Sandbox
from tests.node.test_store import _commit_empty_block

_KEYS = 40


def _extra_writes(height: int) -> dict[bytes, bytes | None]:
    """The `zz/` writes of the block at `height`: a few keys set, some deleted."""
    chosen = random.Random(height)
    return {
        b"zz/%02d" % key: None if chosen.random() < 0.25 else b"v%d-%d" % (height, key)
        for key in chosen.sample(range(_KEYS), 6)
    }


def _model(tip: int) -> dict[bytes, bytes]:
    state: dict[bytes, bytes | None] = {}
    for height in range(1, tip + 1):
        state.update(_extra_writes(height))
    return {key: value for key, value in state.items() if value is not None}


def _validator(sandbox: Sandbox) -> Validator:
    first = sandbox.genesis.validators[0]
    return Validator(first.name, bytes.fromhex(first.public_key), first.power)


def commit_block(chain: LmdbChain, validator: Validator) -> int:
    """Store the next real (empty) block with the `zz/` writes of its height; that height."""
    return _commit_empty_block(chain, validator, _extra_writes).height


def _check_tip(chain: LmdbChain) -> int:
    """The tip's `zz/` state is the model's, read through the store's reader and read from
    disk as another process would (`state_items`); the two agree on every key; the kept write
    sets are exactly those after the state base."""
    tip = chain.tip()
    expected = _model(tip.height)
    reader = chain.reader()
    try:
        for index in range(_KEYS):
            key = b"zz/%02d" % index
            assert reader.get(key) == expected.get(key), (tip.height, key)
        with chain.env.begin(buffers=False) as txn:
            whole = dict(state_items(txn, chain._db["state"], chain._db["writes"]))
            base = struct.unpack(">Q", txn.get(STATE_BASE_KEY, db=chain._db["meta"]))[0]
            kept = [struct.unpack(">Q", key)[0] for key, _ in txn.cursor(db=chain._db["writes"])]
        assert {k: v for k, v in whole.items() if k.startswith(b"zz/")} == expected
        assert all(reader.get(key) == value for key, value in whole.items())
        assert whole[HEAD_KEY] == tip.state.store.get(HEAD_KEY)
    finally:
        reader.close()
    assert kept == list(range(base + 1, tip.height + 1)), (base, kept)
    return base


def test_a_checkpoint_is_spread_over_the_next_blocks_in_key_order() -> None:
    pending = PendingState(checkpoint_blocks=2, checkpoint_entries=100, entries_max=100, height=0)
    pending.advance(FlushStep([], [], None), 1, ((b"a", b"1"), (b"c", b"1")))
    assert pending.frozen_height is None and pending.get(b"a") == b"1"
    pending.advance(FlushStep([], [], None), 2, ((b"b", b"2"), (b"c", None)))
    assert pending.frozen_height == 2 and pending.active == {}
    first = pending.next_step(0)
    assert first == FlushStep([b"a", b"b"], [b"1", b"2"], None)
    pending.advance(first, 3, ((b"a", b"3"),))
    assert pending.get(b"a") == b"3" and pending.get(b"c") is None
    assert pending.get(b"d") is NOT_PENDING
    second = pending.next_step(0)
    assert second == FlushStep([b"c"], [None], 2)  # completes: the state base moves to 2
    pending.advance(second, 4, ((b"d", b"4"),))
    assert pending.active == {} and pending.frozen_height == 4  # two blocks since: frozen
    assert pending.frozen == {b"a": b"3", b"d": b"4"}
    assert pending.next_step(0) == FlushStep([b"a"], [b"3"], None)  # a slice of one a block
    assert pending.next_step(1) == FlushStep([b"a", b"d"], [b"3", b"4"], 4)  # twice its own


def test_many_keys_are_checkpointed_before_their_interval_and_a_full_state_at_once() -> None:
    pending = PendingState(checkpoint_blocks=4, checkpoint_entries=3, entries_max=5, height=0)
    pending.advance(FlushStep([], [], None), 1, tuple((b"k%d" % i, b"1") for i in range(3)))
    assert pending.frozen_height == 1  # 3 keys: frozen before its interval of 4 blocks
    step = pending.next_step(0)
    assert len(step.keys) == len(step.values) == 1 and step.base is None
    pending.advance(step, 2, tuple((b"m%d" % i, b"2") for i in range(5)))
    rest = pending.next_step(0)  # `active` at the cap: everything left, at once
    assert rest.keys == [b"k1", b"k2"] and rest.base == 1


def test_the_tip_state_is_the_same_in_memory_on_disk_and_reopened(tmp_path: Path) -> None:
    sandbox = Sandbox()
    validator = _validator(sandbox)
    chain = LmdbChain(tmp_path, sandbox.genesis, checkpoint_blocks=3)
    bases = set()
    for _ in range(25):
        commit_block(chain, validator)
        bases.add(_check_tip(chain))
    assert len(bases) >= 5  # checkpoints completed along the way
    tip = chain.tip().height
    assert _check_tip(chain) < tip  # writes pending at the close
    chain.close()
    with lmdb.open(str(tmp_path), max_dbs=CHAIN_DBS_MAX, readonly=True) as env:
        dbs = {name: env.open_db(name, create=False) for name in (b"meta", b"state", b"writes")}
        with env.begin() as txn:
            # A clean close leaves `state` the tip's alone, as code that knows no `writes` reads it.
            assert struct.unpack(">Q", txn.get(STATE_BASE_KEY, db=dbs[b"meta"]))[0] == tip
            assert txn.stat(dbs[b"writes"])["entries"] == 0
            state = dict(txn.cursor(db=dbs[b"state"]))
    assert {k: v for k, v in state.items() if k.startswith(b"zz/")} == _model(tip)
    reopened = LmdbChain(tmp_path, sandbox.genesis, checkpoint_blocks=3)
    _check_tip(reopened)
    for _ in range(7):
        commit_block(reopened, validator)
        _check_tip(reopened)
    reopened.close()


_COMMIT_FOREVER = """
import sys
from pathlib import Path
from bakong.node.store import LmdbChain
from bakong.sandbox import Sandbox
from tests.node.test_pending_state import _validator, commit_block

sandbox = Sandbox()
chain = LmdbChain(Path(sys.argv[1]), sandbox.genesis, checkpoint_blocks=3)
validator = _validator(sandbox)
print("open", flush=True)
while True:
    commit_block(chain, validator)
"""


def test_a_store_killed_during_checkpoints_reopens_with_its_tip_state(tmp_path: Path) -> None:
    """kill -9 at random instants of a run of blocks, slices and checkpoints: every reopened
    store reads its tip's state exactly, from memory and from disk, and goes on."""
    sandbox = Sandbox()
    root = Path(__file__).resolve().parents[2]
    chosen = random.Random(21)
    heights = []
    for _ in range(4):
        with subprocess.Popen([sys.executable, "-c", _COMMIT_FOREVER, str(tmp_path)],
                              cwd=root, stdout=subprocess.PIPE, text=True) as child:  # fmt: skip
            assert child.stdout is not None and child.stdout.readline() == "open\n"
            time.sleep(chosen.uniform(0.2, 0.7))
            child.send_signal(signal.SIGKILL)
        chain = LmdbChain(tmp_path, sandbox.genesis, checkpoint_blocks=3)
        _check_tip(chain)
        heights.append(commit_block(chain, _validator(sandbox)))
        _check_tip(chain)
        chain.close()
    assert heights == sorted(heights) and heights[0] > 3


def test_a_close_with_more_pending_than_it_may_write_keeps_the_write_sets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = Sandbox()
    validator = _validator(sandbox)
    chain = LmdbChain(tmp_path, sandbox.genesis, checkpoint_blocks=1_000)
    for _ in range(5):
        commit_block(chain, validator)
    monkeypatch.setattr(limits, "state_close_written_entries_max", 3)
    chain.close()
    reopened = LmdbChain(tmp_path, sandbox.genesis, checkpoint_blocks=1_000)
    assert _check_tip(reopened) == 0  # the base did not move: the write sets were replayed
    reopened.close()


def test_a_close_after_a_block_stored_but_not_advanced_leaves_it_to_the_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should anything fail between a block's commit and `advance`, memory lacks the tip's
    writes: the close must not write it as the tip's state; the reopened store replays."""
    sandbox = Sandbox()
    validator = _validator(sandbox)
    chain = LmdbChain(tmp_path, sandbox.genesis, checkpoint_blocks=1_000)
    for _ in range(3):
        commit_block(chain, validator)

    def fail(*_: object) -> None:
        raise MemoryError

    monkeypatch.setattr(PendingState, "advance", fail)
    with pytest.raises(MemoryError):
        commit_block(chain, validator)
    monkeypatch.undo()
    chain.close()
    reopened = LmdbChain(tmp_path, sandbox.genesis, checkpoint_blocks=1_000)
    assert reopened.tip().height == 4
    _check_tip(reopened)
    reopened.close()
