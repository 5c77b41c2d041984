"""What a running link holds: its home's config and keys, its store, its core client, its
switch clients, and the event that wakes payments waiting for the ledger.

Built once at start-up (`LinkServices.from_home`) inside the event loop that serves it (the
core and switch clients belong to that loop). `db(fn, ...)` runs a store call in a thread.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from bakong import limits
from bakong.client import Client
from bakong.crossborder.home import Corridor, LinkConfig, LinkHome
from bakong.crossborder.switch import SwitchClient
from bakong.gateway.parties import ParticipantDirectory
from bakong.ledger.genesis import GenesisFile
from bakong.ledger.identifiers import account_id, participant_of
from bakong.wire.keys import SigningKey

__all__ = ["LinkServices", "system_clock_ms"]

T = TypeVar("T")


def system_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def _random_nonce() -> int:
    return int.from_bytes(os.urandom(8), "big") >> 1


@dataclass
class LinkServices:
    config: LinkConfig
    genesis: GenesisFile
    engine: Engine
    core: Client
    gateway_key: SigningKey
    admin_key: SigningKey
    iso_key: SigningKey
    switches: dict[str, SwitchClient]
    clock_ms: Callable[[], int] = system_clock_ms
    random_bytes: Callable[[int], bytes] = os.urandom
    nonces: Callable[[], int] = _random_nonce
    progress: asyncio.Condition = field(default_factory=asyncio.Condition)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    directory: ParticipantDirectory | None = None
    hold_margin_ms: int = limits.link_hold_margin_ms  # tests of expiry shorten it

    def __post_init__(self) -> None:
        if self.directory is None:
            self.directory = ParticipantDirectory(self.core)

    @classmethod
    def from_home(cls, home: LinkHome, engine: Engine, **overrides: Any) -> LinkServices:
        core = Client(home.config.link.core_url, home.gateway_key,
                      chain_id=home.genesis.chain_id)  # fmt: skip
        switches = {
            name: SwitchClient(corridor.switch_url, corridor.public_key, home.iso_key)
            for name, corridor in home.config.corridors.items()
        }
        return cls(config=home.config, genesis=home.genesis, engine=engine, core=core,
                   gateway_key=home.gateway_key, admin_key=home.admin_key,
                   iso_key=home.iso_key, switches=switches, **overrides)  # fmt: skip

    @property
    def participant(self) -> str:
        return self.config.link.participant

    @property
    def chain_id(self) -> str:
        return self.genesis.chain_id

    def account(self, corridor: str) -> str:
        return account_id(corridor, self.participant)

    def corridor(self, name: str) -> Corridor:
        return self.config.corridors[name]

    def corridor_of_account(self, account: str) -> str | None:
        """The corridor whose ledger account `account` is, if it is one."""
        if participant_of(account) != self.participant:
            return None
        name = account.split("@", 1)[0]
        return name if name in self.config.corridors else None

    def is_link_account(self, account: str) -> bool:
        return "@" in account and self.corridor_of_account(account) is not None

    def lock(self, key: str) -> asyncio.Lock:
        found = self.locks.get(key)
        if found is None:
            found = self.locks[key] = asyncio.Lock()
        return found

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def announce(self) -> None:
        """A block was applied: wake whoever waits for the ledger."""
        async with self.progress:
            self.progress.notify_all()

    async def wait_progress(self, timeout_s: float) -> None:
        try:
            async with self.progress:
                await asyncio.wait_for(self.progress.wait(), timeout_s)
        except TimeoutError:
            pass

    async def aclose(self) -> None:
        for switch in self.switches.values():
            await switch.aclose()
        await self.core.aclose()
        self.locks.clear()
