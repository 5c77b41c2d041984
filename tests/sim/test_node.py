"""A simulated validator's crash and restart: its lock, its guard and its chain survive.

Method: step a fault-free network by hand until a chosen validator holds a lock at its current
height, crash it and restart it at once, and compare what it knows before and after. Then let
the network go on and check that it catches up and that nothing was signed twice.
"""

from __future__ import annotations

from bakong.consensus.messages import VoteType
from bakong.node.signer import SignedStep, SignStep, may_sign
from bakong.sim.faults import Options

from .helpers import calm_plan, stepped_run

OPTIONS = Options(validators=4, byzantine=0, heights=40)


def test_a_restart_restores_the_lock_from_the_log_and_keeps_the_guard() -> None:
    run = stepped_run(7, OPTIONS, calm_plan(7, OPTIONS))
    node = run.world.nodes[2]
    for _ in range(100_000):
        assert run.step()
        driver = node.driver
        if node.height >= 5 and driver is not None and driver.state.locked_round >= 0:
            break
    assert node.driver is not None
    before = node.driver.state
    height, signed, tip = node.height, node.signed, node.tip_hash
    assert signed is not None and signed.height == height + 1
    node.crash()
    node.restart()
    assert node.driver is not None
    after = node.driver.state
    if node.height == height:  # the log did not decide the height again while replaying
        assert after.locked_round == before.locked_round
        assert after.locked_value == before.locked_value
        assert node.tip_hash == tip
    assert node.signed == signed  # synced before the vote left
    conflicting = SignedStep(signed.height, signed.round, signed.step, b"another message")
    assert not may_sign(node.signed, conflicting)
    while run.step():
        pass
    run.finish()
    assert run.world.checker.violations == []
    assert node.height >= OPTIONS.heights


def test_regression_a_restart_feeds_back_the_votes_whose_copy_the_log_lost() -> None:
    # Found by the simulator (seed 26 of the slice, before the fix): a validator signed and
    # sent its prevote, then crashed before its own copy of the vote reached the synced log.
    # After the restart its driver never counted its own prevote, so it never saw 2f+1
    # prevotes, never precommitted, and the peers waiting for its precommit stalled for good.
    run = stepped_run(3, OPTIONS, calm_plan(3, OPTIONS))
    node = run.world.nodes[1]
    signed = node.signed
    for _ in range(100_000):
        assert run.step()
        if node.signed != signed and node.height >= 3 and node.signed is not None:
            if node.signed.step is SignStep.PREVOTE:
                break
        signed = node.signed
    prevote = node.signed
    assert prevote is not None and prevote.height == node.height + 1
    node.crash(kept=0)  # every write after the last sync is lost
    node.restart()
    assert node.driver is not None and node.height + 1 == prevote.height
    own = [
        vote
        for value_id in [*(p.value_id for p, _ in node.driver.proposals(prevote.round)), None]
        for vote in node.driver.votes.votes_for(VoteType.PREVOTE, prevote.round, value_id)
        if vote.validator == node.key.public_key
    ]
    assert len(own) == 1
