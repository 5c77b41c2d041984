"""The core node's HTTP API (design section 6), served by Starlette over a `NodeService`.

Routes (reference: docs/api.md; machine-readable: `GET /openapi.json`):

    POST /v1/transactions            submit one or a batch of canonical transactions
    GET  /v1/transactions/{tx_hash}  pending / committed (height, index, result) / rejected
    GET  /v1/accounts/{account_id}   an account with its balances (own accounts only)
    GET  /v1/blocks/{height}         a block: complete for the central bank, filtered otherwise
    GET  /v1/aliases/{alias}         the account a phone-alias HMAC resolves to (rate-limited)
    GET  /v1/audit/alias-lookups     the central bank's audit trail of alias lookups
    GET  /v1/participants            every participant: code, name, status, gateway keys, URL
    GET  /v1/participants/{code}     one of them (gateways find each other here)
    WS   /v1/stream?from_height=H    committed blocks, filtered and proven (`bakong.node.stream`)
    GET  /v1/snapshots               the state snapshots a joining node may restore from
    GET  /v1/snapshots/{height}      one snapshot's manifest with the blocks that prove it
    GET  /v1/snapshots/{height}/chunks/{index}   one chunk of it (application/octet-stream)
    GET  /v1/status, /healthz, /metrics, /openapi.json   unsigned

Rules:
1. Every route but the four unsigned ones is a request signed for this node's key
   (`bakong.node.auth`), which `/v1/status` shows as `node_key`; the signed target is the
   request's path and query exactly as sent (`request_target`).
2. A body is read only up to `limits.api_body_bytes_max` (413 `body_too_large`), before the
   signature is checked, since the signature covers the body's hash.
3. Bodies are JSON unless `Content-Type: application/msgpack`; answers are JSON unless the
   `Accept` header names `application/msgpack`. JSON writes byte strings as lower-case hex
   (upper case is accepted on input); msgpack writes them as bin.
4. Every 4xx/5xx carries the error envelope (`bakong.node.views`), including the router's own
   404 and 405. Counters per route template, method and status feed `/metrics`.
5. The app reads only committed state through the service; it keeps no state of its own
   beyond caches, the replay window of request signatures (given to it: the node persists
   it, `bakong.node.seen_requests`), who submitted which transaction, the alias lookup
   buckets and its counters. Alias lookups are recorded through the service
   (`bakong.node.alias_lookups`).
6. A participant learns a transaction's status only if it may see the transaction or it
   submitted it here (`bakong.node.visibility` rule 4); otherwise the answer is the 404 of
   an unknown hash, byte for byte, so the API does not even tell that the hash exists.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping

import anyio
import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Scope
from starlette.websockets import WebSocket

from bakong import limits
from bakong.ledger.identifiers import is_account_id, is_participant_code
from bakong.ledger.records import (
    Account,
    Alias,
    ChainConfig,
    Head,
    Participant,
    ParticipantEndpoint,
    ParticipantIndex,
)
from bakong.ledger.state import (
    CHAIN_KEY,
    HEAD_KEY,
    PARTICIPANTS_KEY,
    account_key,
    alias_key,
    decode_value,
    endpoint_key,
    participant_key,
)
from bakong.node.alias_lookups import LookupLimiter
from bakong.node.auth import Caller, CallerDirectory, authenticate
from bakong.node.openapi import openapi_document
from bakong.node.service import (
    Admission,
    AdmissionStatus,
    AliasLookup,
    NodeService,
    TxState,
    TxStatus,
)
from bakong.node.snapshot import SnapshotOffer, decode_manifest, manifest_root
from bakong.node.stream import BlockReader, StreamClosed, stream_blocks
from bakong.node.views import (
    ApiCounters,
    ApiProblem,
    Tree,
    account_view,
    admission_view,
    alias_lookup_view,
    encode_tree,
    error_tree,
    participant_view,
    prometheus_text,
    status_view,
    tx_status_view,
)
from bakong.node.visibility import Submitters
from bakong.wire.codec import encode
from bakong.wire.request import ReplayWindow, SeenRequests

__all__ = [
    "create_app",
    "request_target",
]

JSON_TYPE = "application/json"
MSGPACK_TYPES = frozenset({"application/msgpack", "application/x-msgpack"})
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_hash_pattern = re.compile(r"[0-9a-fA-F]{64}")
_hex_pattern = re.compile(r"(?:[0-9a-fA-F]{2})*")
_height_pattern = re.compile(r"[0-9]{1,19}")
_index_pattern = re.compile(r"[0-9]{1,6}")


class _SubmitJson(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    transactions: list[str]


class _SubmitMsgpack(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    transactions: list[bytes]


_submit_json = msgspec.json.Decoder(_SubmitJson)
_submit_msgpack = msgspec.msgpack.Decoder(_SubmitMsgpack)


def request_target(scope: Scope) -> str:
    """The path and query exactly as the client sent them: what the signature covers."""
    raw = scope.get("raw_path") or scope["path"].encode()
    path = bytes(raw).split(b"?", 1)[0].decode("latin-1")
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    return f"{path}?{query}" if query else path


def _media_types(header: str) -> list[str]:
    return [part.split(";", 1)[0].strip().lower() for part in header.split(",")]


def wants_msgpack(headers: Mapping[str, str]) -> bool:
    return any(media in MSGPACK_TYPES for media in _media_types(headers.get("accept", "")))


def _body_is_msgpack(request: Request) -> bool:
    media = _media_types(request.headers.get("content-type", ""))[0]
    if media in MSGPACK_TYPES:
        return True
    if media in ("", JSON_TYPE):
        return False
    raise ApiProblem(415, "unsupported_media_type", f"send {JSON_TYPE} or application/msgpack")


def _too_large() -> ApiProblem:
    return ApiProblem(
        413, "body_too_large", f"a body holds at most {limits.api_body_bytes_max} bytes"
    )


async def read_body(request: Request) -> bytes:
    """The whole body, refused as soon as it passes `limits.api_body_bytes_max` (rule 2)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.api_body_bytes_max:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limits.api_body_bytes_max:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def tree_response(tree: Tree, status: int, msgpack: bool) -> Response:
    media = "application/msgpack" if msgpack else JSON_TYPE
    return Response(encode_tree(tree, msgpack=msgpack), status_code=status, media_type=media)


def _parse_hash(text: str, what: str) -> bytes:
    if _hash_pattern.fullmatch(text) is None:
        raise ApiProblem(400, f"malformed_{what}", f"the {what} is 64 hex digits")
    return bytes.fromhex(text)


def _parse_height(text: str) -> int:
    if _height_pattern.fullmatch(text) is None or not 1 <= int(text) <= limits.height_max:
        raise ApiProblem(400, "malformed_height", "a height is a decimal integer from 1")
    return int(text)


def _parse_count(text: str, name: str, count_min: int, count_max: int) -> int:
    if _height_pattern.fullmatch(text) is None or not count_min <= int(text) <= count_max:
        message = f"{name} is a decimal integer from {count_min} to {count_max}"
        raise ApiProblem(400, f"malformed_{name}", message)
    return int(text)


def _parse_index(text: str) -> int:
    if _index_pattern.fullmatch(text) is None:
        raise ApiProblem(400, "malformed_index", "a chunk index is a decimal integer from 0")
    return int(text)


def decode_submit(body: bytes, msgpack: bool) -> list[bytes]:
    """The raw transactions of a `POST /v1/transactions` body."""
    try:
        if msgpack:
            raws = list(_submit_msgpack.decode(body).transactions)
        else:
            texts = _submit_json.decode(body).transactions
            if any(_hex_pattern.fullmatch(text) is None for text in texts):
                raise ApiProblem(400, "malformed_body", "each transaction is hex")
            raws = [bytes.fromhex(text) for text in texts]
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise ApiProblem(
            400, "malformed_body", f"expected {{transactions: [...]}}: {error}"
        ) from None
    if not raws:
        raise ApiProblem(400, "empty_batch", "send at least one transaction")
    if len(raws) > limits.api_batch_txs_max:
        raise ApiProblem(413, "batch_too_large", f"at most {limits.api_batch_txs_max} per batch")
    return raws


def submit_status(admissions: list[Admission]) -> tuple[int, tuple[str, str] | None]:
    """The HTTP status of a batch, and the error (code, message) when none went in."""
    statuses = {admission.status for admission in admissions}
    if statuses & {AdmissionStatus.ACCEPTED, AdmissionStatus.COMMITTED}:
        return 202, None
    if statuses == {AdmissionStatus.BUSY}:
        return 503, ("busy", "the mempool is full: try again later")
    if statuses == {AdmissionStatus.REJECTED}:
        return 400, (admissions[0].code, admissions[0].message)
    return 202, None


Handler = Callable[[Request], Awaitable[Response]]


class _Api:
    """The handlers, with the state the app keeps: caches, replay window, counters."""

    def __init__(
        self,
        service: NodeService,
        clock_ms: Callable[[], int],
        node_key: bytes,
        seen: ReplayWindow,
    ) -> None:
        self.service = service
        self.clock_ms = clock_ms
        self.node_key = node_key
        self.seen = seen
        self.directory = CallerDirectory(service.read_state)
        self.reader = BlockReader(service)
        self.counters = ApiCounters()
        self.submitters = Submitters()
        self.lookup_limiter = LookupLimiter()
        self.openapi = encode_tree(openapi_document(limits.api_batch_txs_max), msgpack=False)

    def endpoint(self, template: str, handler: Handler) -> Handler:
        """`handler` answering `ApiProblem` with the error envelope, counted (rule 4)."""

        async def answer(request: Request) -> Response:
            try:
                response = await handler(request)
            except ApiProblem as problem:
                self._count_problem(problem)
                tree = error_tree(problem.code, problem.message, problem.extra)
                response = tree_response(tree, problem.status, wants_msgpack(request.headers))
                if problem.status in (429, 503):
                    response.headers["retry-after"] = "1"
            self.counters.requests[(template, request.method, response.status_code)] += 1
            return response

        return answer

    def _count_problem(self, problem: ApiProblem) -> None:
        if problem.status in (401, 403):
            self.counters.auth_failures[problem.code] += 1

    def authenticate(
        self, scope: Scope, method: str, body: bytes, headers: Mapping[str, str]
    ) -> Caller:
        return authenticate(
            chain_id=self.service.chain_id,
            node_key=self.node_key,
            method=method,
            target=request_target(scope),
            body=body,
            headers=headers,
            now_ms=self.clock_ms(),
            seen=self.seen,
            directory=self.directory,
        )

    async def signed(self, request: Request) -> tuple[Caller, bytes]:
        body = await read_body(request)
        return self.authenticate(request.scope, request.method, body, request.headers), body

    async def snapshot_caller(self, request: Request) -> None:
        """The central bank or a validator (`bakong.node.auth` rule 4)."""
        body = await read_body(request)
        caller = authenticate(
            chain_id=self.service.chain_id,
            node_key=self.node_key,
            method=request.method,
            target=request_target(request.scope),
            body=body,
            headers=request.headers,
            now_ms=self.clock_ms(),
            seen=self.seen,
            directory=self.directory,
            validators=True,
        )
        if not caller.may_fetch_snapshots:
            raise ApiProblem(403, "forbidden", "validators and the central bank fetch snapshots")

    def committed_height(self) -> int:
        raw = self.service.read_state(HEAD_KEY)
        if raw is None:
            return 0
        head = decode_value(HEAD_KEY, raw)
        assert isinstance(head, Head)
        return head.height

    async def submit(self, request: Request) -> Response:
        caller, body = await self.signed(request)
        raws = decode_submit(body, _body_is_msgpack(request))
        admissions = await self.service.submit(raws)
        assert len(admissions) == len(raws), "one verdict per transaction"
        for admission in admissions:
            if admission.tx_hash is not None:
                self.submitters.remember(admission.tx_hash, caller.participant)
        results = [admission_view(admission) for admission in admissions]
        status, error = submit_status(admissions)
        if error is not None:
            raise ApiProblem(status, error[0], error[1], {"results": results})
        return tree_response({"results": results}, status, wants_msgpack(request.headers))

    async def transaction(self, request: Request) -> Response:
        caller, _ = await self.signed(request)
        tx_hash = _parse_hash(request.path_params["tx_hash"], "tx_hash")
        status = self.service.transaction_status(tx_hash)
        if status.state is TxState.UNKNOWN or not self._may_know(caller, status):
            unknown = tx_status_view(TxStatus(tx_hash, TxState.UNKNOWN))
            raise ApiProblem(404, "transaction_not_found", "no such transaction", unknown)
        return tree_response(tx_status_view(status), 200, wants_msgpack(request.headers))

    def _may_know(self, caller: Caller, status: TxStatus) -> bool:
        """Rule 6: the central bank, a submitter here, or a participant that may see it."""
        if caller.is_central_bank or self.submitters.submitted(status.tx_hash, caller.participant):
            return True
        if status.state is not TxState.COMMITTED:
            return False
        assert status.height is not None and status.index is not None
        return self.reader.may_see(caller, status.height, status.index)

    async def account(self, request: Request) -> Response:
        caller, _ = await self.signed(request)
        account_id = request.path_params["account_id"]
        if not is_account_id(account_id):
            raise ApiProblem(400, "malformed_account_id", "an account ID is name@participant")
        if not caller.may_read_account(account_id):
            raise ApiProblem(403, "forbidden", "a participant reads only its own accounts")
        height = self.committed_height()
        raw = self.service.read_state(account_key(account_id))
        if raw is None:
            raise ApiProblem(404, "account_not_found", f"no account {account_id}")
        account = decode_value(account_key(account_id), raw)
        assert isinstance(account, Account)
        return tree_response(account_view(account, height), 200, wants_msgpack(request.headers))

    async def block(self, request: Request) -> Response:
        caller, _ = await self.signed(request)
        height = _parse_height(request.path_params["height"])
        if caller.is_central_bank:
            tree = self.reader.full_block(height)
        else:
            tree = self.reader.message(caller, height)
        if tree is None:
            raise ApiProblem(404, "block_not_found", f"no committed block at height {height}")
        return tree_response(tree, 200, wants_msgpack(request.headers))

    def _offer(self, height: int) -> SnapshotOffer | None:
        """A snapshot this node holds whose root is already in a committed header."""
        manifest = self.service.snapshot_manifest(height)
        raw = self.service.read_state(CHAIN_KEY)
        if manifest is None or raw is None:
            return None
        config = decode_value(CHAIN_KEY, raw)
        assert isinstance(config, ChainConfig)
        base = self.service.stored_block(height)
        carrier = self.service.stored_block(height + config.snapshot_lag)
        if base is None or carrier is None:
            return None
        return SnapshotOffer(manifest, base, carrier)

    async def snapshots(self, request: Request) -> Response:
        await self.snapshot_caller(request)
        listing: list[Tree] = []
        for height in self.service.snapshot_heights():
            offer = self._offer(height)
            if offer is not None:
                manifest = decode_manifest(offer.manifest)
                listing.append(
                    {
                        "height": height,
                        "root": manifest_root(manifest),
                        "entries": manifest.entries,
                        "chunks": len(manifest.chunk_hashes),
                        "carrier_height": offer.carrier.height,
                    }
                )
        return tree_response({"snapshots": listing}, 200, wants_msgpack(request.headers))

    async def snapshot(self, request: Request) -> Response:
        await self.snapshot_caller(request)
        height = _parse_height(request.path_params["height"])
        offer = self._offer(height)
        if offer is None:
            raise ApiProblem(404, "snapshot_not_found", f"no snapshot at height {height}")
        tree = {"offer": encode(offer)}
        return tree_response(tree, 200, wants_msgpack(request.headers))

    async def snapshot_chunk(self, request: Request) -> Response:
        await self.snapshot_caller(request)
        height = _parse_height(request.path_params["height"])
        index = _parse_index(request.path_params["index"])
        chunk = self.service.snapshot_chunk(height, index)
        if chunk is None:
            raise ApiProblem(404, "chunk_not_found", f"no chunk {index} of snapshot {height}")
        return Response(chunk, media_type="application/octet-stream")

    async def alias(self, request: Request) -> Response:
        caller, _ = await self.signed(request)
        alias = _parse_hash(request.path_params["alias"], "alias")
        now_ms = self.clock_ms()
        if self.lookup_limiter.take(caller.participant, now_ms):
            self.counters.alias_lookups[(caller.participant, "rate_limited")] += 1
            raise ApiProblem(429, "rate_limited", "too many alias lookups: try again shortly")
        raw = self.service.read_state(alias_key(alias))
        record = None if raw is None else decode_value(alias_key(alias), raw)
        assert record is None or isinstance(record, Alias)
        account_id = "" if record is None else record.account_id
        lookup = AliasLookup(now_ms, caller.participant, caller.public_key, alias, account_id)
        self.service.record_alias_lookup(lookup)  # before the answer: none goes unaudited
        outcome = "not_found" if record is None else "found"
        self.counters.alias_lookups[(caller.participant, outcome)] += 1
        if record is None:
            raise ApiProblem(404, "alias_not_found", "no account has this alias")
        tree = {"alias": alias, "account_id": account_id}
        return tree_response(tree, 200, wants_msgpack(request.headers))

    async def alias_lookups(self, request: Request) -> Response:
        caller, _ = await self.signed(request)
        if not caller.is_central_bank:
            raise ApiProblem(403, "forbidden", "only the central bank reads the lookup audit")
        page_max = limits.alias_lookups_page_max
        query = request.query_params
        after = _parse_count(query.get("after", "0"), "after", 0, limits.height_max)
        count = _parse_count(query.get("limit", str(page_max)), "limit", 1, page_max)
        entries = self.service.alias_lookups(after, count)
        tree = {
            "lookups": [alias_lookup_view(sequence, lookup) for sequence, lookup in entries],
            "next_after": entries[-1][0] if len(entries) == count else None,
        }
        return tree_response(tree, 200, wants_msgpack(request.headers))

    def _participant_tree(self, code: str) -> Tree | None:
        raw = self.service.read_state(participant_key(code))
        if raw is None:
            return None
        participant = decode_value(participant_key(code), raw)
        assert isinstance(participant, Participant)
        raw_endpoint = self.service.read_state(endpoint_key(code))
        endpoint = None if raw_endpoint is None else decode_value(endpoint_key(code), raw_endpoint)
        assert endpoint is None or isinstance(endpoint, ParticipantEndpoint)
        return participant_view(participant, endpoint)

    async def participant(self, request: Request) -> Response:
        """Any active participant may read any other's public record (gateway discovery)."""
        await self.signed(request)
        code = request.path_params["code"]
        if not is_participant_code(code):
            raise ApiProblem(400, "malformed_participant_code", "a code is 3-8 letters a-z")
        tree = self._participant_tree(code)
        if tree is None:
            raise ApiProblem(404, "participant_not_found", f"no participant {code}")
        return tree_response(tree, 200, wants_msgpack(request.headers))

    async def participants(self, request: Request) -> Response:
        await self.signed(request)
        raw = self.service.read_state(PARTICIPANTS_KEY)
        index = None if raw is None else decode_value(PARTICIPANTS_KEY, raw)
        assert index is None or isinstance(index, ParticipantIndex)
        codes = () if index is None else index.codes
        found = [self._participant_tree(code) for code in codes]
        tree = {"participants": [entry for entry in found if entry is not None]}
        return tree_response(tree, 200, wants_msgpack(request.headers))

    async def status(self, request: Request) -> Response:
        tree = {**status_view(self.service.status()), "node_key": self.node_key}
        return tree_response(tree, 200, wants_msgpack(request.headers))

    async def healthz(self, request: Request) -> Response:
        return tree_response({"ok": True}, 200, wants_msgpack(request.headers))

    async def metrics(self, request: Request) -> Response:
        text = prometheus_text(self.service.metrics(), self.counters)
        return Response(text, media_type=METRICS_TYPE)

    async def openapi_json(self, request: Request) -> Response:
        return Response(self.openapi, media_type=JSON_TYPE)

    async def not_routed(self, request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        tree = error_tree(code, str(error.detail))
        response = tree_response(tree, error.status_code, wants_msgpack(request.headers))
        response.headers.update(error.headers or {})
        self.counters.requests[("unrouted", request.method, error.status_code)] += 1
        return response

    async def internal_error(self, request: Request, error: Exception) -> Response:
        tree = error_tree("internal_error", "the node failed to answer; see its log")
        return tree_response(tree, 500, wants_msgpack(request.headers))

    # The commit stream.

    def stream_params(self, websocket: WebSocket) -> tuple[int, bool]:
        """(from_height, msgpack) from the query; ApiProblem 400 when they are bad."""
        query = websocket.query_params
        text = query.get("from_height")
        if text is None:
            from_height = self.committed_height() + 1
        elif _height_pattern.fullmatch(text) and 1 <= int(text) <= limits.height_max:
            from_height = int(text)
        else:
            raise ApiProblem(400, "bad_from_height", "from_height is a decimal integer from 1")
        form = query.get("format", "json")
        if form not in ("json", "msgpack"):
            raise ApiProblem(400, "bad_format", "format is json or msgpack")
        return from_height, form == "msgpack"

    async def stream(self, websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            caller = self.authenticate(websocket.scope, "GET", b"", websocket.headers)
            from_height, msgpack = self.stream_params(websocket)
        except ApiProblem as problem:
            self._count_problem(problem)
            self.counters.stream_closes[problem.code] += 1
            await websocket.close(code=4000 + problem.status, reason=problem.code)
            return
        self.counters.streams_open += 1
        try:
            await self._serve_stream(websocket, caller, from_height, msgpack)
        finally:
            self.counters.streams_open -= 1

    async def _serve_stream(
        self, websocket: WebSocket, caller: Caller, from_height: int, msgpack: bool
    ) -> None:
        """Feed the socket until the feed ends or the client leaves, whichever comes first."""

        async def send(tree: Tree) -> None:
            data = encode_tree(tree, msgpack=msgpack)
            if msgpack:
                await websocket.send_bytes(data)
            else:
                await websocket.send_text(data.decode())
            self.counters.stream_messages += 1

        ended: list[StreamClosed | None] = []  # None: the client left
        failures: list[Exception] = []
        # anyio, not bare asyncio tasks: Starlette runs handlers inside anyio cancel scopes,
        # and a scope only cleans up the tasks it knows.
        async with anyio.create_task_group() as group:

            async def feed() -> None:
                try:
                    await stream_blocks(
                        self.reader,
                        caller,
                        from_height,
                        send,
                        recheck=lambda: self.directory.lookup(caller.public_key),
                    )
                except StreamClosed as closed:
                    ended.append(closed)
                except Exception as error:
                    ended.append(StreamClosed(1011, "internal_error"))
                    failures.append(error)
                group.cancel_scope.cancel()

            async def listen() -> None:
                await _until_disconnect(websocket)
                ended.append(None)
                group.cancel_scope.cancel()

            group.start_soon(feed)
            group.start_soon(listen)
        await self._end_stream(websocket, ended[0] if ended else None)
        if failures:
            raise failures[0]

    async def _end_stream(self, websocket: WebSocket, closed: StreamClosed | None) -> None:
        if closed is None:
            self.counters.stream_closes["client_closed"] += 1
            return
        self.counters.stream_closes[closed.reason] += 1
        # A peer that takes nothing will not take the close frame either: give up on it.
        with anyio.move_on_after(limits.stream_close_timeout_s):
            await websocket.close(closed.close_code, closed.reason)


async def _until_disconnect(websocket: WebSocket) -> None:
    """Return when the client goes away; anything it sends is ignored (the stream is one-way)."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


def create_app(
    service: NodeService,
    *,
    clock_ms: Callable[[], int],
    node_key: bytes,
    seen: ReplayWindow | None = None,
) -> Starlette:
    """The API over `service`, answering requests signed for `node_key` (the node's public
    key); `clock_ms` is the server clock of the replay window `seen` (in memory if None)."""
    api = _Api(service, clock_ms, node_key, SeenRequests() if seen is None else seen)
    http_routes: list[tuple[str, str, Handler]] = [
        ("/v1/transactions", "POST", api.submit),
        ("/v1/transactions/{tx_hash}", "GET", api.transaction),
        ("/v1/accounts/{account_id}", "GET", api.account),
        ("/v1/blocks/{height}", "GET", api.block),
        ("/v1/aliases/{alias}", "GET", api.alias),
        ("/v1/audit/alias-lookups", "GET", api.alias_lookups),
        ("/v1/participants", "GET", api.participants),
        ("/v1/participants/{code}", "GET", api.participant),
        ("/v1/snapshots", "GET", api.snapshots),
        ("/v1/snapshots/{height}", "GET", api.snapshot),
        ("/v1/snapshots/{height}/chunks/{index}", "GET", api.snapshot_chunk),
        ("/v1/status", "GET", api.status),
        ("/healthz", "GET", api.healthz),
        ("/metrics", "GET", api.metrics),
        ("/openapi.json", "GET", api.openapi_json),
    ]
    routes: list[BaseRoute] = [
        Route(path, api.endpoint(path, handler), methods=[method])
        for path, method, handler in http_routes
    ]
    routes.append(WebSocketRoute("/v1/stream", api.stream))
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: api.not_routed, Exception: api.internal_error},
    )
    app.state.api = api
    return app
