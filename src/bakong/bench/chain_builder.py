"""Real chains built offline, without a network, for `bakong bench scale` (catch-up and
snapshot restore): blocks as a proposer builds them, decided by commits that every validator of
a local network signed, written to a validator's store exactly as a node writes them.

`build_chain(store, genesis, keys_dir, validator_keys, blocks=...)` appends `blocks` blocks to
the store (a new one, or one `bakong.bench.state_builder` filled). Per height h:

1. The transactions: at the first height built, the setup (the central bank issues riel to
   `settlement@aclb`, aclb opens `setup_accounts` accounts `c<i>@aclb` and funds them; admin
   keys from the local network's `keys/`), afterwards `transfers_per_block` transfers between
   random pairs of those accounts (seeded), each signed by its source. Every transaction's
   `created_ms` is its block's time, so it is valid whenever the block is.
2. The block: `bakong.ledger.block.build_block` on the stored tip, proposed by
   `proposer(set, h, 0)`, at a time `spacing_ms` after the previous block (the caller starts
   the chain in the past, so a live network continues it at the current time), carrying the
   root of the snapshot due at h (`bakong.node.snapshot.due_snapshot`; `LmdbChain` digests
   each snapshot height in its background thread, and `snapshot_root` waits for it).
3. The commit: a precommit for (h, round 0, block hash) signed by every validator's node key
   (`sign_vote`), assembled with `build_commit`, which is what `valid(v)` and catch-up verify.
4. `LmdbChain.put_block` stores block, commit, results, app hash and write set in one synced
   transaction, as a validator does after a decision.

Every result must be `ok`: a chain the benchmark builds is a chain a network would have built.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bakong import limits
from bakong.client.builders import TransactionBuilder, create_account, issue, transfer
from bakong.consensus.commit import build_commit
from bakong.consensus.messages import VoteBody, VoteType, sign_vote
from bakong.consensus.proposer import proposer
from bakong.keystore import read_key_file
from bakong.ledger.assets import Asset
from bakong.ledger.block import SnapshotRoot, block_hash, build_block
from bakong.ledger.commands import Command
from bakong.ledger.genesis import GenesisFile, genesis_validators
from bakong.ledger.records import KycTier
from bakong.ledger.result import ResultCode
from bakong.ledger.transaction import Transaction
from bakong.ledger.validators import ValidatorSet
from bakong.node.service import StoredBlock
from bakong.node.snapshot import chain_config, due_snapshot
from bakong.node.store import LmdbChain
from bakong.wire.codec import encode
from bakong.wire.keys import SigningKey

__all__ = ["BuiltChain", "build_chain"]

setup_accounts = 64
_participant = "aclb"
_funding_khr = 10**8  # each setup account (below the 2*10^8 per-transfer cap of institutions)


@dataclass(frozen=True)
class BuiltChain:
    blocks: int  # blocks appended
    height: int  # the store's height afterwards
    transactions: int
    seconds: float
    last_time_ms: int


def _account_key(i: int) -> SigningKey:
    return SigningKey(hashlib.sha256(f"bakong-bench-scale/chain/{i}".encode()).digest())


class _Builder:
    """Steps 2-4 for one store; `transactions` of step 1 come from the caller."""

    def __init__(self, chain: LmdbChain, genesis: GenesisFile, node_keys: Sequence[SigningKey]):
        self.chain = chain
        self.chain_id = genesis.chain_id
        self.validators = genesis_validators(genesis)
        self.validator_set = ValidatorSet(self.validators)
        by_key: dict[bytes, SigningKey] = {key.public_key: key for key in node_keys}
        assert all(v.public_key in by_key for v in self.validators), "every validator signs"
        self.signers = [by_key[v.public_key] for v in self.validators]

    def _snapshot(self, height: int) -> SnapshotRoot | None:
        due = due_snapshot(chain_config(self.chain.tip().state.store), height)
        if due is None:
            return None
        root = self.chain.snapshot_root(due)
        assert root is not None, f"the snapshot of height {due} was not digested"
        return SnapshotRoot(due, root)

    def commit(self, transactions: Sequence[Transaction], time_ms: int) -> StoredBlock:
        tip = self.chain.tip()
        height = tip.height + 1
        block, outcome = build_block(
            tip.state,
            time_ms=time_ms,
            proposer=proposer(self.validator_set, height, 0),
            previous_hash=tip.block_hash,
            last_commit=tip.commit,
            transactions=transactions,
            snapshot=self._snapshot(height),
        )
        bad = [r for r in outcome.results if r.code != ResultCode.ok]
        assert not bad, f"height {height}: {[ResultCode(r.code).name for r in bad]}"
        hash_ = block_hash(block.header)
        body = VoteBody(VoteType.PRECOMMIT, height, 0, hash_)
        votes = [sign_vote(self.chain_id, key, body) for key in self.signers]
        commit = build_commit(height, 0, hash_, votes)
        stored = StoredBlock(
            height, encode(block), commit, outcome.results, outcome.app_hash, self.validators
        )
        self.chain.put_block(stored, block.header, outcome.write_set, outcome.written)
        return stored


def _signed(
    chain_id: str, creator: str, nonce: int, created_ms: int, key: SigningKey,
    commands: Sequence[Command],
) -> Transaction:  # fmt: skip
    builder = TransactionBuilder(
        chain_id=chain_id, creator=creator, created_ms=created_ms, nonce=nonce
    )
    return builder.add(*commands).sign(key)


def _setup(chain_id: str, keys_dir: Path, time_ms: int) -> list[Transaction]:
    """Step 1 at the first height: issue, open and fund the setup accounts."""
    nbc = read_key_file(keys_dir / "nbc-admin.json")
    admin = read_key_file(keys_dir / f"{_participant}-admin.json")
    settlement = f"settlement@{_participant}"
    total = _funding_khr * setup_accounts
    done = [_signed(chain_id, "nbc", 0, time_ms, nbc, [issue(settlement, Asset.KHR, total, "sc")])]
    per_tx = limits.commands_per_tx_max
    for first in range(0, setup_accounts, per_tx):
        group = range(first, min(setup_accounts, first + per_tx))
        opens = [
            create_account(f"c{i}@{_participant}", [_account_key(i).public_key], tier=KycTier.full)
            for i in group
        ]
        done.append(_signed(chain_id, _participant, first, time_ms, admin, opens))
        funds = [
            transfer(settlement, f"c{i}@{_participant}", Asset.KHR, _funding_khr) for i in group
        ]
        done.append(_signed(chain_id, settlement, first, time_ms, admin, funds))
    return done


def _transfers(
    chain_id: str, rng: random.Random, count: int, nonce: int, time_ms: int,
    signers: list[SigningKey],
) -> list[Transaction]:  # fmt: skip
    result = []
    for offset in range(count):
        source = rng.randrange(setup_accounts)
        target = (source + 1 + rng.randrange(setup_accounts - 1)) % setup_accounts
        account = f"c{source}@{_participant}"
        command = transfer(account, f"c{target}@{_participant}", Asset.KHR, rng.randint(1, 1_000))
        result.append(
            _signed(chain_id, account, nonce + offset, time_ms, signers[source], [command])
        )
    return result


def build_chain(
    store: Path,
    genesis: GenesisFile,
    keys_dir: Path,
    node_keys: Sequence[SigningKey],
    *,
    blocks: int,
    start_ms: int,
    spacing_ms: int,
    transfers_per_block: int = 4,
    seed: int = 1,
    tick: Callable[[int], None] | None = None,
) -> BuiltChain:
    """Append `blocks` blocks to the store at `store`, the first at `start_ms` (module steps)."""
    started = time.perf_counter()
    chain = LmdbChain(store, genesis)
    rng = random.Random(seed)
    signers = [_account_key(i) for i in range(setup_accounts)]
    transactions = 0
    try:
        builder = _Builder(chain, genesis, node_keys)
        first_height = chain.tip().height + 1
        time_ms = start_ms
        for index in range(blocks):
            time_ms = start_ms + index * spacing_ms
            if index == 0:
                batch = _setup(genesis.chain_id, keys_dir, time_ms)
            else:
                nonce = 1_000_000 + index * transfers_per_block  # above the setup's nonces
                batch = _transfers(
                    genesis.chain_id, rng, transfers_per_block, nonce, time_ms, signers
                )
            builder.commit(batch, time_ms)
            transactions += len(batch)
            if tick is not None:
                tick(index + 1)
        height = first_height + blocks - 1
    finally:
        chain.close()
    seconds = time.perf_counter() - started
    return BuiltChain(blocks, height, transactions, seconds, time_ms)
