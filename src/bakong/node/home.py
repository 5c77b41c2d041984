"""A validator's home directory and its configuration file.

    DIR/genesis.json   the chain's genesis (`bakong.ledger.genesis`), identical on every node
    DIR/node_key.json  this validator's Ed25519 key (mode 0600; `bakong.keystore`)
    DIR/config.toml    the settings below
    DIR/data/          the LMDB store (`bakong.node.store`)
    DIR/node.log       what `bakong node run` logs
    DIR/seen_requests/ the API's replay window of signed requests (`bakong.node.seen_requests`)

`config.toml` holds one table per concern. Every value has a default except the listen
addresses and the peers; unknown keys are refused, so a typo is an error and not a silently
ignored setting.

    [node]
    name = "validator-0"
    p2p_listen = "127.0.0.1:26656"
    api_listen = "127.0.0.1:26657"
    [[peers]]
    public_key = "<64 hex>"
    address = "127.0.0.1:26666"
    [consensus]    # timeout_propose_ms, timeout_prevote_ms, timeout_precommit_ms, timeout_delta_ms
    [blocks]       # txs_max, interval_ms (batching under load), heartbeat_ms (empty blocks)
    [mempool]      # txs_max, bytes_max, verify_workers ("auto", the default; 0: inline; N)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

import msgspec

from bakong import limits
from bakong.consensus.round import Timeouts
from bakong.errors import ConfigError
from bakong.keystore import read_key_file
from bakong.ledger.genesis import GenesisFile, decode_genesis
from bakong.wire.keys import SigningKey

__all__ = [
    "Home",
    "NodeConfig",
    "PeerConfig",
    "format_config",
    "load_home",
    "parse_address",
    "verify_workers_for",
    "read_config_and_genesis",
]


class NodeSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    p2p_listen: str
    api_listen: str


class PeerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    public_key: str
    address: str


class ConsensusSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    timeout_propose_ms: int = limits.timeout_propose_ms_base
    timeout_prevote_ms: int = limits.timeout_prevote_ms_base
    timeout_precommit_ms: int = limits.timeout_precommit_ms_base
    timeout_delta_ms: int = limits.timeout_ms_delta


class BlocksSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    txs_max: int = 2_000
    interval_ms: int = 100  # wait this long after a block before the next, to batch under load
    heartbeat_ms: int = 3_000  # an empty block this often when idle


class MempoolSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    txs_max: int = 50_000
    bytes_max: int = 64 * 2**20
    # Processes that verify signatures beside the event loop. "auto": one per core but the
    # event loop's (`verify_workers_for`), for a validator with a machine of its own. 0
    # verifies on the event loop: right for several validators sharing a machine (a local
    # network writes 0 for each).
    verify_workers: int | Literal["auto"] = "auto"


class NodeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    node: NodeSection
    peers: list[PeerConfig] = msgspec.field(default_factory=list)
    consensus: ConsensusSection = msgspec.field(default_factory=ConsensusSection)
    blocks: BlocksSection = msgspec.field(default_factory=BlocksSection)
    mempool: MempoolSection = msgspec.field(default_factory=MempoolSection)

    def __post_init__(self) -> None:
        if not 0 < self.blocks.txs_max <= limits.block_txs_max:
            raise ConfigError(f"blocks.txs_max must be in 1..{limits.block_txs_max}")
        if not 0 <= self.blocks.interval_ms < self.blocks.heartbeat_ms:
            raise ConfigError("blocks.interval_ms must be below blocks.heartbeat_ms")
        if self.mempool.txs_max < self.blocks.txs_max or self.mempool.bytes_max <= 0:
            raise ConfigError("the mempool must hold at least one block")
        workers, workers_max = self.mempool.verify_workers, limits.verify_workers_max
        if workers != "auto" and not 0 <= workers <= workers_max:
            raise ConfigError(f'mempool.verify_workers must be "auto" or 0..{workers_max}')
        for address in (self.node.p2p_listen, self.node.api_listen):
            parse_address(address)
        for peer in self.peers:
            parse_address(peer.address)
            if len(peer.public_key) != 64:
                raise ConfigError(f"peer key {peer.public_key!r} is not 64 hex digits")

    @property
    def timeouts(self) -> Timeouts:
        c = self.consensus
        return Timeouts(
            c.timeout_propose_ms, c.timeout_prevote_ms, c.timeout_precommit_ms, c.timeout_delta_ms
        )


def verify_workers_for(setting: int | Literal["auto"], cores: int) -> int:
    """The verifier's worker processes for `mempool.verify_workers` on `cores` usable cores."""
    if setting != "auto":
        return setting
    return max(0, min(cores - 1, limits.verify_workers_auto_max))


def parse_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"{text!r} is not host:port")
    return host, int(port)


def format_config(config: NodeConfig) -> str:
    """The TOML text of `config` (written by `bakong localnet`)."""
    lines = ["[node]"]
    for field in msgspec.structs.fields(NodeSection):
        lines.append(f'{field.name} = "{getattr(config.node, field.name)}"')
    for peer in config.peers:
        lines += ["", "[[peers]]", f'public_key = "{peer.public_key}"']
        lines.append(f'address = "{peer.address}"')
    for name in ("consensus", "blocks", "mempool"):
        section = getattr(config, name)
        lines += ["", f"[{name}]"]
        for field in msgspec.structs.fields(section):
            value = getattr(section, field.name)
            text = f'"{value}"' if isinstance(value, str) else str(value)  # "auto"
            lines.append(f"{field.name} = {text}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Home:
    path: Path
    config: NodeConfig
    genesis: GenesisFile
    key: SigningKey

    @property
    def data(self) -> Path:
        return self.path / "data"


C = TypeVar("C", bound=msgspec.Struct)


def read_config_and_genesis(path: Path, config_type: type[C]) -> tuple[C, GenesisFile]:
    """A service home's `config.toml` as `config_type` and its `genesis.json` (a validator's or
    a gateway's); `ConfigError` names what is wrong."""
    try:
        raw = (path / "config.toml").read_bytes()
        genesis_raw = (path / "genesis.json").read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: {error.strerror}: {error.filename}") from None
    if len(raw) > limits.config_bytes_max:
        raise ConfigError("config.toml is too large")
    try:
        config = msgspec.convert(tomllib.loads(raw.decode()), config_type)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, msgspec.ValidationError) as error:
        raise ConfigError(f"{path / 'config.toml'}: {error}") from None
    return config, decode_genesis(genesis_raw)


def load_home(path: Path) -> Home:
    """Read and check a home directory; `ConfigError` names what is wrong."""
    config, genesis = read_config_and_genesis(path, NodeConfig)
    key = read_key_file(path / "node_key.json")
    return Home(path, config, genesis, key)
