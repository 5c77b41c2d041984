"""The sample core bank's home directory.

    DIR/config.toml     [corebank] bank (a participant code), name, listen, database
    DIR/api.secret      the API's shared secret (64 hex digits, mode 0600): a gateway sends it
                        as `Authorization: Bearer <secret>`
    DIR/corebank.db     the SQLite books, unless `database` names a PostgreSQL URL
    DIR/fault           a fault switch for tests, read on each posting (`app`, rule 5)

`init_home` writes a new home with a fresh secret, the GL accounts and a few sample customers'
deposit accounts (phones in the +855 12 999 xxx test range), and refuses a directory that
already holds one. Files are bounded before they are parsed.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import msgspec
import nacl.utils

from bakong import limits
from bakong.corebank import books
from bakong.errors import ConfigError
from bakong.gateway import db
from bakong.gateway.home import SECRET_SIZE, read_secret, write_secret
from bakong.ledger.identifiers import is_participant_code

__all__ = ["CorebankConfig", "CorebankHome", "init_home", "load_home", "SAMPLE_ACCOUNTS"]

DEFAULT_LISTEN = "127.0.0.1:8590"

#: (number, holder, phone, currency, opening balance): the sample customers `init` opens.
SAMPLE_ACCOUNTS = (
    ("0001000101", "Sokha Chan", "+85512999101", "KHR", 2_000_000),
    ("0001000102", "Dara Keo", "+85512999102", "USD", 500_00),
    ("0001000103", "Bopha Meas", "+85512999103", "KHR", 800_000),
)


class CorebankSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    bank: str
    name: str = ""
    listen: str = DEFAULT_LISTEN
    database: str = ""  # empty: corebank.db in the home


class CorebankConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    corebank: CorebankSection


@dataclass(frozen=True)
class CorebankHome:
    path: Path
    config: CorebankConfig
    secret: bytes

    @property
    def bank(self) -> str:
        return self.config.corebank.bank

    @property
    def database_url(self) -> str:
        return self.config.corebank.database or db.sqlite_url(self.path / "corebank.db")

    @property
    def fault_file(self) -> Path:
        return self.path / "fault"


def _toml(value: str) -> str:
    return msgspec.json.encode(value).decode()


def load_home(path: Path) -> CorebankHome:
    """Read a home; `ConfigError` names what is wrong."""
    file = path / "config.toml"
    try:
        raw = file.read_bytes()[: limits.corebank_config_bytes_max + 1]
    except OSError as error:
        raise ConfigError(f"{file}: {error.strerror}") from None
    if len(raw) > limits.corebank_config_bytes_max:
        raise ConfigError(f"{file} is too large")
    try:
        config = msgspec.convert(tomllib.loads(raw.decode()), CorebankConfig)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, msgspec.ValidationError) as error:
        raise ConfigError(f"{file}: {error}") from None
    if not is_participant_code(config.corebank.bank):
        raise ConfigError(f"{file}: bank is a participant code")
    return CorebankHome(path, config, read_secret(path / "api.secret"))


def init_home(path: Path, bank: str, *, listen: str = DEFAULT_LISTEN, database: str = "",
              now_ms: int, samples: bool = True) -> CorebankHome:  # fmt: skip
    """Write a new home: config, secret, the books with the GL accounts and sample customers."""
    if (path / "config.toml").exists():
        raise ConfigError(f"{path} already holds a core bank (config.toml)")
    if not is_participant_code(bank):
        raise ConfigError(f"{bank!r} is not a participant code")
    path.mkdir(parents=True, exist_ok=True)
    if not (path / "api.secret").exists():
        write_secret(path / "api.secret", nacl.utils.random(SECRET_SIZE))
    name = f"{bank.upper()} core banking (sample)"
    (path / "config.toml").write_text(
        f"[corebank]\nbank = {_toml(bank)}\nname = {_toml(name)}\n"
        f"listen = {_toml(listen)}\ndatabase = {_toml(database)}\n"
    )
    home = load_home(path)
    engine = db.engine_for(home.database_url)
    try:
        books.create_schema(engine)
        books.ensure_gl_accounts(engine, name, now_ms)
        for number, holder, phone, currency, balance in SAMPLE_ACCOUNTS if samples else ():
            books.add_account(engine, number, holder, phone, currency, balance, now_ms)
    finally:
        engine.dispose()
    return home
