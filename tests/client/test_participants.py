"""`Client.participant` and `Client.participants` against the real node app (not a fake):
the central bank publishes a gateway URL with the SDK's builder, and another bank reads it.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bakong.client import (
    ApiError,
    Client,
    NotFound,
    ParticipantInfo,
    ParticipantStatus,
    SyncClient,
    set_participant_endpoint,
)
from bakong.client.responses import parse_participant, parse_participants
from bakong.errors import LocalError
from bakong.node.api import create_app
from tests.node.memory_service import NODE_KEY, NOW_MS, gateway_key, payments_service

WING_URL = "https://gateway.wing.example:8443"


def _client(who: str) -> Client:
    service = payments_service()
    sandbox = service.sandbox
    publish = set_participant_endpoint("wing", WING_URL)
    service.commit([sandbox.transaction("nbc", [publish])])
    app = create_app(service, clock_ms=lambda: NOW_MS, node_key=NODE_KEY)
    return Client(
        "http://node",
        gateway_key(who),
        chain_id=sandbox.chain_id,
        node_key=NODE_KEY,
        clock_ms=lambda: NOW_MS,
        transport=httpx.ASGITransport(app=app),
    )


def test_a_bank_reads_another_banks_published_gateway() -> None:
    async def scenario() -> None:
        async with _client("aclb") as client:
            wing = await client.participant("wing")
            assert wing == ParticipantInfo(
                code="wing",
                name="WING",
                status=ParticipantStatus.active,
                gateway_keys=(gateway_key("wing").public_key,),
                gateway_url=WING_URL,
            )
            everyone = await client.participants()
            assert [entry.code for entry in everyone] == sorted(entry.code for entry in everyone)
            assert wing in everyone
            assert next(e for e in everyone if e.code == "abaa").gateway_url is None
            with pytest.raises(NotFound):
                await client.participant("nope")
            with pytest.raises(LocalError):
                await client.participant("../v1/status")

    asyncio.run(scenario())


def test_the_sync_client_reads_participants_too() -> None:
    with SyncClient(_client("abaa")) as client:
        assert client.participant("wing").gateway_url == WING_URL
        assert {entry.code for entry in client.participants()} >= {"nbc", "aclb", "wing"}


def test_the_builder_refuses_a_url_that_can_never_be_published() -> None:
    assert set_participant_endpoint("wing", "").gateway_url == ""  # withdraws it
    for bad in ("gateway.wing.example", "https://u:p@gw.example", "https://gw.example/?a=1"):
        with pytest.raises(LocalError):
            set_participant_endpoint("wing", bad)


_GOOD = {"code": "wing", "name": "W", "status": "active", "gateway_keys": [], "gateway_url": None}


@pytest.mark.parametrize(
    "body",
    [
        {**_GOOD, "status": "gone"},
        {**_GOOD, "gateway_keys": "ab"},
        {**_GOOD, "gateway_keys": ["zz"]},
        {**_GOOD, "gateway_url": 5},
        {key: value for key, value in _GOOD.items() if key != "code"},
    ],
)
def test_malformed_participant_answers_are_api_errors(body: dict[str, object]) -> None:
    assert parse_participant(_GOOD, 200).code == "wing"
    with pytest.raises(ApiError) as raised:
        parse_participant(body, 200)
    assert raised.value.code == "bad_response"
    with pytest.raises(ApiError):
        parse_participants({"participants": [body]}, 200)
