"""Money-moving requests: one idempotency key, one transaction, paid at most once.

Against a real core on loopback. A "crash" is a gateway process state dropped between two
steps of the machine, with a new one started over the same store, as after kill -9.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong.client import SubmitResult, TransactionStatus, transaction_bytes
from bakong.gateway import db
from bakong.gateway.problems import GatewayProblem
from bakong.gateway.projection import projection_height, run_projection
from bakong.gateway.service import GatewayServices
from bakong.gateway.submission import (
    State,
    Submission,
    Waiters,
    claim,
    load_submission,
    resume_unfinished,
    send_signed,
    sign_claimed,
    submit,
)
from bakong.ledger.assets import Asset
from bakong.ledger.commands import Transfer
from bakong.ledger.transaction import Transaction, TransactionPayload, sign_transaction
from bakong.sandbox import sandbox_key
from tests.gateway.conftest import Core, make_services
from tests.gateway.test_projection import _project_until

T = TypeVar("T")
SOKHA, DARA = "sokha@aclb", "dara@wing"
CUSTOMER = 7


def _fund(core: Core) -> None:
    sb = core.sandbox
    core.commit(
        [
            sb.transaction("nbc", [sb.issue("aclb", Asset.KHR, 1_000_000, "r1")]),
            sb.transaction("aclb", [sb.open_account(SOKHA)]),
            sb.transaction("wing", [sb.open_account(DARA)]),
        ]
    )
    pay = sb.transfer("settlement@aclb", SOKHA, Asset.KHR, 100_000)
    core.commit([sb.transaction("settlement@aclb", [pay])])


class Payer:
    """Signs sokha's payment to dara; counts how often it was asked to."""

    def __init__(self, core: Core, amount: int) -> None:
        self.chain_id = core.sandbox.chain_id
        self.amount = amount
        self.calls = 0

    def __call__(self, created_ms: int, nonce: int) -> Transaction:
        self.calls += 1
        transfer = Transfer(SOKHA, DARA, Asset.KHR, self.amount, "rent", "", "")
        payload = TransactionPayload(self.chain_id, SOKHA, created_ms, nonce, (transfer,))
        return sign_transaction(payload, [sandbox_key(SOKHA)])


def _in_process(engine: Engine, core: Core, step: Callable[[GatewayServices], Awaitable[T]]) -> T:
    """Run `step` in a gateway process of its own (its own loop and core client)."""

    async def run() -> T:
        services = make_services(engine, core)
        try:
            return await step(services)
        finally:
            await services.core.aclose()

    return asyncio.run(run())


def _balance(core: Core, account_id: str) -> int:
    account = core.sandbox.account(account_id)
    assert account is not None
    return account.balances[Asset.KHR.index]


def test_a_retry_gets_the_first_answer_and_pays_once(engine: Engine, core: Core) -> None:
    _fund(core)
    payer = Payer(core, 2_500)

    async def pay(services: GatewayServices) -> Submission:
        return await submit(services, CUSTOMER, "key-1", "request-a", payer)

    first = _in_process(engine, core, pay)
    assert first.state is State.committed and first.result == "ok"
    again = _in_process(engine, core, pay)
    assert again.view() == first.view()
    assert payer.calls == 1
    assert _balance(core, DARA) == 2_500

    async def other_request(services: GatewayServices) -> Submission:
        return await submit(services, CUSTOMER, "key-1", "request-b", payer)

    with pytest.raises(GatewayProblem) as refused:
        _in_process(engine, core, other_request)
    assert (refused.value.http_status, refused.value.code) == (409, "idempotency_key_reused")

    async def another_customer(services: GatewayServices) -> Submission:
        return await submit(services, CUSTOMER + 1, "key-1", "request-b", payer)

    assert _in_process(engine, core, another_customer).state is State.committed  # keys per customer
    assert _balance(core, DARA) == 5_000


def test_a_crash_after_signing_never_pays_twice(engine: Engine, core: Core) -> None:
    _fund(core)
    payer = Payer(core, 4_000)

    async def sign_then_crash(services: GatewayServices) -> Submission:
        claimed = claim(engine, CUSTOMER, "key-2", "request", services.clock_ms())
        return sign_claimed(engine, claimed, payer, services.clock_ms(), services.nonces())

    signed = _in_process(engine, core, sign_then_crash)
    assert signed.state is State.signed and signed.signed_tx is not None
    assert _balance(core, DARA) == 0  # nothing left the process
    with engine.begin() as connection:  # the crash was a while ago: due for the resubmitter
        connection.execute(db.submissions.update().values(updated_ms=0))

    async def restart(services: GatewayServices) -> int:
        sent = await resume_unfinished(services, wait_s=5.0)
        # A retry of the client's request while (or after) the restart resumes it.
        retried = await submit(services, CUSTOMER, "key-2", "request", payer)
        assert retried.state is State.committed
        return sent

    assert _in_process(engine, core, restart) == 1
    after = load_submission(engine, signed.id)
    assert after.state is State.committed and after.tx_hash == signed.tx_hash
    assert payer.calls == 1
    assert _balance(core, DARA) == 4_000
    assert _balance(core, SOKHA) == 100_000 - 4_000


def test_a_crash_after_submitting_resumes_with_the_same_bytes(engine: Engine, core: Core) -> None:
    _fund(core)
    payer = Payer(core, 1_000)
    core.stop()  # no blocks: the core accepts the transaction and does not commit it yet

    async def submit_then_crash(services: GatewayServices) -> Submission:
        return await submit(services, CUSTOMER, "key-3", "request", payer, wait_s=0.05)

    submitted = _in_process(engine, core, submit_then_crash)
    assert submitted.state is State.submitted
    core.commit(list(core.service.mempool.values()))
    core.service.mempool.clear()
    with engine.begin() as connection:  # long enough ago for the resubmitter's round
        connection.execute(db.submissions.update().values(updated_ms=0))

    async def restart(services: GatewayServices) -> int:
        return await resume_unfinished(services, wait_s=5.0)

    assert _in_process(engine, core, restart) == 1
    after = load_submission(engine, submitted.id)
    assert after.state is State.committed and after.tx_hash == submitted.tx_hash
    assert payer.calls == 1 and _balance(core, DARA) == 1_000


def test_a_failed_payment_is_rejected_with_its_result(engine: Engine, core: Core) -> None:
    _fund(core)

    async def overdraw(services: GatewayServices) -> Submission:
        return await submit(services, CUSTOMER, "key-4", "request", Payer(core, 500_000))

    failed = _in_process(engine, core, overdraw)
    assert failed.state is State.rejected and failed.result == "insufficient_funds"
    assert failed.height is not None and failed.view()["result"] == "insufficient_funds"

    def forged(created_ms: int, nonce: int) -> Transaction:
        transfer = Transfer(SOKHA, DARA, Asset.KHR, 1, "", "", "")
        payload = TransactionPayload("another-chain", SOKHA, created_ms, nonce, (transfer,))
        return sign_transaction(payload, [sandbox_key(SOKHA)])

    async def refused(services: GatewayServices) -> Submission:
        return await submit(services, CUSTOMER, "key-5", "request", forged)

    answer = _in_process(engine, core, refused)
    assert answer.state is State.rejected and answer.result == "chain_id_mismatch"
    assert answer.height is None


def test_the_projection_finishes_what_the_submitter_left(engine: Engine, core: Core) -> None:
    _fund(core)
    payer = Payer(core, 3_000)
    core.stop()  # the core takes the transaction but commits nothing while the submitter waits

    async def sign_and_send(services: GatewayServices) -> Submission:
        claimed = claim(engine, CUSTOMER, "key-6", "request", services.clock_ms())
        signed = sign_claimed(engine, claimed, payer, services.clock_ms(), services.nonces())
        return await send_signed(services, signed, wait_s=0.05)

    sent = _in_process(engine, core, sign_and_send)
    assert sent.state is State.submitted
    core.commit(list(core.service.mempool.values()))
    _project_until(make_services(engine, core), core.height)
    after = load_submission(engine, sent.id)
    assert (after.state, after.result, after.height) == (State.committed, "ok", core.height)
    assert after.view()["state"] == "committed" and payer.calls == 1


def test_a_sender_waits_for_the_projection_and_never_polls_the_core(
    engine: Engine, core: Core
) -> None:
    """Woken by the block that commits its payment, the sender answers with the submission as
    that block's transaction stored it, reading nothing back and asking the core nothing."""
    _fund(core)
    payer = Payer(core, 1_500)
    asked: list[bytes] = []
    read_back: list[str] = []

    def reads(_c: object, _k: object, statement: str, *_rest: object) -> None:
        if statement.lstrip().startswith("SELECT") and "WHERE submissions.id =" in statement:
            read_back.append(statement)

    sa.event.listen(engine, "before_cursor_execute", reads)

    async def pay(services: GatewayServices) -> Submission:
        status = services.core.transaction

        async def counted(tx_hash: bytes) -> TransactionStatus:
            asked.append(tx_hash)
            return await status(tx_hash)

        services.core.transaction = counted  # type: ignore[method-assign]
        projection = asyncio.ensure_future(run_projection(services))
        try:
            for _ in range(2_000):  # caught up with the funding blocks, stream open
                height = await services.db(projection_height, services.engine)
                if services.waiters.following and height >= core.height:
                    break
                await asyncio.sleep(0.005)
            done = await submit(services, CUSTOMER, "key-7", "request", payer)
            assert len(services.waiters) == 0  # released once woken
            return done
        finally:
            projection.cancel()
            await asyncio.gather(projection, return_exceptions=True)

    done = _in_process(engine, core, pay)
    sa.event.remove(engine, "before_cursor_execute", reads)
    assert (done.state, done.result) == (State.committed, "ok") and done.height is not None
    assert asked == []  # woken by the block, not by asking the core
    assert read_back == []  # handed its submission by the projection, not read again
    assert done == load_submission(engine, done.id)  # exactly as stored
    assert _balance(core, DARA) == 1_500


def test_waiters_wake_every_sender_of_a_hash_and_forget_it_once_all_left() -> None:
    async def run() -> None:
        waiters = Waiters()
        first, second = waiters.register(b"h" * 32), waiters.register(b"h" * 32)
        other = waiters.register(b"o" * 32)
        assert first is second and len(waiters) == 2
        waiters.wake([b"h" * 32, b"x" * 32])
        assert first.is_set() and not other.is_set()
        waiters.release(b"h" * 32)
        assert len(waiters) == 2  # the second sender still holds it
        waiters.release(b"h" * 32)
        waiters.release(b"o" * 32)
        assert len(waiters) == 0

        # A block that finished a sender's submission hands it over until the sender left;
        # one nobody waits for is not kept.
        waiters.register(b"h" * 32)
        done = Submission(1, CUSTOMER, "k", "r", State.committed, b"h" * 32, b"tx", "ok", 9, "{}")
        unwaited = Submission(2, CUSTOMER, "k2", "r", State.committed, b"u" * 32, b"tx", "ok", 9,
                              "{}")  # fmt: skip
        waiters.wake([b"h" * 32, b"u" * 32], [done, unwaited])
        assert waiters.finished(b"h" * 32) == done and waiters.finished(b"u" * 32) is None
        waiters.release(b"h" * 32)
        assert waiters.finished(b"h" * 32) is None

    asyncio.run(run())


def test_sends_queued_together_share_one_request_and_each_gets_its_answer(
    engine: Engine, core: Core
) -> None:
    _fund(core)
    requests: list[int] = []

    async def send(services: GatewayServices) -> list[SubmitResult]:
        submit_batch = services.core.submit

        async def counted(transactions: Sequence[Transaction | bytes]) -> list[SubmitResult]:
            requests.append(len(transactions))
            return await submit_batch(transactions)

        services.core.submit = counted  # type: ignore[method-assign]
        signed = [Payer(core, 100 + n)(services.clock_ms(), services.nonces()) for n in range(6)]
        other_chain = msgspec.structs.replace(signed[5].payload, chain_id="another-chain")
        signed[5] = sign_transaction(other_chain, [sandbox_key(SOKHA)])  # refused on its own
        raws = [transaction_bytes(tx) for tx in signed]
        return list(
            await asyncio.gather(*(services.admissions.submit(services.core, raw) for raw in raws))
        )

    results = _in_process(engine, core, send)
    assert requests == [6]  # queued before the first left: one request
    assert [result.status for result in results[:5]] == ["accepted"] * 5
    assert results[5].status == "rejected"  # answered on its own, in its place
