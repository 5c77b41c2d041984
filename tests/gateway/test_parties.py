"""The participant directory of party lookup, read from a real node API on loopback: the payee
bank's gateway URL as the central bank publishes it (the config only as a fallback), and the
gateway keys the core lists now, not the genesis, each kept no longer than the cache bound."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import msgspec

from bakong import limits
from bakong.client import Client, set_participant_endpoint, update_participant
from bakong.gateway import db
from bakong.gateway.app import create_app
from bakong.gateway.parties import ParticipantDirectory, directory_of
from bakong.gateway.service import GatewayServices
from bakong.sandbox import sandbox_key
from bakong.wire.request import sign_request
from tests.gateway.conftest import Core, admin_key, clock_ms, gateway_key, make_services

CACHE_MS = limits.participant_directory_cache_ms


class Clock:
    """The gateway's clock, moved by the test; one millisecond on per reading so that two
    signed requests never share a time (the replay window would refuse the second)."""

    def __init__(self) -> None:
        self.now_ms = clock_ms()

    def __call__(self) -> int:
        self.now_ms += 1
        return self.now_ms


def _services(core: Core, tmp_path: Path, participant: str, clock: Clock) -> GatewayServices:
    engine = db.engine_for(db.sqlite_url(tmp_path / f"{participant}.db"))
    db.migrate(engine)
    services = make_services(engine, core, participant)
    services.clock_ms = clock
    return services


def test_the_payee_gateway_url_comes_from_the_core_then_the_config(
    core: Core, tmp_path: Path
) -> None:
    clock = Clock()
    services = _services(core, tmp_path, "aclb", clock)
    services.config = msgspec.structs.replace(
        services.config, directory={"wing": "http://127.0.0.1:9/from-config"}
    )
    directory = directory_of(services)
    assert directory_of(services) is directory  # one per core client

    async def scenario() -> None:
        async with services.core:
            assert await directory.gateway_url(services, "wing") == "http://127.0.0.1:9/from-config"
            assert await directory.gateway_url(services, "abaa") is None
            publish = set_participant_endpoint("wing", "https://gateway.wing.example")
            core.commit([core.sandbox.transaction("nbc", [publish])])
            assert await directory.gateway_url(services, "wing") == "http://127.0.0.1:9/from-config"
            clock.now_ms += CACHE_MS  # the cached listing is now too old: read again
            assert await directory.gateway_url(services, "wing") == "https://gateway.wing.example"

    asyncio.run(scenario())


async def _lookup(services: GatewayServices, signer: str, clock: Clock) -> int:
    """The status `services`' gateway answers a lookup signed by `signer`'s key. Awaited in
    one event loop per test: the gateway's core client may not move between loops."""
    target = "/v1/parties/nobody@wing"
    headers = sign_request(
        services.chain_id,
        bytes(services.gateway_key.public_key),
        sandbox_key(signer),
        "GET",
        target,
        b"",
        clock.now_ms,
    )
    transport = httpx.ASGITransport(app=create_app(services, background=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://wing") as http:
        return (await http.get(target, headers=headers)).status_code


def test_a_key_added_by_update_participant_is_trusted_and_a_removed_one_refused(
    core: Core, tmp_path: Path
) -> None:
    clock = Clock()
    wing = _services(core, tmp_path, "wing", clock)

    async def scenario() -> None:
        async with wing.core:
            # Trusted (the genesis key, as the core lists it): "no such wallet here".
            assert await _lookup(wing, "aclb/gateway", clock) == 404
            assert await _lookup(wing, "aclb/gateway-2", clock) == 403
            rotate = update_participant(
                "aclb", "ACLB", [admin_key("aclb")], gateway_keys=[sandbox_key("aclb/gateway-2")]
            )
            core.commit([core.sandbox.transaction("nbc", [rotate])])
            assert await _lookup(wing, "aclb/gateway-2", clock) == 403  # the listing is cached
            clock.now_ms += CACHE_MS
            assert await _lookup(wing, "aclb/gateway-2", clock) == 404
            assert await _lookup(wing, "aclb/gateway", clock) == 403  # the central bank removed it

    asyncio.run(scenario())


def test_a_suspended_banks_key_is_not_trusted(core: Core, tmp_path: Path) -> None:
    clock = Clock()
    wing = _services(core, tmp_path, "wing", clock)
    suspend = update_participant(
        "abaa", "ABAA", [admin_key("abaa")], status="suspended", gateway_keys=[gateway_key("abaa")]
    )
    core.commit([core.sandbox.transaction("nbc", [suspend])])

    async def scenario() -> None:
        async with wing.core:
            assert await _lookup(wing, "abaa/gateway", clock) == 403
            assert await _lookup(wing, "aclb/gateway", clock) == 404

    asyncio.run(scenario())


def test_a_send_only_banks_key_is_still_trusted(core: Core, tmp_path: Path) -> None:
    """Send-only restricts which way its payments go on the ledger, not whom others trust."""
    clock = Clock()
    wing = _services(core, tmp_path, "wing", clock)
    restrict = update_participant(
        "abaa", "ABAA", [admin_key("abaa")], status="send_only", gateway_keys=[gateway_key("abaa")]
    )
    core.commit([core.sandbox.transaction("nbc", [restrict])])

    async def scenario() -> None:
        async with wing.core:
            assert await _lookup(wing, "abaa/gateway", clock) == 404

    asyncio.run(scenario())


def test_with_the_core_unreachable_no_key_is_trusted_and_the_config_gives_urls(
    core: Core, tmp_path: Path
) -> None:
    clock = Clock()
    wing = _services(core, tmp_path, "wing", clock)
    wing.core = Client("http://127.0.0.1:9", gateway_key("wing"), chain_id=core.sandbox.chain_id)
    wing.config = msgspec.structs.replace(wing.config, directory={"aclb": "https://gw.aclb.test"})

    async def scenario() -> None:
        async with wing.core:
            assert await _lookup(wing, "aclb/gateway", clock) == 503
            directory = ParticipantDirectory(wing.core)
            assert await directory.entries(clock()) is None
            assert await directory.trusts(clock(), gateway_key("aclb").public_key) is None
            assert await directory.gateway_url(wing, "aclb") == "https://gw.aclb.test"

    asyncio.run(scenario())
