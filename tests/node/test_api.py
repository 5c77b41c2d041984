"""The core node HTTP API over a real ledger: every endpoint, every error class, both formats.

The app is the real Starlette app over `MemoryService` (a sandbox chain with real blocks,
commits and signatures), driven through httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import msgspec
import pytest
from starlette.routing import Route, WebSocketRoute

from bakong import limits
from bakong.consensus.commit import CommitStatus, verify_commit
from bakong.ledger.assets import Asset
from bakong.ledger.block import BlockHeader, block_hash, decode_block
from bakong.ledger.commands import SetParticipantEndpoint, UpdateParticipant
from bakong.ledger.commit import Commit
from bakong.ledger.records import ParticipantStatus
from bakong.ledger.transaction import decode_transaction, sign_transaction, transaction_hash
from bakong.ledger.validators import Validator, ValidatorSet
from bakong.node.api import create_app
from bakong.sandbox import sandbox_key
from bakong.wire import merkle
from bakong.wire.codec import decode_canonical, encode
from bakong.wire.keys import SigningKey
from bakong.wire.request import SeenRequests
from tests.node.memory_service import (
    ALIAS,
    NODE_KEY,
    NOW_MS,
    MemoryService,
    Signer,
    gateway_key,
    payments_service,
    verify_message,
)

MSGPACK = "application/msgpack"


class Api:
    """The app over a service, called in-process; `as_(code)` signs as a participant."""

    def __init__(self, service: MemoryService) -> None:
        self.service = service
        self.app = create_app(service, clock_ms=lambda: NOW_MS, node_key=NODE_KEY)
        self.signers: dict[str, Signer] = {}

    def signer(self, who: str | SigningKey) -> Signer:
        key = gateway_key(who) if isinstance(who, str) else who
        name = key.public_key.hex()
        if name not in self.signers:
            self.signers[name] = Signer(self.service.chain_id, key)
        return self.signers[name]

    def call(
        self,
        method: str,
        target: str,
        *,
        who: str | SigningKey | None = "nbc",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if who is not None:
            all_headers.update(self.signer(who).headers(method, target, body or b""))
        return self.send(method, target, content=body, headers=all_headers)

    def send(self, method: str, target: str, **options: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
                return await client.request(method, target, **options)

        return asyncio.run(go())

    def submit(self, raws: list[bytes], who: str = "aclb", **options: Any) -> httpx.Response:
        body = msgspec.json.encode({"transactions": [raw.hex() for raw in raws]})
        return self.call("POST", "/v1/transactions", who=who, body=body, **options)


def _error(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


@pytest.fixture(scope="module")
def chain() -> MemoryService:
    """Four committed blocks, shared read-only by the tests that only read."""
    return payments_service()


@pytest.fixture
def api(chain: MemoryService) -> Api:
    return Api(chain)


def _payment(service: MemoryService, amount: int = 1_000) -> bytes:
    sb = service.sandbox
    tx = sb.transaction("sokha@aclb", [sb.transfer("sokha@aclb", "dara@wing", Asset.KHR, amount)])
    return encode(tx)


# Unsigned endpoints.


def test_status_health_and_metrics_need_no_signature(api: Api) -> None:
    status = api.call("GET", "/v1/status", who=None)
    assert status.status_code == 200
    body = status.json()
    assert body["chain_id"] == "bakong-sandbox"
    assert body["height"] == 4
    assert body["app_hash"] == api.service.sandbox.state.app_hash.hex()
    assert body["validators"] == [
        {
            "name": "validator-1",
            "public_key": sandbox_key("validator-1").public_key.hex(),
            "power": 1,
        }
    ]
    assert body["peers"] == [] and body["mempool_txs"] == 0 and body["catching_up"] is False
    assert api.call("GET", "/healthz", who=None).json() == {"ok": True}
    assert api.call("GET", "/v1/accounts/sokha@aclb", who=None).status_code == 401
    metrics = api.call("GET", "/metrics", who=None)
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = metrics.text
    assert "# TYPE bakong_height_blocks gauge\nbakong_height_blocks 4\n" in text
    assert 'bakong_api_requests_total{route="/v1/status",method="GET",status="200"} 1' in text
    assert 'bakong_api_auth_failures_total{code="unauthenticated"} 1' in text


def test_status_answers_msgpack_with_binary_hashes(api: Api) -> None:
    response = api.call("GET", "/v1/status", who=None, headers={"accept": MSGPACK})
    assert response.headers["content-type"] == MSGPACK
    body = msgspec.msgpack.decode(response.content)
    assert body["app_hash"] == api.service.sandbox.state.app_hash
    assert body["validators"][0]["public_key"] == sandbox_key("validator-1").public_key


def test_openapi_document_covers_every_route(api: Api) -> None:
    document = api.call("GET", "/openapi.json", who=None).json()
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] and document["info"]["version"]
    routes: set[tuple[str, str]] = set()
    for route in api.app.routes:
        if isinstance(route, Route):
            routes.update((route.path, m.lower()) for m in route.methods or () if m != "HEAD")
        elif isinstance(route, WebSocketRoute):
            routes.add((route.path, "get"))
    paths = document["paths"]
    assert routes == {(path, method) for path, item in paths.items() for method in item}
    operations = [(path, op) for path, item in paths.items() for op in item.values()]
    assert len({op["operationId"] for _, op in operations}) == len(operations)
    schemes = set(document["components"]["securitySchemes"])
    for path, operation in operations:
        assert operation["responses"]
        assert all("description" in answer for answer in operation["responses"].values())
        for parameter in operation.get("parameters", ()):
            assert parameter["in"] in ("path", "query")
            if parameter["in"] == "path":
                assert "{" + parameter["name"] + "}" in path and parameter["required"]
        for requirement in operation.get("security", ()):
            assert set(requirement) <= schemes
    _assert_refs_resolve(document, document)


def _assert_refs_resolve(node: Any, document: dict[str, Any]) -> None:
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            assert isinstance(target, dict)
        for value in node.values():
            _assert_refs_resolve(value, document)
    elif isinstance(node, list):
        for value in node:
            _assert_refs_resolve(value, document)


# Submitting transactions.


def test_submit_then_follow_the_transaction_to_its_block() -> None:
    api = Api(payments_service())
    raw = _payment(api.service)
    tx_hash = transaction_hash(decode_transaction(raw).payload)
    response = api.submit([raw])
    assert response.status_code == 202
    assert response.json() == {
        "results": [
            {
                "tx_hash": tx_hash.hex(),
                "status": "accepted",
                "code": "ok",
                "message": "in the mempool",
            }
        ]
    }
    pending = api.call("GET", f"/v1/transactions/{tx_hash.hex()}", who="aclb")  # its submitter
    assert pending.status_code == 200 and pending.json()["state"] == "pending"
    # The payee's bank learns of it once committed (test_privacy.py has the whole rule).
    assert api.call("GET", f"/v1/transactions/{tx_hash.hex()}", who="wing").status_code == 404
    api.service.commit_pending()
    assert api.call("GET", f"/v1/transactions/{tx_hash.hex()}", who="wing").status_code == 200
    committed = api.call("GET", f"/v1/transactions/{tx_hash.hex()}")
    assert committed.json() == {
        "tx_hash": tx_hash.hex(),
        "state": "committed",
        "height": 5,
        "index": 0,
        "code": 0,
        "result": "ok",
        "command_index": -1,  # no command failed
        "reason": None,
    }
    again = api.submit([raw])
    assert again.status_code == 202 and again.json()["results"][0]["status"] == "committed"


def test_submit_msgpack_both_ways() -> None:
    api = Api(payments_service())
    raw = _payment(api.service)
    body = msgspec.msgpack.encode({"transactions": [raw]})
    headers = {"content-type": MSGPACK, "accept": MSGPACK}
    response = api.call("POST", "/v1/transactions", who="aclb", body=body, headers=headers)
    assert response.status_code == 202
    result = msgspec.msgpack.decode(response.content)["results"][0]
    assert result["status"] == "accepted"
    assert isinstance(result["tx_hash"], bytes) and len(result["tx_hash"]) == 32


def test_a_batch_with_one_accepted_is_202_with_every_verdict() -> None:
    api = Api(payments_service())
    response = api.submit([_payment(api.service), b"\x91"])
    assert response.status_code == 202
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected"]
    assert results[1] == {
        "tx_hash": None,
        "status": "rejected",
        "code": "malformed",
        "message": results[1]["message"],
    }


def _wrong_chain(service: MemoryService) -> bytes:
    tx = decode_transaction(_payment(service))
    payload = msgspec.structs.replace(tx.payload, chain_id="bakong-other")
    return encode(sign_transaction(payload, [sandbox_key("sokha@aclb")]))


def _non_canonical(service: MemoryService) -> bytes:
    raw = _payment(service)
    assert raw[0] == 0x92  # a fixarray of the payload and the signatures
    return b"\xdc\x00\x02" + raw[1:]  # the same array as an array 16: decodes, not canonical


_rejections: dict[str, Callable[[MemoryService], bytes]] = {
    "chain_id_mismatch": _wrong_chain,
    "non_canonical": _non_canonical,
    "malformed": lambda service: b"\xc1",
    "oversized": lambda service: b"\x00" * (17 * 1024),
}


@pytest.mark.parametrize("code", sorted(_rejections))
def test_a_batch_all_rejected_is_400_with_the_first_code(code: str) -> None:
    api = Api(payments_service())
    response = api.submit([_rejections[code](api.service), b"\xc1"])
    assert response.status_code == 400
    assert _error(response) == code
    assert [r["status"] for r in response.json()["results"]] == ["rejected", "rejected"]


def test_wrong_chain_is_remembered_as_rejected() -> None:
    api = Api(payments_service())
    raw = _wrong_chain(api.service)
    api.submit([raw])
    payload = decode_transaction(raw).payload
    status = api.call("GET", f"/v1/transactions/{transaction_hash(payload).hex()}").json()
    assert status["state"] == "rejected" and status["reason"] == "chain_id_mismatch"


def test_a_full_mempool_is_503_busy() -> None:
    api = Api(payments_service(mempool_txs_max=1))
    assert api.submit([_payment(api.service, 1)]).status_code == 202
    response = api.submit([_payment(api.service, 2), _payment(api.service, 3)])
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert _error(response) == "busy"
    assert [r["status"] for r in response.json()["results"]] == ["busy", "busy"]


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (b"{", "application/json", "malformed_body"),
        (b'{"transactions": ["zz"]}', "application/json", "malformed_body"),
        (b'{"transactions": ["abc"]}', "application/json", "malformed_body"),
        (b'{"transactions": [], "extra": 1}', "application/json", "malformed_body"),
        (b'{"transactions": []}', "application/json", "empty_batch"),
        (b'{"txs": ["00"]}', None, "malformed_body"),
        (msgspec.msgpack.encode({"transactions": ["00"]}), MSGPACK, "malformed_body"),
        (b"\xc1", MSGPACK, "malformed_body"),
    ],
)
def test_bad_submit_bodies_are_400(body: bytes, content_type: str | None, code: str) -> None:
    api = Api(payments_service())
    headers = {} if content_type is None else {"content-type": content_type}
    response = api.call("POST", "/v1/transactions", who="aclb", body=body, headers=headers)
    assert response.status_code == 400
    assert _error(response) == code


def test_too_many_transactions_is_413() -> None:
    api = Api(payments_service())
    response = api.submit([b"\x00"] * (limits.api_batch_txs_max + 1))
    assert response.status_code == 413
    assert _error(response) == "batch_too_large"


def test_a_body_over_the_limit_is_413_before_any_signature_check(api: Api) -> None:
    body = b" " * (limits.api_body_bytes_max + 1)
    response = api.send("POST", "/v1/transactions", content=body)
    assert response.status_code == 413 and _error(response) == "body_too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for _ in range(limits.api_body_bytes_max // (1 << 20) + 1):
            yield b" " * (1 << 20)

    response = api.send("POST", "/v1/transactions", content=chunks())
    assert response.status_code == 413 and _error(response) == "body_too_large"


def test_an_unknown_media_type_is_415(api: Api) -> None:
    headers = {"content-type": "text/plain"}
    response = api.call("POST", "/v1/transactions", who="aclb", body=b"x", headers=headers)
    assert response.status_code == 415 and _error(response) == "unsupported_media_type"


# Authentication.


def _unsigned(api: Api, target: str) -> dict[str, str]:
    return {}


def _bad_signature(api: Api, target: str) -> dict[str, str]:
    return api.signer("aclb").headers("GET", target + "?x=1")


def _other_chain(api: Api, target: str) -> dict[str, str]:
    return Signer("bakong-other", gateway_key("aclb")).headers("GET", target)


def _expired(api: Api, target: str) -> dict[str, str]:
    return api.signer("aclb").headers("GET", target, time_ms=NOW_MS - 60_001)


def _from_the_future(api: Api, target: str) -> dict[str, str]:
    return api.signer("aclb").headers("GET", target, time_ms=NOW_MS + 60_001)


def _unknown_key(api: Api, target: str) -> dict[str, str]:
    return api.signer(sandbox_key("nobody")).headers("GET", target)


def _garbled(api: Api, target: str) -> dict[str, str]:
    headers = api.signer("aclb").headers("GET", target)
    return {**headers, "x-bakong-signature": "zz" * 64}


def _without_node(api: Api, target: str) -> dict[str, str]:
    headers = api.signer("aclb").headers("GET", target)
    return {name: value for name, value in headers.items() if name != "x-bakong-node"}


def _for_another_node(api: Api, target: str) -> dict[str, str]:
    other = sandbox_key("validator-2").public_key
    return Signer(api.service.chain_id, gateway_key("aclb"), other).headers("GET", target)


def _readdressed(api: Api, target: str) -> dict[str, str]:
    # Signed for another node, then the addressee header rewritten to this one.
    headers = _for_another_node(api, target)
    return {**headers, "x-bakong-node": NODE_KEY.hex()}


_auth_failures = [
    (_unsigned, "unauthenticated"),
    (_garbled, "unauthenticated"),
    (_without_node, "unauthenticated"),
    (_for_another_node, "wrong_node"),
    (_readdressed, "bad_signature"),
    (_bad_signature, "bad_signature"),
    (_other_chain, "bad_signature"),
    (_expired, "request_expired"),
    (_from_the_future, "request_expired"),
    (_unknown_key, "unknown_caller"),
]


@pytest.mark.parametrize(
    ("make", "code"), _auth_failures, ids=[f.__name__ for f, _ in _auth_failures]
)
def test_refused_signatures_are_401(api: Api, make: Any, code: str) -> None:
    target = "/v1/accounts/sokha@aclb"
    response = api.send("GET", target, headers=make(api, target))
    assert response.status_code == 401
    assert _error(response) == code
    metrics = api.call("GET", "/metrics", who=None).text
    assert f'bakong_api_auth_failures_total{{code="{code}"}} 1' in metrics


def test_a_replayed_request_is_401(api: Api) -> None:
    headers = api.signer("aclb").headers("GET", "/v1/accounts/sokha@aclb")
    assert api.send("GET", "/v1/accounts/sokha@aclb", headers=headers).status_code == 200
    replay = api.send("GET", "/v1/accounts/sokha@aclb", headers=headers)
    assert replay.status_code == 401 and _error(replay) == "request_replayed"


def test_a_request_accepted_by_one_node_is_refused_by_another(chain: MemoryService) -> None:
    """Two validators' APIs over one chain: a captured request works once, on its node only."""
    node_a, node_b = Api(chain), Api(chain)
    node_b.app = create_app(chain, clock_ms=lambda: NOW_MS, node_key=sandbox_key("b").public_key)
    status_b = node_b.call("GET", "/v1/status", who=None).json()
    assert status_b["node_key"] == sandbox_key("b").public_key.hex()
    assert node_a.call("GET", "/v1/status", who=None).json()["node_key"] == NODE_KEY.hex()
    target = "/v1/accounts/sokha@aclb"
    captured = node_a.signer("aclb").headers("GET", target)
    assert node_a.send("GET", target, headers=captured).status_code == 200
    replayed = node_b.send("GET", target, headers=captured)
    assert replayed.status_code == 401 and _error(replayed) == "wrong_node"
    readdressed = {**captured, "x-bakong-node": status_b["node_key"]}
    forged = node_b.send("GET", target, headers=readdressed)
    assert forged.status_code == 401 and _error(forged) == "bad_signature"
    # Signed for node b, the same caller is welcome there.
    signer_b = Signer(chain.chain_id, gateway_key("aclb"), sandbox_key("b").public_key)
    assert node_b.send("GET", target, headers=signer_b.headers("GET", target)).status_code == 200


def test_a_full_replay_window_is_503_and_forgets_nothing_inside_it(chain: MemoryService) -> None:
    clock = [NOW_MS]
    api = Api(chain)
    window = SeenRequests(entries_max=2)
    api.app = create_app(chain, clock_ms=lambda: clock[0], node_key=NODE_KEY, seen=window)
    target = "/v1/accounts/sokha@aclb"
    signer = api.signer("aclb")
    signer.time_ms = NOW_MS
    first = signer.headers("GET", target)
    assert api.send("GET", target, headers=first).status_code == 200
    assert api.call("GET", target, who="aclb").status_code == 200
    full = api.call("GET", target, who="aclb")
    assert full.status_code == 503 and _error(full) == "replay_window_full"
    assert full.headers["retry-after"] == "1"
    replay = api.send("GET", target, headers=first)  # still remembered, not evicted
    assert replay.status_code == 401 and _error(replay) == "request_replayed"
    assert len(window) == 2
    # Once the remembered requests are older than the window, there is room again.
    clock[0] = NOW_MS + limits.request_memory_ms + 10
    signer.time_ms = clock[0]
    assert api.call("GET", target, who="aclb").status_code == 200
    assert len(window) == 1


def test_admin_keys_authenticate_like_gateway_keys(api: Api) -> None:
    response = api.call("GET", "/v1/accounts/sokha@aclb", who=sandbox_key("aclb/admin"))
    assert response.status_code == 200


def test_a_suspended_participant_is_403() -> None:
    api = Api(payments_service())
    sb = api.service.sandbox
    suspend = UpdateParticipant(
        code="wing",
        name="WING",
        status=ParticipantStatus.suspended,
        admin_keys=(sandbox_key("wing/admin").public_key,),
        admin_quorum=1,
        gateway_keys=(gateway_key("wing").public_key,),
    )
    assert api.call("GET", "/v1/accounts/dara@wing", who="wing").status_code == 200
    api.service.commit([sb.transaction("nbc", [suspend])])
    response = api.call("GET", "/v1/accounts/dara@wing", who="wing")
    assert response.status_code == 403 and _error(response) == "forbidden"


@pytest.mark.parametrize("status", [ParticipantStatus.send_only, ParticipantStatus.receive_only])
def test_a_send_only_or_receive_only_participant_still_authenticates(
    status: ParticipantStatus,
) -> None:
    """Only the direction of its payments is restricted, on the ledger; its gateway still
    reads and submits."""
    api = Api(payments_service())
    sb = api.service.sandbox
    restrict = UpdateParticipant(
        code="wing",
        name="WING",
        status=status,
        admin_keys=(sandbox_key("wing/admin").public_key,),
        admin_quorum=1,
        gateway_keys=(gateway_key("wing").public_key,),
    )
    api.service.commit([sb.transaction("nbc", [restrict])])
    assert api.call("GET", "/v1/accounts/dara@wing", who="wing").status_code == 200


# Reads.


def test_transaction_status_errors(api: Api) -> None:
    unknown = "ab" * 32
    response = api.call("GET", f"/v1/transactions/{unknown}")
    assert response.status_code == 404
    body = response.json()
    assert body["error"]["code"] == "transaction_not_found"
    assert body["state"] == "unknown" and body["tx_hash"] == unknown
    malformed = api.call("GET", "/v1/transactions/abc")
    assert malformed.status_code == 400 and _error(malformed) == "malformed_tx_hash"


def test_a_participant_reads_its_own_accounts(api: Api) -> None:
    response = api.call("GET", "/v1/accounts/sokha@aclb", who="aclb")
    assert response.status_code == 200
    assert response.json() == {
        "account_id": "sokha@aclb",
        "kind": "personal",
        "tier": 2,
        "status": "active",
        "balances": {"KHR": 1_000_000 - 20_000 - 7_000, "USD": 0},
        "held": {"KHR": 0, "USD": 0},
        "signatories": [sandbox_key("sokha@aclb").public_key.hex()],
        "quorum": 1,
        "height": 4,
    }
    packed = api.call("GET", "/v1/accounts/sokha@aclb", who="aclb", headers={"accept": MSGPACK})
    assert msgspec.msgpack.decode(packed.content)["signatories"] == [
        sandbox_key("sokha@aclb").public_key
    ]


def test_the_central_bank_reads_every_account(api: Api) -> None:
    for account in ("sokha@aclb", "dara@wing", "shop@abaa", "treasury@nbc"):
        assert api.call("GET", f"/v1/accounts/{account}", who="nbc").status_code == 200


@pytest.mark.parametrize(
    ("who", "account", "status", "code"),
    [
        ("aclb", "dara@wing", 403, "forbidden"),
        ("wing", "nobody@aclb", 403, "forbidden"),
        ("aclb", "nobody@aclb", 404, "account_not_found"),
        ("nbc", "nobody@wing", 404, "account_not_found"),
        ("aclb", "Not-An-Account", 400, "malformed_account_id"),
    ],
)
def test_account_refusals(api: Api, who: str, account: str, status: int, code: str) -> None:
    response = api.call("GET", f"/v1/accounts/{account}", who=who)
    assert response.status_code == status
    assert _error(response) == code


def test_the_central_bank_gets_whole_blocks(api: Api) -> None:
    body = api.call("GET", "/v1/blocks/2").json()
    stored = api.service.blocks[1]
    header = decode_canonical(bytes.fromhex(body["header_bytes"]), BlockHeader, bytes_max=1 << 20)
    assert body["height"] == 2 and body["block_hash"] == block_hash(header).hex()
    assert body["header"]["tx_root"] == header.tx_root.hex()
    assert body["header"]["height"] == 2 and body["header"]["last_commit"] is None
    commit = decode_canonical(bytes.fromhex(body["commit"]), Commit, bytes_max=1 << 20)
    validators = ValidatorSet((Validator("validator-1", sandbox_key("validator-1").public_key, 1),))
    assert verify_commit("bakong-sandbox", commit, validators, height=2) is CommitStatus.OK
    assert commit.block_hash == block_hash(header)
    transactions = [bytes.fromhex(tx) for tx in body["transactions"]]
    assert transactions == [encode(tx) for tx in decode_block(stored.block).transactions]
    hashes = [bytes.fromhex(result["tx_hash"]) for result in body["results"]]
    assert merkle.root(hashes) == header.tx_root
    assert [r["result"] for r in body["results"]] == ["ok"] * 5
    assert body["app_hash"] == stored.app_hash.hex() == header.app_hash.hex()


def test_a_participant_gets_the_filtered_block_with_proofs(api: Api) -> None:
    body = api.call("GET", "/v1/blocks/2", who="aclb").json()
    transactions = verify_message("bakong-sandbox", body)
    assert body["tx_count"] == 5
    assert [item["index"] for item in body["transactions"]] == [0, 3, 4]
    assert all(tx.payload.creator != "dara@wing" for tx in transactions)
    packed = api.call("GET", "/v1/blocks/2", who="aclb", headers={"accept": MSGPACK})
    assert verify_message("bakong-sandbox", msgspec.msgpack.decode(packed.content))


@pytest.mark.parametrize(
    ("target", "status", "code"),
    [
        ("/v1/blocks/5", 404, "block_not_found"),
        ("/v1/blocks/0", 400, "malformed_height"),
        ("/v1/blocks/x1", 400, "malformed_height"),
        ("/v1/blocks/99999999999999999999", 400, "malformed_height"),
    ],
)
def test_block_refusals(api: Api, target: str, status: int, code: str) -> None:
    response = api.call("GET", target)
    assert response.status_code == status and _error(response) == code


def test_an_alias_resolves_for_any_participant(api: Api) -> None:
    response = api.call("GET", f"/v1/aliases/{ALIAS.hex()}", who="wing")
    assert response.status_code == 200
    assert response.json() == {"alias": ALIAS.hex(), "account_id": "sokha@aclb"}
    missing = api.call("GET", f"/v1/aliases/{'00' * 32}", who="wing")
    assert missing.status_code == 404 and _error(missing) == "alias_not_found"
    malformed = api.call("GET", "/v1/aliases/1234", who="wing")
    assert malformed.status_code == 400 and _error(malformed) == "malformed_alias"


def test_any_participant_reads_where_another_gateway_is() -> None:
    api = Api(payments_service())
    sb = api.service.sandbox
    before = api.call("GET", "/v1/participants/wing", who="aclb")
    assert before.status_code == 200 and before.json()["gateway_url"] is None
    publish = SetParticipantEndpoint(code="wing", gateway_url="https://gateway.wing.example")
    api.service.commit([sb.transaction("nbc", [publish])])
    response = api.call("GET", "/v1/participants/wing", who="aclb")
    assert response.status_code == 200
    assert response.json() == {
        "code": "wing",
        "name": "WING",
        "status": "active",
        "gateway_keys": [gateway_key("wing").public_key.hex()],
        "gateway_url": "https://gateway.wing.example",
    }  # and no admin keys: they sign only wing's own transactions
    listing = api.call("GET", "/v1/participants", who="abaa").json()["participants"]
    assert [entry["code"] for entry in listing] == sorted(entry["code"] for entry in listing)
    assert {entry["code"] for entry in listing} >= {"nbc", "aclb", "wing"}
    assert [entry for entry in listing if entry["code"] == "wing"] == [response.json()]
    packed = api.call("GET", "/v1/participants/wing", who="aclb", headers={"accept": MSGPACK})
    assert msgspec.msgpack.decode(packed.content)["gateway_keys"] == [
        gateway_key("wing").public_key
    ]
    missing = api.call("GET", "/v1/participants/nope", who="aclb")
    assert missing.status_code == 404 and _error(missing) == "participant_not_found"
    malformed = api.call("GET", "/v1/participants/NOPE1", who="aclb")
    assert malformed.status_code == 400 and _error(malformed) == "malformed_participant_code"
    assert api.call("GET", "/v1/participants/wing", who=None).status_code == 401


def test_unknown_routes_and_methods_get_the_envelope(api: Api) -> None:
    missing = api.call("GET", "/v1/nothing", who=None)
    assert missing.status_code == 404 and _error(missing) == "not_found"
    wrong = api.call("DELETE", "/v1/status", who=None)
    assert wrong.status_code == 405 and _error(wrong) == "method_not_allowed"
    assert "GET" in wrong.headers["allow"]
