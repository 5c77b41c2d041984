"""`bakong console run` as a process, as `bakong demo` starts it: the home written by
`init_home`, the demo's staff (kept on a resume while their passwords match), the child
serving its pages and following a real node API until SIGTERM."""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from bakong.console import demo, staff, store
from bakong.console.home import ConsoleSection, init_home
from bakong.keystore import write_key_file
from bakong.ledger.assets import Asset
from bakong.ledger.genesis import encode_genesis
from bakong.ports import loopback_port
from bakong.sandbox import sandbox_key
from tests.console.console_harness import core
from tests.gateway.conftest import Core

__all__ = ["core"]


def _home(tmp_path: Path, core: Core) -> Path:
    genesis, key = tmp_path / "genesis.json", tmp_path / "nbc-admin.json"
    genesis.write_bytes(encode_genesis(core.sandbox.genesis))
    write_key_file(key, sandbox_key("nbc/admin"))
    section = ConsoleSection(node_url=core.url, listen=f"127.0.0.1:{loopback_port()}")
    return init_home(tmp_path / "console", section, genesis, key).path


def test_the_demo_staff_are_kept_while_their_passwords_match(tmp_path: Path, core: Core) -> None:
    home = demo.load_home(_home(tmp_path, core))
    first = demo._staff(home, [])
    assert [(m["user"], m["role"]) for m in first] == list(demo.DEMO_STAFF)
    assert demo._staff(home, first) == first
    changed = [dict(m, password="not-the-password-any-more") for m in first]
    remade = demo._staff(home, changed)
    assert all(
        m["user"].startswith(f"{n}-") for m, (n, _) in zip(remade, demo.DEMO_STAFF, strict=True)
    )
    engine = store.engine_for(home.database_url)
    for member in remade:
        _, signed = staff.sign_in(engine, member["user"], member["password"], 1, os.urandom)
        assert signed.role == member["role"]
    engine.dispose()


def test_the_console_process_follows_and_serves(tmp_path: Path, core: Core) -> None:
    home = demo.load_home(_home(tmp_path, core))
    chain = core.sandbox
    height = core.commit(
        [chain.transaction("nbc", [chain.issue("aclb", Asset.USD, 7, "r")])]
    ).height
    with ExitStack() as stack:
        process = demo.ConsoleProcess(home)
        stack.callback(process.stop)
        process.start()
        process.wait_healthy()
        deadline = time.monotonic() + 10
        while True:
            health = httpx.get(process.url + "/healthz").json()
            if health["last_height"] >= height or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert health == {"status": "ok", "last_height": height, "following": True}
        assert httpx.get(process.url + "/signin").status_code == 200
        process.stop()
        assert process.process is not None and process.process.returncode == 0
