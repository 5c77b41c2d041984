"""A simulated validator: its crash and restart (its lock, its guard and its chain survive),
and its admission of transactions (the runtime's rules, against its own clock).

Method: step a fault-free network by hand until a chosen validator holds a lock at its current
height, crash it and restart it at once, and compare what it knows before and after. Then let
the network go on and check that it catches up and that nothing was signed twice. For
admission, submit transactions that break one rule each to a node of a running network.
"""

from __future__ import annotations

from bakong import limits
from bakong.consensus.messages import Vote, VoteType
from bakong.ledger.assets import Asset
from bakong.ledger.transaction import (
    SignatureEntry,
    Transaction,
    TransactionPayload,
    sign_transaction,
)
from bakong.node.envelope import MessageKind
from bakong.node.service import Admission, AdmissionStatus
from bakong.node.signer import Horizon, SignedStep, SignStep, may_sign
from bakong.sandbox import Sandbox, sandbox_key
from bakong.sim.chain import CHAIN_ID
from bakong.sim.faults import Options
from bakong.sim.node import Node
from bakong.sim.run import Run
from bakong.wire.codec import encode

from .helpers import calm_plan, stepped_run

OPTIONS = Options(validators=4, byzantine=0, heights=40)
_Signed = tuple[int, MessageKind, Vote | None]  # (height, kind, the vote)


def _run_to_a_lock() -> tuple[Run, Node]:
    """A fault-free run stepped until validator 2 holds a lock at a height from 6 on."""
    run = stepped_run(7, OPTIONS, calm_plan(7, OPTIONS))
    node = run.world.nodes[2]
    for _ in range(100_000):
        assert run.step()
        driver = node.driver
        if node.height >= 5 and driver is not None and driver.state.locked_round >= 0:
            break
    return run, node


def test_a_restart_restores_the_lock_from_the_log_and_keeps_the_guard() -> None:
    run, node = _run_to_a_lock()
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


def _payment(created_ms: int, nonce: int) -> Transaction:
    """A transfer between two of the workload's wallets, signed by its source."""
    payload = TransactionPayload(
        chain_id=CHAIN_ID,
        creator="user0@aclb",
        created_ms=created_ms,
        nonce=10**9 + nonce,  # beside the workload's nonces, never equal to one
        commands=(Sandbox.transfer("user0@aclb", "user1@wing", Asset.KHR, 100),),
    )
    return sign_transaction(payload, [sandbox_key("user0@aclb")])


def _code(node: Node, transaction: Transaction | bytes) -> tuple[AdmissionStatus, str]:
    raw = transaction if isinstance(transaction, bytes) else encode(transaction)
    admission: Admission = node.submit(raw)
    return admission.status, admission.code


def test_a_simulated_node_admits_by_the_runtime_rules_against_its_own_clock() -> None:
    run = stepped_run(5, OPTIONS, calm_plan(5, OPTIONS))
    while not run.workload.ready:
        assert run.step()
    fast, node = run.world.nodes[0], run.world.nodes[1]
    fast.skew_ms = limits.tx_future_ms_max  # its clock is five minutes ahead of node's
    now_ms = node.clock_ms()
    ahead = _payment(now_ms + limits.tx_future_ms_max + 1_000, 1)
    assert _code(node, ahead) == (AdmissionStatus.REJECTED, "created_in_future")
    assert _code(fast, ahead) == (AdmissionStatus.ACCEPTED, "ok")
    expired = _payment(now_ms - limits.tx_past_ms_max - 1, 2)
    assert _code(node, expired) == (AdmissionStatus.REJECTED, "expired")
    good = _payment(now_ms, 3)
    entry = good.signatures[0]
    forged_signature = bytes([entry.signature[0] ^ 1]) + entry.signature[1:]
    forged = Transaction(good.payload, (SignatureEntry(entry.public_key, forged_signature),))
    assert _code(node, forged) == (AdmissionStatus.REJECTED, "bad_signature")
    assert _code(node, encode(good) + b"\x00")[0] is AdmissionStatus.REJECTED
    assert _code(node, good) == (AdmissionStatus.ACCEPTED, "ok")
    assert node.submit(encode(good)).message == "already pending"
    # Pooled from a gateway, it is gossiped: every other node pools it through admission too.
    tx_hash = node.submit(encode(good)).tx_hash
    assert tx_hash is not None
    others = [peer for peer in run.world.nodes if peer is not node]
    created = good.payload.created_ms
    for _ in range(10_000):
        if all(tx_hash in peer.mempool or peer.is_committed(created, tx_hash) for peer in others):
            break
        assert run.step()
    while not node.is_committed(created, tx_hash):
        assert run.step()
    assert _code(node, good) == (AdmissionStatus.COMMITTED, "ok")


def _run_after_a_loss(behind: int, horizon: int | None) -> tuple[int, Node, list[_Signed]]:
    """Validator 2, locked at its height h, loses its disk and is restored from a snapshot at
    h - `behind`, with the open horizon the restore gives it (`horizon`, or a closed one at 0:
    the guard before horizons existed). Returns h, the node and the messages it signed from
    then on."""
    run, node = _run_to_a_lock()
    height = node.height + 1
    node.crash()
    closed = Horizon(0, False)
    node.disk.lose(height - behind, closed if horizon is None else Horizon(horizon, True))
    node.restart()
    sent: list[_Signed] = []
    broadcast = node.broadcast

    def keep(kind: MessageKind, data: bytes) -> None:
        if kind in (MessageKind.VOTE, MessageKind.PROPOSAL, MessageKind.PROPOSAL_COMPACT):
            vote = node.memo.vote(data) if kind is MessageKind.VOTE else None
            sent.append((node.height + 1, kind, vote))
        broadcast(kind, data)

    node.broadcast = keep  # type: ignore[method-assign]
    while run.step():
        pass
    run.finish()
    assert run.world.checker.violations == []
    assert node.height >= OPTIONS.heights
    return height, node, sent


def _for_blocks(sent: list[_Signed], heights: range) -> list[_Signed]:
    """The proposals and the votes for a block among `sent`, at `heights`."""
    return [
        (at, kind, vote)
        for at, kind, vote in sent
        if at in heights and (vote is None or vote.value_id is not None)
    ]


def test_a_restored_validator_votes_only_nil_up_to_its_horizon() -> None:
    # Restored at the tip with the guard as it was before horizons: it votes for blocks at
    # once, at heights where it may have signed before, which may be a double sign.
    height, _, sent = _run_after_a_loss(behind=1, horizon=None)
    assert _for_blocks(sent, range(height, height + 2))

    # Restored at a snapshot of h - 4, whose carrier is at h - 2 (the restore's horizon one
    # past it): catch-up moves the horizon on to the height the network is deciding (h or
    # later); only nil votes up to there, and the first height it decides closes the horizon.
    height, node, sent = _run_after_a_loss(behind=4, horizon=height - 1)
    horizon = node.horizon.height
    assert not node.horizon.open and horizon >= height
    assert sent and _for_blocks(sent, range(1, horizon + 1)) == []
    assert any(kind is not MessageKind.VOTE for _, kind, _ in sent)  # it proposes again
    assert _for_blocks(sent, range(horizon + 1, OPTIONS.heights + 10))
