"""The commit stream and the visibility rule behind it.

`viewers` is checked on single, mixed and hold-naming transactions. The stream is
driven over a real WebSocket session (Starlette's TestClient) against `MemoryService`; every
message is verified as a gateway would: the commit against the validators, each transaction
and result against the header's Merkle roots.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from starlette.exceptions import StarletteDeprecationWarning
from starlette.websockets import WebSocketDisconnect

from bakong.ledger.assets import Asset
from bakong.ledger.block import decode_block
from bakong.ledger.commands import (
    Command,
    Issue,
    PostHold,
    SetLimits,
    Transfer,
    UpdateParticipant,
)
from bakong.ledger.policy import DEFAULT_POLICY
from bakong.ledger.records import ParticipantStatus
from bakong.ledger.transaction import Transaction, TransactionPayload, transaction_hash
from bakong.node.api import create_app
from bakong.node.auth import Caller
from bakong.node.service import StoredBlock
from bakong.node.stream import BlockReader, StreamClosed, stream_blocks
from bakong.node.visibility import viewers
from bakong.sandbox import sandbox_key
from tests.node.memory_service import (
    NODE_KEY,
    NOW_MS,
    MemoryService,
    Signer,
    gateway_key,
    payments_service,
    verify_message,
)

# Starlette 1.x would rather drive TestClient with `httpx2`; the project ships `httpx`, which
# still works, so exactly that deprecation is silenced, for this import only.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

CHAIN = "bakong-sandbox"
KEY = sandbox_key("some key").public_key
ALIAS = b"\x07" * 32
HOLD = b"\x01" * 16

# Visibility (`bakong.node.visibility`); what each command touches is tested with the ledger.


def _hold_parties(hold_id: bytes) -> tuple[str, ...]:
    return ("kim@aclb", "sok@wing", "shop@abaa") if hold_id == HOLD else ()


def _payload(creator: str, *commands: Command) -> TransactionPayload:
    return TransactionPayload(CHAIN, creator, 0, 0, commands)


def _pay(source: str, target: str) -> Transfer:
    return Transfer(source, target, Asset.KHR, 1, "", "", "")


@pytest.mark.parametrize(
    ("creator", "commands", "expected"),
    [
        # One payment: both banks, and the creator's.
        ("kim@aclb", [_pay("kim@aclb", "sok@wing")], {"aclb", "wing"}),
        # A mixed transaction (the ledger refuses it): only who every command touches.
        ("kim@aclb", [_pay("kim@aclb", "sok@wing"), _pay("kim@aclb", "ly@abaa")], {"aclb"}),
        (
            "nbc",
            [
                Issue("settlement@aclb", Asset.KHR, 1, "r"),
                Issue("settlement@wing", Asset.KHR, 1, "r"),
            ],
            {"nbc"},
        ),
        # The creator sees what it wrote, even when no command touches it.
        ("kim@aclb", [_pay("sok@wing", "ly@wing")], {"aclb", "wing"}),
        # A post touches its hold's parties; an unknown hold's nobody.
        ("shop@abaa", [PostHold(HOLD, 1), _pay("shop@abaa", "kim@aclb")], {"abaa", "aclb"}),
        ("nbc", [PostHold(b"\x02" * 16, 1)], {"nbc"}),
        # Chain-wide commands: the creator only.
        ("nbc", [SetLimits(DEFAULT_POLICY)], {"nbc"}),
        # Strings that are not identifiers touch nobody.
        ("not a creator", [Transfer("Nope", "x@y", Asset.KHR, 1, "", "", "")], set()),
    ],
)
def test_viewers_are_those_every_command_touches_and_the_creator(
    creator: str, commands: list[Command], expected: set[str]
) -> None:
    assert viewers(_payload(creator, *commands), _hold_parties) == expected


# The stream over a WebSocket.


@pytest.fixture
def service() -> MemoryService:
    return payments_service()


@pytest.fixture
def client(service: MemoryService) -> Iterator[TestClient]:
    app = create_app(service, clock_ms=lambda: NOW_MS, node_key=NODE_KEY)
    with TestClient(app) as test_client:
        yield test_client


def _signer(who: str) -> Signer:
    return Signer(CHAIN, gateway_key(who))


def _connect(client: TestClient, who: str, target: str) -> Any:
    return client.websocket_connect(target, headers=_signer(who).headers("GET", target))


def _receive(socket: Any, msgpack: bool = False) -> dict[str, Any]:
    if msgpack:
        message: dict[str, Any] = msgspec.msgpack.decode(socket.receive_bytes())
    else:
        message = msgspec.json.decode(socket.receive_text())
    return message


def _hashes(transactions: list[Transaction]) -> list[bytes]:
    return [transaction_hash(tx.payload) for tx in transactions]


def _block_hashes(stored: StoredBlock) -> list[bytes]:
    return _hashes(list(decode_block(stored.block).transactions))


def test_the_central_bank_receives_every_transaction_proven(
    client: TestClient, service: MemoryService
) -> None:
    with _connect(client, "nbc", "/v1/stream?from_height=1") as socket:
        for stored in service.blocks:
            message = _receive(socket)
            assert message["height"] == stored.height
            assert message["tx_count"] == len(stored.results)
            assert _hashes(verify_message(CHAIN, message)) == _block_hashes(stored)
        # Then it follows the chain: a block committed now is sent next.
        sb = service.sandbox
        payment = sb.transfer("sokha@aclb", "dara@wing", Asset.KHR, 100)
        live = service.commit([sb.transaction("sokha@aclb", [payment])])
        message = _receive(socket)
        assert message["height"] == 5
        assert _hashes(verify_message(CHAIN, message)) == _block_hashes(live)


def _wing_only(service: MemoryService) -> bytes:
    block = decode_block(service.blocks[1].block)
    (tx,) = [tx for tx in block.transactions if tx.payload.creator == "dara@wing"]
    return transaction_hash(tx.payload)


@pytest.mark.parametrize(
    ("who", "indices"),
    [
        ("aclb", [[0, 2], [0, 3, 4], [0], [0]]),
        ("wing", [[1, 3], [1, 2, 3], [], []]),
        ("abaa", [[4], [], [0], [0]]),
    ],
)
def test_a_participant_receives_only_what_touches_it(
    client: TestClient, service: MemoryService, who: str, indices: list[list[int]]
) -> None:
    seen: list[bytes] = []
    with _connect(client, who, "/v1/stream?from_height=1") as socket:
        for stored, expected in zip(service.blocks, indices, strict=True):
            message = _receive(socket)
            assert message["height"] == stored.height
            assert message["tx_count"] == len(stored.results)
            assert [item["index"] for item in message["transactions"]] == expected
            seen.extend(_hashes(verify_message(CHAIN, message)))
    wing_only = _wing_only(service)
    assert (wing_only in seen) == (who == "wing")


def test_the_stream_speaks_msgpack_and_matches_the_block_endpoint(
    client: TestClient, service: MemoryService
) -> None:
    with _connect(client, "aclb", "/v1/stream?from_height=2&format=msgpack") as socket:
        message = _receive(socket, msgpack=True)
    assert isinstance(message["header"], bytes)
    verify_message(CHAIN, message)
    target = "/v1/blocks/2"
    headers = {**_signer("aclb").headers("GET", target), "accept": "application/msgpack"}
    block = msgspec.msgpack.decode(client.get(target, headers=headers).content)
    assert block == message


def test_without_from_height_the_stream_starts_at_the_next_block(
    client: TestClient, service: MemoryService
) -> None:
    with _connect(client, "wing", "/v1/stream") as socket:
        service.commit_pending()
        message = _receive(socket)
    assert message["height"] == 5 and message["transactions"] == []


def test_a_participant_suspended_mid_stream_is_closed(
    client: TestClient, service: MemoryService
) -> None:
    sb = service.sandbox
    suspend = UpdateParticipant(
        "wing",
        "WING",
        ParticipantStatus.suspended,
        (sandbox_key("wing/admin").public_key,),
        1,
        (gateway_key("wing").public_key,),
    )
    with _connect(client, "wing", "/v1/stream?from_height=4") as socket:
        assert _receive(socket)["height"] == 4
        service.commit([sb.transaction("nbc", [suspend])])
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_text()  # not the block that suspends it
    assert (closed.value.code, closed.value.reason) == (4403, "forbidden")


def _replayed(client: TestClient, target: str) -> dict[str, str]:
    headers = _signer("aclb").headers("GET", target)
    with client.websocket_connect(target, headers=headers) as socket:
        _receive(socket)
    return headers


@pytest.mark.parametrize(
    ("target", "headers", "close"),
    [
        ("/v1/stream?from_height=0", "aclb", (4400, "bad_from_height")),
        ("/v1/stream?from_height=one", "aclb", (4400, "bad_from_height")),
        ("/v1/stream?format=xml", "aclb", (4400, "bad_format")),
        ("/v1/stream?from_height=1", None, (4401, "unauthenticated")),
        ("/v1/stream?from_height=1", "stranger", (4401, "unknown_caller")),
        ("/v1/stream?from_height=1", "replayed", (4401, "request_replayed")),
        ("/v1/stream?from_height=1", "other target", (4401, "bad_signature")),
    ],
)
def test_refused_streams_close_with_a_code(
    client: TestClient, target: str, headers: str | None, close: tuple[int, str]
) -> None:
    if headers is None:
        signed: dict[str, str] = {}
    elif headers == "stranger":
        signed = Signer(CHAIN, sandbox_key("stranger")).headers("GET", target)
    elif headers == "replayed":
        signed = _replayed(client, target)
    elif headers == "other target":
        signed = _signer("aclb").headers("GET", "/v1/stream?from_height=2")
    else:
        signed = _signer(headers).headers("GET", target)
    with client.websocket_connect(target, headers=signed) as socket:
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_text()
    assert (closed.value.code, closed.value.reason) == close


def test_a_consumer_that_takes_nothing_is_closed_not_buffered(service: MemoryService) -> None:
    sent: list[Any] = []

    async def stuck(message: Any) -> None:
        sent.append(message)
        await asyncio.Event().wait()  # never taken

    reader = BlockReader(service)
    caller = Caller(
        "nbc", is_central_bank=True, active=True, public_key=gateway_key("nbc").public_key
    )
    with pytest.raises(StreamClosed) as closed:
        asyncio.run(stream_blocks(reader, caller, 1, stuck, send_timeout_s=0.01))
    assert (closed.value.close_code, closed.value.reason) == (4408, "slow_consumer")
    assert len(sent) == 1  # nothing was prepared beyond the message being sent


def test_a_block_missing_from_the_store_closes_the_stream(service: MemoryService) -> None:
    class Pruned(MemoryService):
        def stored_block(self, height: int) -> StoredBlock | None:
            return None if height < 3 else super().stored_block(height)

    pruned = Pruned(service.sandbox)
    pruned.blocks = service.blocks
    reader = BlockReader(pruned)

    async def send(message: Any) -> None:
        raise AssertionError("nothing is sent")

    with pytest.raises(StreamClosed) as closed:
        caller = Caller("aclb", False, True, gateway_key("aclb").public_key)
        asyncio.run(stream_blocks(reader, caller, 1, send))
    assert (closed.value.close_code, closed.value.reason) == (4404, "block_not_found")


def test_stream_metrics(client: TestClient, service: MemoryService) -> None:
    with _connect(client, "aclb", "/v1/stream?from_height=1") as socket:
        for _ in service.blocks:
            _receive(socket)
    text = client.get("/metrics").text
    assert "bakong_api_stream_messages_total 4" in text
