"""The `[crossborder]` table of a gateway's config.toml: the cross-border link it pays through.

    [crossborder]
    link_url = "http://127.0.0.1:8640"   # https://, or http:// to a loopback address
    link_key = "9f...e1"                  # the link's public key (64 hex digits): requests are
                                          # signed with the gateway key and addressed to it
    timeout_s = 5.0                       # per call to the link

No table (the default): the wallet's foreign routes answer 404 `crossborder_not_configured`.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import msgspec

from bakong import limits
from bakong.errors import ConfigError

__all__ = ["CrossborderConfig", "check_crossborder", "format_crossborder"]

_KEY = re.compile(r"^[0-9a-f]{64}$")


class CrossborderConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    link_url: str = ""
    link_key: str = ""
    timeout_s: float = limits.link_timeout_s_default

    @property
    def configured(self) -> bool:
        return bool(self.link_url)


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_crossborder(config: CrossborderConfig) -> None:
    """`ConfigError` naming what is wrong in the table."""
    if not config.configured:
        if config != CrossborderConfig():
            raise ConfigError("[crossborder] names no link_url: set one or remove the table")
        return
    parts = urlsplit(config.link_url)
    secure = parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname))
    if not secure or not parts.hostname:
        raise ConfigError("[crossborder] link_url is https:// (http:// only to a loopback address)")
    if not _KEY.match(config.link_key):
        raise ConfigError("[crossborder] link_key is the link's public key, 64 hex digits")
    if not limits.link_timeout_s_min <= config.timeout_s <= limits.link_timeout_s_max:
        raise ConfigError("[crossborder] timeout_s is out of bounds")


def format_crossborder(config: CrossborderConfig) -> list[str]:
    """The TOML lines of the table; none when it is not configured."""
    if not config.configured:
        return []
    lines = ["", "[crossborder]"]
    for field in msgspec.structs.fields(config):
        lines.append(f"{field.name} = {msgspec.json.encode(getattr(config, field.name)).decode()}")
    return lines
