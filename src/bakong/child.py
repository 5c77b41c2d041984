"""One of our own services run as a child process, for tests, crash tests and the demo.

A `ChildService` starts a `bakong ...` command in its own session (a Ctrl-C reaches the
supervisor, which stops the child) with a lifeline (`bakong.lifeline`: it stops if the
supervisor is killed), appends its output to a log file, waits until its health
route answers, stops it (SIGTERM, then SIGKILL after `limits.localnet_stop_grace_s`), kills it
outright (a crash) and starts it again with the same command. Every wait is bounded; a child
that does not come up is a `ConfigError` carrying the tail of its log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bakong import lifeline, limits
from bakong.errors import ConfigError

__all__ = ["ChildService"]


class ChildService:
    """`python -m bakong <arguments>` as a child that answers `url + health_path` when up."""

    def __init__(
        self,
        *,
        what: str,
        arguments: list[str],
        log: Path,
        url: str,
        start_timeout_s: float,
        health_path: str = "/healthz",
        environment: dict[str, str] | None = None,
    ) -> None:
        self.what = what  # for an error: "the link", "the core bank of aclb"
        self.arguments = arguments
        self.log = log
        self.url = url
        self.start_timeout_s = start_timeout_s
        self.health_path = health_path
        self.environment = environment or {}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bakong", *self.arguments],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                **lifeline.child_options({**os.environ, **self.environment}),
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_healthy(self, timeout_s: float | None = None) -> None:
        """Until the health route answers 200; `ConfigError` if the child exits or time runs out."""
        deadline = time.monotonic() + (timeout_s or self.start_timeout_s)
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline and self.running():
                try:
                    if client.get(self.url + self.health_path).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        tail = self.log.read_text(errors="replace")[-1_000:] if self.log.exists() else ""
        raise ConfigError(f"{self.what} did not start:\n{tail}")

    def wait_exit(self, timeout_s: float | None = None) -> int:
        assert self.process is not None
        return self.process.wait(timeout_s or self.start_timeout_s)

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        if self.running():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after `limits.localnet_stop_grace_s`."""
        if not self.running():
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(limits.localnet_stop_grace_s)
        except subprocess.TimeoutExpired:
            self.kill()
