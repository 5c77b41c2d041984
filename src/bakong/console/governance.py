"""What the console's governance proposals read and check: a participant to register, keys to
rotate to, and the limits policy (the one in force and a proposed one, side by side).

Rules:
- The policy in force is the last ok `set_limits` the follower applied (`save_policy`, in
  `meta.limits_policy`, in the block's database transaction), else the genesis' policy, else
  the published defaults (`policy.DEFAULT_POLICY`): read from the store, never the node.
- A public key is 64 lower-case hex characters (an Ed25519 key); a participant has 1 to
  `keys_per_participant_max` distinct admin keys, a quorum of 1 to their number, and 0 to
  `keys_per_participant_max` distinct gateway keys: the ledger's own checks, made before a
  proposal is stored so a supervisor never approves what the ledger would refuse for its form.
- Limits are typed in major units (`500.00` USD, `2,000,000` KHR) and kept in minor units; a
  limit may be zero. Participant caps are lines `participant tier KHR USD` (tier 0, 1 or 2),
  sorted and unique, naming known participants (`policy.policy_is_valid`).
- `policy_diff` lists every figure of the two policies, the changed ones marked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Set
from dataclasses import dataclass

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakong import limits
from bakong.console import store
from bakong.gateway.problems import GatewayProblem
from bakong.ledger.assets import ASSETS, Asset, format_amount
from bakong.ledger.genesis import GenesisFile
from bakong.ledger.policy import DEFAULT_POLICY, LimitsPolicy, ParticipantCap, policy_is_valid
from bakong.ledger.records import KycTier

__all__ = [
    "PARTICIPANT_TYPES",
    "POLICY_KEY",
    "DiffRow",
    "current_policy",
    "parse_keys",
    "parse_limit",
    "parse_caps",
    "participant_records",
    "policy_diff",
    "policy_fields",
    "save_policy",
]

POLICY_KEY = "limits_policy"
#: What the central bank registers; the ledger keeps no kind, the console keeps it in the
#: register proposal (a participant from the genesis has none).
PARTICIPANT_TYPES = ("bank", "mfi", "psp")
_KEY = re.compile(r"^[0-9a-f]{64}$")
_CAP_TIERS = (KycTier.basic, KycTier.partial, KycTier.full)


def save_policy(connection: Connection, policy: LimitsPolicy) -> None:
    """The follower's: `policy` is now in force (inside the block's database transaction)."""
    meta = store.meta
    connection.execute(meta.delete().where(meta.c.key == POLICY_KEY))
    encoded = msgspec.json.encode(policy).decode()
    connection.execute(meta.insert().values(key=POLICY_KEY, value=encoded))


def _registered_kinds(connection: Connection) -> dict[str, str]:
    """The kind each participant the console registered was given (`PARTICIPANT_TYPES`)."""
    table = store.proposals
    rows = connection.execute(
        sa.select(table.c.account_id, table.c.payload).where(
            table.c.kind == "register", table.c.state == "committed"
        )
    ).all()
    payloads = {row.account_id: msgspec.json.decode(row.payload, type=dict[str, object])
                for row in rows}  # fmt: skip
    return {code: str(payload.get("kind", "")) for code, payload in payloads.items()}


def participant_records(engine: Engine) -> dict[str, dict[str, object]]:
    """Every participant's record as the store follows it (the ledger's), keys as lists, with
    the kind the console registered it as ('' for the genesis' participants)."""
    with engine.connect() as connection:
        rows = connection.execute(sa.select(store.participants)).all()
        kinds = _registered_kinds(connection)
    return {
        row.code: {
            "name": row.name, "status": row.status, "gateway_url": row.gateway_url,
            "central_bank": bool(row.central_bank), "kind": kinds.get(row.code, ""),
            "admin_keys": [key for key in row.admin_keys.split(",") if key],
            "admin_quorum": row.admin_quorum,
            "gateway_keys": [key for key in row.gateway_keys.split(",") if key],
        }
        for row in rows
    }  # fmt: skip


def current_policy(engine: Engine, genesis: GenesisFile) -> LimitsPolicy:
    """The policy in force as of the store's height (module rules)."""
    meta = store.meta
    with engine.connect() as connection:
        value = connection.execute(
            sa.select(meta.c.value).where(meta.c.key == POLICY_KEY)
        ).scalar_one_or_none()
    if value is not None:
        return msgspec.json.decode(value, type=LimitsPolicy)
    return genesis.limits if genesis.limits is not None else DEFAULT_POLICY


def parse_keys(text: str, what: str, *, at_least: int) -> tuple[str, ...]:
    """Hex public keys separated by commas, spaces or lines; 400 `<what>_invalid` otherwise."""
    keys = tuple(part for part in re.split(r"[\s,]+", text.strip().lower()) if part)
    if (
        not at_least <= len(keys) <= limits.keys_per_participant_max
        or len(set(keys)) != len(keys)
        or not all(_KEY.match(key) for key in keys)
    ):
        raise GatewayProblem(
            400, f"{what}_invalid",
            f"{at_least} to {limits.keys_per_participant_max} distinct keys of 64 hex digits",
        )  # fmt: skip
    return keys


def parse_limit(asset: Asset, text: str) -> int:
    """A limit typed in major units, in minor units; zero allowed; 400 `limit_invalid`."""
    places = asset.exponent
    pattern = r"\d{1,18}" + (rf"(\.\d{{1,{places}}})?" if places else "")
    cleaned = text.strip().replace(",", "")
    if not re.fullmatch(pattern, cleaned):
        raise GatewayProblem(400, "limit_invalid", f"a limit in {asset.value} is a number")
    whole, _, fraction = cleaned.partition(".")
    amount: int = int(whole) * 10**places + (int(fraction.ljust(places, "0")) if fraction else 0)
    if amount > limits.amount_max:
        raise GatewayProblem(400, "limit_invalid", "a limit is bounded")
    return amount


def parse_caps(text: str, participants: Set[str]) -> tuple[ParticipantCap, ...]:
    """Lines `participant tier KHR USD`, sorted as the ledger wants; 400 `caps_invalid`."""
    caps = []
    for line in text.strip().splitlines():
        parts = line.split()
        if not parts:
            continue
        tier_names = {str(int(tier)) for tier in _CAP_TIERS}
        if len(parts) != 4 or parts[0] not in participants or parts[1] not in tier_names:
            raise GatewayProblem(400, "caps_invalid", "a cap is: participant tier KHR USD")
        try:
            khr, usd = parse_limit(Asset.KHR, parts[2]), parse_limit(Asset.USD, parts[3])
        except GatewayProblem as problem:
            raise GatewayProblem(400, "caps_invalid", "a cap's amounts are numbers") from problem
        caps.append(ParticipantCap(participant=parts[0], tier=KycTier(int(parts[1])),
                                   per_day=(khr, usd)))  # fmt: skip
    caps.sort(key=lambda cap: (cap.participant, int(cap.tier)))
    keys = [(cap.participant, int(cap.tier)) for cap in caps]
    if len(set(keys)) != len(keys) or len(caps) > limits.participants_max * 3:
        raise GatewayProblem(400, "caps_invalid", "one cap per participant and tier")
    return tuple(caps)


def checked_policy(policy: LimitsPolicy, participants: Set[str]) -> LimitsPolicy:
    if not policy_is_valid(policy, participants):
        raise GatewayProblem(400, "limits_invalid", "the ledger would refuse this policy")
    return policy


def _typed(asset: Asset, amount: int) -> str:
    """`amount` as a person types it: `2,000,000`, `500.00` (no asset after it)."""
    return format_amount(asset, amount).removesuffix(f" {asset.value}")


def policy_fields(policy: LimitsPolicy) -> dict[str, str]:
    """The limits form's fields for `policy`, in major units as a person types them."""
    fields: dict[str, str] = {}
    named = [
        *((f"tier{index}", pair) for index, pair in enumerate(policy.per_day_by_tier)),
        ("institutional", policy.institutional_per_transfer),
        ("basic_balance", policy.basic_balance_max),
    ]
    for name, pair in named:
        for asset, amount in zip(ASSETS, pair, strict=True):
            fields[f"{name}_{asset.value}"] = _typed(asset, amount)
    fields["caps"] = "\n".join(
        f"{cap.participant} {int(cap.tier)} {_typed(Asset.KHR, cap.per_day[0])} "
        f"{_typed(Asset.USD, cap.per_day[1])}"
        for cap in policy.participant_caps
    )
    return fields


@dataclass(frozen=True)
class DiffRow:
    """One figure of a policy: `what` is a message key (`console.limits.<what>`), `who` the
    participant of a cap, `tier` its tier; None where one of the policies lacks it."""

    what: str
    who: str
    tier: int | None
    asset: str
    current: int | None
    proposed: int | None

    @property
    def changed(self) -> bool:
        return self.current != self.proposed


def _pairs(policy: LimitsPolicy) -> dict[tuple[str, str, int | None], tuple[int, int]]:
    pairs: dict[tuple[str, str, int | None], tuple[int, int]] = {}
    for index, pair in enumerate(policy.per_day_by_tier):
        pairs[(f"tier{index}", "", None)] = pair
    pairs[("institutional", "", None)] = policy.institutional_per_transfer
    pairs[("basic_balance", "", None)] = policy.basic_balance_max
    for cap in policy.participant_caps:
        pairs[("cap", cap.participant, int(cap.tier))] = cap.per_day
    return pairs


def policy_diff(current: LimitsPolicy, proposed: LimitsPolicy) -> list[DiffRow]:
    """Every figure of either policy, in the policy's order, caps last (module rules)."""
    before, after = _pairs(current), _pairs(proposed)
    order: Iterable[tuple[str, str, int | None]] = [
        *before, *sorted(key for key in after if key not in before)
    ]  # fmt: skip
    rows = []
    for key in order:
        was, now = before.get(key), after.get(key)
        for index, asset in enumerate(ASSETS):
            rows.append(DiffRow(
                key[0], key[1], key[2], asset.value,
                None if was is None else was[index], None if now is None else now[index],
            ))  # fmt: skip
    return rows
