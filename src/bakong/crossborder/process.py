"""A link as a child process (`bakong link run`), for `bakong demo`.

`LinkProcess(home, url)` is a `ChildService` that is up once `GET /v1/link/key` answers. Its
output goes to `link.log` in its home.
"""

from __future__ import annotations

from pathlib import Path

from bakong import limits
from bakong.child import ChildService

__all__ = ["LinkProcess"]


class LinkProcess(ChildService):
    """One `bakong link run` child on a home that listens at `url`."""

    def __init__(self, home: Path, url: str, *, environment: dict[str, str] | None = None) -> None:
        self.home = home
        super().__init__(
            what="the link",
            arguments=["link", "run", "--home", str(home)],
            log=home / "link.log",
            url=url,
            start_timeout_s=limits.link_start_timeout_s,
            health_path="/v1/link/key",
            environment=environment,
        )
