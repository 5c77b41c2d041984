"""A foreign switch simulator's home directory.

    DIR/config.toml   [switch] family, listen, link_url, link_public_key (hex)
    DIR/switch.key    the switch's Ed25519 signing key (mode 0600)
    DIR/switch.pub    its public key in hex: what the link configures as this switch's key
    DIR/sim.secret    the secret of the simulator's own API (`/sim/...`, tests and the demo)
    DIR/switch.db     the SQLite books (`books`)
    DIR/fault         a fault switch for tests, read on each pacs.008 (`app`)

`init_home` writes a new home with a fresh key and secret, the books with the family's sample
merchants, two funded wallets and the link's funded nostro, and refuses a directory that
already holds one. Files are bounded before they are parsed.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import msgspec
import nacl.utils
from sqlalchemy.engine import Engine

from bakong import limits
from bakong.crossborder.messages import key_id, parse_key_id
from bakong.errors import ConfigError
from bakong.foreignsim import books
from bakong.foreignsim.families import FAMILIES, Family, make_qr, payee_key
from bakong.gateway import db
from bakong.gateway.home import SECRET_SIZE, read_secret, write_secret
from bakong.keystore import generate_key, read_key_file, write_key_file
from bakong.khqr.foreign import parse
from bakong.wire.keys import SigningKey

__all__ = ["SimConfig", "SimHome", "init_home", "load_home", "read_public_key"]

DEFAULT_LISTEN = "127.0.0.1:8620"


class SwitchSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    family: str
    link_url: str
    link_public_key: str
    listen: str = DEFAULT_LISTEN


class SimConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    switch: SwitchSection


@dataclass(frozen=True)
class SimHome:
    path: Path
    config: SimConfig
    key: SigningKey
    secret: bytes
    link_key: bytes

    @property
    def family(self) -> Family:
        return FAMILIES[self.config.switch.family]

    @property
    def database_url(self) -> str:
        return db.sqlite_url(self.path / "switch.db")

    @property
    def fault_file(self) -> Path:
        return self.path / "fault"

    @property
    def url(self) -> str:
        return f"http://{self.config.switch.listen}"


def _bounded(file: Path) -> bytes:
    try:
        raw = file.read_bytes()[: limits.foreignsim_config_bytes_max + 1]
    except OSError as error:
        raise ConfigError(f"{file}: {error.strerror}") from None
    if len(raw) > limits.foreignsim_config_bytes_max:
        raise ConfigError(f"{file} is too large")
    return raw


def read_public_key(file: Path) -> bytes:
    """A public key from `file`: hex text, or a key file's `public_key` (only that is read)."""
    text = _bounded(file).decode(errors="replace").strip()
    if text.startswith("{"):
        try:
            text = str(msgspec.json.decode(text.encode(), type=dict[str, str])["public_key"])
        except (msgspec.DecodeError, KeyError):
            raise ConfigError(f"{file} is a JSON file without a public_key") from None
    try:
        return parse_key_id(text)
    except ConfigError:
        raise ConfigError(f"{file} holds no Ed25519 public key in hex") from None


def load_home(path: Path) -> SimHome:
    """Read a home; `ConfigError` names what is wrong."""
    file = path / "config.toml"
    try:
        config = msgspec.convert(tomllib.loads(_bounded(file).decode()), SimConfig)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, msgspec.ValidationError) as error:
        raise ConfigError(f"{file}: {error}") from None
    if config.switch.family not in FAMILIES:
        raise ConfigError(f"{file}: family is one of {', '.join(FAMILIES)}")
    try:
        link_key = parse_key_id(config.switch.link_public_key)
    except ConfigError:
        raise ConfigError(f"{file}: link_public_key is 64 hex digits") from None
    key = read_key_file(path / "switch.key")
    return SimHome(path, config, key, read_secret(path / "sim.secret"), link_key)


def _toml(value: str) -> str:
    return msgspec.json.encode(value).decode()


def init_home(
    path: Path,
    family: str,
    link_url: str,
    link_key_file: Path,
    *,
    listen: str = DEFAULT_LISTEN,
    now_ms: int,
) -> SimHome:
    """Write a new home: config, key, secret, and the books with the family's samples."""
    if (path / "config.toml").exists():
        raise ConfigError(f"{path} already holds a switch simulator (config.toml)")
    if family not in FAMILIES:
        raise ConfigError(f"family is one of {', '.join(FAMILIES)}")
    if not link_url.startswith(("http://", "https://")) or len(link_url) > 200:
        raise ConfigError("the link's URL is an http(s) URL")
    link_key = read_public_key(link_key_file)
    path.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    write_key_file(path / "switch.key", key)
    (path / "switch.pub").write_text(key_id(key.public_key) + "\n")
    write_secret(path / "sim.secret", nacl.utils.random(SECRET_SIZE))
    (path / "config.toml").write_text(
        f"[switch]\nfamily = {_toml(family)}\nlisten = {_toml(listen)}\n"
        f"link_url = {_toml(link_url.rstrip('/'))}\nlink_public_key = {_toml(link_key.hex())}\n"
    )
    home = load_home(path)
    engine = db.engine_for(home.database_url)
    try:
        _open_books(engine, home.family, now_ms)
    finally:
        engine.dispose()
    return home


def _open_books(engine: Engine, family: Family, now_ms: int) -> None:
    books.create_schema(engine)
    switch = f"{family.switch.upper()} (simulated)"
    for account_id, kind in (
        (books.SETTLEMENT, "settlement"),
        (books.SUSPENSE, "suspense"),
        (books.NOSTRO, "nostro"),
    ):
        books.add_account(
            engine, books.Account(account_id, kind, None, switch, "", None, 0), None, now_ms
        )
    for merchant in family.merchants:
        key = payee_key(parse(make_qr(family, merchant, None)))
        assert key is not None, merchant
        account = books.Account(
            merchant.merchant_id,
            "merchant",
            merchant.scheme,
            merchant.name,
            merchant.city,
            merchant.target,
            0,
        )
        books.add_account(engine, account, key, now_ms)
    for wallet, holder, opening in family.wallets:
        books.add_account(
            engine, books.Account(wallet, "wallet", None, holder, "", None, 0), None, now_ms
        )
        books.fund(engine, wallet, opening, f"funding-{wallet}", now_ms)
    books.fund(engine, books.NOSTRO, family.nostro_opening, "funding-nostro", now_ms)
