"""The conventional central ledger: the PostgreSQL baseline of `bakong bench network`.

What a central bank would build without a blockchain: one Python service in front of one
PostgreSQL database. It takes exactly the request a validator takes (`POST /v1/transactions`,
`bakong.node.api`), verifies each signature once, and applies each transfer in PostgreSQL in
one database transaction with a synchronous, fsynced commit. Its throughput is `postgres_tps`.

Public interface (all the benchmark needs):

    PostgresServer(parent=None)                  # bakong.bench.postgres: a throwaway server
    seed_ledger(dsn, accounts: Iterable[SeedAccount]) -> int
    start_central_ledger(dsn, *, chain_id, workdir, workers=None, pool_size=32)
        -> CentralLedgerHandle(url, pid, log_path; stop())
    ledger_totals(dsn) -> dict[str, int]         # money per asset, for conservation checks

Seed before starting the service: it loads the signatories into memory when it starts.

The request: the same body as a validator's (JSON `{"transactions": [hex, ...]}` or msgpack
with bin), the same limits (`limits.api_body_bytes_max`, `limits.api_batch_txs_max`), the
same answer shape: `{"results": [{"tx_hash", "status", "code", "message"}, ...]}`, one per
transaction in order, with status `committed` (code `ok`) or `rejected` (code: a decode error
or a `ResultCode` name), HTTP 202 when at least one committed, 400 with the error envelope
when none did. The difference: the answer comes after the transfers are committed, not on
admission. The request signature headers (`X-Bakong-*`) are ignored: the baseline
authenticates transactions, not callers, so it is not charged for the node's per-request
signature check.

Per transaction, in the ledger's order: canonical decode (`decode_transaction`), then the
ledger's own functions for every rung that reads no state: `ladder.check_window` (chain id,
the created_ms window against the service clock), `ladder.check_signers` (after each signature
is verified by libsodium in a `VerifierPool` of one worker process per core, like the node) and
`money.transfer_terms` (a positive amount, distinct accounts). Between them, the creator is a
known account and the one command is a `Transfer` (anything else: `unsupported_command`) whose
source is the creator (the permission matrix allows only the account itself to sign a
transfer). The rungs that read the ledger's state are where a central database keeps that
state, in SQL, which is what this baseline measures: one PostgreSQL transaction (the
`bakong_transfer` function, one round trip) inserts the transfer (the tx hash is the primary
key: `duplicate_transaction`), debits with the balance check in the WHERE clause
(`insufficient_funds`, rolled back) and credits (`target_account_not_found`).
`tests/bench/test_central_ledger.py` runs the same transactions through this service and the
ledger and requires the same codes, so the two statements of those rungs cannot drift.

What the baseline leaves out, in its favour: daily limits, KYC balance caps, account status,
holds, and remembering authentic rejected transactions. Duplicates are found by the primary
key at insert time, after the signature check.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
import psycopg
import uvicorn
import uvloop
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bakong import limits
from bakong.errors import DecodeError, LocalError
from bakong.ledger.assets import ASSETS
from bakong.ledger.commands import Transfer
from bakong.ledger.identifiers import is_account_id
from bakong.ledger.ladder import check_signers, check_window
from bakong.ledger.money import transfer_terms
from bakong.ledger.result import ResultCode
from bakong.ledger.transaction import (
    Transaction,
    decode_transaction,
    signing_message,
    transaction_hash,
)
from bakong.node.api import decode_submit, read_body, tree_response, wants_msgpack
from bakong.node.verifier import SignatureCheck, VerifierPool
from bakong.node.views import ApiProblem, Tree, error_tree

__all__ = [
    "CentralLedgerHandle",
    "SeedAccount",
    "ledger_totals",
    "main",
    "seed_ledger",
    "start_central_ledger",
]

log = logging.getLogger(__name__)

_ASSET_CODES = frozenset(asset.value for asset in ASSETS)
_MSGPACK_TYPES = frozenset({"application/msgpack", "application/x-msgpack"})

_SCHEMA = """
DROP TABLE IF EXISTS transfers, balances, signatories, accounts CASCADE;
CREATE TABLE accounts (
    account_id text PRIMARY KEY,
    participant text NOT NULL,
    quorum integer NOT NULL CHECK (quorum >= 1)
);
CREATE TABLE signatories (
    account_id text NOT NULL REFERENCES accounts,
    public_key bytea NOT NULL CHECK (length(public_key) = 32),
    PRIMARY KEY (account_id, public_key)
);
CREATE TABLE balances (
    account_id text NOT NULL REFERENCES accounts,
    asset text NOT NULL,
    amount bigint NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (account_id, asset)
);
-- No foreign keys here: the service checked both accounts, and a key check per insert
-- would charge the baseline for work the ledger does in memory.
CREATE TABLE transfers (
    tx_hash bytea PRIMARY KEY,
    source text NOT NULL,
    target text NOT NULL,
    asset text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    created_ms bigint NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- One transfer, one transaction, one round trip. The two balance rows are locked in
-- account order, so two opposite transfers can never deadlock. A failed check raises, which
-- rolls back everything the call wrote (the insert, and a credit made before the debit).
CREATE OR REPLACE FUNCTION bakong_transfer(
    p_tx_hash bytea, p_source text, p_target text, p_asset text, p_amount bigint,
    p_created_ms bigint
) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO transfers (tx_hash, source, target, asset, amount, created_ms)
        VALUES (p_tx_hash, p_source, p_target, p_asset, p_amount, p_created_ms)
        ON CONFLICT (tx_hash) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'duplicate_transaction';
    END IF;
    IF p_target < p_source THEN
        UPDATE balances SET amount = amount + p_amount
            WHERE account_id = p_target AND asset = p_asset;
        IF NOT FOUND THEN RAISE EXCEPTION 'target_account_not_found'; END IF;
    END IF;
    UPDATE balances SET amount = amount - p_amount
        WHERE account_id = p_source AND asset = p_asset AND amount >= p_amount;
    IF NOT FOUND THEN RAISE EXCEPTION 'insufficient_funds'; END IF;
    IF p_target > p_source THEN
        UPDATE balances SET amount = amount + p_amount
            WHERE account_id = p_target AND asset = p_asset;
        IF NOT FOUND THEN RAISE EXCEPTION 'target_account_not_found'; END IF;
    END IF;
    RETURN 'ok';
END $$;
"""
_APPLY = "SELECT bakong_transfer(%s, %s, %s, %s, %s, %s)"
_RAISED_CODES = frozenset({"insufficient_funds", "target_account_not_found"})


# -- seeding ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedAccount:
    """One account as the benchmark created it on chain.

    `balances` maps an asset code ("KHR", "USD") to minor units; an asset left out is 0.
    """

    account_id: str
    signatories: tuple[bytes, ...]
    balances: Mapping[str, int] = field(default_factory=dict)
    quorum: int = 1

    def check(self) -> None:
        """Raise `LocalError` when the record could never be an account of the ledger."""
        if not is_account_id(self.account_id):
            raise LocalError(f"{self.account_id!r} is not an account ID")
        if not self.signatories or len(self.signatories) > limits.signatories_max:
            raise LocalError(f"{self.account_id}: 1 to {limits.signatories_max} signatories")
        if any(len(key) != 32 for key in self.signatories):
            raise LocalError(f"{self.account_id}: a public key is 32 bytes")
        if not 1 <= self.quorum <= len(set(self.signatories)):
            raise LocalError(f"{self.account_id}: quorum must be 1..signatories")
        for asset, amount in self.balances.items():
            if asset not in _ASSET_CODES:
                raise LocalError(f"{self.account_id}: unknown asset {asset!r}")
            if type(amount) is not int or not 0 <= amount <= limits.amount_max:
                raise LocalError(f"{self.account_id}: a balance is an int in minor units")


def seed_ledger(dsn: str, accounts: Iterable[SeedAccount]) -> int:
    """(Re)create the schema and bulk-load `accounts` with COPY; the number loaded.

    Every account gets a balance row for every asset (0 when not given), so a debit that
    finds no row can only mean insufficient funds.
    """
    # A connection runs one COPY at a time, so the tables are loaded one after the other.
    records = list(accounts)
    for account in records:
        account.check()
    with psycopg.connect(dsn, autocommit=False) as connection:
        connection.execute(_SCHEMA)
        with connection.cursor() as cursor:
            with cursor.copy("COPY accounts (account_id, participant, quorum) FROM STDIN") as copy:
                for account in records:
                    participant = account.account_id.rsplit("@", 1)[1]
                    copy.write_row((account.account_id, participant, account.quorum))
            with cursor.copy("COPY signatories (account_id, public_key) FROM STDIN") as copy:
                for account in records:
                    for key in sorted(set(account.signatories)):
                        copy.write_row((account.account_id, key))
            with cursor.copy("COPY balances (account_id, asset, amount) FROM STDIN") as copy:
                for account in records:
                    for asset in ASSETS:
                        amount = account.balances.get(asset.value, 0)
                        copy.write_row((account.account_id, asset.value, amount))
        connection.commit()
        # Fresh statistics, so the planner uses the primary keys from the first transfer.
        connection.autocommit = True
        connection.execute("ANALYZE")
    return len(records)


def ledger_totals(dsn: str) -> dict[str, int]:
    """Money per asset code over all balances (conservation: this never changes)."""
    with psycopg.connect(dsn) as connection:
        rows = connection.execute(
            "SELECT asset, sum(amount)::text FROM balances GROUP BY asset"
        ).fetchall()
    return {str(asset): int(total) for asset, total in rows}


# -- the service ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Signer:
    keys: frozenset[bytes]
    quorum: int


@dataclass(frozen=True, slots=True)
class _Verdict:
    tx_hash: bytes | None
    code: str
    message: str

    def tree(self) -> Tree:
        status = "committed" if self.code == "ok" else "rejected"
        return {"tx_hash": self.tx_hash, "status": status, "code": self.code,
                "message": self.message}  # fmt: skip


def _reject(tx_hash: bytes | None, code: ResultCode | str, message: str = "") -> _Verdict:
    name = code.name if isinstance(code, ResultCode) else code
    return _Verdict(tx_hash, name, message or name.replace("_", " "))


_Job = tuple[tuple[bytes, str, str, str, int, int], "asyncio.Future[_Verdict]"]


class _Ledger:
    """The checks, the verifier pool and the database workers of one service process."""

    def __init__(
        self,
        chain_id: str,
        signers: dict[str, _Signer],
        pool: AsyncConnectionPool,
        verifier: VerifierPool,
    ) -> None:
        self.chain_id = chain_id
        self.signers = signers
        self.pool = pool
        self.verifier = verifier
        self.jobs: asyncio.Queue[_Job] = asyncio.Queue()
        self.committed = 0
        self.rejected = 0
        self._workers: list[asyncio.Task[None]] = []

    def start_workers(self, count: int) -> None:
        """One task per pooled connection: transfers run concurrently, one per connection."""
        self._workers = [asyncio.ensure_future(self._work()) for _ in range(count)]

    async def stop_workers(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)

    def _envelope(
        self, raw: bytes, now_ms: int
    ) -> tuple[_Verdict | None, Transaction | None, bytes | None]:
        """Decode and ladder rungs 1-7 (rung 4, duplicates, is the primary key's job)."""
        try:
            transaction = decode_transaction(raw)
        except DecodeError as error:
            return _reject(None, error.code, error.message), None, None
        payload = transaction.payload
        tx_hash = bytes(transaction_hash(payload))
        code = check_window(payload, self.chain_id, now_ms)
        if code is not ResultCode.ok:
            return _reject(tx_hash, code), None, None
        if not is_account_id(payload.creator):
            # A participant may sign no transfer: the matrix allows only the account itself.
            return _reject(tx_hash, ResultCode.permission_denied), None, None
        if payload.creator not in self.signers:
            return _reject(tx_hash, ResultCode.creator_not_found), None, None
        return None, transaction, tx_hash

    def _authorise(
        self, transaction: Transaction, tx_hash: bytes, verdicts: Sequence[bool]
    ) -> _Verdict | None:
        """Rungs 8-11, then the transfer's own rungs before the database."""
        if not all(verdicts):
            return _reject(tx_hash, ResultCode.signature_invalid)
        payload = transaction.payload
        signer = self.signers[payload.creator]
        keys = [entry.public_key for entry in transaction.signatures]
        code = check_signers(keys, signer.keys, signer.quorum)
        if code is not ResultCode.ok:
            return _reject(tx_hash, code)
        if len(payload.commands) != 1 or not isinstance(payload.commands[0], Transfer):
            return _reject(tx_hash, "unsupported_command", "the baseline applies one transfer")
        command = payload.commands[0]
        if command.source != payload.creator:
            return _reject(tx_hash, ResultCode.permission_denied)
        code = transfer_terms(command)
        if code is not ResultCode.ok:
            return _reject(tx_hash, code)
        if command.target not in self.signers:
            return _reject(tx_hash, ResultCode.target_account_not_found)
        return None

    async def submit(self, raws: list[bytes]) -> list[_Verdict]:
        """One verdict per raw transaction, in order, each final (committed or rejected)."""
        now_ms = time.time_ns() // 1_000_000
        verdicts: list[_Verdict | None] = [None] * len(raws)
        pending: list[tuple[int, Transaction, bytes, int]] = []  # index, tx, hash, first check
        checks: list[SignatureCheck] = []
        for index, raw in enumerate(raws):
            verdict, transaction, tx_hash = self._envelope(raw, now_ms)
            if verdict is not None:
                verdicts[index] = verdict
                continue
            assert transaction is not None and tx_hash is not None
            message = signing_message(self.chain_id, tx_hash)
            pending.append((index, transaction, tx_hash, len(checks)))
            checks.extend((e.public_key, message, e.signature) for e in transaction.signatures)
        results = await self.verifier.verify(checks)  # each signature verified exactly once
        loop = asyncio.get_running_loop()
        waiting: list[tuple[int, asyncio.Future[_Verdict]]] = []
        for index, transaction, tx_hash, first in pending:
            count = len(transaction.signatures)
            verdict = self._authorise(transaction, tx_hash, results[first : first + count])
            if verdict is not None:
                verdicts[index] = verdict
                continue
            command = transaction.payload.commands[0]
            assert isinstance(command, Transfer)
            future: asyncio.Future[_Verdict] = loop.create_future()
            params = (tx_hash, command.source, command.target, command.asset.value,
                      command.amount, transaction.payload.created_ms)  # fmt: skip
            self.jobs.put_nowait((params, future))
            waiting.append((index, future))
        for index, future in waiting:
            verdicts[index] = await future
        final = [verdict for verdict in verdicts if verdict is not None]
        assert len(final) == len(raws), "one verdict per transaction"
        self.committed += sum(1 for verdict in final if verdict.code == "ok")
        self.rejected += sum(1 for verdict in final if verdict.code != "ok")
        return final

    async def _work(self) -> None:
        """Take transfers off the queue; hold one pooled connection while there are more."""
        while True:
            job = await self.jobs.get()
            try:
                async with self.pool.connection() as connection:
                    while True:
                        await self._apply(connection, job)
                        try:
                            job = self.jobs.get_nowait()
                        except asyncio.QueueEmpty:
                            break
            except Exception as error:  # a broken connection: answer the job, take another
                log.warning("database connection failed: %s", error)
                if not job[1].done():
                    job[1].set_result(_reject(job[0][0], "database_error", str(error)))

    async def _apply(self, connection: psycopg.AsyncConnection[TupleRow], job: _Job) -> None:
        params, future = job
        tx_hash = params[0]
        for attempt in range(limits.central_ledger_retries_max + 1):
            try:
                cursor = await connection.execute(_APPLY, params)
                row = await cursor.fetchone()
                assert row is not None
                code = str(row[0])
                verdict = (
                    _Verdict(tx_hash, "ok", "committed") if code == "ok" else _reject(tx_hash, code)
                )
                break
            except psycopg.errors.RaiseException as error:
                primary = error.diag.message_primary or ""
                code = primary if primary in _RAISED_CODES else "database_error"
                verdict = _reject(tx_hash, code)
                break
            except psycopg.errors.NumericValueOutOfRange:
                verdict = _reject(tx_hash, ResultCode.balance_overflow)
                break
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                verdict = _reject(tx_hash, "database_busy", f"retried {attempt} times")
        if not future.done():
            future.set_result(verdict)


async def _load_signers(pool: AsyncConnectionPool) -> dict[str, _Signer]:
    """Every account's signatories and quorum. They change rarely; a real service caches them."""
    signers: dict[str, _Signer] = {}
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT a.account_id, a.quorum, array_agg(s.public_key) FROM accounts a "
            "JOIN signatories s USING (account_id) GROUP BY a.account_id, a.quorum"
        )
        for account_id, quorum, keys in await cursor.fetchall():
            signers[str(account_id)] = _Signer(frozenset(bytes(key) for key in keys), int(quorum))
    return signers


# -- HTTP -------------------------------------------------------------------------------------


def _body_is_msgpack(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(",")[0].split(";")[0].strip().lower()
    if media in _MSGPACK_TYPES:
        return True
    if media in ("", "application/json"):
        return False
    raise ApiProblem(415, "unsupported_media_type", "send application/json or application/msgpack")


def create_app(ledger: _Ledger) -> Starlette:
    """`POST /v1/transactions` as a validator answers it, `GET /healthz`, `GET /v1/status`."""

    def problem_response(request: Request, problem: ApiProblem) -> Response:
        tree = error_tree(problem.code, problem.message, problem.extra)
        return tree_response(tree, problem.status, wants_msgpack(request.headers))

    async def submit(request: Request) -> Response:
        try:
            body = await read_body(request)  # bounded, as the node reads it
            raws = decode_submit(body, _body_is_msgpack(request))
            verdicts = await ledger.submit(raws)
            results: list[Tree] = [verdict.tree() for verdict in verdicts]
            if not any(verdict.code == "ok" for verdict in verdicts):
                first = verdicts[0]
                raise ApiProblem(400, first.code, first.message, {"results": results})
        except ApiProblem as problem:
            return problem_response(request, problem)
        return tree_response({"results": results}, 202, wants_msgpack(request.headers))

    async def healthz(request: Request) -> Response:
        return tree_response({"ok": True}, 200, wants_msgpack(request.headers))

    async def status(request: Request) -> Response:
        tree: Tree = {
            "chain_id": ledger.chain_id,
            "accounts": len(ledger.signers),
            "committed": ledger.committed,
            "rejected": ledger.rejected,
            "verified": ledger.verifier.verified,
        }
        return tree_response(tree, 200, wants_msgpack(request.headers))

    async def not_routed(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return problem_response(request, ApiProblem(error.status_code, code, str(error.detail)))

    async def internal_error(request: Request, error: Exception) -> Response:
        log.exception("request failed", exc_info=error)
        return problem_response(request, ApiProblem(500, "internal_error", "see the log"))

    return Starlette(
        routes=[
            Route("/v1/transactions", submit, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/v1/status", status, methods=["GET"]),
        ],
        exception_handlers={HTTPException: not_routed, Exception: internal_error},
    )


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the service owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _serve(options: argparse.Namespace) -> int:
    listener = socket.socket(fileno=options.listen_fd)
    verifier = VerifierPool(options.workers)
    pool = AsyncConnectionPool(
        options.dsn,
        min_size=options.pool_size,
        max_size=options.pool_size,
        kwargs={"autocommit": True},
        open=False,
    )
    await pool.open(wait=True, timeout=limits.central_ledger_start_timeout_s)
    try:
        await verifier.warm_up()
        ledger = _Ledger(options.chain_id, await _load_signers(pool), pool, verifier)
        ledger.start_workers(options.pool_size)
        config = uvicorn.Config(
            create_app(ledger), log_level="warning", lifespan="off", access_log=False
        )
        server = _Server(config)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, lambda: setattr(server, "should_exit", True))
        log.info("serving %d accounts", len(ledger.signers))
        await server.serve(sockets=[listener])
        await ledger.stop_workers()
    finally:
        await pool.close()
        verifier.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bakong.bench.central_ledger`: the service process (see `start_central_ledger`)."""
    parser = argparse.ArgumentParser(prog="python -m bakong.bench.central_ledger")
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--chain-id", required=True)
    parser.add_argument("--listen-fd", type=int, required=True, help="a listening TCP socket")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--pool-size", type=int, default=limits.central_ledger_pool_size_default)
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return uvloop.run(_serve(options))


# -- the handle -------------------------------------------------------------------------------


@dataclass
class CentralLedgerHandle:
    """A running service process: `url` is its base (`http://127.0.0.1:PORT`)."""

    url: str
    pid: int
    log_path: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> int:
        """SIGTERM, then SIGKILL if it has not exited in time; the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(limits.central_ledger_stop_timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> CentralLedgerHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_central_ledger(
    dsn: str,
    *,
    chain_id: str,
    workdir: Path,
    workers: int | None = None,
    pool_size: int = limits.central_ledger_pool_size_default,
) -> CentralLedgerHandle:
    """Start the service in its own process on a free port of 127.0.0.1; wait until it answers.

    `dsn` is a seeded database (`seed_ledger`); `chain_id` is the chain the transfers were
    signed for; the log goes to `workdir/central-ledger.log`. `workers` verifier processes
    (default: one per core); `pool_size` database connections. Raises `LocalError` if the
    service does not come up.
    """
    assert 1 <= pool_size <= 1_000
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "central-ledger.log"
    # The parent binds the port and hands the socket over: no race for a "free" port.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    port = listener.getsockname()[1]
    command = [
        sys.executable, "-m", "bakong.bench.central_ledger",
        "--dsn", dsn, "--chain-id", chain_id, "--listen-fd", str(listener.fileno()),
        "--workers", str(workers if workers is not None else os.cpu_count() or 1),
        "--pool-size", str(pool_size),
    ]  # fmt: skip
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, pass_fds=(listener.fileno(),)
        )
    listener.close()
    handle = CentralLedgerHandle(f"http://127.0.0.1:{port}", process.pid, log_path, process)
    try:
        _wait_ready(handle)
    except BaseException:
        handle.stop()
        raise
    return handle


def _wait_ready(handle: CentralLedgerHandle) -> None:
    deadline = time.monotonic() + limits.central_ledger_start_timeout_s
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if handle.process.poll() is not None:
                tail = handle.log_path.read_text(errors="replace")[-4_000:]
                raise LocalError(
                    f"the central ledger exited ({handle.process.returncode}):\n{tail}"
                )
            try:
                if client.get(handle.url + "/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    raise LocalError(
        f"the central ledger did not answer within {limits.central_ledger_start_timeout_s} s"
    )


if __name__ == "__main__":
    sys.exit(main())
