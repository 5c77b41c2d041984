"""The console's home directory and the services its modules share.

    DIR/config.toml   [console] node_url, database, listen
    DIR/genesis.json  the chain's genesis: the root of the stream's verification
    DIR/key.json      the central bank's admin key: signs its API requests (the complete
                      stream) and the commands staff approve (issue, redeem, freeze)
    DIR/console.db    the SQLite store, unless `database` names a PostgreSQL URL
    DIR/analytics/    the chain's movements as Parquet files (`console.analytics`)

Rules:
- `init_home` writes into a directory without a config.toml; the key is copied from a file
  (a local network's `keys/nbc-admin.json`) with mode 0600, and must be an admin key of the
  genesis' central bank: a console of another key would follow a filtered stream and sign
  commands the ledger refuses.
- `ConsoleServices` is what every module takes: the engine, the node's client, the key, the
  clock. Its `db` runs a blocking database function in a worker thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, TypeVar

import anyio
import msgspec
from sqlalchemy.engine import Engine

from bakong.client import Client
from bakong.client.http import random_nonce, system_clock_ms
from bakong.errors import ConfigError
from bakong.keystore import read_key_file, write_key_file
from bakong.ledger.genesis import GenesisFile, decode_genesis
from bakong.node.home import read_config_and_genesis
from bakong.wire.keys import SigningKey

__all__ = [
    "ConsoleConfig",
    "ConsoleHome",
    "ConsoleSection",
    "ConsoleServices",
    "init_home",
    "load_home",
    "services_from_home",
]

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_LISTEN = "127.0.0.1:8490"


class ConsoleSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    node_url: str
    database: str = ""  # empty: the SQLite file console.db in the home
    listen: str = DEFAULT_LISTEN


class ConsoleConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    console: ConsoleSection


@dataclass(frozen=True)
class ConsoleHome:
    path: Path
    config: ConsoleConfig
    genesis: GenesisFile
    key: SigningKey

    @property
    def database_url(self) -> str:
        return self.config.console.database or f"sqlite:///{self.path / 'console.db'}"

    @property
    def analytics_dir(self) -> Path:
        """The Parquet files of `console.analytics`."""
        return self.path / "analytics"


def _check(config: ConsoleConfig, genesis: GenesisFile, key: SigningKey) -> None:
    if not config.console.node_url.startswith(("http://", "https://")):
        raise ConfigError("node_url is an http:// or https:// URL")
    if key.public_key.hex() not in genesis.central_bank.admin_keys:
        raise ConfigError("the key is not an admin key of the genesis' central bank")


def load_home(path: Path) -> ConsoleHome:
    """Read and check a console home; `ConfigError` names what is wrong."""
    config, genesis = read_config_and_genesis(path, ConsoleConfig)
    key = read_key_file(path / "key.json")
    _check(config, genesis, key)
    return ConsoleHome(path, config, genesis, key)


def _toml_string(value: str) -> str:
    return msgspec.json.encode(value).decode()  # a TOML basic string takes JSON's escapes


def init_home(
    path: Path, section: ConsoleSection, genesis_file: Path, key_file: Path
) -> ConsoleHome:
    """Write a new console home at `path` and return it loaded."""
    if (path / "config.toml").exists():
        raise ConfigError(f"{path} already holds a console (config.toml)")
    try:
        genesis_raw = genesis_file.read_bytes()
    except OSError as error:
        raise ConfigError(f"{genesis_file}: {error.strerror}") from None
    key = read_key_file(key_file)
    config = ConsoleConfig(section)
    _check(config, decode_genesis(genesis_raw), key)
    path.mkdir(parents=True, exist_ok=True)
    (path / "genesis.json").write_bytes(genesis_raw)
    write_key_file(path / "key.json", key)
    lines = ["[console]"]
    for name in ("node_url", "database", "listen"):
        lines.append(f"{name} = {_toml_string(getattr(section, name))}")
    (path / "config.toml").write_text("\n".join(lines) + "\n")
    return load_home(path)


@dataclass
class ConsoleServices:
    """What the console's modules share (module rules)."""

    genesis: GenesisFile
    engine: Engine
    node: Client
    key: SigningKey  # the central bank's admin key
    clock_ms: Callable[[], int] = system_clock_ms
    random_bytes: Callable[[int], bytes] = os.urandom
    nonces: Callable[[], int] = random_nonce
    secure_cookies: bool = False  # set when served over HTTPS
    following: bool = field(default=False)  # the follower's stream is open
    analytics_dir: Path | None = None  # the Parquet files of `console.analytics`; None: none

    @property
    def central_bank(self) -> str:
        return self.genesis.central_bank.code

    async def db(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking database function in a worker thread."""
        return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))

    async def aclose(self) -> None:
        await self.node.aclose()
        self.engine.dispose()


def services_from_home(home: ConsoleHome, engine: Engine) -> ConsoleServices:
    """The services of a console run from `home`, over `engine` (already migrated)."""
    node = Client(home.config.console.node_url, home.key, chain_id=home.genesis.chain_id)
    return ConsoleServices(
        genesis=home.genesis, engine=engine, node=node, key=home.key,
        analytics_dir=home.analytics_dir,
    )  # fmt: skip
