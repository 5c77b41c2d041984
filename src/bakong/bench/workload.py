"""The workload of `bakong bench network`: accounts, their keys, the setup transactions, the
pre-signed transfers, and the machine's Ed25519 verification ceiling.

- Accounts are `u<i>@<code>` for i in 0..N-1, spread round-robin over the sample participants
  of `bakong.node.localnet` (aclb, wing, abaa); each has one signatory whose seed is derived
  from the run's seed and i (SHA-256), so any process can re-derive any account's key.
- Setup transactions, all real and all through consensus: the central bank issues riel to
  each participant's settlement account (one transaction per participant: every command of a
  transaction touches the same participants, `bakong.ledger.touches`); each participant opens
  its accounts (`create_account`, full KYC, `commands_per_tx_max` per transaction, signed by
  its admin key); each settlement account funds them (`transfer`, as many per transaction).
- The transfer pool: one `transfer` per transaction between two distinct random accounts
  (seeded `random.Random`), so about two thirds cross participants and one third stay within
  one. Each is signed by its source account's key, in one process per core.
- `verify_ceiling`: one process per core verifies pre-made signatures for the same wall-clock
  window (all start at one monotonic instant); the sum of their rates is `verify_per_s`.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from bakong import limits
from bakong.client.builders import TransactionBuilder, create_account, issue, transfer
from bakong.ledger.assets import Asset
from bakong.ledger.commands import Command
from bakong.ledger.records import KycTier
from bakong.ledger.transaction import TransactionPayload, sign_transaction
from bakong.node.localnet import CENTRAL_BANK, PARTICIPANTS
from bakong.wire import keys
from bakong.wire.codec import encode

__all__ = [
    "Workload",
    "account_name",
    "public_keys",
    "setup_transactions",
    "sign_pool",
    "verify_ceiling",
    "verify_one_core",
]

#: Riel each account is funded with; transfers move 1..`limits.bench_transfer_amount_max` riel.
funding_khr = 1_000_000
_chunk_size = 2_000
_verify_messages = 256


def participant_of(i: int) -> str:
    return PARTICIPANTS[i % len(PARTICIPANTS)][0]


def account_name(i: int) -> str:
    return f"u{i}@{participant_of(i)}"


def _account_seed(seed: int, i: int) -> bytes:
    return hashlib.sha256(f"bakong-bench-network/{seed}/{i}".encode()).digest()


def _executor() -> ProcessPoolExecutor:
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(os.cpu_count() or 1, mp_context=context)


def _public_keys_chunk(job: tuple[int, int, int]) -> list[bytes]:
    seed, first, last = job
    return [keys.SigningKey(_account_seed(seed, i)).public_key for i in range(first, last)]


def _chunks(total: int, size: int) -> Iterator[tuple[int, int]]:
    for first in range(0, total, size):
        yield first, min(total, first + size)


def public_keys(
    accounts: int, seed: int, executor: ProcessPoolExecutor, tick: Callable[[], None]
) -> list[bytes]:
    """Every account's public key, in account order."""
    jobs = [(seed, first, last) for first, last in _chunks(accounts, _chunk_size * 5)]
    result: list[bytes] = []
    for part in executor.map(_public_keys_chunk, jobs):
        result.extend(part)
        tick()
    return result


_keys_cache: dict[int, keys.SigningKey] = {}


def _sign_chunk(job: tuple[str, int, int, int, list[tuple[int, int, int]]]) -> list[bytes]:
    """Signed transfers, in a worker process; `job` is (chain, seed, created_ms, nonce, plan)."""
    chain_id, seed, created_ms, nonce, plan = job
    signed: list[bytes] = []
    for offset, (source, target, amount) in enumerate(plan):
        key = _keys_cache.get(source)
        if key is None:
            key = _keys_cache[source] = keys.SigningKey(_account_seed(seed, source))
        source_id = account_name(source)
        payload = TransactionPayload(
            chain_id=chain_id,
            creator=source_id,
            created_ms=created_ms,
            nonce=nonce + offset,
            commands=(transfer(source_id, account_name(target), Asset.KHR, amount),),
        )
        signed.append(encode(sign_transaction(payload, [key])))
    return signed


def _plan(accounts: int, count: int, seed: int) -> list[tuple[int, int, int]]:
    rng = random.Random(seed)
    plan = []
    for _ in range(count):
        source = rng.randrange(accounts)
        target = rng.randrange(accounts - 1)
        target += target >= source
        plan.append((source, target, rng.randint(1, limits.bench_transfer_amount_max)))
    return plan


@dataclass(frozen=True)
class Workload:
    accounts: int
    seed: int
    chain_id: str
    pool: list[bytes]  # canonical signed transfers
    cross_participant: int  # how many of them cross participants


def sign_pool(
    *,
    accounts: int,
    count: int,
    seed: int,
    chain_id: str,
    executor: ProcessPoolExecutor,
    tick: Callable[[], None],
) -> Workload:
    """`count` transfers between random accounts, each signed by its source."""
    plan = _plan(accounts, count, seed)
    cross = sum(1 for s, t, _ in plan if participant_of(s) != participant_of(t))
    created_ms = time.time_ns() // 1_000_000
    jobs = [
        (chain_id, seed, created_ms, first, plan[first:last])
        for first, last in _chunks(count, _chunk_size)
    ]
    pool: list[bytes] = []
    for part in executor.map(_sign_chunk, jobs):
        pool.extend(part)
        tick()
    return Workload(accounts, seed, chain_id, pool, cross)


def _signed(
    chain_id: str, creator: str, nonce: int, key: keys.SigningKey, commands: Sequence[Command]
) -> bytes:
    builder = TransactionBuilder(
        chain_id=chain_id, creator=creator, created_ms=time.time_ns() // 1_000_000, nonce=nonce
    )
    return encode(builder.add(*commands).sign(key))


def setup_transactions(
    chain_id: str, admins: dict[str, keys.SigningKey], public: Sequence[bytes]
) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """(issue, open, fund) transactions for every account; `admins` by participant code."""
    per_tx = limits.commands_per_tx_max
    codes = [code for code, _ in PARTICIPANTS]
    members = {code: [i for i in range(len(public)) if participant_of(i) == code] for code in codes}
    nbc = CENTRAL_BANK[0]
    # One issue per transaction: a transaction touches one set of participants.
    issued = [
        _signed(
            chain_id,
            nbc,
            0,
            admins[nbc],
            [issue(f"settlement@{code}", Asset.KHR, funding_khr * len(group), f"bench-{code}")],
        )
        for code, group in members.items()
        if group
    ]
    opens: list[bytes] = []
    funds: list[bytes] = []
    longest = max(len(group) for group in members.values())
    for start in range(0, longest, per_tx):  # participants interleaved
        for code in codes:
            group = members[code][start : start + per_tx]
            if not group:
                continue
            creates = [
                create_account(account_name(i), [public[i]], tier=KycTier.full) for i in group
            ]
            opens.append(_signed(chain_id, code, start, admins[code], creates))
            payments = [
                transfer(f"settlement@{code}", account_name(i), Asset.KHR, funding_khr)
                for i in group
            ]
            funds.append(_signed(chain_id, f"settlement@{code}", start, admins[code], payments))
    return issued, opens, funds


def _verify_for(job: tuple[float, float]) -> float:
    """In a worker: verify pre-made signatures from `start` (monotonic) for `seconds`."""
    start, seconds = job
    key = keys.SigningKey(hashlib.sha256(b"bakong-bench-verify").digest())
    checks = [
        (key.public_key, message, key.sign(message))
        for message in (hashlib.sha256(b"%d" % n).digest() for n in range(_verify_messages))
    ]
    while time.monotonic() < start:
        time.sleep(0.001)
    done = 0
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        for public_key, message, signature in checks:
            assert keys.verify(public_key, message, signature)
        done += len(checks)
    return done / (time.monotonic() - began)


def _warm(delay_s: float) -> int:
    time.sleep(delay_s)
    return os.getpid()


def verify_ceiling(seconds: float, executor: ProcessPoolExecutor) -> tuple[float, int]:
    """(verifications per second with every core, cores used)."""
    cores = os.cpu_count() or 1
    for _ in range(10):  # every worker started and imported before the common instant
        if len(set(executor.map(_warm, [0.2] * cores))) == cores:
            break
    start = time.monotonic() + 0.2
    rates = list(executor.map(_verify_for, [(start, seconds)] * cores))
    return sum(rates), cores


def verify_one_core(seconds: float, executor: ProcessPoolExecutor) -> float:
    """Verifications per second of one worker process alone (the other cores idle): the cost
    of one signature check, to turn a count of checks into CPU time."""
    return executor.submit(_verify_for, (time.monotonic() + 0.1, seconds)).result()


def new_executor() -> ProcessPoolExecutor:
    """One spawned worker process per core."""
    return _executor()
