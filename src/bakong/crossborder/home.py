"""A link's home directory: its configuration, its corridors, the chain's genesis, its keys.

    DIR/config.toml      [link] participant, core_url, database, listen, name
                         [corridors.<name>] family, switch_url, switch_key, rate, spread_bps,
                         quote_ms, hold_ms, payment_khr_max, daily_khr_max
    DIR/genesis.json     the chain's genesis: the root of the stream's verification
    DIR/gateway-key.json the participant's gateway key: signs requests to the core (and the
                         stream), and is the key gateways address their requests to
    DIR/admin-key.json   the participant's admin key: signs its commands, and is the signatory
                         of its link accounts (posts, voids and payouts are signed with it)
    DIR/iso-key.json     signs the ISO messages to the foreign switches (they hold its public
                         key, `bakong link key`)
    DIR/link.db          the SQLite store, unless `database` names a PostgreSQL URL

A corridor is one foreign switch and one currency. Its name is also the name of its ledger
account: corridor `thai` of link `xlnk` keeps its riel liquidity in `thai@xlnk` (one account
per corridor, so a corridor's position and reconciliation read one account). `family` fixes
the currency and the QR schemes it pays (`FAMILIES`). `rate` is the starting rate (riel per
major unit); the operator moves it with `bakong link rate`, which the store keeps.

The participant is one of the genesis, or one the central bank registered since
(`register_participant`, as `bakong demo` admits `xlnk`): a code not in the genesis is looked
up through the node API with the link's gateway key when the home is written or read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import httpx
import msgspec

from bakong import limits
from bakong.crossborder.messages import MINOR_UNITS, parse_key_id
from bakong.crossborder.quote import parse_rate
from bakong.errors import ConfigError, RemoteError
from bakong.keystore import generate_key, read_key_file, write_key_file
from bakong.ledger.genesis import GenesisFile, decode_genesis
from bakong.ledger.identifiers import account_id, is_account_id, is_participant_code
from bakong.node.home import read_config_and_genesis
from bakong.wire.keys import SigningKey

__all__ = [
    "FAMILIES",
    "Corridor",
    "Family",
    "LinkConfig",
    "LinkHome",
    "LinkSection",
    "format_config",
    "init_home",
    "ledger_lookup",
    "load_home",
]

DEFAULT_LISTEN = "127.0.0.1:8490"


@dataclass(frozen=True)
class Family:
    currency: str
    country: str
    schemes: tuple[str, ...]  # `bakong.khqr.parse` scheme names this corridor pays

    @property
    def exponent(self) -> int:
        return MINOR_UNITS[self.currency]


FAMILIES: Final = {
    "thai": Family("THB", "TH", ("promptpay",)),
    "vietnam": Family("VND", "VN", ("vietqr",)),
    "malaysia": Family("MYR", "MY", ("duitnow",)),
    "laos": Family("LAK", "LA", ("laoqr",)),
    "china": Family("CNY", "CN", ("unionpay", "alipayplus")),
}


class LinkSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    participant: str
    core_url: str
    database: str = ""  # empty: the SQLite file link.db in the home
    listen: str = DEFAULT_LISTEN
    name: str = "Bakong cross-border link"  # the debtor agent's name in a pacs.008


class Corridor(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    family: Literal["thai", "vietnam", "malaysia", "laos", "china"]
    switch_url: str
    switch_key: str  # the switch's Ed25519 public key, hex
    rate: str  # riel per major unit, the starting rate
    spread_bps: int = 50
    quote_ms: int = limits.link_quote_ms_default
    hold_ms: int = limits.link_hold_ms_default
    payment_khr_max: int = 10_000_000
    daily_khr_max: int = 1_000_000_000

    @property
    def currency(self) -> str:
        return FAMILIES[self.family].currency

    @property
    def exponent(self) -> int:
        return FAMILIES[self.family].exponent

    @property
    def public_key(self) -> bytes:
        return parse_key_id(self.switch_key)


class LinkConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    link: LinkSection
    corridors: dict[str, Corridor] = msgspec.field(default_factory=dict)


@dataclass(frozen=True)
class LinkHome:
    path: Path
    config: LinkConfig
    genesis: GenesisFile
    gateway_key: SigningKey
    admin_key: SigningKey
    iso_key: SigningKey

    @property
    def participant(self) -> str:
        return self.config.link.participant

    @property
    def database_url(self) -> str:
        return self.config.link.database or f"sqlite:///{self.path / 'link.db'}"

    def account(self, corridor: str) -> str:
        return account_id(corridor, self.participant)


def _toml(value: str | int) -> str:
    return msgspec.json.encode(value).decode()


def format_config(config: LinkConfig) -> str:
    """The TOML text of `config`."""
    lines = ["[link]"]
    for field in msgspec.structs.fields(LinkSection):
        lines.append(f"{field.name} = {_toml(getattr(config.link, field.name))}")
    for name, corridor in sorted(config.corridors.items()):
        lines += ["", f"[corridors.{name}]"]
        for field in msgspec.structs.fields(Corridor):
            lines.append(f"{field.name} = {_toml(getattr(corridor, field.name))}")
    return "\n".join(lines) + "\n"


def _check_corridor(name: str, corridor: Corridor, participant: str) -> None:
    where = f"[corridors.{name}]"
    if not is_account_id(f"{name}@{participant}"):
        raise ConfigError(f"{where}: a corridor's name is also its account's: [a-z0-9_]")
    if not corridor.switch_url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: switch_url is an http:// or https:// URL")
    try:
        corridor.public_key  # noqa: B018 - parsed to check it
        parse_rate(corridor.rate)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None
    if not 0 <= corridor.spread_bps <= limits.link_spread_bps_max:
        raise ConfigError(f"{where}: spread_bps is 0 to {limits.link_spread_bps_max}")
    if not 0 < corridor.quote_ms <= limits.foreign_quote_lifetime_ms_max:
        raise ConfigError(f"{where}: quote_ms is 1 to {limits.foreign_quote_lifetime_ms_max}")
    if not corridor.quote_ms < corridor.hold_ms <= limits.bank_transfer_hold_ms_max:
        raise ConfigError(f"{where}: hold_ms is longer than quote_ms and within a day")
    if not 0 < corridor.payment_khr_max <= corridor.daily_khr_max:
        raise ConfigError(f"{where}: 0 < payment_khr_max <= daily_khr_max")


def check_config(config: LinkConfig, genesis: GenesisFile,
                 registered: Callable[[str], bool] | None = None) -> None:
    """`ConfigError` naming what is wrong. The participant is one of the genesis, or one the
    central bank admitted since, which `registered` (when given) asks the ledger about."""
    code = config.link.participant
    known = {participant.code for participant in genesis.participants}
    if not is_participant_code(code) or (
        code not in known and (registered is None or not registered(code))
    ):
        raise ConfigError(f"{code!r} is not a participant of chain {genesis.chain_id!r}")
    if not config.link.core_url.startswith(("http://", "https://")):
        raise ConfigError("core_url is an http:// or https:// URL")
    if len(config.corridors) > limits.link_corridors_max:
        raise ConfigError(f"a link runs at most {limits.link_corridors_max} corridors")
    for name, corridor in config.corridors.items():
        _check_corridor(name, corridor, code)


def load_home(path: Path) -> LinkHome:
    """Read and check a link home; `ConfigError` (or `KeyFileError`) names what is wrong."""
    config, genesis = read_config_and_genesis(path, LinkConfig)
    gateway_key = read_key_file(path / "gateway-key.json")
    check_config(config, genesis, ledger_lookup(config.link.core_url, genesis, gateway_key))
    return LinkHome(
        path=path,
        config=config,
        genesis=genesis,
        gateway_key=gateway_key,
        admin_key=read_key_file(path / "admin-key.json"),
        iso_key=read_key_file(path / "iso-key.json"),
    )


def ledger_lookup(core_url: str, genesis: GenesisFile,
                  key: SigningKey) -> Callable[[str], bool]:
    """Whether the ledger at `core_url` knows a participant, asked with `key` (the link's
    gateway key): for a link the central bank registered after the genesis. Blocking: call it
    outside an event loop. `ConfigError` when the core cannot be asked."""

    def registered(code: str) -> bool:
        from bakong.client import Client, SyncClient
        from bakong.client.errors import ApiError, NotFound

        try:
            with SyncClient(Client(core_url, key, chain_id=genesis.chain_id)) as core:
                core.participant(code)
        except NotFound:
            return False
        except ApiError as error:
            if error.code == "unknown_caller":  # the link's key is no participant's (yet)
                return False
            raise ConfigError(f"{code!r} is not in the genesis and the core at {core_url} "
                              f"cannot say whether it was registered since: {error}") from None
        except (RemoteError, httpx.HTTPError) as error:
            raise ConfigError(f"{code!r} is not in the genesis and the core at {core_url} "
                              f"cannot say whether it was registered since: {error}") from None
        return True

    return registered


def _install_key(source: Path | None, target: Path) -> None:
    write_key_file(target, generate_key() if source is None else read_key_file(source))


def init_home(
    path: Path,
    config: LinkConfig,
    genesis_file: Path,
    *,
    gateway_key_file: Path | None = None,
    admin_key_file: Path | None = None,
    iso_key_file: Path | None = None,
) -> LinkHome:
    """Write a new home at `path` and return it loaded; keys not given are generated."""
    if (path / "config.toml").exists():
        raise ConfigError(f"{path} already holds a link (config.toml)")
    try:
        genesis_raw = genesis_file.read_bytes()
    except OSError as error:
        raise ConfigError(f"{genesis_file}: {error.strerror}") from None
    genesis = decode_genesis(genesis_raw)
    lookup = None if gateway_key_file is None else ledger_lookup(
        config.link.core_url, genesis, read_key_file(gateway_key_file))
    check_config(config, genesis, lookup)
    path.mkdir(parents=True, exist_ok=True)
    (path / "genesis.json").write_bytes(genesis_raw)
    _install_key(gateway_key_file, path / "gateway-key.json")
    _install_key(admin_key_file, path / "admin-key.json")
    _install_key(iso_key_file, path / "iso-key.json")
    (path / "config.toml").write_text(format_config(config))
    return load_home(path)
