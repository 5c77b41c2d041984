"""`bakong bench ledger-apply`: the pure ledger's transfer throughput against Ed25519.

Method: build a sandbox chain with many funded accounts at several participants, pre-sign a
pool of transfers between random accounts (seeded), then in the same run
1. verify every signature once on one core, timed: `verifies_per_s` (the baseline), and
2. apply the transfers in blocks through `execute_block`, with the signatures pre-verified
   and the transactions hashed (as a node's mempool does on admission, and hands both to the
   block it proposes): `transfers_per_s`. Each block's signatures are
   verified just before it is applied, so both figures sample the same moments of a shared
   machine. This is the pure state machine:
   ladder, commands, write set, invariant checks and app hash. Committing each block's write
   set to the in-memory store is timed apart (`store_apply_transfers_per_s`): it is the
   storage edge, which a node does in LMDB.
Transfers run through the compiled transfer lane where it is built (`lane: compiled`); without
a C compiler every transaction takes the general path (`lane: general`), which is the
specification the lane is held to, at roughly half the rate.
The state machine must never be the bottleneck: `ratio = transfers_per_s / verifies_per_s`
should be at least 5. Both figures are single-core, so the ratio does not depend on the number
of cores; the clock is `time.perf_counter`.
"""

from __future__ import annotations

import json
import platform
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import click

from bakong.ledger.assets import Asset
from bakong.ledger.block import LedgerState, execute_block
from bakong.ledger.result import ResultCode
from bakong.ledger.transaction import Transaction, signing_message, transaction_hash
from bakong.ledger.transfer_lane import native_execute_transactions
from bakong.sandbox import Sandbox
from bakong.types import Hash
from bakong.wire import keys

__all__ = ["command", "open_accounts", "run", "sign_transfers"]


@dataclass
class Figures:
    transfers: int
    accounts: int
    block_txs: int
    verifies_per_s: float
    transfers_per_s: float
    store_transfers_per_s: float
    ok: int

    def as_json(self) -> dict[str, object]:
        return {
            "transfers_per_s": round(self.transfers_per_s, 1),
            "verifies_per_s": round(self.verifies_per_s, 1),
            "ratio": round(self.transfers_per_s / self.verifies_per_s, 3),
            "store_apply_transfers_per_s": round(self.store_transfers_per_s, 1),
            "transfers": self.transfers,
            "transfers_ok": self.ok,
            "accounts": self.accounts,
            "block_txs": self.block_txs,
            "cores_used": 1,
            "lane": "general" if native_execute_transactions is None else "compiled",
            "python": platform.python_version(),
        }


def open_accounts(chain: Sandbox, accounts: int) -> list[str]:
    participants = ["aclb", "wing", "abaa"]
    # One issue per transaction: a transaction's commands touch one participant (rung 12).
    chain.commit(
        [
            chain.transaction("nbc", [chain.issue(code, Asset.KHR, 10**15, f"bench-{code}")])
            for code in participants
        ]
    )
    names = [f"user{i}@{participants[i % 3]}" for i in range(accounts)]
    for start in range(0, accounts, 1_000):
        batch = names[start : start + 1_000]
        opens = [
            chain.transaction(name.split("@")[1], [chain.open_account(name)]) for name in batch
        ]
        chain.commit(opens)
        fund = [
            chain.transaction(
                f"settlement@{name.split('@')[1]}",
                [chain.transfer(f"settlement@{name.split('@')[1]}", name, Asset.KHR, 10**7)],
            )
            for name in batch
        ]
        chain.commit(fund)
    return names


def sign_transfers(chain: Sandbox, names: list[str], count: int, seed: int) -> list[Transaction]:
    rng = random.Random(seed)
    transactions = []
    for _ in range(count):
        source, target = rng.sample(names, 2)
        amount = rng.randint(1, 5_000)
        transactions.append(
            chain.transaction(source, [chain.transfer(source, target, Asset.KHR, amount)])
        )
    return transactions


def _verify_block(
    chain_id: str, transactions: Sequence[Transaction], cache: keys.VerifiedSignatures
) -> tuple[float, list[Hash]]:
    """Verify every signature of a block once, as admission does: the seconds the signatures
    took, and the transactions' hashes, which admission computes to check them."""
    hashes = [transaction_hash(t.payload) for t in transactions]
    checks = [
        (entry.public_key, signing_message(chain_id, tx_hash), entry.signature)
        for t, tx_hash in zip(transactions, hashes, strict=True)
        for entry in t.signatures
    ]
    started = time.perf_counter()
    for public_key, message, signature in checks:
        assert keys.verify(public_key, message, signature)
    elapsed = time.perf_counter() - started
    for public_key, message, signature in checks:
        cache.remember(public_key, message, signature)  # what the mempool remembers
    return elapsed, hashes


def run(*, transfers: int, accounts: int, block_txs: int, seed: int) -> Figures:
    chain = Sandbox(block_interval_ms=500)
    names = open_accounts(chain, accounts)
    pool = sign_transfers(chain, names, transfers, seed)
    cache = keys.VerifiedSignatures(entries_max=transfers + 1)
    state = chain.state
    height = len(chain.blocks)
    time_ms = chain.time_ms
    ok = 0
    verify_elapsed = elapsed = store_elapsed = 0.0
    # Each block's verification and execution are timed back to back, so that a noisy
    # neighbour slows both figures alike rather than one phase of the run.
    for start in range(0, transfers, block_txs):
        block = pool[start : start + block_txs]
        verified_in, hashes = _verify_block(chain.chain_id, block, cache)
        verify_elapsed += verified_in
        height += 1
        time_ms += 500
        began = time.perf_counter()
        outcome = execute_block(
            state,
            height=height,
            time_ms=time_ms,
            transactions=block,
            verify=cache.verify,
            tx_hashes=hashes,
        )
        elapsed += time.perf_counter() - began
        began = time.perf_counter()
        chain.store.apply(outcome.write_set, outcome.written)
        store_elapsed += time.perf_counter() - began
        state = LedgerState(store=chain.store, app_hash=outcome.app_hash)
        ok += sum(1 for result in outcome.results if result.code == ResultCode.ok)
    verifies = sum(len(t.signatures) for t in pool)
    return Figures(
        transfers,
        accounts,
        block_txs,
        verifies / verify_elapsed,
        transfers / elapsed,
        transfers / store_elapsed,
        ok,
    )


@click.command()
@click.option("--transfers", default=50_000, show_default=True, type=click.IntRange(1, 10**7))
@click.option("--accounts", default=10_000, show_default=True, type=click.IntRange(2, 10**7))
@click.option("--block-txs", default=2_000, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True)
def command(transfers: int, accounts: int, block_txs: int, seed: int, as_json: bool) -> None:
    """Transfers applied per second by the pure ledger, against Ed25519 verifies per second."""
    figures = run(transfers=transfers, accounts=accounts, block_txs=block_txs, seed=seed)
    result = figures.as_json()
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(
        f"ledger apply: {result['transfers_per_s']:,} transfers/s "
        f"({figures.ok:,} of {transfers:,} ok, {accounts:,} accounts, blocks of {block_txs:,})\n"
        f"ed25519 verify (1 core): {result['verifies_per_s']:,} /s\n"
        f"ratio: {result['ratio']} (target >= 5: the state machine is not the bottleneck)"
    )
