"""A simulated validator's crash and restart: its lock, its guard and its chain survive.

Method: step a fault-free network by hand until a chosen validator holds a lock at its current
height, crash it and restart it at once, and compare what it knows before and after. Then let
the network go on and check that it catches up and that nothing was signed twice.
"""

from __future__ import annotations

from bakong.sim.faults import Options
from bakong.sim.signer import SignedStep, may_sign

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
