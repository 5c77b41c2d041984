"""The `[claims]` and `[agents]` tables of a gateway's config.toml (issue 17).

    [claims]
    period_ms = 604500000       # how long money sent to a phone with no wallet waits for a
                                # claim before the ledger returns it (at most
                                # `limits.claim_period_ms_max`, the ledger's 7 days less 5 min)

    [agents]
    daily_cap_khr = 40000000    # a new agent's own daily caps, of cash-in and of cash-out each
    daily_cap_usd = 1000000
    float_alert_khr = 400000    # a new agent's float alert thresholds (a bank officer may set
    float_alert_usd = 10000     # others when opening it)

Amounts are minor units (riel, US cents). Every table is optional; a missing one takes these
defaults. `check_cash` names what is wrong.
"""

from __future__ import annotations

import msgspec

from bakong import limits
from bakong.errors import ConfigError

__all__ = ["AgentsConfig", "ClaimsConfig", "check_cash", "format_cash"]


class ClaimsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    period_ms: int = limits.claim_period_ms_max


class AgentsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    daily_cap_khr: int = limits.agent_daily_cap_khr_default
    daily_cap_usd: int = limits.agent_daily_cap_usd_default
    float_alert_khr: int = limits.agent_float_alert_khr_default
    float_alert_usd: int = limits.agent_float_alert_usd_default


def check_cash(claims: ClaimsConfig, agents: AgentsConfig) -> None:
    """`ConfigError` naming what is wrong in the `[claims]` or `[agents]` table."""
    low, high = limits.claim_period_ms_min, limits.claim_period_ms_max
    if not low <= claims.period_ms <= high:
        raise ConfigError(f"[claims] period_ms is {low} to {high} (the ledger's longest hold)")
    for name in ("daily_cap_khr", "daily_cap_usd", "float_alert_khr", "float_alert_usd"):
        value = getattr(agents, name)
        if not 0 < value <= limits.amount_max:
            raise ConfigError(f"[agents] {name} is a positive amount in minor units")


def format_cash(claims: ClaimsConfig, agents: AgentsConfig) -> list[str]:
    """The TOML lines of the two tables; none for a table that is all defaults."""
    lines: list[str] = []
    if claims != ClaimsConfig():
        lines += ["", "[claims]", f"period_ms = {claims.period_ms}"]
    if agents != AgentsConfig():
        lines += ["", "[agents]"]
        lines += [f"{f.name} = {getattr(agents, f.name)}" for f in msgspec.structs.fields(agents)]
    return lines
