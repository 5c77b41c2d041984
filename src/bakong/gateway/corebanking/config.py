"""The `[core_banking]` table of a gateway's config.toml: where its bank's core system is.

    [core_banking]
    url = "http://127.0.0.1:8590"    # https://, or http:// to a loopback address
    secret_file = "corebank.secret"   # in the gateway's home, mode 0600, 64 hex digits
    timeout_s = 5.0                   # per call to the core bank
    hold_ms = 1800000                 # a bank transfer's hold lifetime on the ledger

No table (the default): the gateway offers no link to a bank account (the wallet's routes
answer 404 `core_banking_not_configured`).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from bakong import limits
from bakong.errors import ConfigError

__all__ = ["CoreBankingConfig", "check_core_banking", "format_core_banking"]


class CoreBankingConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    url: str = ""
    secret_file: str = ""
    timeout_s: float = limits.core_banking_timeout_s_default
    hold_ms: int = limits.bank_transfer_hold_ms_default

    @property
    def configured(self) -> bool:
        return bool(self.url)


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_core_banking(config: CoreBankingConfig) -> None:
    """`ConfigError` naming what is wrong in the table."""
    if not config.configured:
        if config != CoreBankingConfig():
            raise ConfigError("[core_banking] names no url: set one or remove the table")
        return
    parts = urlsplit(config.url)
    secure = parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname))
    if not secure or not parts.hostname:
        raise ConfigError("[core_banking] url is https:// (http:// only to a loopback address)")
    name = config.secret_file
    if not name or Path(name).is_absolute() or ".." in name:
        raise ConfigError("[core_banking] secret_file names a file in the gateway's home")
    timeout_min, timeout_max = limits.core_banking_timeout_s_min, limits.core_banking_timeout_s_max
    if not timeout_min <= config.timeout_s <= timeout_max:
        raise ConfigError("[core_banking] timeout_s is out of bounds")
    if not limits.bank_transfer_hold_ms_min <= config.hold_ms <= limits.bank_transfer_hold_ms_max:
        raise ConfigError("[core_banking] hold_ms is out of bounds")


def format_core_banking(config: CoreBankingConfig) -> list[str]:
    """The TOML lines of the table; none when it is not configured."""
    if not config.configured:
        return []
    lines = ["", "[core_banking]"]
    for field in msgspec.structs.fields(config):
        lines.append(f"{field.name} = {msgspec.json.encode(getattr(config, field.name)).decode()}")
    return lines
