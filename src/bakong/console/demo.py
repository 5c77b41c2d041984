"""The console of `bakong demo`: the central bank's console beside the local network's gateways.

`start_demo_console(network, stack, known, tls)` writes the console's home once
(`NETWORK/console`: the local network's first node, its genesis, the central bank's admin key
`keys/nbc-admin.json`, a free loopback port, SQLite), makes its demo staff, starts `bakong
console run` as a child process (HTTPS with the network's loopback certificate when given),
waits until it answers, and returns what `demo.json` keeps under `"console"`:
`{"url", "staff": [{"user", "password", "role"}]}`.

Rules:
- Staff are kept while their passwords still match (a resumed demo prints the same ones);
  a member whose password no longer matches, or who is missing, is made anew with a fresh
  generated password, under a suffixed name when the name is taken.
- The process is entered in `stack`, so leaving it (Ctrl-C) stops the console.
"""

from __future__ import annotations

import os
import secrets
import signal
import ssl
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bakong import lifeline, limits
from bakong.console import staff, store
from bakong.console.home import ConsoleHome, ConsoleSection, init_home, load_home
from bakong.errors import ConfigError
from bakong.gateway import pins
from bakong.gateway.problems import GatewayProblem
from bakong.gateway.processes import TlsFiles
from bakong.ports import loopback_port

__all__ = ["DEMO_STAFF", "ConsoleProcess", "start_demo_console"]

#: The demo's staff: two supervisors, so one may approve what the other proposed.
DEMO_STAFF = (
    ("operator", "operator"),
    ("supervisor", "supervisor"),
    ("supervisor2", "supervisor"),
    ("auditor", "auditor"),
)


def _home(network: Path) -> ConsoleHome:
    home = network / "console"
    if (home / "config.toml").exists():
        return load_home(home)
    from bakong.node.localnet import Localnet

    node_url = Localnet(network).children[0].api_url
    section = ConsoleSection(node_url=node_url, listen=f"127.0.0.1:{loopback_port()}")
    return init_home(home, section, network / "genesis.json", network / "keys" / "nbc-admin.json")


def _matches(engine: sa.Engine, member: Any) -> bool:
    if not isinstance(member, dict):
        return False
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(store.staff.c.password_hash, store.staff.c.role).where(
                store.staff.c.name == str(member.get("user"))
            )
        ).first()
    return (
        row is not None
        and row.role == member.get("role")
        and pins.pin_matches(row.password_hash, str(member.get("password", "")))
    )


def _kept(engine: sa.Engine, known: list[Any], name: str, role: str) -> dict[str, str] | None:
    """The member of an earlier demo.json for `name` (perhaps suffixed) whose password matches."""
    for member in known:
        if not isinstance(member, dict) or member.get("role") != role:
            continue
        user = str(member.get("user", ""))
        if (user == name or user.startswith(name + "-")) and _matches(engine, member):
            return {"user": user, "password": str(member["password"]), "role": role}
    return None


def _add(engine: sa.Engine, name: str, role: str) -> dict[str, str]:
    password = staff.generate_password(os.urandom)
    now_ms = time.time_ns() // 1_000_000
    try:
        staff.add_staff(engine, name, role, password, now_ms)
    except GatewayProblem as problem:
        if problem.code != "staff_exists":
            raise
        name = f"{name}-{secrets.token_hex(2)}"  # the member of a lost demo.json
        staff.add_staff(engine, name, role, password, now_ms)
    return {"user": name, "password": password, "role": role}


def _staff(home: ConsoleHome, known: list[Any]) -> list[dict[str, str]]:
    engine = store.engine_for(home.database_url)
    try:
        store.migrate(engine)
        return [
            _kept(engine, known, name, role) or _add(engine, name, role)
            for name, role in DEMO_STAFF
        ]
    finally:
        engine.dispose()


class ConsoleProcess:
    """One `bakong console run` child on a prepared home."""

    def __init__(self, home: ConsoleHome, tls: TlsFiles | None = None) -> None:
        self.home = home
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://{home.config.console.listen}"

    def start(self) -> None:
        command = [sys.executable, "-m", "bakong", "console", "run", "--home", str(self.home.path)]
        if self.tls is not None:
            command += ["--cert", str(self.tls.certificate), "--key", str(self.tls.key)]
        with open(self.home.path / "console.log", "ab") as output:
            self.process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                **lifeline.child_options(),
            )  # fmt: skip

    def wait_healthy(self, timeout_s: float = limits.local_gateway_start_timeout_s) -> None:
        verify: bool | ssl.SSLContext = True
        if self.tls is not None:
            verify = ssl.create_default_context(cafile=str(self.tls.authority))
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0, verify=verify) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    break
                try:
                    if client.get(self.url + "/healthz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        raise ConfigError(f"the console did not start: see {self.home.path / 'console.log'}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after `limits.localnet_stop_grace_s`."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(limits.localnet_stop_grace_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_demo_console(
    network: Path, stack: ExitStack, known: Any = None, tls: TlsFiles | None = None
) -> dict[str, Any]:
    """Start the demo's console (module docstring); what `demo.json` keeps of it."""
    home = _home(network)
    previous = known.get("staff", []) if isinstance(known, dict) else []
    members = _staff(home, previous if isinstance(previous, list) else [])
    process = ConsoleProcess(home, tls)
    stack.callback(process.stop)
    process.start()
    process.wait_healthy()
    return {"url": process.url, "staff": members}
