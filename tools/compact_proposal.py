"""Measure a compact proposal against a full one: bytes on the wire and a follower's CPU.

    python -m tools.compact_proposal [--txs 2000] [--accounts 4000] [--repeat 15] [--json]

A sandbox chain with funded accounts; a block of `--txs` signed transfers built as a proposer
builds it (signatures verified and transactions hashed first, as admission does). Then, in one
process, best of `--repeat`:
- full: what a follower did with a whole proposal: decode and authenticate it, decode the
  block, hash its transactions, execute it (signatures found verified, as after admission),
  check the header;
- compact: decode and authenticate the compact proposal, rebuild the block from the mempool
  (`bakong.node.compact.assemble`), execute it with admission's hashes, check the header.
The other steps of valid(v) (the last commit, the snapshot root) are the same in both and left
out. Both figures are single-core; the ratio is what to compare.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from bakong.bench.ledger_apply import open_accounts, sign_transfers
from bakong.consensus.messages import ProposalBody, decode_proposal, sign_proposal
from bakong.ledger.block import (
    Block,
    block_hash,
    build_block,
    check_header,
    decode_block,
    execute_block,
)
from bakong.ledger.transaction import Transaction, signing_message, transaction_hash
from bakong.node.compact import assemble, compact_proposal, decode_compact_proposal
from bakong.sandbox import Sandbox, sandbox_key
from bakong.wire import keys
from bakong.wire.codec import encode


def _best_ms(actions: list[Callable[[], object]], repeat: int) -> list[float]:
    """Each action's best time, ms, the actions interleaved so that a busy neighbour slows
    them alike."""
    best = [float("inf")] * len(actions)
    for _ in range(repeat):
        for index, action in enumerate(actions):
            started = time.perf_counter()
            action()
            best[index] = min(best[index], time.perf_counter() - started)
    return [seconds * 1000 for seconds in best]


def measure(txs: int, accounts: int, repeat: int) -> dict[str, object]:
    chain = Sandbox(block_interval_ms=500)
    transactions = sign_transfers(chain, open_accounts(chain, accounts), txs, seed=1)
    cache = keys.VerifiedSignatures(entries_max=2 * txs)
    mempool: dict[bytes, Transaction] = {}
    for transaction in transactions:  # admission: hashed, verified, pooled
        tx_hash = transaction_hash(transaction.payload)
        for entry in transaction.signatures:
            message = signing_message(chain.chain_id, tx_hash)
            assert keys.verify(entry.public_key, message, entry.signature)
            cache.remember(entry.public_key, message, entry.signature)
        mempool[tx_hash] = transaction
    state = chain.state
    block, outcome = build_block(
        state,
        time_ms=chain.time_ms + 500,
        proposer=sandbox_key("proposer").public_key,
        previous_hash=bytes(32),
        last_commit=None,
        transactions=transactions,
        verify=cache.verify,
        tx_hashes=list(mempool),
    )
    value = encode(block)
    key = sandbox_key("proposer")
    body = ProposalBody(block.header.height, 0, block_hash(block.header), -1)
    proposal = sign_proposal(chain.chain_id, key, body, value)
    full_data = encode(proposal)
    compact_data = encode(compact_proposal(proposal, block.header, outcome.tx_hashes))

    def follow(received: Block, hashes: list[bytes] | tuple[bytes, ...] | None) -> None:
        header = received.header
        executed = execute_block(
            state,
            height=header.height,
            time_ms=header.time_ms,
            transactions=received.transactions,
            verify=cache.verify,
            tx_hashes=hashes,
        )
        assert check_header(received, executed) == []

    def full() -> None:
        received = decode_proposal(chain.chain_id, full_data)
        decoded = decode_block(received.value)
        follow(decoded, [transaction_hash(t.payload) for t in decoded.transactions])

    def compact() -> None:
        received = decode_compact_proposal(chain.chain_id, compact_data, keys.verify)
        assembled = assemble(received, mempool.get)
        assert not isinstance(assembled, list)
        follow(assembled[1], received.tx_hashes)

    full_ms, compact_ms = _best_ms([full, compact], repeat)
    return {
        "txs": txs,
        "full_bytes": len(full_data),
        "compact_bytes": len(compact_data),
        "bytes_ratio": round(len(compact_data) / len(full_data), 4),
        "full_follower_ms": round(full_ms, 2),
        "compact_follower_ms": round(compact_ms, 2),
        "cpu_ratio": round(compact_ms / full_ms, 3),
        "repeat": repeat,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=2_000)
    parser.add_argument("--accounts", type=int, default=4_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    arguments = parser.parse_args()
    figures = measure(arguments.txs, arguments.accounts, arguments.repeat)
    if arguments.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name:>22}  {value}")


if __name__ == "__main__":
    main()
