"""The simulated chain: its genesis, its validator keys, and the constants of a simulated node.

Every run of every seed uses the same genesis for a given number of validators: a central bank
(`nbc`), three participants, and N validators with deterministic sandbox keys
(`bakong.sandbox.sandbox_key`, public by construction: simulation only). Node i holds key i.
The seed decides everything else (faults, workload, timing).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bakong import limits
from bakong.consensus.round import Timeouts
from bakong.ledger.genesis import GenesisFile, GenesisValidator, genesis_hash
from bakong.ledger.validators import Validator, ValidatorSet
from bakong.sandbox import sandbox_key, sandbox_participant
from bakong.wire.keys import SigningKey

__all__ = [
    "CENTRAL_BANK",
    "CHAIN_ID",
    "GENESIS_TIME_MS",
    "PARTICIPANTS",
    "ChainSetup",
    "chain_setup",
]

CHAIN_ID = "bakong-sim"
CENTRAL_BANK = "nbc"
PARTICIPANTS = ("aclb", "wing", "abaa")
GENESIS_TIME_MS = 1_767_225_600_000  # 2026-01-01 07:00 in Phnom Penh

#: Consensus timeouts of the simulated network: timeout(r) = base + r * delta (ms).
TIMEOUTS = Timeouts(propose_ms_base=600, prevote_ms_base=300, precommit_ms_base=300, delta_ms=150)

assert limits.sim_validators_min >= 4  # n = 3f + 1 with f >= 1
assert limits.block_time_drift_ms_max > 0
assert limits.sim_sync_request_timeout_ms >= limits.sim_status_interval_ms


@dataclass(frozen=True)
class ChainSetup:
    genesis: GenesisFile
    genesis_hash: bytes
    keys: tuple[SigningKey, ...]  # node i signs with keys[i]
    validator_set: ValidatorSet
    timeouts: Timeouts

    @property
    def chain_id(self) -> str:
        return self.genesis.chain_id


@lru_cache(maxsize=16)
def chain_setup(validators: int) -> ChainSetup:
    """The genesis and keys for `validators` validators of equal power."""
    assert limits.sim_validators_min <= validators <= limits.sim_validators_max
    keys = tuple(sandbox_key(f"sim/validator-{index}") for index in range(validators))
    genesis = GenesisFile(
        chain_id=CHAIN_ID,
        genesis_time_ms=GENESIS_TIME_MS,
        central_bank=sandbox_participant(CENTRAL_BANK, "National Bank of Cambodia"),
        participants=[sandbox_participant(code, code.upper()) for code in PARTICIPANTS],
        validators=[
            GenesisValidator(name=f"validator-{index}", public_key=key.public_key.hex(), power=1)
            for index, key in enumerate(keys)
        ],
        # Often, so that every seed takes snapshots and carries their roots through its faults.
        snapshot_interval=limits.sim_snapshot_interval,
        snapshot_lag=limits.sim_snapshot_lag,
    )
    members = sorted(
        (Validator(f"validator-{index}", key.public_key, 1) for index, key in enumerate(keys)),
        key=lambda validator: validator.public_key,
    )
    return ChainSetup(
        genesis=genesis,
        genesis_hash=genesis_hash(genesis),
        keys=keys,
        validator_set=ValidatorSet(tuple(members)),
        timeouts=TIMEOUTS,
    )
