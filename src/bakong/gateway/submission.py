"""Money-moving requests as a stored state machine (design section 10): never paid twice.

    received --sign--> signed --core accepts--> submitted --block--> committed | rejected
        (signed and submitted may also end rejected: the core refuses the bytes for good)

Rules:
1. A request is stored under its idempotency key, which is unique per customer, before
   anything leaves the process. A retry with the same key and the same request (by
   `request_hash`, which the route computes over the request's canonical fields) gets the same
   submission: its final answer once it has one, else its progress, driven on where it stands.
   The same key with another request is refused (409 `idempotency_key_reused`).
2. The signed bytes are stored BEFORE they are sent. A new request is signed in memory and
   stored with its bytes in one database transaction (`claim_signed`: straight to `signed`,
   one commit); whoever loses the race for the key (a concurrent retry, another process)
   throws its own signature away and sends the stored bytes, so one request has exactly one
   transaction. `received` is a request stored without bytes (`claim`, then `sign_claimed`
   by a compare-and-set). Only stored bytes ever leave the process.
3. Sending is idempotent: the transaction hash covers the payload, and the core applies a
   hash at most once inside the replay window. So every unfinished submission (`signed` or
   `submitted`) is sent again, the same bytes, until it is finished: after a restart
   (`resume_unfinished`, run by `run_resubmitter`), after a busy core or a lost connection.
4. A submission is finished once, by whichever sees it first: this module when the core's
   status says committed or rejected, or the projection when the transaction's block
   applies (`finish_submission`). `committed` means the ledger applied it (result `ok`);
   `rejected` carries the reason: a result code of a committed but failed transaction
   (`insufficient_funds`, ...) with its height, or the core's refusal code. The first final
   answer is stored (`answer`) and is what every later retry gets.
5. Waiting costs the core nothing while the projection follows the stream: the sender parks
   on a `Waiters` entry for its hash, registered before the bytes are sent, which the
   projection wakes after committing the block that carries the hash, handing it the
   submission as that commit finished it (so the answer needs no read back). Only when no
   block has woken it for `gateway_wait_check_s` does it ask the core for the status (once
   per period), and when no projection follows (tests, a stream down) it polls as the SDK
   does.
6. A `received` row whose process died before signing has sent nothing; a retry of its key
   signs it then. Customer id 0 is the gateway itself (the participant's own commands).
7. A caller whose own rows must exist exactly when the transaction does (a registration's
   customer row) stores its submission already signed in the same database transaction
   (`store_signed`), so the rows and the bytes that will put them on the ledger exist together
   or not at all. Only a `rejected` submission undone with its rows is ever deleted
   (`discard_rejected`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakong import limits
from bakong.client import (
    ApiError,
    Client,
    SubmitResult,
    TransactionRejected,
    WaitTimeout,
    transaction_bytes,
)
from bakong.client.responses import result_name
from bakong.gateway import db
from bakong.gateway.problems import GatewayProblem
from bakong.ledger.transaction import Transaction, transaction_hash

if TYPE_CHECKING:
    from bakong.gateway.service import GatewayServices

__all__ = [
    "Signer",
    "State",
    "Submission",
    "Admissions",
    "Waiters",
    "claim",
    "claim_signed",
    "discard_rejected",
    "find_submission",
    "finish_submission",
    "finish_submissions",
    "load_submission",
    "resume_unfinished",
    "run_resubmitter",
    "send_signed",
    "sign_claimed",
    "store_signed",
    "submit",
    "touch_rejected",
]

log = logging.getLogger(__name__)

#: Builds and signs the request's transaction, given its `created_ms` and nonce (a
#: self-custody request returns the customer's already signed transaction instead).
Signer = Callable[[int, int], Transaction]


class State(enum.StrEnum):
    received = "received"
    signed = "signed"
    submitted = "submitted"
    committed = "committed"
    rejected = "rejected"


UNFINISHED = (State.signed.value, State.submitted.value)


@dataclass(frozen=True)
class Submission:
    id: int
    customer_id: int
    idempotency_key: str
    request_hash: str
    state: State
    tx_hash: bytes | None
    signed_tx: bytes | None
    result: str | None
    height: int | None
    answer: str | None

    @property
    def finished(self) -> bool:
        return self.state in (State.committed, State.rejected)

    def view(self) -> dict[str, object]:
        """What a client is told: the stored final answer, or the progress so far."""
        if self.answer is not None:
            stored: dict[str, object] = msgspec.json.decode(self.answer)
            return stored
        return _answer(self.id, self.state, self.tx_hash, self.result, self.height)


def _answer(
    id_: int, state: State, tx_hash: bytes | None, result: str | None, height: int | None
) -> dict[str, object]:
    return {
        "id": id_,
        "state": state.value,
        "tx_hash": None if tx_hash is None else tx_hash.hex(),
        "result": result,
        "height": height,
    }


_columns = (
    db.submissions.c.id,
    db.submissions.c.customer_id,
    db.submissions.c.idempotency_key,
    db.submissions.c.request_hash,
    db.submissions.c.state,
    db.submissions.c.tx_hash,
    db.submissions.c.signed_tx,
    db.submissions.c.result,
    db.submissions.c.height,
    db.submissions.c.answer,
)


def _from_row(values: sa.RowMapping) -> Submission:
    return Submission(
        id=int(values["id"]),
        customer_id=int(values["customer_id"]),
        idempotency_key=str(values["idempotency_key"]),
        request_hash=str(values["request_hash"]),
        state=State(values["state"]),
        tx_hash=None if values["tx_hash"] is None else bytes(values["tx_hash"]),
        signed_tx=None if values["signed_tx"] is None else bytes(values["signed_tx"]),
        result=values["result"],
        height=values["height"],
        answer=values["answer"],
    )


def load_submission(engine: Engine, submission_id: int) -> Submission:
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(*_columns).where(db.submissions.c.id == submission_id)
        ).one()
    return _from_row(row._mapping)


def _find(connection: Connection, customer_id: int, idempotency_key: str) -> Submission | None:
    row = connection.execute(
        sa.select(*_columns).where(
            db.submissions.c.customer_id == customer_id,
            db.submissions.c.idempotency_key == idempotency_key,
        )
    ).first()
    return None if row is None else _from_row(row._mapping)


def claim(
    engine: Engine, customer_id: int, idempotency_key: str, request_hash: str, now_ms: int
) -> Submission:
    """Rule 1: the submission of this key, stored as `received` if it is new."""
    try:
        with engine.begin() as connection:
            connection.execute(
                db.submissions.insert().values(
                    idempotency_key=idempotency_key, customer_id=customer_id,
                    request_hash=request_hash, state=State.received.value,
                    created_ms=now_ms, updated_ms=now_ms,
                )
            )  # fmt: skip
    except sa.exc.IntegrityError:
        pass  # the key was seen before (or a concurrent retry stored it first)
    with engine.connect() as connection:
        found = _find(connection, customer_id, idempotency_key)
    assert found is not None, "the row was inserted or already there"
    if found.request_hash != request_hash:
        raise GatewayProblem(
            409, "idempotency_key_reused", "this idempotency key was used for another request"
        )
    return found


def store_signed(
    connection: Connection,
    customer_id: int,
    idempotency_key: str,
    request_hash: str,
    transaction: Transaction,
    now_ms: int,
) -> int:
    """Rules 1-2 at once, inside the caller's database transaction: store a new submission
    already `signed`, so that it commits or rolls back with the caller's own rows (a
    registration's customer row); its id. The key must be new (IntegrityError otherwise)."""
    raw, tx_hash = transaction_bytes(transaction), transaction_hash(transaction.payload)
    return _insert_signed(
        connection, customer_id, idempotency_key, request_hash, raw, tx_hash, now_ms
    ).id


#: A new submission, stored `signed` (built once: SQLAlchemy keeps its compiled form).
_INSERT_SIGNED = db.submissions.insert().values(
    idempotency_key=sa.bindparam("b_key"), customer_id=sa.bindparam("b_customer"),
    request_hash=sa.bindparam("b_request_hash"), state=State.signed.value,
    signed_tx=sa.bindparam("b_signed_tx"), tx_hash=sa.bindparam("b_tx_hash"),
    created_ms=sa.bindparam("b_now"), updated_ms=sa.bindparam("b_now"),
)  # fmt: skip


def _insert_signed(
    connection: Connection, customer_id: int, idempotency_key: str, request_hash: str,
    raw: bytes, tx_hash: bytes, now_ms: int,
) -> Submission:  # fmt: skip
    """Insert a new `signed` submission; it, as stored (IntegrityError if the key is not new)."""
    inserted = connection.execute(
        _INSERT_SIGNED,
        {"b_key": idempotency_key, "b_customer": customer_id, "b_request_hash": request_hash,
         "b_signed_tx": raw, "b_tx_hash": tx_hash, "b_now": now_ms},
    )  # fmt: skip
    (submission_id,) = inserted.inserted_primary_key or (None,)
    assert isinstance(submission_id, int)
    return Submission(
        submission_id, customer_id, idempotency_key, request_hash, State.signed, tx_hash, raw,
        result=None, height=None, answer=None,
    )  # fmt: skip


def find_submission(
    connection: Connection, customer_id: int, idempotency_key: str
) -> Submission | None:
    """The submission of this key, if any, read on the caller's connection."""
    return _find(connection, customer_id, idempotency_key)


def discard_rejected(
    connection: Connection, submission_id: int, untouched_since_ms: int | None = None
) -> bool:
    """Delete a `rejected` submission whose request is being undone with it (a registration
    the ledger refused: its key may be used again); False if it was not there (undone
    already) or, with `untouched_since_ms`, if it was touched (`touch_rejected`) after that
    time: the delete is conditional, so whoever touched it first keeps it. Nothing else is
    ever deleted."""
    conditions = [db.submissions.c.id == submission_id]
    if untouched_since_ms is not None:
        conditions.append(db.submissions.c.updated_ms <= untouched_since_ms)
    deleted = connection.execute(
        db.submissions.delete().where(*conditions, db.submissions.c.state == State.rejected.value)
    )
    return deleted.rowcount == 1


def touch_rejected(
    connection: Connection, customer_id: int, idempotency_key: str, now_ms: int
) -> bool:
    """Note that a retry is undoing this key's `rejected` submission itself, so that a
    conditional `discard_rejected` from before now leaves it alone; False if there is no
    such submission any more (another undid it first)."""
    touched = connection.execute(
        db.submissions.update()
        .where(
            db.submissions.c.customer_id == customer_id,
            db.submissions.c.idempotency_key == idempotency_key,
            db.submissions.c.state == State.rejected.value,
        )
        .values(updated_ms=now_ms)
    )
    return touched.rowcount == 1


def sign_claimed(
    engine: Engine, submission: Submission, sign: Signer, now_ms: int, nonce: int
) -> Submission:
    """Rule 2: sign a `received` submission and store the bytes; returns the stored state."""
    if submission.state is not State.received:
        return submission
    transaction = sign(now_ms, nonce)
    raw = transaction_bytes(transaction)
    with engine.begin() as connection:
        connection.execute(
            db.submissions.update()
            .where(
                db.submissions.c.id == submission.id,
                db.submissions.c.state == State.received.value,
            )
            .values(
                state=State.signed.value,
                signed_tx=raw,
                tx_hash=transaction_hash(transaction.payload),
                updated_ms=now_ms,
            )
        )
    return load_submission(engine, submission.id)


def finish_submission(
    connection: Connection, tx_hash: bytes, result: str, height: int | None, now_ms: int
) -> bool:
    """Rule 4: finish the unfinished submission of `tx_hash`, if any; True if this did."""
    return len(finish_submissions(connection, [(tx_hash, result)], height, now_ms)) == 1


_UNFINISHED_OF = (
    sa.select(*_columns)
    .where(
        db.submissions.c.tx_hash.in_(sa.bindparam("b_hashes", expanding=True)),
        db.submissions.c.state.in_(UNFINISHED),
    )
    .with_for_update()  # PostgreSQL: these rows are this transaction's until it ends
)
_FINISH = (
    db.submissions.update()
    .where(
        db.submissions.c.id == sa.bindparam("b_id"),
        # Not `IN`: an expanding parameter cannot be bound once for many rows.
        sa.or_(
            db.submissions.c.state == State.signed.value,
            db.submissions.c.state == State.submitted.value,
        ),
    )
    .values(
        state=sa.bindparam("b_state"), result=sa.bindparam("b_result"),
        height=sa.bindparam("b_height"), answer=sa.bindparam("b_answer"),
        updated_ms=sa.bindparam("b_now"),
    )
)  # fmt: skip


def finish_submissions(
    connection: Connection, results: Sequence[tuple[bytes, str]], height: int | None, now_ms: int
) -> list[Submission]:
    """Rule 4 for a block's (tx hash, result) pairs: one query finds which are unfinished
    submissions of this gateway (most of a block is other banks'), one statement finishes
    them all; the submissions this finished, as they now stand."""
    found: dict[bytes, Submission] = {}
    for start in range(0, len(results), limits.gateway_finish_batch_max):
        hashes = [
            tx_hash for tx_hash, _ in results[start : start + limits.gateway_finish_batch_max]
        ]
        for row in connection.execute(_UNFINISHED_OF, {"b_hashes": hashes}):
            found[bytes(row.tx_hash)] = _from_row(row._mapping)
    finished: list[Submission] = []
    for tx_hash, result in results:
        unfinished = found.get(tx_hash)
        if unfinished is None:
            continue
        state = State.committed if result == "ok" else State.rejected
        answer = msgspec.json.encode(_answer(unfinished.id, state, tx_hash, result, height))
        finished.append(
            dataclasses.replace(
                unfinished, state=state, result=result, height=height, answer=answer.decode()
            )
        )
    if not finished:
        return []
    updated = connection.execute(
        _FINISH,
        [
            {"b_id": done.id, "b_state": done.state.value, "b_result": done.result,
             "b_height": height, "b_answer": done.answer, "b_now": now_ms}
            for done in finished
        ],
    ).rowcount  # fmt: skip
    if updated == len(finished):
        return finished
    # Another finisher came first (the rows are locked only inside a block's transaction,
    # which took the write lock before this read). One row: it was not this call's. Several
    # (never from a block): whichever hold this answer, which is the same from any finisher.
    if len(finished) == 1:
        return []
    return [done for done in finished if _stored_answer(connection, done.id) == done.answer]


def _stored_answer(connection: Connection, submission_id: int) -> str | None:
    answer: str | None = connection.execute(
        sa.select(db.submissions.c.answer).where(db.submissions.c.id == submission_id)
    ).scalar_one()
    return answer


def _touch(engine: Engine, submission_id: int, now_ms: int) -> None:
    """Note an attempt, so the resubmitter waits a round before trying this one again."""
    with engine.begin() as connection:
        connection.execute(
            db.submissions.update()
            .where(db.submissions.c.id == submission_id)
            .values(updated_ms=now_ms)
        )


def _finish(engine: Engine, tx_hash: bytes, result: str, height: int | None, now_ms: int) -> None:
    with engine.begin() as connection:
        finish_submission(connection, tx_hash, result, height, now_ms)


class Waiters:
    """Rule 5: senders parked on a transaction hash until the projection applies its block.

    Used from the event loop only. `following` is True while the projection's stream is open;
    without it nothing would wake a sender, which then polls the core instead."""

    def __init__(self) -> None:
        self._events: dict[bytes, asyncio.Event] = {}
        self._counts: dict[bytes, int] = {}
        self._finished: dict[bytes, Submission] = {}
        self.following = False

    def register(self, tx_hash: bytes) -> asyncio.Event:
        """The event set when `tx_hash`'s block is applied; `release` it once done waiting."""
        self._counts[tx_hash] = self._counts.get(tx_hash, 0) + 1
        return self._events.setdefault(tx_hash, asyncio.Event())

    def release(self, tx_hash: bytes) -> None:
        left = self._counts.pop(tx_hash, 1) - 1
        if left > 0:
            self._counts[tx_hash] = left
        else:
            self._events.pop(tx_hash, None)
            self._finished.pop(tx_hash, None)

    def wake(self, tx_hashes: Iterable[bytes], finished: Iterable[Submission] = ()) -> None:
        """The projection committed a block carrying `tx_hashes`, which finished `finished`:
        wake their senders, each with its submission as the commit left it (so the sender
        answers without reading it back)."""
        for done in finished:
            if done.tx_hash is not None and done.tx_hash in self._events:
                self._finished[done.tx_hash] = done
        for tx_hash in tx_hashes:
            event = self._events.get(tx_hash)
            if event is not None:
                event.set()

    def finished(self, tx_hash: bytes) -> Submission | None:
        """The submission of `tx_hash` as the block that woke its senders finished it; None
        if that block did not (another finisher came first: the store knows)."""
        return self._finished.get(tx_hash)

    def __len__(self) -> int:
        return len(self._events)


class Admissions:
    """Rule 3's sends, batched: every submission queued while a batch is on its way to the core
    goes in the next one, so a busy gateway makes one signed request for many payments (the
    validator checks one request signature, parses one body) and a quiet one sends each at
    once. At most `gateway_submit_batch_max` per request; the core answers each transaction
    on its own, in order. Used from one event loop at a time (a loop that ended leaves its
    drain behind, and the next loop starts its own)."""

    def __init__(self) -> None:
        self._queue: list[tuple[bytes, asyncio.Future[SubmitResult]]] = []
        self._drain: asyncio.Task[None] | None = None

    async def submit(self, core: Client, raw: bytes) -> SubmitResult:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[SubmitResult] = loop.create_future()
        self._queue.append((raw, answer))
        drain = self._drain
        if drain is None or drain.done() or drain.get_loop() is not loop:
            self._drain = loop.create_task(self._send_queued(core))
        return await answer

    async def _send_queued(self, core: Client) -> None:
        while self._queue:
            batch = self._queue[: limits.gateway_submit_batch_max]
            del self._queue[: len(batch)]
            try:
                results = await core.submit([raw for raw, _ in batch])
            except BaseException as error:  # each sender handles (or is cancelled with) it
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(error)
                if not isinstance(error, Exception):
                    raise
                continue
            for (_, answer), result in zip(batch, results, strict=True):
                if not answer.done():
                    answer.set_result(result)


def _settle(engine: Engine, submission_id: int, sent: bool, now_ms: int) -> Submission:
    """Where the submission stands after a send, noting `submitted` if the core has the
    bytes and nothing has finished it yet (a write, and a commit, only then)."""
    found = load_submission(engine, submission_id)
    if not sent or found.state is not State.signed:
        return found
    table = db.submissions
    with engine.begin() as connection:
        connection.execute(
            table.update()
            .where(table.c.id == submission_id, table.c.state == State.signed.value)
            .values(state=State.submitted.value, updated_ms=now_ms)
        )
    return load_submission(engine, submission_id)


async def _admit(services: GatewayServices, submission: Submission) -> bool:
    """Send the stored bytes; True once the core has them (or has committed them)."""
    assert submission.signed_tx is not None and submission.tx_hash is not None
    try:
        admission = await services.admissions.submit(services.core, submission.signed_tx)
    except (ApiError, httpx.TransportError) as error:
        log.warning("submit failed; it will be sent again", extra={"submission": submission.id,
                    "error": type(error).__name__})  # fmt: skip
        await services.db(_touch, services.engine, submission.id, services.clock_ms())
        return False
    if admission.status == "rejected":
        code = admission.code or "rejected"
        await services.db(
            _finish, services.engine, submission.tx_hash, code, None, services.clock_ms()
        )
        return False
    if admission.status not in ("accepted", "committed"):  # busy: the resubmitter comes back
        await services.db(_touch, services.engine, submission.id, services.clock_ms())
        return False
    return True


async def _status_now(services: GatewayServices, tx_hash: bytes) -> tuple[str, int] | None:
    """The core's word on `tx_hash` when it is final: (result, height) of its commit, or
    `TransactionRejected`; None while it is on its way."""
    status = await services.core.transaction(tx_hash)
    if status.state == "rejected":
        reason = status.reason or "rejected"
        raise TransactionRejected(tx_hash, reason, f"the node rejected it: {reason}")
    if status.state != "committed" or status.height is None or status.code is None:
        return None
    return status.result or result_name(status.code), status.height


async def _parked(
    services: GatewayServices, event: asyncio.Event, tx_hash: bytes, wait_s: float
) -> tuple[str, int] | None:
    """Rule 5: None once the projection applied `tx_hash`'s block (it finished the
    submission), the commit if the core says so first; `WaitTimeout` after `wait_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        remaining = deadline - loop.time()
        if not services.waiters.following:
            committed = await services.core.wait_for(tx_hash, timeout_s=max(remaining, 0.0))
            return committed.result, committed.height
        try:
            async with asyncio.timeout(min(remaining, limits.gateway_wait_check_s)):
                await event.wait()
            return None
        except TimeoutError:
            pass
        final = await _status_now(services, tx_hash)
        if final is not None:
            return final
        if deadline - loop.time() <= 0:
            raise WaitTimeout(tx_hash, "pending", wait_s)


async def _await_end(
    services: GatewayServices, submission: Submission, wait_s: float
) -> tuple[bool, Submission | None]:
    """Send and wait for the submission's end; record what the core said, if it said it
    first. Whether the core took the bytes, and the submission as the projection finished
    it when a block woke this sender."""
    assert submission.tx_hash is not None
    event = services.waiters.register(submission.tx_hash)
    admitted = False
    woken: Submission | None = None
    try:
        admitted = await _admit(services, submission)
        final = None
        if admitted and wait_s > 0:
            final = await _parked(services, event, submission.tx_hash, wait_s)
            if final is None:
                woken = services.waiters.finished(submission.tx_hash)
        elif admitted:  # a resubmission round: no wait, one look
            final = await _status_now(services, submission.tx_hash)
        if final is not None:
            result, height = final
            await services.db(
                _finish, services.engine, submission.tx_hash, result, height, services.clock_ms()
            )
    except TransactionRejected as error:
        await services.db(
            _finish, services.engine, submission.tx_hash, error.code, None, services.clock_ms()
        )
    except (WaitTimeout, ApiError, httpx.TransportError):
        pass  # still on its way: the projection or the resubmitter will finish it
    finally:
        services.waiters.release(submission.tx_hash)
    return admitted, woken


async def send_signed(
    services: GatewayServices, submission: Submission, wait_s: float = limits.gateway_submit_wait_s
) -> Submission:
    """Rule 3: send a signed or submitted submission and wait up to `wait_s` for its end."""
    if submission.finished or submission.state is State.received:
        return submission
    sent, woken = await _await_end(services, submission, wait_s)
    if woken is not None:  # finished and committed by the block that woke us: as stored
        return woken
    return await services.db(_settle, services.engine, submission.id, sent, services.clock_ms())


def claim_signed(
    engine: Engine, customer_id: int, idempotency_key: str, request_hash: str, sign: Signer,
    now_ms: int, nonce: int, *, known_new: bool = False,
) -> Submission:  # fmt: skip
    """Rules 1-2 in one transaction: the submission of this key, stored already signed if
    it is new (a stored `received` one is signed by `sign_claimed`). `known_new`: the caller
    read no submission under the key just before, so none is looked for (a concurrent retry
    that stored it since makes the insert fail, and its stored one is used)."""
    found: Submission | None = None
    stored: Submission | None = None
    try:
        with engine.begin() as connection:
            found = None if known_new else _find(connection, customer_id, idempotency_key)
            if found is None:
                transaction = sign(now_ms, nonce)
                stored = _insert_signed(
                    connection, customer_id, idempotency_key, request_hash,
                    transaction_bytes(transaction), transaction_hash(transaction.payload), now_ms,
                )  # fmt: skip
    except sa.exc.IntegrityError:  # a concurrent retry stored the key first: its bytes win
        return claim(engine, customer_id, idempotency_key, request_hash, now_ms)
    if stored is not None:
        return stored
    assert found is not None
    if found.request_hash != request_hash:
        raise GatewayProblem(
            409, "idempotency_key_reused", "this idempotency key was used for another request"
        )
    return sign_claimed(engine, found, sign, now_ms, nonce)


async def submit(
    services: GatewayServices,
    customer_id: int,
    idempotency_key: str,
    request_hash: str,
    sign: Signer,
    wait_s: float = limits.gateway_submit_wait_s,
    *,
    known_new: bool = False,
) -> Submission:
    """The whole machine for one request (rules 1-5); returns where the submission stands.
    `known_new`: as `claim_signed`'s."""
    submission = await services.db(
        claim_signed, services.engine, customer_id, idempotency_key, request_hash, sign,
        services.clock_ms(), services.nonces(), known_new=known_new,
    )  # fmt: skip
    if submission.finished:
        return submission
    services.metrics.count("submissions_sent")
    return await send_signed(services, submission, wait_s)


def _due(engine: Engine, before_ms: int) -> list[Submission]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(*_columns)
            .where(
                db.submissions.c.state.in_(UNFINISHED),
                db.submissions.c.updated_ms <= before_ms,
            )
            .order_by(db.submissions.c.id)
            .limit(limits.gateway_resume_batch_max)
        ).all()
    return [_from_row(row._mapping) for row in rows]


async def resume_unfinished(services: GatewayServices, wait_s: float = 0.0) -> int:
    """Send again every unfinished submission not attempted within `gateway_resubmit_s`
    (all of them right after a restart); the number sent."""
    before_ms = services.clock_ms() - int(limits.gateway_resubmit_s * 1000)
    due = await services.db(_due, services.engine, before_ms)
    for submission in due:
        await send_signed(services, submission, wait_s)
    return len(due)


async def run_resubmitter(services: GatewayServices) -> None:
    """Rule 3 for ever: resume everything unfinished at start, then every few seconds."""
    while True:
        try:
            sent = await resume_unfinished(services)
            if sent:
                log.info("unfinished submissions sent again", extra={"count": sent})
        except Exception:  # the database or the core is down: try again next round
            log.exception("resubmitting failed")
        await asyncio.sleep(limits.gateway_resubmit_s)
