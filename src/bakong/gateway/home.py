"""A gateway's home directory: its configuration, the chain's genesis, and its secrets.

    DIR/config.toml        [gateway] participant, core_url, database, listen, public_url;
                           [directory] other participants' gateway URLs (code = "URL")
                           [ussd] the USSD service, if any (`bakong.gateway.ussd.config`)
                           [claims], [agents] claim period, agents' caps (`cash_config`)
                           [kyc] the face distance threshold (`kyc.config`)
                           [sms] an HTTP SMS provider, if any, and its token file (`sms_http`)
                           [core_banking] the bank's core system (`corebanking.config`)
                           [crossborder] the cross-border link (`crossborder.config`)
    DIR/genesis.json       the chain's genesis: the root of the stream's verification
    DIR/gateway-key.json   signs the gateway's API requests to the core (a participant gateway key)
    DIR/admin-key.json     signs the participant's commands (create_account, register_alias, ...)
    DIR/kek.key            the key-encryption key: seals custodial wallet keys (64 hex digits)
    DIR/alias.key          the alias HMAC key shared by participants out of band (64 hex digits)
    DIR/gateway.db         the SQLite store, unless `database` names a PostgreSQL URL

Rules:
- Every secret file is created with mode 0600 (never briefly readable by others) and refused
  on reading when group or others may read it, as ssh refuses an open private key.
- `init_home` writes into a directory without a config.toml and never overwrites a secret: the
  keys are taken from files (a localnet's `keys/<code>-gateway.json` and `-admin.json`) or
  generated from the operating system's randomness; the alias key likewise (every gateway
  of a chain must hold the same one, so generating one is only right for the first).
- Files are bounded before they are parsed; a wrong file is a `ConfigError` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import msgspec
import nacl.secret
import nacl.utils

from bakong import limits
from bakong.errors import ConfigError, KeyFileError
from bakong.gateway.cash_config import AgentsConfig, ClaimsConfig, check_cash, format_cash
from bakong.gateway.corebanking.config import (
    CoreBankingConfig,
    check_core_banking,
    format_core_banking,
)
from bakong.gateway.crossborder.config import (
    CrossborderConfig,
    check_crossborder,
    format_crossborder,
)
from bakong.gateway.kyc.config import KycConfig, check_kyc, format_kyc
from bakong.gateway.sms_http import SmsConfig, check_sms, format_sms
from bakong.gateway.ussd.config import UssdConfig, check_ussd, format_ussd
from bakong.keystore import (
    generate_key,
    read_key_file,
    read_private_file,
    write_key_file,
    write_private_file,
)
from bakong.ledger.genesis import GenesisFile, decode_genesis
from bakong.ledger.identifiers import is_participant_code
from bakong.node.home import read_config_and_genesis
from bakong.wire.keys import SigningKey

__all__ = [
    "GatewayConfig",
    "GatewayHome",
    "GatewaySection",
    "format_config",
    "init_home",
    "load_home",
    "read_secret",
    "write_secret",
]

# The key-encryption key is an XSalsa20-Poly1305 key; the alias HMAC key is as long.
SECRET_SIZE = nacl.secret.SecretBox.KEY_SIZE
DEFAULT_LISTEN = "127.0.0.1:8480"


class GatewaySection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    participant: str
    core_url: str
    database: str = ""  # empty: the SQLite file gateway.db in the home
    listen: str = DEFAULT_LISTEN
    public_url: str = ""  # where other gateways and merchants reach this one, if not `listen`


class GatewayConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    gateway: GatewaySection
    directory: dict[str, str] = msgspec.field(default_factory=dict)
    ussd: UssdConfig = msgspec.field(default_factory=UssdConfig)  # `ussd.config`
    claims: ClaimsConfig = msgspec.field(default_factory=ClaimsConfig)  # `cash_config`
    agents: AgentsConfig = msgspec.field(default_factory=AgentsConfig)
    kyc: KycConfig = msgspec.field(default_factory=KycConfig)  # `kyc.config`
    sms: SmsConfig = msgspec.field(default_factory=SmsConfig)  # `sms_http`
    core_banking: CoreBankingConfig = msgspec.field(default_factory=CoreBankingConfig)
    crossborder: CrossborderConfig = msgspec.field(default_factory=CrossborderConfig)


@dataclass(frozen=True)
class GatewayHome:
    path: Path
    config: GatewayConfig
    genesis: GenesisFile
    gateway_key: SigningKey
    admin_key: SigningKey
    kek: bytes
    alias_key: bytes

    @property
    def database_url(self) -> str:
        return self.config.gateway.database or f"sqlite:///{self.path / 'gateway.db'}"


def write_secret(path: Path, secret: bytes) -> None:
    """Write `secret` as hex to a new file of mode 0600."""
    write_private_file(path, secret.hex().encode() + b"\n")


def read_secret(path: Path) -> bytes:
    """A secret file of `SECRET_SIZE` in hex, refused if others may read it."""
    raw = read_private_file(path)
    if len(raw) > limits.gateway_key_file_bytes_max:
        raise KeyFileError("key_file_malformed", f"{path} is too large")
    try:
        secret = bytes.fromhex(raw.decode().strip())
    except (UnicodeDecodeError, ValueError):
        secret = b""
    if len(secret) != SECRET_SIZE:
        raise KeyFileError("key_file_malformed", f"{path} is not {2 * SECRET_SIZE} hex digits")
    return secret


def _toml_string(value: str) -> str:
    # A TOML basic string takes JSON's escapes.
    return msgspec.json.encode(value).decode()


def format_config(config: GatewayConfig) -> str:
    """The TOML text of `config`."""
    lines = ["[gateway]"]
    for field in msgspec.structs.fields(GatewaySection):
        lines.append(f"{field.name} = {_toml_string(getattr(config.gateway, field.name))}")
    lines += ["", "[directory]"]
    lines += [f"{code} = {_toml_string(url)}" for code, url in sorted(config.directory.items())]
    lines += format_ussd(config.ussd)
    lines += format_cash(config.claims, config.agents)
    lines += format_kyc(config.kyc)
    lines += format_sms(config.sms)
    lines += format_core_banking(config.core_banking)
    lines += format_crossborder(config.crossborder)
    return "\n".join(lines) + "\n"


def _check_config(config: GatewayConfig, genesis: GenesisFile) -> None:
    code = config.gateway.participant
    known = {participant.code for participant in genesis.participants}
    if not is_participant_code(code) or code not in known:
        raise ConfigError(f"{code!r} is not a participant of chain {genesis.chain_id!r}")
    if not config.gateway.core_url.startswith(("http://", "https://")):
        raise ConfigError("core_url is an http:// or https:// URL")
    for other, url in config.directory.items():
        if not is_participant_code(other) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"[directory] {other} = {url!r}: a participant code and a URL")
    check_ussd(config.ussd, code, genesis)
    check_cash(config.claims, config.agents)
    check_kyc(config.kyc)
    check_sms(config.sms)
    check_core_banking(config.core_banking)
    check_crossborder(config.crossborder)


def load_home(path: Path) -> GatewayHome:
    """Read and check a gateway home; `ConfigError` (or `KeyFileError`) names what is wrong."""
    config, genesis = read_config_and_genesis(path, GatewayConfig)
    _check_config(config, genesis)
    return GatewayHome(
        path=path,
        config=config,
        genesis=genesis,
        gateway_key=read_key_file(path / "gateway-key.json"),
        admin_key=read_key_file(path / "admin-key.json"),
        kek=read_secret(path / "kek.key"),
        alias_key=read_secret(path / "alias.key"),
    )


def _install_key(source: Path | None, target: Path) -> None:
    key = generate_key() if source is None else read_key_file(source)
    write_key_file(target, key)


def init_home(
    path: Path,
    config: GatewayConfig,
    genesis_file: Path,
    *,
    gateway_key_file: Path | None = None,
    admin_key_file: Path | None = None,
    alias_key_file: Path | None = None,
) -> GatewayHome:
    """Write a new home at `path` and return it loaded. Keys not given are generated."""
    if (path / "config.toml").exists():
        raise ConfigError(f"{path} already holds a gateway (config.toml)")
    try:
        genesis_raw = genesis_file.read_bytes()
    except OSError as error:
        raise ConfigError(f"{genesis_file}: {error.strerror}") from None
    _check_config(config, decode_genesis(genesis_raw))
    path.mkdir(parents=True, exist_ok=True)
    (path / "genesis.json").write_bytes(genesis_raw)
    _install_key(gateway_key_file, path / "gateway-key.json")
    _install_key(admin_key_file, path / "admin-key.json")
    write_secret(path / "kek.key", nacl.utils.random(SECRET_SIZE))
    alias_key = (
        nacl.utils.random(SECRET_SIZE) if alias_key_file is None else read_secret(alias_key_file)
    )
    write_secret(path / "alias.key", alias_key)
    (path / "config.toml").write_text(format_config(config))
    return load_home(path)
