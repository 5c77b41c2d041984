"""Fixtures of the foreign switch simulators' tests: one real `bakong foreign run` child per
family on a free loopback port, and `LinkSide`, the link's half of the protocol: requests
signed with the link's key, answers checked against the switch's key.

- `switch`: module-scoped and parametrised over the five families; killed at the end.
- `link_key`: the Ed25519 key the tests sign with as the link.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from bakong.crossborder.messages import (
    IsoError,
    decode,
    encode,
    get_signed_bytes,
    sign_body,
    verify_body,
)
from bakong.foreignsim.home import init_home
from bakong.foreignsim.process import SwitchProcess
from bakong.keystore import generate_key
from bakong.ports import loopback_port
from bakong.wire.keys import SigningKey

FAMILIES = ("thai", "vietnam", "malaysia", "laos", "china")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class LinkSide:
    """The link talking to one switch: `post`/`get` sign; answers are verified and decoded."""

    def __init__(self, switch: SwitchProcess, key: SigningKey) -> None:
        self.switch = switch
        self.key = key
        self.http = httpx.Client(base_url=switch.url, timeout=10.0)

    def post(
        self, path: str, message: msgspec.Struct, answer: type[Any], *, timeout: float = 10.0
    ) -> tuple[int, Any]:
        body = encode(message)
        headers = {**sign_body(self.key, body), "content-type": "application/json"}
        response = self.http.post(path, content=body, headers=headers, timeout=timeout)
        return self.read(response, answer)

    def get(self, path: str, answer: type[Any]) -> tuple[int, Any]:
        response = self.http.get(path, headers=sign_body(self.key, get_signed_bytes(path)))
        return self.read(response, answer)

    def read(self, response: httpx.Response, answer: type[Any]) -> tuple[int, Any]:
        signer = verify_body([self.switch.home.key.public_key], response.headers, response.content)
        assert signer == self.switch.home.key.public_key
        kind = IsoError if response.status_code >= 400 else answer
        return response.status_code, decode(response.content, kind)

    def sim(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.switch.home.secret.hex()}"}
        return self.http.request(method, path, headers=headers, **kwargs)

    def balances(self) -> dict[str, int]:
        found: dict[str, int] = self.sim("GET", "/sim/balances").json()["balances"]
        assert sum(found.values()) == 0  # books, rule 1: double entry
        return found

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="module")
def link_key() -> SigningKey:
    return generate_key()


def make_switch(home: Path, family: str, link_key: SigningKey, link_url: str) -> SwitchProcess:
    """A switch's home at `home` (not yet running) trusting `link_key`."""
    key_file = home.parent / f"{home.name}-link.pub"
    key_file.write_text(link_key.public_key.hex())
    init_home(home, family, link_url, key_file, listen=f"127.0.0.1:{loopback_port()}",
              now_ms=now_ms())  # fmt: skip
    return SwitchProcess(home)


@pytest.fixture(scope="module", params=FAMILIES)
def switch(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, link_key: SigningKey
) -> Iterator[SwitchProcess]:
    home = tmp_path_factory.mktemp(f"switch-{request.param}") / "home"
    process = make_switch(home, request.param, link_key, "http://127.0.0.1:9")
    process.start()
    try:
        process.wait_healthy()
        yield process
    finally:
        process.kill()


@pytest.fixture
def link(switch: SwitchProcess, link_key: SigningKey) -> Iterator[LinkSide]:
    side = LinkSide(switch, link_key)
    switch.set_fault("")
    if not switch.running():
        switch.start()
        switch.wait_healthy()
    try:
        yield side
    finally:
        side.close()
        switch.set_fault("")
