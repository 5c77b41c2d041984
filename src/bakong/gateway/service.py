"""`GatewayServices`: everything a route module needs, in one object passed to `routes()`.

Rules:
- Route modules reach the database, the core, the clock, randomness and the configuration
  only through this object, so tests assemble a gateway with an in-memory core, a fixed clock
  and seeded randomness, and nothing in a module reads the wall clock or `os.urandom` itself.
- The database is SQLAlchemy Core over a synchronous engine. Handlers call it through
  `services.db(fn, *args)`, which runs `fn` in a worker thread, so the event loop never
  blocks on a query.
- The core is one `bakong.client.Client` signing with the participant's gateway key; the
  admin key signs the participant's own commands (`create_account`, `register_alias`, ...).
- Modules that react to committed payments register on `services.hooks` (see
  `bakong.gateway.projection.ProjectionHooks`); modules that need a loop of their own (the
  webhook sender) register it in `services.workers`, which the app starts and stops.
- `services.sms_provider` is the real SMS provider an integrator plugs in (from a home, the
  `[sms]` table's HTTP provider, `bakong.gateway.sms_http`); without one the outbox table is
  the sink (`bakong.gateway.sms`).
- `services.waiters` parks each payment's sender until the projection applies the block that
  carries its transaction (`bakong.gateway.submission`, rule 5), so no request polls the core;
  `services.admissions` sends the signed bytes of every payment queued meanwhile in one request.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import anyio.to_thread
import httpx
from sqlalchemy.engine import Engine

from bakong.client import Client
from bakong.client.http import random_nonce, system_clock_ms
from bakong.gateway.corebanking.adapter import CoreBanking, core_banking_from_home
from bakong.gateway.crossborder.link import LinkClient, link_from_config
from bakong.gateway.home import GatewayConfig, GatewayHome
from bakong.gateway.observe import Metrics
from bakong.gateway.projection import ProjectionHooks
from bakong.gateway.sms import SmsProvider
from bakong.gateway.sms_http import sms_provider
from bakong.gateway.submission import Admissions, Waiters
from bakong.ledger.genesis import GenesisFile
from bakong.wire.keys import SigningKey

__all__ = ["GatewayServices", "Worker", "services_from_home"]

P = ParamSpec("P")
T = TypeVar("T")

#: A long-running task of the gateway (the projection, the webhook sender): started with the
#: app, cancelled at shutdown.
Worker = Callable[[], Awaitable[None]]


@dataclass
class GatewayServices:
    config: GatewayConfig
    genesis: GenesisFile
    engine: Engine
    core: Client
    gateway_key: SigningKey
    admin_key: SigningKey
    kek: bytes  # the key-encryption key: custodial wallet keys are sealed under it
    alias_key: bytes  # HMAC key of phone aliases (`bakong.client.builders.alias_hash`)
    clock_ms: Callable[[], int] = system_clock_ms
    random_bytes: Callable[[int], bytes] = os.urandom
    nonces: Callable[[], int] = random_nonce
    hooks: ProjectionHooks = field(default_factory=ProjectionHooks)
    waiters: Waiters = field(default_factory=Waiters)  # senders parked until their block
    admissions: Admissions = field(default_factory=Admissions)  # sends to the core, batched
    workers: list[Worker] = field(default_factory=list)
    metrics: Metrics = field(default_factory=Metrics)
    sms_provider: SmsProvider | None = None  # None: the outbox is the sink (`sms`)
    core_banking: CoreBanking | None = None  # the bank's core system (`corebanking`), if any
    link: LinkClient | None = None  # the cross-border link (`crossborder`), if any

    @property
    def participant(self) -> str:
        return self.config.gateway.participant

    @property
    def chain_id(self) -> str:
        return self.genesis.chain_id

    async def db(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking database function in a worker thread."""
        return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))

    async def aclose(self) -> None:
        await self.core.aclose()
        self.engine.dispose()


def services_from_home(
    home: GatewayHome,
    engine: Engine,
    *,
    core_transport: httpx.AsyncBaseTransport | None = None,
) -> GatewayServices:
    """The services of a gateway run from `home`, over `engine` (already migrated)."""
    core = Client(
        home.config.gateway.core_url,
        home.gateway_key,
        chain_id=home.genesis.chain_id,
        transport=core_transport,
    )
    return GatewayServices(
        config=home.config,
        genesis=home.genesis,
        engine=engine,
        core=core,
        gateway_key=home.gateway_key,
        admin_key=home.admin_key,
        kek=home.kek,
        alias_key=home.alias_key,
        sms_provider=sms_provider(home.config.sms, home.path),  # None: the outbox is the sink
        core_banking=core_banking_from_home(home.config.core_banking, home.path),
        link=link_from_config(home.config.crossborder, home.gateway_key, home.genesis.chain_id),
    )
