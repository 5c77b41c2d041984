"""The gateway as a service: its home, its own endpoints, and `bakong gateway init/run`.

The last test runs the real command line in child processes against a real core on loopback:
`init` writes a home from a genesis and key files, `run` serves HTTPS with a throwaway CA's
certificate, prints where it listens, applies the core's blocks, and stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import trustme
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bakong.errors import ConfigError, KeyFileError
from bakong.gateway.app import create_app
from bakong.gateway.home import GatewayConfig, GatewaySection, init_home, load_home
from bakong.gateway.openapi import describe
from bakong.gateway.problems import GatewayProblem, json_response, read_json
from bakong.gateway.service import GatewayServices
from bakong.keystore import write_key_file
from bakong.ledger.assets import Asset
from bakong.ledger.genesis import encode_genesis
from tests.gateway.conftest import Core, admin_key, gateway_key

WAIT_S = 20.0


def _home_files(tmp_path: Path, core: Core) -> tuple[Path, Path, Path]:
    genesis = tmp_path / "genesis.json"
    genesis.write_bytes(encode_genesis(core.sandbox.genesis))
    gateway, admin = tmp_path / "aclb-gateway.json", tmp_path / "aclb-admin.json"
    write_key_file(gateway, gateway_key())
    write_key_file(admin, admin_key())
    return genesis, gateway, admin


def test_a_home_is_written_once_and_its_secrets_stay_private(tmp_path: Path, core: Core) -> None:
    genesis, gateway, admin = _home_files(tmp_path, core)
    config = GatewayConfig(GatewaySection("aclb", core.url), {"wing": "http://wing.test"})
    home = init_home(
        tmp_path / "home", config, genesis, gateway_key_file=gateway, admin_key_file=admin
    )
    assert home.gateway_key.public_key == gateway_key().public_key
    assert home.config == config and home.database_url.endswith("/home/gateway.db")
    assert load_home(tmp_path / "home").kek == home.kek and len(home.alias_key) == 32
    with pytest.raises(ConfigError):
        init_home(tmp_path / "home", config, genesis)
    os.chmod(tmp_path / "home" / "kek.key", 0o644)
    with pytest.raises(KeyFileError):
        load_home(tmp_path / "home")
    stranger = GatewayConfig(GatewaySection("nobank", core.url))
    with pytest.raises(ConfigError):
        init_home(tmp_path / "other", stranger, genesis)
    generated = init_home(tmp_path / "fresh", config, genesis)
    assert generated.gateway_key.public_key != gateway_key().public_key


def _echo_routes(services: GatewayServices) -> list[Route]:
    import msgspec

    class Pay(msgspec.Struct, forbid_unknown_fields=True):
        amount: int

    async def pay(request: Request) -> Response:
        """Pay an amount (test route)."""
        body = await read_json(request, Pay, 64)
        if body.amount <= 0:
            raise GatewayProblem(400, "amount_must_be_positive", "pay more than nothing")
        return json_response({"amount": body.amount})

    async def boom(request: Request) -> Response:
        """Fail (test route)."""
        raise RuntimeError("secret +85512345678")

    describe(pay, body=Pay)
    return [Route("/v1/pay/{account_id}", pay, methods=["POST"]), Route("/boom", boom)]


def test_own_endpoints_errors_metrics_and_the_openapi_document(
    services: GatewayServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tests.gateway.test_service as this

    monkeypatch.setattr(this, "routes", _echo_routes, raising=False)
    app = create_app(services, route_modules=["tests.gateway.test_service"], background=False)

    async def scenario() -> dict[str, httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            answers = {
                "health": await client.get("/healthz"),
                "ok": await client.post("/v1/pay/sokha@aclb", json={"amount": 5}),
                "zero": await client.post("/v1/pay/sokha@aclb", json={"amount": 0}),
                "typed": await client.post("/v1/pay/sokha@aclb", json={"amount": "5"}),
                "unknown": await client.post("/v1/pay/x@aclb", json={"amount": 5, "pin": "1"}),
                "large": await client.post("/v1/pay/x@aclb", content=b"{" + b" " * 100 + b"}"),
                "missing": await client.get("/nowhere"),
                "boom": await client.get("/boom"),
                "openapi": await client.get("/openapi.json"),
            }
            answers["metrics"] = await client.get("/metrics")
        await services.core.aclose()
        return answers

    answers = asyncio.run(scenario())
    assert answers["health"].json() == {"status": "ok", "core_reachable": True, "last_height": 0}
    assert answers["ok"].json() == {"amount": 5}
    codes = {name: answers[name].json()["error"]["code"] for name in
             ("zero", "typed", "unknown", "large", "missing", "boom")}  # fmt: skip
    assert codes == {
        "zero": "amount_must_be_positive",
        "typed": "bad_request",
        "unknown": "bad_request",
        "large": "body_too_large",
        "missing": "not_found",
        "boom": "internal",
    }
    assert "+855" not in answers["boom"].text
    document = answers["openapi"].json()
    operation = document["paths"]["/v1/pay/{account_id}"]["post"]
    assert operation["summary"] == "Pay an amount (test route)."
    assert "requestBody" in operation and "Pay" in document["components"]["schemas"]
    metrics = answers["metrics"].text
    assert 'route="/v1/pay/{account_id}",method="POST",status="200"} 1' in metrics
    assert "sokha" not in metrics and "bakong_gateway_height_blocks 0" in metrics


def test_gateway_init_and_run_over_https(tmp_path: Path, core: Core, database_url: str) -> None:
    genesis, gateway, admin = _home_files(tmp_path, core)
    home = tmp_path / "home"
    bakong = [sys.executable, "-m", "bakong", "gateway"]
    init = subprocess.run(
        [*bakong, "init", "--participant", "aclb", "--home", str(home), "--core", core.url,
         "--genesis", str(genesis), "--gateway-key", str(gateway), "--admin-key", str(admin),
         "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(init.stdout)["gateway_key"] == gateway_key().public_key.hex()
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    cert, key, bundle = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    certificate.cert_chain_pems[0].write_to_path(str(cert))
    certificate.private_key_pem.write_to_path(str(key))
    authority.cert_pem.write_to_path(str(bundle))
    sb = core.sandbox
    core.commit([sb.transaction("nbc", [sb.issue("aclb", Asset.KHR, 1_000, "r1")])])
    process = subprocess.Popen(
        [*bakong, "run", "--participant", "aclb", "--home", str(home), "--database",
         database_url, "--port", "0", "--cert", str(cert), "--key", str(key), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = json.loads(process.stdout.readline())["url"]
        assert url.startswith("https://127.0.0.1:")
        deadline = time.monotonic() + WAIT_S
        trusted = ssl.create_default_context(cafile=str(bundle))
        with httpx.Client(base_url=url, verify=trusted) as client:
            while (health := client.get("/healthz").json())["last_height"] < core.height:
                assert time.monotonic() < deadline, health
                time.sleep(0.05)
        assert health == {"status": "ok", "core_reachable": True, "last_height": core.height}
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=WAIT_S)
    assert process.returncode == 0, errors
    for line in errors.splitlines():  # structured logs: one JSON object a line
        assert isinstance(json.loads(line), dict), line
