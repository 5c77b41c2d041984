"""The sample core bank as a child process (`bakong corebank run`), for tests and the demo.

`CorebankProcess(home)` starts it, waits until `/healthz` answers, stops it (SIGTERM, SIGKILL
after a grace period), kills it outright (crash tests) and starts it again on the same home,
port and database. Its output goes to `corebank.log` in its home; every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bakong import limits
from bakong.corebank.home import load_home
from bakong.errors import ConfigError

__all__ = ["CorebankProcess"]


class CorebankProcess:
    """One `bakong corebank run` child on a home (`database`: a URL other than the home's)."""

    def __init__(self, home: Path, *, database: str | None = None) -> None:
        self.home = load_home(home)
        self.database = database
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://{self.home.config.corebank.listen}"

    @property
    def secret(self) -> bytes:
        return self.home.secret

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        command = [sys.executable, "-m", "bakong", "corebank", "run", "--home",
                   str(self.home.path)]  # fmt: skip
        if self.database:
            command += ["--database", self.database]
        with open(self.home.path / "corebank.log", "ab") as output:
            self.process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=dict(os.environ), start_new_session=True,
            )  # fmt: skip

    def wait_healthy(self, timeout_s: float = limits.corebank_start_timeout_s) -> None:
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    break
                try:
                    if client.get(self.url + "/healthz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        log = self.home.path / "corebank.log"
        tail = log.read_text(errors="replace")[-1_000:] if log.exists() else ""
        raise ConfigError(f"the core bank of {self.home.bank} did not start:\n{tail}")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_exit(self, timeout_s: float = limits.corebank_start_timeout_s) -> int:
        assert self.process is not None
        return self.process.wait(timeout_s)

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        if self.running():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if not self.running():
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(limits.localnet_stop_grace_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def set_fault(self, fault: str) -> None:
        """Flip the running service's fault switch (`app`, rule 5); "" clears it."""
        if fault:
            self.home.fault_file.write_text(fault)
        else:
            self.home.fault_file.unlink(missing_ok=True)
