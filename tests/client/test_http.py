"""The HTTP client against a small Starlette node written here to the API contract.

The node is just enough of `bakong.node.api` (docs/api.md): it checks every request signature
with `bakong.wire.request.check_request` exactly as the real server does, admits transactions
into a real `Sandbox` ledger, commits them when polled, and answers in JSON or msgpack. The
real server is tested in tests/node; this file tests the client's side of the contract.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bakong.client import (
    AccountKind,
    ApiError,
    Asset,
    Busy,
    Client,
    KycTier,
    NotFound,
    ResultCode,
    SyncClient,
    TransactionRejected,
    WaitTimeout,
    alias_hash,
    create_account,
    issue,
    register_alias,
    transaction_hash,
    transfer,
)
from bakong.errors import DecodeError, LocalError
from bakong.ledger.block import TxResult, block_hash
from bakong.ledger.commit import Commit
from bakong.ledger.records import Account, Alias
from bakong.ledger.state import alias_key, decode_value
from bakong.ledger.transaction import Transaction, decode_transaction
from bakong.sandbox import Sandbox, sandbox_key
from bakong.wire.codec import encode
from bakong.wire.keys import SigningKey
from bakong.wire.request import KEY_HEADER, SeenRequests, check_request

URL = "http://node.test"
MSGPACK = "application/msgpack"


class FakeNode:
    """A one-process node over a Sandbox chain: admits, commits on the second poll."""

    def __init__(self) -> None:
        self.chain = Sandbox()
        self.node_key = sandbox_key("validator-1").public_key  # what requests must name
        self.seen = SeenRequests()
        self.allowed = {sandbox_key(f"{p}/gateway").public_key for p in ("nbc", "aclb", "wing")}
        self.pending: dict[bytes, Transaction] = {}
        self.polls: dict[bytes, int] = {}
        self.committed: dict[bytes, tuple[int, int, TxResult]] = {}
        self.rejected: dict[bytes, str] = {}
        self.results: list[tuple[TxResult, ...]] = []
        self.busy_submissions = 0
        self.busy_envelope = False
        self.never_commit = False
        self.signed: list[tuple[str, str]] = []
        self.unsigned: list[str] = []
        self.app = Starlette(
            routes=[
                Route("/v1/status", self.status),
                Route("/v1/transactions", self.submit, methods=["POST"]),
                Route("/v1/transactions/{tx_hash}", self.transaction),
                Route("/v1/accounts/{account_id}", self.account),
                Route("/v1/aliases/{alias}", self.alias),
                Route("/v1/blocks/{height:int}", self.block),
            ]
        )

    def clock_ms(self) -> int:
        return self.chain.time_ms

    # -- plumbing ---------------------------------------------------------------------------

    @staticmethod
    def reply(request: Request, body: object, status: int = 200) -> Response:
        if request.headers.get("accept") == MSGPACK:
            return Response(msgspec.msgpack.encode(body), status, media_type=MSGPACK)
        return Response(msgspec.json.encode(_hexed(body)), status, media_type="application/json")

    def error(self, request: Request, status: int, code: str, message: str) -> Response:
        return self.reply(request, {"error": {"code": code, "message": message}}, status)

    async def authenticate(self, request: Request) -> Response | None:
        query = request.scope["query_string"].decode()
        target = request.scope["raw_path"].decode() + (f"?{query}" if query else "")
        body = await request.body()
        headers = {name.lower(): value for name, value in request.headers.items()}
        verdict = check_request(
            self.chain.chain_id,
            self.node_key,
            request.method,
            target,
            body,
            headers,
            self.clock_ms(),
            self.seen,
        )
        if not isinstance(verdict, bytes):
            return self.error(request, verdict.status, verdict.code, verdict.message)
        if verdict not in self.allowed:
            return self.error(request, 403, "forbidden", "not a gateway key")
        self.signed.append((request.method, target))
        return None

    # -- endpoints --------------------------------------------------------------------------

    async def status(self, request: Request) -> Response:
        self.unsigned.append(request.headers.get(KEY_HEADER, ""))
        validator = sandbox_key("validator-1").public_key
        return self.reply(
            request,
            {
                "chain_id": self.chain.chain_id,
                "node_key": self.node_key,
                "height": len(self.chain.blocks),
                "app_hash": self.chain.state.app_hash,
                "block_time_ms": self.chain.time_ms,
                "validators": [{"name": "validator-1", "public_key": validator, "power": 1}],
                "peers": [
                    {"public_key": validator, "address": "10.0.0.1:26656", "connected": True}
                ],
                "mempool_txs": len(self.pending),
                "catching_up": False,
            },
        )

    async def submit(self, request: Request) -> Response:
        refused = await self.authenticate(request)
        if refused is not None:
            return refused
        raw = await request.body()
        if request.headers.get("content-type") == MSGPACK:
            items = msgspec.msgpack.decode(raw)["transactions"]
        else:
            items = [bytes.fromhex(tx) for tx in msgspec.json.decode(raw)["transactions"]]
        if self.busy_envelope:
            return self.error(request, 503, "busy", "the mempool is full")
        results = [self.admit(tx) for tx in items]
        statuses = {result["status"] for result in results}
        body: dict[str, Any] = {"results": results}
        if statuses in ({"rejected"}, {"busy"}):  # refused as a whole: envelope and results
            code = 400 if statuses == {"rejected"} else 503
            body["error"] = {"code": results[0]["code"], "message": "nothing went in"}
            return self.reply(request, body, code)
        return self.reply(request, body, 202)

    def admit(self, raw: bytes) -> dict[str, Any]:
        try:
            tx = decode_transaction(raw)
        except DecodeError as error:
            return {"tx_hash": None, "status": "rejected", "code": error.code, "message": "bad"}
        tx_hash = transaction_hash(tx.payload)
        if self.busy_submissions > 0:
            self.busy_submissions -= 1
            return {"tx_hash": tx_hash, "status": "busy", "code": "busy", "message": "full"}
        if tx.payload.chain_id != self.chain.chain_id:
            self.rejected[tx_hash] = "chain_id_mismatch"
            return {
                "tx_hash": tx_hash,
                "status": "rejected",
                "code": "chain_id_mismatch",
                "message": "another chain",
            }
        if tx_hash in self.committed:
            return {"tx_hash": tx_hash, "status": "committed", "code": "ok", "message": ""}
        self.pending[tx_hash] = tx
        return {"tx_hash": tx_hash, "status": "accepted", "code": "ok", "message": ""}

    def commit_pending(self) -> None:
        transactions = list(self.pending.values())
        outcome = self.chain.commit(transactions)
        height = len(self.chain.blocks)
        for index, result in enumerate(outcome.results):
            self.committed[result.tx_hash] = (height, index, result)
        self.results.append(outcome.results)
        self.pending.clear()

    async def transaction(self, request: Request) -> Response:
        refused = await self.authenticate(request)
        if refused is not None:
            return refused
        tx_hash = bytes.fromhex(request.path_params["tx_hash"])
        if tx_hash in self.pending and not self.never_commit:
            self.polls[tx_hash] = self.polls.get(tx_hash, 0) + 1
            if self.polls[tx_hash] >= 2:
                self.commit_pending()
        body: dict[str, Any] = {
            "tx_hash": tx_hash,
            "state": "unknown",
            "height": None,
            "index": None,
            "code": None,
            "result": None,
            "command_index": None,
            "reason": None,
        }
        if tx_hash in self.committed:
            height, index, result = self.committed[tx_hash]
            body |= {
                "state": "committed",
                "height": height,
                "index": index,
                "code": result.code,
                "result": ResultCode(result.code).name,
                "command_index": result.command_index,
            }
        elif tx_hash in self.pending:
            body["state"] = "pending"
        elif tx_hash in self.rejected:
            body |= {"state": "rejected", "reason": self.rejected[tx_hash]}
        if body["state"] == "unknown":
            body["error"] = {"code": "transaction_not_found", "message": "no such transaction"}
            return self.reply(request, body, 404)
        return self.reply(request, body)

    async def account(self, request: Request) -> Response:
        refused = await self.authenticate(request)
        if refused is not None:
            return refused
        account = self.chain.account(request.path_params["account_id"])
        if account is None:
            return self.error(request, 404, "account_not_found", "no such account")
        return self.reply(request, _account_body(account, len(self.chain.blocks)))

    async def alias(self, request: Request) -> Response:
        refused = await self.authenticate(request)
        if refused is not None:
            return refused
        alias = bytes.fromhex(request.path_params["alias"])
        raw = self.chain.store.get(alias_key(alias))
        if raw is None:
            return self.error(request, 404, "alias_not_found", "no such alias")
        record = decode_value(alias_key(alias), raw)
        assert isinstance(record, Alias)
        return self.reply(request, {"alias": alias, "account_id": record.account_id})

    async def block(self, request: Request) -> Response:
        refused = await self.authenticate(request)
        if refused is not None:
            return refused
        height = request.path_params["height"]
        if not 1 <= height <= len(self.chain.blocks):
            return self.error(request, 404, "block_not_found", "no such block")
        block, results = self.chain.blocks[height - 1], self.results[height - 1]
        commit = encode(Commit(height, 0, block_hash(block.header), ()))
        if request.headers[KEY_HEADER] == sandbox_key("nbc/gateway").public_key.hex():
            body = {  # the central bank: the whole block
                "height": height,
                "block_hash": block_hash(block.header),
                "header": {"height": height},
                "header_bytes": encode(block.header),
                "commit": commit,
                "transactions": [encode(tx) for tx in block.transactions],
                "results": [
                    {
                        "tx_hash": r.tx_hash,
                        "code": r.code,
                        "result": "",
                        "command_index": r.command_index,
                    }
                    for r in results
                ],
                "app_hash": block.header.app_hash,
            }
            return self.reply(request, body)
        body = {  # a participant: the stream message, its transactions only (proofs omitted)
            "height": height,
            "header": encode(block.header),
            "commit": commit,
            "tx_count": len(results),
            "validators": [
                {
                    "name": "validator-1",
                    "power": 1,
                    "public_key": sandbox_key("validator-1").public_key,
                }
            ],
            "transactions": [
                {
                    "index": i,
                    "tx": encode(tx),
                    "tx_proof": [],
                    "result": {
                        "code": results[i].code,
                        "result": "",
                        "command_index": results[i].command_index,
                    },
                    "result_proof": [],
                }
                for i, tx in enumerate(block.transactions)
                if tx.payload.creator.endswith("aclb")
            ],
        }
        return self.reply(request, body)


def _hexed(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {key: _hexed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_hexed(item) for item in value]
    return value


def _account_body(account: Account, height: int) -> dict[str, Any]:
    return {
        "account_id": account.account_id,
        "kind": account.kind.value,
        "tier": int(account.tier),
        "status": account.status.value,
        "balances": {"KHR": account.balances[0], "USD": account.balances[1]},
        "held": {"KHR": account.held[0], "USD": account.held[1]},
        "signatories": list(account.signatories),
        "quorum": account.quorum,
        "height": height,
    }


def client_for(node: FakeNode, key: SigningKey | None = None, **options: Any) -> Client:
    return Client(
        URL,
        key or sandbox_key("nbc/gateway"),
        transport=httpx.ASGITransport(app=node.app),
        clock_ms=node.clock_ms,
        **options,
    )


def run(node: FakeNode, scenario: Callable[[Client], Any], **options: Any) -> Any:
    async def main() -> Any:
        async with client_for(node, **options) as client:
            return await scenario(client)

    return asyncio.run(main())


# -- tests ----------------------------------------------------------------------------------


def test_submit_and_wait_commits_through_the_real_ledger() -> None:
    node = FakeNode()
    admin = sandbox_key("nbc/admin")

    async def scenario(client: Client) -> None:
        funding = (await client.builder("nbc")).add(issue("settlement@aclb", "KHR", 900, "r-1"))
        committed = await client.submit_and_wait(funding.sign(admin), timeout_s=10)
        assert (committed.ok, committed.height, committed.index) == (True, 1, 0)
        assert committed.tx_hash == funding.tx_hash()
        too_much = (await client.builder("settlement@aclb")).add(
            transfer("settlement@aclb", "settlement@wing", Asset.KHR, 1_000)
        )
        refused = await client.submit_and_wait(too_much.sign(sandbox_key("aclb/admin")))
        assert not refused.ok
        assert (refused.code, refused.result) == (
            ResultCode.insufficient_funds,
            "insufficient_funds",
        )
        account = await client.account("settlement@aclb")
        assert account.balances == {Asset.KHR: 900, Asset.USD: 0}
        assert (account.kind, account.tier, account.height) == (
            AccountKind.settlement,
            KycTier.institutional,
            2,
        )
        assert account.signatories == (sandbox_key("aclb/admin").public_key,)

    run(node, scenario)
    assert node.unsigned == [""]  # the status request, which is never signed
    assert ("POST", "/v1/transactions") in node.signed
    assert ("GET", "/v1/accounts/settlement@aclb") in node.signed


def test_status_and_chain_id() -> None:
    node = FakeNode()

    async def scenario(client: Client) -> None:
        status = await client.status()
        assert (status.chain_id, status.height, status.catching_up) == ("bakong-sandbox", 0, False)
        assert status.validators[0].public_key == sandbox_key("validator-1").public_key
        assert status.peers[0].address == "10.0.0.1:26656"
        assert await client.resolve_chain_id() == "bakong-sandbox"

    run(node, scenario)
    with pytest.raises(LocalError):
        run(node, lambda client: client.status(), chain_id="bakong-production")


def test_busy_results_are_returned_and_retried_by_submit_and_wait() -> None:
    node = FakeNode()
    node.busy_submissions = 2
    tx = Sandbox().transaction("nbc", [issue("settlement@aclb", "USD", 5, "r")])

    async def scenario(client: Client) -> None:
        first = await client.submit([tx])
        assert [(r.status, r.code) for r in first] == [("busy", "busy")]
        committed = await client.submit_and_wait(tx)
        assert committed.ok

    run(node, scenario)
    assert node.busy_submissions == 0


def test_a_busy_envelope_raises_busy() -> None:
    node = FakeNode()
    node.busy_envelope = True
    tx = Sandbox().transaction("nbc", [issue("settlement@aclb", "USD", 5, "r")])

    async def scenario(client: Client) -> None:
        with pytest.raises(Busy) as caught:
            await client.submit([tx])
        assert (caught.value.status, caught.value.code) == (503, "busy")
        assert isinstance(caught.value, ApiError)
        with pytest.raises(Busy):
            await client.submit_and_wait(tx, timeout_s=0.2)

    run(node, scenario)


def test_rejections_per_transaction_and_for_the_batch() -> None:
    node = FakeNode()
    good = Sandbox().transaction("nbc", [issue("settlement@aclb", "USD", 5, "r")])
    foreign = Sandbox(chain_id="bakong-other").transaction("nbc", [issue("a@aclb", "USD", 5, "r")])

    async def scenario(client: Client) -> None:
        mixed = await client.submit([good, foreign, b"\x00garbage"])
        assert [r.status for r in mixed] == ["accepted", "rejected", "rejected"]
        assert mixed[0].tx_hash == transaction_hash(good.payload)
        assert mixed[2].tx_hash is None
        all_bad = await client.submit([foreign])  # HTTP 400, still one result each
        assert [(r.status, r.code) for r in all_bad] == [("rejected", "chain_id_mismatch")]
        with pytest.raises(TransactionRejected) as caught:
            await client.submit_and_wait(foreign)
        assert caught.value.code == "chain_id_mismatch"
        status = await client.transaction(transaction_hash(foreign.payload))
        assert (status.state, status.reason) == ("rejected", "chain_id_mismatch")
        unknown = await client.transaction(b"\x01" * 32)
        assert unknown.state == "unknown"

    run(node, scenario)


def test_waiting_gives_up_with_wait_timeout() -> None:
    node = FakeNode()
    node.never_commit = True
    tx = Sandbox().transaction("nbc", [issue("settlement@aclb", "USD", 5, "r")])

    async def scenario(client: Client) -> None:
        with pytest.raises(WaitTimeout) as caught:
            await client.submit_and_wait(tx, timeout_s=0.2)
        assert caught.value.state == "pending"
        assert isinstance(caught.value, TimeoutError)

    run(node, scenario)


def test_queries_not_found_and_aliases() -> None:
    node = FakeNode()
    phone = alias_hash(b"alias key", "+85512345678")
    setup = node.chain.transaction(
        "aclb",
        [
            create_account("sokha@aclb", [sandbox_key("sokha@aclb")]),
            register_alias(phone, "sokha@aclb"),
        ],
    )

    async def scenario(client: Client) -> None:
        assert (await client.submit_and_wait(setup)).ok
        found = await client.alias(phone)
        assert (found.alias, found.account_id) == (phone, "sokha@aclb")
        with pytest.raises(NotFound) as caught:
            await client.alias(alias_hash(b"alias key", "+85599999999"))
        assert (caught.value.status, caught.value.code) == (404, "alias_not_found")
        with pytest.raises(NotFound):
            await client.account("nobody@aclb")
        with pytest.raises(LocalError):
            await client.account("../v1/status?x=@aclb")
        block = await client.block(1)
        assert [(t.index, t.transaction, t.result.code) for t in block.transactions] == [
            (0, setup, ResultCode.ok)
        ]
        assert (block.height, block.tx_count, block.complete, block.validators) == (
            1,
            1,
            True,
            None,
        )
        assert block.block_hash == block.commit.block_hash
        with pytest.raises(NotFound):
            await client.block(2)

    run(node, scenario)

    async def participant(client: Client) -> None:
        other = node.chain.transaction("wing", [create_account("dara@wing", [sandbox_key("d")])])
        mine = node.chain.transaction("aclb", [create_account("bopha@aclb", [sandbox_key("b")])])
        node.pending = {transaction_hash(tx.payload): tx for tx in (other, mine)}
        node.commit_pending()
        block = await client.block(2)
        assert [(t.index, t.transaction) for t in block.transactions] == [(1, mine)]
        assert (block.tx_count, block.complete) == (2, False)
        assert block.validators is not None and block.validators[0].name == "validator-1"

    run(node, participant, key=sandbox_key("aclb/gateway"))


def test_msgpack_encoding() -> None:
    node = FakeNode()
    tx = Sandbox().transaction("nbc", [issue("settlement@aclb", "KHR", 7, "r")])

    async def scenario(client: Client) -> None:
        committed = await client.submit_and_wait(tx)
        assert committed.ok
        account = await client.account("settlement@aclb")
        assert account.balances[Asset.KHR] == 7
        assert account.signatories == (sandbox_key("aclb/admin").public_key,)

    run(node, scenario, msgpack=True)


def test_unauthorised_key_and_bad_signature() -> None:
    node = FakeNode()

    async def scenario(client: Client) -> None:
        with pytest.raises(ApiError) as caught:
            await client.account("settlement@aclb")
        assert (caught.value.status, caught.value.code) == (403, "forbidden")

    run(node, scenario, key=sandbox_key("stranger"))

    async def wrong_chain(client: Client) -> None:
        with pytest.raises(ApiError) as caught:
            await client.account("settlement@aclb")
        assert (caught.value.status, caught.value.code) == (401, "bad_signature")

    # Signed for another chain: the signature cannot verify on this one.
    run(node, wrong_chain, chain_id="bakong-other", node_key=node.node_key)


def test_requests_are_signed_for_the_node_key_the_status_names() -> None:
    node = FakeNode()

    async def scenario(client: Client) -> None:
        assert await client.resolve_node_key() == node.node_key
        assert (await client.status()).node_key == node.node_key
        await client.account("settlement@aclb")

    run(node, scenario)
    assert ("GET", "/v1/accounts/settlement@aclb") in node.signed
    # A key given to the client is pinned: a node that reports another is not talked to.
    with pytest.raises(LocalError, match="node's key"):
        run(node, lambda client: client.status(), node_key=sandbox_key("other").public_key)


def test_a_learned_node_key_is_learned_again_when_the_node_says_wrong_node() -> None:
    node = FakeNode()

    async def scenario(client: Client) -> None:
        await client.account("settlement@aclb")
        node.node_key = sandbox_key("validator-2").public_key  # another node behind the URL
        await client.account("settlement@aclb")
        assert await client.resolve_node_key() == node.node_key

    run(node, scenario)
    assert node.signed.count(("GET", "/v1/accounts/settlement@aclb")) == 2
    assert node.unsigned == ["", ""]  # the status, read once more after `wrong_node`

    async def pinned(client: Client) -> None:
        with pytest.raises(ApiError) as caught:
            await client.account("settlement@aclb")
        assert (caught.value.status, caught.value.code) == (401, "wrong_node")

    run(node, pinned, chain_id="bakong-sandbox", node_key=sandbox_key("validator-1").public_key)


def test_a_full_replay_window_is_busy() -> None:
    node = FakeNode()
    node.seen = SeenRequests(entries_max=1)

    async def scenario(client: Client) -> None:
        await client.account("settlement@aclb")
        with pytest.raises(Busy) as caught:
            await client.account("settlement@aclb")
        assert (caught.value.status, caught.value.code) == (503, "replay_window_full")

    run(node, scenario)


def test_repeated_identical_requests_get_distinct_signatures() -> None:
    node = FakeNode()

    async def scenario(client: Client) -> None:
        for _ in range(3):  # same target, same frozen clock: must not look like a replay
            await client.account("settlement@aclb")

    run(node, scenario)
    assert node.signed.count(("GET", "/v1/accounts/settlement@aclb")) == 3


def test_transport_errors_are_retried_while_waiting() -> None:
    node = FakeNode()
    inner = httpx.ASGITransport(app=node.app)
    failures = {"left": 2}

    class Flaky(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and failures["left"] > 0:
                failures["left"] -= 1
                raise httpx.ConnectError("connection refused", request=request)
            return await inner.handle_async_request(request)

    tx = Sandbox().transaction("nbc", [issue("settlement@aclb", "KHR", 7, "r")])

    async def main() -> None:
        key = sandbox_key("nbc/gateway")
        async with Client(URL, key, transport=Flaky(), clock_ms=node.clock_ms) as client:
            assert (await client.submit_and_wait(tx)).ok

    asyncio.run(main())
    assert failures["left"] == 0


def test_malformed_responses_are_api_errors() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = b'{"chain_id": 5}' if scope["path"] == "/v1/status" else b"<html>oops</html>"
        status = 200 if scope["path"] == "/v1/status" else 502
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        pinned = {"chain_id": "c", "node_key": bytes(32)}
        async with Client(URL, sandbox_key("k"), transport=transport, **pinned) as client:
            with pytest.raises(ApiError) as caught:
                await client.status()
            assert caught.value.code == "bad_response"
            with pytest.raises(ApiError) as caught:
                await client.account("a@aclb")
            assert (caught.value.status, caught.value.code) == (502, "http_502")

    asyncio.run(main())


def test_sync_client() -> None:
    node = FakeNode()
    transport = httpx.ASGITransport(app=node.app)
    client = Client(URL, sandbox_key("aclb/gateway"), transport=transport, clock_ms=node.clock_ms)
    with SyncClient(client) as sync:
        builder = sync.builder("aclb").add(create_account("dara@aclb", [sandbox_key("dara")]))
        committed = sync.submit_and_wait(builder.sign(sandbox_key("aclb/admin")))
        assert committed.ok
        assert sync.transaction(committed.tx_hash).state == "committed"
        assert sync.account("dara@aclb").tier == KycTier.basic
        assert sync.status().height == 1
