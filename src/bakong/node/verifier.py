"""Signature verification for mempool admission, in a pool of worker processes.

Ed25519 verification is the one cost a node cannot avoid (notes: about 10,000 per second per
core), so admission must scale with cores: with `mempool.verify_workers` set to N, the event
loop never verifies a submitted transaction itself. Requests are gathered for at most
`limits.verify_batch_wait_ms`, split into one chunk per worker, and verified in parallel in separate
processes (spawned, so they share nothing with the event loop). Each signature is verified
exactly once on admission; the node then remembers it (`VerifiedSignatures.remember`) so that
executing the block does not verify it again. Transactions a node first sees in a compact
proposal (fetched from its proposer: at saturation, gossip finds the mempools full and more
than half of a follower's signatures arrive this way) go through the same pool before the
block executes (`verify_fetched`), so that no Ed25519 check of a transaction runs on the
event loop. With `workers == 0` (tests, and a local network's validators sharing one machine,
where worker processes would only add copying), verification runs inline. A validator's
config says "auto" unless it sets a count: one worker per core but the event loop's
(`bakong.node.home.verify_workers_for`).

A block waits for its checks, so they must not queue behind admission's: admission's batches
go to the workers in chunks of at most `limits.verify_chunk_checks_max`, no more than one per
worker at a time, and `urgent` checks (a block's) are handed to the workers at once, split
among them, so that they wait at most for the chunks already running. The two race at
saturation: a transaction's gossip is still waiting in admission's queue when its block
arrives, and the block, which cannot wait for it, checks the transaction itself. So when an
admission chunk's turn comes, it leaves out what a block has verified meanwhile (`known`, the
node's remembered signatures) or is verifying now, and takes those verdicts instead.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Awaitable, Sequence
from concurrent.futures import ProcessPoolExecutor

from bakong import limits
from bakong.ledger.transaction import Transaction, signing_message
from bakong.wire import keys
from bakong.wire.keys import VerifiedSignatures, verify

__all__ = ["SignatureCheck", "VerifierPool", "signature_checks", "verify_fetched"]

SignatureCheck = tuple[bytes, bytes, bytes]  # (public key, message, signature)

_Waiting = tuple[list[SignatureCheck], "asyncio.Future[list[bool]]"]


def verify_chunk(checks: list[SignatureCheck]) -> list[bool]:
    """Run in a worker process."""
    return [verify(public_key, message, signature) for public_key, message, signature in checks]


class VerifierPool:
    def __init__(self, workers: int, known: VerifiedSignatures | None = None) -> None:
        """`workers` processes (0: inline); `known` holds the checks that passed, which
        admission's chunks skip (module docstring)."""
        assert workers >= 0
        self.workers = workers
        self._known = known
        self._executor: ProcessPoolExecutor | None = None
        if workers > 0:
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(workers, mp_context=context)
        self._queue: list[_Waiting] = []
        self._flush: asyncio.TimerHandle | None = None
        self._admission_slots = asyncio.Semaphore(max(workers, 1))
        self._urgent: dict[SignatureCheck, asyncio.Future[bool]] = {}  # in the workers now
        self.verified = 0
        self.verified_in_workers = 0  # not in this process's `signature_checks()`
        self.batches = 0

    async def warm_up(self) -> None:
        """Start every worker now rather than on the first transaction."""
        if self._executor is not None:
            loop = asyncio.get_running_loop()
            executor = self._executor
            await asyncio.gather(
                *(loop.run_in_executor(executor, verify_chunk, []) for _ in range(self.workers))
            )

    async def verify(self, checks: list[SignatureCheck], *, urgent: bool = False) -> list[bool]:
        """One verdict per check, in order; `urgent` ones ahead of admission's (module
        docstring)."""
        if not checks:
            return []
        if self._executor is None:
            self.verified += len(checks)
            return verify_chunk(checks)
        if urgent:
            return await self._urgently(checks)
        return await self._queued(checks)

    async def _urgently(self, checks: list[SignatureCheck]) -> list[bool]:
        """A block's checks, split among the workers at once; admission shares them while
        they run (module docstring)."""
        loop = asyncio.get_running_loop()
        futures = [self._urgent.setdefault(check, loop.create_future()) for check in checks]
        try:
            chunks = _chunks(checks, -(-len(checks) // self.workers))
            parts = await asyncio.gather(*(self._in_worker(chunk) for chunk in chunks))
        except BaseException as error:
            for check, future in zip(checks, futures, strict=True):
                self._urgent.pop(check, None)
                if future.done():
                    continue
                if isinstance(error, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(error)
                    future.exception()  # raised to the waiters, if any; no log if none
            raise
        verdicts = [verdict for part in parts for verdict in part]
        for check, future, verdict in zip(checks, futures, verdicts, strict=True):
            self._urgent.pop(check, None)
            if not future.done():
                future.set_result(verdict)
        return verdicts

    async def _queued(self, checks: list[SignatureCheck]) -> list[bool]:
        """Admission's checks, gathered into batches (module docstring)."""
        if not checks:
            return []
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[bool]] = loop.create_future()
        self._queue.append((checks, future))
        queued = sum(len(item[0]) for item in self._queue)
        if queued >= limits.verify_batch_checks_max:
            self._dispatch()
        elif self._flush is None:
            self._flush = loop.call_later(limits.verify_batch_wait_ms / 1000, self._dispatch)
        return await future

    def _dispatch(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        queue, self._queue = self._queue, []
        if not queue:
            return
        asyncio.ensure_future(self._run(queue))

    async def _run(self, queue: list[_Waiting]) -> None:
        assert self._executor is not None
        checks = [check for item, _ in queue for check in item]
        size = min(-(-len(checks) // self.workers), limits.verify_chunk_checks_max)
        chunks = _chunks(checks, size)
        try:
            parts = await asyncio.gather(*(self._admitted_chunk(chunk) for chunk in chunks))
        except Exception as error:  # a broken pool: fail the waiters, never lose them
            for _, future in queue:
                if not future.done():
                    future.set_exception(error)
            return
        verdicts = [verdict for part in parts for verdict in part]
        self.batches += 1
        start = 0
        for item, future in queue:
            if not future.done():
                future.set_result(verdicts[start : start + len(item)])
            start += len(item)

    async def _admitted_chunk(self, chunk: list[SignatureCheck]) -> list[bool]:
        async with self._admission_slots:  # first come, first served; one per worker
            # What a block verified while this chunk waited is not checked again.
            shared = [self._verified_by_block(check) for check in chunk]
            own = [check for check, verdict in zip(chunk, shared, strict=True) if verdict is None]
            verdicts = iter(await self._in_worker(own) if own else [])
        return [next(verdicts) if verdict is None else await verdict for verdict in shared]

    def _verified_by_block(self, check: SignatureCheck) -> Awaitable[bool] | None:
        running = self._urgent.get(check)
        if running is not None:
            return asyncio.shield(running)
        if self._known is not None and check in self._known:
            done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            done.set_result(True)
            return done
        return None

    async def _in_worker(self, chunk: list[SignatureCheck]) -> list[bool]:
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        verdicts = await loop.run_in_executor(self._executor, verify_chunk, chunk)
        self.verified += len(verdicts)
        self.verified_in_workers += len(verdicts)
        return verdicts

    def signature_checks(self) -> int:
        """Every Ed25519 check of this node: its own process's (admission inline, execution's
        cache misses, votes, commits, signed requests) and its workers'."""
        return keys.signature_checks() + self.verified_in_workers

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)


def _chunks(checks: list[SignatureCheck], size: int) -> list[list[SignatureCheck]]:
    return [checks[start : start + size] for start in range(0, len(checks), size)]


def signature_checks(
    chain_id: str, tx_hash: bytes, transaction: Transaction
) -> list[SignatureCheck]:
    """What verifying `transaction` (of hash `tx_hash`) on chain `chain_id` takes."""
    message = signing_message(chain_id, tx_hash)
    return [(entry.public_key, message, entry.signature) for entry in transaction.signatures]


async def verify_fetched(
    pool: VerifierPool,
    known: VerifiedSignatures,
    chain_id: str,
    fetched: Sequence[tuple[bytes, Transaction]],
) -> int:
    """Verify in `pool` the signatures of fetched transactions (hash, transaction) that `known`
    lacks, and remember those that hold, so that executing their block finds them verified
    (one that fails is left for execution to refuse). Returns how many were checked."""
    checks = [
        check
        for tx_hash, transaction in fetched
        for check in signature_checks(chain_id, tx_hash, transaction)
        if check not in known
    ]
    verdicts = await pool.verify(checks, urgent=True)
    for check, valid in zip(checks, verdicts, strict=True):
        if valid:
            known.remember(*check)
    return len(checks)
