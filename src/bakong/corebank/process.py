"""The sample core bank as a child process (`bakong corebank run`), for tests and the demo.

`CorebankProcess(home)` is a `ChildService` (start, wait for `/healthz`, stop, kill, start
again on the same home, port and database) that also flips the service's fault switch. Its
output goes to `corebank.log` in its home.
"""

from __future__ import annotations

from pathlib import Path

from bakong import limits
from bakong.child import ChildService
from bakong.corebank.home import load_home

__all__ = ["CorebankProcess"]


class CorebankProcess(ChildService):
    """One `bakong corebank run` child on a home (`database`: a URL other than the home's)."""

    def __init__(self, home: Path, *, database: str | None = None) -> None:
        self.home = load_home(home)
        self.database = database
        arguments = ["corebank", "run", "--home", str(self.home.path)]
        if database:
            arguments += ["--database", database]
        super().__init__(
            what=f"the core bank of {self.home.bank}",
            arguments=arguments,
            log=self.home.path / "corebank.log",
            url=f"http://{self.home.config.corebank.listen}",
            start_timeout_s=limits.corebank_start_timeout_s,
        )

    @property
    def secret(self) -> bytes:
        return self.home.secret

    def set_fault(self, fault: str) -> None:
        """Flip the running service's fault switch (`app`, rule 5); "" clears it."""
        if fault:
            self.home.fault_file.write_text(fault)
        else:
            self.home.fault_file.unlink(missing_ok=True)
