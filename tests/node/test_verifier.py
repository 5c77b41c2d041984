"""Fetched transactions' signatures are verified in the verifier pool's worker processes
(runtime rule 5, `bakong.node.verifier.verify_fetched`): the valid ones are remembered, so that
executing their block checks nothing on the event loop, and a forged one is left for
execution to refuse; admission leaves out what a block verified while it waited, or is verifying.

Method: sandbox transactions signed for real, one of them carrying another's signature; a pool
of one spawned worker; this process's Ed25519 counter (`keys.signature_checks`) shows where
each check ran.
"""

from __future__ import annotations

import asyncio

from bakong.ledger.assets import Asset
from bakong.ledger.transaction import (
    SignatureEntry,
    Transaction,
    TransactionPayload,
    sign_transaction,
    signing_message,
    transaction_hash,
)
from bakong.node.verifier import SignatureCheck, VerifierPool, signature_checks, verify_fetched
from bakong.sandbox import Sandbox, sandbox_key
from bakong.wire import keys
from bakong.wire.keys import VerifiedSignatures


def _issues(sandbox: Sandbox, count: int) -> list[Transaction]:
    return [
        sign_transaction(
            TransactionPayload(
                chain_id=sandbox.chain_id,
                creator="nbc",
                created_ms=sandbox.time_ms,
                nonce=nonce,
                commands=(sandbox.issue("aclb", Asset.KHR, 1_000, f"r{nonce}"),),
            ),
            [sandbox_key("nbc/admin")],
        )
        for nonce in range(1, count + 1)
    ]


def _with_a_forged_one(sandbox: Sandbox, count: int) -> list[tuple[bytes, Transaction]]:
    """(hash, transaction) of `count` issues, then of the second one's payload carrying the
    first one's signature."""
    transactions = _issues(sandbox, count)
    stolen = transactions[0].signatures[0]
    forged = Transaction(
        transactions[1].payload, (SignatureEntry(stolen.public_key, stolen.signature),)
    )
    return [(transaction_hash(tx.payload), tx) for tx in [*transactions, forged]]


def _first_checks(
    sandbox: Sandbox, fetched: list[tuple[bytes, Transaction]]
) -> list[SignatureCheck]:
    return [signature_checks(sandbox.chain_id, h, tx)[0] for h, tx in fetched]


def test_fetched_signatures_are_verified_in_the_workers_and_a_forged_one_is_not_kept() -> None:
    sandbox = Sandbox()
    valid = _issues(sandbox, 3)
    stolen = valid[0].signatures[0]
    forged_payload = _issues(sandbox, 4)[3].payload
    forged = Transaction(forged_payload, (SignatureEntry(stolen.public_key, stolen.signature),))
    fetched = [(transaction_hash(tx.payload), tx) for tx in [*valid, forged]]
    known = VerifiedSignatures(entries_max=100)
    pool = VerifierPool(1)
    try:
        before = keys.signature_checks()
        checked = asyncio.run(verify_fetched(pool, known, sandbox.chain_id, fetched))
        assert checked == 4 and pool.verified_in_workers == 4
        assert keys.signature_checks() == before  # not one on this process
        for tx_hash, transaction in fetched:
            entry = transaction.signatures[0]
            check = (entry.public_key, signing_message(sandbox.chain_id, tx_hash), entry.signature)
            assert (check in known) is (transaction is not forged)
            assert known.verify(*check) is (transaction is not forged)  # as execution asks
        assert keys.signature_checks() == before + 1  # only the forged one, refused again
        again = asyncio.run(verify_fetched(pool, known, sandbox.chain_id, fetched[:3]))
        assert again == 0 and pool.verified_in_workers == 4
    finally:
        pool.close()


def test_admission_leaves_out_what_a_block_verified_while_it_waited() -> None:
    """Gossip waiting in admission's queue when its block arrives is not checked twice."""
    sandbox = Sandbox()
    fetched = _with_a_forged_one(sandbox, 599)
    checks = _first_checks(sandbox, fetched)
    known = VerifiedSignatures(entries_max=1_000)
    pool = VerifierPool(1, known)
    block = fetched[-11:]  # in admission's third chunk of 256

    async def race() -> list[bool]:
        admission = asyncio.ensure_future(pool.verify(checks))
        await asyncio.sleep(0.01)  # its first chunk is with the one worker, the others wait
        assert await verify_fetched(pool, known, sandbox.chain_id, block) == len(block)
        return await admission

    try:
        assert asyncio.run(race()) == [True] * 599 + [False]
        assert pool.verified_in_workers == len(checks) + 1  # only the forged one twice
    finally:
        pool.close()


def test_admission_shares_a_blocks_checks_while_they_run() -> None:
    """Gossip arriving while its block's checks are in the workers waits for their verdicts."""
    sandbox = Sandbox()
    checks = _first_checks(sandbox, _with_a_forged_one(sandbox, 6))
    block, gossip = checks[:4] + checks[6:], checks[2:]  # three shared, two gossip's own
    pool = VerifierPool(1)  # nothing remembered: only the checks in flight can be shared

    async def race() -> tuple[list[bool], list[bool]]:
        urgent = asyncio.ensure_future(pool.verify(block, urgent=True))
        await asyncio.sleep(0)  # the block's checks wait for the worker, still starting
        admission = asyncio.ensure_future(pool.verify(gossip))
        return await urgent, await admission

    try:
        block_verdicts, gossip_verdicts = asyncio.run(race())
        assert block_verdicts == [True, True, True, True, False]
        assert gossip_verdicts == [True, True, True, True, False]
        assert pool.verified_in_workers == len(block) + 2
    finally:
        pool.close()
