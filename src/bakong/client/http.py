"""The node's HTTP API from Python: signed requests, submit, wait for commit, queries.

I/O edge of the SDK (httpx). Rules:
- Every request except `/v1/status`, `/healthz` and `/metrics` is signed with the client's key
  (`bakong.wire.request.sign_request`). The request is built first and then signed, so the
  signed target is exactly the path and query httpx sends and the signed body is exactly its
  bytes.
- The chain id that signatures cover is given to the constructor or read once from
  `/v1/status`; a status reporting another chain is refused (`LocalError`), so a client set up
  for a test chain can never talk to production by accident.
- Signatures also name the node they are for (its `node_key`), so a captured request cannot
  be replayed to another node. The key is given to the constructor (pinned: a status
  reporting another key is a `LocalError`) or learned from `/v1/status` with the chain id.
  A learned key is learned again, and the request re-signed and sent once more, when the
  node answers 401 `wrong_node` (a key rotation, or a load balancer that moved us).
- Request times come from an injectable clock and are made strictly increasing per client: two
  identical requests in one millisecond would otherwise carry the same signature, and the
  node refuses a repeated signature as a replay.
- Error envelopes become `ApiError` (`Busy` for any 503, `NotFound` for 404). The submit
  endpoint is different: its 400 and 503 answers carry one result per transaction, and those
  are returned, not raised, because a batch can be partly accepted.
- `submit_and_wait` resubmits while the node is busy, unreachable, or has forgotten the
  transaction (all safe: a payload has one hash and applies at most once), and polls with
  exponential backoff until the transaction commits, is rejected, or the deadline passes.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx
import msgspec

from bakong import limits
from bakong.client.builders import TransactionBuilder, transaction_bytes
from bakong.client.errors import ApiError, Busy, NotFound, TransactionRejected, WaitTimeout
from bakong.client.follower import Connect, Follower, TrustState
from bakong.client.responses import (
    AccountInfo,
    AliasInfo,
    AliasLookupPage,
    BlockInfo,
    Committed,
    ParticipantInfo,
    Status,
    SubmitResult,
    TransactionStatus,
    parse_account,
    parse_alias,
    parse_alias_lookups,
    parse_block,
    parse_participant,
    parse_participants,
    parse_status,
    parse_submit,
    parse_transaction_status,
    result_name,
)
from bakong.errors import LocalError
from bakong.ledger.identifiers import is_account_id, is_participant_code
from bakong.ledger.transaction import Transaction, transaction_hash
from bakong.wire.keys import SigningKey, public_key_size
from bakong.wire.request import sign_request

__all__ = [
    "JSON",
    "MSGPACK",
    "Client",
    "SyncClient",
    "random_nonce",
    "system_clock_ms",
]

JSON = "application/json"
MSGPACK = "application/msgpack"


T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


def system_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def random_nonce() -> int:
    """A nonce in 0..2^63-1 from the operating system's randomness."""
    return secrets.randbits(63)


def _decode_body(response: httpx.Response) -> object:
    content_type = response.headers.get("content-type", "")
    try:
        if content_type.startswith(MSGPACK):
            return msgspec.msgpack.decode(response.content)
        return msgspec.json.decode(response.content) if response.content else None
    except msgspec.DecodeError:
        return None


def _error(status: int, body: object, text: str) -> ApiError:
    envelope = body.get("error") if isinstance(body, dict) else None
    code, message = f"http_{status}", text[:limits.client_error_text_chars_max]
    if isinstance(envelope, dict):
        if isinstance(envelope.get("code"), str) and isinstance(envelope.get("message"), str):
            code, message = envelope["code"], envelope["message"]
    if status in (429, 503):  # rate_limited, busy, replay_window_*: all "retry later"
        return Busy(status, code, message)
    if status == 404:
        return NotFound(status, code, message)
    return ApiError(status, code, message)


class Client:
    """An async client of one node. Use as `async with Client(url, key) as client:`."""

    def __init__(
        self,
        base_url: str,
        key: SigningKey,
        *,
        chain_id: str | None = None,
        node_key: bytes | None = None,
        clock_ms: Callable[[], int] = system_clock_ms,
        nonces: Callable[[], int] = random_nonce,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = limits.client_request_timeout_s_default,
        msgpack: bool = False,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self._chain_id = chain_id
        self._node_key = node_key
        self._node_key_pinned = node_key is not None
        self._clock_ms = clock_ms
        self._nonces = nonces
        self._msgpack = msgpack
        self._sleep = sleep
        self._last_time_ms = 0
        self._http = httpx.AsyncClient(
            base_url=self.base_url, transport=transport, timeout=timeout_s
        )

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- plumbing -----------------------------------------------------------------------------

    def _request_time_ms(self) -> int:
        self._last_time_ms = max(self._clock_ms(), self._last_time_ms + 1)
        return self._last_time_ms

    async def _send(
        self, method: str, path: str, *, body: bytes = b"", signed: bool = True
    ) -> httpx.Response:
        response = await self._send_once(method, path, body, signed)
        if signed and response.status_code == 401 and not self._node_key_pinned:
            envelope = _error(401, _decode_body(response), response.text)
            if envelope.code == "wrong_node":  # the node behind the URL changed: ask again
                self._node_key = None
                response = await self._send_once(method, path, body, signed)
        return response

    async def _send_once(self, method: str, path: str, body: bytes, signed: bool) -> httpx.Response:
        encoding = MSGPACK if self._msgpack else JSON
        headers = {"accept": encoding}
        if body:
            headers["content-type"] = encoding
        request = self._http.build_request(method, path, content=body or None, headers=headers)
        if signed:
            chain_id, node_key = await self.resolve_chain_id(), await self.resolve_node_key()
            target = request.url.raw_path.decode("ascii")
            time_ms = self._request_time_ms()
            request.headers.update(
                sign_request(chain_id, node_key, self.key, method, target, body, time_ms)
            )
        return await self._http.send(request)

    async def _call(
        self, method: str, path: str, parse: Callable[[object, int], T], *, signed: bool = True
    ) -> T:
        response = await self._send(method, path, signed=signed)
        body = _decode_body(response)
        if response.status_code >= 400:
            raise _error(response.status_code, body, response.text)
        return parse(body, response.status_code)

    # -- queries ------------------------------------------------------------------------------

    async def status(self) -> Status:
        """The node's status (unsigned). Learns the chain id and the node's key, or checks them
        against the given ones."""
        status = await self._call("GET", "/v1/status", parse_status, signed=False)
        if self._chain_id is None:
            self._chain_id = status.chain_id
        elif status.chain_id != self._chain_id:
            raise LocalError(f"the node runs chain {status.chain_id!r}, not {self._chain_id!r}")
        if len(status.node_key) != public_key_size:
            raise ApiError(200, "bad_response", "node_key is not a public key")
        if not self._node_key_pinned:
            self._node_key = status.node_key
        elif status.node_key != self._node_key:
            raise LocalError(f"the node's key is {status.node_key.hex()}, not the one given")
        return status

    async def resolve_chain_id(self) -> str:
        if self._chain_id is None:
            await self.status()
        assert self._chain_id is not None
        return self._chain_id

    async def resolve_node_key(self) -> bytes:
        """The key of the node this client talks to, which its signed requests name."""
        if self._node_key is None:
            await self.status()
        assert self._node_key is not None
        return self._node_key

    async def healthy(self) -> bool:
        """True when `/healthz` answers 200."""
        response = await self._send("GET", "/healthz", signed=False)
        return response.status_code == 200

    async def metrics(self) -> str:
        """The Prometheus text exposition of `/metrics`."""
        response = await self._send("GET", "/metrics", signed=False)
        if response.status_code >= 400:
            raise _error(response.status_code, _decode_body(response), response.text)
        return response.text

    async def account(self, account_id: str) -> AccountInfo:
        """An account as of the last committed block; a participant may read only its own."""
        if not is_account_id(account_id):  # it becomes part of the URL path
            raise LocalError(f"{account_id!r} is not an account ID (name@participant)")
        return await self._call("GET", f"/v1/accounts/{account_id}", parse_account)

    async def participant(self, code: str) -> ParticipantInfo:
        """A participant's public record (gateway keys, published gateway URL); any active
        participant may read any other's. `NotFound` when there is no such participant."""
        if not is_participant_code(code):  # it becomes part of the URL path
            raise LocalError(f"{code!r} is not a participant code")
        return await self._call("GET", f"/v1/participants/{code}", parse_participant)

    async def participants(self) -> tuple[ParticipantInfo, ...]:
        """Every participant's public record, by code."""
        return await self._call("GET", "/v1/participants", parse_participants)

    async def alias(self, alias: bytes) -> AliasInfo:
        """Resolve a phone alias (`builders.alias_hash`); `NotFound` when none is registered."""
        return await self._call("GET", f"/v1/aliases/{alias.hex()}", parse_alias)

    async def alias_lookups(self, after: int = 0, limit: int | None = None) -> AliasLookupPage:
        """The central bank's audit of the alias lookups this node answered, numbered above
        `after`, oldest first; `limit` defaults to the node's page size."""
        query = f"after={int(after)}" + ("" if limit is None else f"&limit={int(limit)}")
        return await self._call("GET", f"/v1/audit/alias-lookups?{query}", parse_alias_lookups)

    async def block(self, height: int) -> BlockInfo:
        """A committed block as the node stores it (unverified; the follower verifies)."""
        return await self._call("GET", f"/v1/blocks/{int(height)}", parse_block)

    async def transaction(self, tx_hash: bytes) -> TransactionStatus:
        """Where a transaction is. An unknown hash answers state `unknown` (the 404 body)."""
        response = await self._send("GET", f"/v1/transactions/{tx_hash.hex()}")
        body = _decode_body(response)
        is_status = isinstance(body, dict) and "state" in body
        if response.status_code >= 400 and not (response.status_code == 404 and is_status):
            raise _error(response.status_code, body, response.text)
        return parse_transaction_status(body, response.status_code)

    # -- transactions -------------------------------------------------------------------------

    async def builder(self, creator: str) -> TransactionBuilder:
        """An empty transaction by `creator`, stamped with this client's clock and a new nonce."""
        return TransactionBuilder(
            chain_id=await self.resolve_chain_id(),
            creator=creator,
            created_ms=self._clock_ms(),
            nonce=self._nonces(),
        )

    def _submit_body(self, transactions: Sequence[Transaction | bytes]) -> bytes:
        raw = [tx if isinstance(tx, bytes) else transaction_bytes(tx) for tx in transactions]
        if self._msgpack:
            return msgspec.msgpack.encode({"transactions": raw})
        return msgspec.json.encode({"transactions": [tx.hex() for tx in raw]})

    async def submit(self, transactions: Sequence[Transaction | bytes]) -> list[SubmitResult]:
        """Submit a batch; one result per transaction, in order (also on HTTP 400 and 503)."""
        if not transactions:
            raise LocalError("submit at least one transaction")
        response = await self._send(
            "POST", "/v1/transactions", body=self._submit_body(transactions)
        )
        body = _decode_body(response)
        status = response.status_code
        if status >= 400 and not (isinstance(body, dict) and "results" in body):
            raise _error(status, body, response.text)
        results = parse_submit(body, status)
        if len(results) != len(transactions):
            raise ApiError(status, "bad_response", "one result per submitted transaction")
        return results

    async def submit_and_wait(
        self, transaction: Transaction, timeout_s: float = limits.client_wait_timeout_s_default
    ) -> Committed:
        """Submit `transaction` and wait until it is in a committed block.

        Returns the commit (check `.ok` or `.code`: a committed transaction may have failed a
        business rule). Raises `TransactionRejected` if it can never commit as sent, `Busy` if
        the node stayed busy for the whole wait, `WaitTimeout` if it was still pending.
        """
        tx_hash = transaction_hash(transaction.payload)
        deadline = asyncio.get_running_loop().time() + timeout_s
        await self._admit(transaction, tx_hash, deadline)
        return await self._wait(transaction, tx_hash, deadline, timeout_s)

    async def wait_for(
        self, tx_hash: bytes, timeout_s: float = limits.client_wait_timeout_s_default
    ) -> Committed:
        """Wait for an already submitted transaction to commit (see `submit_and_wait`)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        return await self._wait(None, tx_hash, deadline, timeout_s)

    async def _pause(self, delay_s: float, deadline: float) -> bool:
        """Sleep up to `delay_s` before `deadline`; False when no time is left."""
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return False
        await self._sleep(min(delay_s, remaining))
        return True

    async def _admit(self, transaction: Transaction, tx_hash: bytes, deadline: float) -> None:
        delay = limits.client_poll_delay_s_min
        while True:
            try:
                result = (await self.submit([transaction]))[0]
            except Busy as error:
                result = SubmitResult(tx_hash, "busy", error.code, error.message)
            except httpx.TransportError:
                if not await self._pause(delay, deadline):
                    raise
                delay = min(
                    delay * limits.client_poll_backoff_factor, limits.client_poll_delay_s_max
                )
                continue
            if result.tx_hash is not None and result.tx_hash != tx_hash:
                raise ApiError(200, "bad_response", "the node reports another transaction hash")
            if result.status in ("accepted", "committed"):
                return
            if result.status == "rejected":
                raise TransactionRejected(tx_hash, result.code, result.message)
            if result.status != "busy":
                raise ApiError(200, "bad_response", f"unknown admission status {result.status!r}")
            if not await self._pause(delay, deadline):
                raise Busy(503, "busy", result.message or "the node stayed busy")
            delay = min(delay * limits.client_poll_backoff_factor, limits.client_poll_delay_s_max)

    async def _wait(
        self, transaction: Transaction | None, tx_hash: bytes, deadline: float, timeout_s: float
    ) -> Committed:
        delay = limits.client_poll_delay_s_min
        state = "unknown"
        while True:
            try:
                status = await self.transaction(tx_hash)
                state = status.state
            except httpx.TransportError:
                status = None
            if status is not None and status.state == "committed":
                return _committed(status)
            if status is not None and status.state == "rejected":
                reason = status.reason or "rejected"
                raise TransactionRejected(tx_hash, reason, f"the node rejected it: {reason}")
            if status is not None and status.state == "unknown" and transaction is not None:
                # The node forgot it (a restart, an eviction): sending it again is harmless.
                await self._admit(transaction, tx_hash, deadline)
            if not await self._pause(delay, deadline):
                raise WaitTimeout(tx_hash, state, timeout_s)
            delay = min(delay * limits.client_poll_backoff_factor, limits.client_poll_delay_s_max)

    # -- the commit stream --------------------------------------------------------------------

    def follow(
        self,
        trust: TrustState,
        *,
        reconnects_max: int | None = None,
        connect: Connect | None = None,
        complete: bool = False,
    ) -> Follower:
        """A verifying follower of this node's commit stream, starting after `trust.height`.

        `complete=True` for a stream that must carry every transaction (the central bank's).
        """
        if self._chain_id is not None and trust.chain_id != self._chain_id:
            raise LocalError(f"trust is for chain {trust.chain_id!r}, not {self._chain_id!r}")
        return Follower(
            self.base_url,
            self.key,
            trust,
            node_key=self.resolve_node_key,
            clock_ms=self._request_time_ms,
            reconnects_max=reconnects_max,
            connect=connect,
            sleep=self._sleep,
            complete=complete,
        )


def _committed(status: TransactionStatus) -> Committed:
    if status.height is None or status.code is None:
        raise ApiError(200, "bad_response", "a committed transaction has a height and a code")
    return Committed(
        tx_hash=status.tx_hash,
        height=status.height,
        index=status.index,
        code=status.code,
        result=status.result or result_name(status.code),
        command_index=status.command_index,
    )


class SyncClient:
    """A blocking wrapper: `with SyncClient(Client(url, key)) as client: client.status()`.

    It runs the async client on a private event loop, so it must not be used from inside a
    running event loop (use `Client` there).
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self._runner = asyncio.Runner()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._runner.run(self.client.aclose())
        self._runner.close()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coroutine)

    def status(self) -> Status:
        return self._run(self.client.status())

    def builder(self, creator: str) -> TransactionBuilder:
        return self._run(self.client.builder(creator))

    def submit(self, transactions: Sequence[Transaction | bytes]) -> list[SubmitResult]:
        return self._run(self.client.submit(transactions))

    def submit_and_wait(
        self, transaction: Transaction, timeout_s: float = limits.client_wait_timeout_s_default
    ) -> Committed:
        return self._run(self.client.submit_and_wait(transaction, timeout_s))

    def wait_for(
        self, tx_hash: bytes, timeout_s: float = limits.client_wait_timeout_s_default
    ) -> Committed:
        return self._run(self.client.wait_for(tx_hash, timeout_s))

    def transaction(self, tx_hash: bytes) -> TransactionStatus:
        return self._run(self.client.transaction(tx_hash))

    def account(self, account_id: str) -> AccountInfo:
        return self._run(self.client.account(account_id))

    def alias(self, alias: bytes) -> AliasInfo:
        return self._run(self.client.alias(alias))

    def participant(self, code: str) -> ParticipantInfo:
        return self._run(self.client.participant(code))

    def participants(self) -> tuple[ParticipantInfo, ...]:
        return self._run(self.client.participants())

    def alias_lookups(self, after: int = 0, limit: int | None = None) -> AliasLookupPage:
        return self._run(self.client.alias_lookups(after, limit))

    def block(self, height: int) -> BlockInfo:
        return self._run(self.client.block(height))
