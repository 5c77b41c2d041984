"""Genesis: the chain's first state, from a JSON genesis file (design section 2).

The file names the chain id and start time, the central bank (a participant, with the
treasury account `treasury@<code>`), the initial participants with their admin and gateway
keys (each gets `settlement@<code>`), the validators, and the limits policy. Keys are hex.
Example:

    {"chain_id": "bakong-local", "genesis_time_ms": 1767225600000,
     "central_bank": {"code": "nbc", "name": "National Bank of Cambodia",
                      "admin_keys": ["<hex>"], "admin_quorum": 1, "gateway_keys": ["<hex>"]},
     "participants": [{"code": "aclb", ...}],
     "validators": [{"name": "nbc-1", "public_key": "<hex>", "power": 1}],
     "limits": null}

`limits: null` takes the published defaults (`policy.DEFAULT_POLICY`). The genesis hash is the
`previous_hash` of block 1, so every block chains back to the exact genesis file contents.
"""

from __future__ import annotations

import msgspec

from bakong import limits
from bakong.errors import ConfigError
from bakong.ledger.accounts import new_account
from bakong.ledger.block import LedgerState, chain_app_hash
from bakong.ledger.identifiers import (
    is_participant_code,
    settlement_account,
    treasury_account,
)
from bakong.ledger.policy import DEFAULT_POLICY, LimitsPolicy, policy_is_valid
from bakong.ledger.records import (
    AccountKind,
    ChainConfig,
    Head,
    KycTier,
    Participant,
    ParticipantIndex,
    ParticipantStatus,
    Supply,
    ValidatorSchedule,
)
from bakong.ledger.state import (
    CHAIN_KEY,
    HEAD_KEY,
    PARTICIPANTS_KEY,
    POLICY_KEY,
    SUPPLY_KEY,
    VALIDATORS_KEY,
    MemoryStore,
    StateView,
    account_key,
    participant_key,
)
from bakong.ledger.validators import Validator, ValidatorSet
from bakong.types import Hash
from bakong.wire.codec import encode
from bakong.wire.hashing import Domain, chain_id_is_valid, digest

__all__ = [
    "GenesisFile",
    "GenesisParticipant",
    "GenesisValidator",
    "decode_genesis",
    "encode_genesis",
    "genesis_hash",
    "genesis_state",
    "genesis_validators",
]


class GenesisParticipant(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: str
    name: str
    admin_keys: list[str]
    admin_quorum: int
    gateway_keys: list[str]


class GenesisValidator(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    public_key: str
    power: int


# Module names: the field `limits` below shadows the module inside the class body.
_snapshot_interval_default = limits.snapshot_interval_default
_snapshot_lag_default = limits.snapshot_lag_default


class GenesisFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    chain_id: str
    genesis_time_ms: int
    central_bank: GenesisParticipant
    participants: list[GenesisParticipant]
    validators: list[GenesisValidator]
    limits: LimitsPolicy | None = None
    snapshot_interval: int = _snapshot_interval_default
    snapshot_lag: int = _snapshot_lag_default


def encode_genesis(genesis: GenesisFile) -> bytes:
    return msgspec.json.format(msgspec.json.encode(genesis), indent=2) + b"\n"


def decode_genesis(data: bytes) -> GenesisFile:
    if len(data) > limits.genesis_bytes_max:
        raise ConfigError("genesis file is too large")
    try:
        genesis = msgspec.json.decode(data, type=GenesisFile)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise ConfigError(f"genesis file: {error}") from None
    _check_genesis(genesis)
    return genesis


def genesis_hash(genesis: GenesisFile) -> Hash:
    return digest(Domain.GENESIS, genesis.chain_id, encode(genesis))


def _hex_key(text: str, what: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"{what}: not hex") from None
    if len(key) != 32:
        raise ConfigError(f"{what}: an Ed25519 public key is 32 bytes")
    return key


def _check_genesis(genesis: GenesisFile) -> None:
    if not chain_id_is_valid(genesis.chain_id):
        raise ConfigError(f"chain_id {genesis.chain_id!r} is not [a-z0-9-], 1-32 characters")
    everyone = [genesis.central_bank, *genesis.participants]
    codes = [participant.code for participant in everyone]
    if len(set(codes)) != len(codes) or not all(is_participant_code(c) for c in codes):
        raise ConfigError("participant codes must be distinct, 3-8 lower-case letters")
    if len(codes) > limits.participants_max:
        raise ConfigError("too many participants")
    for participant in everyone:
        keys = [_hex_key(k, participant.code) for k in participant.admin_keys]
        if not keys or len(set(keys)) != len(keys) or len(keys) > limits.signatories_max:
            raise ConfigError(f"{participant.code}: admin keys must be 1-16 distinct keys")
        if not 1 <= participant.admin_quorum <= len(keys):
            raise ConfigError(f"{participant.code}: admin quorum out of range")
        for key in participant.gateway_keys:
            _hex_key(key, participant.code)
    if not genesis.validators or len(genesis.validators) > limits.validators_max:
        raise ConfigError("genesis needs 1 to validators_max validators")
    for validator in genesis.validators:
        _hex_key(validator.public_key, validator.name)
        if not 0 < validator.power <= limits.validator_power_max:
            raise ConfigError(f"validator {validator.name}: power out of range")
    if not 1 <= genesis.snapshot_interval <= limits.height_max:
        raise ConfigError("snapshot_interval must be at least 1 block")
    if not 1 <= genesis.snapshot_lag <= genesis.snapshot_interval:
        raise ConfigError("snapshot_lag must be 1 to snapshot_interval blocks")
    if genesis.limits is not None and not policy_is_valid(genesis.limits, frozenset(codes)):
        raise ConfigError("limits policy is invalid")


def _participant(entry: GenesisParticipant) -> Participant:
    return Participant(
        code=entry.code,
        name=entry.name,
        status=ParticipantStatus.active,
        admin_keys=tuple(sorted(_hex_key(k, entry.code) for k in entry.admin_keys)),
        admin_quorum=entry.admin_quorum,
        gateway_keys=tuple(sorted(_hex_key(k, entry.code) for k in entry.gateway_keys)),
    )


def genesis_validators(genesis: GenesisFile) -> tuple[Validator, ...]:
    """The genesis validator set, sorted by public key as the ledger holds it."""
    validators = [
        Validator(name=v.name, public_key=_hex_key(v.public_key, v.name), power=v.power)
        for v in genesis.validators
    ]
    ordered = tuple(sorted(validators, key=lambda v: v.public_key))
    ValidatorSet(validators=ordered)  # asserts distinct keys and valid powers
    return ordered


def genesis_state(genesis: GenesisFile) -> tuple[LedgerState, MemoryStore]:
    """The state at height 0, in a new memory store (also returned, for persisting)."""
    _check_genesis(genesis)
    store = MemoryStore()
    view = StateView(store)
    cb = genesis.central_bank.code
    chain = ChainConfig(
        genesis.chain_id,
        cb,
        genesis.genesis_time_ms,
        genesis.snapshot_interval,
        genesis.snapshot_lag,
    )
    view.write(CHAIN_KEY, chain)
    minute = genesis.genesis_time_ms // 60_000
    view.write(HEAD_KEY, Head(0, genesis.genesis_time_ms, 1, minute, 0))
    view.write(POLICY_KEY, genesis.limits or DEFAULT_POLICY)
    validators = genesis_validators(genesis)
    view.write(VALIDATORS_KEY, ValidatorSchedule(current=validators, next=validators))
    view.write(SUPPLY_KEY, Supply(issued=(0, 0), redeemed=(0, 0)))
    everyone = [_participant(p) for p in (genesis.central_bank, *genesis.participants)]
    view.write(PARTICIPANTS_KEY, ParticipantIndex(codes=tuple(sorted(p.code for p in everyone))))
    for participant in everyone:
        view.write(participant_key(participant.code), participant)
        settlement = new_account(
            settlement_account(participant.code),
            AccountKind.settlement,
            KycTier.institutional,
            participant.admin_keys,
            participant.admin_quorum,
        )
        view.write(account_key(settlement.account_id), settlement)
    central_bank = everyone[0]
    treasury = new_account(
        treasury_account(cb),
        AccountKind.treasury,
        KycTier.institutional,
        central_bank.admin_keys,
        central_bank.admin_quorum,
    )
    view.write(account_key(treasury.account_id), treasury)
    view.commit_transaction()
    write_set = view.write_set()
    store.apply(write_set)
    app_hash = chain_app_hash(genesis.chain_id, genesis_hash(genesis), write_set)
    return LedgerState(store=store, app_hash=app_hash), store
