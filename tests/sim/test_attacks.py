"""Byzantine validators attacking the ledger: honest nodes refuse every lie, checkers stay green.

Method: step a fault-free network by hand until its Byzantine validator and an honest one
stand at the same height with wallets funded; build each attack block the Byzantine node can
send (`bakong.sim.attacks`) and judge it with the honest node's own `valid(v)`: a true header
makes a valid block in which the attack transaction gets its refusal, a lying header makes
an invalid one. Then make each false catch-up answer and judge it with the honest node's
catch-up check. Last, whole runs whose Byzantine validator attacks in every proposal and
lies in every catch-up answer, with crashes to make nodes catch up: no violation, and the
attacks reached the chain and were refused there.
"""

from __future__ import annotations

import dataclasses

import pytest

from bakong.ledger.block import Block, block_hash, build_block
from bakong.ledger.records import Account
from bakong.ledger.state import account_key
from bakong.node.catchup import BlockResponse, CommittedBlock, check_committed, decode_sync
from bakong.node.catchup import encode_sync as encode_catchup
from bakong.node.validity import check_block
from bakong.sim.attacks import ATTACKS, LYING, SYNC_LIES, attack_block, false_answer
from bakong.sim.byzantine import Behaviour
from bakong.sim.faults import Options
from bakong.sim.node import Node
from bakong.sim.run import Run
from bakong.sim.workload import accounts_per_participant
from bakong.wire.codec import encode

from .helpers import calm_plan, stepped_run

OPTIONS = Options(validators=4, byzantine=1, heights=40)


def _funded(node: Node) -> bool:
    """Every wallet of the workload exists, funded, in the node's state."""
    wallet = node.state.store.record(account_key(f"user{accounts_per_participant - 1}@abaa"))
    return isinstance(wallet, Account) and wallet.balances[0] > 0


def _pair(run: Run, ahead: int) -> tuple[Node, Node]:
    """Step until the Byzantine node is `ahead` heights past an honest node whose wallets
    are funded; (Byzantine, honest)."""
    byzantine = next(node for node in run.world.nodes if not node.honest)
    for _ in range(200_000):
        assert run.step()
        for honest in run.world.nodes:
            if not honest.honest or not _funded(honest):
                continue
            if byzantine.height == honest.height + ahead and honest.driver is not None:
                return byzantine, honest
    raise AssertionError("the nodes never lined up")


def _next_block(node: Node) -> Block:
    """The node's own next block, empty, at a height that carries no snapshot root."""
    tip = node.tip()
    assert tip.snapshot_height is None
    block, _ = build_block(
        node.state,
        time_ms=node.tip_time_ms + 100,
        proposer=node.key.public_key,
        previous_hash=node.tip_hash,
        last_commit=node.last_commit,
        transactions=(),
        verify=node.world.memo.verify,
    )
    return block


@pytest.fixture(scope="module")
def lined_up() -> tuple[Node, Node]:
    plan = dataclasses.replace(calm_plan(3, OPTIONS), behaviours=(Behaviour(0, 0, 0, 0),))
    return _pair(stepped_run(3, OPTIONS, plan), ahead=0)


@pytest.mark.parametrize(
    ("attack", "lying"), [(attack, False) for attack in ATTACKS] + [(a, True) for a in LYING]
)
def test_honest_nodes_refuse_each_attack_transaction(
    lined_up: tuple[Node, Node], attack: str, lying: bool
) -> None:
    byzantine, honest = lined_up
    made = attack_block(byzantine, _next_block(byzantine), attack, lying)
    assert made is not None
    memo = honest.world.memo
    checked = check_block(
        honest.tip(),
        encode(made.block),
        block_hash(made.block.header),
        now_ms=None,
        verify=memo.verify,
        verify_commit=memo.commit_status,
    )
    if lying:
        assert checked.reason == "header"
        return
    assert checked.outcome is not None, checked.reason
    (result,) = [r for r in checked.outcome.results if r.tx_hash == made.tx_hash]
    assert result.code in made.codes


@pytest.mark.parametrize("lie", SYNC_LIES)
def test_honest_nodes_refuse_each_false_catch_up_answer(lie: str) -> None:
    plan = dataclasses.replace(calm_plan(5, OPTIONS), behaviours=(Behaviour(0, 0, 0, 0),))
    byzantine, honest = _pair(stepped_run(5, OPTIONS, plan), ahead=1)
    stored = byzantine.chain_store.stored_block(honest.height + 1)
    assert stored is not None
    true = CommittedBlock(stored.block, stored.commit)
    memo = honest.world.memo
    verifiers = {"verify": memo.verify, "verify_commit": memo.commit_status}
    assert check_committed(honest.tip(), true, **verifiers).valid
    answer = encode_catchup(BlockResponse((true,)))
    false = decode_sync(false_answer(byzantine, answer, lie))
    assert isinstance(false, BlockResponse)
    checked = check_committed(honest.tip(), false.blocks[0], **verifiers)
    assert checked.reason in ("value_id", "commit")


def test_runs_under_ledger_and_catch_up_attacks_stay_green() -> None:
    options = Options(validators=4, byzantine=1, heights=150)
    attacker = Behaviour(0.0, 0.0, 0.0, 0.0, ledger=1.0, lie_sync=1.0)
    lies_refused = 0
    for seed in (0, 1):
        plan = dataclasses.replace(
            calm_plan(seed, options), crash_per_tick=0.5, down_ms_max=3_000, behaviours=(attacker,)
        )
        run = stepped_run(seed, options, plan)
        while run.step():
            pass
        run.finish()
        assert run.world.checker.violations == []
        byzantine = next(node for node in run.world.nodes if not node.honest)
        assert byzantine.byzantine.ledger_attacks > 0
        assert run.world.checker.attacks_refused > 0  # attack transactions decided, and refused
        lies_refused += run.world.sync_refused
    assert lies_refused > 0  # restarted nodes asked the liar, and refused its answers
