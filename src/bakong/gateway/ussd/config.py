"""The `[ussd]` table of a gateway's config.toml: the service code, the caps, the aggregators.

    [ussd]
    service_code = "*855#"        # what customers dial; empty (the default): no USSD service
    country_code = "855"          # a number typed as 0XX... is +855XX...
    daily_cap_khr = 400000        # USSD-originated payments per customer per day, minor units
    daily_cap_usd = 10000

    [ussd.aggregators.africastalking]
    shape = "form"                # "form": the de-facto callback; "json": latest input only
    secret_sha256 = "64 hex"      # SHA-256 of the shared secret, which the config never holds

Rules:
- An aggregator authenticates with HTTP Basic: its name and its shared secret (Africa's
  Talking puts them in the callback URL, `https://name:secret@host/ussd/callback`). Only the
  secret's SHA-256 is configured: a secret of at least `limits.ussd_secret_chars_min` random
  hex digits needs no slow hash, and a leaked config.toml does not let anyone in.
- The caps are the bank's own limits for USSD-originated payments of its basic-tier
  feature-phone wallets; they may not exceed the central bank's basic-tier daily limit in the
  genesis (`check_ussd`), which the ledger enforces in any case.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

import msgspec

from bakong import limits
from bakong.errors import ConfigError
from bakong.ledger.assets import Asset
from bakong.ledger.genesis import GenesisFile
from bakong.ledger.policy import DEFAULT_POLICY, daily_limit
from bakong.ledger.records import KycTier

__all__ = ["UssdAggregator", "UssdConfig", "check_ussd", "format_ussd", "secret_digest"]

SERVICE_CODE = re.compile(r"^\*[0-9]{1,6}(\*[0-9]{1,6}){0,3}#$")
_AGGREGATOR_NAME = re.compile(r"^[a-z0-9_-]{1,32}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class UssdAggregator(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One aggregator allowed to call the gateway: the shape it speaks and its secret's hash."""

    shape: Literal["form", "json"] = "form"
    secret_sha256: str


class UssdConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    service_code: str = ""
    country_code: str = "855"
    daily_cap_khr: int = limits.ussd_daily_cap_khr_default
    daily_cap_usd: int = limits.ussd_daily_cap_usd_default
    aggregators: dict[str, UssdAggregator] = msgspec.field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return bool(self.service_code)

    def cap(self, asset: Asset) -> int:
        """The daily cap of USSD-originated payments in `asset`, in minor units."""
        return self.daily_cap_khr if asset is Asset.KHR else self.daily_cap_usd


def secret_digest(secret: str) -> str:
    """What `secret_sha256` holds for an aggregator whose shared secret is `secret`."""
    return hashlib.sha256(secret.encode()).hexdigest()


def check_ussd(ussd: UssdConfig, participant: str, genesis: GenesisFile) -> None:
    """`ConfigError` naming what is wrong in the `[ussd]` table."""
    if ussd.service_code and not SERVICE_CODE.match(ussd.service_code):
        raise ConfigError("[ussd] service_code is a code such as *855# or *855*1#")
    if not (ussd.country_code.isascii() and ussd.country_code.isdigit()):
        raise ConfigError("[ussd] country_code is 1 to 3 digits, such as 855")
    if not 1 <= len(ussd.country_code) <= 3 or ussd.country_code.startswith("0"):
        raise ConfigError("[ussd] country_code is 1 to 3 digits, such as 855")
    policy = genesis.limits or DEFAULT_POLICY
    for asset in (Asset.KHR, Asset.USD):
        ceiling = daily_limit(policy, participant, KycTier.basic, asset.index)
        if not 0 < ussd.cap(asset) <= ceiling:
            raise ConfigError(
                f"[ussd] daily_cap_{asset.value.lower()} is above 0 and at most the central "
                f"bank's basic-tier daily limit ({ceiling})"
            )
    if len(ussd.aggregators) > limits.ussd_aggregators_max:
        raise ConfigError(f"[ussd] at most {limits.ussd_aggregators_max} aggregators")
    for name, aggregator in ussd.aggregators.items():
        if not _AGGREGATOR_NAME.match(name):
            raise ConfigError(f"[ussd.aggregators] {name!r}: lower-case letters, digits, - and _")
        if not _HEX64.match(aggregator.secret_sha256):
            raise ConfigError(f"[ussd.aggregators.{name}] secret_sha256 is 64 lower-case hex")


def _toml_string(value: str) -> str:
    return msgspec.json.encode(value).decode()  # a TOML basic string takes JSON's escapes


def format_ussd(ussd: UssdConfig) -> list[str]:
    """The TOML lines of the `[ussd]` table; none when it is all defaults."""
    if ussd == UssdConfig():
        return []
    lines = [
        "", "[ussd]",
        f"service_code = {_toml_string(ussd.service_code)}",
        f"country_code = {_toml_string(ussd.country_code)}",
        f"daily_cap_khr = {ussd.daily_cap_khr}",
        f"daily_cap_usd = {ussd.daily_cap_usd}",
    ]  # fmt: skip
    for name, aggregator in sorted(ussd.aggregators.items()):
        lines += [
            "", f"[ussd.aggregators.{name}]",
            f"shape = {_toml_string(aggregator.shape)}",
            f"secret_sha256 = {_toml_string(aggregator.secret_sha256)}",
        ]  # fmt: skip
    return lines
