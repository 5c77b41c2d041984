"""The checker's own quorum rule: what `bakong.consensus` accepts under a mutant, it does not.

Method: take a real commit from a short fault-free run; the checker's rule accepts it whole
and refuses it cut to two signatures of four, or with one of three signatures forged, while
the weak-quorum mutant makes the consensus code's own `verify_commit` accept the cut one.
"""

from __future__ import annotations

from msgspec.structs import replace

from bakong.consensus.commit import CommitStatus, verify_commit
from bakong.ledger.commit import Commit
from bakong.sim.faults import Options
from bakong.sim.mutants import applied
from bakong.sim.run import Run

from .helpers import calm_plan, stepped_run

OPTIONS = Options(validators=4, byzantine=0, heights=20)


def _commit(run: Run) -> Commit:
    node = run.world.nodes[0]
    while node.height < 3 or len(node.last_commit.signatures if node.last_commit else ()) < 3:
        assert run.step()
    assert node.last_commit is not None
    return node.last_commit


def test_the_checker_counts_a_quorum_by_its_own_rule() -> None:
    run = stepped_run(1, OPTIONS, calm_plan(1, OPTIONS))
    commit = _commit(run)
    checker, chain_id = run.world.checker, run.world.chain.chain_id
    height, block_hash = commit.height, commit.block_hash
    assert checker.holds_quorum(commit, height, block_hash)
    two = replace(commit, signatures=commit.signatures[:2])
    assert not checker.holds_quorum(two, height, block_hash)
    forged = replace(commit.signatures[0], signature=bytes(64))
    one_forged = replace(commit, signatures=(forged, *commit.signatures[1:3]))
    assert not checker.holds_quorum(one_forged, height, block_hash)
    assert not checker.holds_quorum(commit, height + 1, block_hash)
    validator_set = checker.sets[height]
    with applied("weak-quorum"):
        status = verify_commit(chain_id, two, validator_set, height=height, block_hash=block_hash)
        assert status is CommitStatus.OK  # the mutant fools the consensus code ...
        assert not checker.holds_quorum(two, height, block_hash)  # ... and not the checker
