"""A foreign switch simulator as a child process (`bakong foreign run`), for tests and the demo.

`SwitchProcess(home)` is a `ChildService` (start, wait for `/healthz`, stop, kill, wait for
it to die by itself under the `crash-after-credit` fault, start again on the same home and
port) that also flips the simulator's fault switch. Its output goes to `switch.log` in its
home.
"""

from __future__ import annotations

from pathlib import Path

from bakong import limits
from bakong.child import ChildService
from bakong.foreignsim.home import SimHome, load_home

__all__ = ["SwitchProcess"]


class SwitchProcess(ChildService):
    """One `bakong foreign run` child on a home."""

    def __init__(self, home: Path) -> None:
        self.home: SimHome = load_home(home)
        super().__init__(
            what=f"the {self.home.family.name} switch",
            arguments=["foreign", "run", "--home", str(self.home.path)],
            log=self.home.path / "switch.log",
            url=self.home.url,
            start_timeout_s=limits.foreignsim_start_timeout_s,
        )

    def set_fault(self, fault: str) -> None:
        """Flip the running switch's fault switch (`app`); "" clears it."""
        if fault:
            self.home.fault_file.write_text(fault)
        else:
            self.home.fault_file.unlink(missing_ok=True)
